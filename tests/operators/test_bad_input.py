"""Every failure a user can cause: a specific exception and a message that names the problem and the fix.

No user-facing error is an httpx or pydantic traceback, and no message contains the API key.
"""

from __future__ import annotations

import json
import time
from datetime import timedelta

import httpx
import pytest

from airflow_provider_attendee.exceptions import (
    AttendeeAuthenticationError,
    AttendeeBotFailedError,
    AttendeeConfigurationError,
    AttendeeConnectionError,
    AttendeeDestinationError,
    AttendeeError,
    AttendeeInvalidRequestError,
    AttendeeInvalidStateError,
    AttendeeNotFoundError,
    AttendeeServerError,
    AttendeeTranscriptNotReadyError,
)
from airflow_provider_attendee.hooks.attendee import AttendeeHook
from airflow_provider_attendee.operators.bots import AttendeeCreateBotOperator, AttendeeLeaveBotOperator
from airflow_provider_attendee.operators.calendar import AttendeeScheduleCalendarBotsOperator
from airflow_provider_attendee.operators.outputs import AttendeeRecordingOperator, AttendeeTranscriptOperator
from airflow_provider_attendee.sensors.attendee import AttendeeBotStateSensor, AttendeeParticipantCountSensor
from tests.operators.conftest import DEMO_MEETING, FakeTaskInstance

KEY = "RECOGNISABLE-KEY-0451"


def conn(**fields) -> str:
    return json.dumps({"conn_type": "attendee", **fields})


def finished_bot(sim) -> str:
    bot = AttendeeHook().create_bot(DEMO_MEETING, bot_name="Notes")
    sim.admin.advance(3000)  # a generated meeting lasts 20 to 40 minutes
    assert AttendeeHook().get_bot(bot.id).state == "ended"
    return bot.id


def live_bot(sim) -> str:
    bot = AttendeeHook().create_bot(DEMO_MEETING, bot_name="Notes")
    sim.admin.advance(60)
    return bot.id


