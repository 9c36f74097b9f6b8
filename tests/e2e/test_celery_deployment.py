"""Several machines in miniature: Airflow with the CeleryExecutor on PostgreSQL and Redis, two Celery workers
(each its own AIRFLOW_HOME and working directory, no shared local disk: machine A and machine B, on queues
``machine_a``/``machine_b`` and both on ``default``), two triggerers, the API server, the scheduler and the
dag-processor, against the simulator; results shared through an S3-compatible server (moto).

It runs the calendar sync (twice), the meeting pipeline, the post-meeting DAG (the polling watcher, with
both triggerers up) and a DAG whose result is written on A and read on B, and checks: every run succeeds;
each deferred sensor's trigger fired once and its task resumed once; each finished meeting was emitted once;
no bot was duplicated; B read what A wrote; the local-destination default says it is a trap here.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import time
from collections import Counter
from pathlib import Path

import pytest

from airflow_provider_attendee.testing import start_simulator
from airflow_provider_attendee.testing.real_airflow import RealAirflow, free_port
from airflow_provider_attendee.testing.services import missing_services, postgres, redis, s3_server

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

ROOT = Path(__file__).resolve().parents[2]
SENSORS = ("wait_recording", "wait_quorum", "wait_empty", "wait_ended")
BUCKET = "attendee-results"


def _needs() -> str | None:
    try:
        import celery  # noqa: F401
        import moto  # noqa: F401
        import psycopg2  # noqa: F401
        from airflow.providers.amazon.aws.fs import s3  # noqa: F401
        from airflow.providers.celery.executors import celery_executor  # noqa: F401
    except ImportError as err:
        return f"the 'scale' extra is not installed ({err}): pip install -e '.[scale]'"
    if missing := missing_services():
        return f"not installed: {', '.join(missing)} (apt-get install {' '.join(missing)})"
    return None


@pytest.fixture
def dags_folder(tmp_path: Path) -> Path:
    """The example DAGs and the cross-worker DAG, as a deployment would ship them to every machine."""
    folder = tmp_path / "dags"
    folder.mkdir()
    for dag_file in [
        *(ROOT / "example_dags").glob("*.py"),
        ROOT / "tests/e2e/celery_dags/attendee_cross_worker.py",
    ]:
        (folder / dag_file.name).symlink_to(dag_file)
    return folder


def task_of(log: Path) -> tuple[str, str]:
    """(dag_id, task_id) of a task or trigger log file (logs/dag_id=.../run_id=.../task_id=.../...)."""
    parts = {p.split("=", 1)[0]: p.split("=", 1)[1] for p in log.parts if "=" in p}
    return parts["dag_id"], parts["task_id"]


def started_here(tmp_path: Path) -> list[str]:
    """Processes still running with an AIRFLOW_HOME in this test's folder (components, task runners)."""
    import psutil

    found = []
    for process in psutil.process_iter(["pid", "name"]):
        with contextlib.suppress(psutil.Error):
            if process.environ().get("AIRFLOW_HOME", "").startswith(str(tmp_path)):
                found.append(f"{process.pid} {process.name()}")
    return found


