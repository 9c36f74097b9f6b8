"""Benchmark 4: the participant report over a large generated meeting (1,000,000 events by default).

Ours: the streaming ReportBuilder (events generated lazily, never all in memory). Baseline: the naive
method, collect every event, sort, then pair joins/leaves and speech start/stop per participant.
Reports events per second and peak memory (tracemalloc).
"""

from __future__ import annotations

import random
import time
import tracemalloc
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

from bench.common import print_table, save

T0 = 1_700_000_000_000


def generate(count: int, people: int = 500, seed: int = 1) -> Iterator[tuple[int, str, str, str, str, bool]]:
    """A long meeting: people join, talk, leave and rejoin; storage order jitters timestamps by up to 1 s."""
    rng = random.Random(seed)
    t = T0
    present: set[int] = set()
    speaking: set[int] = set()
    for i in range(count):
        t += rng.randint(0, 60)
        p = rng.randrange(people)
        if p not in present:
            kind = "join"
            present.add(p)
        elif p in speaking:
            kind = "speech_stop"
            speaking.discard(p)
        elif rng.random() < 0.05:
            kind = "leave"
            present.discard(p)
        else:
            kind = "speech_start"
            speaking.add(p)
        yield t + rng.randint(-500, 500), f"pe_{i}", kind, f"uuid-{p}", f"Person {p}", p == 0


def _timed(function: Any, events: list[tuple[int, str, str, str, str, bool]]) -> float:
    started = time.perf_counter()
    function(events)
    return time.perf_counter() - started


def _peak_mb(function: Any, events: Iterator[tuple[int, str, str, str, str, bool]]) -> float:
    tracemalloc.start()
    function(events)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return round(peak / 2**20, 1)


def ours(events: Any) -> Any:
    """The streaming report: consumes any iterable once."""
    from airflow_provider_attendee.meetings.report import ReportBuilder

    builder = ReportBuilder()
    add = builder.add_raw
    for event in events:
        add(*event)
    return builder.finish()


def naive(events: Any) -> Any:
    """The baseline: every event in memory, sorted, then paired per participant."""
    ordered = sorted(events)
    joined: dict[str, int] = {}
    talking: dict[str, int] = {}
    present: defaultdict[str, int] = defaultdict(int)
    speaking: defaultdict[str, int] = defaultdict(int)
    for ts, _, kind, uuid, _, _ in ordered:
        if kind == "join":
            joined.setdefault(uuid, ts)
        elif kind == "leave" and uuid in joined:
            present[uuid] += ts - joined.pop(uuid)
        elif kind == "speech_start":
            talking.setdefault(uuid, ts)
        elif kind == "speech_stop" and uuid in talking:
            speaking[uuid] += ts - talking.pop(uuid)
    return present, speaking


def run(count: int = 1_000_000) -> dict[str, Any]:
    """Speed over pre-generated events (generation not timed); peak memory while streaming from a generator."""
    events = list(generate(count))
    results: dict[str, Any] = {"events": count}
    for name, function in (("ours", ours), ("baseline_sort_all", naive)):
        seconds = min(_timed(function, events) for _ in range(2))
        results[name] = {
            "events_per_s": round(count / seconds),
            "seconds": round(seconds, 2),
            "peak_mb": _peak_mb(function, generate(count)),
        }
    report_ = ours(events)
    results["ours"]["participants"] = len(report_.participants)
    results["ours"]["total_speaking_s"] = report_.total_speaking_seconds
    return results


def report(results: dict[str, Any]) -> None:
    rows = [
        (name, results[name]["events_per_s"], results[name]["seconds"], results[name]["peak_mb"])
        for name in ("ours", "baseline_sort_all")
    ]
    print_table(
        f"4. Participant report: {results['events']:,} events, 500 participants",
        ["method", "events/s", "seconds", "peak MB"],
        rows,
    )


if __name__ == "__main__":
    data = run()
    report(data)
    save("report_speed", data)
