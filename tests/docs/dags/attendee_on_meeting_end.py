"""The smallest push-mode DAG (docs/event-driven.md includes this file whole): a run per finished meeting.

Scheduled on ``attendee://bots/ended``, which the provider's plugin on the API server feeds from Attendee's
webhooks: no watcher, no polling. Each run writes the transcript of the meetings whose events it consumed;
a manual run may pass ``{"bot_ids": [...]}``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from airflow.sdk import DAG, Asset, task

from airflow_provider_attendee.operators.outputs import AttendeeTranscriptOperator

with DAG(
    dag_id="attendee_on_meeting_end",
    schedule=[Asset("attendee://bots/ended")],  # pushed: the asset has no watcher
    start_date=datetime(2026, 1, 1),
    catchup=False,
    default_args={"retries": 2, "retry_delay": timedelta(seconds=15)},  # tasks reach Airflow through its API
) as dag:

    @task
    def ended_bot_ids(**context: Any) -> list[str]:
        """The bots of the asset events that triggered this run (their ``extra["payload"]``), or of conf."""
        ids = set((context["dag_run"].conf or {}).get("bot_ids", []))
        for events in (context.get("triggering_asset_events") or {}).values():
            ids.update(event.extra["payload"]["bot_id"] for event in events)
        return sorted(ids)

    AttendeeTranscriptOperator.partial(task_id="transcript", formats=["txt"]).expand(bot_id=ended_bot_ids())
