"""Templated fields rendered by a real Airflow (dag.test), and the same XCom from a sensor in poke mode and
in deferrable mode (tests/e2e/dags/attendee_test_templated_fields.py)."""

from __future__ import annotations

import json
import runpy
from pathlib import Path

import pytest

from tests.e2e.test_example_dags import forget_runs, task_states

DAG_FILE = Path(__file__).parent / "dags" / "attendee_test_templated_fields.py"


def xcoms(run) -> dict[str, object]:
    return {ti.task_id: ti.xcom_pull(task_ids=ti.task_id) for ti in run.get_task_instances()}


# 20 s of the meeting per API request: 5 people are in for 13 requests, however busy the machine.
@pytest.mark.attendee_simulator(scenario="demo", seconds_per_request=20)
def test_every_templated_field_renders_and_both_modes_return_the_same(
    attendee_simulator, airflow_db, tmp_path
):
    dag = runpy.run_path(str(DAG_FILE))["dag"]
    forget_runs(dag.dag_id)
    run = dag.test(run_conf={"destination": str(tmp_path), "name": "Rendered {{ not jinja twice }}"})
    states = task_states(run)
    assert set(states.values()) == {"success"}, states
    out = xcoms(run)
    (bot,) = attendee_simulator.admin.bots()
    assert out["create_bot"] == bot["id"] and bot["bot_name"] == "Rendered {{ not jinja twice }}"
    assert bot["metadata"] == {"team": "product", "run": run.run_id}
    assert bot["deduplication_key"] == f"templated-{run.run_id}"
    folder = tmp_path / run.run_id
    assert Path(out["write_recording"]["path"].removeprefix("file://")) == folder / "product.wav"
    assert (
        Path(out["write_report"]["paths"]["markdown"].removeprefix("file://"))
        .read_text()
        .startswith("# Product sync")
    )
    sync = out["calendar_sync"]
    assert sync["events_seen"] == 0 and sync["window"][1].endswith("T00:00:00Z")

    # The same XCom whatever the mode (the DAG file says which sensors really waited).
    assert out["state_poke"] == out["state_deferred"] == {"bot_id": bot["id"], "state": "ended"}
    for mode, threshold in (("deferred", 4), ("poke", 5)):
        count = out[f"count_{mode}"]
        assert set(count) == {"bot_id", "count", "present", "state", "meeting_over"}, count
        assert count["count"] >= threshold and len(count["present"]) == count["count"]
        assert count["state"] == "joined_recording" and count["meeting_over"] is False
    assert (
        out["transcript_poke"]
        == out["transcript_deferred"]
        == {
            "bot_id": bot["id"],
            "state": "ended",
            "transcription_state": "complete",
            "recording_state": "complete",
        }
    )
    assert set(out["write_transcript"]["paths"]) == {"json", "txt"}  # formats="json, txt", rendered
    written = Path(out["write_transcript"]["paths"]["json"].removeprefix("file://"))
    assert written.parent == tmp_path / run.run_id
    assert len(json.loads(written.read_text())) == 10  # the whole meeting: the bot stayed to its end


@pytest.mark.attendee_simulator(scenario="demo", time_scale=60)
def test_a_bad_templated_state_fails_the_task_at_run_time_with_a_hint(attendee_simulator, airflow_db):
    dag = runpy.run_path(str(DAG_FILE))["dag"]  # the file imports: the state is only known at run time
    forget_runs(dag.dag_id)
    run = dag.test(run_conf={"created_state": "joined_recordng"})
    states = task_states(run)
    assert states["create_bot"] == "failed" and all(
        s != "success" for t, s in states.items() if t != "create_bot"
    )
    assert attendee_simulator.admin.bots() == []  # validated before anything was sent
