"""The same DAG shape with Airflow's EmptyOperator: the parse-time baseline."""

from __future__ import annotations

from datetime import datetime

from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import DAG, chain

with DAG("bench_baseline", schedule=None, start_date=datetime(2026, 1, 1)) as dag:
    tasks = [
        EmptyOperator(task_id=name)
        for name in (
            "sync",
            "create",
            "recording_state",
            "quorum",
            "leave",
            "ready",
            "transcript",
            "recording",
            "report",
        )
    ]
    chain(*tasks[:7])
    tasks[6] >> tasks[7:]
