"""Run every benchmark: ``python -m bench`` (or ``make bench``); ``--quick`` for tiny sizes.

Prints one table per benchmark, checks the targets, and writes the figures to bench/results/*.json.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile

TARGETS = {
    "calendar: speedup vs naive loop at concurrency 16": (">=", 10.0),
    "calendar: x lower bound at concurrency 8": ("<=", 1.3),
    "calendar: re-run POST + DELETE": ("==", 0),
    "fan-out: KB per trigger (tracemalloc)": ("<=", 50.0),
    "fan-out: requests per trigger in a 30 s outage": ("<=", 8.0),
    "fan-out: TCP connections": ("<=", 8),
    "fan-out: requests per bot per interval": ("<=", 1.0),
    "event trigger: requests per quiet poll, most history": ("<=", 2),
    "push: s from ended to DAG run, p95": ("<=", 5.0),
    "push: API requests per finished meeting": ("==", 0),
    "parse: ms after airflow.sdk": ("<=", 50.0),
    "parse: x the EmptyOperator DAG": ("<=", 1.5),
    "report: events per second": (">=", 500_000),
    "tables: whole digest ms, 100,000 meetings": ("<=", 1000.0),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument(
        "--quick", action="store_true", help="tiny sizes (a smoke run, figures not meaningful)"
    )
    args = parser.parse_args(argv)
    os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="attendee-bench-"))
    os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING")
    from bench import (
        calendar_sync,
        event_latency,
        event_poller,
        fanout,
        meeting_tables,
        parse_time,
        report_speed,
    )
    from bench.common import print_table, save

    quick = args.quick
    calendar = calendar_sync.run(events=40 if quick else 2000, latency_ms=5 if quick else 50)
    calendar_sync.report(calendar)
    calendar16 = calendar_sync.run(
        events=40 if quick else 2000, latency_ms=5 if quick else 50, concurrency=16
    )
    calendar_sync.report(calendar16)
    fan = fanout.run(
        count=20 if quick else 1000,
        interval=0.5 if quick else 2.0,
        time_scale=2000 if quick else 150,
        outage_s=3 if quick else 30,
        outage_interval=1 if quick else 30,
    )
    fanout.report(fan)
    poller = event_poller.run((0, 100) if quick else (0, 1_000, 10_000))
    event_poller.report(poller)
    latency = [
        event_latency.run(mode, meetings=8 if quick else 60, poll_interval=10.0)
        for mode in ("push", "poll", "outage")
    ]
    event_latency.report(latency)
    parse = parse_time.run(runs=2 if quick else 15)
    parse_time.report(parse)
    report = report_speed.run(count=20_000 if quick else 1_000_000)
    report_speed.report(report)
    tables = meeting_tables.run(meetings=2_000 if quick else 100_000, per_task_sample=50 if quick else 500)
    meeting_tables.report(tables)

    measured = {
        "calendar: speedup vs naive loop at concurrency 16": calendar16["speedup_vs_naive"],
        "calendar: x lower bound at concurrency 8": calendar["ours"]["ratio_to_bound"],
        "calendar: re-run POST + DELETE": calendar["ours_rerun"]["requests"]["POST"]
        + calendar["ours_rerun"]["requests"]["DELETE"],
        "fan-out: KB per trigger (tracemalloc)": fan["memory_kb_per_trigger"],
        "fan-out: requests per trigger in a 30 s outage": fan["outage_one_layer"]["requests_per_trigger"],
        "fan-out: TCP connections": fan["ours"]["tcp_connections"],
        "fan-out: requests per bot per interval": fan["ours"]["requests_per_bot_per_interval"],
        "event trigger: requests per quiet poll, most history": poller["rows"][-1]["quiet_poll_requests"],
        "push: s from ended to DAG run, p95": latency[0]["p95_s"],
        "push: API requests per finished meeting": latency[0]["api_requests_per_meeting"],
        "parse: ms after airflow.sdk": parse["ours_median_ms"],
        "parse: x the EmptyOperator DAG": parse["ratio"],
        "report: events per second": report["ours"]["events_per_s"],
        "tables: whole digest ms, 100,000 meetings": tables["digest"]["with_index"]["whole_digest"]["ms"],
    }
    checks = {">=": lambda a, b: a >= b, "<=": lambda a, b: a <= b, "==": lambda a, b: a == b}
    rows = []
    for name, (op, target) in TARGETS.items():
        value = measured[name]
        rows.append((name, value, f"{op} {target:g}", "yes" if checks[op](value, target) else "NO"))
    print_table(
        "Targets" + (" (quick run: sizes too small to be meaningful)" if quick else ""),
        ["figure", "measured", "target", "met"],
        rows,
    )
    path = save(
        "quick" if quick else "latest",
        {
            "calendar_sync": calendar,
            "calendar_sync_concurrency_16": calendar16,
            "fanout": fan,
            "event_poller": poller,
            "event_latency": latency,
            "parse_time": parse,
            "report_speed": report,
            "meeting_tables": tables,
            "targets": {r[0]: {"measured": r[1], "target": r[2], "met": r[3]} for r in rows},
        },
    )
    print(f"\nFigures written to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
