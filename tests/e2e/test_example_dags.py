"""The example DAGs: integrity, and full runs through Airflow (dag.test) against the simulator over HTTP."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from importlib.util import find_spec
from pathlib import Path

import pytest

from airflow_provider_attendee.hooks.attendee import AttendeeHook
from airflow_provider_attendee.testing.approvals import reviewer
from airflow_provider_attendee.testing.demo import ELIGIBLE, PRODUCT_SYNC, TALK_TIME

EXAMPLES = Path(__file__).resolve().parents[2] / "example_dags"
DAG_FILES = sorted(EXAMPLES.glob("*.py"))
#: The [notes] extra is installed: the post-meeting example adds its notes task (behind an approval).
NOTES = bool(find_spec("airflow.providers.common.ai"))


def load(name: str):
    import runpy

    return runpy.run_path(str(EXAMPLES / f"{name}.py"))["dag"]


def local(path: str) -> Path:
    return Path(path.removeprefix("file://"))


def forget_runs(dag_id: str) -> None:
    """Delete a DAG's runs (and with them their task instances and XComs) from the test's metadata DB."""
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session

    with create_session() as session:
        for run in session.query(DagRun).filter(DagRun.dag_id == dag_id):
            session.delete(run)


def task_states(run) -> dict[str, str]:
    return {
        f"{ti.task_id}[{ti.map_index}]" if ti.map_index >= 0 else ti.task_id: str(ti.state)
        for ti in run.get_task_instances()
    }


#: Modules a DAG file must not import at parse time (operators import them when they run): parsing stays
#: cheap. A DAG with an AssetWatcher builds its trigger, which holds the hook, so it may import the client.
NOT_AT_PARSE = (
    "matplotlib",
    "fsspec",
    "pydantic_ai",
    "airflow.providers.common.ai",
    "airflow_provider_attendee.notes",
    "airflow_provider_attendee.meetings.report",
    "airflow_provider_attendee.meetings.report_render",
    "airflow_provider_attendee.testing",
)
CLIENT = ("httpx", "airflow_provider_attendee.hooks.attendee")


@pytest.mark.parametrize("path", DAG_FILES, ids=lambda p: p.stem)
def test_dag_file_imports_cleanly_and_lazily(path):
    """Fresh interpreter: no warnings from our code, a valid DAG, and none of the heavy modules the operators
    import lazily (counted, not timed: the parse time is measured in bench/parse_time.py)."""
    code = f"""
import runpy, sys, warnings
import airflow.sdk
before = set(sys.modules)
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    ns = runpy.run_path({str(path)!r})
ours = [f"{{w.filename}}:{{w.lineno}}: {{w.message}}" for w in caught
        if "airflow_provider_attendee" in w.filename or "example_dags" in w.filename]
assert not ours, ours
dag = ns["dag"]
dag.validate()
print(dag.dag_id, len(dag.tasks), ",".join(sorted(set(sys.modules) - before)))
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    dag_id, tasks, imported = result.stdout.split()[-3:]
    assert dag_id == path.stem and int(tasks) >= 1
    lazy = NOT_AT_PARSE if "AssetWatcher" in path.read_text() else NOT_AT_PARSE + CLIENT
    eager = sorted(m for m in imported.split(",") if any(m == n or m.startswith(f"{n}.") for n in lazy))
    print(f"{path.stem}: {tasks} tasks, {len(imported.split(','))} modules imported after airflow.sdk")
    assert not eager, f"imported at parse time: {eager}"


def test_dagbag_has_no_import_errors():
    try:
        from airflow.dag_processing.dagbag import DagBag
    except ImportError:  # Airflow 3.1
        from airflow.models.dagbag import DagBag

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        bag = DagBag(dag_folder=str(EXAMPLES))
    assert not [
        w for w in caught if "example_dags" in w.filename or "airflow_provider_attendee" in w.filename
    ]
    assert bag.import_errors == {}
    assert set(bag.dag_ids) == {
        "attendee_calendar_sync",
        "attendee_meeting_digest",
        "attendee_meeting_pipeline",
        "attendee_post_meeting",
    }


