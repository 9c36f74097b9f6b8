"""AttendeeHook (sync) against a mocked API: URLs, parameters, headers, bodies, pagination, retries, errors."""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import httpx
import pendulum
import pytest
import respx
import tenacity

from airflow_provider_attendee import __version__
from airflow_provider_attendee._compat import AirflowFailException
from airflow_provider_attendee.client.models import BotState
from airflow_provider_attendee.exceptions import (
    AttendeeAuthenticationError,
    AttendeeConfigurationError,
    AttendeeConnectionError,
    AttendeeDeduplicationKeyInUseError,
    AttendeeError,
    AttendeeInvalidRequestError,
    AttendeeInvalidStateError,
    AttendeeNotFoundError,
    AttendeeRateLimitError,
    AttendeeRecordingMissingError,
    AttendeeServerError,
    AttendeeUnexpectedResponseError,
)
from airflow_provider_attendee.hooks.attendee import AttendeeHook
from tests.unit.conftest import API, BASE, SECRET, bot, conn_json

pytestmark = pytest.mark.usefixtures("attendee_conn")


def page(results: list[dict], next_url: str | None = None) -> dict:
    return {"next": next_url, "previous": None, "results": results}


@pytest.fixture
def api():
    with respx.mock(base_url=API, assert_all_called=False) as router:
        yield router


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Record tenacity's sleeps instead of sleeping."""
    waits: list[float] = []
    monkeypatch.setattr(time, "sleep", waits.append)
    return waits


