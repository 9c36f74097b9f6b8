"""RealAirflow's waits: a test's first request to the API server never meets a closed port."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_attendee.testing.real_airflow import RealAirflow


class Health(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/api/v2/monitor/health" else 404)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def deployment(tmp_path: Path) -> Iterator[RealAirflow]:
    """A RealAirflow whose DAG is serialized and whose "API server" is a process that runs but (yet) listens
    on nothing; the CLI is not called."""
    with sqlite3.connect(tmp_path / "airflow.db") as db:
        db.execute("CREATE TABLE serialized_dag (dag_id TEXT)")
        db.execute("INSERT INTO serialized_dag VALUES ('d')")
    airflow = RealAirflow(tmp_path, tmp_path)
    airflow.cli = lambda *args, check=True: None  # type: ignore[method-assign,assignment,return-value]
    airflow.processes["api-server"] = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        yield airflow
    finally:
        for process in airflow.processes.values():
            process.kill()
            process.wait()
        airflow.processes.clear()
        airflow.__exit__()


def test_wait_for_dag_waits_for_the_api_server_where_it_runs(deployment: RealAirflow) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", deployment.port), Health)
    opened = threading.Timer(1.5, lambda: threading.Thread(target=server.serve_forever, daemon=True).start())
    answered_before = deployment.api_up()
    opened.start()
    try:
        deployment.wait_for_dag("d")
        assert not answered_before
        assert deployment.api_up()  # the wait ended because the port answered, not before
    finally:
        opened.cancel()
        server.shutdown()
        server.server_close()


def test_wait_for_dag_fails_naming_the_api_server_when_it_never_answers(deployment: RealAirflow) -> None:
    with pytest.raises(AssertionError, match="the API server did not come up"):
        deployment.wait_for_dag("d", timeout=0)


def test_without_an_api_server_only_the_dag_is_waited_for(deployment: RealAirflow) -> None:
    api_server = deployment.processes.pop("api-server")
    api_server.kill()
    api_server.wait()
    deployment.wait_for_dag("d")  # returns although nothing listens on the port
    assert not deployment.api_up()
