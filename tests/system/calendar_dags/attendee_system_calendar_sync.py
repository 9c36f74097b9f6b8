"""Two calendar syncs, full and incremental (tests/system/test_calendar_sync_real_server.py), each over its own
calendar of the test's project on the REAL Attendee server (``AIRFLOW_CONN_ATTENDEE_DEFAULT``, set by the test).

The server's clock is the wall clock and cannot be stepped. The syncs' clock (``operators.calendar.utcnow``,
what windows and the memory of refused events are reckoned in) is the wall clock plus an offset in seconds
that the test writes to the file ``ATTENDEE_TEST_CLOCK_OFFSET_FILE`` between runs: so a refused event's
``retry_rejected_after`` (1 h, the default) passes without waiting an hour. Incremental mode lists the events
updated since the previous successful run started, minus a margin for clock skew between Airflow and the
server (``operators.calendar.CHANGE_MARGIN``, 2 minutes): both run on this machine, so the test sets a few
seconds (``ATTENDEE_TEST_CHANGE_MARGIN_SECONDS``), and runs seconds apart still leave unchanged events unlisted.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from unittest import mock

from airflow.sdk import DAG

from airflow_provider_attendee.operators import calendar as calendar_module
from airflow_provider_attendee.operators.calendar import AttendeeScheduleCalendarBotsOperator

RETRY_REJECTED_AFTER = timedelta(hours=1)


def offset_now() -> datetime:
    offset = Path(os.environ["ATTENDEE_TEST_CLOCK_OFFSET_FILE"]).read_text().strip() or "0"
    return datetime.now(timezone.utc) + timedelta(seconds=float(offset))


class OffsetClockSync(AttendeeScheduleCalendarBotsOperator):
    """The calendar sync, its clock moved ahead of the wall clock by the test's offset (and its margin set)."""

    def execute(self, context: Any) -> dict[str, Any]:
        margin = os.environ.get("ATTENDEE_TEST_CHANGE_MARGIN_SECONDS")
        change_margin = timedelta(seconds=float(margin)) if margin else calendar_module.CHANGE_MARGIN
        with (
            mock.patch.object(calendar_module, "utcnow", offset_now),
            mock.patch.object(calendar_module, "CHANGE_MARGIN", change_margin),
        ):
            return super().execute(context)


for mode in ("full", "incremental"):
    with DAG(
        dag_id=f"attendee_system_calendar_sync_{mode}",
        schedule=None,  # the test triggers each run, with the logical dates a schedule would give
        start_date=datetime(2026, 1, 1),
        catchup=False,
        max_active_runs=1,
        tags=["attendee", "test"],
    ) as dag:
        OffsetClockSync(
            task_id="sync",
            calendar_deduplication_key=f"system-{mode}",
            incremental=mode == "incremental",
            retry_rejected_after=RETRY_REJECTED_AFTER,
            key_prefix=f"system-{mode}-",
        )
    globals()[dag.dag_id] = dag
