"""Attendee webhooks into Airflow: a FastAPI app the Airflow API server serves (plugin below), turning each
signed delivery into Airflow asset events, so a DAG scheduled on an asset runs seconds after a meeting ends.

Endpoint: ``POST <api-server>/attendee/webhooks`` (``?conn_id=`` picks the Attendee connection whose
``webhook_secret`` extra verifies the signature; default ``attendee_default``). Asset URIs:

- ``attendee://bots/<new_state>`` for ``bot.state_change`` (e.g. ``attendee://bots/ended``: a finished
  meeting, the URI the example post-meeting DAG is scheduled on);
- ``attendee://webhooks/<trigger>`` for every delivery (e.g. ``attendee://webhooks/transcript.update``).

Each event's ``extra`` is ``{"payload": {bot_id, state, event_type, ...}, "idempotency_key", "trigger",
"bot_metadata", "calendar_metadata", "data", "source": "webhook"}`` (calendar triggers: ``payload`` has
``calendar_id`` and ``calendar_deduplication_key`` instead of a bot): the same ``payload`` keys as the polling
``AttendeeBotEventTrigger`` emits. Answers: 200 recorded (``{"status": "recorded"}``), or received before
(``{"status": "duplicate"}``: Attendee's retry of a delivery whose answer came too late; nothing is done);
400 not JSON, not an Attendee envelope, too large, or older than the retention; 401 unsigned or a wrong
signature; 503 when the connection cannot be read. Nothing is recorded unless the answer is 200, and a 200
is sent only after the delivery and its events are committed (deliveries arriving together are committed
together: ``delivery_batches``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from airflow_provider_attendee import DEFAULT_CONN_ID
from airflow_provider_attendee.client.states import TERMINAL
from airflow_provider_attendee.client.webhooks import SIGNATURE_HEADER, verify_webhook_signature
from airflow_provider_attendee.exceptions import AttendeeConfigurationError

log = logging.getLogger(__name__)

#: Attendee's bodies are one event each: a few KB. Anything far larger is not one of them.
MAX_BODY_BYTES = 1024 * 1024
#: A delivery committed slower than this is logged at WARNING (Attendee's timeout is 10 s).
SLOW_COMMIT_SECONDS = 2.0
URL_PREFIX = "/attendee"
#: The log line of each recorded delivery (bench/surge.py reads it from the API server's log).
COMMITTED_LINE = (
    "Attendee webhook %s (%s, bot %s) -> %s; committed in %.0f ms (recording %.0f ms, of which %.0f ms "
    "waiting for the write lock; %d in its batch, after %.0f ms in the queue; verified %.0f ms after it "
    "arrived, answered %.0f ms after the commit)"
)
PATH = "/webhooks"


def _data(envelope: dict[str, Any]) -> dict[str, Any]:
    data = envelope.get("data")
    return data if isinstance(data, dict) else {}


def asset_uris(envelope: dict[str, Any]) -> list[str]:
    """The asset URIs a delivery feeds (documented in the module docstring)."""
    trigger = str(envelope.get("trigger") or "")
    uris = [f"attendee://webhooks/{trigger}"]
    data = _data(envelope)
    if trigger == "bot.state_change" and data.get("new_state"):
        uris.insert(0, f"attendee://bots/{data['new_state']}")
    return uris


def event_extra(envelope: dict[str, Any]) -> dict[str, Any]:
    data = _data(envelope)
    payload = {
        "status": "success",
        "bot_id": envelope.get("bot_id"),
        "state": data.get("new_state"),
        "old_state": data.get("old_state"),
        "event_type": data.get("event_type"),
        "event_sub_type": data.get("event_sub_type"),
        "metadata": envelope.get("bot_metadata") or {},
        "calendar_id": envelope.get("calendar_id"),
        "calendar_deduplication_key": envelope.get("calendar_deduplication_key"),
    }
    return {
        "payload": {k: v for k, v in payload.items() if v is not None},
        "idempotency_key": envelope["idempotency_key"],
        "trigger": envelope["trigger"],
        "bot_metadata": envelope.get("bot_metadata"),
        "calendar_metadata": envelope.get("calendar_metadata"),
        "data": data,
        "source": "webhook",
    }


_prepare_lock = threading.Lock()
_prepared = False


def prepare() -> None:
    """Import what a delivery needs, once and in one thread. Deliveries are handled in a thread pool, and
    concurrent first imports (Attendee delivers webhooks concurrently) deadlock on Python's module locks."""
    global _prepared
    with _prepare_lock:
        if not _prepared:
            from airflow_provider_attendee.hooks import attendee  # noqa: F401
            from airflow_provider_attendee.plugins import _asset_events

            _asset_events.load_models()
            _prepared = True


