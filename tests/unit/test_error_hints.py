"""What a 400's message tells the user to do: fix the fields the server named, or, when it names none (the
real server's ``{"error": ...}`` refusals, such as a Zoom bot in a project without Zoom credentials), do what
its message says: never "the request fields named above" when none is named."""

from __future__ import annotations

import json

import pytest

from airflow_provider_attendee.client.errors import (
    AttendeeDeduplicationKeyInUseError,
    AttendeeInvalidRequestError,
    error_for_status,
)
from tests.conformance.recordings import load

NAMED_ABOVE = "Fix the request fields named above."
NO_FIELD = "The server names no request field: do what its message says"


def refusal(body: dict[str, object]) -> AttendeeInvalidRequestError:
    error = error_for_status(
        status_code=400,
        method="POST",
        path="/api/v1/bots",
        body=json.dumps(body).encode(),
        content_type="application/json",
        conn_id="attendee_default",
    )
    assert isinstance(error, AttendeeInvalidRequestError)
    return error


def recorded_zoom_refusal() -> dict[str, object]:
    """The real server's answer to a Zoom bot in a project without Zoom credentials."""
    for exchange in load("url_normalisation.json").exchanges:
        body = exchange.response_body
        if exchange.status == 400 and "Zoom App credentials" in str(body):
            return dict(body)
    raise AssertionError("no recorded Zoom refusal")


def test_a_refusal_that_names_no_field_says_what_to_do_instead():
    body = recorded_zoom_refusal()
    assert list(body) == ["error"]  # the real server names no field here
    message = str(refusal(body))
    assert "Zoom App credentials are required" in message
    assert NAMED_ABOVE not in message and NO_FIELD in message


@pytest.mark.parametrize(
    "body",
    [
        {"meeting_url": ["Invalid meeting URL"]},
        {"join_at": ["join_at cannot be in the past"], "bot_name": ["This field is required."]},
    ],
)
def test_field_errors_point_at_their_fields(body):
    message = str(refusal(body))
    assert NAMED_ABOVE in message and NO_FIELD not in message
    for field in body:
        assert f"{field}: " in message


def test_non_field_errors_name_no_field():
    message = str(
        refusal({"non_field_errors": ["Unexpected field(s): colour. Allowed fields are: bot_name"]})
    )
    assert NAMED_ABOVE not in message and NO_FIELD in message


def test_a_key_in_use_keeps_its_own_advice():
    error = refusal({"error": "Deduplication key already in use. A bot in a non-terminal state ..."})
    assert isinstance(error, AttendeeDeduplicationKeyInUseError)
    assert "list_bots(deduplication_key=...)" in str(error) and NO_FIELD not in str(error)
