"""A seeded model of a calendar over simulated days, and an independent reference for what the calendar
sync must leave behind: used by the CI test (tests/e2e/test_calendar_over_time.py) and the soak
(python -m bench.calendar_soak).

Each step moves the simulator's clock by the sync interval, changes the calendar at random (create far
ahead or soon, reschedule into / within / out of the window or sooner than the lead time, cancel,
change the link, add or remove attendees, rename to a skipped name), and runs the sync as Airflow would
(its window from the simulator's clock, its "previous successful run" from the last run that succeeded;
some runs are skipped or fail). After every successful run the invariants are checked against the
simulator's own state, with eligibility written here, not taken from the operator's planning code.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from unittest.mock import patch

from airflow_provider_attendee.exceptions import AttendeeError
from airflow_provider_attendee.operators import calendar as calendar_operator
from airflow_provider_attendee.operators.calendar import AttendeeScheduleCalendarBotsOperator
from airflow_provider_attendee.testing import RunningSimulator
from airflow_provider_attendee.testing.scenario import EventSpec

LOOKAHEAD = timedelta(hours=24)
LEAD = timedelta(minutes=1)
MIN_ATTENDEES = 2
SKIP = r"\blunch\b"
ZOOM_WITHOUT_CREDENTIALS = "https://zoom.us/j/{n}?pwd=abc"


class FakeTI:
    """Just enough of a task instance: the previous successful run's summary is its XCom memory."""

    dag_id, run_id, task_id, map_index, try_number = "calendar_model", "run", "sync", -1, 1

    def __init__(self) -> None:
        self.previous_summary: dict[str, Any] | None = None

    def xcom_push(self, key: str, value: Any) -> None:
        pass

    def xcom_pull(self, task_ids: str, include_prior_dates: bool = False) -> Any:
        return self.previous_summary if include_prior_dates else None


@dataclass
class Stats:
    runs: int = 0
    skipped_runs: int = 0
    failed_runs: int = 0
    checks: int = 0
    events: int = 0
    changes: int = 0
    requests: dict[str, int] = field(default_factory=dict)
    rejected_seen: set[str] = field(default_factory=set)
    rejections_sent: int = 0
    rejections_held: int = 0
    per_run: list[dict[str, int]] = field(default_factory=list)


def eligible(event: Any, now: datetime) -> bool:
    """The reference rule: not cancelled, a link, 2+ attendees, not a lunch, starting in the window."""
    return (
        not event.is_deleted
        and bool(event.meeting_url)
        and len(event.attendees) >= MIN_ATTENDEES
        and re.search(SKIP, event.name or "", re.IGNORECASE) is None
        and now + LEAD <= event.start_time < now + LOOKAHEAD
    )


