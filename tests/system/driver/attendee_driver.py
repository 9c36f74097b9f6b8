"""Moves bots, participants, transcripts and calendars of a real Attendee server with the server's own code.

Run with the SERVER's virtualenv python, its source tree as the working directory and its environment
(``state.json``'s ``python``, ``source_dir`` and ``env``, written by scripts/attendee_server.py), not with this
project's. tests/system/server.py (``Driver``) starts it and talks to it. Django starts once; then it reads one
JSON request a line on stdin, ``{"cmd": "<name>", "args": {...}}``, and writes one JSON answer a line on
stdout: ``{"ok": true, "result": ...}`` or ``{"ok": false, "error": "<type>: <message>", "traceback": "..."}``.
Everything else (Django's logging) goes to stderr. EOF ends it.

It uses the server (Elastic License 2.0) as a library, through its models and managers, as a real bot, the
scheduler and the calendar sync would: the same state machine, the same webhooks (queued to the server's
Celery worker, which delivers them). No code of the server is copied here.

Ids are the public ones (``proj_...``, ``bot_...``, ``cal_...``). Times (``at``) are ISO 8601 strings;
``timestamp_ms`` are epoch milliseconds (default: now). Commands:

- ``ping`` -> ``{"pong": true}``
- ``create_project(name="system-tests", organization=None, webhook_secret=True)`` -> ``{project_id,
  api_key, webhook_secret (base64, as the dashboard shows it, or None), organization_id}``: an
  Organization, a Project, an ApiKey and (unless False) the project's WebhookSecret row.
- ``check_api_key(api_key)`` -> bool: the key exists and is enabled.
- ``set_webhook_secret(project_id, secret=None)`` -> ``{webhook_secret}``: overwrites the project's one
  WebhookSecret row (there is no rotate action) with ``secret`` (base64) or a new random one.
- ``subscribe_webhooks(project_id, url, triggers=["bot.state_change"], bot_id=None)`` -> ``{id}``: a
  WebhookSubscription made by the server's own create_webhook_subscription (its validation: http URLs are
  allowed here, one subscription per URL); triggers as API codes (``transcript.update``,
  ``participant_events.join_leave``, ``participant_events.speech_start_stop``, ``calendar.events_update``...).
- ``set_webhook_active(subscription_id, active)`` -> ``{id, active}``; ``delete_webhook(subscription_id)``.
- ``webhook_deliveries(project_id=None, bot_id=None, trigger=None)`` -> list of ``{idempotency_key, trigger,
  status (pending|success|failure), attempt_count, bot_id, calendar_id, url, payload, response_body_list,
  created_at, last_attempt_at, succeeded_at}`` in creation order: what the server sent (or tried to). A
  delivery is ``failure`` after each failed attempt; it is final once ``attempt_count`` is 3 (within a few
  seconds). No row is made for an inactive subscription. Deliveries are signed with the project's newest
  WebhookSecret row.
- ``add_zoom_credentials(project_id)``: fake Zoom OAuth app credentials (Zoom bots can then be created).
- ``bot_event(bot_id, event_type, sub_type=None, at=None, metadata=None)`` -> ``{state, old_state,
  event_type, sub_type, created_at, event_id}``: ``BotEventManager.create_event``, the server's state machine
  (a refused transition is an error). Types and sub types as API codes (``joined_meeting``,
  ``recording_permission_granted``, ``leave_requested`` + ``user_requested``, ``left_meeting``,
  ``meeting_ended``, ``post_processing_completed``, ``could_not_join_meeting`` +
  ``waiting_room_timeout_exceeded``, ``fatal_error`` + ``process_terminated``...) or constant names
  (``BOT_JOINED_MEETING``). ``at`` back-dates the event's ``created_at`` afterwards. ``staged`` gets its
  ``join_at`` metadata from the bot.
- ``stage_bot(bot_id)`` -> ``{state}``: what the scheduler does about 5 minutes before ``join_at``: the
  server's launch_scheduled_bot task, run here (``scheduled`` -> ``staged``; its launch is queued for a
  bot-launcher VM that never comes).
- ``add_participant(bot_id, uuid, name=None, user_uuid=None, is_host=False, is_the_bot=False)`` -> ``{id}``.
- ``participant_event(bot_id, uuid, event_type, timestamp_ms=None, name=None, user_uuid=None, is_host=False,
  event_data=None, at=None, force=False)`` -> ``{id, recorded, webhook}``: as the bot controller does
  (participant created on first sight; join/leave and speech_start/speech_stop rows and their webhooks;
  ``update`` only changes ``is_host`` and stores no row). Like a real bot's adapters, speech events are
  recorded only for a bot created with ``record_participant_speech_start_stop_events: true``
  (``recorded: false`` otherwise, unless ``force``). ``at`` back-dates the row's ``created_at`` (what the
  API's ``after``/``before`` filter on).
- ``utterance(bot_id, speaker_uuid, text, timestamp_ms=None, duration_ms=1000, speaker_name=None,
  speaker_user_uuid=None, is_host=False)`` -> ``{id, transcription_state}``: a closed-caption utterance on the
  recording in progress (the bot must be ``joined_recording`` or paused, as for a real bot); the recording's
  transcription is marked in progress first (RecordingManager.set_recording_transcription_in_progress), so
  it reaches ``complete`` when the bot ends; the ``transcript.update`` webhook.
- ``chat_message(bot_id, sender_uuid, text, sender_name=None, to_bot=False, timestamp=None)`` -> ``{id}``.
- ``bot_info(bot_id)`` -> ``{id, state, settings, metadata, join_at, meeting_url, deduplication_key,
  calendar_event_id, record_speech_events, recordings: [{id, state, transcription_state, is_default}]}``: what
  the bot's JSON does not show (its stored settings, its calendar binding).
- ``create_calendar(project_id, platform="google", client_id="system-test-client", platform_uuid="primary",
  deduplication_key=None, metadata=None)`` -> ``{id}``: a connected Calendar row with fake credentials.
- ``sync_calendar(calendar_id, events, by_id=None, auth_error=False)`` -> the sync's summary
  (``created_count``, ``updated_count``, ``deleted_count``...) or, on ``auth_error``, ``{success: false,
  state}``: the server's own GoogleCalendarSyncHandler / MicrosoftCalendarSyncHandler.sync_events() with its
  network replaced: ``events`` is what Google's events.list (or Graph's calendarView) returns (Google: ``id,
  status, summary, start {dateTime}, end, hangoutLink | location | conferenceData, attendees, iCalUID``); an
  event missing from the list is looked up in ``by_id`` (absent: gone, so marked deleted); ``auth_error``
  makes the token refresh fail as a revoked grant does (calendar disconnected, its scheduled bots deleted).
  The server creates, updates and marks deleted the events, and moves or deletes their scheduled bots.
"""

