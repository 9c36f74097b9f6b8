"""The weekly digest's figures: SQL over the meeting tables, and the little arithmetic on its results (pure).

A digest covers one ISO week (Monday to Sunday, UTC) and compares it with the ``weeks`` before. Each
section is one query, aggregated by the database (portable SQL: the tables carry each meeting's
``week_start``, so no date function is needed):

- meeting hours per week (meetings, hours, person-hours, people) and per calendar;
- talk-time share per person: the share of the talk in the meetings the person attended (their speaking
  time over those meetings' total), this week against the previous weeks together (the trend, in points);
- attendance per recurring meeting (series): average attended and invited per week;
- failed bots by reason, and the week's failed bots.

People are counted by email where the email rule found one, else by display name.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any

from airflow_provider_attendee.analytics.action_items import OpenActionItem
from airflow_provider_attendee.analytics.rows import normalise_name, week_of
from airflow_provider_attendee.analytics.schema import Dialect, TableNames
from airflow_provider_attendee.analytics.store import adapt

#: ``(sql, parameters) -> rows``: how the digest reads the database (a DB-API connection, a hook).
Query = Callable[[str, Sequence[Any]], list[tuple[Any, ...]]]
NO_CALENDAR = "(no calendar)"
FAILED_BOTS_LISTED = 20


def digest_week(which: str | date | None, reference: datetime) -> date:
    """The Monday of the week to report: ``previous`` (default: the last full week before ``reference``),
    ``current``, or any date in the wanted week (``2026-11-30``)."""
    if isinstance(which, date):
        return which - timedelta(days=which.weekday())
    text = (which or "previous").strip().lower()
    if text == "previous":
        return week_of(reference) - timedelta(days=7)
    if text == "current":
        return week_of(reference)
    day = date.fromisoformat(text[:10])
    return day - timedelta(days=day.weekday())


@dataclass(frozen=True)
class WeekTotal:
    week: str
    meetings: int
    hours: float
    person_hours: float
    people: int


@dataclass(frozen=True)
class CalendarHours:
    calendar: str
    #: hours by week (ISO Monday), every week of the window (0.0 when none)
    hours: dict[str, float]
    meetings: int


@dataclass(frozen=True)
class PersonShare:
    person: str
    name: str
    email: str | None
    meetings: int
    speaking_seconds: float
    present_seconds: float
    #: speaking time over the total talk of the meetings attended, this week (0..1)
    share: float
    #: the same over the previous weeks together, None when the person was in none of their meetings
    previous_share: float | None

    @property
    def trend(self) -> float | None:
        """Change of the share against the previous weeks, in share units (0.05 = 5 points)."""
        return None if self.previous_share is None else self.share - self.previous_share


@dataclass(frozen=True)
class SeriesAttendance:
    series_key: str
    name: str
    #: (week, occurrences, average attended, average invited or None), oldest first
    weeks: list[tuple[str, int, float, float | None]]

    @property
    def occurrences(self) -> int:
        return sum(count for _, count, _, _ in self.weeks)

    @property
    def change(self) -> float | None:
        """Average attendance of the last week with the meeting minus that of the first (None: one week)."""
        return self.weeks[-1][2] - self.weeks[0][2] if len(self.weeks) > 1 else None


@dataclass(frozen=True)
class FailureCount:
    reason: str
    this_week: int
    window: int


@dataclass(frozen=True)
class FailedBot:
    bot_id: str
    name: str
    when: str | None
    reason: str
    platform: str


@dataclass
class Digest:
    week: str
    weeks: list[str]
    totals: list[WeekTotal]
    calendars: list[CalendarHours]
    people: list[PersonShare]
    series: list[SeriesAttendance]
    failures: list[FailureCount]
    failed_bots: list[FailedBot] = field(default_factory=list)
    #: open action items of the meeting notes up to this week (``analytics.action_items``)
    open_action_items: list[OpenActionItem] = field(default_factory=list)

    def this_week(self) -> WeekTotal:
        return next((t for t in self.totals if t.week == self.week), WeekTotal(self.week, 0, 0.0, 0.0, 0))

    def headline(self) -> dict[str, Any]:
        """The few numbers worth an XCom."""
        week = self.this_week()
        top = max(self.people, key=lambda p: p.speaking_seconds, default=None)
        return {
            "week": self.week,
            "meetings": week.meetings,
            "hours": week.hours,
            "people": week.people,
            "failed_bots": sum(f.this_week for f in self.failures),
            "open_action_items": len(self.open_action_items),
            "top_speaker": top.name if top and top.speaking_seconds else None,
        }


def _day(value: Any) -> str:
    """A DATE column's value as ISO text, whatever the driver returns (date, datetime or text)."""
    return value.isoformat()[:10] if isinstance(value, (date, datetime)) else str(value)[:10]


def _ratio(part: float, whole: float) -> float:
    return round(part / whole, 4) if whole else 0.0


