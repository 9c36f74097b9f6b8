"""start_simulator(): one call that builds, serves and describes a simulator for tests, demos and benchmarks."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from airflow_provider_attendee.testing.simulator.admin import SimulatorAdmin
from airflow_provider_attendee.testing.simulator.core import DEFAULT_API_KEY, AttendeeSimulator
from airflow_provider_attendee.testing.simulator.faults import FaultConfig
from airflow_provider_attendee.testing.simulator.scenario import Scenario
from airflow_provider_attendee.testing.simulator.server import SimulatorServer


@dataclass
class RunningSimulator:
    """A simulator served on 127.0.0.1: its URL, API key, admin client and in-process objects."""

    simulator: AttendeeSimulator
    server: SimulatorServer
    admin: SimulatorAdmin
    api_key: str

    @property
    def url(self) -> str:
        return self.server.url

    def connection_json(self, **extra: Any) -> str:
        """The value for ``AIRFLOW_CONN_<ID>`` pointing at this simulator."""
        conn: dict[str, Any] = {"conn_type": "attendee", "host": self.url, "password": self.api_key}
        if extra:
            conn["extra"] = extra
        return json.dumps(conn)

    def stop(self) -> None:
        self.admin.close()
        self.server.stop()

    def __enter__(self) -> RunningSimulator:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def start_simulator(
    *,
    api_key: str = DEFAULT_API_KEY,
    scenario: Scenario | dict[str, Any] | str | Path | None = None,
    time_scale: float = 1.0,
    seed: int = 0,
    page_size: int | None = None,
    faults: FaultConfig | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
) -> RunningSimulator:
    """Start a simulator over real HTTP in a background thread (port 0: a free port)."""
    simulator = AttendeeSimulator(
        api_key=api_key,
        scenario=scenario,
        time_scale=time_scale,
        seed=seed,
        page_size=page_size,
        faults=faults,
    )
    server = SimulatorServer(simulator, host=host, port=port).start()
    return RunningSimulator(simulator, server, SimulatorAdmin(server.url), api_key)
