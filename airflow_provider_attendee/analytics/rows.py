"""Rows of the meeting tables from a bot, its participant report and its calendar event (pure, no Airflow).

The figures (presence, speaking, turns, peak) are the report's own (:class:`~airflow_provider_attendee.
report.MeetingReport`), never recomputed here. What this module adds: the bot's outcome and failure reason,
the meeting's week, its platform and series, and the participants' emails.

**Outcome.** ``failed`` when the bot ended in ``fatal_error`` or never got into the meeting (no
``joined_meeting`` event: never admitted, denied, the meeting ended in the waiting room); ``completed``
otherwise. The failure reason is the sub type of the event that ended the bot (``fatal_error`` or
``could_not_join_meeting``, else the departure), or that event's type when it has none.

**Email rule.** A participant gets an email only from the meeting's calendar event, and only when the match
is one to one: the participant's display name equals an attendee's name (compared without case, accents
and repeated spaces) or is that attendee's email, exactly one attendee matches the participant, and no
other participant matches that attendee. Two people shown as "Alex Kim", two attendees of the same name,
or an unnamed participant get no email.

**Series.** Occurrences of one recurring meeting share ``series_key``. A bot of a calendar event: the
calendar and the event's recurring id (Google's ``recurringEventId``, Microsoft's ``seriesMasterId``, else
its ``ical_uid``, which Google shares across a series' occurrences, else the event's id), so renaming an
occurrence keeps it in its series and two events that share only a name stay apart. Any other bot: its
meeting URL, whatever name its metadata gives it (ad-hoc meetings that share a name are different meetings).
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlparse

from airflow_provider_attendee.client.models import Bot, Calendar, CalendarEvent
from airflow_provider_attendee.client.states import DEPARTURE_EVENTS, JOINED_EVENT
from airflow_provider_attendee.meetings.report import MeetingReport

#: Bot metadata keys read for the calendar event (the example calendar sync sets both).
EVENT_ID_KEY = "event_id"
EVENT_NAME_KEY = "event_name"
#: Keys of a calendar event's ``raw`` (the provider's own event) naming the series it is an occurrence of:
#: Google Calendar's, then Microsoft Graph's (whose ``iCalUId`` differs per occurrence).
RECURRING_ID_KEYS = ("recurringEventId", "seriesMasterId")
FAILURE_EVENTS = frozenset({"fatal_error", "could_not_join_meeting"})
PLATFORMS = {
    "zoom.us": "zoom",
    "meet.google.com": "google_meet",
    "teams.microsoft.com": "teams",
    "teams.live.com": "teams",
}


@dataclass(frozen=True)
class MeetingRow:
    """One row of the meetings table: a bot, finished or failed."""

    bot_id: str
    meeting_url: str
    platform: str
    calendar_id: str | None
    calendar_name: str | None
    calendar_event_id: str | None
    event_name: str | None
    series_key: str
    invited: int | None
    outcome: str
    failure_reason: str | None
    final_state: str
    last_event_type: str | None
    last_event_sub_type: str | None
    started_at: datetime | None
    ended_at: datetime | None
    week_start: date
    duration_seconds: float
    participants: int
    peak_concurrent: int
    total_speaking_seconds: float
    written_at: datetime


@dataclass(frozen=True)
class ParticipantRow:
    """One row of the participants table: a person in a meeting, with the report's figures."""

    bot_id: str
    participant_key: str
    display_name: str
    email: str | None
    is_host: bool
    present_seconds: float
    speaking_seconds: float
    talk_share: float
    speaking_turns: int
    joins: int
    first_join: datetime | None
    last_leave: datetime | None


def normalise_name(name: str | None) -> str:
    """A name compared without case, accents and repeated spaces ("Chloé  Martin" == "chloe martin")."""
    decomposed = unicodedata.normalize("NFKD", name or "")
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(plain.casefold().split())


def match_emails(
    participants: dict[str, str], attendees: list[tuple[str | None, str | None]]
) -> dict[str, str]:
    """Emails by participant key, from ``{key: display name}`` and the event's ``(name, email)`` attendees,
    by the one-to-one rule in the module's docstring."""
    invited = [(normalise_name(name), email.strip().casefold()) for name, email in attendees if email]
    candidates: dict[str, set[str]] = {}
    for key, shown in participants.items():
        wanted = normalise_name(shown)
        matches = {email for name, email in invited if wanted in (name, email)} if wanted else set()
        if matches:
            candidates[key] = matches
    claimed = Counter(email for emails in candidates.values() for email in emails)
    return {
        key: next(iter(emails))
        for key, emails in candidates.items()
        if len(emails) == 1 and claimed[next(iter(emails))] == 1
    }


