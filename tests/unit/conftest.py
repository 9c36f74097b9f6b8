from __future__ import annotations

import json
import logging

import pytest

SECRET = "SECRET-KEY-4f9a7c1e"
BASE = "https://attendee.test"
API = f"{BASE}/api/v1"


def conn_json(**extra: object) -> str:
    options = {"retry_backoff": 0.001, "max_retries": 3, "max_retry_time": 5}
    options.update(extra)
    return json.dumps(
        {"conn_type": "attendee", "host": "attendee.test", "password": SECRET, "extra": options}
    )


@pytest.fixture
def attendee_conn(monkeypatch: pytest.MonkeyPatch) -> str:
    """AIRFLOW_CONN_ATTENDEE_DEFAULT pointing at https://attendee.test with a recognisable key."""
    monkeypatch.setenv("AIRFLOW_CONN_ATTENDEE_DEFAULT", conn_json())
    return "attendee_default"


@pytest.fixture
def no_key_in_logs(caplog: pytest.LogCaptureFixture):
    """Fails the test if the API key shows up in any log record."""
    caplog.set_level(logging.DEBUG)
    yield caplog
    for record in caplog.records:
        assert SECRET not in record.getMessage()
        assert SECRET not in str(record.args)


BOT = {
    "id": "bot_1",
    "metadata": None,
    "meeting_url": "https://zoom.us/j/123",
    "state": "joining",
    "events": [{"type": "join_requested", "created_at": "2025-01-18T12:34:56.123456Z"}],
    "transcription_state": "not_started",
    "recording_state": "not_started",
    "join_at": None,
    "deduplication_key": None,
}


def bot(**fields: object) -> dict[str, object]:
    return {**BOT, **fields}
