"""The calendar sync over simulated days: the operator run as Airflow would against a seeded, changing
calendar (``testing.simulator.calendar_churn``), with the invariants checked after every successful run.
Used by the CI test (tests/e2e/test_calendar_over_time.py) and the soak (python -m bench.calendar_soak).

Each step moves the simulator's clock by the sync interval, changes the calendar, and runs the sync as
Airflow would (its window from the simulator's clock, its "previous successful run" from the last run
that succeeded; some runs are skipped or fail).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from unittest.mock import patch

from airflow_provider_attendee.exceptions import AttendeeError
from airflow_provider_attendee.operators import calendar as calendar_operator
from airflow_provider_attendee.operators.calendar import AttendeeScheduleCalendarBotsOperator
from airflow_provider_attendee.testing.runner import RunningSimulator
from airflow_provider_attendee.testing.simulator.calendar_churn import (
    LEAD,
    LOOKAHEAD,
    MIN_ATTENDEES,
    SKIP,
    CalendarChurn,
)


class FakeTI:
    """Just enough of a task instance: the previous successful run's summary is its XCom memory."""

    dag_id, run_id, task_id, map_index, try_number = "calendar_model", "run", "sync", -1, 1

    def __init__(self) -> None:
        self.previous_summary: dict[str, Any] | None = None

    def xcom_push(self, key: str, value: Any) -> None:
        pass

    def xcom_pull(
        self,
        task_ids: str,
        key: str = "return_value",
        include_prior_dates: bool = False,
        map_indexes: Any = None,
    ) -> Any:
        return self.previous_summary if include_prior_dates else None


@dataclass
class Stats:
    runs: int = 0
    skipped_runs: int = 0
    failed_runs: int = 0
    checks: int = 0
    requests: dict[str, int] = field(default_factory=dict)
    rejected_seen: set[str] = field(default_factory=set)
    rejections_sent: int = 0
    rejections_held: int = 0
    per_run: list[dict[str, int]] = field(default_factory=list)


class CalendarModel(CalendarChurn):
    """A changing calendar and the sync run against it, with what the runs cost and what they found."""

    def __init__(
        self, sim: RunningSimulator, seed: int, *, incremental: bool, events: int = 60, skip_rate: float = 0.1
    ) -> None:
        super().__init__(sim.simulator, seed, events=events)
        self.sim = sim
        self.incremental = incremental
        self.skip_rate = skip_rate
        self.stats = Stats()
        self.previous_success: datetime | None = None
        self.ti = FakeTI()
        #: (event id, updated_at) of every event version the server refused
        self.refused_versions: set[tuple[str, str]] = set()
        self.last_retry_round: datetime | None = None
        self.resend_problems: list[str] = []

    def run_sync(self, interval: timedelta) -> dict[str, Any] | None:
        now = self.now()
        operator = AttendeeScheduleCalendarBotsOperator(
            task_id="sync",
            calendar_id=self.calendar.id,
            window_start=(now + LEAD).isoformat(),
            window_end=(now + LOOKAHEAD).isoformat(),
            lead_time=LEAD,
            incremental=self.incremental,
            min_attendees=MIN_ATTENDEES,
            skip_name_regex=SKIP,
            key_prefix="model-",
        )
        context = {"ti": self.ti, "prev_start_date_success": self.previous_success}
        before = dict(self.sim.simulator.counters.requests)
        try:
            with patch.object(
                calendar_operator, "utcnow", self.now
            ):  # the operator's clock is the simulator's
                summary = operator.execute(context)  # type: ignore[arg-type]
        except AttendeeError:
            self.stats.failed_runs += 1
            return None
        finally:
            after = self.sim.simulator.counters.requests
            delta = {k: after[k] - before.get(k, 0) for k in after if after[k] != before.get(k, 0)}
            for route, count in delta.items():
                self.stats.requests[route] = self.stats.requests.get(route, 0) + count
        self.previous_success = now
        self.ti.previous_summary = summary
        self.stats.runs += 1
        self.stats.rejected_seen |= {r["event_id"] for r in summary["rejected"]}
        resent = False
        for entry in summary["rejected"]:
            if not entry.get("sent"):
                self.stats.rejections_held += 1
                continue
            self.stats.rejections_sent += 1
            version = (entry["event_id"], entry.get("event_updated_at", ""))
            resent |= version in self.refused_versions
            self.refused_versions.add(version)
        if resent:  # unchanged refused events are sent again in rounds, one per retry period at most
            if (
                self.last_retry_round is not None
                and now - self.last_retry_round < operator.retry_rejected_after
            ):
                self.resend_problems.append(
                    f"{now}: refused events sent again {now - self.last_retry_round} after the last round"
                )
            self.last_retry_round = now
        self.stats.per_run.append(
            {
                "gets": sum(v for k, v in delta.items() if k.startswith("GET")),
                "posts": delta.get("POST /api/v1/bots", 0),
                "deletes": sum(v for k, v in delta.items() if k.startswith("DELETE")),
                "listed": summary["events_seen"],
            }
        )
        return summary

    def check(self, rejected_seen: set[str] | None = None) -> list[str]:
        """The invariants after a successful run (see ``CalendarChurn.check``), counted."""
        self.stats.checks += 1
        return super().check(self.stats.rejected_seen if rejected_seen is None else rejected_seen)

    def run(
        self, days: float, interval: timedelta = timedelta(minutes=15), changes_per_step: float = 2.0
    ) -> list[str]:
        problems: list[str] = self.resend_problems
        steps = int(timedelta(days=days) / interval)
        for _ in range(steps):
            self.step(changes_per_step)
            if self.rng.random() < self.skip_rate:
                self.stats.skipped_runs += 1
            elif self.run_sync(interval) is not None:
                problems += self.check()
            self.sim.admin.advance(interval.total_seconds())
        return problems
