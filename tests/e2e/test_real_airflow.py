"""A real Airflow: api-server, scheduler, dag-processor and triggerer as separate processes (LocalExecutor).

Triggers attendee_meeting_pipeline and waits for success, so the deferrable sensors really run in a
triggerer process (trigger serialisation, classpath import, the shared HTTP pool) and the tasks in
LocalExecutor workers talking to the execution API.
"""

from __future__ import annotations

import json
import os
import secrets
import time
from pathlib import Path

import pytest

from airflow_provider_attendee.testing import start_simulator
from airflow_provider_attendee.testing.real_airflow import RealAirflow, parse_json_list

EXAMPLES = Path(__file__).resolve().parents[2] / "example_dags"
DAG_ID = "attendee_meeting_pipeline"


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_meeting_pipeline_in_a_real_airflow(tmp_path):
    with start_simulator(scenario="demo", time_scale=60, api_key=f"e2e-{secrets.token_hex(8)}") as sim:
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
                runs = airflow.cli("dags", "list-runs", DAG_ID, "-o", "json", check=False)
                parsed = parse_json_list(runs.stdout) if runs.returncode == 0 else []
                state = parsed[0]["state"] if parsed else None
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


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_pushed_meetings_each_run_the_post_meeting_dag_once_in_a_real_airflow(tmp_path):
    """The simulator delivers signed webhooks to the plugin on the real API server and the example
    post-meeting DAG (push mode) processes every finished meeting exactly once, also six that end in the
    same second; bad signatures and replays are refused; a delivery accepted while the scheduler is down is
    processed when it is back."""
    import base64

    import httpx

    from airflow_provider_attendee.hooks.attendee import AttendeeHook
    from airflow_provider_attendee.testing.webhook_delivery import sign

    secret = base64.b64encode(secrets.token_bytes(32)).decode()
    outputs = tmp_path / "attendee" / POST_MEETING
    with start_simulator(scenario="demo", time_scale=0, api_key=f"e2e-{secrets.token_hex(8)}") as sim:
        conn = json.loads(sim.connection_json())
        conn["extra"] = {**conn.get("extra", {}), "webhook_secret": secret}
        airflow_env = {"AIRFLOW_CONN_ATTENDEE_DEFAULT": json.dumps(conn), "ATTENDEE_EXAMPLE_EVENTS": "push"}
        with RealAirflow(tmp_path, EXAMPLES, **airflow_env) as airflow:
            airflow.wait_for_dag(POST_MEETING)
            url = f"http://127.0.0.1:{airflow.port}/attendee/webhooks"
            sim.admin.set_webhooks([{"url": url, "triggers": ["bot.state_change"]}], secret)

            def processed() -> list[str]:
                """Bot ids with a transcript and a report, once per run that wrote them."""
                return sorted(
                    folder.name
                    for folder in outputs.glob("*/*")
                    if (folder / "transcript.json").exists() and (folder / "report.json").exists()
                )

            def wait_processed(expected: set[str], timeout: float) -> None:
                started = time.monotonic()
                while not expected <= set(processed()):
                    assert time.monotonic() - started < timeout, f"processed {processed()}; see {tmp_path}"
                    assert not airflow.dead(), f"{airflow.dead()} exited; see {tmp_path}"
                    time.sleep(0.5)

            os.environ["AIRFLOW_CONN_ATTENDEE_DEFAULT"] = sim.connection_json()
            urls = ["https://meet.google.com/abc-defg-hij"] * 4 + [
                "https://meet.google.com/bcd-efgh-ijk",
                "https://meet.google.com/cde-fghi-jkl",
            ]
            with AttendeeHook() as hook:
                bots = {hook.create_bot(u, bot_name="Push").id for u in urls}
            sim.admin.advance(3600)  # all six meetings end now: six "ended" deliveries within milliseconds
            ended_at = time.monotonic()
            wait_processed(bots, timeout=240)  # a lost meeting fails, not a slow machine
            latency = time.monotonic() - ended_at
            deliveries = sim.admin.webhook_deliveries()
            assert deliveries and all(d["attempts"] == [200] for d in deliveries), deliveries

            # Refused: a wrong signature and a replay (no Airflow login: the signature authenticates).
            envelope = {
                "idempotency_key": secrets.token_hex(16),
                "bot_id": sorted(bots)[0],
                "bot_metadata": None,
                "trigger": "bot.state_change",
                "data": {
                    "new_state": "joined_recording",
                    "old_state": "joining",
                    "event_type": "joined_meeting",
                },
            }
            body = json.dumps(envelope)
            headers = {"Content-Type": "application/json", "X-Webhook-Signature": sign(envelope, secret)}
            forged = {**headers, "X-Webhook-Signature": sign(envelope, base64.b64encode(b"w" * 32).decode())}
            assert httpx.post(url, content=body, headers=forged).status_code == 401
            assert httpx.post(url, content=body, headers=headers).status_code == 200
            assert httpx.post(url, content=body, headers=headers).status_code == 400  # the replay

            # A meeting that ends while the scheduler is down: accepted, and processed once it is back.
            with AttendeeHook() as hook:
                late = hook.create_bot("https://meet.google.com/def-ghij-klm", bot_name="Late").id
            airflow.stop("scheduler")
            sim.admin.advance(3600)
            deadline = time.monotonic() + 30
            while not any(d["bot_id"] == late and d["delivered"] for d in sim.admin.webhook_deliveries()):
                assert time.monotonic() < deadline, "the late meeting's webhooks were not accepted"
                time.sleep(0.5)
            time.sleep(3)
            assert late not in processed()
            airflow.start("scheduler")
            wait_processed(bots | {late}, timeout=240)

            assert processed() == sorted(bots | {late}), processed()  # each meeting exactly once
            runs = parse_json_list(airflow.cli("dags", "list-runs", POST_MEETING, "-o", "json").stdout)
            assert runs and {r["state"] for r in runs} == {"success"}, runs
            # Timed for information only (bench.event_latency measures it): a busy machine is slower, not wrong.
            print(f"six simultaneous finishes processed {latency:.1f} s after the meetings ended")