# (case id, setup(sim, monkeypatch) -> callable that fails, exception class, message fragment)
CASES = [
    (
        "missing connection",
        lambda s, m: lambda: AttendeeHook("nope").get_bot("b"),
        AttendeeConfigurationError,
        "AIRFLOW_CONN_NOPE",
    ),
    (
        "connection without key",
        lambda s, m: (
            m.setenv("AIRFLOW_CONN_ATTENDEE_DEFAULT", conn(host=s.url)),
            lambda: AttendeeHook().get_bot("b"),
        )[1],
        AttendeeConfigurationError,
        "has no Attendee API key",
    ),
    (
        "wrong connection type",
        lambda s, m: (
            m.setenv(
                "AIRFLOW_CONN_ATTENDEE_DEFAULT",
                conn(host=s.url, password=KEY).replace('"attendee"', '"postgres"'),
            ),
            lambda: AttendeeHook().get_bot("b"),
        )[1],
        AttendeeConfigurationError,
        "type 'attendee'",
    ),
    (
        "bad host scheme",
        lambda s, m: (
            m.setenv("AIRFLOW_CONN_ATTENDEE_DEFAULT", conn(host="ftp://x", password=KEY)),
            lambda: AttendeeHook().get_bot("b"),
        )[1],
        AttendeeConfigurationError,
        "is not an http",
    ),
    (
        "bad extra",
        lambda s, m: (
            m.setenv("AIRFLOW_CONN_ATTENDEE_DEFAULT", conn(host=s.url, password=KEY, extra={"timeout": "x"})),
            lambda: AttendeeHook().get_bot("b"),
        )[1],
        AttendeeConfigurationError,
        "'timeout' must be a number",
    ),
    (
        "wrong key",
        lambda s, m: (
            m.setenv("AIRFLOW_CONN_ATTENDEE_DEFAULT", conn(host=s.url, password=KEY)),
            lambda: AttendeeHook().get_bot("b"),
        )[1],
        AttendeeAuthenticationError,
        "Check the API key",
    ),
    (
        "unreachable host",
        lambda s, m: (
            m.setenv(
                "AIRFLOW_CONN_ATTENDEE_DEFAULT",
                conn(
                    host="http://127.0.0.1:9", password=KEY, extra={"max_retries": 1, "retry_backoff": 0.01}
                ),
            ),
            lambda: AttendeeHook().get_bot("b"),
        )[1],
        AttendeeConnectionError,
        "could not reach http://127.0.0.1:9",
    ),
    (
        "non-Attendee host",
        lambda s, m: (
            m.setenv("AIRFLOW_CONN_ATTENDEE_DEFAULT", conn(host=f"{s.url}/_sim/health?", password=KEY)),
            lambda: AttendeeHook().get_bot("b"),
        )[1],
        AttendeeError,
        "Attendee",
    ),
    (
        "malformed meeting URL",
        lambda s, m: (
            lambda: AttendeeCreateBotOperator(task_id="c", meeting_url="meet me at 3").execute(
                {"ti": FakeTaskInstance()}
            )
        ),
        AttendeeConfigurationError,
        "is not a meeting link",
    ),
    (
        "unsupported meeting host",
        lambda s, m: lambda: AttendeeHook().create_bot("https://example.com/room", bot_name="b"),
        AttendeeInvalidRequestError,
        "Invalid meeting URL",
    ),
    (
        "join_at in the past",
        lambda s, m: lambda: AttendeeHook().create_bot(DEMO_MEETING, join_at="2001-01-01T00:00:00Z"),
        AttendeeInvalidRequestError,
        "join_at cannot be in the past",
    ),
    (
        "join_at not a date",
        lambda s, m: lambda: AttendeeHook().create_bot(DEMO_MEETING, join_at="next monday"),
        AttendeeConfigurationError,
        "not an ISO 8601",
    ),
    (
        "unknown state in sensor",
        lambda s, m: lambda: AttendeeBotStateSensor(task_id="s", bot_id="b", target_states=["recording"]),
        AttendeeConfigurationError,
        "Valid states are",
    ),
    (
        "unknown state in list_bots",
        lambda s, m: lambda: list(AttendeeHook().list_bots(states=["done"])),
        AttendeeConfigurationError,
        "Unknown Attendee bot state 'done'",
    ),
    (
        "threshold < 0",
        lambda s, m: lambda: AttendeeParticipantCountSensor(task_id="s", bot_id="b", threshold=-2),
        AttendeeConfigurationError,
        "threshold must be a whole number",
    ),
    (
        "unknown comparison",
        lambda s, m: (
            lambda: AttendeeParticipantCountSensor(task_id="s", bot_id="b", threshold=2, comparison="=>")
        ),
        AttendeeConfigurationError,
        "comparison='=>' is not supported",
    ),
    (
        "bad name pattern",
        lambda s, m: (
            lambda: AttendeeParticipantCountSensor(task_id="s", bot_id="b", threshold=2, name_pattern="([")
        ),
        AttendeeConfigurationError,
        "not a valid regular expression",
    ),
    (
        "bot not found",
        lambda s, m: lambda: AttendeeHook().get_bot("bot_doesnotexist"),
        AttendeeNotFoundError,
        "Bot not found",
    ),
    (
        "empty bot id",
        lambda s, m: (
            lambda: AttendeeLeaveBotOperator(task_id="l", bot_id="").execute({"ti": FakeTaskInstance()})
        ),
        AttendeeConfigurationError,
        "bot id is required",
    ),
    (
        "leave an ended bot (strict)",
        lambda s, m: (
            lambda bot: (
                lambda: AttendeeLeaveBotOperator(
                    task_id="l", bot_id=bot, fail_if_not_in_meeting=True
                ).execute({"ti": FakeTaskInstance()})
            )
        )(finished_bot(s)),
        AttendeeBotFailedError,
        "is ended, not in a meeting",
    ),
    (
        "leave an ended bot (hook)",
        lambda s, m: (lambda bot: lambda: AttendeeHook().leave_bot(bot))(finished_bot(s)),
        AttendeeInvalidStateError,
        "not allowed when bot is in state ended",
    ),
    (
        "delete a joined bot",
        lambda s, m: (lambda bot: lambda: AttendeeHook().delete_bot(bot))(live_bot(s)),
        AttendeeInvalidStateError,
        "can only be deleted when in scheduled state",
    ),
    (
        "transcript not ready",
        lambda s, m: (
            lambda bot: (
                lambda: AttendeeTranscriptOperator(task_id="t", bot_id=bot).execute(
                    {"ti": FakeTaskInstance()}
                )
            )
        )(live_bot(s)),
        AttendeeTranscriptNotReadyError,
        "not complete",
    ),
    (
        "recording not ready",
        lambda s, m: (
            lambda bot: (
                lambda: AttendeeRecordingOperator(task_id="r", bot_id=bot).execute({"ti": FakeTaskInstance()})
            )
        )(live_bot(s)),
        AttendeeNotFoundError,
        "No recording file found",
    ),
    (
        "destination not writable",
        lambda s, m: (
            lambda bot: (
                lambda: AttendeeTranscriptOperator(
                    task_id="t", bot_id=bot, destination="/proc/attendee-out"
                ).execute({"ti": FakeTaskInstance()})
            )
        )(finished_bot(s)),
        AttendeeDestinationError,
        "Cannot write",
    ),
    (
        "unknown transcript format",
        lambda s, m: lambda: AttendeeTranscriptOperator(task_id="t", bot_id="b", formats=["pdf"]),
        AttendeeConfigurationError,
        "Unknown transcript format",
    ),
    (
        "window ends before it starts",
        lambda s, m: (
            lambda: AttendeeScheduleCalendarBotsOperator(
                task_id="c", window_start="2030-01-02T00:00:00Z", window_end="2030-01-01T00:00:00Z"
            ).execute({"ti": FakeTaskInstance()})
        ),
        AttendeeConfigurationError,
        "before it starts",
    ),
    (
        "metadata not strings",
        lambda s, m: lambda: AttendeeHook().create_bot(DEMO_MEETING, metadata={"n": 3}),
        AttendeeConfigurationError,
        "metadata values must be strings",
    ),
    (
        "HTML 5xx body",
        lambda s, m: (
            s.admin.set_faults(default={"rate_5xx": 1.0, "html_fraction": 1.0}),
            m.setenv("AIRFLOW_CONN_ATTENDEE_DEFAULT", s.connection_json(max_retries=0)),
            lambda: AttendeeHook().get_bot("b"),
        )[2],
        AttendeeServerError,
        "non-JSON error page (HTML)",
    ),
    (
        "JSON error body",
        lambda s, m: (
            s.admin.set_faults(default={"rate_5xx": 1.0, "html_fraction": 0.0}),
            m.setenv("AIRFLOW_CONN_ATTENDEE_DEFAULT", s.connection_json(max_retries=0)),
            lambda: AttendeeHook().get_bot("b"),
        )[2],
        AttendeeServerError,
        "A server error occurred",
    ),
    (
        "wait_for_states typo",
        lambda s, m: (
            lambda: AttendeeCreateBotOperator(
                task_id="c", meeting_url=DEMO_MEETING, wait_for_states=["joined"]
            )
        ),
        AttendeeConfigurationError,
        "Unknown Attendee bot state 'joined'",
    ),
]


