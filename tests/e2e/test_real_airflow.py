"""A real Airflow: api-server, scheduler, dag-processor and triggerer as separate processes (LocalExecutor).

Triggers attendee_meeting_pipeline and waits for success, so the deferrable sensors really run in a
triggerer process (trigger serialisation, classpath import, the shared HTTP pool) and the tasks in
LocalExecutor workers talking to the execution API.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from airflow_provider_attendee.testing import start_simulator

EXAMPLES = Path(__file__).resolve().parents[2] / "example_dags"
DAG_ID = "attendee_meeting_pipeline"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def parse_json_list(output: str) -> list[dict]:
    """The JSON array in a CLI's output (log lines may come before it)."""
    for line in output.splitlines():
        if line.startswith("["):
            return list(json.loads(line))
    return []


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_meeting_pipeline_in_a_real_airflow(tmp_path):
    port = free_port()
    with start_simulator(scenario="demo", time_scale=60, api_key=f"e2e-{secrets.token_hex(8)}") as sim:
        env = {
            **os.environ,
            "AIRFLOW_HOME": str(tmp_path),
            "AIRFLOW__CORE__DAGS_FOLDER": str(EXAMPLES),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__PARALLELISM": "4",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(port),
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(16),
            "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
            "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "1",
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            "AIRFLOW__TRIGGERER__JOB_HEARTBEAT_SEC": "1",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
            "AIRFLOW_CONN_ATTENDEE_DEFAULT": sim.connection_json(),
            "ATTENDEE_EXAMPLE_POLL_SECONDS": "1",
        }
        airflow = [sys.executable, "-m", "airflow"]
        subprocess.run([*airflow, "db", "migrate"], env=env, check=True, capture_output=True)
        subprocess.run(
            [*airflow, "pools", "set", "attendee_api", "8", "Attendee"],
            env=env,
            check=True,
            capture_output=True,
        )
        logs = {
            name: open(tmp_path / f"{name}.log", "w")  # noqa: SIM115 (closed in the finally below)
            for name in ("api-server", "scheduler", "dag-processor", "triggerer")
        }
        processes = {
            name: subprocess.Popen(
                [*airflow, name], env=env, stdout=logs[name], stderr=subprocess.STDOUT, start_new_session=True
            )
            for name in logs
        }
        try:
            deadline = time.monotonic() + 180
            while True:  # wait until the dag-processor has parsed and serialized the DAG
                listed = subprocess.run(
                    [*airflow, "dags", "list", "-o", "json"], env=env, capture_output=True, text=True
                )
                if any(d.get("dag_id") == DAG_ID for d in parse_json_list(listed.stdout)):
                    break
                dead = [n for n, p in processes.items() if p.poll() is not None]
                assert not dead and time.monotonic() < deadline, (
                    f"DAG not serialized; dead: {dead}; see {tmp_path}"
                )
                time.sleep(2)
            subprocess.run([*airflow, "dags", "unpause", DAG_ID], env=env, check=True, capture_output=True)
            conf = json.dumps({"meeting_url": "https://meet.google.com/abc-defg-hij", "min_participants": 4})
            subprocess.run(
                [*airflow, "dags", "trigger", DAG_ID, "--conf", conf],
                env=env,
                check=True,
                capture_output=True,
            )
            state, deadline = None, time.monotonic() + 300
            while state not in ("success", "failed"):
                assert time.monotonic() < deadline, f"the run did not finish: {state}"
                time.sleep(3)
                runs = subprocess.run(
                    [*airflow, "dags", "list-runs", DAG_ID, "-o", "json"],
                    env=env,
                    capture_output=True,
                    text=True,
                )
                parsed = parse_json_list(runs.stdout) if runs.returncode == 0 else []
                state = parsed[0]["state"] if parsed else None
                dead = [n for n, p in processes.items() if p.poll() is not None]
                assert not dead, f"{dead} exited; see {tmp_path}"
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
        finally:
            for process in processes.values():
                if process.poll() is None:
                    os.killpg(process.pid, signal.SIGTERM)
            for process in processes.values():
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
            for log in logs.values():
                log.close()
