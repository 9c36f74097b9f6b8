"""pytest plugin (entry point ``pytest11``): the ``attendee_simulator`` fixture for DAG authors' tests.

``attendee_simulator`` gives each test a fresh simulator on 127.0.0.1 (one server per session, reset per
test) and points ``AIRFLOW_CONN_ATTENDEE_DEFAULT`` at it. Its clock is frozen unless the test asks
otherwise; configure it with the marker::

    @pytest.mark.attendee_simulator(scenario="demo", time_scale=60, seed=1, page_size=5)
    def test_my_dag(attendee_simulator):
        attendee_simulator.admin.advance(minutes=5)

Nothing heavy is imported until a test uses the fixture.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from airflow_provider_attendee.testing.runner import RunningSimulator


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "attendee_simulator(scenario=None, time_scale=0, seed=0, page_size=None, faults=None, "
        "zoom_credentials=True): "
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
    )
    monkeypatch.setenv("AIRFLOW_CONN_ATTENDEE_DEFAULT", attendee_simulator_server.connection_json())
    return attendee_simulator_server