def webhook_secret(conn_id: str) -> str:
    """The connection's ``webhook_secret`` extra (the project's secret, base64, from Attendee's settings)."""
    from airflow_provider_attendee._compat import server_connection

    conn = server_connection(conn_id)
    secret = (conn.extra_dejson or {}).get("webhook_secret")
    if not secret:
        raise LookupError(
            f"Connection {conn_id!r} has no webhook_secret: copy the project's webhook secret from Attendee "
            "(Settings > Webhooks) into the connection's 'Webhook secret' field."
        )
    return str(secret)


def payload_time(envelope: dict[str, Any]) -> datetime | None:
    """When the delivery's event happened, from the payload itself (the signed part): a state change's
    ``created_at``, an utterance's or participant event's ``timestamp_ms``, a calendar's last sync."""
    data = _data(envelope)
    for key in ("created_at", "last_attempted_sync_at"):
        value = data.get(key)
        if isinstance(value, str):
            try:
                parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                continue
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
    stamp = data.get("timestamp_ms")
    if isinstance(stamp, int | float) and not isinstance(stamp, bool):
        return datetime.fromtimestamp(stamp / 1000, tz=timezone.utc)
    return None


def claimed(envelope: Any) -> str:
    """What a delivery says it is (trigger, bot, key), for the log line of a refusal; unverified."""
    if not isinstance(envelope, dict):
        return "trigger ?, bot ?, idempotency_key ? (body not a JSON object)"
    return (
        f"trigger {envelope.get('trigger') or '?'}, bot {envelope.get('bot_id') or '-'}, "
        f"idempotency_key {envelope.get('idempotency_key') or '?'}"
    )


#: The end of a refusal's log line when nothing will recover the meeting.
NOT_RECOVERED = "if it was a finished meeting, it is not recovered: trigger its DAG by hand with the bot id"


