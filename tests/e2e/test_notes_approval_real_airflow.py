"""The approval gate in a real Airflow (scheduler, API server, dag-processor, triggerer as processes): the
meeting notes are written only after a person approved them over the API, as the Required Actions page
does. One test, on the Airflow 3.3 suite (the [notes] extra cannot be installed with Airflow 3.1.0's
constraints: pydantic 2.11.9 < the 2.12 pydantic-ai needs)."""

from __future__ import annotations

import json
import secrets
import time
from pathlib import Path

import pytest

pytest.importorskip(
    "airflow.providers.common.ai",
    reason="the [notes] extra (common-ai 1.0, pydantic-ai-slim >= 2.36) needs pydantic >= 2.12; Airflow 3.1.0's "
    "constraints pin pydantic 2.11.9, so the approval gate is tested on Airflow 3.3 only",
)

from airflow_provider_attendee.hooks.attendee import AttendeeHook
from airflow_provider_attendee.testing import start_simulator
from airflow_provider_attendee.testing.demo import PRODUCT_SYNC
from airflow_provider_attendee.testing.real_airflow import RealAirflow

DAGS = Path(__file__).resolve().parent / "notes_dags"
DAG_ID = "attendee_test_notes_approval"


def wait_until(condition, airflow: RealAirflow, what: str, timeout: float = 240) -> None:
    """Poll ``condition`` (a bound on a hang, not a measurement)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what} within {timeout:.0f} s; see {airflow.home}"
        airflow.assert_alive()
        time.sleep(0.5)


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_the_notes_are_written_only_after_a_person_approved_them(tmp_path, monkeypatch):
    import httpx

    out = tmp_path / "notes"
    with start_simulator(scenario="demo", time_scale=0, api_key=f"e2e-{secrets.token_hex(8)}") as sim:
        monkeypatch.setenv("AIRFLOW_CONN_ATTENDEE_DEFAULT", sim.connection_json())
        bot = AttendeeHook().create_bot(PRODUCT_SYNC, bot_name="Notes").id
        sim.admin.advance(800)
        env = {
            "AIRFLOW_CONN_ATTENDEE_DEFAULT": sim.connection_json(),
            "AIRFLOW_CONN_NOTES_LLM": json.dumps({"conn_type": "pydanticai", "extra": {"model": "test"}}),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
            "AIRFLOW__API_AUTH__JWT_ISSUER": "attendee-e2e-test",
        }
        with RealAirflow(tmp_path / "home", DAGS, **env) as airflow:
            airflow.wait_for_dag(DAG_ID)  # and the API server
            airflow.cli("dags", "trigger", DAG_ID, "--conf", json.dumps({"bot_id": bot, "out": str(out)}))

            def state() -> str | None:
                rows = airflow.query(
                    "SELECT state FROM task_instance WHERE dag_id = :d AND task_id = 'meeting_notes'",
                    d=DAG_ID,
                )
                return rows[0][0] if rows else None

            wait_until(
                lambda: state() == "awaiting_input", airflow, "the notes task did not wait for a review"
            )
            # Held: the notes were written by the model, but nothing is published while the review is open.
            (review,) = airflow.query("SELECT subject, body, responded_at FROM hitl_detail")
            assert review[0] == f"Approve the meeting notes of bot {bot}" and review[2] is None
            assert "## Action items" in review[1] and "stand-in model" in review[1]
            assert not out.exists() or not any(out.iterdir())

            (run_id,) = airflow.query("SELECT run_id FROM dag_run WHERE dag_id = :d", d=DAG_ID)[0]
            review = f"{airflow.url}/api/v2/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/meeting_notes/-1/hitlDetails"

            def approved_and_done() -> bool:
                """Approve over the API while the task waits for it (again if a retry, e.g. after a missed
                heartbeat on a loaded machine, asked again); done when the run finished."""
                if state() == "awaiting_input":
                    answer = httpx.patch(review, json={"chosen_options": ["Approve"]}, timeout=60)
                    assert answer.status_code in (200, 409), answer.text  # 409: answered already
                return airflow.runs(DAG_ID)[0]["state"] in ("success", "failed")

            wait_until(approved_and_done, airflow, "the approved notes were not published", timeout=400)
            runs = airflow.runs(DAG_ID)
            assert runs[0]["state"] == "success", f"{runs}; see {airflow.home}"
            result = airflow.xcom_value(DAG_ID, run_id, "meeting_notes")

    assert sorted(p.name for p in out.iterdir()) == ["notes.json", "notes.md"]
    assert result["stand_in"] and result["usage"]["calls"] == 1
    assert json.loads((out / "notes.json").read_text())["notes"] == result["notes"]
