"""The example DAGs end to end against the real Attendee server, on meetings scripted with its own code.

The report's presence and speaking seconds must equal the script, from speech events (a bot the create
operator made) and from the transcript (a bot with the server's default settings); a silent meeting, a
meeting nobody attended, a bot that never got in and bots without a recording file (this server has no
recording storage) must all give a successful run.
"""

from __future__ import annotations

import json
import runpy
import threading
import time
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_attendee.testing.approvals import reviewer
from tests.system.meetings import (
    EMPTY,
    SILENT,
    WEEKLY_SYNC,
    MeetingScript,
    attend,
    fail_to_join,
    finish,
    join,
    play,
    t0,
)
from tests.system.server import Driver

EXAMPLES = Path(__file__).resolve().parents[2] / "example_dags"
MEET = "https://meet.google.com/abc-defg-hij"
#: The [notes] extra is installed: the post-meeting example adds its notes task (behind an approval).
NOTES = bool(find_spec("airflow.providers.common.ai"))

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]  # liveness guards only, for a loaded machine


def load(name: str) -> Any:
    return runpy.run_path(str(EXAMPLES / f"{name}.py"))["dag"]


def local(path: str) -> Path:
    return Path(path.removeprefix("file://"))


def task_states(run: Any) -> dict[str, str]:
    return {
        f"{ti.task_id}[{ti.map_index}]" if ti.map_index >= 0 else ti.task_id: str(ti.state)
        for ti in run.get_task_instances()
    }


def outputs(run: Any, task_id: str) -> list[Any]:
    return [
        ti.xcom_pull(task_ids=task_id, map_indexes=ti.map_index)
        for ti in run.get_task_instances()
        if ti.task_id == task_id
    ]


def figures(report: dict[str, Any]) -> tuple[dict[str, float], dict[str, float]]:
    people = report["participants"]
    return (
        {p["name"]: p["present_seconds"] for p in people},
        {p["name"]: p["speaking_seconds"] for p in people},
    )


@pytest.fixture
def airflow_db(attendee_airflow_db: str) -> str:
    return attendee_airflow_db


def test_post_meeting_dag_on_scripted_meetings(system_hook, attendee_driver: Driver, airflow_db, tmp_path):
    """Five meetings through ``attendee_post_meeting``: speaking from speech events and from the transcript
    equal to the script, a silent and an empty meeting with empty transcripts, a bot that never got in in
    the tables with its reason; no task retried. Then the digest reads the tables."""
    import sqlite3

    from airflow_provider_attendee.hooks.meeting_tables import embedded_database
    from airflow_provider_attendee.operators.bots import AttendeeCreateBotOperator
    from tests.operators.conftest import FakeTaskInstance

    create = AttendeeCreateBotOperator(  # the operator's default: speech events asked for
        task_id="c", meeting_url=MEET, bot_name="Notes", metadata={"event_name": "Weekly sync"}
    )
    ids = {
        "speech_events": create.execute({"ti": FakeTaskInstance()}),
        "transcript": system_hook.create_bot(
            MEET, bot_name="Notes", metadata={"event_name": "Weekly sync"}
        ).id,
        "silent": system_hook.create_bot(MEET, bot_name="Notes").id,
        "empty": system_hook.create_bot(MEET, bot_name="Notes").id,
    }
    failed = system_hook.create_bot(MEET, bot_name="Notes").id
    assert attendee_driver.call("bot_info", bot_id=ids["speech_events"])["record_speech_events"] is True
    assert attendee_driver.call("bot_info", bot_id=ids["transcript"])["record_speech_events"] is False
    scripts: dict[str, MeetingScript] = {
        "speech_events": WEEKLY_SYNC,
        "transcript": WEEKLY_SYNC,
        "silent": SILENT,
        "empty": EMPTY,
    }
    for key, script in scripts.items():
        play(attendee_driver, ids[key], script)
    fail_to_join(attendee_driver, failed)
    states = {key: system_hook.get_bot(bot_id) for key, bot_id in ids.items()}
    assert {k: (b.state, b.transcription_state) for k, b in states.items()} == {
        "speech_events": ("ended", "complete"),
        "transcript": ("ended", "complete"),
        "silent": ("ended", "not_started"),
        "empty": ("ended", "not_started"),
    }

    with reviewer("attendee_post_meeting") as approved:  # a person approves the notes (with [notes])
        run = load("attendee_post_meeting").test(
            run_conf={"bot_ids": sorted(ids.values()), "failed_bot_ids": [failed]}
        )
    assert set(task_states(run).values()) == {"success"}, task_states(run)
    assert {ti.try_number for ti in run.get_task_instances()} == {1}  # nothing retried

    transcripts = {out["bot_id"]: out for out in outputs(run, "transcript")}
    assert {key: (transcripts[i]["utterances"], transcripts[i]["note"]) for key, i in ids.items()} == {
        "speech_events": (5, None),
        "transcript": (5, None),
        "silent": (0, "nothing_transcribed"),
        "empty": (0, "nothing_transcribed"),
    }
    assert json.loads(local(transcripts[ids["silent"]]["paths"]["json"]).read_text()) == []

    reports = {
        out["bot_id"]: json.loads(local(out["paths"]["json"]).read_text())
        for out in outputs(run, "participant_report")
    }
    for key in ("speech_events", "transcript"):
        presence, speaking = figures(reports[ids[key]])
        assert presence == WEEKLY_SYNC.expected_presence, key
        assert speaking == WEEKLY_SYNC.expected_speaking, key
        assert reports[ids[key]]["speaking_source"] == key
        assert reports[ids[key]]["peak_concurrent"] == 4
    presence, speaking = figures(reports[ids["silent"]])
    assert presence == SILENT.expected_presence and set(speaking.values()) == {0}
    assert any(note.startswith("Nothing was transcribed") for note in reports[ids["silent"]]["notes"])
    assert reports[ids["empty"]]["participants"] == []

    with sqlite3.connect(embedded_database()) as db:
        rows = dict(
            db.execute(
                f"SELECT bot_id, outcome || '/' || COALESCE(failure_reason, '') FROM attendee_meetings "
                f"WHERE bot_id IN ({', '.join('?' * 5)})",
                [*ids.values(), failed],
            ).fetchall()
        )
    assert rows == {**{i: "completed/" for i in ids.values()}, failed: "failed/waiting_room_timeout_exceeded"}

    if NOTES:  # the notes of the two meetings with speech approved; the silent ones: no model call, no review
        assert len(approved) == 2, approved
        notes = {out["bot_id"]: out for out in outputs(run, "meeting_notes")}
        assert {key: notes[i]["usage"]["calls"] > 0 for key, i in ids.items()} == {
            "speech_events": True,
            "transcript": True,
            "silent": False,
            "empty": False,
        }
        for key in ("speech_events", "transcript"):
            assert local(notes[ids[key]]["paths"]["markdown"]).is_file(), key
    else:
        assert not any(k.startswith("meeting_notes") for k in task_states(run))