class TestRequests:
    def test_headers_on_every_request(self, api):
        route = api.get("/bots/bot_1").respond(200, json=bot())
        AttendeeHook().get_bot("bot_1")
        headers = route.calls.last.request.headers
        assert headers["Authorization"] == f"Token {SECRET}"
        assert headers["Content-Type"] == "application/json"
        assert headers["User-Agent"] == f"airflow-provider-attendee/{__version__}"

    def test_create_bot_body(self, api):
        route = api.post("/bots").respond(201, json=bot(state="scheduled", join_at="2030-01-01T10:00:00Z"))
        created = AttendeeHook().create_bot(
            "https://zoom.us/j/123",
            bot_name="Notes",
            join_at=pendulum.datetime(2030, 1, 1, 11, 0, tz="Europe/Paris"),
            deduplication_key="dedup-1",
            metadata={"team": "sales"},
            transcription_settings={"deepgram": {"language": "en"}},
            recording_settings=None,
        )
        assert json.loads(route.calls.last.request.content) == {
            "bot_name": "Notes",
            "meeting_url": "https://zoom.us/j/123",
            "join_at": "2030-01-01T10:00:00Z",
            "deduplication_key": "dedup-1",
            "metadata": {"team": "sales"},
            "transcription_settings": {"deepgram": {"language": "en"}},
        }
        assert created.state == BotState.SCHEDULED
        assert created.join_at == datetime(2030, 1, 1, 10, tzinfo=timezone.utc)

    def test_create_bot_for_calendar_event_sends_no_url(self, api):
        route = api.post("/bots").respond(201, json=bot(state="scheduled"))
        AttendeeHook().create_bot(calendar_event_id="evt_1", bot_name="Notes")
        assert json.loads(route.calls.last.request.content) == {
            "bot_name": "Notes",
            "calendar_event_id": "evt_1",
        }

    @pytest.mark.parametrize(
        ("kwargs", "message"),
        [
            ({"meeting_url": "not a url"}, "is not a meeting link"),
            ({"meeting_url": "ftp://zoom.us/j/1"}, "is not a meeting link"),
            ({}, "needs a meeting_url"),
            ({"meeting_url": "https://zoom.us/j/1", "calendar_event_id": "evt_1"}, "not both"),
            ({"meeting_url": "https://zoom.us/j/1", "metadata": {"n": 1}}, "must be strings"),
            ({"meeting_url": "https://zoom.us/j/1", "join_at": "next tuesday"}, "not an ISO 8601"),
        ],
    )
    def test_create_bot_bad_input_is_rejected_before_sending(self, api, kwargs, message):
        route = api.post("/bots").respond(201, json=bot())
        with pytest.raises(AttendeeConfigurationError, match=message):
            AttendeeHook().create_bot(**kwargs)
        assert not route.called

    def test_list_bots_filters(self, api):
        route = api.get("/bots").respond(200, json=page([bot()]))
        bots = list(
            AttendeeHook().list_bots(
                states=["scheduled", BotState.STAGED],
                meeting_url="https://zoom.us/j/123",
                deduplication_key="k",
                join_at_after="2025-01-18T12:34:56+01:00",
                join_at_before=datetime(2025, 1, 19),
            )
        )
        url = route.calls.last.request.url
        assert url.params.get_list("states") == ["scheduled", "staged"]
        assert url.params["meeting_url"] == "https://zoom.us/j/123"
        assert url.params["deduplication_key"] == "k"
        assert url.params["join_at_after"] == "2025-01-18T11:34:56Z"
        assert url.params["join_at_before"] == "2025-01-19T00:00:00Z"
        assert b"%2B" not in url.raw_path  # times always sent in Z form, no "+" to mis-encode
        assert [b.id for b in bots] == ["bot_1"]

    def test_unknown_state_name(self, api):
        with pytest.raises(
            AttendeeConfigurationError, match=r"Unknown Attendee bot state 'recording'.*joined_recording"
        ):
            list(AttendeeHook().list_bots(states="recording"))

    @pytest.mark.parametrize(
        ("method", "http", "path", "status"),
        [
            ("leave_bot", "POST", "/bots/bot_1/leave", 200),
            ("delete_bot_data", "POST", "/bots/bot_1/delete_data", 200),
            ("pause_recording", "POST", "/bots/bot_1/pause_recording", 200),
            ("resume_recording", "POST", "/bots/bot_1/resume_recording", 200),
            ("get_bot", "GET", "/bots/bot_1", 200),
        ],
    )
    def test_bot_actions(self, api, method, http, path, status):
        route = api.request(http, path).respond(status, json=bot())
        assert getattr(AttendeeHook(), method)("bot_1").id == "bot_1"
        assert route.call_count == 1

    def test_update_and_delete_bot(self, api):
        patch = api.patch("/bots/bot_1").respond(200, json=bot(state="scheduled"))
        delete = api.delete("/bots/bot_1").respond(200)
        hook = AttendeeHook()
        hook.update_bot("bot_1", join_at="2030-01-01T10:00:00Z", metadata={"a": "b"})
        assert json.loads(patch.calls.last.request.content) == {
            "join_at": "2030-01-01T10:00:00Z",
            "metadata": {"a": "b"},
        }
        assert hook.delete_bot("bot_1") is None
        assert delete.called
        with pytest.raises(AttendeeConfigurationError, match="at least one field"):
            hook.update_bot("bot_1")

    def test_ids_are_path_quoted(self, api):
        route = api.get("/bots/a%2Fb").respond(200, json=bot(id="a/b"))
        AttendeeHook().get_bot("a/b")
        assert route.called
        with pytest.raises(AttendeeConfigurationError, match="bot id is required"):
            AttendeeHook().get_bot("")

    def test_participant_data_and_transcript(self, api):
        events = api.get("/bots/bot_1/participant_events").respond(
            200,
            json=page(
                [
                    {
                        "id": "pe_1",
                        "participant_name": "Ann",
                        "participant_uuid": "u1",
                        "participant_user_uuid": None,
                        "participant_is_host": True,
                        "event_type": "update",
                        "event_data": {"x": 1},
                        "timestamp_ms": 1733114771123,
                    }
                ]
            ),
        )
        participants = api.get("/bots/bot_1/participants").respond(
            200, json=page([{"id": "par_1", "name": "Ann", "uuid": "u1", "user_uuid": None, "is_host": True}])
        )
        transcript = api.get("/bots/bot_1/transcript").respond(
            200,
            json=[
                {
                    "speaker_name": "Ann",
                    "speaker_uuid": "u1",
                    "speaker_user_uuid": None,
                    "speaker_is_host": True,
                    "timestamp_ms": 1733114771123,
                    "duration_ms": 2500,
                    "transcription": {"transcript": "Hello 👋", "words": []},
                }
            ],
        )
        recording = api.get("/bots/bot_1/recording").respond(
            200, json={"url": "https://s3.example/x.mp4", "start_timestamp_ms": 1733114771000}
        )
        chat = api.get("/bots/bot_1/chat_messages").respond(200, json=page([]))
        hook = AttendeeHook()
        (event,) = hook.list_participant_events("bot_1", after="2025-01-01T00:00:00Z", before=None)
        assert event.event_type == "update"  # unknown types kept
        assert event.timestamp_ms == 1733114771123
        assert events.calls.last.request.url.params["after"] == "2025-01-01T00:00:00Z"
        assert "before" not in events.calls.last.request.url.params
        assert [p.name for p in hook.list_participants("bot_1", is_host=True)] == ["Ann"]
        assert participants.calls.last.request.url.params["is_host"] == "true"
        (utterance,) = hook.get_transcript("bot_1", updated_after=datetime(2025, 1, 1, tzinfo=timezone.utc))
        assert utterance.text == "Hello 👋"
        assert transcript.calls.last.request.url.params["updated_after"] == "2025-01-01T00:00:00Z"
        assert hook.get_recording("bot_1").start_timestamp_ms == 1733114771000
        assert recording.called
        assert list(hook.list_chat_messages("bot_1")) == []
        assert chat.called

    def test_calendars(self, api):
        calendar = {
            "id": "cal_1",
            "platform": "google",
            "client_id": "c",
            "platform_uuid": None,
            "state": "connected",
            "metadata": None,
            "deduplication_key": None,
            "connection_failure_data": None,
            "created_at": "2025-01-13T10:30:00.123456Z",
            "updated_at": "2025-01-13T10:30:00.123456Z",
            "last_successful_sync_at": None,
            "last_attempted_sync_at": None,
        }
        api.get("/calendars").respond(200, json=page([calendar]))
        api.get("/calendars/cal_1").respond(200, json=calendar)
        events = api.get("/calendar_events").respond(200, json=page([]))
        hook = AttendeeHook()
        assert [c.id for c in hook.list_calendars(deduplication_key="user-1")] == ["cal_1"]
        assert hook.get_calendar("cal_1").state == "connected"
        list(
            hook.list_calendar_events(
                calendar_id="cal_1",
                calendar_deduplication_key="user-1",
                start_time_gte="2025-01-13T10:30:00Z",
                end_time_lte="2025-01-14T10:30:00Z",
                updated_at_gte="2025-01-12T10:30:00Z",
                event_id="evt_1",
                ordering="start_time",
            )
        )
        assert dict(events.calls.last.request.url.params) == {
            "calendar_id": "cal_1",
            "calendar_deduplication_key": "user-1",
            "start_time_gte": "2025-01-13T10:30:00Z",
            "end_time_lte": "2025-01-14T10:30:00Z",
            "updated_at_gte": "2025-01-12T10:30:00Z",
            "event_id": "evt_1",
            "ordering": "start_time",
        }
        with pytest.raises(AttendeeConfigurationError, match="ordering='name'"):
            list(hook.list_calendar_events(ordering="name"))


