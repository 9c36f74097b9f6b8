"""Which of the two suites of ``make test`` runs a whole-deployment test, so that they fit CI's 2 cores.

The suites (Airflow 3.3 and 3.1) run side by side. A few end-to-end tests start a whole Airflow against the
simulator for minutes, and their system twins drive the same path against the real Attendee server in the
3.3 suite (tests/system, ``latest_airflow_only``). Where the real server is there, such an end-to-end test
runs in the 3.1 suite only; without it, in both.
"""

from __future__ import annotations

import os
from importlib.metadata import version
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: Where scripts/attendee_server.py looks for the server's source when ATTENDEE_SERVER_SOURCE is not set.
DEFAULT_SOURCE = ROOT.parent / "shared" / "attendee-server" / "attendee-77e990ed.tar.gz"


def airflow_minor() -> tuple[int, int]:
    major, minor = version("apache-airflow").split(".")[:2]
    return int(major), int(minor)


def real_server_available() -> bool:
    """Whether the system tests will have a real Attendee server (a source to run, or a deployment)."""
    if os.environ.get("ATTENDEE_SYSTEM_URL", "").strip():
        return True
    given = os.environ.get("ATTENDEE_SERVER_SOURCE", "").strip()
    return Path(given).expanduser().exists() if given else DEFAULT_SOURCE.exists()


def real_server_twin(twin: str) -> pytest.MarkDecorator:
    """Skip in the 3.3 suite when the real server is there: ``twin`` (a system test) drives the same path
    against it in that suite."""
    return pytest.mark.skipif(
        airflow_minor() >= (3, 3) and real_server_available(),
        reason=f"in the Airflow 3.3 suite the real server's {twin} drives this path (CI time: the suites "
        "share 2 cores); the Airflow 3.1 suite runs this one",
    )
