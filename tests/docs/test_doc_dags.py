"""The whole DAGs the docs show (tests/docs/dags, included by event-driven.md and analytics.md): each parses
on its own, with no name from elsewhere, and runs through Airflow (dag.test) against the simulator."""

from __future__ import annotations

import runpy
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_attendee.hooks.attendee import AttendeeHook
from airflow_provider_attendee.testing.demo import PRODUCT_SYNC

DAGS = Path(__file__).resolve().parent / "dags"


def load(name: str) -> Any:
    """The DAG of one file, run as a reader would copy it (its own module, nothing else imported)."""
    return runpy.run_path(str(DAGS / f"{name}.py"))["dag"]


def states(run: Any) -> set[str]:
    return {str(ti.state) for ti in run.get_task_instances()}


def test_the_docs_dags_parse_scheduled_on_finished_meetings():
    try:
        from airflow.dag_processing.dagbag import DagBag
    except ImportError:  # Airflow 3.1
        from airflow.models.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAGS))
    assert bag.import_errors == {}
    assert set(bag.dag_ids) == {"attendee_on_meeting_end", "attendee_meeting_tables"}
    for dag in bag.dags.values():
        assert [asset.uri for asset in dag.timetable.asset_condition.objects] == ["attendee://bots/ended"]


@pytest.mark.attendee_simulator(scenario="demo", time_scale=0)
def test_the_push_dag_writes_a_transcript_per_meeting(attendee_simulator, attendee_airflow_db):
    bot = AttendeeHook().create_bot(PRODUCT_SYNC, bot_name="Notes")
    attendee_simulator.admin.advance(900)
    run = load("attendee_on_meeting_end").test(run_conf={"bot_ids": [bot.id]})
    assert states(run) == {"success"}
    (transcript,) = [ti for ti in run.get_task_instances() if ti.task_id == "transcript"]
    assert transcript.map_index == 0


@pytest.mark.attendee_simulator(scenario="demo", time_scale=0)
def test_the_analytics_dag_fills_the_tables(attendee_simulator, attendee_airflow_db):
    from airflow_provider_attendee.hooks.meeting_tables import embedded_database

    bot = AttendeeHook().create_bot(PRODUCT_SYNC, bot_name="Notes")
    attendee_simulator.admin.advance(900)
    run = load("attendee_meeting_tables").test(run_conf={"bot_ids": [bot.id]})
    assert states(run) == {"success"}
    with sqlite3.connect(embedded_database()) as db:  # no attendee_meetings connection: the SQLite file
        row = db.execute(
            "SELECT outcome, series_key FROM attendee_meetings WHERE bot_id = ?", [bot.id]
        ).fetchone()
    assert row == ("completed", bot.meeting_url)  # an ad-hoc meeting: its URL is its series