@pytest.mark.parametrize(
    "storage",
    [
        pytest.param(
            True,
            marks=pytest.mark.attendee_simulator(scenario="demo", seconds_per_request=15),
            id="recording",
        ),
        pytest.param(  # a server without recording storage: GET /recording is 404 "No recording file ..."
            False,
            marks=pytest.mark.attendee_simulator(
                scenario="demo", seconds_per_request=15, recording_storage=False
            ),
            id="no-recording-file",
        ),
    ],
)
def test_meeting_pipeline_dag(attendee_simulator, airflow_db, caplog, storage):
    dag = load("attendee_meeting_pipeline")
    run = dag.test(run_conf={"meeting_url": PRODUCT_SYNC, "min_participants": 4})
    states = task_states(run)
    assert set(states.values()) == {"success"}, states
    summary = next(ti for ti in run.get_task_instances() if ti.task_id == "publish_summary").xcom_pull(
        task_ids="publish_summary"
    )
    # Ground truth of the demo scenario's product sync: 5 people, who said what and for how long, measured
    # from the speech events the create operator asked for.
    report = json.loads(local(summary["report"]["json"]).read_text())
    talk = {p["name"]: p["speaking_seconds"] for p in report["participants"]}
    assert talk == TALK_TIME and report["speaking_source"] == "speech_events"
    assert report["peak_concurrent"] == 5 and summary["top_speaker"] == "Maya Chen"
    transcript = json.loads(local(summary["transcript"]).read_text())
    assert len(transcript) == 10
    assert transcript[0] == {
        **transcript[0],
        "speaker_name": "Maya Chen",
        "text": "Morning everyone, let's start with the launch checklist.",
    }
    text = Path(summary["summary"]).read_text()
    assert text.startswith("# Meeting summary")
    if storage:
        assert local(summary["recording"]).stat().st_size > 44 and summary["recording_missing"] is None
    else:
        assert summary["recording"] is None
        assert summary["recording_missing"] == "No recording file found for bot"
        assert "- Recording: missing (No recording file found for bot)" in text
    # The summary is one short INFO line of the task's log (no paths: a log view would cut it off), then
    # one line per file.
    (logged,) = [r for r in caplog.records if r.getMessage().startswith("Meeting summary of bot")]
    assert logged.levelname == "INFO" and "Top speaker: Maya Chen" in logged.getMessage()
    assert "file://" not in logged.getMessage() and len(logged.getMessage()) < 300
    files = [r.getMessage() for r in caplog.records if r.getMessage().startswith("  ")]
    assert f"  summary: {summary['summary']}" in files
    assert f"  report markdown: {summary['report']['markdown']}" in files
    assert (f"  recording: {summary['recording']}" in files) is storage
    (bot,) = attendee_simulator.admin.bots()
    assert bot["state"] == "ended" and bot["metadata"]["dag_id"] == "attendee_meeting_pipeline"


@pytest.mark.attendee_simulator(scenario="demo", time_scale=0)
def test_calendar_sync_dag_is_idempotent(attendee_simulator, airflow_db):
    dag = load("attendee_calendar_sync")
    first = dag.test()
    assert set(task_states(first).values()) == {"success"}
    bots = attendee_simulator.admin.bots()
    names = sorted(b["bot_name"] for b in bots)
    assert names == sorted(f"Notetaker · {n}" for n in ELIGIBLE)
    assert all(b["state"] == "scheduled" and b["calendar_event_id"] for b in bots)
    attendee_simulator.admin.reset_counters()
    second = dag.test()
    assert set(task_states(second).values()) == {"success"}
    requests = attendee_simulator.admin.counters()["requests"]
    assert not any(route.startswith(("POST", "DELETE")) for route in requests), requests
    assert len(attendee_simulator.admin.bots()) == 7


