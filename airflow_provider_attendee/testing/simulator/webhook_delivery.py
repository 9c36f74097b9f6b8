"""Webhook delivery as the real server does it (bots/webhook_utils.py, deliver_webhook_task.py): project-level
and per-bot subscriptions (a bot's own ``webhooks`` replace the project's), the real envelope
``{idempotency_key, bot_id, bot_metadata, trigger, data}``, signed with the project's secret
(``X-Webhook-Signature``), a 10 s timeout and up to 3 attempts with exponential backoff. Each delivery
is its own Celery task there, so deliveries go out concurrently: here, ``SENDERS`` threads (``senders=`` or
the CLI's ``--webhook-senders`` for more: a surge of 50 meetings ending at once, as a server with that many
Celery worker slots delivers them).

Deliberate difference: ``http://`` URLs are accepted (the real server requires https), so a local Airflow
can receive them. While subscriptions exist, a pump moves the simulated world forward every 100 ms, so
state changes happen (and are delivered) without anyone polling the API.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import queue
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx

SIGNATURE_HEADER = "X-Webhook-Signature"


def sign(payload: Any, secret: str) -> str:
    """The server's signature (webhook_utils.sign_payload), written here independently of the client's
    verifier so that each checks the other: base64(HMAC-SHA256(base64-decoded secret, canonical JSON))."""
    canonical = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    digest = hmac.new(base64.b64decode(secret), canonical.encode("utf-8"), hashlib.sha256).digest()
    return base64.b64encode(digest).decode("utf-8")


TIMEOUT_SECONDS = 10.0
ATTEMPTS = 3
SENDERS = 4
USER_AGENT = "Attendee-Webhook/1.0"


@dataclass(frozen=True)
class Subscription:
    url: str
    triggers: tuple[str, ...]


@dataclass
class Delivery:
    """One webhook, and what became of it."""

    url: str
    envelope: dict[str, Any]
    attempts: list[int | str] = field(default_factory=list)  # HTTP statuses, or the transport error
    seconds: list[float] = field(default_factory=list)  # how long each attempt took
    sent_at: list[float] = field(default_factory=list)  # when each attempt started (epoch seconds)
    delivered: bool = False
    done: bool = False

    def summary(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "idempotency_key": self.envelope["idempotency_key"],
            "trigger": self.envelope["trigger"],
            "bot_id": self.envelope.get("bot_id"),
            "calendar_id": self.envelope.get("calendar_id"),
            "data": self.envelope.get("data"),
            "attempts": list(self.attempts),
            "seconds": [round(t, 4) for t in self.seconds],
            "sent_at": list(self.sent_at),
            "delivered": self.delivered,
            "done": self.done,
        }


def subscriptions(spec: Any) -> list[Subscription]:
    """Subscriptions from the API's shape ``[{"url": ..., "triggers": [...]}]`` (anything else: none)."""
    found = []
    for item in spec if isinstance(spec, list) else []:
        if isinstance(item, dict) and item.get("url"):
            found.append(Subscription(str(item["url"]), tuple(str(t) for t in item.get("triggers") or ())))
    return found


def bot_state_change(
    bot: Any, old_state: str, kind: str, sub_type: str | None, at: datetime
) -> dict[str, Any]:
    """The real server's bot.state_change data (created_at in +00:00 form, not Z)."""
    metadata: dict[str, Any] = {}
    if bot.state == "ended" and bot.admitted_at is not None:
        metadata["bot_duration_seconds"] = round((at - bot.created_at).total_seconds())
    return {
        "new_state": bot.state,
        "old_state": old_state,
        "created_at": at.isoformat(),
        "event_type": kind,
        "event_sub_type": sub_type,
        "event_metadata": metadata,
    }


