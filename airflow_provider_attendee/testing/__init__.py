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
    "SimulatorAdmin": "airflow_provider_attendee.testing.simulator.admin",
    "FaultConfig": "airflow_provider_attendee.testing.simulator.faults",
    "FaultRule": "airflow_provider_attendee.testing.simulator.faults",
    "RunningSimulator": "airflow_provider_attendee.testing.runner",
    "start_simulator": "airflow_provider_attendee.testing.runner",
    "Scenario": "airflow_provider_attendee.testing.simulator.scenario",
    "load_scenario": "airflow_provider_attendee.testing.simulator.scenario",
    "DEFAULT_API_KEY": "airflow_provider_attendee.testing.simulator.core",
    "AttendeeSimulator": "airflow_provider_attendee.testing.simulator.core",
    "Exchange": "airflow_provider_attendee.testing.simulator.core",
}

if TYPE_CHECKING:
    from airflow_provider_attendee.testing.runner import RunningSimulator, start_simulator
    from airflow_provider_attendee.testing.simulator.admin import SimulatorAdmin
    from airflow_provider_attendee.testing.simulator.core import DEFAULT_API_KEY, AttendeeSimulator, Exchange
    from airflow_provider_attendee.testing.simulator.faults import FaultConfig, FaultRule
    from airflow_provider_attendee.testing.simulator.scenario import Scenario, load_scenario


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
