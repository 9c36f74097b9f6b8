"""The report operator's SQL destination against the simulator: a calendar meeting's rows with the
calendar, the series and the emails the rule allows, and a failed bot's row with its reason."""

from __future__ import annotations

import sqlite3
from urllib.parse import quote

import pytest

from airflow_provider_attendee.hooks.attendee import AttendeeHook
from airflow_provider_attendee.operators.calendar import AttendeeScheduleCalendarBotsOperator
from airflow_provider_attendee.operators.outputs import AttendeeParticipantReportOperator


@pytest.mark.attendee_simulator(scenario="demo")
def test_calendar_meetings_and_failed_bots_into_the_tables(
    attendee_simulator, context, tmp_path, monkeypatch
):
    database = tmp_path / "meetings.db"
    monkeypatch.setenv("AIRFLOW_CONN_MEETINGS_DB", f"sqlite://{quote(str(database), safe='')}")
    AttendeeScheduleCalendarBotsOperator(
        task_id="sync", min_attendees=2, metadata={"event_id": "{event_id}", "event_name": "{event_name}"}
    ).execute(context)
    attendee_simulator.admin.advance(
        minutes=50
    )  # the standup (in 30 min, 8 min long) ended; Board prep failed
    bots = {b["metadata"]["event_name"]: b for b in attendee_simulator.admin.bots()}
    assert (bots["Engineering standup"]["state"], bots["Board prep"]["state"]) == ("ended", "fatal_error")

    written = {}
    for name in ("Engineering standup", "Board prep"):
        operator = AttendeeParticipantReportOperator(
            task_id="report",
            bot_id=bots[name]["id"],
            destination=str(tmp_path / name),
            sql_conn_id="meetings_db",
        )
        written[name] = operator.execute(context)["tables"]
    assert written["Engineering standup"] == {
        "conn_id": "meetings_db",
        "meetings_table": "attendee_meetings",
        "participants_table": "attendee_participants",
        "outcome": "completed",
        "failure_reason": None,
        "participants": 6,
    }
    with sqlite3.connect(database) as db:
        standup = db.execute(
            "SELECT event_name, calendar_name, series_key, invited, platform, participants FROM attendee_meetings "
            "WHERE bot_id = ?",
            [bots["Engineering standup"]["id"]],
        ).fetchone()
        emails = db.execute(
            "SELECT display_name, email FROM attendee_participants WHERE bot_id = ? ORDER BY display_name, email",
            [bots["Engineering standup"]["id"]],
        ).fetchall()
        failed = db.execute(
            "SELECT outcome, failure_reason, final_state, last_event_type, participants FROM attendee_meetings "
            "WHERE bot_id = ?",
            [bots["Board prep"]["id"]],
        ).fetchone()
    (calendar,) = AttendeeHook().list_calendars()
    (standup_event,) = AttendeeHook().list_calendar_events(
        event_id=bots["Engineering standup"]["metadata"]["event_id"]
    )
    assert standup == (
        "Engineering standup",
        calendar.deduplication_key,  # the calendar's key names it
        f"{calendar.id}:{standup_event.ical_uid}",  # the event's series (recurring id), not its name
        3,  # invited
        "teams",
        6,
    )
    assert emails == [
        ("Alex Kim", None),  # two people shown as "Alex Kim": neither gets alex.kim@example.com
        ("Alex Kim", None),
        ("Ben Adeyemi", "ben@example.com"),
        ("Chloé Martin", None),  # not invited
        ("Nadia Petrova", "nadia@example.com"),
        ("Ravi Shah", None),
    ]
    assert failed == ("failed", "waiting_room_timeout_exceeded", "fatal_error", "could_not_join_meeting", 0)