class TestPagination:
    def test_follows_absolute_and_relative_next_links_lazily(self, api):
        route = api.get("/bots")
        route.side_effect = [
            httpx.Response(
                200, json=page([bot(id="b1"), bot(id="b2")], f"{API}/bots?cursor=c2&states=joining")
            ),
            httpx.Response(200, json=page([bot(id="b3")], "/api/v1/bots?cursor=c3&states=joining")),
            httpx.Response(200, json=page([bot(id="b4")], None)),
        ]
        iterator = AttendeeHook().list_bots(states="joining")
        assert route.call_count == 0  # lazy
        assert next(iterator).id == "b1"
        assert route.call_count == 1
        assert [b.id for b in iterator] == ["b2", "b3", "b4"]
        assert route.call_count == 3
        second, third = route.calls[1].request.url, route.calls[2].request.url
        assert second.params["cursor"] == "c2" and second.params.get_list("states") == ["joining"]
        assert third.params["cursor"] == "c3"

    def test_next_link_on_another_host_stays_on_configured_host(self, api):
        route = api.get("/bots")
        route.side_effect = [
            httpx.Response(
                200, json=page([bot(id="b1")], "http://internal-proxy:8000/api/v1/bots?cursor=c2")
            ),
            httpx.Response(200, json=page([bot(id="b2")])),
        ]
        assert [b.id for b in AttendeeHook().list_bots()] == ["b1", "b2"]
        assert str(route.calls[1].request.url) == f"{API}/bots?cursor=c2"

    def test_not_a_page(self, api):
        api.get("/bots").respond(200, json={"bots": []})
        with pytest.raises(AttendeeUnexpectedResponseError, match="paginated list"):
            list(AttendeeHook().list_bots())


