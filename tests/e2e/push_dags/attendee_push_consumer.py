"""A DAG scheduled on the webhook receiver's asset (tests/e2e/test_real_airflow.py, push test): each run notes
the bot ids of its triggering events in ATTENDEE_PUSH_OUT (one file per bot and run)."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

from airflow.sdk import DAG, Asset, task

with DAG(
    dag_id="attendee_push_consumer",
    schedule=[Asset("attendee://bots/ended")],
    start_date=datetime(2026, 1, 1),
    catchup=False,
    tags=["attendee", "test"],
) as dag:

    @task
    def note_finished_meetings(**context) -> list[str]:
        out = Path(os.environ["ATTENDEE_PUSH_OUT"])
        ids = sorted(
            {
                (event.extra or {}).get("payload", {}).get("bot_id")
                for events in (context.get("triggering_asset_events") or {}).values()
                for event in events
            }
            - {None}
        )
        for bot_id in ids:
            (out / f"{bot_id}__{context['run_id'].replace(':', '_')}").touch()
        return ids

    note_finished_meetings()
