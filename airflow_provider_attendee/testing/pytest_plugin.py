"""pytest plugin (entry point ``pytest11``): fixtures for DAG authors' tests.

``attendee_simulator`` gives each test a fresh simulator on 127.0.0.1 (one server per session, reset per
test) and points ``AIRFLOW_CONN_ATTENDEE_DEFAULT`` at it. Its clock is frozen unless the test asks
otherwise; configure it with the marker::

    @pytest.mark.attendee_simulator(scenario="demo", time_scale=60, seed=1, page_size=5)
    def test_my_dag(attendee_simulator):
        attendee_simulator.admin.advance(minutes=5)

``seconds_per_request=20`` (with ``time_scale=0``) moves the clock 20 s on each API request instead: the
meetings progress with the sensors' polls, so a slow or busy machine cannot miss a moment it waits for.

``attendee_dag_test`` runs a DAG with ``dag.test()`` the way a DAG with sensors needs it: in a migrated
metadata DB (``attendee_airflow_db``), with the simulator's clock moving, and with a bounded wait that
ends the run with a clear error instead of hanging.

Nothing heavy is imported until a test uses a fixture.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from airflow_provider_attendee.testing.runner import RunningSimulator


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "attendee_simulator(scenario=None, time_scale=0, seconds_per_request=0, seed=0, page_size=None, "
        "faults=None, "
        "zoom_credentials=True, recording_storage=True): "
        "configure the attendee_simulator fixture",
    )


@pytest.fixture(scope="session")
def attendee_simulator_server() -> Iterator[RunningSimulator]:
    """One simulator server for the whole session (use ``attendee_simulator`` in tests)."""
    from airflow_provider_attendee.testing.runner import start_simulator

    running = start_simulator(api_key=f"sim-{secrets.token_hex(12)}", time_scale=0)
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def attendee_simulator(
    request: pytest.FixtureRequest,
    attendee_simulator_server: RunningSimulator,
    monkeypatch: pytest.MonkeyPatch,
) -> RunningSimulator:
    """A freshly reset simulator; ``AIRFLOW_CONN_ATTENDEE_DEFAULT`` points at it for this test."""
    marker = request.node.get_closest_marker("attendee_simulator")
    options: dict[str, Any] = dict(marker.kwargs) if marker else {}
    attendee_simulator_server.admin.reset(
        options.get("scenario"),
        time_scale=float(options.get("time_scale", 0.0)),
        seed=int(options.get("seed", 0)),
        page_size=options.get("page_size"),
        faults=options.get("faults"),
        zoom_credentials=bool(options.get("zoom_credentials", True)),
        recording_storage=bool(options.get("recording_storage", True)),
    )
    if options.get("seconds_per_request"):
        attendee_simulator_server.admin.set_seconds_per_request(float(options["seconds_per_request"]))
    monkeypatch.setenv("AIRFLOW_CONN_ATTENDEE_DEFAULT", attendee_simulator_server.connection_json())
    return attendee_simulator_server


class DagTestTimeout(AssertionError):
    """``attendee_dag_test`` gave up on a DAG run that did not finish in time."""


@pytest.fixture(scope="session")
def attendee_airflow_db() -> str:
    """Airflow's metadata DB migrated (once per session) in ``AIRFLOW_HOME``, and the DAGs folder serialized
    (Airflow 3.1's ``dag.test()`` runs only DAGs it finds serialized). Refuses to touch a home that was not
    chosen for the tests: set ``AIRFLOW_HOME`` (a throwaway folder) before Airflow is imported."""
    home = os.environ.get("AIRFLOW_HOME")
    if not home:
        pytest.fail(
            "AIRFLOW_HOME is not set: point it at a throwaway folder at the top of conftest.py, before "
            "anything imports airflow (os.environ.setdefault('AIRFLOW_HOME', tempfile.mkdtemp())).",
            pytrace=False,
        )
    env = {**os.environ, "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING"}
    for command in (["db", "migrate"], ["dags", "reserialize"]):
        done = subprocess.run(
            [sys.executable, "-m", "airflow", *command], env=env, capture_output=True, text=True, timeout=600
        )
        if done.returncode != 0:
            pytest.fail(
                f"airflow {' '.join(command)} failed in {home}:\n{done.stderr[-3000:]}", pytrace=False
            )
    return home


@pytest.fixture
def attendee_dag_test(
    request: pytest.FixtureRequest, attendee_simulator: RunningSimulator, attendee_airflow_db: str
) -> Callable[..., Any]:
    """``attendee_dag_test(dag, time_scale=60, timeout=300, **dag_test_kwargs)``: ``dag.test()`` against the
    simulator with its clock running ``time_scale`` times faster than real time (sensors need meetings
    to progress). After ``timeout`` seconds every live simulated bot is failed, so each Attendee sensor
    ends, and ``DagTestTimeout`` says so, instead of a run that hangs. Returns the DagRun."""
    marker = request.node.get_closest_marker("attendee_simulator")
    frozen_scale = float((marker.kwargs if marker else {}).get("time_scale", 0.0))
    admin = attendee_simulator.admin

    def run(dag: Any, *, time_scale: float = 60.0, timeout: float = 300.0, **test_kwargs: Any) -> Any:
        finished, expired = threading.Event(), threading.Event()

        def watchdog() -> None:
            if finished.wait(timeout):
                return
            expired.set()
            while not finished.is_set():  # also the bots created after the deadline
                for bot in admin.bots():
                    if not bot["finished"]:
                        admin.fail_bot(bot["id"])
                finished.wait(1.0)

        admin.set_time_scale(time_scale)
        guard = threading.Thread(target=watchdog, name="attendee-dag-test-watchdog", daemon=True)
        guard.start()
        try:
            dag_run = dag.test(**test_kwargs)
        finally:
            finished.set()
            guard.join(timeout=5)
            admin.set_time_scale(frozen_scale)
        if expired.is_set():
            states = {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()}
            raise DagTestTimeout(
                f"dag.test() of {dag.dag_id} did not finish within {timeout:g} s, so its simulated bots were "
                f"failed to end it (task states: {states}). Check what the sensors wait for, or pass a "
                "larger timeout= or time_scale=."
            )
        return dag_run

    return run
