"""Our side of the real Attendee server: bring it up (scripts/attendee_server.py) and drive it.

``bring_up()`` returns an :class:`AttendeeServer` (URL, key, webhook secret; ``state`` and a driver when we run
the server ourselves), or raises :class:`ServerUnavailable` with the reason the tests skip with.
:class:`Driver` runs tests/system/driver/attendee_driver.py in the server's own virtualenv, as one persistent
process (Django starts once), and ``call(cmd, **args)`` sends it one command (listed in that file's docstring).

A deployment of your own instead of a server run from source: ``ATTENDEE_SYSTEM_URL`` and
``ATTENDEE_SYSTEM_API_KEY`` (and ``ATTENDEE_SYSTEM_WEBHOOK_SECRET``). There is no driver then: the tests that
move bots or make projects skip.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "attendee_server.py"
EXIT_NO_SOURCE = 3
EXIT_PREREQUISITES = 4
BRING_UP_TIMEOUT_S = 1500.0


class ServerUnavailable(Exception):
    """No real Attendee server can be had here: the reason, for a skip."""


class DriverError(Exception):
    """The driver refused a command (e.g. a transition the server's state machine does not allow)."""

    def __init__(self, cmd: str, error: str, traceback: str = "") -> None:
        super().__init__(f"driver {cmd}: {error}")
        self.cmd = cmd
        self.error = error
        self.traceback = traceback


@dataclass(frozen=True)
class Project:
    """An Attendee project on the server: its id, API key and webhook secret (base64)."""

    url: str
    api_key: str
    project_id: str | None = None
    webhook_secret: str | None = None

    def connection_json(self, **extra: Any) -> str:
        """The Airflow connection (``AIRFLOW_CONN_...``) for this project; ``extra`` adds to the extras."""
        options: dict[str, Any] = {"max_retries": 2, "retry_backoff": 0.2, "max_retry_time": 20}
        if self.project_id:
            options["project_id"] = self.project_id
        options.update(extra)
        return json.dumps(
            {"conn_type": "attendee", "host": self.url, "password": self.api_key, "extra": options}
        )


@dataclass
class AttendeeServer:
    """A real Attendee server: run from source by scripts/attendee_server.py (``managed``), or a deployment."""

    url: str
    api_key: str
    webhook_secret: str | None
    project_id: str | None
    managed: bool
    state: dict[str, Any] = field(default_factory=dict)
    bring_up_output: str = ""

    @property
    def project(self) -> Project:
        """The server's own project (the one ``up`` made, or the deployment's key)."""
        return Project(self.url, self.api_key, self.project_id, self.webhook_secret)

    def driver(self, log_path: Path | None = None) -> Driver:
        if not self.managed:
            raise ServerUnavailable(
                "needs the driver, which runs only with a server run from source (ATTENDEE_SYSTEM_URL "
                "points at a deployment)"
            )
        return Driver(self.state, log_path)


def deployment_from_env() -> AttendeeServer | None:
    url = os.environ.get("ATTENDEE_SYSTEM_URL", "").strip().rstrip("/")
    if not url:
        return None
    key = os.environ.get("ATTENDEE_SYSTEM_API_KEY", "").strip()
    if not key:
        raise ServerUnavailable("ATTENDEE_SYSTEM_URL is set but ATTENDEE_SYSTEM_API_KEY is not")
    return AttendeeServer(
        url=url,
        api_key=key,
        webhook_secret=os.environ.get("ATTENDEE_SYSTEM_WEBHOOK_SECRET") or None,
        project_id=os.environ.get("ATTENDEE_SYSTEM_PROJECT_ID") or None,
        managed=False,
    )


def bring_up(timeout: float = BRING_UP_TIMEOUT_S) -> AttendeeServer:
    """``scripts/attendee_server.py up`` (it locks, so concurrent sessions share one server), then its state."""
    deployment = deployment_from_env()
    if deployment is not None:
        return deployment
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "up"],
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        cwd=ROOT,
    )
    output = proc.stdout + proc.stderr
    if proc.returncode in (EXIT_NO_SOURCE, EXIT_PREREQUISITES):
        reasons = [line for line in output.splitlines() if "unavailable:" in line]
        reason = reasons[-1].split("unavailable:", 1)[1].strip() if reasons else output.strip()
        raise ServerUnavailable(reason)
    if proc.returncode:
        raise RuntimeError(
            f"scripts/attendee_server.py up failed (exit {proc.returncode}):\n{output[-6000:]}"
        )
    home = Path(os.environ.get("ATTENDEE_SERVER_HOME") or ROOT / ".attendee-server")
    state = json.loads((home / "state.json").read_text())
    return AttendeeServer(
        url=state["url"],
        api_key=state["api_key"],
        webhook_secret=state.get("webhook_secret"),
        project_id=state.get("project_id"),
        managed=True,
        state=state,
        bring_up_output=output,
    )


class Driver:
    """The driver process (the server's python, its source tree as cwd, its environment)."""

    def __init__(self, state: dict[str, Any], log_path: Path | None = None, timeout: float = 120.0) -> None:
        self.timeout = timeout
        self.log_path = log_path or Path(state["logs"]) / f"driver-{os.getpid()}.log"
        self._log: IO[bytes] = self.log_path.open("ab")
        self._proc = subprocess.Popen(
            [state["python"], state["driver"]],
            cwd=state["source_dir"],
            env=state["env"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
            bufsize=1,
        )
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._lock = threading.Lock()
        threading.Thread(target=self._read, name="attendee-driver-reader", daemon=True).start()
        self.call("ping", _timeout=180.0)  # Django's start-up

    def _read(self) -> None:
        assert self._proc.stdout is not None
        for line in self._proc.stdout:
            self._lines.put(line)
        self._lines.put(None)

    def call(self, cmd: str, _timeout: float | None = None, **args: Any) -> Any:
        """Run one driver command; its result, or DriverError with the server's message."""
        with self._lock:
            if self._proc.poll() is not None:
                raise RuntimeError(f"the driver exited ({self._proc.returncode}); see {self.log_path}")
            assert self._proc.stdin is not None
            self._proc.stdin.write(json.dumps({"cmd": cmd, "args": args}) + "\n")
            self._proc.stdin.flush()
            deadline = time.monotonic() + (_timeout or self.timeout)
            try:
                line = self._lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise TimeoutError(f"driver {cmd}: no answer in {_timeout or self.timeout:.0f} s") from None
        if line is None:
            raise RuntimeError(f"the driver exited during {cmd}; see {self.log_path}")
        answer = json.loads(line)
        if not answer.get("ok"):
            raise DriverError(cmd, answer.get("error", "?"), answer.get("traceback", ""))
        return answer["result"]

    def create_project(self, url: str, name: str = "system-test", **args: Any) -> Project:
        """A fresh project (its own bots, calendars and webhooks), as a :class:`Project` on ``url``."""
        made = self.call("create_project", name=name, **args)
        return Project(url, made["api_key"], made["project_id"], made["webhook_secret"])

    def close(self) -> None:
        if self._proc.poll() is None:
            assert self._proc.stdin is not None
            try:
                self._proc.stdin.close()
                self._proc.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                self._proc.kill()
                self._proc.wait()
        self._log.close()