def refusal_outcome(conn_id: str) -> str:
    """What becomes of a meeting whose delivery naming ``conn_id`` was refused, as the refusal's log line
    tells it (true for this API server's ``[attendee]`` settings). A connection set up for push (it has a
    ``webhook_secret``) is noted, so that the catch-up looks at it from now on as at one that delivers:
    only the connection id of a refused delivery is used, never its unverified body; and a stranger's
    request cannot turn the catch-up on for a connection used for polling (no secret)."""
    from airflow_provider_attendee._compat import server_connection
    from airflow_provider_attendee.plugins import _asset_events
    from airflow_provider_attendee.plugins.event_settings import read_settings

    settings = read_settings()
    try:
        conn = server_connection(conn_id)
    except Exception as err:
        return f"connection {conn_id!r} cannot be read ({err}), so the catch-up cannot look at it: {NOT_RECOVERED}"
    has_secret = bool((conn.extra_dejson or {}).get("webhook_secret"))
    try:
        if has_secret:
            _asset_events.note_refusal(conn_id)
        caught = (
            has_secret
            or conn_id in settings.catch_up_conn_ids
            or conn_id in _asset_events.catch_up_conn_ids()
        )
        started = _asset_events.catch_up_started(conn_id)
    except Exception as err:  # the metadata DB: the refusal is answered anyway
        log.warning("Could not note the refusal for connection %r for the catch-up: %s", conn_id, err)
        return (
            f"the refusal could not be noted for the catch-up ({err}): a finished meeting is caught up "
            f"only if connection {conn_id!r} is an Attendee connection with a webhook secret or in "
            "catch_up_conn_ids"
        )
    lookback = settings.catch_up_lookback
    if not settings.event_sweeper or not settings.catch_up_interval:
        switch = "event_sweeper = False" if not settings.event_sweeper else "catch_up_interval = 0"
        return f"the catch-up is off ([attendee] {switch}): {NOT_RECOVERED}"
    if not caught:
        unless = (
            f", unless it gets a webhook_secret within {lookback} (an Attendee connection with one is caught "
            "up, its first look reaching back catch_up_lookback)"
            if lookback
            else ""
        )
        return (
            f"connection {conn_id!r} has no webhook_secret, so the catch-up does not look at it: "
            f"{NOT_RECOVERED}{unless}"
        )
    if started:
        return (
            "if it was a finished meeting, the catch-up emits it from the Attendee API at its next look "
            f"at connection {conn_id!r} (every {settings.catch_up_interval:g} s)"
        )
    if lookback:
        return (
            "if it was a finished meeting, the catch-up emits it from the Attendee API: its first look at "
            f"connection {conn_id!r} (due within {settings.catch_up_interval:g} s) reaches back {lookback} "
            "(catch_up_lookback)"
        )
    return (
        f"the catch-up has not looked at connection {conn_id!r} yet and [attendee] catch_up_lookback is 0 "
        f"(its first look starts from then): {NOT_RECOVERED}"
    )