from __future__ import annotations

import base64
import copy
import json
import os
import sys
import time
import traceback
import uuid
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

# Answers go to the real stdout; anything else that prints (Django, Celery) goes to stderr.
_ANSWERS = os.fdopen(os.dup(1), "w", buffering=1)
os.dup2(2, 1)
sys.stdout = sys.stderr

sys.path.insert(0, os.getcwd())
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "attendee.settings.development")

import django  # noqa: E402

django.setup()

from accounts.models import Organization  # noqa: E402
from bots import models as m  # noqa: E402
from bots.webhook_payloads import (  # noqa: E402
    chat_message_webhook_payload,
    participant_event_webhook_payload,
    utterance_webhook_payload,
)
from bots.webhook_utils import trigger_webhook  # noqa: E402
from cryptography.fernet import Fernet  # noqa: E402
from django.conf import settings  # noqa: E402
from django.db import close_old_connections  # noqa: E402

COMMANDS: dict[str, Callable[..., Any]] = {}


def command(fn: Callable[..., Any]) -> Callable[..., Any]:
    COMMANDS[fn.__name__] = fn
    return fn


def _b64(raw: bytes | None) -> str | None:
    return base64.b64encode(raw).decode() if raw else None


def _when(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _now_ms() -> int:
    return int(time.time() * 1000)


def _project(project_id: str) -> m.Project:
    return m.Project.objects.get(object_id=project_id)


def _bot(bot_id: str) -> m.Bot:
    return m.Bot.objects.get(object_id=bot_id)


def _code(enum: Any, value: str | int | None, to_api: Callable[[Any], str | None]) -> int | None:
    """An event type or sub type given as API code, constant name or number."""
    if value is None or value == "":
        return None
    if isinstance(value, int):
        return int(enum(value))
    for member in enum:
        if value in (member.name, to_api(member)):
            return int(member)
    raise ValueError(f"unknown {enum.__name__} {value!r}")


def _state(value: int) -> str:
    return m.BotStates.state_to_api_code(value)


# ------------------------------------------------------------------------------------- projects
@command
def ping() -> dict[str, Any]:
    return {"pong": True}


@command
def create_project(
    name: str = "system-tests", organization: str | None = None, webhook_secret: bool = True
) -> dict[str, Any]:
    org = Organization.objects.create(name=organization or name)
    project = m.Project.objects.create(name=name, organization=org)
    _key_row, api_key = m.ApiKey.create(project=project, name=f"{name} key")
    secret = m.WebhookSecret.objects.create(project=project).get_secret() if webhook_secret else None
    return {
        "project_id": project.object_id,
        "api_key": api_key,
        "webhook_secret": _b64(secret),
        "organization_id": org.id,
    }


@command
def check_api_key(api_key: str) -> bool:
    import hashlib

    digest = hashlib.sha256(api_key.encode()).hexdigest()
    return m.ApiKey.objects.filter(key_hash=digest, disabled_at__isnull=True).exists()


@command
def set_webhook_secret(project_id: str, secret: str | None = None) -> dict[str, Any]:
    project = _project(project_id)
    raw = base64.b64decode(secret) if secret else os.urandom(32)
    row = m.WebhookSecret.objects.filter(project=project).order_by("id").first()
    if row is None:
        row = m.WebhookSecret(project=project)
    row._secret = Fernet(settings.CREDENTIALS_ENCRYPTION_KEY).encrypt(raw)
    row.save()
    return {"webhook_secret": _b64(row.get_secret())}


@command
def subscribe_webhooks(
    project_id: str, url: str, triggers: list[str] | None = None, bot_id: str | None = None
) -> dict[str, Any]:
    from bots.bots_api_utils import create_webhook_subscription

    project = _project(project_id)
    bot = _bot(bot_id) if bot_id else None
    create_webhook_subscription(url, triggers or ["bot.state_change"], project, bot)
    row = m.WebhookSubscription.objects.filter(project=project, bot=bot, url=url).latest("id")
    return {"id": row.object_id}


@command
def set_webhook_active(subscription_id: str, active: bool) -> dict[str, Any]:
    row = m.WebhookSubscription.objects.get(object_id=subscription_id)
    row.is_active = bool(active)
    row.save()
    return {"id": row.object_id, "active": row.is_active}


@command
def delete_webhook(subscription_id: str) -> dict[str, Any]:
    deleted, _ = m.WebhookSubscription.objects.filter(object_id=subscription_id).delete()
    return {"deleted": bool(deleted)}


@command
def webhook_deliveries(
    project_id: str | None = None, bot_id: str | None = None, trigger: str | None = None
) -> list[dict[str, Any]]:
    rows = m.WebhookDeliveryAttempt.objects.select_related("webhook_subscription", "bot", "calendar")
    if project_id:
        rows = rows.filter(webhook_subscription__project__object_id=project_id)
    if bot_id:
        rows = rows.filter(bot__object_id=bot_id)
    if trigger:
        rows = rows.filter(webhook_trigger_type=m.WebhookTriggerTypes.api_code_to_trigger_type(trigger))
    status = {s.value: s.label.lower() for s in m.WebhookDeliveryAttemptStatus}
    return [
        {
            "idempotency_key": str(row.idempotency_key),
            "trigger": m.WebhookTriggerTypes.trigger_type_to_api_code(row.webhook_trigger_type),
            "status": status.get(row.status, str(row.status)),
            "attempt_count": row.attempt_count,
            "bot_id": row.bot.object_id if row.bot else None,
            "calendar_id": row.calendar.object_id if row.calendar else None,
            "url": row.webhook_subscription.url,
            "payload": row.payload,
            "response_body_list": row.response_body_list,
            "created_at": row.created_at.isoformat(),
            "last_attempt_at": row.last_attempt_at.isoformat() if row.last_attempt_at else None,
            "succeeded_at": row.succeeded_at.isoformat() if row.succeeded_at else None,
        }
        for row in rows.order_by("created_at", "id")
    ]


@command
def add_zoom_credentials(project_id: str) -> dict[str, Any]:
    project = _project(project_id)
    row, _ = m.Credentials.objects.get_or_create(
        project=project, credential_type=m.Credentials.CredentialTypes.ZOOM_OAUTH
    )
    row.set_credentials({"client_id": "system-test-zoom-client", "client_secret": "system-test-zoom-secret"})
    return {"ok": True}


# ----------------------------------------------------------------------------------------- bots
@command
def bot_event(
    bot_id: str,
    event_type: str | int,
    sub_type: str | int | None = None,
    at: str | None = None,
    metadata: dict[str, Any] | None = None,
) -> dict[str, Any]:
    bot = _bot(bot_id)
    type_value = _code(m.BotEventTypes, event_type, m.BotEventTypes.type_to_api_code)
    sub_value = _code(m.BotEventSubTypes, sub_type, m.BotEventSubTypes.sub_type_to_api_code)
    metadata = dict(metadata or {})
    if type_value == m.BotEventTypes.STAGED and "join_at" not in metadata and bot.join_at:
        metadata["join_at"] = bot.join_at.isoformat()
    event = m.BotEventManager.create_event(
        bot=bot, event_type=type_value, event_sub_type=sub_value, event_metadata=metadata
    )
    if at:
        m.BotEvent.objects.filter(pk=event.pk).update(created_at=_when(at))
        event.refresh_from_db()
    return {
        "event_id": event.pk,
        "state": _state(event.new_state),
        "old_state": _state(event.old_state),
        "event_type": m.BotEventTypes.type_to_api_code(event.event_type),
        "sub_type": m.BotEventSubTypes.sub_type_to_api_code(event.event_sub_type),
        "created_at": event.created_at.isoformat(),
    }


@command
def stage_bot(bot_id: str) -> dict[str, Any]:
    from bots.tasks.launch_scheduled_bot_task import launch_scheduled_bot

    bot = _bot(bot_id)
    if bot.state != m.BotStates.SCHEDULED:
        raise ValueError(f"bot {bot_id} is {_state(bot.state)}, not scheduled")
    # The scheduler's task, run here and now (its join_at check is the scheduler's, which we skip).
    launch_scheduled_bot(bot.id, bot.join_at.isoformat())
    bot.refresh_from_db()
    return {"state": _state(bot.state)}


def _participant(
    bot: m.Bot, uuid_: str, name: str | None, user_uuid: str | None, is_host: bool, is_the_bot: bool = False
) -> m.Participant:
    participant, _ = m.Participant.objects.get_or_create(
        bot=bot,
        uuid=uuid_,
        defaults={"user_uuid": user_uuid, "full_name": name, "is_the_bot": is_the_bot, "is_host": is_host},
    )
    return participant


@command
def add_participant(
    bot_id: str,
    uuid: str,
    name: str | None = None,
    user_uuid: str | None = None,
    is_host: bool = False,
    is_the_bot: bool = False,
) -> dict[str, Any]:
    participant = _participant(_bot(bot_id), uuid, name, user_uuid, is_host, is_the_bot)
    return {"id": participant.object_id}


@command
def participant_event(
    bot_id: str,
    uuid: str,
    event_type: str,
    timestamp_ms: int | None = None,
    name: str | None = None,
    user_uuid: str | None = None,
    is_host: bool = False,
    event_data: dict[str, Any] | None = None,
    at: str | None = None,
    force: bool = False,
) -> dict[str, Any]:
    bot = _bot(bot_id)
    type_value = _code(m.ParticipantEventTypes, event_type, m.ParticipantEventTypes.type_to_api_code)
    speech = type_value in (m.ParticipantEventTypes.SPEECH_START, m.ParticipantEventTypes.SPEECH_STOP)
    if speech and not force and not bot.record_participant_speech_start_stop_events():
        return {
            "id": None,
            "recorded": False,
            "webhook": False,
            "reason": "speech events are off for this bot",
        }
    participant = _participant(bot, uuid, name, user_uuid, is_host)
    if type_value == m.ParticipantEventTypes.UPDATE:
        data = event_data or {}
        if "isHost" in data:
            participant.is_host = data["isHost"]["after"]
            participant.save()
        return {
            "id": None,
            "recorded": False,
            "webhook": False,
            "reason": "update events change the participant only",
        }
    event = m.ParticipantEvent.objects.create(
        participant=participant,
        event_type=type_value,
        event_data=event_data or {},
        timestamp_ms=timestamp_ms if timestamp_ms is not None else _now_ms(),
    )
    if at:
        m.ParticipantEvent.objects.filter(pk=event.pk).update(created_at=_when(at))
        event.refresh_from_db()
    webhook = False
    if not participant.is_the_bot:
        trigger = (
            m.WebhookTriggerTypes.PARTICIPANT_EVENTS_SPEECH_START_STOP
            if speech
            else m.WebhookTriggerTypes.PARTICIPANT_EVENTS_JOIN_LEAVE
        )
        trigger_webhook(
            webhook_trigger_type=trigger, bot=bot, payload=participant_event_webhook_payload(event)
        )
        webhook = True
    return {"id": event.object_id, "recorded": True, "webhook": webhook}


def _recording_in_progress(bot: m.Bot, what: str) -> m.Recording:
    recording = m.RecordingManager.get_recording_in_progress(bot)
    if recording is None:
        raise ValueError(
            f"bot {bot.object_id} is {_state(bot.state)} with no recording in progress: a real bot saves no "
            f"{what} then (move it to joined_recording first)"
        )
    return recording


@command
def utterance(
    bot_id: str,
    speaker_uuid: str,
    text: str,
    timestamp_ms: int | None = None,
    duration_ms: int = 1000,
    speaker_name: str | None = None,
    speaker_user_uuid: str | None = None,
    is_host: bool = False,
) -> dict[str, Any]:
    bot = _bot(bot_id)
    recording = _recording_in_progress(bot, "utterance")
    # As a real bot does at its first utterance: without it the transcript never reaches `complete`.
    m.RecordingManager.set_recording_transcription_in_progress(recording)
    participant = _participant(bot, speaker_uuid, speaker_name, speaker_user_uuid, is_host)
    row, _ = m.Utterance.objects.update_or_create(
        recording=recording,
        source_uuid=f"{recording.object_id}-{uuid.uuid4()}",
        defaults={
            "source": m.Utterance.Sources.CLOSED_CAPTION_FROM_PLATFORM,
            "participant": participant,
            "transcription": {"transcript": text},
            "timestamp_ms": timestamp_ms if timestamp_ms is not None else _now_ms(),
            "duration_ms": duration_ms,
            "sample_rate": None,
        },
    )
    trigger_webhook(
        webhook_trigger_type=m.WebhookTriggerTypes.TRANSCRIPT_UPDATE,
        bot=bot,
        payload=utterance_webhook_payload(row),
    )
    recording.refresh_from_db()
    return {
        "id": row.id,
        "transcription_state": m.RecordingTranscriptionStates.state_to_api_code(
            recording.transcription_state
        ),
    }


@command
def chat_message(
    bot_id: str,
    sender_uuid: str,
    text: str,
    sender_name: str | None = None,
    to_bot: bool = False,
    timestamp: int | None = None,
) -> dict[str, Any]:
    bot = _bot(bot_id)
    recording = _recording_in_progress(bot, "chat message")
    participant = _participant(bot, sender_uuid, sender_name, None, False)
    row, _ = m.ChatMessage.objects.update_or_create(
        bot=bot,
        source_uuid=f"{recording.object_id}-{uuid.uuid4()}",
        defaults={
            "timestamp": timestamp if timestamp is not None else int(time.time()),
            "to": m.ChatMessageToOptions.ONLY_BOT if to_bot else m.ChatMessageToOptions.EVERYONE,
            "text": text,
            "participant": participant,
            "additional_data": {},
        },
    )
    trigger_webhook(
        webhook_trigger_type=m.WebhookTriggerTypes.CHAT_MESSAGES_UPDATE,
        bot=bot,
        payload=chat_message_webhook_payload(row),
    )
    return {"id": row.object_id}


@command
def bot_info(bot_id: str) -> dict[str, Any]:
    bot = _bot(bot_id)
    return {
        "id": bot.object_id,
        "project_id": bot.project.object_id,
        "state": _state(bot.state),
        "settings": bot.settings,
        "metadata": bot.metadata,
        "meeting_url": bot.meeting_url,
        "join_at": bot.join_at.isoformat() if bot.join_at else None,
        "deduplication_key": bot.deduplication_key,
        "calendar_event_id": bot.calendar_event.object_id if bot.calendar_event else None,
        "record_speech_events": bool(bot.record_participant_speech_start_stop_events()),
        "recordings": [
            {
                "id": rec.object_id,
                "state": m.RecordingStates.state_to_api_code(rec.state),
                "transcription_state": m.RecordingTranscriptionStates.state_to_api_code(
                    rec.transcription_state
                ),
                "is_default": rec.is_default_recording,
            }
            for rec in bot.recordings.order_by("id")
        ],
    }


# ------------------------------------------------------------------------------------ calendars
@command
def create_calendar(
    project_id: str,
    platform: str = "google",
    client_id: str = "system-test-client",
    platform_uuid: str | None = "primary",
    deduplication_key: str | None = None,
    metadata: dict[str, Any] | None = None,
) -> dict[str, Any]:
    calendar = m.Calendar.objects.create(
        project=_project(project_id),
        platform=platform,
        client_id=client_id,
        platform_uuid=platform_uuid,
        state=m.CalendarStates.CONNECTED,
        deduplication_key=deduplication_key,
        metadata=metadata,
    )
    calendar.set_credentials({"client_secret": "system-test-secret", "refresh_token": "system-test-refresh"})
    return {"id": calendar.object_id}


@command
def sync_calendar(
    calendar_id: str,
    events: list[dict[str, Any]],
    by_id: dict[str, dict[str, Any]] | None = None,
    auth_error: bool = False,
) -> dict[str, Any]:
    from bots.tasks.sync_calendar_task import (
        CalendarAPIAuthenticationError,
        GoogleCalendarSyncHandler,
        MicrosoftCalendarSyncHandler,
    )

    calendar = m.Calendar.objects.get(object_id=calendar_id)
    handler_class = (
        GoogleCalendarSyncHandler
        if calendar.platform == m.CalendarPlatform.GOOGLE
        else MicrosoftCalendarSyncHandler
    )
    handler = handler_class(calendar.id)

    def access_token() -> str:
        if auth_error:
            raise CalendarAPIAuthenticationError("Google Authentication error: {'error': 'invalid_grant'}")
        return "system-test-access-token"

    handler._refresh_notification_channels = lambda: None
    handler._get_access_token = access_token
    handler._list_events = lambda _token: copy.deepcopy(list(events))
    handler._get_event_by_id = lambda event_id, _token: copy.deepcopy((by_id or {}).get(event_id))
    result = handler.sync_events()
    if result is None:  # the authentication error path returns nothing
        calendar.refresh_from_db()
        return {
            "success": False,
            "state": "connected" if calendar.state == m.CalendarStates.CONNECTED else "disconnected",
        }
    return result


# ----------------------------------------------------------------------------------------- loop
def answer(payload: dict[str, Any]) -> None:
    _ANSWERS.write(json.dumps(payload, default=str) + "\n")
    _ANSWERS.flush()


def main() -> None:
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            request = json.loads(line)
            fn = COMMANDS.get(request.get("cmd"))
            if fn is None:
                raise ValueError(
                    f"unknown command {request.get('cmd')!r}; known: {', '.join(sorted(COMMANDS))}"
                )
            close_old_connections()
            answer({"ok": True, "result": fn(**(request.get("args") or {}))})
        except Exception as err:
            answer(
                {"ok": False, "error": f"{type(err).__name__}: {err}", "traceback": traceback.format_exc()}
            )


if __name__ == "__main__":
    main()
