"""Attendee webhooks: signature verification and typed payloads.

Attendee signs ``base64(HMAC-SHA256(base64decode(secret), canonical_json(payload)))`` where the canonical
JSON is ``json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))`` of the
*parsed* body (the bytes on the wire are not in that form), and sends it in ``X-Webhook-Signature``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from airflow_provider_attendee.client.errors import AttendeeConfigurationError
from airflow_provider_attendee.client.models import ParticipantEvent, TranscriptUtterance, UtcDatetime

SIGNATURE_HEADER = "X-Webhook-Signature"


def canonical_json(payload: Any) -> bytes:
    """The byte string Attendee signs: sorted keys, no spaces, UTF-8 (not ASCII-escaped)."""
    return json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def sign_payload(payload: Any, secret: str) -> str:
    """The signature Attendee would send for ``payload`` with the project's base64 webhook ``secret``."""
    try:
        key = base64.b64decode(secret, validate=True)
    except (binascii.Error, ValueError):
        raise AttendeeConfigurationError(
            "The webhook secret is not valid base64: copy it as shown in Attendee's Settings > Webhooks."
        ) from None
    return base64.b64encode(hmac.new(key, canonical_json(payload), hashlib.sha256).digest()).decode("ascii")


def verify_webhook_signature(body: bytes | str, signature_header: str | None, secret: str) -> bool:
    """True when ``signature_header`` is Attendee's signature of ``body`` (compared in constant time).

    A body that is not JSON, or a missing header, is simply not authentic (False); a malformed secret
    is a configuration error.
    """
    if not signature_header:
        return False
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return False
    expected = sign_payload(payload, secret)
    return hmac.compare_digest(expected.encode("ascii"), signature_header.strip().encode("ascii", "replace"))


class _Payload(BaseModel):
    model_config = ConfigDict(extra="allow")


class BotStateChangeData(_Payload):
    new_state: str
    old_state: str | None = None
    created_at: UtcDatetime
    event_type: str
    event_sub_type: str | None = None
    event_metadata: dict[str, Any] | None = None


class CalendarWebhookData(_Payload):
    state: str | None = None
    connection_failure_data: Any = None
    last_successful_sync_at: UtcDatetime | None = None
    last_attempted_sync_at: UtcDatetime | None = None


class _BotWebhook(_Payload):
    idempotency_key: str
    bot_id: str
    bot_metadata: dict[str, Any] | None = None


class BotStateChangeWebhook(_BotWebhook):
    trigger: Literal["bot.state_change"]
    data: BotStateChangeData


class TranscriptUpdateWebhook(_BotWebhook):
    trigger: Literal["transcript.update"]
    data: TranscriptUtterance


class ParticipantEventWebhook(_BotWebhook):
    trigger: Literal["participant_events.join_leave", "participant_events.speech_start_stop"]
    data: ParticipantEvent


class CalendarWebhook(_Payload):
    idempotency_key: str
    calendar_id: str
    calendar_deduplication_key: str | None = None
    calendar_metadata: dict[str, Any] | None = None
    trigger: Literal["calendar.events_update", "calendar.state_change"]
    data: CalendarWebhookData


class OtherWebhook(_Payload):
    """Triggers without a dedicated model (chat_messages.update, bot_logs.update, ...): kept as data."""

    idempotency_key: str
    trigger: str
    data: Any = None


WebhookPayload = Annotated[
    BotStateChangeWebhook | TranscriptUpdateWebhook | ParticipantEventWebhook | CalendarWebhook,
    Field(discriminator="trigger"),
]
_KNOWN: TypeAdapter[Any] = TypeAdapter(WebhookPayload)
_KNOWN_TRIGGERS = {
    "bot.state_change",
    "transcript.update",
    "participant_events.join_leave",
    "participant_events.speech_start_stop",
    "calendar.events_update",
    "calendar.state_change",
}


def parse_webhook(
    body: bytes | str | dict[str, Any],
) -> (
    BotStateChangeWebhook | TranscriptUpdateWebhook | ParticipantEventWebhook | CalendarWebhook | OtherWebhook
):
    """A webhook body as its typed model (unknown triggers as :class:`OtherWebhook`)."""
    data = body if isinstance(body, dict) else json.loads(body)
    if data.get("trigger") in _KNOWN_TRIGGERS:
        return _KNOWN.validate_python(data)
    return OtherWebhook.model_validate(data)
