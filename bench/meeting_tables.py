"""Benchmark: the meeting tables in PostgreSQL at scale (``python -m bench.meeting_tables``).

100,000 meetings x 8 participants (two years of weeks, 40 calendars, 400 recurring series, 2,000 people,
5% failed bots), built by the provider's row builder (``analytics.rows.meeting_rows`` from bots and
reports) and loaded into a throwaway PostgreSQL server four ways, each into its own database:

- **ours, per meeting**: ``store.replace_meeting``, one transaction per meeting (what each task of the
  post-meeting DAG does, on one open connection);
- **ours, per task**: ``MeetingTables.write`` through the Airflow connection's hook (a new connection and
  the schema check per meeting, as a task really runs), on a sample;
- **baselines**: bulk ``COPY`` and one ``executemany`` per chunk, into the same tables.

Rows are generated in chunks of 10,000 meetings outside the timings. Each load runs in its own process:
its peak memory (max RSS) is the load's. Then the digest's queries on the 100,000 meetings, with the
tables' index and without it.
"""

from __future__ import annotations

import argparse
import multiprocessing
import random
import resource
import statistics
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

from bench.common import print_table, save

CHUNK = 10_000
START = datetime(2025, 1, 6, 8, 0, tzinfo=timezone.utc)  # a Monday; 104 weeks from there
WEEKS = 104


def generate(count: int, people: int = 8, seed: int = 7) -> Iterator[tuple[Any, list[Any]]]:
    """(meeting row, participant rows) for ``count`` meetings, through the provider's row builder."""
    from airflow_provider_attendee.analytics.rows import meeting_rows
    from airflow_provider_attendee.client.models import Bot, Calendar, CalendarEvent
    from airflow_provider_attendee.meetings.report import MeetingReport, ParticipantStats

    rng = random.Random(seed)
    calendars = [
        Calendar(
            id=f"cal_{i}",
            platform="google",
            state="connected",
            deduplication_key=f"team-{i}",
            created_at=START,
            updated_at=START,
        )
        for i in range(40)
    ]
    pool = [(f"uuid-{i}", f"Person {i}", f"person{i}@example.com") for i in range(2000)]
    for n in range(count):
        start = START + timedelta(minutes=rng.randrange(WEEKS * 7 * 24 * 60))
        series = rng.randrange(400)
        calendar = calendars[series % 40]
        invited = [pool[(series * 5 + k) % len(pool)] for k in range(people + 2)]
        bot_id = f"bot_{n:08d}"
        event = CalendarEvent(
            id=f"evt_{n}",
            calendar_id=calendar.id,
            name=f"Series {series}",
            ical_uid=f"series-{series}@example.com",  # occurrences of one recurring event share it
            start_time=start,
            end_time=start + timedelta(hours=1),
            attendees=[{"name": p[1], "email": p[2]} for p in invited],
        )
        if rng.random() < 0.05:
            bot = Bot(
                id=bot_id,
                meeting_url=f"https://zoom.us/j/{series}",
                state="fatal_error",
                events=[
                    {"type": "put_in_waiting_room", "created_at": start},
                    {
                        "type": "could_not_join_meeting",
                        "sub_type": rng.choice(
                            ["waiting_room_timeout_exceeded", "request_to_join_denied", "meeting_not_found"]
                        ),
                        "created_at": start + timedelta(minutes=5),
                    },
                ],
            )
            report = MeetingReport(None, None, 0.0, [], 0, None, 0.0, [], 0)
        else:
            minutes = rng.choice([15, 30, 30, 45, 60])
            end = start + timedelta(minutes=minutes)
            bot = Bot(
                id=bot_id,
                meeting_url=f"https://zoom.us/j/{series}",
                state="ended",
                events=[
                    {"type": "joined_meeting", "created_at": start},
                    {"type": "meeting_ended", "created_at": end},
                ],
            )
            spoke = [rng.uniform(0, minutes * 12) for _ in range(people)]
            total = sum(spoke)
            stats = [
                ParticipantStats(
                    uuid=f"{uuid}-{n}",
                    name=name,
                    is_host=k == 0,
                    first_join=start.isoformat(),
                    last_leave=end.isoformat(),
                    present_seconds=minutes * 60.0,
                    speaking_seconds=round(spoke[k], 3),
                    talk_share=round(spoke[k] / total, 4),
                    speaking_turns=rng.randrange(1, 9),
                    joins=1,
                )
                for k, (uuid, name, _) in enumerate(invited[:people])
            ]
            report = MeetingReport(
                start.isoformat(),
                end.isoformat(),
                minutes * 60.0,
                stats,
                people,
                start.isoformat(),
                round(total, 3),
                [],
                people * 4,
            )
        yield meeting_rows(bot, report, event=event, calendar=calendar, written_at=start)


