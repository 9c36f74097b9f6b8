"""Rows of the meeting tables: the report's figures as they are, the outcome and reason, the email rule,
the week, the platform and the series; the DDL per database."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from airflow_provider_attendee.analytics.rows import (
    match_emails,
    meeting_rows,
    outcome_of,
    platform_of,
    week_of,
)
from airflow_provider_attendee.analytics.schema import DIALECTS, TableNames, ddl
from airflow_provider_attendee.client.models import Bot
from airflow_provider_attendee.meetings.report import ReportBuilder
from tests.analytics.meetings import (
    ENG,
    ENG_INVITES,
    STANDUP_UID,
    WEEK_2,
    event,
    failed_bot,
    finished_bot,
    report,
)

STANDUP_ATTENDEES = [
    ("Nadia Petrova", "nadia@example.com"),
    ("Ben Adeyemi", "ben@example.com"),
    ("Alex Kim", "alex.kim@example.com"),
]


def test_emails_only_for_one_to_one_matches():
    participants = {
        "u1": "Nadia Petrova",
        "u2": "ben adeyemi",  # case
        "u3": "Alex Kim",
        "u4": "Alex Kim",  # two people shown alike: neither gets the email
        "u5": "Unnamed participant (uuid 12345678)",
        "u6": "NADIA@example.com",  # the email as display name... but Nadia is matched twice now
    }
    assert match_emails(participants, STANDUP_ATTENDEES) == {"u2": "ben@example.com"}
    assert match_emails({"u1": "Chloé  Martin"}, [("Chloe Martin", "Chloe@Example.com")]) == {
        "u1": "chloe@example.com"
    }
    assert match_emails({"u1": "Sam"}, [("Sam", "sam@a.example"), ("sam", "sam@b.example")]) == {}
    assert match_emails({"u1": "Sam"}, []) == {}


def test_outcomes_and_reasons():
    at = WEEK_2
    assert outcome_of(finished_bot("bot_ok", at, 10)) == ("completed", None)
    assert outcome_of(failed_bot("bot_w", at)) == ("failed", "waiting_room_timeout_exceeded")
    assert outcome_of(failed_bot("bot_d", at, "request_to_join_denied")) == (
        "failed",
        "request_to_join_denied",
    )
    never_admitted = Bot.model_validate(
        {
            "id": "bot_n",
            "meeting_url": "https://zoom.us/j/1",
            "state": "ended",
            "events": [
                {"type": "join_requested", "created_at": "2026-11-09T09:00:00Z"},
                {"type": "put_in_waiting_room", "created_at": "2026-11-09T09:01:00Z"},
                {"type": "meeting_ended", "created_at": "2026-11-09T09:30:00Z"},
                {"type": "post_processing_completed", "created_at": "2026-11-09T09:31:00Z"},
            ],
        }
    )
    assert outcome_of(never_admitted) == ("failed", "meeting_ended")
    crashed = finished_bot("bot_c", at, 10).model_copy(update={"state": "fatal_error"})
    crashed.events.append(
        crashed.events[-1].model_copy(update={"type": "fatal_error", "sub_type": "heartbeat_timeout"})
    )
    assert outcome_of(crashed) == ("failed", "heartbeat_timeout")


def test_rows_carry_the_reports_own_figures():
    start = datetime(2026, 11, 11, 23, 30, tzinfo=timezone.utc)
    t0 = round(start.timestamp() * 1000)
    builder = ReportBuilder(t0, t0 + 20 * 60_000)
    for ts, kind, uuid, name in [
        (0, "join", "u1", "Ann Lee"),
        (60_000, "speech_start", "u1", "Ann Lee"),
        (90_500, "speech_stop", "u1", "Ann Lee"),
        (120_000, "join", "u2", None),
        (600_000, "leave", "u2", None),
    ]:
        builder.add_raw(t0 + ts, f"pe_{ts}", kind, uuid, name or "Unnamed participant (uuid u2)", False)
    built = builder.finish()
    bot = finished_bot("bot_x", start, 20, metadata={"event_id": "evt_1", "event_name": "Late sync"})
    meeting, people = meeting_rows(
        bot, built, event=event("evt_1", "cal_eng", "Late sync", start, ENG_INVITES), calendar=ENG
    )
    assert [
        (p.participant_key, p.present_seconds, p.speaking_seconds, p.speaking_turns, p.talk_share)
        for p in people
    ] == [
        (s.uuid, s.present_seconds, s.speaking_seconds, s.speaking_turns, s.talk_share)
        for s in built.participants
    ]
    assert [p.email for p in people] == ["ann@example.com", None]  # invited by name; the unnamed one: none
    assert (meeting.participants, meeting.peak_concurrent, meeting.total_speaking_seconds) == (2, 2, 30.5)
    assert meeting.duration_seconds == built.duration_seconds == 1200
    assert meeting.week_start == date(2026, 11, 9)  # Wednesday 23:30 UTC: that week
    assert (meeting.calendar_name, meeting.calendar_event_id, meeting.series_key) == (
        "team-eng",
        "evt_1",
        "cal_eng:evt_1",  # a single event (no recurring id, no iCalUID): its own id
    )
    assert (meeting.platform, meeting.invited, meeting.outcome) == ("google_meet", 4, "completed")


def test_a_failed_bot_row():
    bot = failed_bot("bot_f", WEEK_2 + timedelta(days=6, hours=14))  # Sunday afternoon
    meeting, people = meeting_rows(bot, report(None, 0, []))
    assert people == []
    assert (meeting.outcome, meeting.failure_reason, meeting.final_state) == (
        "failed",
        "waiting_room_timeout_exceeded",
        "fatal_error",
    )
    assert (meeting.last_event_type, meeting.last_event_sub_type) == (
        "could_not_join_meeting",
        "waiting_room_timeout_exceeded",
    )
    assert meeting.started_at is None and meeting.ended_at == WEEK_2 + timedelta(days=6, hours=14)
    assert meeting.week_start == date(2026, 11, 9) and meeting.duration_seconds == 0.0
    assert meeting.series_key == bot.meeting_url


def test_ad_hoc_meetings_sharing_a_name_are_two_series():
    """Bots without a calendar event: the meeting URL is the series, whatever name the metadata gives."""
    named = {"event_name": "Sync"}
    first = finished_bot("bot_a", WEEK_2, 30, meeting_url="https://zoom.us/j/111", metadata=named)
    second = finished_bot("bot_b", WEEK_2, 30, meeting_url="https://zoom.us/j/222", metadata=named)
    again = finished_bot("bot_c", WEEK_2 + timedelta(days=7), 30, meeting_url="https://zoom.us/j/111")
    a, b, c = (meeting_rows(bot, report(WEEK_2, 30, []))[0] for bot in (first, second, again))
    assert (a.event_name, b.event_name) == ("Sync", "Sync")
    assert (a.series_key, b.series_key, c.series_key) == (
        "https://zoom.us/j/111",
        "https://zoom.us/j/222",
        "https://zoom.us/j/111",  # the same room again: the same series
    )


def test_occurrences_of_a_recurring_calendar_event_are_one_series():
    """Occurrences share their recurring id, even renamed; events that share only a name stay apart."""

    def series(evt) -> str:
        bot = finished_bot(f"bot_{evt.id}", evt.start_time, 30, metadata={"event_id": evt.id})
        return meeting_rows(bot, report(evt.start_time, 30, []), event=evt, calendar=ENG)[0].series_key

    week = timedelta(days=7)
    google = [  # Google: every occurrence has the series' iCalUID and recurringEventId, and its own id
        event(f"evt_g{i}", "cal_eng", name, WEEK_2 + i * week, [], STANDUP_UID, {"recurringEventId": "g1"})
        for i, name in enumerate(["Standup", "Standup (moved)", "  standup "])
    ]
    microsoft = [  # Microsoft: an iCalUId per occurrence, the series in seriesMasterId
        event(
            f"evt_m{i}", "cal_eng", "Planning", WEEK_2 + i * week, [], f"uid-{i}", {"seriesMasterId": "AAMk"}
        )
        for i in range(2)
    ]
    only_ical = [  # no recurring id in raw (the simulator's events): the shared iCalUID
        event(f"evt_i{i}", "cal_eng", "Retro", WEEK_2 + i * week, [], "retro@example.com") for i in range(2)
    ]
    assert [series(e) for e in google] == ["cal_eng:g1"] * 3
    assert [series(e) for e in microsoft] == ["cal_eng:AAMk"] * 2
    assert [series(e) for e in only_ical] == ["cal_eng:retro@example.com"] * 2
    one_off = event("evt_9", "cal_eng", "Standup", WEEK_2, [], "other-uid@google.com")
    assert series(one_off) == "cal_eng:other-uid@google.com"  # the same name, another event: apart


@pytest.mark.parametrize(
    ("url", "platform"),
    [
        ("https://zoom.us/j/123?pwd=1", "zoom"),
        ("https://acme.zoom.us/j/123", "zoom"),
        ("https://meet.google.com/abc-defg-hij", "google_meet"),
        ("https://teams.microsoft.com/l/meetup-join/x", "teams"),
        ("https://webex.example.com/m/1", "webex.example.com"),
    ],
)
def test_platforms(url, platform):
    assert platform_of(url) == platform


def test_weeks_are_iso_mondays_in_utc():
    assert week_of(datetime(2026, 11, 15, 23, 59, tzinfo=timezone.utc)) == date(2026, 11, 9)
    assert week_of(datetime(2026, 11, 16, 0, 30, tzinfo=timezone(timedelta(hours=2)))) == date(2026, 11, 9)


def test_ddl_per_database():
    names = TableNames()
    mysql = "\n".join(ddl(names, DIALECTS["mysql"]))
    assert "INDEX attendee_meetings_week_idx (week_start, outcome)" in mysql and "CREATE INDEX" not in mysql
    assert "DATETIME(6)" in mysql and "VARCHAR(2048)" in mysql
    snowflake = "\n".join(ddl(names, DIALECTS["snowflake"]))
    assert "INDEX" not in snowflake and "TIMESTAMP_TZ" in snowflake
    postgres = ddl(TableNames(meetings="analytics.meetings"), DIALECTS["postgresql"])
    assert (
        "CREATE INDEX IF NOT EXISTS meetings_week_idx ON analytics.meetings (week_start, outcome)" in postgres
    )
    sqlite = ddl(TableNames(meetings="aux.meetings"), DIALECTS["sqlite"])
    assert "CREATE INDEX IF NOT EXISTS aux.meetings_week_idx ON meetings (week_start, outcome)" in sqlite
    assert all(statement.startswith("CREATE ") and "IF NOT EXISTS" in statement for statement in postgres)
