"""Two calendar syncs, full and incremental (tests/e2e/test_calendar_sync_real_airflow.py), each over its own
calendar of the simulator at ATTENDEE_TEST_SIM_URL. Their clock is the simulator's, as in the operator
tests: the test steps it between runs, so that a refused event's retry period passes without waiting."""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from typing import Any
from unittest import mock

from airflow.sdk import DAG

from airflow_provider_attendee.operators import calendar as calendar_module
from airflow_provider_attendee.operators.calendar import AttendeeScheduleCalendarBotsOperator
from airflow_provider_attendee.testing.simulator.admin import SimulatorAdmin

RETRY_REJECTED_AFTER = timedelta(hours=1)


def simulator_now() -> datetime:
    admin = SimulatorAdmin(os.environ["ATTENDEE_TEST_SIM_URL"])
    try:
        return datetime.fromisoformat(admin.now().replace("Z", "+00:00"))
    finally:
        admin.close()


class SimulatorClockSync(AttendeeScheduleCalendarBotsOperator):
    """The calendar sync, its clock (``operators.calendar.utcnow``) read from the simulator."""

    def execute(self, context: Any) -> dict[str, Any]:
        with mock.patch.object(calendar_module, "utcnow", simulator_now):
            return super().execute(context)


for mode in ("full", "incremental"):
    with DAG(
        dag_id=f"attendee_test_calendar_memory_{mode}",
        schedule=None,  # the test triggers each run, with the logical dates a schedule would give
        start_date=datetime(2026, 1, 1),
        catchup=False,
        max_active_runs=1,
        tags=["attendee", "test"],
    ) as dag:
        SimulatorClockSync(
            task_id="sync",
            calendar_deduplication_key=f"memory-{mode}",
            incremental=mode == "incremental",
            retry_rejected_after=RETRY_REJECTED_AFTER,
            key_prefix=f"memory-{mode}-",
        )
    globals()[dag.dag_id] = dag