def platform_of(meeting_url: str) -> str:
    """zoom, google_meet, teams, or the URL's host for another platform."""
    host = (urlparse(meeting_url).hostname or "").lower()
    for domain, platform in PLATFORMS.items():
        if host == domain or host.endswith("." + domain):
            return platform
    return host or "unknown"


def week_of(moment: datetime) -> date:
    """The Monday (UTC) of the ISO week of ``moment``."""
    day = moment.astimezone(timezone.utc).date()
    return day - timedelta(days=day.weekday())


def _parse(iso: str | None) -> datetime | None:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")) if iso else None


def outcome_of(bot: Bot) -> tuple[str, str | None]:
    """("completed", None) or ("failed", reason), by the rule in the module's docstring."""
    joined = any(event.type == JOINED_EVENT for event in bot.events)
    if joined and bot.state != "fatal_error":
        return "completed", None
    decisive = next((e for e in reversed(bot.events) if e.type in FAILURE_EVENTS), None) or next(
        (e for e in reversed(bot.events) if e.type in DEPARTURE_EVENTS), None
    )
    if decisive is None:
        return "failed", bot.state
    return "failed", decisive.sub_type or decisive.type


def series_of(bot: Bot, event: CalendarEvent | None) -> str:
    """The bot's series by the rule in the module's docstring: its calendar event's recurring id, else its
    meeting URL (never a name: different meetings can share one)."""
    if event is None:
        return bot.meeting_url
    raw = event.raw if isinstance(event.raw, dict) else {}
    recurring = next(
        (str(v) for v in (raw.get(k) for k in RECURRING_ID_KEYS) if v), event.ical_uid or event.id
    )
    return f"{event.calendar_id}:{recurring}"


def meeting_rows(
    bot: Bot,
    report: MeetingReport,
    *,
    event: CalendarEvent | None = None,
    calendar: Calendar | None = None,
    written_at: datetime | None = None,
) -> tuple[MeetingRow, list[ParticipantRow]]:
    """The meeting's row and its participants' rows (the report's figures, emails by the documented rule)."""
    metadata: dict[str, Any] = bot.metadata or {}
    written = written_at or datetime.now(timezone.utc)
    outcome, reason = outcome_of(bot)
    departure = next((e.created_at for e in reversed(bot.events) if e.type in DEPARTURE_EVENTS), None)
    started, ended = _parse(report.start), _parse(report.end) or departure
    if outcome == "failed" and not any(e.type == JOINED_EVENT for e in bot.events):
        started = None  # the report's start is the first event it saw, not an admission
    last = bot.last_event
    when = started or ended or (last.created_at if last else None) or bot.join_at or written
    event_name = (event.name if event else None) or metadata.get(EVENT_NAME_KEY)
    calendar_id = event.calendar_id if event else None
    attendees = [(a.name, a.email) for a in (event.attendees or [])] if event else []
    emails = match_emails({p.uuid: p.name for p in report.participants}, attendees)
    meeting = MeetingRow(
        bot_id=bot.id,
        meeting_url=bot.meeting_url,
        platform=platform_of(bot.meeting_url),
        calendar_id=calendar_id,
        calendar_name=(calendar.deduplication_key or calendar.id) if calendar else calendar_id,
        calendar_event_id=(event.id if event else None) or metadata.get(EVENT_ID_KEY),
        event_name=event_name,
        series_key=series_of(bot, event),
        invited=len(event.attendees or []) if event else None,
        outcome=outcome,
        failure_reason=reason,
        final_state=bot.state,
        last_event_type=last.type if last else None,
        last_event_sub_type=last.sub_type if last else None,
        started_at=started,
        ended_at=ended,
        week_start=week_of(when),
        duration_seconds=report.duration_seconds if started else 0.0,
        participants=len(report.participants),
        peak_concurrent=report.peak_concurrent,
        total_speaking_seconds=report.total_speaking_seconds,
        written_at=written,
    )
    people = [
        ParticipantRow(
            bot_id=bot.id,
            participant_key=p.uuid,
            display_name=p.name,
            email=emails.get(p.uuid),
            is_host=p.is_host,
            present_seconds=p.present_seconds,
            speaking_seconds=p.speaking_seconds,
            talk_share=p.talk_share,
            speaking_turns=p.speaking_turns,
            joins=p.joins,
            first_join=_parse(p.first_join),
            last_leave=_parse(p.last_leave),
        )
        for p in report.participants
    ]
    return meeting, people