def chunks(count: int) -> Iterator[list[tuple[Any, list[Any]]]]:
    rows = generate(count)
    for start in range(0, count, CHUNK):
        yield [next(rows) for _ in range(min(CHUNK, count - start))]


def _load(method: str, dsn: str, count: int, queue: Any) -> None:
    """One load in its own process: DB time only (generation excluded), and this process's peak RSS."""
    import psycopg

    from airflow_provider_attendee.analytics.schema import (
        DIALECTS,
        MEETING_COLUMNS,
        PARTICIPANT_COLUMNS,
        TableNames,
    )
    from airflow_provider_attendee.analytics.store import ensure_schema, params, replace_meeting

    dialect, tables = DIALECTS["postgresql"], TableNames()
    connection = psycopg.connect(dsn)
    ensure_schema(connection, tables, dialect)
    seconds = 0.0
    meetings = participants = 0
    for chunk in chunks(count):
        started = time.perf_counter()
        if method == "ours_per_meeting":
            for meeting, people in chunk:
                replace_meeting(connection, tables, dialect, meeting, people)
        elif method == "copy":
            with connection.cursor() as cursor:
                for table, columns, rows in (
                    (tables.meetings, MEETING_COLUMNS, (m for m, _ in chunk)),
                    (tables.participants, PARTICIPANT_COLUMNS, (p for _, ps in chunk for p in ps)),
                ):
                    names = ", ".join(c for c, _, _ in columns)
                    with cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                        for row in rows:
                            copy.write_row(params(row, dialect))
            connection.commit()
        elif method == "executemany":
            from airflow_provider_attendee.analytics.schema import insert_statement

            with connection.cursor() as cursor:
                cursor.executemany(
                    insert_statement(tables.meetings, MEETING_COLUMNS, dialect),
                    [params(m, dialect) for m, _ in chunk],
                )
                cursor.executemany(
                    insert_statement(tables.participants, PARTICIPANT_COLUMNS, dialect),
                    [params(p, dialect) for _, ps in chunk for p in ps],
                )
            connection.commit()
        seconds += time.perf_counter() - started
        meetings += len(chunk)
        participants += sum(len(ps) for _, ps in chunk)
    connection.close()
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    queue.put({"seconds": seconds, "meetings": meetings, "participants": participants, "peak_rss_mb": rss_mb})


def _in_process(method: str, dsn: str, count: int) -> dict[str, Any]:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_load, args=(method, dsn, count, queue))
    process.start()
    result = queue.get()
    process.join()
    rows = result["meetings"] + result["participants"]
    return {**result, "rows": rows, "rows_per_s": round(rows / result["seconds"]), "method": method}


def _per_task(conn_id: str, count: int) -> dict[str, Any]:
    """``MeetingTables.write`` as a task calls it: the hook's new connection and the schema check each time."""
    from airflow_provider_attendee.hooks.meeting_tables import MeetingTables

    seconds, rows = 0.0, 0
    for meeting, people in next(chunks(count)):
        tables = MeetingTables(conn_id)
        started = time.perf_counter()
        written = tables.write(meeting, people)
        seconds += time.perf_counter() - started
        rows += written.meetings + written.participants
    return {
        "method": "ours_per_task",
        "meetings": count,
        "rows": rows,
        "seconds": seconds,
        "rows_per_s": round(rows / seconds),
    }


