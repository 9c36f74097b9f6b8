"""Benchmark 3: the cost of the provider in DAG parsing.

Time to import a DAG file using every operator and sensor of the package, after ``import airflow.sdk``
(which every DAG pays anyway), median over fresh interpreters; side by side with the same DAG built from
Airflow's EmptyOperator, and checked against a bound on the ratio of the two (``BOUND``).

Both sides read byte-compiled modules, as a deployment does: pip compiles a wheel's modules when it installs
it, and Airflow's are compiled. In an editable checkout with ``PYTHONDONTWRITEBYTECODE`` set, the package
would otherwise be compiled from source on every run, which no deployment pays; so the package is
byte-compiled first. The DAG files themselves are compiled on every parse, on both sides, as in Airflow.
Runs alternate between the two DAGs, so that load on the machine weighs on both alike.
"""

from __future__ import annotations

import compileall
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

import airflow_provider_attendee
from bench.common import print_table, save

HERE = Path(__file__).resolve().parent
#: The DAG of every operator and sensor may take at most this many times the EmptyOperator DAG's time.
BOUND = 1.5
PROBE = """
import time, runpy
import airflow.sdk
start = time.perf_counter()
runpy.run_path({path!r})
print((time.perf_counter() - start) * 1000)
"""


def byte_compile_package() -> None:
    """Write the package's .pyc files, as installing its wheel does (a no-op when they are there)."""
    compileall.compile_dir(Path(airflow_provider_attendee.__file__).parent, quiet=1)


def parse_ms(path: Path) -> float:
    """One parse of the DAG file in a fresh interpreter, in milliseconds."""
    out = subprocess.run(
        [sys.executable, "-c", PROBE.format(path=str(path))], capture_output=True, text=True, check=True
    ).stdout
    return float(out.strip().splitlines()[-1])


def run(runs: int = 15) -> dict[str, Any]:
    byte_compile_package()
    ours: list[float] = []
    baseline: list[float] = []
    for _ in range(runs):
        ours.append(parse_ms(HERE / "dag_every_operator.py"))
        baseline.append(parse_ms(HERE / "dag_baseline.py"))
    ours_median, baseline_median = statistics.median(ours), statistics.median(baseline)
    ratio = ours_median / baseline_median
    return {
        "runs": runs,
        "ours_median_ms": round(ours_median, 1),
        "baseline_median_ms": round(baseline_median, 1),
        "ratio": round(ratio, 2),
        "bound": BOUND,
        "within_bound": ratio <= BOUND,
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
    verdict = "met" if results["within_bound"] else "NOT met"
    print(f"ratio {results['ratio']:.2f}x the baseline; bound {results['bound']:g}x: {verdict}")


if __name__ == "__main__":
    data = run()
    report(data)
    save("parse_time", data)
    sys.exit(0 if data["within_bound"] else 1)
