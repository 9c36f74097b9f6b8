"""A DAG scheduled on an asset the polling trigger feeds (tests/e2e/test_real_airflow.py, poll test): each
run notes the bot ids of its triggering events in ATTENDEE_PUSH_OUT (one file per bot and run)."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

from airflow.sdk import DAG, Asset, AssetWatcher, task

from airflow_provider_attendee.triggers.attendee import AttendeeBotEventTrigger

finished = Asset(
    "attendee://bots/ended",  # name and URI: the UI shows the name, the docs the URI
    watchers=[AssetWatcher(name="attendee_bot_ended", trigger=AttendeeBotEventTrigger(poll_interval=1))],
)

with DAG(
    dag_id="attendee_poll_consumer",
    schedule=[finished],
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
