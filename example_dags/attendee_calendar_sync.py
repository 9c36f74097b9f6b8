"""
Calendar -> bots, every 5 minutes.

Reconciles the Attendee calendars of the connection ``attendee_default`` with bots: each upcoming event
with a meeting link (not personal, not lunch, at least two attendees) gets exactly one bot; bots of
cancelled or deselected events are removed. Incremental: only the events changed since the last successful
run, and those whose start entered the 24-hour window since, are listed; an unchanged calendar costs list
pages only (no POST, no DELETE). Events the server refuses (e.g. Zoom without Zoom credentials) are logged
and listed in the result, and do not fail the run. Runs in the default pool: to cap concurrent Attendee
calls across DAGs, create a pool (``airflow pools set attendee_api 8 "Attendee API"``) and set ``pool``.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import DAG

from airflow_provider_attendee.operators.calendar import AttendeeScheduleCalendarBotsOperator

with DAG(
    dag_id="attendee_calendar_sync",
    description="Keep one Attendee bot per upcoming calendar meeting",
    schedule=timedelta(minutes=5),
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 3, "retry_delay": timedelta(seconds=20), "retry_exponential_backoff": True},
    tags=["attendee", "example"],
    doc_md=__doc__,
) as dag:
    # --8<-- [start:schedule_bots]
    AttendeeScheduleCalendarBotsOperator(
        task_id="schedule_bots",
        lookahead=timedelta(hours=24),
        incremental=True,
        skip_name_regex=r"\b(personal|lunch|focus)\b",
        min_attendees=2,
        bot_name="Notetaker · {event_name}",
        metadata={"event_id": "{event_id}", "event_name": "{event_name}", "source": "attendee_calendar_sync"},
    )
    # --8<-- [end:schedule_bots]