@pytest.mark.contract_exempt  # some cases make the simulator answer with faults or reach non-API paths
@pytest.mark.parametrize(("case", "setup", "error", "fragment"), CASES, ids=[c[0] for c in CASES])
def test_bad_input(attendee_simulator, monkeypatch, case, setup, error, fragment):
    action = setup(attendee_simulator, monkeypatch)
    with pytest.raises(error) as info:
        action()
    message = str(info.value)
    assert fragment in message, message
    assert isinstance(info.value, AttendeeError)
    assert KEY not in message and attendee_simulator.api_key not in message
    assert "Traceback" not in message
    cause = info.value.__cause__
    assert not isinstance(cause, httpx.HTTPError) and "pydantic" not in type(cause).__module__


def test_at_least_25_cases():
    assert len(CASES) >= 25


def test_huge_transcript_and_unicode_names(attendee_simulator, tmp_path):
    people = [
        {
            "name": f"Zoë 🎉 Ñandú {i}",
            "presence": [{"join": 0}],
            "speech": [
                {"at": 1 + j * 0.5, "duration": 0.4, "text": f"Línea {j} — 日本語 ✓"} for j in range(2500)
            ],
        }
        for i in range(4)
    ]
    attendee_simulator.admin.add_scenario(
        {
            "meetings": [
                {"meeting_url": "https://zoom.us/j/4242", "ends_after_seconds": 1400, "participants": people}
            ]
        }
    )
    bot = AttendeeHook().create_bot("https://zoom.us/j/4242", bot_name="Notes 📝")
    attendee_simulator.admin.advance(1500)
    result = AttendeeTranscriptOperator(
        task_id="t", bot_id=bot.id, destination=str(tmp_path), formats=["json", "srt"]
    ).execute({"ti": FakeTaskInstance()})
    assert result["utterances"] == 10_000 and result["speakers"][0].startswith("Zoë 🎉")
    rows = json.loads((tmp_path / "transcript.json").read_text(encoding="utf-8"))
    assert rows[-1]["text"].endswith("日本語 ✓")
    assert timedelta(milliseconds=rows[-1]["offset_ms"]) < timedelta(minutes=25)


