"""Benchmark: the calendar sync of a large calendar against Attendee's POST throttle (3,000 per minute per
project), on a scaled clock (the throttle's window shrunk from 60 s to ``window`` seconds).

Two lower bounds: the throttle's rate (``events / 3000`` windows), and the sliding window's minimum (the
last POST can go no sooner than ``ceil(events / 3000) - 1`` windows after the first). Reports the time
against both, the 429s received (absorbed with Retry-After), bots created twice (must be 0) and events
that failed (must be 0).
``python -m bench.rate_limit [events] [window]`` prints the table. Defaults: 20,000 events and a 15 s window
(200 POSTs a second, 4x the real rate and still below what the client can send, so the throttle binds).
"""

from __future__ import annotations

import math
import os
import sys
import tempfile
import time
from datetime import timedelta
from typing import Any

from bench.common import print_table, save

LIMIT_PER_WINDOW = 3000


def run(
    events: int = 20_000, window: float = 15.0, concurrency: int = 8, limit: int = LIMIT_PER_WINDOW
) -> dict[str, Any]:
    from airflow_provider_attendee.operators.calendar import AttendeeScheduleCalendarBotsOperator
    from airflow_provider_attendee.testing import start_simulator
    from airflow_provider_attendee.testing.calendar_model import CalendarModel
    from airflow_provider_attendee.testing.simulator.scenario import EventSpec

    with start_simulator(time_scale=0) as sim:
        simulator = sim.simulator
        simulator.post_rate_limit_per_minute = limit
        simulator.rate_window_seconds = window
        # The client's retry budget scaled like the window (120 s against the server's 60 s window).
        os.environ["AIRFLOW_CONN_ATTENDEE_DEFAULT"] = sim.connection_json(
            max_retries=10, max_retry_time=2 * window, max_concurrency=concurrency
        )
        world = simulator.world
        calendar = world.add_calendar(
            platform="google", client_id="bench", deduplication_key="bench", metadata=None
        )
        for i in range(events):
            world.add_calendar_event(
                calendar,
                EventSpec(
                    name=f"Meeting {i}",
                    meeting_url=f"https://meet.google.com/{CalendarModel._code(i)}",
                    start_in_minutes=30 + (i * 1380 / events),
                    attendees=[{"email": "a@example.com"}, {"email": "b@example.com"}],
                ),
            )
        throttled = 0
        original = simulator.throttle

        def counting(now: float) -> float | None:
            nonlocal throttled
            wait = original(now)
            throttled += wait is not None
            return wait

        simulator.throttle = counting  # type: ignore[method-assign]
        operator = AttendeeScheduleCalendarBotsOperator(
            task_id="sync",
            calendar_id=calendar.id,
            lookahead=timedelta(hours=24),
            max_concurrency=concurrency,
        )
        started = time.monotonic()
        summary = operator.execute({})  # type: ignore[arg-type]
        elapsed = time.monotonic() - started
        twice = sum(1 for n in world.bots_created_by_dedup_key.values() if n > 1)
        bots = len(world.bots)
    bound = events / limit * window
    window_minimum = (math.ceil(events / limit) - 1) * window
    return {
        "events": events,
        "window_s": window,
        "limit": limit,
        "seconds": round(elapsed, 1),
        "lower_bound_s": round(bound, 1),
        "ratio_to_bound": round(elapsed / bound, 3),
        "sliding_window_minimum_s": round(window_minimum, 1),
        "ratio_to_window_minimum": round(elapsed / window_minimum, 3) if window_minimum else None,
        "created": summary["counts"]["created"],
        "failed": summary["counts"]["failed"],
        "bots": bots,
        "created_twice": twice,
        "throttled_429": throttled,
    }


def report(result: dict[str, Any]) -> None:
    print_table(
        f"Calendar sync of {result['events']:,} events against {result['limit']:,} POSTs per window "
        f"(window scaled to {result['window_s']:g} s from 60 s)",
        [
            "seconds",
            "rate bound (s)",
            "x rate bound",
            "window minimum (s)",
            "x window minimum",
            "created",
            "failed",
            "created twice",
            "429s received",
        ],
        [
            (
                result["seconds"],
                result["lower_bound_s"],
                result["ratio_to_bound"],
                result["sliding_window_minimum_s"],
                result["ratio_to_window_minimum"],
                result["created"],
                result["failed"],
                result["created_twice"],
                result["throttled_429"],
            )
        ],
    )


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="attendee-bench-"))
    os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "ERROR")
    args = [float(a) for a in (argv if argv is not None else sys.argv[1:])]
    result = run(int(args[0]) if args else 20_000, args[1] if len(args) > 1 else 15.0)
    report(result)
    save("rate_limit", result)
    return 0 if result["failed"] == 0 and result["created_twice"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
