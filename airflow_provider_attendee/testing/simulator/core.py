"""AttendeeSimulator: the simulated Attendee server's configuration and state, independent of HTTP."""

from __future__ import annotations

import base64
import contextlib
import re
import threading
from collections import Counter, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from airflow_provider_attendee.testing.simulator.bodies import (
    chat_body,
    participant_event_body,
    utterance_body,
)
from airflow_provider_attendee.testing.simulator.clock import SimClock
from airflow_provider_attendee.testing.simulator.faults import FaultConfig, FaultInjector
from airflow_provider_attendee.testing.simulator.scenario import Scenario, load_scenario
from airflow_provider_attendee.testing.simulator.state import ChatLine, ObservedEvent, SimWorld
from airflow_provider_attendee.testing.simulator.webhook_delivery import (
    SENDERS,
    WebhookDeliverer,
    bot_state_change,
)
from airflow_provider_attendee.testing.simulator.webhook_delivery import subscriptions as parse_subscriptions

DEFAULT_API_KEY = "sim-api-key"

#: Callables given every API exchange of every simulator in this process (e.g. a contract checker).
exchange_listeners: list[Callable[[Exchange], None]] = []
_ID_IN_PATH = re.compile(r"/(bot|cal|evt|par|pe)_[A-Za-z0-9]+")


def route_of(path: str) -> str:
    """A request path with object ids replaced, for counting requests per route."""
    return _ID_IN_PATH.sub(lambda m: "/{" + m.group(1) + "_id}", path)


@dataclass
class Exchange:
    """One API request and the simulator's response, as recorded for contract checks."""

    method: str
    path: str
    query: list[tuple[str, str]]
    request_headers: dict[str, str]
    request_body: bytes
    status: int
    response_headers: dict[str, str]
    response_body: bytes


@dataclass
class Counters:
    """What the simulator saw: requests per route, statuses, injected faults."""

    requests: Counter[str] = field(default_factory=Counter)
    statuses: Counter[str] = field(default_factory=Counter)
    faults: Counter[str] = field(default_factory=Counter)
    #: (host, port) of every client connection seen: how many TCP connections clients opened
    clients: set[tuple[str, int]] = field(default_factory=set)
    #: requests of each route being served now, and the most served at once: the clients' concurrency
    #: as the server saw it (overlapping request intervals), whatever the machine's speed
    in_flight: Counter[str] = field(default_factory=Counter)
    peak_in_flight: Counter[str] = field(default_factory=Counter)

    @contextlib.contextmanager
    def serving(self, route: str) -> Iterator[None]:
        """Count one request of ``route`` while the server handles it."""
        self.requests[route] += 1
        self.in_flight[route] += 1
        self.peak_in_flight[route] = max(self.peak_in_flight[route], self.in_flight[route])
        try:
            yield
        finally:
            self.in_flight[route] -= 1

    def snapshot(self) -> dict[str, Any]:
        return {
            "requests": dict(self.requests),
            "statuses": dict(self.statuses),
            "faults": dict(self.faults),
            "connections": len(self.clients),
            "peak_in_flight": dict(self.peak_in_flight),
        }