class WebhookDeliverer:
    """Sends queued webhooks from ``senders`` background threads, with the real server's retry policy."""

    def __init__(self, backoff_seconds: float = 1.0, senders: int = SENDERS) -> None:
        self.senders = max(1, senders)
        self.project: list[Subscription] = []
        self.secret: str | None = None
        self.backoff_seconds = backoff_seconds
        self.deliveries: list[Delivery] = []
        self._queue: queue.Queue[tuple[float, Delivery] | None] = queue.Queue()
        self._lock = threading.Lock()
        # A new connection per attempt, as the real server's ``requests.post`` opens (no keep-alive: a
        # pooled connection the receiver closes as idle can swallow a request until the 10 s timeout).
        self._client = httpx.Client(
            timeout=TIMEOUT_SECONDS,
            limits=httpx.Limits(max_connections=self.senders, max_keepalive_connections=0),
        )
        for number in range(self.senders):
            threading.Thread(target=self._send_loop, name=f"sim-webhooks-{number}", daemon=True).start()
        self._pump: threading.Thread | None = None
        self._stop = threading.Event()

    def configure(self, project: list[Subscription], secret: str | None, pump: Callable[[], Any]) -> None:
        """Set the project's subscriptions and secret; start moving the world forward (``pump``)."""
        with self._lock:
            self.project, self.secret = list(project), secret
            self.deliveries = []
        if self._pump is None:
            self._pump = threading.Thread(
                target=self._pump_loop, args=(pump,), name="sim-clock-pump", daemon=True
            )
            self._pump.start()

    def reset(self) -> None:
        with self._lock:
            self.project, self.secret, self.deliveries = [], None, []

    def emit(self, trigger: str, bot: Any, data: dict[str, Any]) -> None:
        """Queue ``trigger`` for the bot's subscriptions (its own, else the project's)."""
        related = {"bot_id": bot.id, "bot_metadata": bot.metadata}
        self._queue_for(subscriptions(bot.settings.get("webhooks")) or self.project, trigger, related, data)

    def emit_for_calendar(self, trigger: str, calendar: Any, data: dict[str, Any]) -> None:
        """Queue a calendar trigger for the project's subscriptions; the envelope names the calendar
        instead of a bot (``calendar_id``, ``calendar_deduplication_key``, ``calendar_metadata``)."""
        related = {
            "calendar_id": calendar.id,
            "calendar_deduplication_key": calendar.deduplication_key,
            "calendar_metadata": calendar.metadata,
        }
        self._queue_for(self.project, trigger, related, data)

    def _queue_for(
        self, subs: list[Subscription], trigger: str, related: dict[str, Any], data: dict[str, Any]
    ) -> None:
        if self.secret is None:
            return
        for sub in subs:
            if trigger not in sub.triggers:
                continue
            envelope = {"idempotency_key": str(uuid.uuid4()), **related, "trigger": trigger, "data": data}
            delivery = Delivery(sub.url, envelope)
            with self._lock:
                self.deliveries.append(delivery)
            self._queue.put((time.monotonic(), delivery))

    def summaries(self) -> list[dict[str, Any]]:
        with self._lock:
            return [d.summary() for d in self.deliveries]

    def close(self) -> None:
        self._stop.set()
        for _ in range(self.senders):
            self._queue.put(None)
        self._client.close()

    def _pump_loop(self, pump: Callable[[], Any]) -> None:
        while not self._stop.wait(0.1):
            if self.secret is not None:
                with contextlib.suppress(Exception):  # the pump must not die with one bad tick
                    pump()

    def _send_loop(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            due, delivery = item
            if due > time.monotonic():  # a retry not due yet: put it back behind the others
                threading.Timer(due - time.monotonic(), self._queue.put, args=((due, delivery),)).start()
                continue
            self._attempt(delivery)

    def _attempt(self, delivery: Delivery) -> None:
        secret = self.secret
        if secret is None:
            delivery.done = True
            return
        body = json.dumps(
            delivery.envelope
        ).encode()  # as the server sends it: NOT the signed (canonical) form
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            SIGNATURE_HEADER: sign(delivery.envelope, secret),
        }
        started = time.monotonic()
        delivery.sent_at.append(time.time())
        try:
            status: int | str = self._client.post(delivery.url, content=body, headers=headers).status_code
        except httpx.HTTPError as err:
            status = type(err).__name__
        delivery.seconds.append(time.monotonic() - started)
        delivery.attempts.append(status)
        if isinstance(status, int) and 200 <= status < 300:
            delivery.delivered = delivery.done = True
        elif len(delivery.attempts) >= ATTEMPTS:
            delivery.done = True
        else:
            wait = self.backoff_seconds * 2 ** (len(delivery.attempts) - 1)
            self._queue.put((time.monotonic() + wait, delivery))