def _digest_timings(dsn: str, repeat: int = 5) -> dict[str, Any]:
    """Each digest query on the loaded tables (median of ``repeat``), with the week index and without."""
    import psycopg

    from airflow_provider_attendee.analytics.digest import DigestQueries, compute_digest
    from airflow_provider_attendee.analytics.schema import DIALECTS, TableNames
    from airflow_provider_attendee.analytics.store import fetch

    dialect, tables = DIALECTS["postgresql"], TableNames()
    sql = DigestQueries(tables, dialect)
    week = (START + timedelta(weeks=WEEKS // 2)).date()
    first = week - timedelta(weeks=4)
    args = {
        "hours_per_week": [first, week],
        "hours_per_calendar": [first, week],
        "talk_per_person": [first, week],
        "attendance_per_series": [first, week],
        "failures_by_reason": [week, first, week],
        "failed_bots": [week],
    }
    connection = psycopg.connect(dsn, autocommit=True)
    connection.execute("ANALYZE")
    results: dict[str, Any] = {}
    for label in ("with_index", "without_index"):
        if label == "without_index":
            connection.execute("DROP INDEX attendee_meetings_week_idx")
            connection.execute("ANALYZE")
        timings = {}
        for name, parameters in args.items():
            query = getattr(sql, name)()
            runs = []
            for _ in range(repeat):
                started = time.perf_counter()
                fetch(connection, query, parameters)
                runs.append(time.perf_counter() - started)
            plan = "\n".join(r[0] for r in fetch(connection, "EXPLAIN " + query, parameters))
            timings[name] = {"ms": round(statistics.median(runs) * 1000, 1), "uses_index": "week_idx" in plan}
        started = time.perf_counter()
        digest = compute_digest(lambda q, p: fetch(connection, q, p), tables, dialect, week, 4)
        timings["whole_digest"] = {"ms": round((time.perf_counter() - started) * 1000, 1), "uses_index": None}
        results[label] = timings
        results.setdefault("digest_headline", digest.headline())
    connection.close()
    return results


def run(meetings: int = 100_000, per_task_sample: int = 500) -> dict[str, Any]:
    import psycopg
    from sqlalchemy.engine import make_url

    from airflow_provider_attendee.testing.services import postgres

    started = time.perf_counter()
    generated = sum(len(chunk) for chunk in chunks(min(meetings, CHUNK)))
    generation_s = time.perf_counter() - started
    results: dict[str, Any] = {
        "meetings": meetings,
        "participants_per_meeting": 8,
        "row_building_meetings_per_s": round(generated / generation_s),
    }
    with postgres("bench") as url:
        parsed = make_url(url)
        base = f"postgresql://postgres@{parsed.host}:{parsed.port}"
        admin = psycopg.connect(f"{base}/postgres", autocommit=True)
        for name in ("ours", "copy", "many", "task"):
            admin.execute(f"CREATE DATABASE {name}")
        admin.close()
        loads = [
            _in_process("ours_per_meeting", f"{base}/ours", meetings),
            _in_process("copy", f"{base}/copy", meetings),
            _in_process("executemany", f"{base}/many", meetings),
        ]
        import os

        os.environ["AIRFLOW_CONN_BENCH_TABLES"] = f"{base}/task"
        loads.append(_per_task("bench_tables", min(per_task_sample, meetings)))
        results["loads"] = loads
        results["digest"] = _digest_timings(f"{base}/ours")
    return results


def report(results: dict[str, Any]) -> None:
    copy = next(load for load in results["loads"] if load["method"] == "copy")
    print_table(
        f"Meeting tables: {results['meetings']:,} meetings x {results['participants_per_meeting']} participants "
        f"into PostgreSQL (row building alone: {results['row_building_meetings_per_s']:,} meetings/s)",
        ["method", "meetings", "rows", "seconds", "rows/s", "x COPY", "peak RSS MB"],
        [
            (
                load["method"],
                load["meetings"],
                load["rows"],
                round(load["seconds"], 1),
                load["rows_per_s"],
                round(load["rows_per_s"] / copy["rows_per_s"], 3),
                round(load["peak_rss_mb"], 1) if "peak_rss_mb" in load else "-",
            )
            for load in results["loads"]
        ],
    )
    digest = results["digest"]
    print_table(
        "Digest queries on those tables (a 5-week window), median ms",
        ["query", "with index", "uses index", "without index"],
        [
            (name, timing["ms"], timing["uses_index"], digest["without_index"][name]["ms"])
            for name, timing in digest["with_index"].items()
        ],
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.meeting_tables")
    parser.add_argument("--meetings", type=int, default=100_000)
    args = parser.parse_args(argv)
    results = run(args.meetings)
    report(results)
    print(f"\nFigures written to {save('meeting_tables', results)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
