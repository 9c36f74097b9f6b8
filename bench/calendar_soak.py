"""Calendar-sync soak over simulated weeks: ``python -m bench.calendar_soak`` (defaults: 14 days, 500
events, a sync every 15 minutes, 10% injected server errors, both modes).

It drives airflow_provider_attendee.testing.calendar_model against the bundled simulator, checks the
sync's guarantee after every successful run, and prints the cost per run, incremental against full.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from typing import Any


def soak(days: float, events: int, fault_rate: float, incremental: bool, seed: int) -> dict[str, Any]:
    from airflow_provider_attendee.testing import start_simulator
    from airflow_provider_attendee.testing.calendar_model import CalendarModel

    with start_simulator(time_scale=0) as sim:
        os.environ["AIRFLOW_CONN_ATTENDEE_DEFAULT"] = sim.connection_json(
            retry_backoff=0.001, max_retries=2, max_retry_time=2
        )
        sim.admin.set_faults(default={"rate_5xx": fault_rate}, seed=seed)
        model = CalendarModel(sim, seed, incremental=incremental, events=events, skip_rate=0.05)
        started = time.monotonic()
        problems = model.run(days=days, interval=timedelta(minutes=15), changes_per_step=events / 100)
        elapsed = time.monotonic() - started
        faults = sum(sim.simulator.counters.faults.values())
    stats = model.stats
    steady = [r for r in stats.per_run if r["posts"] == 0 and r["deletes"] == 0]
    return {
        "mode": "incremental" if incremental else "full",
        "runs": stats.runs,
        "failed runs (faults)": stats.failed_runs,
        "skipped runs": stats.skipped_runs,
        "events created": model.events_created,
        "calendar changes": model.changes,
        "faults injected": faults,
        "invariant violations": len(problems),
        "events listed / run (mean)": round(statistics.mean(r["listed"] for r in stats.per_run), 1),
        "GETs / run (mean)": round(statistics.mean(r["gets"] for r in stats.per_run), 2),
        "POSTs / run (mean)": round(statistics.mean(r["posts"] for r in stats.per_run), 2),
        "DELETEs / run (mean)": round(statistics.mean(r["deletes"] for r in stats.per_run), 2),
        "runs with 0 POST and 0 DELETE": len(steady),
        "seconds": round(elapsed, 1),
        "first problems": problems[:5],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.calendar_soak")
    parser.add_argument("--days", type=float, default=14)
    parser.add_argument("--events", type=int, default=500)
    parser.add_argument("--fault-rate", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="attendee-soak-"))
    os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "ERROR")
    results = [soak(args.days, args.events, args.fault_rate, mode, args.seed) for mode in (True, False)]
    print(
        f"Calendar sync soak: {args.days:g} simulated days, {args.events} upcoming events, a sync every 15 min"
    )
    width = max(len(k) for k in results[0])
    print(f"{'':{width}}  {'incremental':>12}  {'full':>12}")
    for key in results[0]:
        if key in ("mode", "first problems"):
            continue
        print(f"{key:{width}}  {results[0][key]!s:>12}  {results[1][key]!s:>12}")
    for result in results:
        for problem in result["first problems"]:
            print(f"  {result['mode']}: {problem}")
    return 0 if all(r["invariant violations"] == 0 for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
