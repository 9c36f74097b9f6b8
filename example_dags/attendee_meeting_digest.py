"""
The weekly meeting digest, every Monday morning and on demand.

Reads the meeting tables that ``attendee_post_meeting`` appends to (SQL connection ``attendee_meetings``;
without one, the embedded SQLite file $AIRFLOW_HOME/attendee/meetings.db) and writes the digest of the
previous week, compared with the four before it: meeting hours per week and per calendar, talk-time share
per person and its trend, attendance per recurring meeting, failed bots by reason. Markdown, HTML and PNG
charts (with the ``report`` extra) under $AIRFLOW_HOME/attendee/digests/<week>/. Trigger it by hand with
``{"week": "current"}`` (or any date in the wanted week) for a digest now.
"""

from __future__ import annotations

import os
from datetime import datetime

from airflow.sdk import DAG, Param

from airflow_provider_attendee.operators.digest import AttendeeMeetingDigestOperator

MEETING_TABLES_CONN_ID = os.environ.get("ATTENDEE_EXAMPLE_TABLES_CONN_ID", "attendee_meetings")

with DAG(
    dag_id="attendee_meeting_digest",
    description="Weekly digest of the meetings in the meeting tables",
    schedule="0 7 * * 1",  # Mondays 07:00 UTC: the week that just ended
    start_date=datetime(2026, 1, 1),
    catchup=False,
    params={
        "week": Param(
            "previous",
            type="string",
            description="'previous' (the last full week), 'current', or a date in the wanted week (YYYY-MM-DD)",
        )
    },
    tags=["attendee", "example"],
    doc_md=__doc__,
) as dag:
    # --8<-- [start:digest]
    AttendeeMeetingDigestOperator(
        task_id="digest",
        sql_conn_id=MEETING_TABLES_CONN_ID,
        week="{{ params.week }}",
        previous_weeks=4,
    )
    # --8<-- [end:digest]