class DigestQueries:
    """The digest's SQL for one table set and database."""

    def __init__(self, tables: TableNames, dialect: Dialect) -> None:
        self.tables = tables
        self.dialect = dialect

    def _window(self, alias: str = "m") -> str:
        mark = self.dialect.placeholder
        return f"{alias}.week_start >= {mark} AND {alias}.week_start <= {mark}"

    def hours_per_week(self) -> str:
        return (
            f"SELECT m.week_start, COUNT(*), SUM(m.duration_seconds) FROM {self.tables.meetings} m "
            f"WHERE m.outcome = 'completed' AND {self._window()} GROUP BY m.week_start"
        )

    def hours_per_calendar(self) -> str:
        label = f"COALESCE(m.calendar_name, '{NO_CALENDAR}')"
        return (
            f"SELECT {label}, m.week_start, COUNT(*), SUM(m.duration_seconds) FROM {self.tables.meetings} m "
            f"WHERE m.outcome = 'completed' AND {self._window()} GROUP BY {label}, m.week_start"
        )

    def talk_per_person(self) -> str:
        """Per person and week: meetings, speaking, the talk of those meetings (each meeting once, even
        when two participants share a display name), presence."""
        person = "COALESCE(p.email, p.display_name)"
        per_meeting = (
            f"SELECT {person} AS person, MAX(p.display_name) AS name, MAX(p.email) AS email, "
            "m.week_start AS week_start, SUM(p.speaking_seconds) AS spoke, "
            "MAX(m.total_speaking_seconds) AS heard, SUM(p.present_seconds) AS seen "
            f"FROM {self.tables.participants} p JOIN {self.tables.meetings} m ON m.bot_id = p.bot_id "
            f"WHERE m.outcome = 'completed' AND {self._window()} GROUP BY {person}, m.week_start, m.bot_id"
        )
        return (
            "SELECT t.person, MAX(t.name), MAX(t.email), t.week_start, COUNT(*), SUM(t.spoke), SUM(t.heard), "
            f"SUM(t.seen) FROM ({per_meeting}) t GROUP BY t.person, t.week_start"
        )

    def attendance_per_series(self) -> str:
        return (
            "SELECT m.series_key, MAX(COALESCE(m.event_name, m.meeting_url)), m.week_start, COUNT(*), "
            "SUM(m.participants), SUM(m.invited), COUNT(m.invited) "
            f"FROM {self.tables.meetings} m WHERE m.outcome = 'completed' AND {self._window()} "
            "GROUP BY m.series_key, m.week_start"
        )

    def failures_by_reason(self) -> str:
        mark = self.dialect.placeholder
        return (
            f"SELECT m.failure_reason, SUM(CASE WHEN m.week_start = {mark} THEN 1 ELSE 0 END), COUNT(*) "
            f"FROM {self.tables.meetings} m WHERE m.outcome = 'failed' AND {self._window()} "
            "GROUP BY m.failure_reason"
        )

    def failed_bots(self) -> str:
        mark = self.dialect.placeholder
        return (
            "SELECT m.bot_id, COALESCE(m.event_name, m.meeting_url), COALESCE(m.ended_at, m.written_at), "
            f"m.failure_reason, m.platform FROM {self.tables.meetings} m "
            f"WHERE m.outcome = 'failed' AND m.week_start = {mark} "
            f"ORDER BY COALESCE(m.ended_at, m.written_at) DESC, m.bot_id LIMIT {FAILED_BOTS_LISTED}"
        )


#: (person, name, email, week, meetings, spoke s, meetings' talk s, present s) from ``talk_per_person``
TalkRow = tuple[str, str, Any, str, int, float, float, float]


def compute_digest(
    query: Query, tables: TableNames, dialect: Dialect, week: date, previous_weeks: int = 4
) -> Digest:
    """Run the digest's queries for ``week`` (a Monday) and the ``previous_weeks`` before it."""
    sql = DigestQueries(tables, dialect)
    first = week - timedelta(days=7 * previous_weeks)
    weeks = [(first + timedelta(days=7 * i)).isoformat() for i in range(previous_weeks + 1)]
    this, window = week.isoformat(), [adapt(first, dialect), adapt(week, dialect)]
    talk = _merge_unmatched(
        [
            (
                str(person),
                str(name),
                email,
                _day(w),
                int(n),
                float(spoke or 0),
                float(heard or 0),
                float(seen or 0),
            )
            for person, name, email, w, n, spoke, heard, seen in query(sql.talk_per_person(), window)
        ]
    )
    failures = sorted(
        (
            FailureCount(str(reason or "unknown"), int(now or 0), int(total))
            for reason, now, total in query(sql.failures_by_reason(), [adapt(week, dialect), *window])
        ),
        key=lambda f: (-f.this_week, -f.window, f.reason),
    )
    failed = [
        FailedBot(str(bot), str(name), _when(when), str(reason or "unknown"), str(platform))
        for bot, name, when, reason, platform in query(sql.failed_bots(), [adapt(week, dialect)])
    ]
    return Digest(
        week=this,
        weeks=weeks,
        totals=_totals(query(sql.hours_per_week(), window), talk, weeks),
        calendars=_calendars(query(sql.hours_per_calendar(), window), weeks, this),
        people=_people(talk, this),
        series=_series(query(sql.attendance_per_series(), window)),
        failures=failures,
        failed_bots=failed,
    )


