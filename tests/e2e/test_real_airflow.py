"""A real Airflow: api-server, scheduler, dag-processor and triggerer as separate processes (LocalExecutor).

Triggers attendee_meeting_pipeline and waits for success, so the deferrable sensors really run in a
triggerer process (trigger serialisation, classpath import, the shared HTTP pool) and the tasks in
LocalExecutor workers talking to the execution API.
"""

from __future__ import annotations

import json
import secrets
import time
from pathlib import Path

import pytest

from airflow_provider_attendee.testing import start_simulator
from airflow_provider_attendee.testing.real_airflow import RealAirflow

EXAMPLES = Path(__file__).resolve().parents[2] / "example_dags"
DAG_ID = "attendee_meeting_pipeline"


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_meeting_pipeline_in_a_real_airflow(tmp_path):
    with start_simulator(scenario="demo", time_scale=0, api_key=f"e2e-{secrets.token_hex(8)}") as sim:
        # The meeting moves 20 s per API request (the sensors' and triggers' polls), not with the wall
        # clock: a slow start or a busy machine cannot make a sensor miss the moment it waits for.
        sim.admin.set_seconds_per_request(20)
        airflow_env = {
            "AIRFLOW_CONN_ATTENDEE_DEFAULT": sim.connection_json(),
            "ATTENDEE_EXAMPLE_POLL_SECONDS": "1",
        }
        with RealAirflow(tmp_path, EXAMPLES, **airflow_env) as airflow:
            airflow.wait_for_dag(DAG_ID)
            conf = json.dumps({"meeting_url": "https://meet.google.com/abc-defg-hij", "min_participants": 4})
            airflow.cli("dags", "trigger", DAG_ID, "--conf", conf)
            state, deadline = None, time.monotonic() + 300
            while state not in ("success", "failed"):
                assert time.monotonic() < deadline, f"the run did not finish: {state}"
                time.sleep(3)
                runs = airflow.runs(DAG_ID)
                state = runs[0]["state"] if runs else None
                assert not airflow.dead(), f"{airflow.dead()} exited; see {tmp_path}"
            assert state == "success", f"run {state}; logs in {tmp_path}"
            # At least one sensor deferred: its trigger ran in the triggerer process and fired.
            trigger_logs = list((tmp_path / "logs").rglob("*.trigger.*.log"))
            assert trigger_logs, f"no sensor deferred; logs in {tmp_path}"
            assert any("Trigger fired event" in log.read_text() for log in trigger_logs)
            (bot,) = sim.admin.bots()
            assert bot["state"] == "ended" and bot["metadata"]["dag_id"] == DAG_ID
            assert sim.admin.counters()["requests"]["GET /api/v1/bots/{bot_id}/participant_events"] >= 2
            everything = "".join(p.read_text(errors="replace") for p in tmp_path.rglob("*.log"))
            assert sim.api_key not in everything  # the key is in no task, trigger or process log


POST_MEETING = "attendee_post_meeting"
