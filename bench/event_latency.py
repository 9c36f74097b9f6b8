"""Push against poll, in a real Airflow: how soon a finished meeting gets its DAG run, and what it costs.

A real Airflow (api-server, scheduler, dag-processor, triggerer; LocalExecutor on SQLite) runs
``bench/dags/attendee_bench_finished.py``, scheduled on ``attendee://bots/ended``. The simulator holds
``meetings`` bots in their meetings and ends them in groups (1 to 6 in the same instant, a second or two
apart), as a day of meetings ends. For each bot: the time from the ``ended`` state change in the simulator
to the creation of the DAG run that consumed its asset event (``dag_run.created_at``, ``queued_at`` on
Airflow 3.1, read from Airflow's database), and the Attendee API requests made meanwhile.

- push: the simulator delivers signed ``bot.state_change`` webhooks to the plugin on the API server.
- poll: ``AttendeeBotEventTrigger`` in the triggerer, every ``poll_interval`` seconds.
- outage: push, but the API server is stopped while the meetings end and started 60 s later: every
  delivery fails for good, and the catch-up (every ``catch_up_interval`` s) finds them from the API;
  latency is counted from the moment the API server answers again.

``--burners N`` keeps N CPU-bound processes running beside Airflow (a busy machine). A meeting not
consumed by a run within the deadline is counted as lost (the bound is 0).

Run: ``python -m bench.event_latency [--meetings 60] [--poll-interval 10] [--burners 0]`` (``make bench``
runs it too).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import random
import secrets
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import epoch, percentile, print_table, save, simulator_process, use_connection

DAGS = Path(__file__).resolve().parent / "dags"
DAG_ID = "attendee_bench_finished"
GROUP_SIZES = (1, 1, 1, 2, 3, 6)
MEETING_URLS = (
    "https://meet.google.com/abc-defg-hij",
    "https://meet.google.com/bcd-efgh-ijk",
    "https://meet.google.com/cde-fghi-jkl",
)


def recorded(home: Path) -> dict[str, float]:
    """Bot id -> when its first asset event was recorded (epoch s)."""
    db = sqlite3.connect(f"file:{home / 'airflow.db'}?mode=ro", uri=True, timeout=30)
    try:
        rows = db.execute("SELECT timestamp, extra FROM asset_event").fetchall()
    finally:
        db.close()
    events: dict[str, float] = {}
    for timestamp, extra in rows:
        bot_id = str((json.loads(extra or "{}").get("payload") or {}).get("bot_id"))
        events[bot_id] = min(events.get(bot_id, float("inf")), epoch(timestamp))
    return events


def consumed(home: Path) -> dict[str, list[float]]:
    """Bot id -> creation times (epoch s) of the runs that consumed one of its asset events."""
    db = sqlite3.connect(f"file:{home / 'airflow.db'}?mode=ro", uri=True, timeout=30)
    try:
        columns = {row[1] for row in db.execute("PRAGMA table_info(dag_run)")}
        created = "created_at" if "created_at" in columns else "queued_at"  # Airflow 3.1 has no created_at
        rows = db.execute(
            f"SELECT dr.{created}, ae.extra FROM dag_run dr "
            "JOIN dagrun_asset_event dae ON dae.dag_run_id = dr.id "
            "JOIN asset_event ae ON ae.id = dae.event_id WHERE dr.dag_id = ?",
            (DAG_ID,),
        ).fetchall()
    finally:
        db.close()
    runs: dict[str, list[float]] = {}
    for created_at, extra in rows:
        bot_id = (json.loads(extra or "{}").get("payload") or {}).get("bot_id")
        runs.setdefault(str(bot_id), []).append(epoch(created_at))
    return runs


def delivery_storage(home: Path) -> dict[str, int]:
    """Rows in the provider's webhook tables, and their bytes where SQLite can tell (dbstat)."""
    db = sqlite3.connect(f"file:{home / 'airflow.db'}?mode=ro", uri=True, timeout=30)
    sizes: dict[str, int] = {}
    try:
        for table in ("attendee_webhook_delivery", "attendee_finished_meeting"):
            try:
                sizes[f"{table}_rows"] = int(db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
            except sqlite3.OperationalError:
                sizes[f"{table}_rows"] = 0
            try:
                row = db.execute("SELECT SUM(pgsize) FROM dbstat WHERE name = ?", (table,)).fetchone()
                sizes[f"{table}_bytes"] = int(row[0] or 0)
            except sqlite3.OperationalError:  # SQLite built without dbstat
                pass
    finally:
        db.close()
    return sizes


def run(
    mode: str,
    meetings: int = 60,
    poll_interval: float = 10.0,
    seed: int = 7,
    burners: int = 0,
    catch_up_interval: float = 10.0,
) -> dict[str, Any]:
    """One mode (``push``, ``poll`` or ``outage``): latencies, requests per meeting, runs, duplicates
    and meetings lost."""
    from airflow_provider_attendee.testing.real_airflow import cpu_burners

    with cpu_burners(burners):
        result = _run(mode, meetings, poll_interval, seed, catch_up_interval)
    return {**result, "burners": burners}


def _run(
    mode: str, meetings: int, poll_interval: float, seed: int, catch_up_interval: float
) -> dict[str, Any]:
    from airflow_provider_attendee.hooks.attendee import AttendeeHook
    from airflow_provider_attendee.testing.real_airflow import RealAirflow

    rng = random.Random(seed)
    secret = base64.b64encode(secrets.token_bytes(32)).decode()
    home = Path(tempfile.mkdtemp(prefix=f"attendee-bench-{mode}-"))
    with simulator_process("--scenario", "demo", "--time-scale", "0") as sim:
        env = {
            "AIRFLOW_CONN_ATTENDEE_DEFAULT": sim.connection_json(webhook_secret=secret),
            "ATTENDEE_BENCH_EVENTS": "poll" if mode == "poll" else "push",
            "AIRFLOW__ATTENDEE__CATCH_UP_INTERVAL": str(catch_up_interval),
            "ATTENDEE_BENCH_POLL_SECONDS": str(poll_interval),
            "AIRFLOW__LOGGING__LOGGING_LEVEL": os.environ.get("ATTENDEE_BENCH_LOG_LEVEL", "WARNING"),
        }
        with RealAirflow(home, DAGS, **env) as airflow:
            airflow.wait_for_dag(DAG_ID)  # and the API server
            if mode != "poll":
                subscription = {"url": f"{airflow.url}/attendee/webhooks", "triggers": ["bot.state_change"]}
                sim.admin.set_webhooks([subscription], secret)
            use_connection(sim)
            if mode == "outage":  # a delivery first, so the catch-up knows the connection
                with AttendeeHook() as hook:
                    first = hook.create_bot(MEETING_URLS[0], bot_name="Bench").id
                sim.admin.advance(3600)
                while first not in consumed(home):
                    airflow.assert_alive()
                    time.sleep(0.5)
            with AttendeeHook() as hook:
                bots = [hook.create_bot(MEETING_URLS[i % 3], bot_name="Bench").id for i in range(meetings)]
            sim.admin.advance(120)  # every bot is in its meeting
            if mode == "poll":  # the watcher has listed them live at least once
                listed = sim.admin.requests("GET /api/v1/bots")
                deadline = time.monotonic() + 120 + 2 * poll_interval
                while sim.admin.requests("GET /api/v1/bots") < listed + 2:
                    airflow.assert_alive()
                    assert time.monotonic() < deadline, f"the watcher is not polling; see {home}"
                    time.sleep(0.5)
            if mode == "outage":  # the catch-up has seen the live bots; then the API server goes down
                time.sleep(2 * catch_up_interval)
                airflow.stop("api-server")
                down_at = time.monotonic()
            sim.admin.reset_counters()

            ended_at: dict[str, float] = {}
            pending = list(bots)
            while pending:
                size = rng.choice(GROUP_SIZES)
                group, pending = pending[:size], pending[size:]
                for bot_id in group:
                    ended_at[bot_id] = time.time()
                    sim.admin.fire_event(bot_id, "meeting_ended")
                    sim.admin.fire_event(bot_id, "post_processing_completed")
                time.sleep(rng.uniform(0.5, 2.5))
            if mode == "outage":
                time.sleep(max(0.0, 60 - (time.monotonic() - down_at)))
                airflow.start("api-server")
                airflow.wait_for_api()
                back = time.time()
                ended_at = dict.fromkeys(bots, back)  # the catch-up delay counts from here
            deadline = time.monotonic() + 180 + 3 * max(poll_interval, catch_up_interval)
            while len(set(consumed(home)) & set(bots)) < len(bots) and time.monotonic() < deadline:
                airflow.assert_alive()
                time.sleep(0.5)
            time.sleep(max(3.0, poll_interval))  # anything emitted twice would show by now
            runs, events = consumed(home), recorded(home)
            answers = [t for d in sim.admin.webhook_deliveries() for t in d["seconds"]]
            api_requests = sum(sim.admin.counters()["requests"].values())
            run_count = len(airflow.runs(DAG_ID))
            storage = delivery_storage(home)
    found = [b for b in bots if b in runs]
    latencies = [min(runs[b]) - ended_at[b] for b in found] or [float("nan")]
    to_event = [events[b] - ended_at[b] for b in found if b in events] or [float("nan")]
    return {
        "mode": mode,
        "meetings": meetings,
        "poll_interval_s": poll_interval if mode == "poll" else None,
        "p50_s": statistics.median(latencies),
        "p95_s": percentile(latencies, 0.95),
        "max_s": max(latencies),
        "event_recorded_p50_s": statistics.median(to_event),
        "event_recorded_p95_s": percentile(to_event, 0.95),
        "webhook_answer_p95_s": percentile(answers, 0.95) if answers else None,
        "dag_runs": run_count,
        "meetings_run_twice": sum(len(runs[b]) > 1 for b in found),
        "meetings_lost": len(bots) - len(found),
        "storage": storage,
        "api_requests_per_meeting": api_requests / meetings,
        "home": str(home),
        "per_meeting": [
            {
                "bot_id": b,
                "event_s": round(events[b] - ended_at[b], 3) if b in events else None,
                "run_s": round(min(runs[b]) - ended_at[b], 3),
            }
            for b in found
        ],
    }


def report(results: list[dict[str, Any]]) -> None:
    print_table(
        "Finished meeting -> DAG run created (real Airflow, LocalExecutor)",
        [
            "mode",
            "burners",
            "meetings",
            "event p50 s",
            "run p50 s",
            "run p95 s",
            "run max s",
            "DAG runs",
            "run twice",
            "lost",
            "API req/meeting",
        ],
        [
            (
                r["mode"] + (f" every {r['poll_interval_s']:g} s" if r["poll_interval_s"] else ""),
                r["burners"],
                r["meetings"],
                r["event_recorded_p50_s"],
                r["p50_s"],
                r["p95_s"],
                r["max_s"],
                r["dag_runs"],
                r["meetings_run_twice"],
                r["meetings_lost"],
                r["api_requests_per_meeting"],
            )
            for r in results
        ],
    )


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.event_latency")
    parser.add_argument("--meetings", type=int, default=60)
    parser.add_argument("--poll-interval", type=float, default=10.0)
    parser.add_argument("--modes", default="push,poll")
    parser.add_argument("--burners", default="0", help="comma-separated: each mode runs once per value")
    parser.add_argument("--catch-up-interval", type=float, default=10.0)
    args = parser.parse_args()
    os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="attendee-bench-"))
    results = []
    for n in args.burners.split(","):
        for mode in args.modes.split(","):
            results.append(
                run(
                    mode,
                    args.meetings,
                    args.poll_interval,
                    burners=int(n),
                    catch_up_interval=args.catch_up_interval,
                )
            )
            report(results[-1:])  # as each finishes: a long run shows its figures even if a later one fails
    report(results)
    lost = sum(r["meetings_lost"] + r["meetings_run_twice"] for r in results)
    print(f"\nMeetings lost or run twice: {lost} (bound: 0) -> {'met' if lost == 0 else 'NOT MET'}")
    print(f"\nFigures written to {save('event_latency', {'results': results})}")


if __name__ == "__main__":
    main()
