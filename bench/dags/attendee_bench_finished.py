"""The event-latency benchmark's consumer (bench/event_latency.py): a DAG scheduled on
``attendee://bots/ended``, fed by the webhook receiver (``ATTENDEE_BENCH_EVENTS=push``) or by
``AttendeeBotEventTrigger`` polling every ``ATTENDEE_BENCH_POLL_SECONDS`` (``poll``). Its one task only
returns the bot ids: the benchmark measures how soon a finished meeting gets a run, not the work."""

from __future__ import annotations

import os
from datetime import datetime
from typing import Any

from airflow.sdk import DAG, Asset, AssetWatcher, task

from airflow_provider_attendee.triggers.attendee import AttendeeBotEventTrigger

POLL_SECONDS = float(os.environ.get("ATTENDEE_BENCH_POLL_SECONDS", "60"))
finished = Asset(
    "attendee://bots/ended",  # name and URI: the UI shows the name, the docs the URI
    watchers=[]
    if os.environ.get("ATTENDEE_BENCH_EVENTS", "push") == "push"
    else [
        AssetWatcher(name="attendee_bench_ended", trigger=AttendeeBotEventTrigger(poll_interval=POLL_SECONDS))
    ],
)

with DAG(
    dag_id="attendee_bench_finished",
    schedule=[finished],
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=64,
    tags=["attendee", "bench"],
) as dag:

    @task
    def finished_bot_ids(**context: Any) -> list[str]:
        return sorted(
            (event.extra or {}).get("payload", {}).get("bot_id")
            for events in (context.get("triggering_asset_events") or {}).values()
            for event in events
        )

    finished_bot_ids()
