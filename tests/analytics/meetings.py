"""Bots, calendar events and reports built by hand for the meeting-table tests: a known week of meetings."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from airflow_provider_attendee.analytics.rows import MeetingRow, ParticipantRow, meeting_rows
from airflow_provider_attendee.client.models import Bot, Calendar, CalendarEvent
from airflow_provider_attendee.meetings.report import MeetingReport, ParticipantStats

UTC = timezone.utc
#: Mondays: the digest's previous week, its week, and a week outside a one-week comparison.
WEEK_1 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
WEEK_2 = datetime(2026, 11, 9, 9, 0, tzinfo=UTC)
WEEK_0 = datetime(2026, 10, 26, 9, 0, tzinfo=UTC)


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def finished_bot(bot_id: str, start: datetime, minutes: float, **fields: Any) -> Bot:
    """A bot that joined at ``start`` and left ``minutes`` later."""
    end = start + timedelta(minutes=minutes)
    events = [
        ("join_requested", None, start - timedelta(minutes=1)),
        ("joined_meeting", None, start),
        ("recording_permission_granted", None, start),
        ("meeting_ended", None, end),
        ("post_processing_completed", None, end + timedelta(seconds=30)),
    ]
    return _bot(bot_id, "ended", events, **fields)


def failed_bot(
    bot_id: str, at: datetime, sub_type: str = "waiting_room_timeout_exceeded", **fields: Any
) -> Bot:
    """A bot never admitted: the waiting room, then could_not_join_meeting with ``sub_type``."""
    events = [
        ("join_requested", None, at - timedelta(minutes=6)),
        ("put_in_waiting_room", None, at - timedelta(minutes=5)),
        ("could_not_join_meeting", sub_type, at),
    ]
    return _bot(bot_id, "fatal_error", events, **fields)


def _bot(bot_id: str, state: str, events: list[tuple[str, str | None, datetime]], **fields: Any) -> Bot:
    body: dict[str, Any] = {
        "id": bot_id,
        "meeting_url": fields.pop("meeting_url", f"https://meet.google.com/{bot_id[-3:]}-abcd-efg"),
        "state": state,
        "events": [
            {"type": kind, "created_at": iso(when), **({"sub_type": sub} if sub else {})}
            for kind, sub, when in events
        ],
        "metadata": fields.pop("metadata", None),
    }
    return Bot.model_validate({**body, **fields})


def report(
    start: datetime | None, minutes: float, people: list[tuple[str, str, float, float, bool]]
) -> MeetingReport:
    """A report with ``(uuid, name, present s, speaking s, host)`` per participant, as ReportBuilder makes one."""
    total = sum(p[3] for p in people)
    end = start + timedelta(minutes=minutes) if start else None
    stats = [
        ParticipantStats(
            uuid=uuid,
            name=name,
            is_host=host,
            first_join=iso(start) if start else None,
            last_leave=iso(start + timedelta(seconds=present)) if start else None,
            present_seconds=present,
            speaking_seconds=spoke,
            talk_share=round(spoke / total, 4) if total else 0.0,
            speaking_turns=1 if spoke else 0,
            joins=1,
        )
        for uuid, name, present, spoke, host in people
    ]
    return MeetingReport(
        start=iso(start) if start else None,
        end=iso(end) if end else None,
        duration_seconds=minutes * 60 if start else 0.0,
        participants=stats,
        peak_concurrent=len(people),
        peak_at=iso(start) if start else None,
        total_speaking_seconds=total,
        timeline=[],
        events_processed=0,
    )


def event(
    event_id: str,
    calendar_id: str,
    name: str,
    start: datetime,
    attendees: list[tuple[str, str]],
    ical_uid: str | None = None,
    raw: dict[str, Any] | None = None,
) -> CalendarEvent:
    """A calendar event; occurrences of one recurring event share ``ical_uid`` (Google) or a ``raw`` id."""
    return CalendarEvent.model_validate(
        {
            "id": event_id,
            "calendar_id": calendar_id,
            "name": name,
            "meeting_url": "https://meet.google.com/abc-defg-hij",
            "start_time": iso(start),
            "end_time": iso(start + timedelta(hours=1)),
            "attendees": [{"name": n, "email": e} for n, e in attendees],
            "ical_uid": ical_uid,
            "raw": raw,
        }
    )


def calendar(calendar_id: str, key: str) -> Calendar:
    return Calendar.model_validate(
        {
            "id": calendar_id,
            "platform": "google",
            "state": "connected",
            "deduplication_key": key,
            "created_at": iso(WEEK_0),
            "updated_at": iso(WEEK_0),
        }
    )


ENG = calendar("cal_eng", "team-eng")
#: The iCalUID that Google gives every occurrence of the recurring standup.
STANDUP_UID = "standup@google.com"
SALES = calendar("cal_sales", "team-sales")
ENG_INVITES = [
    ("Ann Lee", "ann@example.com"),
    ("Bob Ray", "bob@example.com"),
    ("Cat Wu", "cat@example.com"),
    ("Zed Alm", "zed@example.com"),
]
SALES_INVITES = [
    ("Ann Lee", "ann@example.com"),
    ("Dan Ortiz", "dan@example.com"),
    ("Xia Chen", "xia@acme.example"),
]


def known_weeks() -> list[tuple[MeetingRow, list[ParticipantRow]]]:
    """Two weeks of meetings whose digest tests/analytics/test_digest.py computes by hand (and one older)."""

    def rows(bot: Bot, rep: MeetingReport, evt: CalendarEvent | None = None, cal: Calendar | None = None):
        return meeting_rows(bot, rep, event=evt, calendar=cal, written_at=WEEK_2 + timedelta(days=7))

    ann, bob, cat, dan, eve = "u-ann", "u-bob", "u-cat", "u-dan", "u-eve"
    w1_standup = WEEK_1
    w2_standup_a = WEEK_2
    w2_standup_b = WEEK_2 + timedelta(days=2)
    return [
        # Week 0: outside a digest of week 2 with one previous week.
        rows(finished_bot("bot_old", WEEK_0, 50), report(WEEK_0, 50, [(ann, "Ann Lee", 3000, 3000, True)])),
        # Week 1: the standup (3 of 4 invited) and a sales call.
        rows(
            finished_bot("bot_w1_standup", w1_standup, 30),
            report(
                w1_standup,
                30,
                [
                    (ann, "Ann Lee", 1800, 300, True),
                    (bob, "Bob Ray", 1800, 100, False),
                    (cat, "Cat Wu", 1200, 100, False),
                ],
            ),
            event("evt_s1", "cal_eng", "Standup", w1_standup, ENG_INVITES, STANDUP_UID),
            ENG,
        ),
        rows(
            finished_bot("bot_w1_sales", WEEK_1 + timedelta(days=1), 60),
            report(
                WEEK_1 + timedelta(days=1),
                60,
                [(ann + "-2", "ann lee", 3600, 60, False), (dan, "Dan Ortiz", 3600, 540, True)],
            ),
            event("evt_sales", "cal_sales", "Sales call", WEEK_1 + timedelta(days=1), SALES_INVITES),
            SALES,
        ),
        rows(failed_bot("bot_w1_fail", WEEK_1 + timedelta(days=3)), report(None, 0, [])),
        # Week 2: the standup twice (2, then 3 attended: losing people on average), and an ad-hoc call.
        rows(
            finished_bot("bot_w2_standup_a", w2_standup_a, 15),
            report(w2_standup_a, 15, [(ann, "Ann Lee", 900, 100, True), (bob, "Bob Ray", 900, 300, False)]),
            event("evt_s2", "cal_eng", "Standup", w2_standup_a, ENG_INVITES, STANDUP_UID),
            ENG,
        ),
        rows(
            finished_bot("bot_w2_standup_b", w2_standup_b, 45),
            report(
                w2_standup_b,
                45,
                [
                    (ann, "Ann Lee", 2700, 200, True),
                    (bob, "Bob Ray", 2700, 100, False),
                    (eve, "Eve Sato", 1800, 0, False),
                ],
            ),
            event("evt_s3", "cal_eng", "  standup ", w2_standup_b, ENG_INVITES, STANDUP_UID),
            ENG,
        ),
        rows(
            finished_bot(
                "bot_w2_adhoc", WEEK_2 + timedelta(days=3), 30, meeting_url="https://zoom.us/j/5550001"
            ),
            report(WEEK_2 + timedelta(days=3), 30, [(dan + "-zoom", "Dan Ortiz", 1800, 120, True)]),
        ),
        rows(
            failed_bot("bot_w2_denied", WEEK_2 + timedelta(days=1), "request_to_join_denied"),
            report(None, 0, []),
        ),
        rows(failed_bot("bot_w2_waiting", WEEK_2 + timedelta(days=4)), report(None, 0, [])),
    ]
