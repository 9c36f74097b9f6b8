"""A DAG scheduled on ``attendee://bots/ended`` (tests/e2e/test_real_airflow.py, test_no_meeting_lost.py):
each run notes the bot ids of its triggering events in ATTENDEE_PUSH_OUT (one file per bot, source and run).
Fed by the polling trigger, or with ATTENDEE_TEST_EVENTS=push by webhooks (no watcher)."""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from pathlib import Path

from airflow.sdk import DAG, Asset, AssetWatcher, task

from airflow_provider_attendee.triggers.attendee import AttendeeBotEventTrigger

PUSHED = os.environ.get("ATTENDEE_TEST_EVENTS") == "push"
finished = Asset(
    "attendee://bots/ended",  # name and URI: the UI shows the name, the docs the URI
    watchers=[]
    if PUSHED
    else [AssetWatcher(name="attendee_bot_ended", trigger=AttendeeBotEventTrigger(poll_interval=1))],
)

with DAG(
    dag_id="attendee_poll_consumer",
    schedule=[finished],
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=64,
    # A task started while the API server is down (an outage test stops it) fails to reach the execution
    # API: retried, as a production DAG is, once it answers again.
    default_args={"retries": 8, "retry_delay": timedelta(seconds=10)},
    tags=["attendee", "test"],
) as dag:

    @task
    def note_finished_meetings(**context) -> list[str]:
        out = Path(os.environ["ATTENDEE_PUSH_OUT"])
        seen = set()
        for events in (context.get("triggering_asset_events") or {}).values():
            for event in events:
                extra = event.extra or {}
                bot_id = (extra.get("payload") or {}).get("bot_id")
                if bot_id:
                    source = extra.get("source") or ("trigger" if extra.get("from_trigger") else "other")
                    seen.add((bot_id, source))
        for bot_id, source in sorted(seen):
            (out / f"{bot_id}__{source}__{context['run_id'].replace(':', '_')}").touch()
        return sorted(bot_id for bot_id, _ in seen)

    note_finished_meetings()
