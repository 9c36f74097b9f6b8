"""Every finished meeting into the meeting tables (docs/analytics.md includes this file whole).

Scheduled on ``attendee://bots/ended`` (pushed by the webhook receiver, or polled by a watcher: see
event-driven.md). The participant report of each meeting is written as files and as rows of the SQL
connection ``attendee_meetings`` (any DbApiHook connection; this id falls back to an embedded SQLite file),
then announced on ``attendee://tables/meetings``. A manual run may pass ``{"bot_ids": [...]}``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from airflow.sdk import DAG, Asset, task

from airflow_provider_attendee.operators.outputs import AttendeeParticipantReportOperator

finished_meetings = Asset("attendee://bots/ended")
meeting_tables = Asset("attendee://tables/meetings")  # downstream DAGs (dbt, a BI refresh) schedule on it

with DAG(
    dag_id="attendee_meeting_tables",
    schedule=[finished_meetings],
    start_date=datetime(2026, 1, 1),
    catchup=False,
    default_args={"retries": 2, "retry_delay": timedelta(seconds=15)},
) as dag:

    @task
    def ended_bot_ids(**context: Any) -> list[str]:
        """The bots of the asset events that triggered this run (their ``extra["payload"]``), or of conf."""
        ids = set((context["dag_run"].conf or {}).get("bot_ids", []))
        for events in (context.get("triggering_asset_events") or {}).values():
            ids.update(event.extra["payload"]["bot_id"] for event in events)
        return sorted(ids)

    AttendeeParticipantReportOperator.partial(
        task_id="participant_report",
        sql_conn_id="attendee_meetings",  # the tables' connection
        outlets=[meeting_tables],
    ).expand(bot_id=ended_bot_ids())