class TestRetries:
    def test_429_retry_after_seconds_is_honoured(self, api, sleeps, no_key_in_logs):
        route = api.get("/bots/bot_1")
        route.side_effect = [
            httpx.Response(429, json={"detail": "Request was throttled."}, headers={"Retry-After": "2"}),
            httpx.Response(200, json=bot()),
        ]
        assert AttendeeHook().get_bot("bot_1").id == "bot_1"
        assert sleeps == [2.0]
        assert "retry 1 of 3 in 2.00s" in no_key_in_logs.text

    def test_429_retry_after_http_date(self, api, sleeps):
        when = datetime.now(timezone.utc) + timedelta(seconds=3)
        route = api.post("/bots")  # a POST without a key: 429 means it was not processed, so it is retried
        route.side_effect = [
            httpx.Response(
                429, json={"detail": "x"}, headers={"Retry-After": when.strftime("%a, %d %b %Y %H:%M:%S GMT")}
            ),
            httpx.Response(201, json=bot()),
        ]
        AttendeeHook().create_bot("https://zoom.us/j/1")
        assert len(sleeps) == 1 and 1.0 <= sleeps[0] <= 3.0

    def test_5xx_then_success(self, api, sleeps):
        route = api.get("/bots/bot_1")
        route.side_effect = [
            httpx.Response(502, text="<html>Bad gateway</html>", headers={"content-type": "text/html"}),
            httpx.Response(503, json={"detail": "down"}),
            httpx.Response(200, json=bot()),
        ]
        assert AttendeeHook().get_bot("bot_1").id == "bot_1"
        assert route.call_count == 3
        assert len(sleeps) == 2 and sleeps[1] > 0

    def test_gives_up_after_the_bound(self, api, sleeps):
        route = api.get("/bots/bot_1").respond(503, text="<!DOCTYPE html><p>Service Unavailable</p>")
        with pytest.raises(AttendeeServerError) as info:
            AttendeeHook().get_bot("bot_1")
        assert route.call_count == 4  # 1 + max_retries (3)
        assert "HTTP 503" in str(info.value) and "non-JSON error page (HTML)" in str(info.value)

    def test_total_time_bound(self, api, sleeps, monkeypatch):
        """max_retry_time stops the retries, on a clock that only the retry waits move (not the machine's)."""
        monkeypatch.setenv(
            "AIRFLOW_CONN_ATTENDEE_DEFAULT", conn_json(max_retries=50, max_retry_time=0.2, retry_backoff=0.05)
        )
        monkeypatch.setattr(tenacity, "time", SimpleNamespace(monotonic=lambda: sum(sleeps)))
        route = api.get("/bots/bot_1").respond(503, json={"detail": "down"})
        with pytest.raises(AttendeeServerError):
            AttendeeHook().get_bot("bot_1")
        assert 2 <= route.call_count == len(sleeps) + 1 < 50  # stopped by the time bound, not the 50 retries
        assert sum(sleeps[:-1]) < 0.2 <= sum(sleeps)  # the first attempt after 0.2 s of waiting was the last

    def test_post_without_dedup_key_not_retried_after_read_timeout(self, api, sleeps):
        route = api.post("/bots").mock(side_effect=httpx.ReadTimeout("timed out"))
        with pytest.raises(AttendeeConnectionError, match="ReadTimeout"):
            AttendeeHook().create_bot("https://zoom.us/j/1")
        assert route.call_count == 1

    def test_post_without_dedup_key_not_retried_after_502(self, api, sleeps):
        route = api.post("/bots").respond(502, text="bad gateway")
        with pytest.raises(AttendeeServerError):
            AttendeeHook().create_bot("https://zoom.us/j/1")
        assert route.call_count == 1

    def test_post_with_dedup_key_retried_after_read_timeout(self, api, sleeps):
        route = api.post("/bots")
        route.side_effect = [httpx.ReadTimeout("timed out"), httpx.Response(201, json=bot())]
        AttendeeHook().create_bot("https://zoom.us/j/1", deduplication_key="k")
        assert route.call_count == 2

    def test_connect_error_retried_even_for_plain_post(self, api, sleeps):
        route = api.post("/bots/bot_1/leave")
        route.side_effect = [httpx.ConnectError("refused"), httpx.Response(200, json=bot(state="leaving"))]
        assert AttendeeHook().leave_bot("bot_1").state == BotState.LEAVING
        assert route.call_count == 2

    def test_4xx_never_retried(self, api, sleeps):
        route = api.get("/bots/bot_1").respond(404, json={"error": "Bot not found"})
        with pytest.raises(AttendeeNotFoundError):
            AttendeeHook().get_bot("bot_1")
        assert route.call_count == 1 and sleeps == []


