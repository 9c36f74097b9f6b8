"""Fault soak: the calendar sync and the meeting pipeline through Airflow (dag.test, real HTTP) against a
simulator that fails a lot: 20% 5xx (half of them HTML pages), 10% 429 with Retry-After, 5% dropped
connections (before or after the server processed the request), and latency jitter.

For each seed: every DAG run must succeed (task retries allowed), the calendar must end with exactly one
bot per eligible event (no duplicate, none missing, counted in the simulator's own state), and the
meeting report must equal the fault-free ground truth. ``python -m bench.soak --seeds 10`` prints a table.
"""

from __future__ import annotations

import argparse
import json
import os
import runpy
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

from airflow_provider_attendee.testing.demo import ELIGIBLE, PRODUCT_SYNC, TALK_TIME

ROOT = Path(__file__).resolve().parents[1]
FAULTS = {
    "rate_5xx": 0.2,
    "html_fraction": 0.5,
    "rate_429": 0.1,
    "retry_after_seconds": 0.2,
    "rate_reset": 0.05,
    "reset_after_fraction": 0.5,
    "latency_ms": 2,
    "jitter_ms": 20,
}


def _dag(name: str) -> Any:
    dag = runpy.run_path(str(ROOT / "example_dags" / f"{name}.py"))["dag"]
    for task in dag.tasks:  # the examples wait 15-20 s between tries; a soak only needs the retry itself
        task.retry_delay = timedelta(seconds=0.5)
        task.retry_exponential_backoff = False
        task.retries = max(task.retries, 4)
    return dag


def _tries(run: Any) -> int:
    return sum(max(ti.try_number, 1) for ti in run.get_task_instances())


def run_seed(seed: int) -> dict[str, Any]:
    """One soak round; returns the figures and whether every check held."""
    from airflow_provider_attendee.testing import start_simulator

    started = time.monotonic()
    with start_simulator(scenario="demo", time_scale=0, seed=seed, api_key=f"soak-{seed}-key") as sim:
        os.environ["AIRFLOW_CONN_ATTENDEE_DEFAULT"] = sim.connection_json(retry_backoff=0.05, max_retries=6)
        sim.admin.set_faults(seed=seed, default=FAULTS)
        sync_dag = _dag("attendee_calendar_sync")
        first = sync_dag.test()
        second = sync_dag.test()  # idempotent under faults too
        bots = sim.admin.bots()
        per_event = Counter(b["bot_name"].replace("Notetaker · ", "") for b in bots if b["calendar_event_id"])
        after_sync = sim.admin.counters()
        keys = after_sync["bots_created_by_dedup_key"]
        # The meeting moves 15 s per API request, not with the wall clock: on a busy machine a sensor
        # that starts late still sees the quorum it waits for.
        sim.admin.set_seconds_per_request(15)
        pipeline = _dag("attendee_meeting_pipeline").test(
            run_conf={"meeting_url": PRODUCT_SYNC, "min_participants": 4}
        )
        talk: dict[str, float] = {}
        if str(pipeline.state) == "success":
            summary = next(ti for ti in pipeline.get_task_instances() if ti.task_id == "publish_summary")
            report = json.loads(
                Path(
                    summary.xcom_pull(task_ids="publish_summary")["report"]["json"].removeprefix("file://")
                ).read_text()
            )
            talk = {p["name"]: p["speaking_seconds"] for p in report["participants"]}
        counters = sim.admin.counters()
    result = {
        "seed": seed,
        "sync_runs": f"{first.state}/{second.state}",
        "pipeline": str(pipeline.state),
        "bots_for_eligible_events": sum(per_event[name] for name in ELIGIBLE),
        "duplicates": sum(max(n - 1, 0) for n in per_event.values())
        + sum(max(n - 1, 0) for n in keys.values()),
        "missing": len(ELIGIBLE - set(per_event)),
        "report_equals_truth": talk == TALK_TIME,
        "faults_injected": sum(counters["faults"].values()),
        # The calendar syncs run on a frozen clock: their requests, and so the faults the seeded injector
        # gives them, do not depend on timing (the pipeline's polls do).
        "sync_faults": sum(after_sync["faults"].values()),
        "sync_requests": sum(after_sync["requests"].values()),
        "task_tries": _tries(first) + _tries(second) + _tries(pipeline),
        "seconds": round(time.monotonic() - started, 1),
    }
    result["ok"] = (
        result["sync_runs"] == "success/success"
        and result["pipeline"] == "success"
        and result["duplicates"] == 0
        and result["missing"] == 0
        and result["report_equals_truth"]
    )
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.soak")
    parser.add_argument("--seeds", type=int, default=10)
    args = parser.parse_args(argv)
    home = tempfile.mkdtemp(prefix="attendee-soak-")
    os.environ.update(
        {
            "AIRFLOW_HOME": home,
            "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "example_dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "ERROR",
            "ATTENDEE_EXAMPLE_POLL_SECONDS": "0.5",
        }
    )
    for command in (
        ["db", "migrate"],
        ["pools", "set", "attendee_api", "8", "Attendee"],
        ["dags", "reserialize"],
    ):
        subprocess.run([sys.executable, "-m", "airflow", *command], check=True, capture_output=True)
    from bench.common import print_table, save

    results = []
    for seed in range(1, args.seeds + 1):
        with open(os.path.join(home, "soak.log"), "a") as log:
            saved = os.dup(1), os.dup(2)
            os.dup2(log.fileno(), 1)
            os.dup2(log.fileno(), 2)
            try:
                results.append(run_seed(seed))
            finally:
                os.dup2(saved[0], 1)
                os.dup2(saved[1], 2)
        print(f"seed {seed}: {'ok' if results[-1]['ok'] else 'FAILED'}", flush=True)
    columns = [
        "seed",
        "sync_runs",
        "pipeline",
        "bots_for_eligible_events",
        "duplicates",
        "missing",
        "report_equals_truth",
        "faults_injected",
        "sync_faults",
        "task_tries",
        "seconds",
    ]
    print_table(f"Fault soak: {FAULTS}", columns, [[r[c] for c in columns] for r in results])
    print(
        f"\n{sum(r['ok'] for r in results)} of {len(results)} seeds passed every check; logs in {home}/soak.log"
    )
    save("soak", {"faults": FAULTS, "results": results})
    return 0 if all(r["ok"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
