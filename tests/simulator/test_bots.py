"""The simulator's bot rules over real HTTP, through the hook: state machine, dedup, leave/delete/patch."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta, timezone

import httpx
import pytest

from airflow_provider_attendee.client.models import BotState
from airflow_provider_attendee.exceptions import (
    AttendeeAuthenticationError,
    AttendeeDeduplicationKeyInUseError,
    AttendeeInvalidRequestError,
    AttendeeInvalidStateError,
    AttendeeNotFoundError,
    AttendeeRecordingMissingError,
)
from airflow_provider_attendee.hooks.attendee import AttendeeHook

MEET = "https://meet.google.com/abc-defg-hij"
SHORT_MEETING = {
    "meetings": [
        {
            "meeting_url": "https://zoom.us/j/111",
            "join_delay_seconds": 5,
            "ends_after_seconds": 120,
            "participants": [
                {
                    "name": "Ann",
                    "is_host": True,
                    "presence": [{"join": 0, "leave": 100}],
                    "speech": [{"at": 10, "duration": 5, "text": "Hello there."}],
                },
                {
                    "name": "Bo",
                    "presence": [{"join": 30, "leave": 90}],
                    "speech": [{"at": 40, "duration": 10, "text": "Hi Ann."}],
                },
            ],
        },
        {
            "meeting_url": "https://zoom.us/j/222",
            "admission": "waiting_room",
            "waiting_room_timeout_seconds": 60,
        },
        {"meeting_url": "https://zoom.us/j/333", "admission": "denied"},
        {
            "meeting_url": "https://zoom.us/j/444",
            "admission": "waiting_room",
            "admit_after_seconds": 20,
            "participants": [{"name": "Cy", "is_host": True}],
        },
    ]
}


def in_future(minutes: float) -> str:
    return (datetime.now(timezone.utc) + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture
def hook(attendee_simulator):
    attendee_simulator.admin.add_scenario(SHORT_MEETING)
    return AttendeeHook()


def event_types(bot):
    return [e.type for e in bot.events]


def test_ad_hoc_bot_full_life(hook, attendee_simulator):
    admin = attendee_simulator.admin
    bot = hook.create_bot("https://zoom.us/j/111", bot_name="Notes")
    assert bot.state == BotState.JOINING
    assert event_types(bot) == ["join_requested"]
    admin.advance(5)
    assert hook.get_bot(bot.id).state == BotState.JOINED_NOT_RECORDING
    admin.advance(1)
    bot = hook.get_bot(bot.id)
    assert bot.state == BotState.JOINED_RECORDING and bot.recording_state == "in_progress"
    assert bot.transcription_state == "not_started"  # nothing said yet
    admin.advance(20)
    assert hook.get_bot(bot.id).transcription_state == "in_progress"
    admin.advance(100)  # the meeting ends 120 s after admission
    bot = hook.get_bot(bot.id)
    assert bot.state == BotState.POST_PROCESSING
    admin.advance(5)
    bot = hook.get_bot(bot.id)
    assert bot.state == BotState.ENDED
    assert event_types(bot) == [
        "join_requested",
        "joined_meeting",
        "recording_permission_granted",
        "meeting_ended",
        "post_processing_completed",
    ]
    assert bot.transcription_state == "complete" and bot.recording_state == "complete"
    assert [u.text for u in hook.get_transcript(bot.id)] == ["Hello there.", "Hi Ann."]


def test_leave_then_ended_and_leave_rules(hook, attendee_simulator):
    bot = hook.create_bot("https://zoom.us/j/111", bot_name="Notes")
    attendee_simulator.admin.advance(50)
    left = hook.leave_bot(bot.id)
    assert left.state == BotState.LEAVING
    assert left.events[-1].type == "leave_requested" and left.events[-1].sub_type == "user_requested"
    with pytest.raises(AttendeeInvalidStateError, match="not allowed when bot is in state leaving"):
        hook.leave_bot(bot.id)
    attendee_simulator.admin.advance(2)
    assert hook.get_bot(bot.id).state == BotState.POST_PROCESSING
    attendee_simulator.admin.advance(5)
    ended = hook.get_bot(bot.id)
    assert ended.state == BotState.ENDED
    assert event_types(ended)[-3:] == ["leave_requested", "left_meeting", "post_processing_completed"]
    # Only what happened before the bot left was observed: Bo's leave at 90 s is not there.
    kinds = [(e.participant_name, e.event_type) for e in hook.list_participant_events(bot.id)]
    assert ("Bo", "leave") not in kinds and ("Bo", "join") in kinds
    assert [u.text for u in hook.get_transcript(bot.id)] == ["Hello there.", "Hi Ann."]


def test_scheduled_bot_stages_then_joins(hook, attendee_simulator):
    join_at = datetime.fromisoformat(attendee_simulator.admin.now().replace("Z", "+00:00")) + timedelta(
        minutes=10
    )
    bot = hook.create_bot("https://zoom.us/j/111", bot_name="Notes", join_at=join_at)
    assert bot.state == BotState.SCHEDULED and bot.events == [] and bot.join_at == join_at
    attendee_simulator.admin.advance(minutes=4)
    assert hook.get_bot(bot.id).state == BotState.SCHEDULED
    attendee_simulator.admin.advance(minutes=1.5)
    assert hook.get_bot(bot.id).state == BotState.STAGED
    with pytest.raises(AttendeeInvalidStateError, match="only be updated when in the scheduled state"):
        hook.update_bot(bot.id, join_at=join_at + timedelta(hours=1))
    assert hook.update_bot(bot.id, metadata={"k": "v"}).metadata == {"k": "v"}  # metadata: any state
    with pytest.raises(AttendeeInvalidStateError, match="can only be deleted when in scheduled state"):
        hook.delete_bot(bot.id)
    attendee_simulator.admin.advance(minutes=5)
    assert hook.get_bot(bot.id).state == BotState.JOINED_RECORDING


def test_reschedule_and_unschedule(hook, attendee_simulator):
    bot = hook.create_bot("https://zoom.us/j/111", bot_name="Notes", join_at=in_future(30))
    moved = hook.update_bot(bot.id, join_at=in_future(90))
    assert moved.join_at > bot.join_at
    attendee_simulator.admin.advance(minutes=60)
    assert hook.get_bot(bot.id).state == BotState.SCHEDULED  # the old time no longer applies
    hook.delete_bot(bot.id)
    with pytest.raises(AttendeeNotFoundError, match="Bot not found"):
        hook.get_bot(bot.id)


def test_waiting_room_timeout_and_denied(hook, attendee_simulator):
    waiting = hook.create_bot("https://zoom.us/j/222", bot_name="Notes")
    denied = hook.create_bot("https://zoom.us/j/333", bot_name="Notes")
    attendee_simulator.admin.advance(5)
    assert hook.get_bot(waiting.id).state == BotState.WAITING_ROOM
    failed = hook.get_bot(denied.id)
    assert failed.state == BotState.FATAL_ERROR
    assert (failed.events[-1].type, failed.events[-1].sub_type) == (
        "could_not_join_meeting",
        "request_to_join_denied",
    )
    attendee_simulator.admin.advance(60)
    timed_out = hook.get_bot(waiting.id)
    assert timed_out.state == BotState.FATAL_ERROR
    assert timed_out.events[-1].sub_type == "waiting_room_timeout_exceeded"
    assert timed_out.recording_state == "not_started"
    with pytest.raises(AttendeeNotFoundError, match="No recording file found"):
        hook.get_recording(waiting.id)


def test_waiting_room_then_admitted(hook, attendee_simulator):
    bot = hook.create_bot("https://zoom.us/j/444", bot_name="Notes")
    attendee_simulator.admin.advance(6)
    assert hook.get_bot(bot.id).state == BotState.WAITING_ROOM
    attendee_simulator.admin.advance(25)
    assert hook.get_bot(bot.id).state == BotState.JOINED_RECORDING


def test_deduplication_key_rule(hook, attendee_simulator):
    first = hook.create_bot("https://zoom.us/j/111", bot_name="Notes", deduplication_key="meeting-42")
    with pytest.raises(AttendeeDeduplicationKeyInUseError):
        hook.create_bot("https://zoom.us/j/111", bot_name="Notes", deduplication_key="meeting-42")
    (found,) = hook.list_bots(deduplication_key="meeting-42")
    assert found.id == first.id
    attendee_simulator.admin.advance(300)  # the meeting ends; the bot finishes
    assert hook.get_bot(first.id).state == BotState.ENDED
    again = hook.create_bot("https://zoom.us/j/111", bot_name="Notes", deduplication_key="meeting-42")
    assert again.id != first.id
    assert attendee_simulator.admin.counters()["bots_created_by_dedup_key"] == {"meeting-42": 2}


def test_delete_data(hook, attendee_simulator):
    bot = hook.create_bot("https://zoom.us/j/111", bot_name="Notes")
    with pytest.raises(AttendeeInvalidStateError, match="data deleted event"):
        hook.delete_bot_data(bot.id)
    attendee_simulator.admin.advance(300)
    assert hook.get_recording(bot.id).url
    deleted = hook.delete_bot_data(bot.id)
    assert deleted.state == BotState.DATA_DELETED
    assert hook.get_transcript(bot.id) == []
    assert list(hook.list_participant_events(bot.id)) == []
    with pytest.raises(AttendeeNotFoundError):
        hook.get_recording(bot.id)


def test_pause_and_resume_recording(hook, attendee_simulator):
    bot = hook.create_bot("https://zoom.us/j/111", bot_name="Notes")
    with pytest.raises(AttendeeInvalidRequestError):
        hook.pause_recording(bot.id)
    attendee_simulator.admin.advance(10)
    paused = hook.pause_recording(bot.id)
    assert paused.state == BotState.JOINED_RECORDING_PAUSED and paused.recording_state == "paused"
    resumed = hook.resume_recording(bot.id)
    assert resumed.state == BotState.JOINED_RECORDING and resumed.recording_state == "in_progress"


def test_admin_can_fail_a_bot(hook, attendee_simulator):
    bot = hook.create_bot("https://zoom.us/j/111", bot_name="Notes")
    attendee_simulator.admin.fail_bot(bot.id, "process_terminated")
    failed = hook.get_bot(bot.id)
    assert failed.state == BotState.FATAL_ERROR and failed.events[-1].sub_type == "process_terminated"


@pytest.mark.parametrize(
    ("kwargs", "field", "message"),
    [
        ({"meeting_url": "https://example.com/meeting"}, "meeting_url", "Invalid meeting URL"),
        (
            {"meeting_url": MEET, "join_at": "2001-01-01T00:00:00Z"},
            "join_at",
            "join_at cannot be in the past",
        ),
        ({"meeting_url": MEET, "colour": "red"}, "non_field_errors", "Unexpected field(s): colour"),
        ({"calendar_event_id": "evt_missing"}, None, "Calendar event with id evt_missing does not exist"),
    ],
)
def test_create_validation(hook, kwargs, field, message):
    with pytest.raises(AttendeeInvalidRequestError) as info:
        hook.create_bot(bot_name="Notes", **kwargs)
    assert message in str(info.value)
    if field:
        assert field in info.value.field_errors


@pytest.mark.contract_exempt  # sends requests without the required Authorization header on purpose
def test_auth_errors(attendee_simulator, monkeypatch):
    url = attendee_simulator.url
    assert httpx.get(f"{url}/api/v1/bots").json() == {"detail": "Missing Authorization header"}
    wrong_scheme = httpx.get(f"{url}/api/v1/bots", headers={"Authorization": "Bearer x"})
    assert wrong_scheme.status_code == 401 and "Should have this format" in wrong_scheme.json()["detail"]
    wrong_key = httpx.get(f"{url}/api/v1/bots", headers={"Authorization": "token nope"})
    assert wrong_key.status_code == 401
    assert wrong_key.json() == {"detail": "Invalid or disabled API key"}
    assert wrong_key.headers["WWW-Authenticate"] == "Token"
    unknown = httpx.get(f"{url}/api/v1/nothing-here/")
    assert unknown.status_code == 404 and unknown.json() == {"error": "Not found"}
    monkeypatch.setenv(
        "AIRFLOW_CONN_ATTENDEE_DEFAULT",
        attendee_simulator.connection_json().replace(attendee_simulator.api_key, "wrong-key-123"),
    )
    with pytest.raises(AttendeeAuthenticationError, match="Invalid or disabled API key"):
        AttendeeHook().get_bot("bot_x")
    ok, message = AttendeeHook().test_connection()
    assert not ok and "wrong-key-123" not in message


def test_post_throttle(attendee_simulator):
    attendee_simulator.simulator.post_rate_limit_per_minute = 2
    try:
        hook = AttendeeHook()
        headers = {"Authorization": f"Token {attendee_simulator.api_key}", "Content-Type": "application/json"}
        for _ in range(2):
            hook.create_bot(MEET, bot_name="Notes")
        response = httpx.post(
            f"{attendee_simulator.url}/api/v1/bots",
            headers=headers,
            json={"meeting_url": MEET, "bot_name": "x"},
        )
        assert response.status_code == 429 and response.headers["Retry-After"] == "60"
        assert httpx.get(f"{attendee_simulator.url}/api/v1/bots", headers=headers).status_code == 200
    finally:
        attendee_simulator.simulator.post_rate_limit_per_minute = 3000


@pytest.mark.contract_exempt  # invalid recording_settings on purpose (openapi.yml forbids extra keys too)
@pytest.mark.parametrize(
    ("settings", "error"),
    [
        (
            {"record_speech_events": True},
            ["Additional properties are not allowed ('record_speech_events' was unexpected)"],
        ),
        ({"zz": 1, "aa": 2}, ["Additional properties are not allowed ('aa', 'zz' were unexpected)"]),
        ({"record_participant_speech_start_stop_events": "yes"}, ["'yes' is not of type 'boolean'"]),
        ({"resolution": "4k"}, ["'4k' is not one of ['1080p', '720p']"]),
        ({"format": "webm"}, {"format": "Format must be mp4 or mp3 or 'none'"}),
        ([], ["[] is not of type 'object'"]),
    ],
)
def test_recording_settings_are_validated_as_on_the_server(attendee_simulator, settings, error):
    """bots/serializers.py validate_recording_settings (jsonschema, additionalProperties false), on
    create and on PATCH, word for word."""
    headers = {"Authorization": f"Token {attendee_simulator.api_key}"}
    with httpx.Client(base_url=f"{attendee_simulator.url}/api/v1", headers=headers) as client:
        created = client.post(
            "/bots", json={"meeting_url": MEET, "bot_name": "b", "recording_settings": settings}
        )
        assert (created.status_code, created.json()) == (400, {"recording_settings": error})
        later = client.post("/bots", json={"meeting_url": MEET, "bot_name": "b", "join_at": in_future(60)})
        patched = client.patch(f"/bots/{later.json()['id']}", json={"recording_settings": settings})
        assert (patched.status_code, patched.json()) == (400, {"recording_settings": error})


def test_speech_events_only_for_bots_that_ask(hook, attendee_simulator):
    speech = {"record_participant_speech_start_stop_events": True}
    default = hook.create_bot("https://zoom.us/j/111", bot_name="Notes")
    asked = hook.create_bot("https://zoom.us/j/111", bot_name="Notes", recording_settings=speech)
    attendee_simulator.admin.advance(300)
    kinds = {
        b.id: sorted({e.event_type for e in hook.list_participant_events(b.id)}) for b in (default, asked)
    }
    assert kinds == {
        default.id: ["join", "leave"],
        asked.id: ["join", "leave", "speech_start", "speech_stop"],
    }
    # Both have the transcript, with who spoke and for how long.
    for bot in (default, asked):
        assert [(u.speaker_name, u.duration_ms) for u in hook.get_transcript(bot.id)] == [
            ("Ann", 5000),
            ("Bo", 10000),
        ]


def test_format_none_records_and_transcribes_but_makes_no_file(hook, attendee_simulator):
    bot = hook.create_bot("https://zoom.us/j/111", bot_name="Notes", recording_settings={"format": "none"})
    attendee_simulator.admin.advance(10)
    assert hook.get_bot(bot.id).state == BotState.JOINED_RECORDING
    attendee_simulator.admin.advance(300)
    ended = hook.get_bot(bot.id)
    assert (ended.state, ended.recording_state, ended.transcription_state) == (
        "ended",
        "complete",
        "complete",
    )
    assert len(hook.get_transcript(bot.id)) == 2
    with pytest.raises(AttendeeRecordingMissingError, match="No recording file found for bot"):
        hook.get_recording(bot.id)


@pytest.mark.attendee_simulator(recording_storage=False)
def test_a_server_without_recording_storage_has_no_files(hook, attendee_simulator):
    bot = hook.create_bot("https://zoom.us/j/111", bot_name="Notes")
    attendee_simulator.admin.advance(300)
    # The real server (recaptured lifecycle): no file where one was asked for is a failed recording.
    assert hook.get_bot(bot.id).recording_state == "failed"
    with pytest.raises(AttendeeRecordingMissingError, match="recording storage"):
        hook.get_recording(bot.id)
    with pytest.raises(AttendeeNotFoundError, match=r"Bot not found\. Check the id"):
        hook.get_recording("bot_unknown00000000")


def test_transcription_fields_follow_the_provider(hook, attendee_simulator):
    """Zoom bots default to Deepgram (its alternative: transcript, confidence, words); captions (Meet and
    Teams by default, or asked for) store the text only, as the real server does."""
    zoom = hook.create_bot("https://zoom.us/j/111", bot_name="Notes")
    captions = hook.create_bot(
        "https://zoom.us/j/111", bot_name="Notes", transcription_settings={"meeting_closed_captions": {}}
    )
    attendee_simulator.admin.advance(300)
    headers = {"Authorization": f"Token {attendee_simulator.api_key}"}
    bodies = {
        bot.id: httpx.get(f"{attendee_simulator.url}/api/v1/bots/{bot.id}/transcript", headers=headers).json()
        for bot in (zoom, captions)
    }
    first = bodies[zoom.id][0]["transcription"]
    assert set(first) == {"transcript", "confidence", "words"}
    assert [w["punctuated_word"] for w in first["words"]] == ["Hello", "there."]
    assert first["words"][-1]["end"] == 5.0
    assert [u["transcription"] for u in bodies[captions.id]] == [
        {"transcript": "Hello there."},
        {"transcript": "Hi Ann."},
    ]


def test_the_bot_link_opens_a_page_of_the_bot(hook, attendee_simulator):
    """The "Attendee bot" link (connection extra project_id) opens a page on the simulator too, not a 404."""
    bot = hook.create_bot("https://zoom.us/j/111", bot_name="Notes")
    settings = dataclasses.replace(hook.settings, project_id="proj_simulator")
    url = settings.bot_url(bot.id)
    assert url == f"{attendee_simulator.url}/projects/proj_simulator/bots/{bot.id}"
    page = httpx.get(url)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert f"Bot {bot.id}" in page.text and "<td>joining</td>" in page.text and "join_requested" in page.text
    gone = httpx.get(settings.bot_url("bot_unknown00000000"))
    assert gone.status_code == 404 and "No bot bot_unknown00000000" in gone.text
