"""Calendar-to-bot reconciliation: which bots to create and delete for a set of calendar events.

Pure planning (no I/O): :func:`plan` turns calendar events and a selection into actions, and
:func:`execute_plan` runs them concurrently with a bounded limit on the async hook.

An event's bots are the ones in its ``bots`` list (bound with ``calendar_event_id``), never found by
comparing URLs: the server stores a bot's URL normalised and the event's raw. A bound ``scheduled`` bot
follows its event on the server (new start, new link); a ``staged`` bot (about to join) does not: when
its event moved, it no longer serves the event, so the event gets a new bot and the stale one is reported.
The same holds for a bot already in the meeting at the event's old start.

A bot keeps its deduplication key when the server moves it, so an event's key (which names a start) can
be held by a bot that joins at another time: :func:`execute_plan` then checks who holds it
(:func:`key_holders`) and creates with a key derived from the holder (:func:`key_past`) unless the holder
serves the event.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from airflow_provider_attendee.client.errors import (
    AttendeeDeduplicationKeyInUseError,
    AttendeeError,
    AttendeeInvalidRequestError,
    AttendeeNotFoundError,
)
from airflow_provider_attendee.client.states import TERMINAL
from airflow_provider_attendee.meetings.arguments import check_selection

if TYPE_CHECKING:
    from airflow_provider_attendee.client.models import Bot, CalendarEvent

EventFilter = Callable[["CalendarEvent"], bool]


@dataclass(frozen=True)
class Selection:
    """Which calendar events get a bot: built-in rules plus an optional callable."""

    skip_name_regex: str | None = None
    min_attendees: int = 0
    attendee_domains: tuple[str, ...] = ()
    event_filter: EventFilter | None = None

    def __post_init__(self) -> None:
        check_selection(self.skip_name_regex, self.min_attendees)

    def reason_to_skip(self, event: CalendarEvent) -> str | None:
        """Why the event gets no bot, or None when it passes the selection."""
        if self.skip_name_regex and re.search(self.skip_name_regex, event.name or "", re.IGNORECASE):
            return "name matches skip_name_regex"
        attendees = event.attendees or []
        if len(attendees) < self.min_attendees:
            return f"{len(attendees)} attendees < min_attendees {self.min_attendees}"
        if self.attendee_domains:
            domains = {d.lower().lstrip("@") for d in self.attendee_domains}
            if not any((a.email or "").lower().rpartition("@")[2] in domains for a in attendees):
                return "no attendee from attendee_domains"
        if self.event_filter is not None and not self.event_filter(event):
            return "event_filter returned False"
        return None


@dataclass
class Plan:
    """What a reconciliation will do: creates (event ids), deletes (bot ids), and skips with reasons."""

    create: list[CalendarEvent] = field(default_factory=list)
    delete: list[tuple[CalendarEvent, Bot, str]] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    #: Bots the sync cannot remove (staged or later) of events that no longer want them, or that no longer
    #: serve their event: event id -> message.
    unremovable: dict[str, str] = field(default_factory=dict)
    events_seen: int = 0


def live_bots(event: CalendarEvent) -> list[Bot]:
    return [bot for bot in event.bots if bot.state not in TERMINAL]


def serves(bot: Bot, event: CalendarEvent) -> bool:
    """Whether a live bound bot will be in the event's meeting at its start: a ``scheduled`` bot follows
    its event on the server; a bot already past ``scheduled`` (staged, joining, in a meeting) stays with
    the start it was scheduled for, so it serves the event only if the event still starts then."""
    if bot.state == "scheduled" or bot.join_at is None:
        return True
    return abs((bot.join_at - event.start_time).total_seconds()) < 1


def deduplication_key(key_prefix: str, event: CalendarEvent) -> str:
    """One key per event and start time: concurrent syncs cannot double-book, and a moved event whose
    old bot was already staged can get a new one."""
    return f"{key_prefix}{event.id}@{int(event.start_time.timestamp())}"


def key_past(base_key: str, holder: Bot) -> str:
    """The key to use when the event's key (``base_key``, or one derived from it) is held by ``holder``, a
    live bot that does not serve the event.

    The server moves a ``scheduled`` bot with its event but keeps its key, so a key names the start its bot
    was created for, not the one it joins at: moved back to that start once its bot is staged, the event's
    key is held by a bot that joins at another time. The next key is derived from the holder, so that
    overlapping runs that meet the same holder try the same key (one of them creates, the others find
    that bot holding it and serving the event)."""
    return f"{base_key}~{holder.id}"


#: How many keys one create tries before it gives up (each further key is held by a bot that does not
#: serve the event: one per round of "moved back while staged", so more than one is already rare).
MAX_KEY_ATTEMPTS = 4


def plan(events: Iterable[CalendarEvent], selection: Selection) -> Plan:
    """Decide per event: create a bot, delete its scheduled bots, or leave it alone (with why)."""
    result = Plan()
    for event in events:
        result.events_seen += 1
        live = live_bots(event)
        reason: str | None
        if event.is_deleted:
            reason = "cancelled"
        elif not event.meeting_url:
            reason = "no meeting URL"
        else:
            reason = selection.reason_to_skip(event)
        if reason is None:
            serving = [bot for bot in live if serves(bot, event)]
            stale = [bot for bot in live if not serves(bot, event)]
            if stale:
                joins = stale[0].join_at.isoformat() if stale[0].join_at else "?"
                result.unremovable[event.id] = (
                    f"bot {stale[0].id} is {stale[0].state} for the event's old start ({joins}): "
                    "it does not follow the event, so the event gets a new bot"
                )
            if serving:
                result.skipped[event.id] = f"has live bot {serving[0].id}"
            else:
                result.create.append(event)
            continue
        removable = [bot for bot in live if bot.state == "scheduled"]
        for bot in removable:
            result.delete.append((event, bot, reason))
        unremovable = [bot for bot in live if bot.state != "scheduled"]
        if unremovable:
            result.unremovable[event.id] = (
                f"{reason}, but bot {unremovable[0].id} is {unremovable[0].state} and cannot be deleted"
            )
        if not removable:
            result.skipped[event.id] = reason
    return result


def render_template(template: str, event: CalendarEvent) -> str:
    """Fill ``{event_name}``-style fields from a calendar event (unknown fields stay as written)."""
    values = {
        "event_id": event.id,
        "event_name": event.name or "",
        "calendar_id": event.calendar_id,
        "meeting_url": event.meeting_url or "",
        "start_time": event.start_time.isoformat(),
        "end_time": event.end_time.isoformat(),
    }

    class Keep(dict[str, str]):
        def __missing__(self, key: str) -> str:
            return "{" + key + "}"

    return template.format_map(Keep(values))


@dataclass
class Outcome:
    created: list[dict[str, str]] = field(default_factory=list)
    cancelled: list[dict[str, str]] = field(default_factory=list)
    #: Transient failures (server errors, rate limits after retries, connection): a retry can finish them.
    failed: list[dict[str, str]] = field(default_factory=list)
    #: Permanent 4xx rejections of one event (e.g. a Zoom event in a project without Zoom credentials).
    rejected: list[dict[str, str]] = field(default_factory=list)
    #: Events whose key was held by a live bot that serves them (created concurrently, or by an earlier
    #: attempt): event id -> that bot's id.
    already_had_bot: dict[str, str] = field(default_factory=dict)
    too_late: list[str] = field(default_factory=list)


def _problem(event: CalendarEvent, action: str, err: AttendeeError) -> dict[str, str]:
    """A failed or rejected action, with what identifies the event's version (a rejection stands while
    the event is unchanged) and its start (to forget it once it has left the window)."""
    entry = {
        "event_id": event.id,
        "action": action,
        "error": str(err),
        "event_start": event.start_time.isoformat(),
    }
    if event.updated_at is not None:
        entry["event_updated_at"] = event.updated_at.isoformat()
    return entry


@dataclass
class RejectionMemory:
    """The permanent rejections of previous runs, so an unchanged refused event is not sent again on
    every run: a refused event is sent again when it changes, or when its rejection is older than
    ``retry_after`` (the project may have been fixed meanwhile, e.g. Zoom credentials added)."""

    entries: dict[str, dict[str, Any]]
    now: datetime
    retry_after: timedelta
    #: Send every refused event again in this run (set when some are due: they then stay in step).
    retry_all: bool = False

    @classmethod
    def from_summary(cls, summary: Any, now: datetime, retry_after: timedelta) -> RejectionMemory:
        """Read a previous run's summary (its ``rejected`` list); anything unreadable is ignored."""
        entries: dict[str, dict[str, Any]] = {}
        rejected = summary.get("rejected") if isinstance(summary, Mapping) else None
        for entry in rejected if isinstance(rejected, list) else []:
            if isinstance(entry, Mapping) and entry.get("action") == "create" and entry.get("rejected_at"):
                entries[str(entry["event_id"])] = dict(entry)
        return cls(entries, now, retry_after)

    def expired(self, entry: Mapping[str, Any]) -> bool:
        try:
            rejected_at = datetime.fromisoformat(str(entry["rejected_at"]))
        except ValueError:
            return True
        return self.now - rejected_at >= self.retry_after

    def holds(self, event: CalendarEvent) -> dict[str, Any] | None:
        """The standing rejection of this event, if it is unchanged since and recent enough."""
        entry = self.entries.get(event.id)
        if entry is None or self.retry_all or self.expired(entry) or event.updated_at is None:
            return None
        if entry.get("event_updated_at") != event.updated_at.isoformat():
            return None
        return {**entry, "sent": False}

    def due(self, window_start: datetime) -> bool:
        """Whether a remembered rejection of an event still ahead has expired (time to send it again)."""
        return any(self.expired(e) for e in self.entries.values() if _starts_after(e, window_start))

    def carried(self, listed: set[str], window_start: datetime) -> list[dict[str, Any]]:
        """The standing rejections of events a run did not list (unchanged, so not listed incrementally)
        and that are still ahead: reported again, and remembered for the next run."""
        return [
            {**entry, "sent": False}
            for event_id, entry in self.entries.items()
            if event_id not in listed and _starts_after(entry, window_start) and not self.expired(entry)
        ]