def _totals(rows: list[tuple[Any, ...]], talk: list[TalkRow], weeks: list[str]) -> list[WeekTotal]:
    """Meetings and hours per week (SQL), with the person-hours and people of the (merged) talk rows."""
    counted = {_day(w): (int(n), float(seconds or 0)) for w, n, seconds in rows}
    present: dict[str, float] = {}
    people: dict[str, set[str]] = {}
    for person, _, _, w, _, _, _, seen in talk:
        present[w] = present.get(w, 0.0) + seen
        people.setdefault(w, set()).add(person)
    return [
        WeekTotal(
            w,
            counted.get(w, (0, 0.0))[0],
            round(counted.get(w, (0, 0.0))[1] / 3600, 2),
            round(present.get(w, 0.0) / 3600, 2),
            len(people.get(w, ())),
        )
        for w in weeks
    ]


def _calendars(rows: list[tuple[Any, ...]], weeks: list[str], this: str) -> list[CalendarHours]:
    hours: dict[str, dict[str, float]] = {}
    meetings: dict[str, int] = {}
    for label, w, count, seconds in rows:
        hours.setdefault(str(label), dict.fromkeys(weeks, 0.0))[_day(w)] = round(
            float(seconds or 0) / 3600, 2
        )
        if _day(w) == this:
            meetings[str(label)] = int(count)
    return sorted(
        (CalendarHours(label, by_week, meetings.get(label, 0)) for label, by_week in hours.items()),
        key=lambda c: (-c.hours[this], -sum(c.hours.values()), c.calendar),
    )


def _people(talk: list[TalkRow], this: str) -> list[PersonShare]:
    """This week's people with their share, against their share over the previous weeks together."""
    now: dict[str, list[Any]] = {}
    before: dict[str, list[float]] = {}
    for person, name, email, w, count, spoke, heard, seen in talk:
        if w == this:
            entry = now.setdefault(person, [name, email, 0, 0.0, 0.0, 0.0])
            entry[2:] = [entry[2] + count, entry[3] + spoke, entry[4] + heard, entry[5] + seen]
        else:
            sums = before.setdefault(person, [0.0, 0.0])
            sums[0] += spoke
            sums[1] += heard
    return sorted(
        (
            PersonShare(
                person=person,
                name=name,
                email=email,
                meetings=count,
                speaking_seconds=round(spoke, 3),
                present_seconds=round(seen, 3),
                share=_ratio(spoke, heard),
                previous_share=_ratio(*before[person]) if before.get(person, [0.0, 0.0])[1] else None,
            )
            for person, (name, email, count, spoke, heard, seen) in now.items()
        ),
        key=lambda p: (-p.speaking_seconds, p.name),
    )


def _series(rows: list[tuple[Any, ...]]) -> list[SeriesAttendance]:
    """Average attendance per series and week; the series losing most people first."""
    names: dict[str, str] = {}
    weeks: dict[str, list[tuple[str, int, float, float | None]]] = {}
    for key, name, w, count, attended, invited, with_invites in rows:
        names.setdefault(str(key), str(name))
        weeks.setdefault(str(key), []).append(
            (
                _day(w),
                int(count),
                round(float(attended or 0) / int(count), 2),
                round(float(invited) / int(with_invites), 2) if with_invites else None,
            )
        )
    return sorted(
        (SeriesAttendance(key, names[key], sorted(by_week)) for key, by_week in weeks.items()),
        key=lambda s: (s.change if s.change is not None else 0.0, -s.occurrences, s.name),
    )


def _merge_unmatched(rows: list[TalkRow]) -> list[TalkRow]:
    """Count a person seen without an email (no calendar event) under the email of the same name, when
    exactly one emailed person in the results has that name; others stay under their display name."""
    emailed: dict[str, set[str]] = {}
    emails: dict[str, Any] = {}
    for person, name, email, *_ in rows:
        if email:
            emailed.setdefault(normalise_name(name), set()).add(person)
            emails[person] = email
    merged: list[TalkRow] = []
    for row in rows:
        owners = emailed.get(normalise_name(row[1]), set()) if not row[2] else set()
        if len(owners) == 1:
            (owner,) = owners
            row = (owner, row[1], emails[owner], *row[3:])
        merged.append(row)
    return merged


def _when(value: Any) -> str | None:
    """A timestamp column as ``YYYY-MM-DD HH:MM`` UTC text."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return (value.astimezone(timezone.utc) if value.tzinfo else value).strftime("%Y-%m-%d %H:%M")
    return str(value).replace("T", " ")[:16]
