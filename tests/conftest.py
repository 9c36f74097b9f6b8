"""Shared test set-up: a throwaway AIRFLOW_HOME and the OpenAPI contract check of every API exchange."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Iterator

import pytest

# Airflow reads its home at import: point it at a throwaway folder before anything imports airflow
# (removed when the session ends, see pytest_unconfigure).
THROWAWAY_HOME = None if "AIRFLOW_HOME" in os.environ else tempfile.mkdtemp(prefix="attendee-airflow-home-")
if THROWAWAY_HOME:
    os.environ["AIRFLOW_HOME"] = THROWAWAY_HOME
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
os.environ.setdefault("AIRFLOW__CORE__UNIT_TEST_MODE", "True")
# One key for this process and the airflow CLI subprocesses, whichever writes airflow.cfg first.
os.environ.setdefault("AIRFLOW__CORE__FERNET_KEY", "LbWrnbwfIuqONg6wkdzgWZwiSVJXfkwl1oMFDaIR8ZI=")
# The DAGs folder holds the example DAGs, the tests' own (tests/e2e/dags) and the docs' (tests/docs/dags): Airflow 3.1's dag.test() runs
# only DAGs serialized from the DAGs folder.
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DAGS_FOLDER = os.path.join(os.environ["AIRFLOW_HOME"], "dags")
os.makedirs(DAGS_FOLDER, exist_ok=True)
for folder in ("example_dags", os.path.join("tests", "e2e", "dags"), os.path.join("tests", "docs", "dags")):
    for name in os.listdir(os.path.join(ROOT, folder)):
        link = os.path.join(DAGS_FOLDER, name)
        if name.endswith(".py") and not os.path.lexists(link):
            os.symlink(os.path.join(ROOT, folder, name), link)
os.environ.setdefault("AIRFLOW__CORE__DAGS_FOLDER", DAGS_FOLDER)
# The example DAGs poll every 30 s in production; the simulated meetings here run 60x faster.
os.environ.setdefault("ATTENDEE_EXAMPLE_POLL_SECONDS", "0.5")

from airflow_provider_attendee.testing import Exchange
from airflow_provider_attendee.testing.simulator.core import exchange_listeners


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "contract_exempt: the test sends requests that break the spec on purpose"
    )


def pytest_unconfigure(config: pytest.Config) -> None:
    """The throwaway AIRFLOW_HOME goes with the session (a run left one in /tmp each time)."""
    if THROWAWAY_HOME:
        shutil.rmtree(THROWAWAY_HOME, ignore_errors=True)


@pytest.fixture(autouse=True)
def no_sweeper_left_running() -> Iterator[None]:
    """A test that served a delivery in this process started the API server's event sweeper (a daemon
    thread): stop it after the test, else it prunes and catches up beside a later test's own passes (a
    prune that found its rows gone, a catch-up lease held by the stray thread: both seen on CI)."""
    yield
    module = sys.modules.get("airflow_provider_attendee.plugins.event_sweeper")
    if module is not None:
        module.stop()


@pytest.fixture(autouse=True)
def openapi_contract(request: pytest.FixtureRequest) -> Iterator[list[Exchange]]:
    """Validate every request and response the simulator handled during the test against openapi.yml."""
    from tests import contract

    seen: list[Exchange] = []
    exchange_listeners.append(seen.append)
    try:
        yield seen
    finally:
        exchange_listeners.remove(seen.append)
    if request.node.get_closest_marker("contract_exempt"):
        return
    problems = [problem for exchange in seen for problem in contract.check(exchange)]
    if problems:
        pytest.fail("OpenAPI contract violations:\n" + "\n".join(problems[:20]), pytrace=False)
