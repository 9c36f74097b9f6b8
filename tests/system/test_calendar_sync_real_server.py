"""The calendar sync (AttendeeScheduleCalendarBotsOperator) against the REAL Attendee server, through a real
Airflow (RealAirflow: api-server, scheduler, dag-processor, triggerer; LocalExecutor), over six runs of each
mode (full and incremental, a calendar each, tests/system/calendar_dags/), while the calendars change between
runs through the server's own Google Calendar sync (the driver's ``sync_calendar``): the server creates,
moves, relinks and cancels the events, and moves and deletes their scheduled bots, itself.

Each calendar, in a project without Zoom credentials:

- ``zoom``: a Zoom event, refused by the server on every POST (400 "Zoom App credentials are required...").
  Every run must report it as rejected; its POST must go out once per ``retry_rejected_after`` (1 h) at most:
  on run 1 and on run 4, the first after the syncs' clock passed the hour, never in between.
- ``steady``: gets its bot on run 1 and keeps it.
- ``added``: added before run 2 (gets a bot), rescheduled before run 3 (the server moves the bot: no second
  bot), relinked before run 4 (the server changes the bot's URL), cancelled before run 5 (the server deletes
  the scheduled bot; the sync reports the event as cancelled and makes no bot).
- ``back``: its bot is created for S on run 1; before run 3 the event moves to S+30 min (the server moves the
  bot, which keeps its deduplication key) and the bot is staged (driver ``stage_bot``, as the scheduler does
  minutes before joining); before run 4 the event moves back to S. Run 4 must give it a bot at S with a
  distinct key (the key for S is held by the staged bot: commit b0b835f) and report the staged bot (still at
  S+30) as unremovable, as every later run that lists the event does.

What reached the server is counted by a small proxy between Airflow and the server (every request, with the
server's answer); it must agree with the summaries' ``sent`` flags and ``created`` lists. The server's clock is
the wall clock: the syncs' clock (``operators.calendar.utcnow``) is moved 61 minutes ahead from run 4 on
(the DAG file reads the offset from a file), so the hour passes without waiting. In incremental mode a run
lists the events updated since the previous successful run's start, minus a margin for clock skew (set to 5 s
here: Airflow and the server share this machine's clock): which events that is depends on when they last
changed, so the expectation is worked out from those two times, read from the server (``updated_at``) and from
Airflow's metadata database (the previous run's start), and must match the summary exactly. The refused
event, unchanged since before Airflow started, is never listed by an incremental run: its rejection is carried
from the previous run's summary, as Airflow really returns it.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from itertools import pairwise
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from airflow_provider_attendee.exceptions import AttendeeNotFoundError
from airflow_provider_attendee.hooks.attendee import AttendeeHook
from airflow_provider_attendee.testing.real_airflow import RealAirflow
from tests.system.conftest import latest_airflow_only
from tests.system.server import AttendeeServer, Driver, Project

DAGS = Path(__file__).resolve().parent / "calendar_dags"
MODES = ("full", "incremental")
RETRY_REJECTED_AFTER = timedelta(hours=1)  # as in the DAG file
MEET = "https://meet.google.com/abc-defg-hij"
MEET_2 = "https://meet.google.com/kkk-llll-mmm"
ZOOM = "https://us02web.zoom.us/j/81234567890?pwd=secret123"
ZOOM_REFUSED = "Zoom App credentials are required to create a Zoom bot."
#: The syncs' clock ahead of the wall clock (minutes), per run: from run 4 on, the refused event's hour is over.
OFFSETS = (0, 0, 0, 61, 61, 61)
#: Whether each run sends the refused event's POST (its retry period is over) or only reports it.
SENT = (True, False, False, True, False, False)
#: Incremental mode's margin for clock skew (2 minutes in the operator); Airflow and the server share this
#: machine's clock. Runs a few seconds apart then still leave events that did not change unlisted.
CHANGE_MARGIN = timedelta(seconds=5)


def google_event(event_id: str, start: datetime, *, link: str | None = MEET, **fields: Any) -> dict[str, Any]:
    """A calendar event as Google's events.list returns it (a Meet link, or ``location`` for others)."""
    event = {
        "id": event_id,
        "status": "confirmed",
        "summary": f"Meeting {event_id}",
        "start": {"dateTime": start.isoformat().replace("+00:00", "Z")},
        "end": {"dateTime": (start + timedelta(minutes=30)).isoformat().replace("+00:00", "Z")},
        "attendees": [{"email": "ada@example.com", "displayName": "Ada"}, {"email": "bob@example.com"}],
        "iCalUID": f"{event_id}@google.com",
        **fields,
    }
    if link is not None:
        event["hangoutLink"] = link
    return event


