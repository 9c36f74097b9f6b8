"""A local Attendee API simulator for demos, tests and benchmarks (no account, no network).

Quick use::

    from airflow_provider_attendee.testing import start_simulator

    with start_simulator(scenario="demo", time_scale=60) as sim:
        os.environ["AIRFLOW_CONN_ATTENDEE_DEFAULT"] = sim.connection_json()
        ...

In pytest, the ``attendee_simulator`` fixture does the same (see ``pytest_plugin``).
"""

from __future__ import annotations

from airflow_provider_attendee.testing.admin import SimulatorAdmin
from airflow_provider_attendee.testing.faults import FaultConfig, FaultRule
from airflow_provider_attendee.testing.runner import RunningSimulator, start_simulator
from airflow_provider_attendee.testing.scenario import Scenario, load_scenario
from airflow_provider_attendee.testing.simulator import DEFAULT_API_KEY, AttendeeSimulator, Exchange

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