def as_json(value: object) -> object:
    """A JSON column's value (PostgreSQL's driver already decodes it, also a plain string; text otherwise)."""
    if isinstance(value, (str, bytes)):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def test_celery_two_workers_two_triggerers(tmp_path: Path, dags_folder: Path) -> None:
    if reason := _needs():
        pytest.skip(reason)
    import boto3

    home = tmp_path / "airflow"
    home.mkdir()
    api_key = f"e2e-{secrets.token_hex(8)}"
    with (
        postgres() as database,
        redis() as broker,
        s3_server() as s3,
        # 30x: a slow start on a busy CI machine must not see every calendar event begin before the sync.
        start_simulator(scenario="demo", time_scale=30, api_key=api_key) as sim,
    ):
        boto3.client(
            "s3", endpoint_url=s3, aws_access_key_id="k", aws_secret_access_key="s", region_name="us-east-1"
        ).create_bucket(Bucket=BUCKET)
        aws = {
            "conn_type": "aws",
            "login": "k",
            "password": "s",
            "extra": {"endpoint_url": s3, "region_name": "us-east-1"},
        }
        env = {
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": database,
            "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
            "AIRFLOW__CORE__PARALLELISM": "16",
            "AIRFLOW__CELERY__BROKER_URL": broker,
            "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + database.replace("+psycopg2", ""),
            "AIRFLOW__CELERY__WORKER_CONCURRENCY": "3",
            "AIRFLOW__OPERATORS__DEFAULT_QUEUE": "default",
            "AIRFLOW_CONN_ATTENDEE_DEFAULT": sim.connection_json(),
            "AIRFLOW_CONN_AWS_SHARED": json.dumps(aws),
            "ATTENDEE_SHARED_DESTINATION": f"s3://aws_shared@{BUCKET}",
            "ATTENDEE_EXAMPLE_POLL_SECONDS": "2",
            # A person approves the post-meeting notes (with [notes]) over the API: airflow.approve_reviews.
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
        }
        components = ("api-server", "scheduler", "dag-processor")
        with RealAirflow(home, dags_folder, components=components, **env) as airflow:
            for name in ("triggerer-1", "triggerer-2"):
                airflow.start(
                    name, "triggerer", env={"AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port())}
                )
            for machine in ("a", "b"):  # two machines: own AIRFLOW_HOME, working directory and log server
                machine_home = tmp_path / f"machine-{machine}"
                machine_home.mkdir()
                airflow.start(
                    f"worker-{machine}",
                    *(
                        "celery",
                        "worker",
                        "--queues",
                        f"default,machine_{machine}",
                        "--celery-hostname",
                        f"{machine}@%h",
                    ),
                    env={
                        "AIRFLOW_HOME": str(machine_home),
                        "ATTENDEE_MACHINE": machine,
                        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
                    },
                    cwd=machine_home,
                )

            # The watcher is polling before any meeting exists: every meeting that ends is new to it.
            airflow.wait_for_dag("attendee_post_meeting")
            deadline = time.monotonic() + 180
            while not sim.admin.requests("GET /api/v1/bots"):
                airflow.assert_alive()
                assert time.monotonic() < deadline, f"the watcher never polled; see {home}"
                time.sleep(1)
            for dag_id in ("attendee_calendar_sync", "attendee_meeting_pipeline", "attendee_cross_worker"):
                airflow.wait_for_dag(dag_id)

            conf = json.dumps({"meeting_url": "https://meet.google.com/abc-defg-hij", "min_participants": 4})
            airflow.cli("dags", "trigger", "attendee_meeting_pipeline", "--conf", conf)
            airflow.cli("dags", "trigger", "attendee_cross_worker")
            airflow.cli("dags", "trigger", "attendee_calendar_sync")  # also scheduled every 5 minutes
            runs = {
                dag_id: airflow.wait_for_runs(dag_id, count=1, timeout=420)
                for dag_id in ("attendee_meeting_pipeline", "attendee_cross_worker", "attendee_calendar_sync")
            }
            synced = len(runs["attendee_calendar_sync"])
            airflow.cli("dags", "trigger", "attendee_calendar_sync")  # another sync: nothing new to create
            runs["attendee_calendar_sync"] = airflow.wait_for_runs("attendee_calendar_sync", count=synced + 1)

            # Every bot that ended by now reaches the post-meeting DAG, once.
            deadline = time.monotonic() + 240
            while True:
                ended = {b["id"] for b in sim.admin.bots() if b["state"] == "ended"}
                emitted = airflow.query(
                    "SELECT e.extra FROM asset_event e JOIN asset a ON a.id = e.asset_id "
                    "WHERE a.uri = 'attendee://bots/ended'",
                )
                emitted_ids = Counter(as_json(extra)["payload"]["bot_id"] for (extra,) in emitted)
                airflow.approve_reviews("attendee_post_meeting")  # the notes, with [notes] installed
                post = airflow.runs("attendee_post_meeting")
                if (
                    ended <= set(emitted_ids)
                    and post
                    and all(r["state"] in ("success", "failed") for r in post)
                ):
                    break
                airflow.assert_alive()
                assert time.monotonic() < deadline, f"ended {ended}, emitted {emitted_ids}, runs {post}"
                time.sleep(3)
            runs["attendee_post_meeting"] = post

            for dag_id, dag_runs in runs.items():
                assert dag_runs and {r["state"] for r in dag_runs} == {"success"}, (dag_id, dag_runs, home)

            # Each finished meeting emitted once, with two triggerers up.
            assert len(ended) >= 2, ended
            assert max(emitted_ids.values()) == 1, emitted_ids
            assert set(emitted_ids) <= {b["id"] for b in sim.admin.bots()}

            # Each deferred sensor: its trigger fired once per deferral (in one of the two triggerers), and
            # its task resumed once per deferral (on either machine), and finished on its first try.
            tis = airflow.query("SELECT dag_id, task_id, state, try_number FROM task_instance")
            sensors = {(d, t): (state, tries) for d, t, state, tries in tis if t in SENSORS}
            assert set(sensors.values()) == {("success", 1)}, sensors
            deferred, started, fired = Counter(), Counter(), Counter()
            for machine in ("machine-a", "machine-b"):
                for log in (tmp_path / machine / "logs").rglob("attempt=1.log"):
                    text = log.read_text(errors="replace")
                    deferred[task_of(log)] += text.count("Pausing task as DEFERRED")
                    started[task_of(log)] += text.count("::group::Pre Execute")
            for log in (home / "logs").rglob("*.trigger.*.log"):
                fired[task_of(log)] += log.read_text(errors="replace").count("Trigger fired event")
            deferred = +deferred
            assert deferred, "no sensor deferred"
            assert fired == deferred, (fired, deferred)
            assert all(started[task] == deferred[task] + 1 for task in deferred), (started, deferred)
            # No sensor's trigger left behind (the watcher's stays: it runs as long as the DAG is active).
            assert not airflow.query(
                "SELECT classpath FROM trigger WHERE classpath NOT LIKE '%BotEventTrigger'"
            )

            # No bot duplicated: one per calendar event, one for the pipeline, one for the cross-worker DAG.
            bots = sim.admin.bots()
            events = [b["metadata"]["event_id"] for b in bots if (b["metadata"] or {}).get("event_id")]
            assert events and len(events) == len(set(events)), Counter(events)
            pipeline = [b for b in bots if (b["metadata"] or {}).get("dag_id") == "attendee_meeting_pipeline"]
            assert len(pipeline) == 1, pipeline

            # Machine B read what machine A wrote, through the shared object storage.
            ((value,),) = airflow.query(
                "SELECT value FROM xcom WHERE dag_id = 'attendee_cross_worker' "
                "AND task_id = 'read_on_the_other_machine' AND key = 'return_value'",
            )
            ((writer,),) = airflow.query(
                "SELECT value FROM xcom WHERE dag_id = 'attendee_cross_worker' "
                "AND task_id = 'machine_of_the_writer' AND key = 'return_value'",
            )
            read = as_json(value)
            assert as_json(writer) == "a"
            assert read["machine"] == "b" and read["utterances"] > 0, read
            assert read["uri"].startswith(f"s3://aws_shared@{BUCKET}/"), read
            for machine in ("machine-a", "machine-b"):  # on no machine's own disk: only in the object store
                assert not list(
                    (tmp_path / machine).glob("attendee/attendee_cross_worker/**/transcript.json")
                )

            # The post-meeting DAG uses the local default: the log says it is not shared with other machines.
            worker_logs = "".join(
                p.read_text(errors="replace")
                for m in "ab"
                for p in (tmp_path / f"machine-{m}").rglob("*.log")
            )
            assert "With CeleryExecutor, tasks run on other machines" in worker_logs
            everything = worker_logs + "".join(p.read_text(errors="replace") for p in home.rglob("*.log"))
            assert api_key not in everything
    assert not started_here(tmp_path), f"processes left running: {started_here(tmp_path)}"