def parse(value: Any) -> datetime:
    """A timestamp from a summary or Airflow's metadata DB (naive there means UTC)."""
    if isinstance(value, datetime):
        parsed = value
    else:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


# ------------------------------------------------------------------------------ what reached the server
@dataclass(frozen=True)
class Forwarded:
    """One request the proxy passed to the server, and the server's answer."""

    run: int
    at: datetime  # on the syncs' clock (wall clock + the offset of the run)
    method: str
    path: str
    query: dict[str, list[str]]
    status: int
    calendar_event_id: str | None
    deduplication_key: str | None
    answer: str


class CountingProxy:
    """An HTTP proxy in front of the server that records every request it forwards (the connection the
    syncs use points at it): the requests the server really got, whatever the syncs say they sent."""

    def __init__(self, upstream: str) -> None:
        self.upstream = httpx.Client(base_url=upstream, timeout=60)
        self.run = 0
        self.offset = timedelta(0)
        self.forwarded: list[Forwarded] = []
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def forward(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {
                    k: v
                    for k, v in self.headers.items()
                    if k.lower() not in ("host", "connection", "content-length", "accept-encoding")
                }
                answer = proxy.upstream.request(self.command, self.path, content=body, headers=headers)
                proxy.record(self.command, self.path, body, answer)
                self.send_response(answer.status_code)
                for name, value in answer.headers.items():
                    if name.lower() not in (
                        "content-length",
                        "content-encoding",
                        "transfer-encoding",
                        "connection",
                    ):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(answer.content)))
                self.end_headers()
                self.wfile.write(answer.content)

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = forward

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def record(self, method: str, target: str, body: bytes, answer: httpx.Response) -> None:
        split = urlsplit(target)
        sent: Any = {}
        if body:
            try:
                sent = json.loads(body)
            except ValueError:
                sent = {}
        sent = sent if isinstance(sent, dict) else {}
        with self._lock:
            self.forwarded.append(
                Forwarded(
                    run=self.run,
                    at=datetime.now(timezone.utc) + self.offset,
                    method=method,
                    path=split.path.rstrip("/"),
                    query=parse_qs(split.query),
                    status=answer.status_code,
                    calendar_event_id=sent.get("calendar_event_id"),
                    deduplication_key=sent.get("deduplication_key"),
                    answer=answer.text[:2000],
                )
            )

    def __enter__(self) -> CountingProxy:
        threading.Thread(target=self.server.serve_forever, name="counting-proxy", daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.upstream.close()


# ------------------------------------------------------------------------------------ the calendars
class Calendar:
    """One mode's Google calendar: its events as events.list returns them, synced by the server itself."""

    def __init__(self, driver: Driver, hook: AttendeeHook, project: Project, mode: str) -> None:
        self.driver, self.hook, self.mode = driver, hook, mode
        self.id = driver.call(
            "create_calendar", project_id=project.project_id, deduplication_key=f"system-{mode}"
        )["id"]
        self.remote: dict[str, dict[str, Any]] = {}
        self.ids: dict[str, str] = {}  # our name -> the server's event id

    def sync(self, **changes: dict[str, Any]) -> tuple[int, int, int]:
        """Put events (by our name) into the remote calendar, run the server's sync; its counts."""
        self.remote.update(changes)
        result = self.driver.call("sync_calendar", calendar_id=self.id, events=list(self.remote.values()))
        assert result["success"] is True, result
        for listed in self.hook.list_calendar_events(calendar_id=self.id):
            self.ids[str(listed.platform_uuid).removeprefix(f"{self.mode}-")] = listed.id
        return result["created_count"], result["updated_count"], result["deleted_count"]

    def event(self, name: str, start: datetime, **fields: Any) -> dict[str, Any]:
        return google_event(f"{self.mode}-{name}", start, **fields)

    def events(self) -> dict[str, Any]:
        """Our name -> the server's event (with its ``bots``), read now."""
        names = {event_id: name for name, event_id in self.ids.items()}
        return {names[e.id]: e for e in self.hook.list_calendar_events(calendar_id=self.id)}

    def bots(self, name: str) -> list[tuple[str, str, datetime | None]]:
        """The event's bots as the server lists them: (bot id, state, join_at), by join_at."""
        [event] = self.hook.list_calendar_events(event_id=self.ids[name])
        return sorted(((b.id, b.state, b.join_at) for b in event.bots), key=lambda bot: str(bot[2]))

    def key(self, name: str, start: datetime) -> str:
        """The sync's deduplication key for the event at that start."""
        return f"system-{self.mode}-{self.ids[name]}@{int(start.timestamp())}"


# --------------------------------------------------------------------------------------- the runs
@dataclass
class Run:
    number: int
    summary: dict[str, Any]
    #: The events as the server had them when the run was triggered (our name -> CalendarEvent).
    before: dict[str, Any]
    #: The previous successful run's start (what incremental mode lists changes since), or None.
    previous_start: datetime | None


@dataclass
class Expected:
    """One run's outcome as a full listing gives it (incremental mode: for the events it lists)."""

    created: dict[str, str | None]  # name -> the key the summary names (None: the usual one)
    skipped: dict[str, str]  # name -> reason
    unremovable: dict[str, str]  # name -> message
    listed: set[str]  # the events of the window


def xcom(airflow: RealAirflow, dag_id: str, run_id: str) -> dict[str, Any]:
    """The sync's summary as Airflow stored it."""
    value = airflow.xcom_value(dag_id, run_id, "sync")
    assert isinstance(value, dict), value
    return value


def dag_run_start(airflow: RealAirflow, dag_id: str, run_id: str) -> datetime:
    [(start,)] = airflow.query(
        "SELECT start_date FROM dag_run WHERE dag_id = :dag_id AND run_id = :run_id",
        dag_id=dag_id,
        run_id=run_id,
    )
    return parse(start)


def check_run(calendar: Calendar, run: Run, expected: Expected) -> None:
    """The summary against the expectation: exact, in both modes."""
    summary, mode = run.summary, calendar.mode
    where = f"{mode} run {run.number}: {json.dumps(summary, indent=1)}"
    full = mode == "full" or run.previous_start is None or SENT[run.number - 1]
    assert summary["mode"] == ("full" if full else "incremental"), where
    if full or run.previous_start is None:
        listed = set(expected.listed)
    else:  # changed since the previous successful run started (minus the margin)
        since = run.previous_start - CHANGE_MARGIN
        listed = {name for name in expected.listed if run.before[name].updated_at >= since}
        # The refused event never changes after the first sync (before Airflow started): it is not listed,
        # and its rejection is carried from the previous run's summary (the path a lost memory broke).
        assert "zoom" not in listed, (run.before["zoom"].updated_at, since)
    ids = calendar.ids
    assert summary["events_seen"] == len(listed), (listed, where)
    assert set(expected.created) <= listed, (listed, where)
    created = {item["event_id"]: item.get("deduplication_key") for item in summary["created"]}
    assert created == {ids[name]: key for name, key in expected.created.items()}, where
    assert summary["skipped"] == {ids[n]: reason for n, reason in expected.skipped.items() if n in listed}, (
        where
    )
    assert summary["unremovable"] == {ids[n]: m for n, m in expected.unremovable.items() if n in listed}, (
        where
    )
    assert summary["cancelled"] == [] and summary["failed"] == [], where
    # The refused event is reported on every run, sent only when its hour is over.
    [rejected] = summary["rejected"]
    assert (rejected["event_id"], rejected["action"]) == (ids["zoom"], "create"), where
    assert rejected["error"].startswith(
        f"Attendee API POST /api/v1/bots failed with HTTP 400: {ZOOM_REFUSED}"
    ), where
    assert rejected["sent"] is SENT[run.number - 1], where
    assert summary["counts"] == {
        "created": len(expected.created),
        "skipped": len([n for n in expected.skipped if n in listed]),
        "cancelled": 0,
        "failed": 0,
        "rejected": 1,
        "unremovable": len([n for n in expected.unremovable if n in listed]),
    }, where


@pytest.mark.slow
@latest_airflow_only
@pytest.mark.timeout(900)  # a liveness guard on a loaded machine (conftest adds a first bring-up's time)
def test_calendar_sync_over_six_runs_in_a_real_airflow_against_the_real_server(
    tmp_path: Path,
    attendee_server: AttendeeServer,
    attendee_driver: Driver,
    system_project: Project,
    system_hook: AttendeeHook,
) -> None:
    hook, driver = system_hook, attendee_driver
    base = (datetime.now(timezone.utc) + timedelta(hours=3)).replace(second=0, microsecond=0)
    start = {
        "zoom": base,
        "steady": base + timedelta(minutes=10),
        "back": base + timedelta(minutes=20),  # S
        "added": base + timedelta(minutes=40),
    }
    moved = {"back": start["back"] + timedelta(minutes=30), "added": start["added"] + timedelta(hours=1)}
    calendars = {mode: Calendar(driver, hook, system_project, mode) for mode in MODES}
    for calendar in calendars.values():
        first = calendar.sync(
            zoom=calendar.event("zoom", start["zoom"], link=None, location=f"Zoom: {ZOOM}"),
            steady=calendar.event("steady", start["steady"]),
            back=calendar.event("back", start["back"]),
        )
        assert first == (3, 0, 0)
        assert calendar.events()["zoom"].meeting_url == ZOOM

    offset_file = tmp_path / "clock-offset"
    offset_file.write_text("0")
    runs: dict[str, list[Run]] = {mode: [] for mode in MODES}
    logical = datetime(2026, 1, 1, tzinfo=timezone.utc)
    with CountingProxy(attendee_server.url) as proxy:
        proxied = Project(proxy.url, system_project.api_key, system_project.project_id)
        airflow_env = {
            "AIRFLOW_CONN_ATTENDEE_DEFAULT": proxied.connection_json(),
            "ATTENDEE_TEST_CLOCK_OFFSET_FILE": str(offset_file),
            "ATTENDEE_TEST_CHANGE_MARGIN_SECONDS": str(CHANGE_MARGIN.total_seconds()),
            # The test triggers runs over the API, as an admin without a login; Airflow 3.1.0 makes that
            # admin's token only with an issuer set (else 500, "Issuer (iss) must be a string").
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
            "AIRFLOW__API_AUTH__JWT_ISSUER": "attendee-system-test",
        }
        airflow_home = tmp_path / "airflow"
        airflow_home.mkdir()
        with RealAirflow(airflow_home, DAGS, **airflow_env) as airflow:
            dag_ids = {mode: f"attendee_system_calendar_sync_{mode}" for mode in MODES}
            for dag_id in dag_ids.values():
                airflow.wait_for_dag(dag_id)

            def run_syncs() -> dict[str, Run]:
                """Trigger both syncs (the next run of each), wait for them; their summaries."""
                nonlocal logical
                number = len(runs["full"]) + 1
                offset = timedelta(minutes=OFFSETS[number - 1])
                offset_file.write_text(str(offset.total_seconds()))
                before = {mode: calendar.events() for mode, calendar in calendars.items()}
                proxy.run, proxy.offset = number, offset
                logical += timedelta(minutes=5)  # the logical dates a 5-minute schedule gives
                # The REST API: an `airflow dags trigger` costs seconds of CPU.
                for dag_id in dag_ids.values():
                    triggered = httpx.post(
                        f"{airflow.url}/api/v2/dags/{dag_id}/dagRuns",
                        json={"logical_date": logical.isoformat()},
                        timeout=60,
                    )
                    assert triggered.status_code == 200, triggered.text
                done: dict[str, Run] = {}
                for mode, dag_id in dag_ids.items():
                    dag_runs = airflow.wait_for_runs(dag_id, count=number)
                    assert [r["state"] for r in dag_runs] == ["success"] * number, (
                        f"{dag_runs}; see {tmp_path}"
                    )
                    previous = dag_run_start(airflow, dag_id, dag_runs[1]["run_id"]) if number > 1 else None
                    done[mode] = Run(
                        number, xcom(airflow, dag_id, dag_runs[0]["run_id"]), before[mode], previous
                    )
                    runs[mode].append(done[mode])
                proxy.run = 0  # whatever the test itself sends in between is not the syncs'
                return done

            # Run 1: the refused event is sent; the two others get their bots.
            done = run_syncs()
            bot: dict[str, dict[str, str]] = {mode: {} for mode in MODES}
            for mode, calendar in calendars.items():
                check_run(
                    calendar,
                    done[mode],
                    Expected(
                        created={"steady": None, "back": None},
                        skipped={},
                        unremovable={},
                        listed={"zoom", "steady", "back"},
                    ),
                )
                by_event = {item["event_id"]: item["bot_id"] for item in done[mode].summary["created"]}
                for name in ("steady", "back"):
                    bot[mode][name] = by_event[calendar.ids[name]]
                    assert calendar.bots(name) == [(bot[mode][name], "scheduled", start[name])]
                    info = driver.call("bot_info", bot_id=bot[mode][name])
                    assert (info["calendar_event_id"], info["deduplication_key"]) == (
                        calendar.ids[name],
                        calendar.key(name, start[name]),
                    )
                assert calendar.bots("zoom") == []

                # An event is added.
                assert calendar.sync(added=calendar.event("added", start["added"])) == (1, 0, 0)

            # Run 2: the added event gets a bot; the refused one is reported, not sent.
            done = run_syncs()
            for mode, calendar in calendars.items():
                check_run(
                    calendar,
                    done[mode],
                    Expected(
                        created={"added": None},
                        skipped={n: f"has live bot {bot[mode][n]}" for n in ("steady", "back")},
                        unremovable={},
                        listed={"zoom", "steady", "back", "added"},
                    ),
                )
                [item] = done[mode].summary["created"]
                bot[mode]["added"] = item["bot_id"]
                assert calendar.bots("added") == [(bot[mode]["added"], "scheduled", start["added"])]

                # "added" is rescheduled and "back" moves by 30 minutes: the server moves both scheduled
                # bots (same bots, same keys); then the scheduler stages the bot of "back".
                changes = calendar.sync(
                    added=calendar.event("added", moved["added"]), back=calendar.event("back", moved["back"])
                )
                assert changes == (0, 2, 0)
                for name in ("added", "back"):
                    assert calendar.bots(name) == [(bot[mode][name], "scheduled", moved[name])]
                    info = driver.call("bot_info", bot_id=bot[mode][name])
                    assert info["deduplication_key"] == calendar.key(
                        name, start[name]
                    )  # kept: names the old start
                assert driver.call("stage_bot", bot_id=bot[mode]["back"]) == {"state": "staged"}

            # Run 3: both moved events keep their bots (the staged one joins at the event's start).
            done = run_syncs()
            for mode, calendar in calendars.items():
                check_run(
                    calendar,
                    done[mode],
                    Expected(
                        created={},
                        skipped={n: f"has live bot {bot[mode][n]}" for n in ("steady", "back", "added")},
                        unremovable={},
                        listed={"zoom", "steady", "back", "added"},
                    ),
                )

                # "added" gets another link (the server relinks its bot); "back" moves back to S while its
                # bot is staged (the server leaves the staged bot at S+30).
                changes = calendar.sync(
                    added=calendar.event("added", moved["added"], link=MEET_2),
                    back=calendar.event("back", start["back"]),
                )
                assert changes == (0, 2, 0)
                assert hook.get_bot(bot[mode]["added"]).meeting_url == MEET_2
                assert calendar.bots("back") == [(bot[mode]["back"], "staged", moved["back"])]
                assert calendar.events()["back"].start_time == start["back"]

            # Run 4: the refused event's hour is over: sent again (in incremental mode too, with the whole window
            # listed). "back" gets a bot at S with a key of its own; its staged bot is reported.
            done = run_syncs()
            stale = {
                mode: (
                    f"bot {bot[mode]['back']} is staged for the event's old start ({moved['back'].isoformat()}): "
                    "it does not follow the event, so the event gets a new bot"
                )
                for mode in MODES
            }
            for mode, calendar in calendars.items():
                held_key = calendar.key("back", start["back"])
                check_run(
                    calendar,
                    done[mode],
                    Expected(
                        created={"back": f"{held_key}~{bot[mode]['back']}"},
                        skipped={n: f"has live bot {bot[mode][n]}" for n in ("steady", "added")},
                        unremovable={"back": stale[mode]},
                        listed={"zoom", "steady", "back", "added"},
                    ),
                )
                [item] = done[mode].summary["created"]
                bot[mode]["back again"] = item["bot_id"]
                assert calendar.bots("back") == [
                    (bot[mode]["back again"], "scheduled", start["back"]),
                    (bot[mode]["back"], "staged", moved["back"]),
                ]
                info = driver.call("bot_info", bot_id=bot[mode]["back again"])
                assert (info["deduplication_key"], info["calendar_event_id"]) == (
                    f"{held_key}~{bot[mode]['back']}",
                    calendar.ids["back"],
                )

                # "added" is cancelled: the server deletes its scheduled bot.
                cancelled = calendar.event("added", moved["added"], link=MEET_2, status="cancelled")
                assert calendar.sync(added=cancelled) == (0, 1, 0)
                with pytest.raises(AttendeeNotFoundError):
                    hook.get_bot(bot[mode]["added"])
                assert (calendar.events()["added"].is_deleted, calendar.bots("added")) == (True, [])

            # Runs 5 and 6 (the calendar unchanged in between): the cancelled event is reported and gets no
            # bot, the staged bot stays unremovable, the refused event is reported and not sent.
            for _ in range(2):
                done = run_syncs()
                for mode, calendar in calendars.items():
                    check_run(
                        calendar,
                        done[mode],
                        Expected(
                            created={},
                            skipped={
                                "steady": f"has live bot {bot[mode]['steady']}",
                                "back": f"has live bot {bot[mode]['back again']}",
                                "added": "cancelled",
                            },
                            unremovable={"back": stale[mode]},
                            listed={"zoom", "steady", "back", "added"},
                        ),
                    )

    # ---------------------------------------------------------------- what the server got, and has now
    forwarded = proxy.forwarded
    names = {event_id: (mode, name) for mode, c in calendars.items() for name, event_id in c.ids.items()}
    names[""] = ("", "")  # a request that names no calendar event
    assert {f.run for f in forwarded} <= set(range(1, len(OFFSETS) + 1)), "requests outside the runs"
    assert forwarded, "nothing went through the proxy"
    # The server moved, relinked and deleted the bound bots itself: the syncs sent no PATCH and no DELETE.
    assert [f for f in forwarded if f.method not in ("GET", "POST")] == []
    for mode, calendar in calendars.items():
        posts = [
            f
            for f in forwarded
            if f.method == "POST" and names.get(f.calendar_event_id or "", ("", ""))[0] == mode
        ]
        assert all(f.path == "/api/v1/bots" for f in posts), posts
        by_run = {
            number: sorted((names[f.calendar_event_id or ""][1], f.status) for f in posts if f.run == number)
            for number in range(1, len(OFFSETS) + 1)
        }
        assert by_run == {
            1: [("back", 201), ("steady", 201), ("zoom", 400)],
            2: [("added", 201)],
            3: [],
            4: [("back", 201), ("back", 400), ("zoom", 400)],  # the first "back" POST: the key is held
            5: [],
            6: [],
        }, mode
        # The proxy and the summaries agree: a refused POST went out exactly on the runs that say "sent".
        refused = [f for f in posts if names[f.calendar_event_id or ""][1] == "zoom"]
        assert [f.run for f in refused] == [r.number for r in runs[mode] if r.summary["rejected"][0]["sent"]]
        assert all(ZOOM_REFUSED in f.answer for f in refused), refused
        assert all(later.at - earlier.at >= RETRY_REJECTED_AFTER for earlier, later in pairwise(refused))
        for run in runs[mode]:  # the rejection is dated by the latest round that sent it
            latest_round = [r for r in runs[mode][: run.number] if SENT[r.number - 1]][-1]
            assert parse(run.summary["rejected"][0]["rejected_at"]) == parse(
                latest_round.summary["synced_at"]
            )
        [collision] = [f for f in posts if f.status == 400 and names[f.calendar_event_id or ""][1] == "back"]
        assert collision.deduplication_key == calendar.key("back", start["back"])
        assert "Deduplication key" in collision.answer, collision.answer
        lookups = [f for f in forwarded if f.path == "/api/v1/bots" and f.method == "GET" and f.run]
        assert [
            (f.run, f.query["deduplication_key"])
            for f in lookups
            if f.query.get("deduplication_key", [""])[0].startswith(f"system-{mode}-")
        ] == [(4, [collision.deduplication_key])]

        # The bots each event has at the end, and when they join.
        assert {name: calendar.bots(name) for name in ("zoom", "steady", "back", "added")} == {
            "zoom": [],
            "steady": [(bot[mode]["steady"], "scheduled", start["steady"])],
            "back": [
                (bot[mode]["back again"], "scheduled", start["back"]),
                (bot[mode]["back"], "staged", moved["back"]),
            ],
            "added": [],
        }
    # Every bot of the project (GET /bots): three per calendar, none for the Zoom event.
    live = sorted((b.id, b.state, b.join_at) for b in hook.list_bots())
    assert live == sorted(
        (bot[m][name], state, when)
        for m in MODES
        for name, state, when in (
            ("steady", "scheduled", start["steady"]),
            ("back", "staged", moved["back"]),
            ("back again", "scheduled", start["back"]),
        )
    )