class AttendeeSimulator:
    """A simulated Attendee server: API keys, clock, world, faults, counters.

    :param api_key: the key clients must send (``Authorization: Token <key>``).
    :param scenario: a Scenario, a dict, a JSON/YAML path or a bundled scenario name (e.g. ``"demo"``).
    :param time_scale: simulated seconds per real second; 0 freezes the clock (advance it by hand).
    :param seed: makes ids, generated meetings and injected faults reproducible.
    :param page_size: page size of the paginated lists (None: the server's 25, and 100 for calendar events).
    """

    def __init__(
        self,
        *,
        api_key: str = DEFAULT_API_KEY,
        scenario: Scenario | dict[str, Any] | str | Path | None = None,
        time_scale: float = 1.0,
        seed: int = 0,
        page_size: int | None = None,
        faults: FaultConfig | None = None,
        post_rate_limit_per_minute: int = 3000,
        webhook_senders: int = SENDERS,
    ) -> None:
        self.api_keys = {api_key}
        self.page_size = page_size
        self.post_rate_limit_per_minute = post_rate_limit_per_minute
        #: The throttle's window (60 s on the server); benchmarks shrink it to scale time down.
        self.rate_window_seconds = 60.0
        self.faults = FaultInjector(faults)
        self.counters = Counters()
        self._post_times: deque[float] = deque()
        self._rate_lock = threading.Lock()
        self.webhooks = WebhookDeliverer(senders=webhook_senders)
        self.reset(scenario=scenario, time_scale=time_scale, seed=seed)

    def reset(
        self,
        *,
        scenario: Scenario | dict[str, Any] | str | Path | None = None,
        time_scale: float = 1.0,
        seed: int = 0,
        origin: datetime | None = None,
    ) -> None:
        """Forget every bot, calendar and counter; start a new clock (at ``origin``, default now) and load
        ``scenario``."""
        self.scenario = load_scenario(scenario)
        self.clock = SimClock(time_scale=time_scale, origin=origin)
        self.world = SimWorld(self.clock, self.scenario, seed=seed)
        self.world.state_listeners.append(self._bot_state_changed)
        self.webhooks.reset()
        self.counters = Counters()
        self._post_times.clear()

    def _bot_state_changed(
        self, bot: Any, old_state: str, kind: str, sub_type: str | None, at: datetime
    ) -> None:
        self.webhooks.emit("bot.state_change", bot, bot_state_change(bot, old_state, kind, sub_type, at))

    def _content_visible(self, bot: Any, item: Any) -> None:
        """transcript.update (one utterance), participant_events.join_leave / speech_start_stop (one event),
        chat_messages.update (one message), with the same bodies the API lists them with."""
        if isinstance(item, ChatLine):
            self.webhooks.emit("chat_messages.update", bot, chat_body(item))
        elif isinstance(item, ObservedEvent):
            if item.event_type in ("join", "leave"):
                self.webhooks.emit("participant_events.join_leave", bot, participant_event_body(item))
            elif item.event_type in ("speech_start", "speech_stop"):
                self.webhooks.emit("participant_events.speech_start_stop", bot, participant_event_body(item))
        else:
            self.webhooks.emit("transcript.update", bot, utterance_body(item))

    def configure_webhooks(self, subscriptions: list[dict[str, Any]], secret: str) -> None:
        """Project-level webhook subscriptions (``[{"url", "triggers"}]``) and the project's secret (base64)."""
        base64.b64decode(secret, validate=True)  # a secret that is not base64 fails here, not in the sender
        self.webhooks.configure(parse_subscriptions(subscriptions), secret, pump=lambda: self.world.sync())
        if self._content_visible not in self.world.content_listeners:  # meetings schedule their content then
            self.world.content_listeners.append(self._content_visible)
        if self._calendar_synced not in self.world.calendar_listeners:
            self.world.calendar_listeners.append(self._calendar_synced)

    def _calendar_synced(self, calendar: Any) -> None:
        """calendar.events_update after a calendar sync changed events (the calendar's sync fields)."""
        body = calendar.body()
        data = {
            key: body[key]
            for key in (
                "state",
                "connection_failure_data",
                "last_successful_sync_at",
                "last_attempted_sync_at",
            )
        }
        self.webhooks.emit_for_calendar("calendar.events_update", calendar, data)

    def add_scenario(self, scenario: Scenario | dict[str, Any] | str | Path) -> None:
        """Add a scenario's meetings (replacing those of the same URL) and calendars to the running world."""
        extra = load_scenario(scenario)
        with self.world.lock:
            urls = {m.meeting_url for m in extra.meetings}
            kept = [m for m in self.scenario.meetings if m.meeting_url not in urls]
            self.scenario = self.world.scenario = Scenario(
                name=self.scenario.name,
                calendars=self.scenario.calendars + extra.calendars,
                meetings=kept + extra.meetings,
            )
            self.world.load_calendars(extra.calendars)

    def page_size_for(self, default: int) -> int:
        return self.page_size or default

    def throttle(self, now: float) -> float | None:
        """The real server's POST throttle (DRF, per project, per minute): None when the POST may go
        ahead, else the seconds until the oldest POST of the window leaves it (DRF's ``wait()``)."""
        with self._rate_lock:
            while self._post_times and now - self._post_times[0] > self.rate_window_seconds:
                self._post_times.popleft()
            if len(self._post_times) >= self.post_rate_limit_per_minute:
                return max(self.rate_window_seconds - (now - self._post_times[0]), 0.0)
            self._post_times.append(now)
            return None
