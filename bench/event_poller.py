"""Benchmark: what one poll of the event trigger costs as the history of finished meetings grows.

Ours: ``AttendeeBotEventTrigger`` (lists the live bots, looks up those that left the list). Baseline: what
it did before, listing every bot in the target state on every poll (all pages, forever). For each history
size (bots that ended before the watcher started) it measures the requests of a quiet poll and of a poll in
which 5 meetings ended. ``python -m bench.event_poller`` prints the table.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
from typing import Any

from bench.common import print_table, save

MEETING = "https://meet.google.com/abc-defg-hij"


def _history(sim: Any, count: int) -> None:
    """``count`` bots that ended long ago, made in-process (10,000 HTTP creates would only slow the set-up)."""
    world = sim.simulator.world
    for i in range(count):
        world.create_bot(
            meeting_url=MEETING,
            bot_name=f"Old {i}",
            join_at=None,
            metadata=None,
            deduplication_key=None,
            calendar_event_id=None,
            settings={},
        )
    sim.admin.advance(4 * 3600)


def _requests(sim: Any) -> int:
    counters = sim.admin.counters()["requests"]
    return sum(v for k, v in counters.items() if k.startswith("GET /api/v1/bots"))


def measure(history: int) -> dict[str, Any]:
    from airflow_provider_attendee.hooks.attendee import AttendeeHook
    from airflow_provider_attendee.testing import start_simulator
    from airflow_provider_attendee.triggers.attendee import AttendeeBotEventTrigger

    with start_simulator(time_scale=0) as sim:
        os.environ["AIRFLOW_CONN_ATTENDEE_DEFAULT"] = sim.connection_json()
        _history(sim, history)
        with AttendeeHook() as hook:
            live = [hook.create_bot(MEETING, bot_name=f"Live {i}").id for i in range(5)]
        trigger = AttendeeBotEventTrigger(poll_interval=1)

        async def poll() -> int:
            finished, trigger._watching = await trigger.poll(AttendeeHook())
            return len(finished)

        async def baseline() -> int:
            return len([b async for b in AttendeeHook().alist_bots(states=["ended"])])

        asyncio.run(poll())  # the first poll: starts watching the live bots
        sim.admin.reset_counters()
        assert asyncio.run(poll()) == 0
        quiet = _requests(sim)
        sim.admin.advance(3600)  # the 5 live meetings end
        sim.admin.reset_counters()
        emitted = asyncio.run(poll())
        busy = _requests(sim)
        sim.admin.reset_counters()
        ended_listed = asyncio.run(baseline())
        old = _requests(sim)
    assert emitted == len(live) and ended_listed == history + len(live)
    return {
        "history": history,
        "quiet_poll_requests": quiet,
        "poll_with_5_finished_requests": busy,
        "baseline_requests_per_poll": old,
    }


def run(sizes: tuple[int, ...] = (0, 1_000, 10_000)) -> dict[str, Any]:
    return {"rows": [measure(n) for n in sizes]}


def report(results: dict[str, Any]) -> None:
    print_table(
        "Event trigger: requests per poll against the history of finished meetings",
        ["ended bots before", "quiet poll", "poll with 5 meetings ended", "baseline (list every ended bot)"],
        [
            (
                r["history"],
                r["quiet_poll_requests"],
                r["poll_with_5_finished_requests"],
                r["baseline_requests_per_poll"],
            )
            for r in results["rows"]
        ],
    )


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="attendee-bench-"))
    os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "ERROR")
    sizes = tuple(int(a) for a in (argv or sys.argv[1:])) or (0, 1_000, 10_000)
    results = run(sizes)
    report(results)
    save("event_poller", results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