@pytest.mark.attendee_simulator(scenario="demo", time_scale=0, zoom_credentials=False)
def test_calendar_sync_dag_remembers_refused_events(attendee_simulator, airflow_db):
    """A project without Zoom credentials: the Zoom events are refused, reported, and (through the previous
    run's XCom, read back by Airflow) not sent again by the next run while they are unchanged."""
    dag = load("attendee_calendar_sync")
    forget_runs(dag.dag_id)  # earlier tests' runs would make the first run incremental

    def summary(run):
        (ti,) = run.get_task_instances()
        assert str(ti.state) == "success"
        return ti.xcom_pull(task_ids="schedule_bots")

    first = summary(dag.test())
    refused = {r["event_id"] for r in first["rejected"]}
    assert refused and all(r["sent"] and "Zoom App credentials" in r["error"] for r in first["rejected"])
    attendee_simulator.admin.reset_counters()
    attendee_simulator.admin.advance(minutes=5)
    second = summary(dag.test())
    assert {r["event_id"] for r in second["rejected"]} == refused
    assert not any(r["sent"] for r in second["rejected"])
    assert "POST /api/v1/bots" not in attendee_simulator.admin.counters()["requests"]


@pytest.mark.attendee_simulator(scenario="demo", time_scale=0)
def test_post_meeting_dag(attendee_simulator, airflow_db):
    hook = AttendeeHook()
    ids = [
        hook.create_bot(url, bot_name="Notes").id
        for url in (PRODUCT_SYNC, "https://zoom.us/j/81234567890?pwd=acme2026")
    ]
    attendee_simulator.admin.advance(900)
    with reviewer("attendee_post_meeting") as approved:  # a person approves the notes (with [notes])
        run = load("attendee_post_meeting").test(run_conf={"bot_ids": ids})
    states = task_states(run)
    assert set(states.values()) == {"success"}, states
    assert {k for k in states if k.startswith("transcript[")} == {"transcript[0]", "transcript[1]"}
    outputs = [
        ti.xcom_pull(task_ids=ti.task_id, map_indexes=ti.map_index)
        for ti in run.get_task_instances()
        if ti.task_id == "participant_report"
    ]
    assert sorted(o["headline"]["participants"] for o in outputs) == [3, 5]
    if NOTES:  # the notes, approved, beside the report; by the stand-in, which says so
        assert sorted(approved) == ["meeting_notes[0]", "meeting_notes[1]"]
        notes = [
            ti.xcom_pull(task_ids=ti.task_id, map_indexes=ti.map_index)
            for ti in run.get_task_instances()
            if ti.task_id == "meeting_notes"
        ]
        for result in notes:
            folder = Path(result["paths"]["markdown"].removeprefix("file://")).parent
            assert {"notes.md", "notes.json", "report.md"} <= {p.name for p in folder.iterdir()}
            assert "stand-in model" in (folder / "notes.md").read_text()
    else:
        assert not any(k.startswith("meeting_notes") for k in states)


@pytest.mark.attendee_simulator(scenario="demo", time_scale=0)
def test_post_meeting_dag_succeeds_on_silent_meetings(attendee_simulator, airflow_db):
    """A meeting where nobody spoke, and one nobody attended: the server keeps transcription not_started for
    good, so the run writes empty transcripts and reports at once, without a retry."""
    from tests.operators.test_output_and_calendar_operators import (
        EMPTY_MEETING,
        QUIET_SCENARIO,
        SILENT_MEETING,
    )

    attendee_simulator.admin.add_scenario(QUIET_SCENARIO)
    hook = AttendeeHook()
    ids = [hook.create_bot(url, bot_name="Notes").id for url in (PRODUCT_SYNC, SILENT_MEETING, EMPTY_MEETING)]
    attendee_simulator.admin.advance(1200)
    assert [hook.get_bot(i).transcription_state for i in ids] == ["complete", "not_started", "not_started"]
    with reviewer("attendee_post_meeting"):
        run = load("attendee_post_meeting").test(run_conf={"bot_ids": ids})
    states = task_states(run)
    assert set(states.values()) == {"success"}, states
    tries = {ti.try_number for ti in run.get_task_instances() if ti.task_id == "transcript"}
    assert tries == {1}  # nothing was retried
    transcripts = {
        out["bot_id"]: (out["utterances"], out["note"])
        for ti in run.get_task_instances()
        if ti.task_id == "transcript"
        for out in [ti.xcom_pull(task_ids="transcript", map_indexes=ti.map_index)]
    }
    assert transcripts == {
        ids[0]: (10, None),
        ids[1]: (0, "nothing_transcribed"),
        ids[2]: (0, "nothing_transcribed"),
    }
    reports = {
        out["bot_id"]: out["headline"]
        for ti in run.get_task_instances()
        if ti.task_id == "participant_report"
        for out in [ti.xcom_pull(task_ids="participant_report", map_indexes=ti.map_index)]
    }
    assert [(reports[i]["participants"], reports[i]["total_speaking_seconds"]) for i in ids[1:]] == [
        (2, 0),
        (0, 0),
    ]


