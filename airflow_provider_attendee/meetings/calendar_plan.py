"""Calendar-to-bot reconciliation: which bots to create and delete for a set of calendar events.

Pure planning (no I/O): :func:`plan` turns calendar events and a selection into actions, and
:func:`execute_plan` runs them concurrently with a bounded limit on the async hook.

An event's bots are the ones in its ``bots`` list (bound with ``calendar_event_id``), never found by
comparing URLs: the server stores a bot's URL normalised and the event's raw. A bound ``scheduled`` bot
follows its event on the server (new start, new link); a ``staged`` bot (about to join) does not: when
its event moved, it no longer serves the event, so the event gets a new bot and the stale one is reported.
The same holds for a bot already in the meeting at the event's old start.
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
    already_had_bot: list[str] = field(default_factory=list)
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
            try:
                bot = await hook.acreate_bot(
                    calendar_event_id=event.id,
                    bot_name=render_template(bot_name, event),
                    deduplication_key=deduplication_key(key_prefix, event),
                    metadata={k: render_template(v, event) for k, v in (metadata or {}).items()} or None,
                    **(bot_settings or {}),
                )
                outcome.created.append({"event_id": event.id, "bot_id": bot.id})
            except AttendeeDeduplicationKeyInUseError:
                outcome.already_had_bot.append(event.id)  # created concurrently or by an earlier attempt
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
    outcome.already_had_bot.sort()
    return outcome


def summarise(actions: Plan, outcome: Outcome, window: Sequence[str]) -> dict[str, Any]:
    """The operator's XCom: counts and ids (small, JSON-serialisable)."""
    skipped = dict(actions.skipped)
    for event_id in outcome.already_had_bot:
        skipped[event_id] = "bot already exists (deduplication key in use)"
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
