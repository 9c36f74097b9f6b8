"""The docs' "Testing your DAGs" examples, run in CI exactly as docs/testing.md shows them: the page
includes them from this file's ``--8<--`` sections (a test below checks that it does)."""

from __future__ import annotations

# --8<-- [start:example]
import runpy
from pathlib import Path

import pytest

from airflow_provider_attendee.operators.calendar import AttendeeScheduleCalendarBotsOperator

# Your DAG file, in the dags folder (Airflow 3.1's dag.test() runs only DAGs serialized from there).
DAG_FILE = Path(__file__).parents[2] / "example_dags" / "attendee_meeting_pipeline.py"


@pytest.mark.attendee_simulator(scenario="demo")
def test_the_pipeline_reports_the_meeting(attendee_dag_test, attendee_simulator):
    dag = runpy.run_path(str(DAG_FILE))["dag"]
    run = attendee_dag_test(  # the simulator's clock runs 60x while the DAG waits on the meeting
        dag, time_scale=60, timeout=300, run_conf={"meeting_url": "https://meet.google.com/abc-defg-hij"}
    )
    assert {str(ti.state) for ti in run.get_task_instances()} == {"success"}
    (bot,) = attendee_simulator.admin.bots()
    assert bot["state"] == "ended"
    summary = run.get_task_instance("publish_summary").xcom_pull(task_ids="publish_summary")
    assert summary["top_speaker"] == "Maya Chen"
    # --8<-- [end:example]


# --8<-- [start:unit-example]
@pytest.mark.attendee_simulator(scenario="demo")  # also: time_scale=60, seed=1, page_size=5, faults={...}
def test_my_calendar_sync_schedules_bots(attendee_simulator):
    sync = AttendeeScheduleCalendarBotsOperator(task_id="sync", min_attendees=2, skip_name_regex="lunch")
    summary = sync.execute({})
    assert len(attendee_simulator.admin.bots()) == summary["counts"]["created"] > 0
    attendee_simulator.admin.advance(minutes=15)  # meetings progress deterministically
    attendee_simulator.admin.set_faults(default={"rate_5xx": 0.2, "rate_429": 0.1})
    assert sync.execute({})["counts"]["created"] == 0  # retried through the faults, nothing new
    # --8<-- [end:unit-example]


@pytest.mark.attendee_simulator(scenario="demo")
def test_a_run_that_would_wait_forever_ends_with_a_clear_error(attendee_dag_test, attendee_simulator):
    from airflow_provider_attendee.testing.pytest_plugin import DagTestTimeout

    dag = runpy.run_path(str(DAG_FILE))["dag"]
    with pytest.raises(DagTestTimeout, match=r"did not finish within 3 s.*wait_recording"):
        attendee_dag_test(dag, time_scale=0, timeout=3)  # a frozen clock: the bot never records
    assert all(b["state"] == "fatal_error" for b in attendee_simulator.admin.bots())


def test_the_testing_page_includes_these_examples():
    import re

    source = Path(__file__).read_text()
    page = (Path(__file__).parents[2] / "docs" / "testing.md").read_text()
    for name in ("example", "unit-example"):
        section = re.search(rf"# --8<-- \[start:{name}\]\n(.*?)    # --8<-- \[end:{name}\]", source, re.S)
        assert section and "assert" in section.group(1), name  # a section that tests something
        assert f'--8<-- "tests/e2e/test_user_dag_example.py:{name}"' in page, name
