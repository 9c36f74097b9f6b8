"""Pure helpers of the HTTP layer: URLs, datetimes, Retry-After, error bodies, retry safety."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone

import httpx
import pendulum
import pytest

from airflow_provider_attendee.client import http
from airflow_provider_attendee.exceptions import (
    AttendeeConfigurationError,
    AttendeeRateLimitError,
    AttendeeServerError,
    describe_error_body,
)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (datetime(2025, 1, 18, 12, 34, 56), "2025-01-18T12:34:56Z"),
        (datetime(2025, 1, 18, 12, 34, 56, 120000, tzinfo=timezone.utc), "2025-01-18T12:34:56.120000Z"),
        (pendulum.datetime(2025, 1, 18, 13, 34, 56, tz="Europe/Berlin"), "2025-01-18T12:34:56Z"),
        ("2025-01-18T13:34:56+01:00", "2025-01-18T12:34:56Z"),
        ("2025-01-18T12:34:56Z", "2025-01-18T12:34:56Z"),
        (date(2025, 1, 18), "2025-01-18T00:00:00Z"),
    ],
)
def test_format_datetime(value, expected):
    assert http.format_datetime(value, "t") == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("tomorrow", "join_at='tomorrow' is not"),
        ("2025-13-45", "is not an ISO 8601"),
        (12, "must be a datetime"),
    ],
)
def test_format_datetime_rejects(value, message):
    with pytest.raises(AttendeeConfigurationError, match=message):
        http.format_datetime(value, "join_at")


def test_same_origin_url():
    base = "https://attendee.example.com"
    assert http.same_origin_url("/api/v1/bots?cursor=x", base) == f"{base}/api/v1/bots?cursor=x"
    assert (
        http.same_origin_url("http://10.0.0.1:8000/api/v1/bots?cursor=x", base)
        == f"{base}/api/v1/bots?cursor=x"
    )
    assert http.same_origin_url("https://evil.example/steal", base) == f"{base}/steal"


def test_parse_retry_after():
    now = datetime(2025, 1, 1, tzinfo=timezone.utc).timestamp()
    assert http.parse_retry_after("7") == 7.0
    assert http.parse_retry_after("Wed, 01 Jan 2025 00:00:30 GMT", now=now) == 30.0
    assert http.parse_retry_after("Tue, 31 Dec 2024 00:00:30 GMT", now=now) == 0.0
    assert http.parse_retry_after("soon") is None
    assert http.parse_retry_after(None) is None


@pytest.mark.parametrize(
    ("body", "ctype", "expected"),
    [
        (b'{"error": "Bot not found"}', "application/json", "Bot not found"),
        (b'{"detail": "Invalid cursor"}', "application/json", "Invalid cursor"),
        (
            b'{"join_at": ["join_at cannot be in the past"]}',
            "application/json",
            "join_at: join_at cannot be in the past",
        ),
        (
            b'{"non_field_errors": ["Unexpected field(s): foo."]}',
            "application/json",
            "non_field_errors: Unexpected",
        ),
        (b"<html><body>502 Bad Gateway</body></html>", "text/html", "non-JSON error page (HTML)"),
        (b"", "", "empty response body"),
        (b"{not json", "application/json", "{not json"),
        (b'["a", "b"]', "application/json", "a; b"),
    ],
)
def test_describe_error_body(body, ctype, expected):
    assert describe_error_body(body, ctype)[0].startswith(expected)


def test_retry_safety_rules():
    server = AttendeeServerError("x", http_status=503)
    server_500 = AttendeeServerError("x", http_status=501)
    assert http.is_retryable(httpx.ConnectError("x"), idempotent=False)
    assert http.is_retryable(AttendeeRateLimitError("x", http_status=429), idempotent=False)
    assert not http.is_retryable(httpx.ReadTimeout("x"), idempotent=False)
    assert not http.is_retryable(server, idempotent=False)
    assert http.is_retryable(httpx.ReadTimeout("x"), idempotent=True)
    assert http.is_retryable(httpx.RemoteProtocolError("x"), idempotent=True)
    assert http.is_retryable(server, idempotent=True)
    assert not http.is_retryable(server_500, idempotent=True)


def test_backoff_grows_and_is_capped():
    settings = http.ClientSettings("c", "https://x", "k" * 8, retry_backoff=1.0, max_retry_time=10.0)
    wait = http._WaitRetryAfterOrBackoff(settings)

    class State:
        def __init__(self, n, error=None):
            self.attempt_number = n
            self.outcome = None if error is None else type("O", (), {"exception": lambda self: error})()

    waits = [wait(State(n)) for n in (1, 2, 3, 6)]
    assert 1 <= waits[0] <= 2 and 2 <= waits[1] <= 3 and 4 <= waits[2] <= 5 and waits[3] == 10.0
    limited = AttendeeRateLimitError("x", http_status=429)
    limited.retry_after = 60
    assert wait(State(1, limited)) == 10.0


def test_settings_repr_hides_key():
    settings = http.ClientSettings("c", "https://x", "TOPSECRET-123")
    assert "TOPSECRET" not in repr(settings)
    assert timedelta(seconds=settings.timeout).total_seconds() == 30


def test_error_message_ends_the_server_text_with_one_full_stop():
    from airflow_provider_attendee.exceptions import error_for_status

    def message(text: str) -> str:
        body = json.dumps({"detail": text}).encode()
        return str(
            error_for_status(
                status_code=404,
                method="GET",
                path="/x",
                body=body,
                content_type="application/json",
                conn_id="c",
            )
        )

    assert "HTTP 404: Gone. Check the id" in message("Gone.")
    assert "HTTP 404: Gone. Check the id" in message("Gone")
    assert ".." not in message("Is it gone?") and "HTTP 404: Is it gone? Check" in message("Is it gone?")


def test_bot_link_is_the_dashboard_page_or_none():
    settings = http.ClientSettings("c", "https://attendee.example.com", "k" * 8, project_id="proj_a/b")
    assert settings.bot_url("bot_1") == "https://attendee.example.com/projects/proj_a%2Fb/bots/bot_1"
    assert http.ClientSettings("c", "https://x", "k" * 8).bot_url("bot_1") is None  # the API URL would 401
