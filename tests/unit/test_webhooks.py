"""Webhook signatures (Attendee's scheme) and typed payloads."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest

from airflow_provider_attendee.client.webhooks import (
    BotStateChangeWebhook,
    CalendarWebhook,
    OtherWebhook,
    ParticipantEventWebhook,
    TranscriptUpdateWebhook,
    parse_webhook,
    sign_payload,
    verify_webhook_signature,
)
from airflow_provider_attendee.exceptions import AttendeeConfigurationError

SECRET = base64.b64encode(b"project-webhook-secret-32-bytes!").decode()
PAYLOAD = {
    "idempotency_key": "0d9d7a3b-7f1e-4c1e-9b7e-3f1b2f0c9a11",
    "bot_id": "bot_weIAju4OXNZkDTpZ",
    "bot_metadata": {"customer": "Zoë 🎉"},
    "trigger": "bot.state_change",
    "data": {
        "new_state": "ended",
        "old_state": "post_processing",
        "created_at": "2023-07-15T14:30:45.123456+00:00",
        "event_type": "post_processing_completed",
        "event_sub_type": None,
        "event_metadata": {"bot_duration_seconds": 1800},
    },
}


def reference_signature(payload, secret):
    """The signature as docs/webhooks.md computes it, written out independently."""
    message = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return base64.b64encode(hmac.new(base64.b64decode(secret), message, hashlib.sha256).digest()).decode()


def test_known_good_signature_over_differently_serialised_bytes():
    signature = reference_signature(PAYLOAD, SECRET)
    assert sign_payload(PAYLOAD, SECRET) == signature
    wire = json.dumps(PAYLOAD, indent=2).encode()  # not the canonical form, as on the wire
    assert verify_webhook_signature(wire, signature, SECRET)
    assert verify_webhook_signature(wire.decode(), f"  {signature} ", SECRET)


@pytest.mark.parametrize(
    "tamper",
    [
        lambda p: {**p, "bot_id": "bot_other"},
        lambda p: {**p, "data": {**p["data"], "new_state": "fatal_error"}},
        lambda p: {**p, "bot_metadata": {"customer": "Zoe"}},
        lambda p: {**p, "extra": 1},
    ],
)
def test_tampered_payloads_fail(tamper):
    signature = reference_signature(PAYLOAD, SECRET)
    assert not verify_webhook_signature(json.dumps(tamper(PAYLOAD)), signature, SECRET)


def test_wrong_secret_missing_header_and_garbage():
    signature = reference_signature(PAYLOAD, SECRET)
    other = base64.b64encode(b"another-secret").decode()
    body = json.dumps(PAYLOAD)
    assert not verify_webhook_signature(body, signature, other)
    assert not verify_webhook_signature(body, None, SECRET)
    assert not verify_webhook_signature(body, "", SECRET)
    assert not verify_webhook_signature(b"not json", signature, SECRET)
    assert not verify_webhook_signature(body, signature[:-4] + "AAAA", SECRET)
    assert not verify_webhook_signature(body, "é" * 10, SECRET)
    with pytest.raises(AttendeeConfigurationError, match="not valid base64"):
        verify_webhook_signature(body, signature, "not base64 !!")


def test_payload_models():
    state = parse_webhook(json.dumps(PAYLOAD))
    assert isinstance(state, BotStateChangeWebhook)
    assert state.data.new_state == "ended" and state.data.event_metadata == {"bot_duration_seconds": 1800}
    utterance = parse_webhook(
        {
            **PAYLOAD,
            "trigger": "transcript.update",
            "data": {
                "speaker_name": "Ann",
                "speaker_uuid": "u1",
                "speaker_user_uuid": None,
                "speaker_is_host": True,
                "timestamp_ms": 1733114771000,
                "duration_ms": 1200,
                "transcription": {"transcript": "Hi"},
            },
        }
    )
    assert isinstance(utterance, TranscriptUpdateWebhook) and utterance.data.text == "Hi"
    joined = parse_webhook(
        {
            **PAYLOAD,
            "trigger": "participant_events.join_leave",
            "data": {
                "id": "pe_1",
                "participant_name": "Ann",
                "participant_uuid": "u1",
                "participant_user_uuid": None,
                "participant_is_host": False,
                "event_type": "join",
                "event_data": {},
                "timestamp_ms": 1733114771000,
            },
        }
    )
    assert isinstance(joined, ParticipantEventWebhook) and joined.data.event_type == "join"
    calendar = parse_webhook(
        {
            "idempotency_key": "k",
            "calendar_id": "cal_1",
            "calendar_deduplication_key": None,
            "calendar_metadata": None,
            "trigger": "calendar.state_change",
            "data": {
                "state": "disconnected",
                "connection_failure_data": {"error": "revoked"},
                "last_successful_sync_at": None,
                "last_attempted_sync_at": None,
            },
        }
    )
    assert isinstance(calendar, CalendarWebhook) and calendar.data.state == "disconnected"
    other = parse_webhook(
        {"idempotency_key": "k", "bot_id": "b", "trigger": "bot_logs.update", "data": {"x": 1}}
    )
    assert isinstance(other, OtherWebhook) and other.data == {"x": 1}