def retry_waits(monkeypatch) -> list[float]:
    """The waits a retry would make (recorded instead of slept): none means not retried."""
    waits: list[float] = []
    monkeypatch.setattr(time, "sleep", waits.append)
    return waits


def test_a_host_without_scheme_on_a_plain_http_server_fails_fast_and_says_why(
    attendee_simulator, monkeypatch
):
    """https is assumed without a scheme; a plain-http server then breaks the TLS handshake, which no retry can
    fix: one attempt, and a message with the fix."""
    host = attendee_simulator.url.removeprefix("http://")
    conn = {"conn_type": "attendee", "host": host, "password": attendee_simulator.api_key}
    monkeypatch.setenv("AIRFLOW_CONN_ATTENDEE_DEFAULT", json.dumps(conn))
    waits = retry_waits(monkeypatch)
    with pytest.raises(
        AttendeeConnectionError, match=r"TLS handshake with https://127\.0\.0\.1.*plain http\?"
    ) as info:
        AttendeeHook().get_bot("bot_x")
    assert f"http://{host}" in str(info.value) and "Not retried" in str(info.value)
    assert waits == []  # one attempt
    assert attendee_simulator.api_key not in str(info.value)

    ok, message = AttendeeHook().test_connection()
    assert not ok and "TLS handshake" in message and "attendee_default" not in message
    assert waits == []


def test_the_connection_test_does_not_retry(monkeypatch):
    """The form's test answers within one attempt, naming 'this connection' (the form uses a random id)."""
    conn = {
        "conn_type": "attendee",
        "host": "http://127.0.0.1:9",
        "password": "k",
        "extra": {"max_retries": 5},
    }
    monkeypatch.setenv("AIRFLOW_CONN_ATTENDEE_DEFAULT", json.dumps(conn))
    waits = retry_waits(monkeypatch)
    ok, message = AttendeeHook().test_connection()
    assert not ok and "could not reach http://127.0.0.1:9" in message and "this connection" in message
    assert waits == []  # one attempt, although the connection allows 5 retries
