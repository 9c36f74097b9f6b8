"""DAG files parse without the hook, the pydantic models or the reconciliation: what a DAG file using the
operators, sensors and triggers imports is measured on ``sys.modules`` in a fresh interpreter."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROBE = """
import json, runpy, sys
import airflow.sdk  # every DAG file pays for it: what comes after is the DAG file's own cost
before = set(sys.modules)
runpy.run_path(sys.argv[1])
print(json.dumps(sorted(set(sys.modules) - before)))
"""
#: Our modules that only a running task or trigger needs: never imported by parsing a DAG file.
RUN_TIME_ONLY = {
    "airflow_provider_attendee.client.http",
    "airflow_provider_attendee.hooks.attendee",
    "airflow_provider_attendee.client.models",
    "airflow_provider_attendee.meetings.calendar_plan",
    "airflow_provider_attendee.meetings.report",
    "airflow_provider_attendee.meetings.report_render",
    "airflow_provider_attendee.webhooks",
    "airflow_provider_attendee.client.webhooks",
    "airflow_provider_attendee.testing",
}


def imported_by(dag_file: Path) -> set[str]:
    """The modules that parsing ``dag_file`` imports after ``import airflow.sdk``."""
    out = subprocess.run(
        [sys.executable, "-c", PROBE, str(dag_file)], capture_output=True, text=True, check=True, cwd=ROOT
    ).stdout
    return set(json.loads(out.strip().splitlines()[-1]))


def top_level(modules: set[str]) -> set[str]:
    return {name.partition(".")[0] for name in modules}


@pytest.fixture(scope="module")
def baseline() -> set[str]:
    """What the same DAG of EmptyOperators imports (Airflow's own lazy imports, e.g. the timetables)."""
    return imported_by(ROOT / "bench" / "dag_baseline.py")


def test_every_operator_and_sensor_parse_light(baseline: set[str]) -> None:
    modules = imported_by(ROOT / "bench" / "dag_every_operator.py")
    assert "airflow_provider_attendee.operators.calendar" in modules  # the probe saw the DAG's imports
    assert "airflow_provider_attendee.sensors.attendee" in modules
    assert modules & RUN_TIME_ONLY == set()
    assert "airflow_provider_attendee.triggers.attendee" not in modules  # imported when a sensor defers
    assert (
        "airflow_provider_attendee.meetings.presence" not in modules
    )  # the sensors' checks live in `arguments`
    # No third-party package beyond what the EmptyOperator DAG imports (httpx, pydantic and tenacity come
    # with airflow.sdk already, so they must not appear here either).
    assert top_level(modules) - top_level(baseline) <= {"airflow_provider_attendee"}


def test_an_event_trigger_is_created_without_the_hook(tmp_path: Path) -> None:
    """An AssetWatcher creates its trigger when the DAG file is parsed: the hook is imported only to run."""
    dag_file = tmp_path / "watcher.py"
    dag_file.write_text(
        "from airflow_provider_attendee.triggers.attendee import AttendeeBotEventTrigger\n"
        "trigger = AttendeeBotEventTrigger(state='ended', poll_interval=30)\n"
    )
    airflow_triggers = tmp_path / "airflow_triggers.py"
    airflow_triggers.write_text("import airflow.triggers.base\n")
    modules = imported_by(dag_file)
    assert "airflow_provider_attendee.triggers.attendee" in modules
    assert modules & RUN_TIME_ONLY == set()
    assert top_level(modules) - top_level(imported_by(airflow_triggers)) <= {"airflow_provider_attendee"}


def test_the_notes_operator_parses_without_common_ai(tmp_path: Path, baseline: set[str]) -> None:
    """The notes operator in a DAG file: no common-ai, no pydantic-ai, none of the notes' logic until it runs."""
    dag_file = tmp_path / "notes_dag.py"
    dag_file.write_text(
        "from airflow.sdk import DAG\n"
        "from airflow_provider_attendee.operators.notes import AttendeeMeetingNotesOperator\n"
        "with DAG('notes', schedule=None):\n"
        "    AttendeeMeetingNotesOperator(task_id='n', bot_id='bot_1', llm_conn_id='llm', require_approval=True)\n"
    )
    modules = imported_by(dag_file)
    assert "airflow_provider_attendee.operators.notes" in modules
    assert not {m for m in modules if m.startswith(("airflow.providers.common.ai", "pydantic_ai"))}
    assert not {m for m in modules if m.startswith("airflow_provider_attendee.notes")}
    assert modules & RUN_TIME_ONLY == set()
    assert top_level(modules) - top_level(baseline) <= {"airflow_provider_attendee"}
