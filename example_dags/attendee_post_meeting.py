"""
After every finished meeting: transcript and attendance report, with no polling DAG of its own.

Scheduled on the asset ``attendee://bots/ended``: one event per bot that reached ``ended`` (any bot, e.g.
those the calendar sync scheduled). The events come either pushed, from Attendee's webhooks through this
provider's plugin on the API server (set ``ATTENDEE_EXAMPLE_EVENTS=push`` where the DAG is parsed, and point
Attendee's webhook at ``/attendee/webhooks``), or polled by ``AttendeeBotEventTrigger`` in the triggerer (the
default). Bot ids come from the triggering asset events; a manual run may pass ``{"bot_ids": [...]}``.

Every finished meeting, and every bot that failed (``attendee://bots/fatal_error``: never admitted, denied,
...), is appended to the meeting tables (one row per bot, one per participant) of the SQL connection
``attendee_meetings``; without such a connection, an embedded SQLite file ($AIRFLOW_HOME/attendee/
meetings.db). The tables are the asset ``attendee://tables/meetings``: schedule downstream DAGs on it.
A manual run may pass failed bots as ``{"failed_bot_ids": [...]}``.

With the ``[notes]`` extra installed (Airflow's common-ai provider), each finished meeting also gets notes
(summary, decisions, action items, open questions, each citing the transcript) written by the model of the
``pydanticai`` connection ``attendee_notes_llm`` (while it is not defined, a stand-in model that says so),
held until a person approves them under Required Actions; then ``notes.md`` and ``notes.json`` are written
beside the report and the action items go into the meeting tables for the weekly digest.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from importlib.util import find_spec
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
    "attendee://bots/ended",  # name and URI: the UI shows the name, the docs the URI
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
failed_bots = Asset(
    "attendee://bots/fatal_error",
    watchers=[]
    if PUSHED
    else [
        AssetWatcher(
            name="attendee_bot_failed",
            trigger=AttendeeBotEventTrigger(
                state="fatal_error",
                poll_interval=float(os.environ.get("ATTENDEE_EXAMPLE_POLL_SECONDS", "60")),
            ),
        )
    ],
)
# Any DbApiHook connection (postgres, mysql, snowflake, sqlite); this id falls back to an embedded SQLite file.
MEETING_TABLES_CONN_ID = os.environ.get("ATTENDEE_EXAMPLE_TABLES_CONN_ID", "attendee_meetings")
meeting_tables = Asset("attendee://tables/meetings")
# --8<-- [end:watcher]

with DAG(
    dag_id="attendee_post_meeting",
    description="Transcript and report for every meeting a bot finished",
    schedule=(finished_meetings | failed_bots),
    start_date=datetime(2026, 1, 1),
    catchup=False,
    default_args={"retries": 2, "retry_delay": timedelta(seconds=15)},
    tags=["attendee", "example"],
    doc_md=__doc__,
) as dag:

    def triggering_bots(context: Any, failed: bool) -> list[str]:
        """Bots of the asset events that triggered this run (or of ``conf``): ended, or failed."""
        ids = set((context["dag_run"].conf or {}).get("failed_bot_ids" if failed else "bot_ids", []))
        for events in (context.get("triggering_asset_events") or {}).values():
            for event in events:
                payload = (event.extra or {}).get("payload") or {}
                if payload.get("bot_id") and (payload.get("state") == "fatal_error") == failed:
                    ids.add(payload["bot_id"])
        return sorted(ids)

    @task
    def finished_bot_ids(**context: Any) -> list[str]:
        """The finished meetings of this run."""
        return triggering_bots(context, failed=False)

    @task
    def failed_bot_ids(**context: Any) -> list[str]:
        """The bots of this run that failed (never admitted, denied, ...)."""
        return triggering_bots(context, failed=True)

    ended, failed = finished_bot_ids(), failed_bot_ids()
    # --8<-- [start:outputs]
    AttendeeTranscriptOperator.partial(task_id="transcript", formats=["json", "txt"]).expand(bot_id=ended)
    report = AttendeeParticipantReportOperator.partial(
        task_id="participant_report", sql_conn_id=MEETING_TABLES_CONN_ID, outlets=[meeting_tables]
    ).expand(bot_id=ended.concat(failed))
    # --8<-- [end:outputs]

    # --8<-- [start:notes]
    if find_spec("airflow.providers.common.ai"):  # the [notes] extra; imported only when the task runs
        from airflow_provider_attendee.operators.notes import AttendeeMeetingNotesOperator

        report >> AttendeeMeetingNotesOperator.partial(
            task_id="meeting_notes",
            llm_conn_id=os.environ.get("ATTENDEE_EXAMPLE_LLM_CONN_ID", "attendee_notes_llm"),
            require_approval=True,  # a person approves the notes before anything is written
            redact_contacts=True,
            sql_conn_id=MEETING_TABLES_CONN_ID,
        ).expand(bot_id=ended)
    # --8<-- [end:notes]
