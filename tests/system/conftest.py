"""Fixtures of the system tests: the real Attendee server (scripts/attendee_server.py), its driver, a fresh
project per test, and the Airflow connection to it.

Both pytest suites of ``make test`` (Airflow 3.3 and 3.1, run at the same time) run these tests against ONE
server: ``up`` holds a lock while it brings the server up, so the second suite waits for the first and then
reuses the running server; each test makes its own project, so the suites never see each other's bots.
Without a server (no source here, missing packages without root), every test here skips with the reason,
printed once at the end of the run.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.system.server import (
    BRING_UP_TIMEOUT_S,
    AttendeeServer,
    Driver,
    Project,
    ServerUnavailable,
    bring_up,
)

CONN_ID = "attendee_default"
_NOTES: list[str] = []


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The first selected test that brings the server up gets the bring-up's time on top of its own."""
    for item in items:
        skipped = any(m.args and m.args[0] is True for m in item.iter_markers("skipif"))
        if "attendee_server" in getattr(item, "fixturenames", ()) and not skipped:
            own = item.get_closest_marker("timeout")
            own_seconds = float(own.args[0]) if own is not None and own.args else 300.0
            item.add_marker(pytest.mark.timeout(BRING_UP_TIMEOUT_S + own_seconds))
            break


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for note in dict.fromkeys(_NOTES):
        terminalreporter.write_line(f"attendee system tests: {note}")


@pytest.fixture(scope="session")
def attendee_server() -> AttendeeServer:
    """The real Attendee server (brought up once, shared), or a skip with the reason it cannot be had."""
    try:
        server = bring_up()
    except ServerUnavailable as reason:
        _NOTES.append(f"skipped: {reason}")
        pytest.skip(f"real Attendee server unavailable: {reason}")
    if server.managed:
        summary = [
            line for line in server.bring_up_output.splitlines() if " up in " in line or "reusing" in line
        ]
        _NOTES.append(f"server {server.url} ({summary[-1].split('] ', 1)[-1] if summary else 'up'})")
    else:
        _NOTES.append(f"deployment {server.url} (ATTENDEE_SYSTEM_URL; the tests that need the driver skip)")
    return server


@pytest.fixture(scope="session")
def attendee_driver(attendee_server: AttendeeServer) -> Iterator[Driver]:
    """The driver of the server (its own code moves bots, participants, transcripts, calendars); its log is
    ``.attendee-server/logs/driver-<pid>.log``."""
    try:
        driver = attendee_server.driver()
    except ServerUnavailable as reason:
        pytest.skip(str(reason))
    try:
        yield driver
    finally:
        driver.close()


@pytest.fixture
def system_project(
    attendee_driver: Driver, attendee_server: AttendeeServer, request: pytest.FixtureRequest
) -> Project:
    """A fresh project of its own for this test (its own key, webhook secret, bots and calendars)."""
    return attendee_driver.create_project(attendee_server.url, name=f"system {request.node.name}"[:200])


@pytest.fixture
def system_conn(system_project: Project, monkeypatch: pytest.MonkeyPatch) -> str:
    """``attendee_default`` pointing at the test's project (few, quick retries)."""
    monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", system_project.connection_json())
    return CONN_ID


@pytest.fixture
def system_hook(system_conn: str) -> Iterator[object]:
    from airflow_provider_attendee.hooks.attendee import AttendeeHook

    hook = AttendeeHook(system_conn)
    try:
        yield hook
    finally:
        hook.close()


def _airflow_minor() -> tuple[int, int]:
    from importlib.metadata import version

    major, minor = version("apache-airflow").split(".")[:2]
    return int(major), int(minor)


#: The system tests that start a whole Airflow deployment (push, the calendar sync over many runs) run in
#: the Airflow 3.3 suite of ``make test`` only: the two suites run side by side on CI's 2 cores, and these
#: two files cost each suite minutes. Airflow 3.1 meets the same paths against the simulator
#: (tests/e2e/test_no_meeting_lost.py, tests/e2e/test_calendar_sync_real_airflow.py) and the real server
#: through every other system test.
latest_airflow_only = pytest.mark.skipif(
    _airflow_minor() < (3, 3),
    reason="a whole Airflow deployment against the real server runs in the Airflow 3.3 suite only (CI time); "
    "3.1 meets the same path against the simulator in tests/e2e",
)
