"""A local Attendee API simulator for demos, tests and benchmarks (no account, no network).

Quick use::

    from airflow_provider_attendee.testing import start_simulator

    with start_simulator(scenario="demo", time_scale=60) as sim:
        os.environ["AIRFLOW_CONN_ATTENDEE_DEFAULT"] = sim.connection_json()
        ...

In pytest, the ``attendee_simulator`` fixture does the same (see ``pytest_plugin``).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# Loaded on first use (PEP 562): the pytest plugin imports this package when pytest starts, before a
# conftest has configured Airflow, so importing it must not import Airflow or the server.
_EXPORTS = {
    "SimulatorAdmin": "airflow_provider_attendee.testing.admin",
    "FaultConfig": "airflow_provider_attendee.testing.faults",
    "FaultRule": "airflow_provider_attendee.testing.faults",
    "RunningSimulator": "airflow_provider_attendee.testing.runner",
    "start_simulator": "airflow_provider_attendee.testing.runner",
    "Scenario": "airflow_provider_attendee.testing.scenario",
    "load_scenario": "airflow_provider_attendee.testing.scenario",
    "DEFAULT_API_KEY": "airflow_provider_attendee.testing.simulator",
    "AttendeeSimulator": "airflow_provider_attendee.testing.simulator",
    "Exchange": "airflow_provider_attendee.testing.simulator",
}

if TYPE_CHECKING:
    from airflow_provider_attendee.testing.admin import SimulatorAdmin
    from airflow_provider_attendee.testing.faults import FaultConfig, FaultRule
    from airflow_provider_attendee.testing.runner import RunningSimulator, start_simulator
    from airflow_provider_attendee.testing.scenario import Scenario, load_scenario
    from airflow_provider_attendee.testing.simulator import DEFAULT_API_KEY, AttendeeSimulator, Exchange


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)


__all__ = [
    "DEFAULT_API_KEY",
    "AttendeeSimulator",
    "Exchange",
    "FaultConfig",
    "FaultRule",
    "RunningSimulator",
    "Scenario",
    "SimulatorAdmin",
    "load_scenario",
    "start_simulator",
]