def test_meeting_pipeline_dag_follows_a_live_meeting(
    system_conn, attendee_driver: Driver, airflow_db, monkeypatch
):
    """``attendee_meeting_pipeline`` creates the bot; the server's own code then plays the meeting as it
    happens: the bot gets in, people join, speak and leave, the DAG asks the bot to leave, the bot ends.
    The summary's report equals the script; the recording is missing (no storage on this server) and says so."""
    from airflow_provider_attendee.hooks.attendee import AttendeeHook

    monkeypatch.setenv("ATTENDEE_EXAMPLE_POLL_SECONDS", "1")
    script = WEEKLY_SYNC
    hook = AttendeeHook()
    played: dict[str, Any] = {}
    failure: list[BaseException] = []

    def meeting() -> None:
        """The meeting, in step with the DAG's waits (each step only once the DAG can see the one before)."""
        try:
            deadline = time.monotonic() + 600
            while not (bots := list(hook.list_bots())):
                assert time.monotonic() < deadline, "the DAG created no bot"
                time.sleep(0.5)
            (bot,) = bots
            start = t0(minutes_ago=15)
            played.update(bot_id=bot.id, start=start)
            join(attendee_driver, bot.id, start)
            attend(attendee_driver, bot.id, script, start, joins=True)  # quorum: everyone is in
            # Everyone leaves once the DAG saw the quorum (its next wait is for an empty meeting): a
            # sensor that first looked after the leaves would never see four people at once.
            while not _task_succeeded(bot.metadata["run_id"], "wait_quorum"):
                assert time.monotonic() < deadline, "the DAG never saw the quorum"
                time.sleep(0.5)
            attend(attendee_driver, bot.id, script, start, joins=False)
            while hook.get_bot(bot.id).state != "leaving":  # the DAG's leave task
                assert time.monotonic() < deadline, "the DAG never asked the bot to leave"
                time.sleep(0.5)
            finish(attendee_driver, bot.id, script, start, asked=False)
        except BaseException as err:  # reported by the test
            failure.append(err)

    player = threading.Thread(target=meeting, name="meeting-player", daemon=True)
    player.start()
    try:
        run = load("attendee_meeting_pipeline").test(run_conf={"meeting_url": MEET, "min_participants": 4})
    finally:
        player.join(timeout=60)
    assert not failure, failure
    assert set(task_states(run).values()) == {"success"}, task_states(run)
    (summary,) = outputs(run, "publish_summary")
    report = json.loads(local(summary["report"]["json"]).read_text())
    presence, speaking = figures(report)
    assert presence == script.expected_presence and speaking == script.expected_speaking
    assert report["speaking_source"] == "speech_events" and summary["top_speaker"] == "Maya Chen"
    assert summary["recording"] is None and summary["recording_missing"] == "No recording file found for bot"
    assert len(json.loads(local(summary["transcript"]).read_text())) == script.utterances
    bot = hook.get_bot(played["bot_id"])
    assert bot.state == "ended" and bot.metadata["dag_id"] == "attendee_meeting_pipeline"
    # (ordered by creation: the meeting's events are back-dated, the DAG's leave request is not)
    assert sorted(e.type for e in bot.events) == sorted(
        [
            "join_requested",
            "joined_meeting",
            "recording_permission_granted",
            "leave_requested",
            "left_meeting",
            "post_processing_completed",
        ]
    )


def _task_succeeded(run_id: str, task_id: str) -> bool:
    """Whether the pipeline run's task succeeded (read from the metadata DB)."""
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    with create_session() as session:
        return bool(
            session.query(TaskInstance)
            .filter(
                TaskInstance.dag_id == "attendee_meeting_pipeline",
                TaskInstance.run_id == run_id,
                TaskInstance.task_id == task_id,
                TaskInstance.state == "success",
            )
            .count()
        )