class CalendarModel:
    def __init__(
        self, sim: RunningSimulator, seed: int, *, incremental: bool, events: int = 60, skip_rate: float = 0.1
    ) -> None:
        self.sim, self.world = sim, sim.simulator.world
        self.rng = random.Random(seed)
        self.incremental = incremental
        self.target_events = events
        self.skip_rate = skip_rate
        self.stats = Stats()
        self.previous_success: datetime | None = None
        self.ti = FakeTI()
        #: (event id, updated_at) of every event version the server refused
        self.refused_versions: set[tuple[str, str]] = set()
        self.last_retry_round: datetime | None = None
        self.resend_problems: list[str] = []
        self.world.zoom_credentials = False  # Zoom events are refused permanently (400), as on a real project
        self.calendar = self.world.add_calendar(
            platform="google", client_id="model", deduplication_key=f"model-{seed}", metadata=None
        )
        self.counter = 0
        for _ in range(events):
            self.create_event()
        for hours in (2, 30):  # two Zoom meetings the server will refuse, one now and one entering later
            self.world.add_calendar_event(
                self.calendar,
                EventSpec(
                    name=f"Zoom call in {hours} h",
                    meeting_url=ZOOM_WITHOUT_CREDENTIALS.format(n=9000000000 + hours),
                    start_in_minutes=hours * 60,
                    attendees=[{"email": f"z{i}@example.com"} for i in range(3)],
                ),
            )

    # ----------------------------------------------------------------------------- the calendar
    def now(self) -> datetime:
        return self.world.sync()

    def live_events(self) -> list[Any]:
        now = self.now()
        return [
            e
            for e in self.world.calendar_events.values()
            if e.calendar is self.calendar and not e.is_deleted and e.start_time > now
        ]

    def create_event(self) -> None:
        self.counter += 1
        n = self.counter
        url = (
            ZOOM_WITHOUT_CREDENTIALS.format(n=8000000000 + n)
            if self.rng.random() < 0.05
            else f"https://meet.google.com/{self._code(n)}?authuser=0"
        )
        spec = EventSpec(
            name=self.rng.choice(["Sync", "Review", "1:1", "Team lunch", "Planning"]) + f" {n}",
            meeting_url=url if self.rng.random() > 0.05 else None,
            start_in_minutes=self.rng.uniform(2, 72 * 60),
            duration_minutes=30,
            attendees=[{"email": f"p{i}@example.com"} for i in range(self.rng.randint(1, 4))],
        )
        self.world.add_calendar_event(self.calendar, spec)
        self.stats.events += 1

    @staticmethod
    def _code(n: int) -> str:
        letters = "abcdefghijklmnopqrstuvwxyz"
        digits = f"{n:010d}"
        code = "".join(letters[int(d) + (i % 3) * 7] for i, d in enumerate(digits))
        return f"{code[:3]}-{code[3:7]}-{code[7:10]}"

    def change_something(self) -> None:
        events = self.live_events()
        if not events:
            return
        event = self.rng.choice(events)
        now = self.now()
        kind = self.rng.choice(
            [
                "reschedule_in",
                "reschedule_within",
                "reschedule_out",
                "too_soon",
                "cancel",
                "link",
                "attendees",
                "rename",
            ]
        )
        self.stats.changes += 1
        if kind.startswith("reschedule") or kind == "too_soon":
            minutes = {
                "reschedule_in": self.rng.uniform(5, 23 * 60),
                "reschedule_within": self.rng.uniform(5, 23 * 60),
                "reschedule_out": self.rng.uniform(25 * 60, 96 * 60),
                "too_soon": self.rng.uniform(0.1, 0.9),
            }[kind]
            start = now + timedelta(minutes=minutes)
            self.world.reschedule_calendar_event(event.id, start, start + timedelta(minutes=30))
        elif kind == "cancel":
            self.world.cancel_calendar_event(event.id)
        elif kind == "link":
            self.counter += 1
            self.world.change_calendar_event(
                event.id, meeting_url=f"https://meet.google.com/{self._code(self.counter)}?hs=1"
            )
        elif kind == "attendees":
            count = self.rng.randint(1, 4)
            self.world.change_calendar_event(
                event.id, attendees=[{"email": f"q{i}@example.com"} for i in range(count)]
            )
        else:
            name = event.name or ""
            self.world.change_calendar_event(
                event.id, name=f"Lunch {name}" if "unch" not in name else f"Sync {name}"
            )

    # ------------------------------------------------------------------------------------ sync
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

    def check(self) -> list[str]:
        """Invariants after a successful run: every eligible event in the window has exactly one live bot
        that serves it (joins at the event's current start) (Zoom events, refused by the server, have none and were reported); no event ever
        has two bots that would join it."""
        now = self.now()
        problems = []
        for event in self.world.calendar_events.values():
            if event.calendar is not self.calendar:
                continue
            serving = [
                b
                for b in (self.world.bots.get(i) for i in event.bot_ids)
                if b is not None
                and b.state not in ("ended", "fatal_error", "data_deleted")
                and b.join_at == event.start_time  # it will join at the event's (current) start
            ]
            if len(serving) > 1:
                problems.append(f"{now} {event.id} double-booked: {[b.id for b in serving]}")
            if not eligible(event, now):
                continue
            if "zoom.us" in (event.meeting_url or ""):
                if serving or event.id not in self.stats.rejected_seen:
                    problems.append(f"{now} {event.id} (Zoom) should be rejected and reported")
            elif len(serving) != 1:
                problems.append(
                    f"{now} {event.id} '{event.name}' at {event.start_time} has {len(serving)} bots"
                )
        self.stats.checks += 1
        return problems

    def run(
        self, days: float, interval: timedelta = timedelta(minutes=15), changes_per_step: float = 2.0
    ) -> list[str]:
        problems: list[str] = self.resend_problems
        steps = int(timedelta(days=days) / interval)
        for _ in range(steps):
            for _ in range(int(changes_per_step) + (self.rng.random() < changes_per_step % 1)):
                self.change_something()
            while len(self.live_events()) < self.target_events:
                self.create_event()
            if self.rng.random() < self.skip_rate:
                self.stats.skipped_runs += 1
            elif self.run_sync(interval) is not None:
                problems += self.check()
            self.sim.admin.advance(interval.total_seconds())
        return problems