class TestErrors:
    @pytest.mark.parametrize(
        ("status", "body", "exc", "text"),
        [
            (
                401,
                {"detail": "Invalid or disabled API key"},
                AttendeeAuthenticationError,
                "Check the API key",
            ),
            (403, {"detail": "Forbidden"}, AttendeeAuthenticationError, "connection 'attendee_default'"),
            (404, {"error": "Bot not found"}, AttendeeNotFoundError, "Bot not found"),
            (
                400,
                {"meeting_url": ["Invalid meeting URL"], "join_at": ["join_at cannot be in the past"]},
                AttendeeInvalidRequestError,
                "meeting_url: Invalid meeting URL; join_at: join_at cannot be in the past",
            ),
            (
                400,
                {
                    "error": "Event leave_requested not allowed when bot is in state ended. It is only allowed in ..."
                },
                AttendeeInvalidStateError,
                "not allowed when bot is in state ended",
            ),
            (
                400,
                {"error": "Bot is in state staged but can only be deleted when in scheduled state"},
                AttendeeInvalidStateError,
                "only be deleted",
            ),
            (
                400,
                {"error": "Deduplication key already in use. A bot in a non-terminal state ..."},
                AttendeeDeduplicationKeyInUseError,
                "list_bots\\(deduplication_key=",
            ),
            (
                400,
                {"detail": "JSON parse error - Expecting value"},
                AttendeeInvalidRequestError,
                "JSON parse error",
            ),
            (500, {"detail": "boom"}, AttendeeServerError, "usually transient"),
        ],
    )
    def test_status_to_exception(self, api, sleeps, status, body, exc, text):
        api.post("/bots/bot_1/leave").respond(status, json=body)
        with pytest.raises(exc, match=text) as info:
            AttendeeHook().leave_bot("bot_1")
        assert isinstance(info.value, AttendeeError)
        assert "POST /api/v1/bots/bot_1/leave" in str(info.value)
        assert SECRET not in str(info.value)
        assert info.value.http_status == status

    @pytest.mark.parametrize(
        ("body", "missing"),
        [
            ({"error": "No recording file found for bot"}, True),
            ({"error": "No recording found for bot"}, True),
            ({"error": "Bot not found"}, False),
            ({"error": "Not found"}, False),  # not an Attendee path at all
        ],
    )
    def test_a_missing_recording_is_not_an_unknown_bot(self, api, sleeps, body, missing):
        route = api.get("/bots/bot_1/recording").respond(404, json=body)
        with pytest.raises(AttendeeNotFoundError) as info:
            AttendeeHook().get_recording("bot_1")
        message = str(info.value)
        assert isinstance(info.value, AttendeeRecordingMissingError) == missing
        assert isinstance(info.value, AirflowFailException) == missing  # never retried by Airflow
        assert ("Check the id" in message) != missing
        if missing:
            assert 'recording_settings.format "none"' in message and "not uploaded yet" in message
            assert "no recording storage" in message
        assert route.call_count == 1 and sleeps == []

    def test_field_errors_are_kept(self, api):
        api.post("/bots").respond(400, json={"meeting_url": ["Invalid meeting URL"]})
        with pytest.raises(AttendeeInvalidRequestError) as info:
            AttendeeHook().create_bot("https://zoom.us/j/1")
        assert info.value.field_errors == {"meeting_url": ["Invalid meeting URL"]}

    def test_rate_limited_after_retries(self, api, sleeps):
        api.get("/bots/bot_1").respond(429, json={"detail": "throttled"}, headers={"Retry-After": "1"})
        with pytest.raises(AttendeeRateLimitError) as info:
            AttendeeHook().get_bot("bot_1")
        assert info.value.retry_after == 1.0

    def test_non_json_success_body(self, api):
        api.get("/bots/bot_1").respond(200, text="<html>login</html>", headers={"content-type": "text/html"})
        with pytest.raises(
            AttendeeUnexpectedResponseError, match="Is the connection's host an Attendee server"
        ):
            AttendeeHook().get_bot("bot_1")

    def test_transcript_that_is_not_a_list(self, api):
        api.get("/bots/bot_1/transcript").respond(200, json={"utterances": []})
        with pytest.raises(AttendeeUnexpectedResponseError, match="did not return a list"):
            AttendeeHook().get_transcript("bot_1")

    def test_unreadable_model_gives_short_message(self, api):
        api.get("/bots/bot_1").respond(
            200, json={"id": "bot_1", "meeting_url": "https://zoom.us/j/1", "state": ["flying"]}
        )
        with pytest.raises(AttendeeUnexpectedResponseError) as info:
            AttendeeHook().get_bot("bot_1")
        assert "state" in str(info.value) and "pydantic" not in str(info.value).lower()
        assert info.value.__cause__ is None

    def test_key_absent_everywhere(self, api, sleeps, no_key_in_logs):
        api.get("/bots/bot_1").respond(401, json={"detail": f"Invalid key {SECRET}"})
        with pytest.raises(AttendeeAuthenticationError) as info:
            AttendeeHook().get_bot("bot_1")
        assert repr(AttendeeHook().settings).count(SECRET) == 0
        # The server echoing the key is the only way it could appear: it is scrubbed.
        assert SECRET not in str(info.value)


