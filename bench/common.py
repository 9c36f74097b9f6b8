"""Shared benchmark plumbing: a simulator in its own process, connection set-up, results and tables."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import httpx

from airflow_provider_attendee.testing import SimulatorAdmin
from airflow_provider_attendee.testing.real_airflow import free_port

RESULTS = Path(__file__).resolve().parent / "results"
API_KEY = "bench-key-7f3a9c21"


@dataclass
class RunningSim:
    url: str
    admin: SimulatorAdmin

    def connection_json(self, **extra: Any) -> str:
        conn: dict[str, Any] = {"conn_type": "attendee", "host": self.url, "password": API_KEY}
        if extra:
            conn["extra"] = extra
        return json.dumps(conn)


@contextmanager
def simulator_process(*args: str) -> Iterator[RunningSim]:
    """The simulator CLI in a separate process, so that it does not share the GIL with what is measured."""
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "airflow_provider_attendee.testing",
            "serve",
            "--port",
            str(port),
            "--api-key",
            API_KEY,
            *args,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{url}/_sim/health", timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("the simulator did not start") from None
                time.sleep(0.1)
        admin = SimulatorAdmin(url, timeout=120)
        yield RunningSim(url, admin)
        admin.close()
    finally:
        process.terminate()
        process.wait(timeout=10)


def use_connection(sim: RunningSim, **extra: Any) -> None:
    os.environ["AIRFLOW_CONN_ATTENDEE_DEFAULT"] = sim.connection_json(**extra)


def print_table(title: str, headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    cells = [[str(c) for c in headers]] + [
        [f"{c:,.3f}" if isinstance(c, float) else str(c) for c in row] for row in rows
    ]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    print(f"\n{title}")
    print("| " + " | ".join(h.ljust(w) for h, w in zip(cells[0], widths, strict=True)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in cells[1:]:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |")


def save(name: str, data: dict[str, Any]) -> Path:
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(data, indent=1, default=str) + "\n")
    return path


def rss_kb() -> int:
    """Current resident set size of this process (Linux)."""
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") // 1024


def epoch(value: Any) -> float:
    """A time from the metadata DB (aware on PostgreSQL, naive UTC or text on SQLite) in seconds."""
    if not isinstance(value, datetime):
        value = datetime.fromisoformat(str(value))
    return (value if value.tzinfo else value.replace(tzinfo=timezone.utc)).timestamp()


def percentile(values: list[float], q: float) -> float:
    """The nearest-rank ``q`` percentile (NaN for no values)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else float("nan")
