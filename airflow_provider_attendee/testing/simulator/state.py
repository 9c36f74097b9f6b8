"""The simulator's in-memory world: bots with the real server's state machine, meetings, calendars.

Everything time-dependent is driven by one scheduler (a heap of timed actions) that is run up to the
clock's "now" before each request, so the world is lazy, deterministic and thread-safe (one lock). A clock
step costs what changes in it: only due actions run (never a scan of the bots), and a meeting's content
(participants, their events, transcript, chat) is built when first read, or at admission when webhooks
deliver it as it happens.
Rules follow openapi.yml and the real server's observed behaviour (BEHAVIOUR.md).
"""

from __future__ import annotations

import functools
import hashlib
import heapq
import itertools
import random
import string
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from airflow_provider_attendee.client.meeting_urls import normalize_meeting_url
from airflow_provider_attendee.client.states import JOINED, LEAVE_ALLOWED, TERMINAL
from airflow_provider_attendee.testing.simulator.clock import SimClock
from airflow_provider_attendee.testing.simulator.scenario import (
    CalendarSpec,
    EventSpec,
    MeetingSpec,
    Scenario,
    generated_meeting,
)

FINISHED = TERMINAL
#: event type -> (states it may happen in, state it leads to)
TRANSITIONS: dict[str, tuple[frozenset[str], str]] = {
    "staged": (frozenset({"scheduled"}), "staged"),
    "join_requested": (frozenset({"ready", "staged"}), "joining"),
    "put_in_waiting_room": (frozenset({"joining"}), "waiting_room"),
    "joined_meeting": (frozenset({"joining", "waiting_room"}), "joined_not_recording"),
    "recording_permission_granted": (
        frozenset({"joined_not_recording", "joined_recording_permission_denied"}),
        "joined_recording",
    ),
    "recording_paused": (frozenset({"joined_recording"}), "joined_recording_paused"),
    "recording_resumed": (frozenset({"joined_recording_paused"}), "joined_recording"),
    "leave_requested": (frozenset(LEAVE_ALLOWED), "leaving"),
    "left_meeting": (frozenset({"leaving"}), "post_processing"),
    "meeting_ended": (JOINED | {"waiting_room", "joining", "leaving"}, "post_processing"),
    "post_processing_completed": (frozenset({"post_processing"}), "ended"),
    "could_not_join_meeting": (frozenset({"joining", "waiting_room"}), "fatal_error"),
    "fatal_error": (
        frozenset(
            {"ready", "scheduled", "staged", "joining", "waiting_room", "leaving", "post_processing"} | JOINED
        ),
        "fatal_error",
    ),
    "data_deleted": (frozenset({"ended", "fatal_error"}), "data_deleted"),
}

ZOOM_CREDENTIALS_MISSING = (
    "Zoom App credentials are required to create a Zoom bot. Please add Zoom credentials at "
    "http://localhost:8000/projects/proj_simulator/credentials"
)
STAGE_BEFORE_JOIN = timedelta(minutes=5)
RECORDING_PERMISSION_DELAY = timedelta(seconds=1)
LEAVE_DURATION = timedelta(seconds=2)
POST_PROCESSING_DURATION = timedelta(seconds=5)
TRANSCRIPTION_DELAY = timedelta(seconds=1)
#: The transcription providers a bot's transcription_settings can name, in the server's order of precedence.
TRANSCRIPTION_PROVIDERS = (
    "deepgram",
    "gladia",
    "openai",
    "assembly_ai",
    "sarvam",
    "elevenlabs",
    "kyutai",
    "custom_async",
    "custom_async_v2",
    "meeting_closed_captions",
)