def latest_summary(pulled: Any) -> Mapping[str, Any] | None:
    """The previous run's summary out of what was read back: a summary as it is; a list of summaries (what
    Airflow's ``xcom_pull`` returns when it matched several runs' values) gives the newest by its
    ``synced_at``, never a list position (Airflow returns them in no defined order); else None."""
    if isinstance(pulled, Mapping):
        return pulled
    if not isinstance(pulled, list | tuple):
        return None
    dated = [(_parse_time(s.get("synced_at")), s) for s in pulled if isinstance(s, Mapping)]
    known = [(at, s) for at, s in dated if at is not None]
    return max(known, key=lambda pair: pair[0])[1] if known else None


def _parse_time(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None


def _starts_after(entry: Mapping[str, Any], moment: datetime) -> bool:
    try:
        return datetime.fromisoformat(str(entry["event_start"])) >= moment
    except (KeyError, ValueError):
        return False


async def execute_plan(
    hook: Any,
    actions: Plan,
    *,
    key_prefix: str,
    bot_name: str,
    metadata: Mapping[str, str] | None,
    bot_settings: Mapping[str, Any] | None,
    max_concurrency: int,
) -> Outcome:
    """Run the plan's creates and deletes concurrently (at most ``max_concurrency`` at a time).

    Every action is attempted; failures are collected, not raised.
    """
    outcome = Outcome()
    limit = asyncio.Semaphore(max_concurrency)

    async def create(event: CalendarEvent) -> None:
        async with limit:
            key = base_key = deduplication_key(key_prefix, event)
            refusals: list[AttendeeError] = []
            try:
                for _ in range(MAX_KEY_ATTEMPTS):
                    try:
                        bot = await hook.acreate_bot(
                            calendar_event_id=event.id,
                            bot_name=render_template(bot_name, event),
                            deduplication_key=key,
                            metadata={k: render_template(v, event) for k, v in (metadata or {}).items()}
                            or None,
                            **(bot_settings or {}),
                        )
                    except AttendeeDeduplicationKeyInUseError as err:
                        serving, blocking = await key_holders(hook, key, event)
                        if serving is not None:  # created concurrently or by an earlier attempt
                            outcome.already_had_bot[event.id] = serving.id
                            return
                        if blocking is not None:  # held by a bot that joins elsewhere: another key
                            key = key_past(base_key, blocking)
                        refusals.append(err)  # (else its holder just finished: the same key again)
                        continue
                    created = {"event_id": event.id, "bot_id": bot.id}
                    if key != base_key:
                        created["deduplication_key"] = key
                    outcome.created.append(created)
                    return
                outcome.failed.append(_problem(event, "create", refusals[-1]))
            except AttendeeInvalidRequestError as err:
                if "join_at" in err.field_errors:  # started between listing and creating: nothing to join
                    outcome.too_late.append(event.id)
                else:  # the server refuses this event as it is: retrying the same request cannot help
                    outcome.rejected.append(_problem(event, "create", err))
            except AttendeeNotFoundError as err:
                outcome.rejected.append(_problem(event, "create", err))
            except AttendeeError as err:
                outcome.failed.append(_problem(event, "create", err))

    async def delete(event: CalendarEvent, bot: Bot, reason: str) -> None:
        async with limit:
            try:
                await hook.adelete_bot(bot.id)
                outcome.cancelled.append({"event_id": event.id, "bot_id": bot.id, "reason": reason})
            except AttendeeNotFoundError:
                outcome.cancelled.append(
                    {"event_id": event.id, "bot_id": bot.id, "reason": reason + " (already gone)"}
                )
            except AttendeeInvalidRequestError as err:  # e.g. staged meanwhile: can no longer be deleted
                outcome.rejected.append(_problem(event, "delete", err))
            except AttendeeError as err:
                outcome.failed.append(_problem(event, "delete", err))

    await asyncio.gather(*(create(e) for e in actions.create), *(delete(*d) for d in actions.delete))
    for bucket in (outcome.created, outcome.cancelled, outcome.failed, outcome.rejected):
        bucket.sort(key=lambda item: item["event_id"])
    outcome.already_had_bot = dict(sorted(outcome.already_had_bot.items()))
    return outcome


async def key_holders(hook: Any, key: str, event: CalendarEvent) -> tuple[Bot | None, Bot | None]:
    """Who holds a deduplication key the server said is in use: ``(serving, blocking)``.

    ``serving`` is a live holder bound to the event (in its ``bots`` list, read again now: a bot created
    by a concurrent run since the listing is there too) that serves it at its current start: the event
    has its bot. Otherwise ``blocking`` is a live holder that does not (a bot the server moved with the
    event, then staged, at another start; or a bot of something else): the event needs another key. Both
    None: the holder finished meanwhile, the key is free again.
    """
    holders = [bot async for bot in hook.alist_bots(deduplication_key=key) if bot.state not in TERMINAL]
    if not holders:
        return None, None
    current = event
    async for fresh in hook.alist_calendar_events(event_id=event.id):
        if fresh.id == event.id:
            current = fresh
    bound = {bot.id for bot in current.bots}
    for bot in holders:
        if bot.id in bound and not current.is_deleted and serves(bot, current):
            return bot, None
    return None, holders[0]


def summarise(actions: Plan, outcome: Outcome, window: Sequence[str]) -> dict[str, Any]:
    """The operator's XCom: counts and ids (small, JSON-serialisable)."""
    skipped = dict(actions.skipped)
    for event_id, bot_id in outcome.already_had_bot.items():
        skipped[event_id] = f"bot already exists (deduplication key in use by bot {bot_id}, which serves it)"
    for event_id in outcome.too_late:
        skipped[event_id] = "started before its bot could be scheduled"
    return {
        "window": list(window),
        "events_seen": actions.events_seen,
        "counts": {
            "created": len(outcome.created),
            "skipped": len(skipped),
            "cancelled": len(outcome.cancelled),
            "failed": len(outcome.failed),
            "rejected": len(outcome.rejected),
            "unremovable": len(actions.unremovable),
        },
        "created": outcome.created,
        "cancelled": outcome.cancelled,
        "failed": outcome.failed,
        "rejected": outcome.rejected,
        "unremovable": dict(sorted(actions.unremovable.items())),
        "skipped": skipped,
    }