def _parse(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None


@lru_cache(maxsize=1)
def create_app() -> Any:
    """The receiver, as a FastAPI app (built when the plugin loads, in the API server)."""
    from airflow_provider_attendee._compat import Stats
    from airflow_provider_attendee.plugins import event_sweeper
    from airflow_provider_attendee.plugins._asset_events import Delivery, DuplicateDelivery
    from airflow_provider_attendee.plugins.delivery_batches import batcher
    from airflow_provider_attendee.plugins.event_settings import read_settings

    app = FastAPI(title="Attendee webhooks", docs_url=None, redoc_url=None, openapi_url=None)
    retention = read_settings().retention

    async def refuse(
        status: int, reason: str, conn_id: str, envelope: Any = None, *, lost: bool = True
    ) -> JSONResponse:
        """``lost``: Attendee will not send it again (False for a replay of what was recorded before)."""
        outcome = ""
        if lost:
            if not _prepared:
                await asyncio.to_thread(prepare)
            outcome = " Attendee does not send a refused delivery again: " + await asyncio.to_thread(
                refusal_outcome, conn_id
            )
        log.warning(
            "Attendee webhook refused (%d) for connection %r: %s; %s.%s",
            status,
            conn_id,
            reason,
            claimed(envelope),
            outcome,
        )
        Stats.incr("attendee.webhooks.refused")
        return JSONResponse({"error": reason}, status_code=status)

    async def unavailable(conn_id: str, envelope: Any, detail: str) -> JSONResponse:
        outcome = await asyncio.to_thread(refusal_outcome, conn_id)
        log.error(
            "Attendee webhook for connection %r not recorded (503): %s; %s. Attendee does not send it again "
            "after its 3 attempts: %s",
            conn_id,
            detail,
            claimed(envelope),
            outcome,
        )
        Stats.incr("attendee.webhooks.refused")
        return JSONResponse({"error": "the webhook secret cannot be read (see the API server log)"}, 503)

    @app.post(PATH)
    async def receive(request: Request, conn_id: str = DEFAULT_CONN_ID) -> JSONResponse:
        arrived = time.monotonic()
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
            return await refuse(400, f"body larger than {MAX_BODY_BYTES} bytes", conn_id)
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BODY_BYTES:
                return await refuse(400, f"body larger than {MAX_BODY_BYTES} bytes", conn_id)
        envelope = _parse(body)
        signature = request.headers.get(SIGNATURE_HEADER)
        if not signature:
            return await refuse(401, f"no {SIGNATURE_HEADER} header", conn_id, envelope)
        if not _prepared:
            await asyncio.to_thread(prepare)
        try:
            secret = await asyncio.to_thread(webhook_secret, conn_id)
        except Exception as err:
            return await unavailable(conn_id, envelope, str(err))
        if envelope is None:
            return await refuse(400, "body is not JSON", conn_id)
        try:
            authentic = verify_webhook_signature(body, signature, secret)
        except AttendeeConfigurationError as err:  # the secret in the connection is not base64
            return await unavailable(conn_id, envelope, str(err))
        if not authentic:
            return await refuse(
                401, "signature does not match the connection's webhook_secret", conn_id, envelope
            )
        if (
            not isinstance(envelope, dict)
            or not envelope.get("idempotency_key")
            or not envelope.get("trigger")
        ):
            return await refuse(
                400, "not an Attendee webhook envelope (idempotency_key, trigger, data)", conn_id, envelope
            )
        happened = payload_time(envelope)
        if happened is not None and happened < datetime.now(timezone.utc) - retention:
            return await refuse(
                400,
                f"delivery older than the retention ({retention}): a replay",
                conn_id,
                envelope,
                lost=False,
            )
        key = str(envelope["idempotency_key"])
        received = time.monotonic()
        state_change = envelope["trigger"] == "bot.state_change"
        new_state = _data(envelope).get("new_state")
        delivery = Delivery(
            idempotency_key=key,
            trigger=str(envelope["trigger"]),
            bot_id=envelope.get("bot_id"),
            asset_uris=asset_uris(envelope),
            extra=event_extra(envelope),
            meeting_state=new_state if state_change and new_state in TERMINAL else None,
            conn_id=conn_id,
        )
        try:
            recorded = await batcher().record(delivery)
        except DuplicateDelivery:
            # Attendee sends a delivery again when its answer came late (10 s) or was lost: it was recorded
            # the first time, so it is answered as delivered (a 400 would be counted a failed delivery).
            log.info(
                "Attendee webhook %s (%s, bot %s) received again: recorded before, nothing done",
                key,
                envelope["trigger"],
                envelope.get("bot_id"),
            )
            Stats.incr("attendee.webhooks.duplicate")
            return JSONResponse({"status": "duplicate", "asset_events": []})
        event_sweeper.start()
        if recorded.asset_uris:
            event_sweeper.wake()
        if recorded.already_from:
            log.info(
                "Attendee webhook %s: bot %s reached %s, which the %s had emitted already: no second event",
                key,
                envelope.get("bot_id"),
                _data(envelope).get("new_state"),
                recorded.already_from.replace("_", "-"),
            )
        elif not recorded.asset_uris:
            # A finished meeting no DAG waits for is worth a warning; other state changes are routine.
            log.log(
                logging.WARNING if delivery.meeting_state else logging.DEBUG,
                "Attendee webhook %s (%s) recorded, but no DAG is scheduled on %s: no asset event",
                key,
                envelope["trigger"],
                ", ".join(asset_uris(envelope)),
            )
        took = time.monotonic() - received
        # Attendee gives up on a delivery after 10 s (and sends it again): a slow commit is worth a warning.
        log.log(
            logging.WARNING if time.monotonic() - arrived > SLOW_COMMIT_SECONDS else logging.INFO,
            COMMITTED_LINE,
            key,
            envelope["trigger"],
            envelope.get("bot_id"),
            recorded.asset_uris,
            1000 * took,
            1000 * recorded.seconds,
            1000 * recorded.lock_wait_seconds,
            recorded.batch_size,
            1000 * recorded.queued_seconds,
            1000 * (received - arrived),
            1000 * max(0.0, took - recorded.queued_seconds - recorded.seconds),
        )
        return JSONResponse({"status": "recorded", "asset_events": recorded.asset_uris})

    return app