class SimError(Exception):
    """An API error the simulator answers with: status and the real server's JSON body."""

    def __init__(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        super().__init__(f"{status}: {body}")
        self.status = status
        self.body = body
        self.headers = headers or {}


def iso(value: datetime) -> str:
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def epoch_ms(value: datetime) -> int:
    return round(value.timestamp() * 1000)


@dataclass
class ObservedEvent:
    """A participant event as stored by the server (``created_at`` is hidden, used by after/before)."""

    id: str
    seq: int
    participant: Participant
    event_type: str
    timestamp: datetime
    created_at: datetime
    event_data: dict[str, Any] = field(default_factory=dict)


@dataclass
class Participant:
    id: str
    uuid: str
    user_uuid: str | None
    name: str | None
    is_host: bool


@dataclass
class Utterance:
    participant: Participant
    start: datetime
    duration_ms: int
    text: str
    created_at: datetime
    #: The ``transcription`` object as the bot's transcription provider stores it.
    transcription: dict[str, Any] = field(default_factory=dict)


def transcription_provider(meeting_url: str, settings: dict[str, Any]) -> str:
    """The provider a real bot transcribes with (bots/utils.py transcription_provider_from_bot_creation_data):
    the one named in transcription_settings, else Deepgram for Zoom, the platform's captions otherwise."""
    chosen = settings.get("transcription_settings") or {}
    named = next((name for name in TRANSCRIPTION_PROVIDERS if name in chosen), None)
    if named:
        return named
    zoom_web = (settings.get("zoom_settings") or {}).get("sdk") == "web"
    is_zoom = "zoom." in meeting_url.split("/")[2] if "//" in meeting_url else False
    return "deepgram" if is_zoom and not zoom_web else "meeting_closed_captions"


def transcription_body(provider: str, text: str, duration_ms: int) -> dict[str, Any]:
    """An utterance's ``transcription`` as the server stores it: captions keep the text only (bot_controller),
    Deepgram its first alternative (transcript, confidence, timed words); other providers: the text."""
    if provider != "deepgram":
        return {"transcript": text}
    words = text.split()
    step = duration_ms / 1000 / max(len(words), 1)
    return {
        "transcript": text,
        "confidence": 0.98,
        "words": [
            {
                "word": word.strip(".,!?;:").lower(),
                "start": round(i * step, 3),
                "end": round((i + 1) * step, 3),
                "confidence": 0.98,
                "punctuated_word": word,
            }
            for i, word in enumerate(words)
        ],
    }


@dataclass
class ChatLine:
    id: str
    participant: Participant
    at: datetime
    text: str
    to: str = "everyone"


@dataclass
class SimBot:
    id: str
    seq: int
    created_at: datetime
    meeting_url: str
    bot_name: str
    join_at: datetime | None
    metadata: dict[str, Any] | None
    deduplication_key: str | None
    calendar_event_id: str | None
    settings: dict[str, Any]
    state: str
    events: list[dict[str, Any]] = field(default_factory=list)
    transcription_state: str = "not_started"
    recording_state: str = "not_started"
    generation: int = 0
    meeting: MeetingSpec | None = None
    admitted_at: datetime | None = None
    departed_at: datetime | None = None
    recording_started_at: datetime | None = None
    observed: list[ObservedEvent] = field(default_factory=list)
    utterances: list[Utterance] = field(default_factory=list)
    chat: list[ChatLine] = field(default_factory=list)
    data_deleted: bool = False
    #: False for a bot without a default Recording (the real server then serves null states).
    has_recording: bool = True
    #: True from admission until the meeting's content is built (on first read: SimWorld._content).
    content_due: bool = False

    @property
    def recording_settings(self) -> dict[str, Any]:
        return self.settings.get("recording_settings") or {}

    @property
    def records_speech_events(self) -> bool:
        """Only a bot created with record_participant_speech_start_stop_events records them (default false)."""
        return self.recording_settings.get("record_participant_speech_start_stop_events") is True

    @property
    def makes_recording_file(self) -> bool:
        """A bot created with recording_settings.format "none" transcribes, but never makes a file."""
        return self.recording_settings.get("format") != "none"

    def body(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "metadata": self.metadata,
            "meeting_url": self.meeting_url,
            "state": self.state,
            "events": list(self.events),
            "transcription_state": self.transcription_state if self.has_recording else None,
            "recording_state": self.recording_state if self.has_recording else None,
            "join_at": iso(self.join_at) if self.join_at else None,
            "deduplication_key": self.deduplication_key,
        }

    def in_meeting_window(self, moment: datetime) -> bool:
        """Whether the bot was in the meeting (admitted, not yet gone) at ``moment``."""
        if self.admitted_at is None or moment < self.admitted_at:
            return False
        return self.departed_at is None or moment < self.departed_at


@dataclass
class SimCalendar:
    id: str
    seq: int
    platform: str
    client_id: str
    deduplication_key: str | None
    metadata: dict[str, Any] | None
    created_at: datetime
    updated_at: datetime
    state: str = "connected"
    platform_uuid: str | None = None
    last_successful_sync_at: datetime | None = None

    def body(self) -> dict[str, Any]:
        synced = iso(self.last_successful_sync_at) if self.last_successful_sync_at else None
        return {
            "id": self.id,
            "platform": self.platform,
            "client_id": self.client_id,
            "platform_uuid": self.platform_uuid,
            "state": self.state,
            "metadata": self.metadata,
            "deduplication_key": self.deduplication_key,
            "connection_failure_data": None,
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at),
            "last_successful_sync_at": synced,
            "last_attempted_sync_at": synced,
        }


@dataclass
class SimCalendarEvent:
    id: str
    seq: int
    calendar: SimCalendar
    platform_uuid: str
    name: str | None
    meeting_url: str | None
    start_time: datetime
    end_time: datetime
    attendees: list[dict[str, Any]]
    created_at: datetime
    updated_at: datetime
    is_deleted: bool = False
    bot_ids: list[str] = field(default_factory=list)


@dataclass
class _Action:
    """A timed change; queued as ``(when, order, action)``, so that the heap compares plain tuples."""

    run: Callable[[datetime], None]
    #: the bot the action belongs to (None for calendar actions), for :class:`StepCost`
    bot_id: str | None = None


