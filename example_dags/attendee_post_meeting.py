"""
After every finished meeting: transcript and attendance report, with no polling DAG of its own.

Scheduled on the asset ``attendee://bots/ended``: one event per bot that reached ``ended`` (any bot, e.g.
those the calendar sync scheduled). The events come either pushed, from Attendee's webhooks through this
provider's plugin on the API server (set ``ATTENDEE_EXAMPLE_EVENTS=push`` where the DAG is parsed, and point
Attendee's webhook at ``/attendee/webhooks``), or polled by ``AttendeeBotEventTrigger`` in the triggerer (the
default). Bot ids come from the triggering asset events; a manual run may pass ``{"bot_ids": [...]}``.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from typing import Any

from airflow.sdk import DAG, Asset, AssetWatcher, task

from airflow_provider_attendee.operators.outputs import (
    AttendeeParticipantReportOperator,
    AttendeeTranscriptOperator,
)
from airflow_provider_attendee.triggers.attendee import AttendeeBotEventTrigger

# --8<-- [start:watcher]
# Pushed events need no watcher; polling needs one (never both: each would emit every meeting).
PUSHED = os.environ.get("ATTENDEE_EXAMPLE_EVENTS", "poll") == "push"
finished_meetings = Asset(
    name="attendee_finished_meetings",
    uri="attendee://bots/ended",
    watchers=[]
    if PUSHED
    else [
        AssetWatcher(
            name="attendee_bot_ended",
            trigger=AttendeeBotEventTrigger(
                state="ended",
                poll_interval=float(os.environ.get("ATTENDEE_EXAMPLE_POLL_SECONDS", "60")),
            ),
        )
    ],
)
# --8<-- [end:watcher]

with DAG(
    dag_id="attendee_post_meeting",
    description="Transcript and report for every meeting a bot finished",
    schedule=[finished_meetings],
    start_date=datetime(2026, 1, 1),
    catchup=False,
    default_args={"retries": 2, "retry_delay": timedelta(seconds=15)},
    tags=["attendee", "example"],
    doc_md=__doc__,
) as dag:

    @task
    def finished_bot_ids(**context: Any) -> list[str]:
        """The bots of the asset events that triggered this run (or of ``conf["bot_ids"]``)."""
        ids: list[str] = list((context["dag_run"].conf or {}).get("bot_ids", []))
        for events in (context.get("triggering_asset_events") or {}).values():
            for event in events:
                payload = (event.extra or {}).get("payload") or {}
                if payload.get("bot_id"):
                    ids.append(payload["bot_id"])
        return sorted(set(ids))

    bot_ids = finished_bot_ids()
    # --8<-- [start:outputs]
    AttendeeTranscriptOperator.partial(task_id="transcript", formats=["json", "txt"]).expand(bot_id=bot_ids)
    AttendeeParticipantReportOperator.partial(task_id="participant_report").expand(bot_id=bot_ids)
    # --8<-- [end:outputs]
