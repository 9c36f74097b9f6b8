"""Attendee webhooks: signature verification and typed payloads (the public path of ``client.webhooks``).

Kept so that DAGs and receivers written against ``airflow_provider_attendee.webhooks`` keep working; the
code lives in the Airflow-free client layer.
"""

from __future__ import annotations

from airflow_provider_attendee.client.webhooks import (
    SIGNATURE_HEADER,
    BotStateChangeData,
    BotStateChangeWebhook,
    CalendarWebhook,
    CalendarWebhookData,
    OtherWebhook,
    ParticipantEventWebhook,
    TranscriptUpdateWebhook,
    WebhookPayload,
    canonical_json,
    parse_webhook,
    sign_payload,
    verify_webhook_signature,
)

__all__ = [
    "SIGNATURE_HEADER",
    "BotStateChangeData",
    "BotStateChangeWebhook",
    "CalendarWebhook",
    "CalendarWebhookData",
    "OtherWebhook",
    "ParticipantEventWebhook",
    "TranscriptUpdateWebhook",
    "WebhookPayload",
    "canonical_json",
    "parse_webhook",
    "sign_payload",
    "verify_webhook_signature",
]
