"""Benchmark 1: calendar -> bots for N events over many pages, with latency on every request.

Ours: AttendeeScheduleCalendarBotsOperator (lazy paging, then bounded-concurrency creates on the async
hook). Baseline: the naive loop (list every event, then create each bot one request at a time).
Lower bound: pages x latency + N x latency / concurrency. Then a steady-state re-run on the unchanged
calendar, which must send no POST and no DELETE.
"""

from __future__ import annotations

import math
import time
from datetime import timedelta
from typing import Any

from bench.common import print_table, save, simulator_process, use_connection

PAGE_SIZE = 100  # the real server's page size for calendar events


class _TaskInstance:
    dag_id, run_id, task_id, map_index = "bench", "bench_run", "sync", -1

    def xcom_push(self, key: str, value: Any) -> None:
        pass


def _events(n: int) -> list[dict[str, Any]]:
    return [
        {
            "name": f"Meeting {i}",
            "meeting_url": f"https://zoom.us/j/{10_000 + i}",
            "start_in_minutes": 60 + i % 600,
            "attendees": [{"email": "a@example.com"}, {"email": "b@example.com"}],
        }
        for i in range(n)
    ]


def _requests(counters: dict[str, Any]) -> dict[str, int]:
    totals = {"GET": 0, "POST": 0, "DELETE": 0}
    for route, count in counters["requests"].items():
        method = route.split(" ", 1)[0]
        totals[method] = totals.get(method, 0) + count
    return totals


def run(events: int = 2000, latency_ms: float = 50.0, concurrency: int = 8) -> dict[str, Any]:
    from airflow_provider_attendee.hooks.attendee import AttendeeHook
    from airflow_provider_attendee.operators.calendar import AttendeeScheduleCalendarBotsOperator

    latency = latency_ms / 1000
    pages = math.ceil(events / PAGE_SIZE)
    bound = pages * latency + events * latency / concurrency
    results: dict[str, Any] = {
        "events": events,
        "latency_ms": latency_ms,
        "concurrency": concurrency,
        "lower_bound_s": round(bound, 3),
    }
    with simulator_process("--time-scale", "0", "--latency-ms", str(latency_ms)) as sim:
        use_connection(sim, max_concurrency=concurrency)
        operator = AttendeeScheduleCalendarBotsOperator(
            task_id="sync", lookahead=timedelta(days=2), max_concurrency=concurrency
        )

        sim.admin.add_calendar(deduplication_key="ours", events=_events(events))
        sim.admin.reset_counters()
        started = time.perf_counter()
        summary = operator.execute({"ti": _TaskInstance()})
        ours = time.perf_counter() - started
        assert summary["counts"]["created"] == events, summary["counts"]
        counters = sim.admin.counters()
        results["ours"] = {
            "seconds": round(ours, 3),
            "requests": _requests(counters),
            "ratio_to_bound": round(ours / bound, 3),
            "peak_creates_in_flight": counters["peak_in_flight"].get("POST /api/v1/bots", 0),
        }

        sim.admin.reset_counters()
        started = time.perf_counter()
        again = operator.execute({"ti": _TaskInstance()})
        rerun = time.perf_counter() - started
        results["ours_rerun"] = {
            "seconds": round(rerun, 3),
            "requests": _requests(sim.admin.counters()),
            "created": again["counts"]["created"],
        }

        sim.admin.reset(time_scale=0)
        sim.admin.set_faults(default={"latency_ms": latency_ms})
        sim.admin.add_calendar(deduplication_key="naive", events=_events(events))
        sim.admin.reset_counters()
        hook = AttendeeHook()
        started = time.perf_counter()
        for event in list(hook.list_calendar_events()):  # the naive loop: list all, then one by one
            if event.meeting_url and not event.is_deleted and not event.bots:
                hook.create_bot(
                    calendar_event_id=event.id, bot_name="Notes", deduplication_key=f"naive-{event.id}"
                )
        naive = time.perf_counter() - started
        counters = sim.admin.counters()
        results["naive"] = {
            "seconds": round(naive, 3),
            "requests": _requests(counters),
            "peak_creates_in_flight": counters["peak_in_flight"].get("POST /api/v1/bots", 0),
        }
    results["speedup_vs_naive"] = round(naive / ours, 2)
    return results


def report(results: dict[str, Any]) -> None:
    rows = [
        (
            "ours (operator)",
            results["ours"]["seconds"],
            results["ours"]["requests"]["GET"],
            results["ours"]["requests"]["POST"],
            results["ours"]["requests"]["DELETE"],
            results["ours"]["ratio_to_bound"],
        ),
        (
            "ours, re-run (unchanged)",
            results["ours_rerun"]["seconds"],
            results["ours_rerun"]["requests"]["GET"],
            results["ours_rerun"]["requests"]["POST"],
            results["ours_rerun"]["requests"]["DELETE"],
            "-",
        ),
        (
            "naive loop",
            results["naive"]["seconds"],
            results["naive"]["requests"]["GET"],
            results["naive"]["requests"]["POST"],
            results["naive"]["requests"]["DELETE"],
            round(results["naive"]["seconds"] / results["lower_bound_s"], 2),
        ),
    ]
    print_table(
        f"1. Calendar sync: {results['events']} events, {results['latency_ms']:g} ms per request, "
        f"concurrency {results['concurrency']} (lower bound {results['lower_bound_s']} s; "
        f"ours is {results['speedup_vs_naive']}x faster than the naive loop)",
        ["run", "seconds", "GET", "POST", "DELETE", "x lower bound"],
        rows,
    )


if __name__ == "__main__":
    data = run()
    report(data)
    save("calendar_sync", data)
