"""Benchmark 3: the cost of the provider in DAG parsing.

Time to import a DAG file using every operator and sensor of the package, after ``import airflow.sdk``
(which every DAG pays anyway), median over fresh interpreters; side by side with the same DAG built from
Airflow's EmptyOperator.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

from bench.common import print_table, save

HERE = Path(__file__).resolve().parent
PROBE = """
import time, runpy
import airflow.sdk
start = time.perf_counter()
runpy.run_path({path!r})
print((time.perf_counter() - start) * 1000)
"""


def parse_ms(path: Path, runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-c", PROBE.format(path=str(path))], capture_output=True, text=True, check=True
        ).stdout
        times.append(float(out.strip().splitlines()[-1]))
    return times


def run(runs: int = 15) -> dict[str, Any]:
    ours = parse_ms(HERE / "dag_every_operator.py", runs)
    baseline = parse_ms(HERE / "dag_baseline.py", runs)
    return {
        "runs": runs,
        "ours_median_ms": round(statistics.median(ours), 1),
        "baseline_median_ms": round(statistics.median(baseline), 1),
        "ours_all_ms": [round(t, 1) for t in ours],
        "baseline_all_ms": [round(t, 1) for t in baseline],
    }


def report(results: dict[str, Any]) -> None:
    print_table(
        f"3. DAG parse overhead after `import airflow.sdk` (median of {results['runs']} fresh interpreters)",
        ["DAG", "median ms"],
        [
            ("9 tasks: every Attendee operator and sensor", results["ours_median_ms"]),
            ("9 tasks: EmptyOperator (baseline)", results["baseline_median_ms"]),
        ],
    )


if __name__ == "__main__":
    data = run()
    report(data)
    save("parse_time", data)