class TestConnection:
    def test_defaults_and_extras(self, monkeypatch):
        monkeypatch.setenv(
            "AIRFLOW_CONN_ATTENDEE_DEFAULT",
            json.dumps(
                {
                    "conn_type": "attendee",
                    "password": "k" * 10,
                    "extra": {"timeout": "12", "max_concurrency": 3},
                }
            ),
        )
        settings = AttendeeHook().settings
        assert settings.base_url == "https://app.attendee.dev"
        assert settings.timeout == 12 and settings.max_concurrency == 3 and settings.max_retries == 5

    @pytest.mark.parametrize(
        ("host", "port", "expected"),
        [
            ("127.0.0.1:8000", None, "https://127.0.0.1:8000"),
            ("http://127.0.0.1", 8000, "http://127.0.0.1:8000"),
            ("https://attendee.example.com/", None, "https://attendee.example.com"),
            ("https://attendee.example.com/api/v1", None, "https://attendee.example.com"),
            ("https://example.com/attendee", 8443, "https://example.com:8443/attendee"),
            ("attendee.example.com", 443, "https://attendee.example.com"),  # the scheme's own port: left out
            ("http://127.0.0.1:8000", 8000, "http://127.0.0.1:8000"),  # in the URL and the Port field: agree
        ],
    )
    def test_host_forms(self, monkeypatch, host, port, expected):
        conn = {"conn_type": "attendee", "host": host, "password": "k" * 10}
        if port:
            conn["port"] = port
        monkeypatch.setenv("AIRFLOW_CONN_ATTENDEE_DEFAULT", json.dumps(conn))
        assert AttendeeHook().settings.base_url == expected

    @pytest.mark.parametrize(
        ("conn", "message"),
        [
            ({"conn_type": "attendee", "host": "x.test"}, "has no Attendee API key"),
            ({"conn_type": "attendee", "host": "ftp://x.test", "password": "k" * 10}, "is not an http"),
            (
                {"conn_type": "attendee", "password": "k" * 10, "extra": {"timeout": "soon"}},
                "'timeout' must be a number",
            ),
            ({"conn_type": "attendee", "password": "k" * 10, "extra": {"max_retries": -1}}, "'max_retries'"),
            ({"conn_type": "postgres", "password": "k" * 10}, "create it with type 'attendee'"),
            (
                {"conn_type": "attendee", "host": "http://x.test:80", "port": 81, "password": "k" * 10},
                "has port 80 in its Attendee URL and 81 in its Port field",
            ),
        ],
    )
    def test_bad_connections(self, monkeypatch, conn, message):
        monkeypatch.setenv("AIRFLOW_CONN_ATTENDEE_DEFAULT", json.dumps(conn))
        with pytest.raises(AttendeeConfigurationError, match=message):
            AttendeeHook().get_bot("bot_1")

    def test_form_extra_with_nulls_means_defaults(self, monkeypatch):
        """Airflow 3.3's form saves every field, an empty one as null; the provider's defaults apply."""
        extra = {
            "timeout": None,
            "max_retries": 3,
            "retry_backoff": "",
            "max_retry_time": None,
            "project_id": None,
            "webhook_secret": None,
            "max_concurrency": None,
        }
        conn = {"conn_type": "attendee", "host": "attendee.test", "password": "k" * 10, "extra": extra}
        monkeypatch.setenv("AIRFLOW_CONN_ATTENDEE_DEFAULT", json.dumps(conn))
        settings = AttendeeHook().settings
        assert (settings.timeout, settings.max_retries, settings.retry_backoff) == (30.0, 3, 1.0)
        assert (settings.max_retry_time, settings.max_concurrency) == (120.0, 8)
        assert settings.project_id is None and settings.bot_url("bot_1") is None

    def test_missing_connection(self):
        with pytest.raises(AttendeeConfigurationError, match="AIRFLOW_CONN_NOPE"):
            AttendeeHook("nope").get_bot("bot_1")

    def test_test_connection(self, api, sleeps):
        """The cases and their messages: tests/unit/test_connection_check.py."""
        route = api.get("/bots").respond(200, json=page([]))
        ok, message = AttendeeHook().test_connection()
        assert ok and BASE in message and route.call_count == 1
        api.get("/bots").respond(401, json={"detail": "Invalid or disabled API key"})
        ok, message = AttendeeHook().test_connection()
        assert not ok and "Invalid or disabled API key" in message and SECRET not in message
        ok, message = AttendeeHook("nope").test_connection()
        assert not ok and "could not be loaded" in message and "AIRFLOW_CONN_NOPE" in message

    def test_key_registered_with_secret_masker(self, api, monkeypatch):
        masked: list[object] = []
        monkeypatch.setattr("airflow.sdk.log.mask_secret", lambda value, name=None: masked.append(value))
        api.get("/bots/bot_1").respond(200, json=bot())
        AttendeeHook().get_bot("bot_1")
        assert SECRET in masked

    def test_connection_error_message(self, monkeypatch, sleeps):
        monkeypatch.setenv("AIRFLOW_CONN_ATTENDEE_DEFAULT", conn_json(max_retries=1))
        with respx.mock(base_url=API) as router:
            route = router.get("/bots/bot_1").mock(
                side_effect=httpx.ConnectError("Name or service not known")
            )
            with pytest.raises(
                AttendeeConnectionError, match=r"could not reach https://attendee\.test"
            ) as info:
                AttendeeHook().get_bot("bot_1")
        assert route.call_count == 2
        assert "(the request was retried once). Check the Attendee URL" in str(info.value)
        assert SECRET not in str(info.value)
