"""Meeting notes behind a person's approval (tests/e2e/test_notes_approval_real_airflow.py)."""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import DAG

from airflow_provider_attendee.operators.notes import AttendeeMeetingNotesOperator

with DAG(
    dag_id="attendee_test_notes_approval",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    # A task killed by a missed heartbeat on a loaded machine runs again (it writes nothing before approval).
    default_args={"retries": 2, "retry_delay": timedelta(seconds=5)},
) as dag:
    AttendeeMeetingNotesOperator(
        task_id="meeting_notes",
        bot_id="{{ dag_run.conf['bot_id'] }}",
        destination="{{ dag_run.conf['out'] }}",
        llm_conn_id="notes_llm",
        require_approval=True,
    )