@dataclass
class StepCost:
    """What one :meth:`SimWorld.sync` did: the actions it ran and the bots they touched (tests count them)."""

    actions: int = 0
    bot_ids: set[str] = field(default_factory=set)


class SimWorld:
    """All simulator state behind one lock; call :meth:`sync` (done by every accessor) to catch up."""

    def __init__(self, clock: SimClock, scenario: Scenario | None = None, seed: int = 0) -> None:
        self.clock = clock
        self.seed = seed
        self.lock = threading.RLock()
        #: Called after each bot state change: (bot, old state, event type, event sub type, when).
        self.state_listeners: list[Callable[[SimBot, str, str, str | None, datetime], None]] = []
        #: Called when a participant event or an utterance becomes visible: (bot, event or utterance).
        self.content_listeners: list[Callable[[SimBot, Any], None]] = []
        #: Called after the calendar's sync changed its events (webhooks: calendar.events_update).
        self.calendar_listeners: list[Callable[[SimCalendar], None]] = []
        self.rng = random.Random(seed)
        self.scenario = scenario or Scenario()
        self.bots: dict[str, SimBot] = {}
        self.calendars: dict[str, SimCalendar] = {}
        self.calendar_events: dict[str, SimCalendarEvent] = {}
        self.bots_created_by_dedup_key: Counter[str] = Counter()
        #: deduplication key -> ids of the bots created with it (the key-in-use check without a scan)
        self._bots_by_dedup_key: dict[str, list[str]] = {}
        #: Whether the project has Zoom App credentials (without them, every Zoom bot is a 400).
        self.zoom_credentials = True
        #: Whether the server stores recording files (without storage, /recording is a 404 for every bot).
        self.recording_storage = True
        self.deleted_bot_ids: list[str] = []
        self._seq = itertools.count(1)
        self._queue: list[tuple[datetime, int, _Action]] = []
        #: the cost of the latest sync, and how many meetings' content was built so far
        self.last_step = StepCost()
        self.contents_built = 0
        #: meeting URL -> its meeting in the scenario ``_meetings_of``: a join looks it up once per URL
        self._meetings: dict[str, MeetingSpec] = {}
        self._meetings_of: Scenario | None = None
        self._now = clock.now()
        self.load_calendars(self.scenario.calendars)

    # ----------------------------------------------------------------------------------- basics
    def new_id(self, prefix: str, rng: random.Random | None = None) -> str:
        """A server-style id from the world's seeded generator (or ``rng``, e.g. one bot's own)."""
        alphabet = string.ascii_letters + string.digits
        return prefix + "".join((rng or self.rng).choice(alphabet) for _ in range(16))

    def sync(self) -> datetime:
        """Run every scheduled action due by the clock's now (and nothing else); returns now."""
        with self.lock:
            now = max(self.clock.now(), self._now)
            step = self.last_step = StepCost()
            while self._queue and self._queue[0][0] <= now:
                when, _, action = heapq.heappop(self._queue)
                step.actions += 1
                if action.bot_id is not None:
                    step.bot_ids.add(action.bot_id)
                self._now = max(self._now, when)
                action.run(when)
            self._now = now
            return now

    def schedule(self, when: datetime, run: Callable[[datetime], None], bot: SimBot | None = None) -> None:
        heapq.heappush(self._queue, (when, next(self._seq), _Action(run, bot.id if bot else None)))

    # ------------------------------------------------------------------------------ calendars
    def load_calendars(self, calendars: list[CalendarSpec]) -> list[SimCalendar]:
        with self.lock:
            now = self.sync()
            created = []
            for spec in calendars:
                calendar = self.add_calendar(
                    platform=spec.platform,
                    client_id=f"{spec.platform}-client-{len(self.calendars) + 1}",
                    deduplication_key=spec.deduplication_key,
                    metadata=spec.metadata,
                    calendar_id=spec.id,
                )
                for event in spec.events:
                    self.add_calendar_event(calendar, event, notify=False)
                self._calendar_synced(calendar, now)  # one sync brought them all
                created.append(calendar)
            return created

    def add_calendar(
        self,
        *,
        platform: str,
        client_id: str,
        deduplication_key: str | None,
        metadata: dict[str, Any] | None,
        calendar_id: str | None = None,
    ) -> SimCalendar:
        with self.lock:
            now = self.sync()
            if deduplication_key and any(
                c.deduplication_key == deduplication_key for c in self.calendars.values()
            ):
                raise SimError(
                    400,
                    {
                        "deduplication_key": [
                            "A calendar with this deduplication key already exists in this project."
                        ]
                    },
                )
            calendar = SimCalendar(
                id=calendar_id or self.new_id("cal_"),
                seq=next(self._seq),
                platform=platform,
                client_id=client_id,
                deduplication_key=deduplication_key,
                metadata=metadata,
                created_at=now,
                updated_at=now,
            )
            self.calendars[calendar.id] = calendar
            return calendar

    def add_calendar_event(
        self, calendar: SimCalendar, spec: EventSpec, *, notify: bool = True
    ) -> SimCalendarEvent:
        """A new event, as the calendar's sync brings it (``notify``: that sync ends here)."""
        with self.lock:
            now = self.sync()
            start = now + timedelta(minutes=spec.start_in_minutes)
            event = SimCalendarEvent(
                id=spec.id or self.new_id("evt_"),
                seq=next(self._seq),
                calendar=calendar,
                platform_uuid=f"{calendar.platform}_event_{next(self._seq)}",
                name=spec.name,
                meeting_url=spec.meeting_url,
                start_time=start,
                end_time=start + timedelta(minutes=spec.duration_minutes),
                attendees=[a.model_dump(exclude_none=True) for a in spec.attendees],
                created_at=now,
                updated_at=now,
            )
            self.calendar_events[event.id] = event
            if spec.cancel_after_minutes is not None:
                if spec.cancel_after_minutes == 0:
                    self.cancel_calendar_event(event.id)
                else:
                    self.schedule(
                        now + timedelta(minutes=spec.cancel_after_minutes),
                        functools.partial(self._cancel_event, event.id),
                    )
            if spec.reschedule is not None:
                move = spec.reschedule
                length = move.duration_minutes or spec.duration_minutes
                self.schedule(
                    now + timedelta(minutes=move.after_minutes),
                    functools.partial(
                        self._reschedule_event,
                        event.id,
                        start=now + timedelta(minutes=move.start_in_minutes),
                        length=timedelta(minutes=length),
                    ),
                )
            if notify:
                self._calendar_synced(calendar, now)
            return event

    def cancel_calendar_event(self, event_id: str, sync_bots: bool = True) -> SimCalendarEvent:
        """Cancel as the server's calendar sync does; ``sync_bots=False`` only flags the row, as an
        edit outside the sync (ORM, admin) does, leaving its bots alone."""
        with self.lock:
            now = self.sync()
            if not sync_bots:
                event = self.calendar_events[event_id]
                event.is_deleted, event.updated_at = True, now
                return event
            self._cancel_event(event_id, now)
            return self.calendar_events[event_id]

    def reschedule_calendar_event(self, event_id: str, start: datetime, end: datetime) -> SimCalendarEvent:
        with self.lock:
            now = self.sync()
            self._reschedule_event(event_id, now, start=start, length=end - start)
            return self.calendar_events[event_id]

    def _cancel_event(self, event_id: str, at: datetime) -> None:
        """Flag the event cancelled at ``at``; its still-scheduled bots are deleted, as on the server."""
        event = self.calendar_events.get(event_id)
        if event is None:
            raise SimError(404, {"error": "Calendar event not found"})
        if not event.is_deleted:
            event.is_deleted = True
            event.updated_at = at
            self._calendar_synced(event.calendar, at)
        for bot_id in list(event.bot_ids):
            bot = self.bots.get(bot_id)
            if bot is not None and bot.state == "scheduled":  # a staged bot survives, as on the server
                self._remove_bot(bot)

    def _reschedule_event(self, event_id: str, at: datetime, *, start: datetime, length: timedelta) -> None:
        event = self.calendar_events[event_id]
        if event.is_deleted:
            return
        if (event.start_time, event.end_time) == (start, start + length):
            return  # the server only saves (and bumps updated_at) when something changed
        event.start_time, event.end_time, event.updated_at = start, start + length, at
        self._sync_bound_bots(event)
        self._calendar_synced(event.calendar, at)

    def change_calendar_event(self, event_id: str, **changes: Any) -> SimCalendarEvent:
        """A calendar-side edit (name, meeting_url, attendees), as the server's calendar sync applies it."""
        with self.lock:
            now = self.sync()
            event = self.calendar_events.get(event_id)
            if event is None:
                raise SimError(404, {"error": "Calendar event not found"})
            changed = {k: v for k, v in changes.items() if getattr(event, k) != v}
            if event.is_deleted or not changed:
                return event
            for name, value in changed.items():
                setattr(event, name, value)
            event.updated_at = now
            self._sync_bound_bots(event)
            self._calendar_synced(event.calendar, now)
            return event

    def _sync_bound_bots(self, event: SimCalendarEvent) -> None:
        """The server's sync_bots_for_calendar_event: scheduled bots follow their event's time and link."""
        for bot_id in list(event.bot_ids):
            bot = self.bots.get(bot_id)
            if bot is None or bot.state != "scheduled":
                continue  # staged, joining or in a meeting: left alone
            url = normalize_meeting_url(event.meeting_url) or event.meeting_url
            if url and url != bot.meeting_url:
                bot.meeting_url = url
            if bot.join_at != event.start_time:
                self._plan_schedule(bot, event.start_time)

    def _calendar_synced(self, calendar: SimCalendar, at: datetime) -> None:
        """The server's calendar sync ran and changed events: it records the sync and notifies."""
        calendar.last_successful_sync_at = at
        for listener in self.calendar_listeners:
            listener(calendar)

    def event_body(self, event: SimCalendarEvent) -> dict[str, Any]:
        return {
            "id": event.id,
            "calendar_id": event.calendar.id,
            "platform_uuid": event.platform_uuid,
            "meeting_url": event.meeting_url,
            "start_time": iso(event.start_time),
            "end_time": iso(event.end_time),
            "is_deleted": event.is_deleted,
            "attendees": event.attendees,
            "ical_uid": f"{event.platform_uuid}@simulator",
            "name": event.name,
            "raw": {"simulated": True},
            "bots": [self.bots[b].body() for b in event.bot_ids if b in self.bots],
            "created_at": iso(event.created_at),
            "updated_at": iso(event.updated_at),
        }

    # ------------------------------------------------------------------------------------ bots
    def create_bot(
        self,
        *,
        meeting_url: str | None,
        bot_name: str,
        join_at: datetime | None,
        metadata: dict[str, Any] | None,
        deduplication_key: str | None,
        calendar_event_id: str | None,
        settings: dict[str, Any],
    ) -> SimBot:
        with self.lock:
            now = self.sync()
            event = None
            if calendar_event_id:
                event = self.calendar_events.get(calendar_event_id)
                if event is None:
                    raise SimError(
                        400,
                        {
                            "error": f"Calendar event with id {calendar_event_id} does not exist in this project."
                        },
                    )
                if not event.meeting_url:
                    raise SimError(400, {"meeting_url": ["This field may not be null."]})
                if event.start_time <= now:
                    raise SimError(400, {"join_at": ["join_at cannot be in the past"]})
                meeting_url = normalize_meeting_url(event.meeting_url)
                if meeting_url is None:
                    raise SimError(400, {"meeting_url": ["Invalid meeting URL"]})
                join_at = event.start_time
            if meeting_url and not self.zoom_credentials and "zoom." in meeting_url.split("/")[2]:
                raise SimError(400, {"error": ZOOM_CREDENTIALS_MISSING})
            if deduplication_key and any(
                bot_id in self.bots and self.bots[bot_id].state not in FINISHED
                for bot_id in self._bots_by_dedup_key.get(deduplication_key, ())
            ):
                raise SimError(
                    400,
                    {
                        "error": "Deduplication key already in use. A bot in a non-terminal state with this "
                        "deduplication key already exists. Please use a different deduplication key or wait "
                        "for that bot to terminate."
                    },
                )
            assert meeting_url is not None
            bot = SimBot(
                id=self.new_id("bot_"),
                seq=next(self._seq),
                created_at=now,
                meeting_url=meeting_url,
                bot_name=bot_name,
                join_at=join_at,
                metadata=metadata,
                deduplication_key=deduplication_key,
                calendar_event_id=calendar_event_id,
                settings=settings,
                state="scheduled" if join_at else "ready",
            )
            self.bots[bot.id] = bot
            if deduplication_key:
                self.bots_created_by_dedup_key[deduplication_key] += 1
                self._bots_by_dedup_key.setdefault(deduplication_key, []).append(bot.id)
            if event is not None:
                event.bot_ids.append(bot.id)
            if join_at:
                self._plan_schedule(bot, join_at)
            else:
                self._apply(bot, "join_requested", now)
            return bot

    def get_bot(self, bot_id: str) -> SimBot:
        with self.lock:
            self.sync()
            bot = self.bots.get(bot_id)
            if bot is None:
                raise SimError(404, {"error": "Bot not found"})
            return bot

    def patch_bot(self, bot_id: str, fields: dict[str, Any]) -> SimBot:
        with self.lock:
            bot = self.get_bot(bot_id)
            restricted = {"join_at", "meeting_url", "bot_name", "bot_image", "recording_settings"}
            if restricted & fields.keys() and bot.state != "scheduled":
                raise SimError(
                    400,
                    {
                        "error": f"Bot is in state {bot.state} but join_at, meeting_url, bot_name, bot_image and "
                        "recording_settings can only be updated when in the scheduled state"
                    },
                )
            if "metadata" in fields:
                bot.metadata = fields["metadata"]
            if "meeting_url" in fields:
                bot.meeting_url = normalize_meeting_url(fields["meeting_url"]) or fields["meeting_url"]
            if "bot_name" in fields:
                bot.bot_name = fields["bot_name"]
            if "recording_settings" in fields:
                bot.settings["recording_settings"] = fields["recording_settings"]
            if "join_at" in fields:
                if bot.calendar_event_id:
                    raise SimError(
                        400, {"join_at": ["join_at cannot be updated for bots attached to a calendar event"]}
                    )
                self._plan_schedule(bot, fields["join_at"])
            return bot

    def delete_bot(self, bot_id: str) -> None:
        with self.lock:
            bot = self.get_bot(bot_id)
            if bot.state != "scheduled":
                raise SimError(
                    400,
                    {"error": f"Bot is in state {bot.state} but can only be deleted when in scheduled state"},
                )
            self._remove_bot(bot)

    def _remove_bot(self, bot: SimBot) -> None:
        bot.generation += 1
        self.bots.pop(bot.id, None)
        self.deleted_bot_ids.append(bot.id)
        for event in self.calendar_events.values():
            if bot.id in event.bot_ids:
                event.bot_ids.remove(bot.id)

    def leave_bot(self, bot_id: str) -> SimBot:
        with self.lock:
            bot = self.get_bot(bot_id)
            if bot.state not in LEAVE_ALLOWED:
                raise SimError(
                    400,
                    {
                        "error": f"Event leave_requested not allowed when bot is in state {bot.state}. It is only "
                        f"allowed in these states: {', '.join(LEAVE_ALLOWED)}"
                    },
                )
            self._apply(bot, "leave_requested", self._now, sub_type="user_requested")
            return bot

    def delete_bot_data(self, bot_id: str) -> SimBot:
        with self.lock:
            bot = self.get_bot(bot_id)
            if bot.state not in ("ended", "fatal_error"):
                raise SimError(
                    400, {"error": "Bot is not in a state where the data deleted event can be created"}
                )
            self._apply(bot, "data_deleted", self._now)
            return bot

    def set_recording_paused(self, bot_id: str, paused: bool) -> SimBot:
        with self.lock:
            bot = self.get_bot(bot_id)
            kind = "recording_paused" if paused else "recording_resumed"
            if bot.state not in TRANSITIONS[kind][0]:
                raise SimError(400, {"error": f"Bot is in state {bot.state} and cannot {kind.split('_')[1]}"})
            self._apply(bot, kind, self._now)
            return bot

    def fail_bot(self, bot_id: str, sub_type: str = "process_terminated") -> SimBot:
        """Admin: put a bot into fatal_error (e.g. to test failure handling)."""
        with self.lock:
            bot = self.get_bot(bot_id)
            if bot.state not in TRANSITIONS["fatal_error"][0]:
                raise SimError(400, {"error": f"Bot is in state {bot.state}; it cannot fail any more"})
            self._apply(bot, "fatal_error", self._now, sub_type=sub_type)
            return bot

    def fire_event(self, bot_id: str, kind: str, sub_type: str | None = None) -> SimBot:
        """Admin: apply one bot event now, as the server's BotEventManager would (for setting up tests)."""
        with self.lock:
            bot = self.get_bot(bot_id)
            if kind not in TRANSITIONS:
                raise SimError(400, {"error": f"Unknown event type {kind}. Known: {', '.join(TRANSITIONS)}"})
            if bot.state not in TRANSITIONS[kind][0]:
                raise SimError(400, {"error": f"Event {kind} not allowed when bot is in state {bot.state}"})
            self._apply(bot, kind, self._now, sub_type=sub_type)
            return bot

    # ---------------------------------------------------------------------- the state machine
    def _later(self, bot: SimBot, when: datetime, kind: str, sub_type: str | None = None) -> None:
        generation = bot.generation

        def run(at: datetime) -> None:
            if bot.generation == generation and bot.id in self.bots and bot.state in TRANSITIONS[kind][0]:
                self._apply(bot, kind, at, sub_type=sub_type)

        self.schedule(when, run, bot)

    def _plan_schedule(self, bot: SimBot, join_at: datetime) -> None:
        bot.generation += 1
        bot.join_at = join_at
        self._later(bot, max(join_at - STAGE_BEFORE_JOIN, self._now), "staged")
        self._later(bot, max(join_at, self._now), "join_requested")

    def _meeting_for(self, bot: SimBot) -> MeetingSpec:
        """The scenario's meeting at the bot's URL, else the generated one; found once per URL and scenario."""
        if self._meetings_of is not self.scenario:
            self._meetings, self._meetings_of = {}, self.scenario
        meeting = self._meetings.get(bot.meeting_url)
        if meeting is None:
            meeting = self.scenario.meeting(bot.meeting_url) or generated_meeting(bot.meeting_url, self.seed)
            self._meetings[bot.meeting_url] = meeting
        return meeting

    def _apply(self, bot: SimBot, kind: str, at: datetime, sub_type: str | None = None) -> None:
        allowed, target = TRANSITIONS[kind]
        if bot.state not in allowed:
            return
        event: dict[str, Any] = {"type": kind, "created_at": iso(at)}
        if sub_type:
            event["sub_type"] = sub_type
        bot.events.append(event)
        old_state, bot.state = bot.state, target
        try:
            self._apply_effects(bot, kind, at)
        finally:
            if old_state != target:
                for listener in self.state_listeners:
                    listener(bot, old_state, kind, sub_type, at)

    def _apply_effects(self, bot: SimBot, kind: str, at: datetime) -> None:
        if kind == "join_requested":
            self._plan_admission(bot, at)
        elif kind == "joined_meeting":
            self._start_meeting(bot, at)
        elif kind == "recording_permission_granted":
            bot.recording_started_at = bot.recording_started_at or at
            bot.recording_state = "in_progress"
        elif kind == "recording_paused":
            bot.recording_state = "paused"
        elif kind == "recording_resumed":
            bot.recording_state = "in_progress"
        elif kind in ("leave_requested", "meeting_ended"):
            bot.generation += 1  # the meeting's remaining plan no longer applies
            bot.departed_at = bot.departed_at or at
            if kind == "leave_requested":
                self._later(bot, at + LEAVE_DURATION, "left_meeting")
            else:
                self._later(bot, at + POST_PROCESSING_DURATION, "post_processing_completed")
        elif kind == "left_meeting":
            self._later(bot, at + POST_PROCESSING_DURATION, "post_processing_completed")
        elif kind == "post_processing_completed":
            # As the real server's RecordingManager.terminate_recording: a recording in progress ends
            # complete when its file exists or none was asked for (format "none"), else failed; one that
            # never started stays not_started.
            if bot.recording_state in ("in_progress", "paused"):
                has_file = self.recording_storage or not bot.makes_recording_file
                bot.recording_state = "complete" if has_file else "failed"
            self._refresh_transcription(bot, at)
            bot.transcription_state = "complete" if self._transcribed(bot, at) else "not_started"
        elif kind in ("could_not_join_meeting", "fatal_error"):
            bot.generation += 1
            bot.departed_at = bot.departed_at or at
            # The real server terminates the recording here too: no file was uploaded (failed, unless no
            # file was asked for); a transcription in progress whose utterances are all transcribed (the
            # simulator transcribes each at once) completes.
            if bot.recording_state in ("in_progress", "paused"):
                bot.recording_state = "failed" if bot.makes_recording_file else "complete"
            if bot.transcription_state == "in_progress":
                bot.transcription_state = "complete"
        elif kind == "data_deleted":
            bot.data_deleted = True
            bot.content_due = False
            bot.observed.clear()
            bot.utterances.clear()
            bot.chat.clear()

    def _plan_admission(self, bot: SimBot, at: datetime) -> None:
        meeting = bot.meeting = self._meeting_for(bot)
        arrive = at + timedelta(seconds=meeting.join_delay_seconds)
        if meeting.admission == "denied":
            self._later(bot, arrive, "could_not_join_meeting", "request_to_join_denied")
        elif meeting.admission == "waiting_room":
            self._later(bot, arrive, "put_in_waiting_room")
            if meeting.admit_after_seconds is not None:
                self._later(bot, arrive + timedelta(seconds=meeting.admit_after_seconds), "joined_meeting")
            else:
                self._later(
                    bot,
                    arrive + timedelta(seconds=meeting.waiting_room_timeout_seconds),
                    "could_not_join_meeting",
                    "waiting_room_timeout_exceeded",
                )
        else:
            self._later(bot, arrive, "joined_meeting")

    def _start_meeting(self, bot: SimBot, at: datetime) -> None:
        """Admission: plan the meeting's timed changes; its content is built on first read (``_content``)."""
        meeting = bot.meeting = bot.meeting or self._meeting_for(bot)
        bot.admitted_at = at
        # Recording needs the bot's default Recording (a bot made without one never records); with
        # format "none" the bot records (transcribes) all the same, it only makes no file.
        if bot.has_recording:
            self._later(bot, at + RECORDING_PERMISSION_DELAY, "recording_permission_granted")
        end = meeting.end_offset()
        if end is not None:
            self._later(bot, at + timedelta(seconds=end), "meeting_ended")
        if meeting.spoken_lines:  # transcription starts once the first utterance is transcribed
            first = at + min(stop for _, stop in meeting.spoken_lines) + TRANSCRIPTION_DELAY
            self.schedule(first, functools.partial(self._refresh_transcription, bot), bot)
        bot.content_due = True
        if self.content_listeners:  # webhooks: each event and utterance when it becomes visible
            self._content(bot)
            items: list[ObservedEvent | Utterance] = [*bot.observed, *bot.utterances]
            for item in items:
                self.schedule(item.created_at, functools.partial(self._content_visible, bot, item), bot)
            for chat_line in bot.chat:  # chat_messages.update when the message is sent
                self.schedule(chat_line.at, functools.partial(self._content_visible, bot, chat_line), bot)

    def _content(self, bot: SimBot) -> SimBot:
        """The bot with its meeting's content, built on first need, so that a clock step never pays for
        meetings nobody reads (the content depends only on the seed, the bot and its admission)."""
        with self.lock:
            if bot.content_due and bot.meeting is not None and bot.admitted_at is not None:
                bot.content_due = False
                self.contents_built += 1
                self._build_content(bot, bot.meeting, bot.admitted_at)
            return bot

    def _transcribed(self, bot: SimBot, now: datetime) -> bool:
        """Whether an utterance the bot heard is transcribed by ``now`` (``visible_utterances`` is not
        empty), from the meeting's spoken lines: utterances are timed the same way in ``_build_content``."""
        at = bot.admitted_at
        if at is None or bot.meeting is None or bot.data_deleted:
            return False
        return any(
            at + stop + TRANSCRIPTION_DELAY <= now and bot.in_meeting_window(at + start)
            for start, stop in bot.meeting.spoken_lines
        )

    def _build_content(self, bot: SimBot, meeting: MeetingSpec, at: datetime) -> None:
        """The meeting's participants, their events, the transcript and the chat, for a bot admitted at ``at``."""
        rng = random.Random(f"{self.seed}:{bot.id}")
        ids = random.Random(f"{self.seed}:{bot.id}:ids")  # the bot's own: the same ids whenever it is built
        provider = transcription_provider(bot.meeting_url, bot.settings)
        people: dict[str, Participant] = {}
        observed: list[tuple[datetime, datetime, Participant, str, dict[str, Any]]] = []

        def stored(moment: datetime) -> datetime:
            # The server stores events as they arrive: a little later, so not in timestamp order.
            return moment + timedelta(milliseconds=rng.randint(0, 1500))

        for index, spec in enumerate(meeting.participants):
            uuid = spec.uuid or hashlib.sha1(f"{bot.id}:{index}:{spec.name}".encode()).hexdigest()[:24]
            person = people[uuid] = Participant(
                id=self.new_id("par_", ids),
                uuid=uuid,
                user_uuid=spec.user_uuid,
                name=spec.name,
                is_host=spec.is_host,
            )
            for stay in spec.presence:
                joined = at + timedelta(seconds=max(stay.join, 0.0))
                observed.append((joined, stored(joined), person, "join", {}))
                if stay.leave is not None:
                    left = at + timedelta(seconds=stay.leave)
                    observed.append((left, stored(left), person, "leave", {}))
            for speech in spec.speech:
                start = at + timedelta(seconds=speech.at)
                stop = start + timedelta(seconds=speech.duration)
                if bot.records_speech_events:
                    observed.append((start, stored(start), person, "speech_start", {}))
                    observed.append((stop, stored(stop), person, "speech_stop", {}))
                if speech.text:
                    duration_ms = round(speech.duration * 1000)
                    bot.utterances.append(
                        Utterance(
                            person,
                            start,
                            duration_ms,
                            speech.text,
                            stop + TRANSCRIPTION_DELAY,
                            transcription_body(provider, speech.text, duration_ms),
                        )
                    )
        observed.sort(key=lambda item: (item[1], item[0]))
        bot.observed = [
            ObservedEvent(self.new_id("pe_", ids), next(self._seq), person, kind, moment, created, data)
            for moment, created, person, kind, data in observed
        ]
        by_name = {p.name: p for p in people.values() if p.name}
        for line in meeting.chat:
            sender = (
                by_name.get(line.sender)
                or people.get(line.sender)
                or Participant(self.new_id("par_", ids), f"chat-{line.sender}", None, line.sender, False)
            )
            chat_line = ChatLine(
                self.new_id("msg_", ids), sender, at + timedelta(seconds=line.at), line.text, line.to
            )
            bot.chat.append(chat_line)

    def _refresh_transcription(self, bot: SimBot, now: datetime) -> None:
        """not_started -> in_progress once an utterance the bot heard is transcribed."""
        active = bot.state in JOINED or bot.state in ("leaving", "post_processing")
        if bot.transcription_state == "not_started" and active and self._transcribed(bot, now):
            bot.transcription_state = "in_progress"

    # ------------------------------------------------------------------- what a bot observed
    def _content_visible(self, bot: SimBot, item: Any, at: datetime) -> None:
        moment = (
            item.timestamp
            if isinstance(item, ObservedEvent)
            else item.at
            if isinstance(item, ChatLine)
            else item.start
        )
        if bot.in_meeting_window(moment) and not bot.data_deleted:
            for listener in self.content_listeners:
                listener(bot, item)

    def visible_events(self, bot: SimBot, now: datetime) -> list[ObservedEvent]:
        return [
            e
            for e in self._content(bot).observed
            if e.created_at <= now and bot.in_meeting_window(e.timestamp)
        ]

    def visible_utterances(self, bot: SimBot, now: datetime) -> list[Utterance]:
        return [
            u for u in self._content(bot).utterances if u.created_at <= now and bot.in_meeting_window(u.start)
        ]

    def visible_chat(self, bot: SimBot, now: datetime) -> list[ChatLine]:
        return [c for c in self._content(bot).chat if c.at <= now and bot.in_meeting_window(c.at)]

    def participants_seen(self, bot: SimBot, now: datetime) -> list[Participant]:
        seen: dict[str, Participant] = {}
        for event in sorted(self.visible_events(bot, now), key=lambda e: e.seq):
            seen.setdefault(event.participant.uuid, event.participant)
        return list(seen.values())

    def present_now(self, bot: SimBot, now: datetime) -> list[Participant]:
        """Ground truth for tests: who is in the meeting per the visible join/leave events."""
        present: dict[str, Participant] = {}
        events = sorted(self.visible_events(bot, now), key=lambda e: (e.timestamp, e.seq))
        for event in events:
            if event.event_type == "join":
                present[event.participant.uuid] = event.participant
            elif event.event_type == "leave":
                present.pop(event.participant.uuid, None)
        return list(present.values())
