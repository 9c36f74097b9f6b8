"""A real Airflow for end-to-end tests and benchmarks: each component a separate process on a throwaway
``AIRFLOW_HOME``, started the way a user starts them (``airflow api-server``, ``airflow scheduler``...).

::

    with RealAirflow(tmp_path, dags_folder, AIRFLOW_CONN_ATTENDEE_DEFAULT=sim.connection_json()) as af:
        af.wait_for_dag("attendee_meeting_pipeline")
        af.cli("dags", "trigger", "attendee_meeting_pipeline")
        af.wait_for_runs("attendee_meeting_pipeline", count=1)

Everything started is stopped on exit (process groups: a component's children go with it), also when the
body fails.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any

#: The components a LocalExecutor deployment runs.
LOCAL_COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def cpu_burners(count: int = 2) -> Iterator[None]:
    """``count`` processes spinning on the CPU while the block runs: a busy machine, for tests and
    benchmarks (as ``../shared/tools/under-load``)."""
    burners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(count)]
    try:
        yield
    finally:
        for burner in burners:
            burner.kill()
            burner.wait()


class RealAirflow:
    """Airflow components as separate processes on a throwaway home.

    ``env`` entries are added to the components' environment (``AIRFLOW__...`` settings, connections);
    ``components`` are started on enter, after ``airflow db migrate``.
    """

    def __init__(
        self,
        home: Path,
        dags_folder: Path,
        *,
        components: Sequence[str] = LOCAL_COMPONENTS,
        **env: str,
    ) -> None:
        self.home, self.port, self.components = home, free_port(), tuple(components)
        self.env = {
            **os.environ,
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(dags_folder),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__PARALLELISM": "4",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{self.port}/execution/",
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(self.port),
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(16),
            "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
            "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "1",
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            "AIRFLOW__TRIGGERER__JOB_HEARTBEAT_SEC": "1",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
            # Log servers on free ports, so that deployments (and a second triggerer) can run side by side.
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
            **env,
        }
        self.airflow = [sys.executable, "-m", "airflow"]
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.logs: dict[str, IO[str]] = {}
        self._engine: Any = None

    @property
    def url(self) -> str:
        """The API server's base URL."""
        return f"http://127.0.0.1:{self.port}"

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """``airflow <args>`` in this deployment's environment."""
        return subprocess.run(
            [*self.airflow, *args], env=self.env, check=check, capture_output=True, text=True
        )

    def start(
        self,
        name: str,
        *args: str,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
    ) -> None:
        """Start ``airflow <args>`` (default ``airflow <name>``) as the component ``name``; its output goes
        to ``<home>/<name>.log``. ``env`` adds to or overrides this deployment's environment for it."""
        log = self.logs.get(name) or open(self.home / f"{name}.log", "a")  # noqa: SIM115 (closed on exit)
        self.logs[name] = log
        self.processes[name] = subprocess.Popen(
            [*self.airflow, *(args or (name,))],
            env={**self.env, **(env or {})},
            cwd=cwd,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def stop(self, name: str) -> None:
        """Stop a component and everything it started (SIGTERM, then SIGKILL after 30 s)."""
        process = self.processes.pop(name)
        try:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
        except ProcessLookupError:
            pass
        with contextlib.suppress(ProcessLookupError):  # children that outlived it (task runners, pools)
            os.killpg(process.pid, signal.SIGKILL)

    def __enter__(self) -> RealAirflow:
        migrated = self.cli("db", "migrate", check=False)
        if migrated.returncode:
            raise RuntimeError(
                f"airflow db migrate failed:\n{migrated.stdout[-3000:]}{migrated.stderr[-3000:]}"
            )
        try:
            for name in self.components:
                self.start(name)
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        for name in list(self.processes):
            self.stop(name)
        for log in self.logs.values():
            log.close()
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    def api_up(self) -> bool:
        """Whether the API server answers its health check now."""
        import httpx

        try:
            return httpx.get(f"{self.url}/api/v2/monitor/health", timeout=5).status_code == 200
        except httpx.HTTPError:
            return False

    def wait_for_api(self, timeout: float = 180) -> None:
        """Until the API server answers its health check (it can come up after the DAG is parsed on a busy
        machine: a single request could meet a closed port)."""
        deadline = time.monotonic() + timeout
        while not self.api_up():
            self.assert_alive()
            assert time.monotonic() < deadline, f"the API server did not come up; see {self.home}"
            time.sleep(0.5)

    def dead(self) -> list[str]:
        """Components that exited."""
        return [n for n, p in self.processes.items() if p.poll() is not None]

    def assert_alive(self) -> None:
        assert not self.dead(), f"{self.dead()} exited; see the logs in {self.home}"

    @property
    def database_url(self) -> str:
        """The metadata database's SQLAlchemy URL (the deployment's setting, else its SQLite file)."""
        return self.env.get("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN") or f"sqlite:///{self.home}/airflow.db"

    def query(self, sql: str, **params: Any) -> list[tuple[Any, ...]]:
        """Rows of a read-only query on the metadata database. Waiting loops read it directly: an
        ``airflow`` CLI call costs seconds of CPU, which a polling test would take from the deployment.
        Retried briefly on SQLite's "database is locked" and on a table not created yet."""
        import sqlalchemy
        import tenacity

        if self._engine is None:
            self._engine = sqlalchemy.create_engine(self.database_url, poolclass=sqlalchemy.pool.NullPool)
        for attempt in tenacity.Retrying(
            retry=tenacity.retry_if_exception_type(sqlalchemy.exc.OperationalError),
            stop=tenacity.stop_after_attempt(10),
            wait=tenacity.wait_fixed(0.5),
            reraise=True,
        ):
            with attempt, self._engine.connect() as connection:
                return [tuple(row) for row in connection.execute(sqlalchemy.text(sql), params)]
        raise AssertionError("unreachable: tenacity re-raises the last error")

    def xcom_value(self, dag_id: str, run_id: str, task_id: str, key: str = "return_value") -> Any:
        """A task's XCom as Airflow stored it in the metadata DB (JSON, decoded until it is not a string)."""
        import json

        rows = self.query(
            "SELECT value FROM xcom WHERE dag_id = :dag_id AND run_id = :run_id AND task_id = :task_id "
            "AND key = :key",
            dag_id=dag_id,
            run_id=run_id,
            task_id=task_id,
            key=key,
        )
        assert len(rows) == 1, f"{dag_id} {run_id} {task_id}: {rows}"
        value: Any = rows[0][0]
        while isinstance(value, str | bytes):
            value = json.loads(value)
        return value

    def wait_for_dag(self, dag_id: str, timeout: float = 180) -> None:
        """Until the dag-processor has parsed and serialized the DAG, then unpause it (as a user does); and,
        where the API server runs, until it answers too, within the same ``timeout``. On a busy machine it can
        come up after the DAG is parsed, and a test's next step is usually a request to it (CI once met a
        closed port there)."""
        deadline = time.monotonic() + timeout
        while not self.query("SELECT dag_id FROM serialized_dag WHERE dag_id = :dag_id", dag_id=dag_id):
            self.assert_alive()
            assert time.monotonic() < deadline, f"{dag_id} was not serialized; see {self.home}"
            time.sleep(1)
        self.cli("dags", "unpause", dag_id)
        if "api-server" in self.processes:
            self.wait_for_api(timeout=deadline - time.monotonic())  # one deadline: both started together

    def runs(self, dag_id: str) -> list[dict[str, Any]]:
        """The DAG's runs (run_id, state, run_type), newest first."""
        rows = self.query(
            "SELECT run_id, state, run_type FROM dag_run WHERE dag_id = :dag_id ORDER BY id DESC",
            dag_id=dag_id,
        )
        return [{"run_id": run_id, "state": state, "run_type": kind} for run_id, state, kind in rows]

    def approve_reviews(self, dag_id: str) -> list[str]:
        """Approve every open review of the DAG's tasks over the REST API, as a person does on the Required
        Actions page (the example post-meeting DAG holds its notes for one when the ``[notes]`` extra is
        installed); the tasks answered (``run_id/task_id[map_index]``). Needs the API without a login
        (``AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS=True``). A review not yet open for answers (the
        task not parked yet) is left for the next call."""
        import httpx

        rows = self.query(
            "SELECT ti.run_id, ti.task_id, ti.map_index FROM hitl_detail h "
            "JOIN task_instance ti ON ti.id = h.ti_id WHERE ti.dag_id = :dag_id AND h.responded_at IS NULL",
            dag_id=dag_id,
        )
        answered = []
        for run_id, task_id, map_index in rows:
            answer = httpx.patch(
                f"{self.url}/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/{map_index}/hitlDetails",
                json={"chosen_options": ["Approve"]},
                timeout=60,
            )
            if answer.status_code == 200:
                answered.append(f"{run_id}/{task_id}[{map_index}]")
        return answered

    def wait_for_runs(self, dag_id: str, count: int, timeout: float = 300) -> list[dict[str, Any]]:
        """Until the DAG has at least ``count`` runs and none is queued or running; its runs."""
        deadline = time.monotonic() + timeout
        while True:
            runs = self.runs(dag_id)
            if len(runs) >= count and all(r["state"] in ("success", "failed") for r in runs):
                return runs
            self.assert_alive()
            assert time.monotonic() < deadline, f"{dag_id}: {runs}; see {self.home}"
            time.sleep(2)
