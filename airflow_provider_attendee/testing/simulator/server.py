"""Run the simulator over real HTTP with uvicorn: in a background thread (tests) or in the foreground (CLI)."""

from __future__ import annotations

import threading
import time
from types import TracebackType

import uvicorn

from airflow_provider_attendee.testing.simulator.app import SimulatorApp
from airflow_provider_attendee.testing.simulator.core import AttendeeSimulator


class SimulatorServer:
    """Serves an :class:`AttendeeSimulator` on ``host:port`` (port 0 picks a free one) in a thread."""

    def __init__(self, simulator: AttendeeSimulator, host: str = "127.0.0.1", port: int = 0) -> None:
        self.simulator = simulator
        self.app = SimulatorApp(simulator)
        config = uvicorn.Config(
            self.app,
            host=host,
            port=port,
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_keep_alive=75,  # like nginx in front of the real server; uvicorn's default is 5 s
        )
        self._server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None
        self.host = host
        self.port = port

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 10.0) -> SimulatorServer:
        self._thread = threading.Thread(target=self._server.run, name="attendee-simulator", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"The Attendee simulator did not start on {self.host}:{self.port}.")
            time.sleep(0.01)
        sockets = self._server.servers[0].sockets
        self.port = sockets[0].getsockname()[1]
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=10)
            self._thread = None

    def serve_forever(self) -> None:
        """Block serving requests until interrupted (used by the CLI)."""
        self._server.run()

    def __enter__(self) -> SimulatorServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