@pytest.mark.attendee_simulator(scenario="demo", time_scale=0)
def test_post_meeting_dag_fills_the_tables_and_the_digest_reads_them(attendee_simulator, airflow_db):
    """Finished meetings and a failed bot land in the embedded SQLite tables (the default, no connection),
    announced on the tables' asset; the digest DAG then reports them."""
    import sqlite3

    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session

    from airflow_provider_attendee.hooks.meeting_tables import embedded_database

    hook = AttendeeHook()
    ended = [
        hook.create_bot(url, bot_name="Notes").id
        for url in (PRODUCT_SYNC, "https://zoom.us/j/81234567890?pwd=acme2026")
    ]
    failed = hook.create_bot("https://zoom.us/j/99988877766", bot_name="Notes").id  # never admitted
    attendee_simulator.admin.advance(900)
    assert hook.get_bot(failed).state == "fatal_error"
    with reviewer("attendee_post_meeting"):
        run = load("attendee_post_meeting").test(run_conf={"bot_ids": ended, "failed_bot_ids": [failed]})
    states = task_states(run)
    assert set(states.values()) == {"success"}, states
    assert {k for k in states if k.startswith("transcript[")} == {"transcript[0]", "transcript[1]"}

    with sqlite3.connect(embedded_database()) as db:
        meetings = db.execute(
            "SELECT bot_id, outcome, failure_reason, participants, week_start FROM attendee_meetings "
            f"WHERE bot_id IN ({', '.join('?' * 3)}) ORDER BY participants",
            [*ended, failed],
        ).fetchall()
        people = db.execute(
            "SELECT bot_id, display_name, speaking_seconds FROM attendee_participants WHERE bot_id = ?",
            [ended[0]],
        ).fetchall()
    assert [(m[0], m[1], m[2], m[3]) for m in meetings] == [
        (failed, "failed", "waiting_room_timeout_exceeded", 0),
        (ended[1], "completed", None, 3),
        (ended[0], "completed", None, 5),
    ]
    assert {
        name: spoke for _, name, spoke in people
    } == TALK_TIME  # the report's figures, as the report has them
    with create_session() as session:
        extras = [
            event.extra
            for event, asset in session.query(AssetEvent, AssetModel).join(
                AssetModel, AssetEvent.asset_id == AssetModel.id
            )
            if event.source_run_id == run.run_id and asset.uri == "attendee://tables/meetings"
        ]
    assert sorted(e["bot_id"] for e in extras) == sorted([*ended, failed])

    week = meetings[-1][4]
    digest = load("attendee_meeting_digest").test(run_conf={"week": week})
    (ti,) = digest.get_task_instances()
    assert str(ti.state) == "success"
    result = ti.xcom_pull(task_ids="digest")
    assert (
        result["week"] == week
        and result["headline"]["meetings"] >= 2
        and result["headline"]["failed_bots"] >= 1
    )
    page = local(result["paths"]["html"]).read_text()
    assert "Maya Chen" in page and "waiting_room_timeout_exceeded" in page
    assert {"hours", "talk_share", "attendance", "failures", "markdown", "html"} <= set(result["paths"])
