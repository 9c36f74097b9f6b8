"""Push end to end with REAL deliveries: the real Attendee server's Celery worker posts its webhooks to the
``/attendee/webhooks`` endpoint of a REAL Airflow (RealAirflow: api-server, scheduler, dag-processor,
triggerer; LocalExecutor), where a consumer DAG scheduled on ``attendee://bots/ended`` (tests/e2e/poll_dags,
``ATTENDEE_TEST_EVENTS=push``: no watcher) notes each meeting its run consumed.

One Airflow serves every case; each case has its own Attendee project (its own API key, webhook secret and
project-level subscription to ``<api-server>/attendee/webhooks?conn_id=<its connection>``) and its own
Airflow connection (in the metadata DB, edited over the REST API as a user edits it in the UI). Meetings are
played with the server's own code (``meetings.play``, the EMPTY script). Every case asserts that each of its
meetings got exactly one asset event on ``attendee://bots/ended`` and was consumed by exactly one DAG run,
none twice, none lost, within 4 minutes of the recovery; the delays are measured and printed, not asserted.

1. warm deliveries: two rounds of meetings ending together, pushed;
2. an outage: the API server stopped, meetings end, Attendee gives their deliveries up (3 attempts, failed
   for good), the API server started again: caught up once;
3. a refusal: the project's secret rotated in Attendee while the connection still has the old one: every
   delivery refused (401, failed for good), then the connection updated: processed once (the catch-up), and
   the next meeting pushed with the new secret;
4. a wrong secret from the start: no delivery of the connection ever accepted, then fixed: each once;
5. the API server down seconds after the connection's first delivery, before the catch-up's first look at it
   completed (a proxy in front of the server fails the bots list until the outage ends, as an Attendee API
   slow or unreachable from Airflow at first would): the first look after the restart reaches back, once.

Cases 2 and 5 share one outage (a warm connection and a fresh one). About 3 minutes (Airflow's start-up
included), in the Airflow 3.3 suite of ``make test`` only (conftest.latest_airflow_only: CI time); Airflow 3.1
meets the same paths against the simulator in tests/e2e/test_no_meeting_lost.py.
"""

from __future__ import annotations

import base64
import json
import secrets
import statistics
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from airflow_provider_attendee.testing.real_airflow import RealAirflow
from tests.system.conftest import latest_airflow_only
from tests.system.meetings import EMPTY, play
from tests.system.server import BRING_UP_TIMEOUT_S, AttendeeServer, Driver, Project

DAGS = Path(__file__).resolve().parents[1] / "e2e" / "poll_dags"
DAG_ID = "attendee_poll_consumer"
ENDED = "attendee://bots/ended"
MEET = "https://meet.google.com/abc-defg-hij"
#: Each case's meetings must be processed within this long of the recovery (a bound on a hang, generous:
#: the measured delays are printed).
RECOVERY_S = 240.0
#: Attendee's retries of a refused delivery take seconds; the worker marks each attempt.
GIVE_UP_S = 90.0
CATCH_UP_INTERVAL_S = 5

pytestmark = [pytest.mark.slow, latest_airflow_only]


# ----------------------------------------------------------------------------------------- the deployment
class FailingBotsList:
    """An HTTP proxy in front of the real server that answers ``GET /api/v1/bots`` with 503 while ``failing``
    (everything else, and that list afterwards, is forwarded): the connection of case 5 points at it, so the
    catch-up's first look at that connection cannot complete before the outage."""

    def __init__(self, upstream: str) -> None:
        self.upstream = httpx.Client(base_url=upstream, timeout=60)
        self.failing = True
        self.refused = 0
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _forward(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if proxy.failing and self.command == "GET" and urlsplit(self.path).path == "/api/v1/bots":
                    proxy.refused += 1
                    self._answer(503, b'{"error": "bots list unavailable (test proxy)"}', "application/json")
                    return
                headers = {
                    k: v
                    for k, v in self.headers.items()
                    if k.lower() not in ("host", "content-length", "connection", "accept-encoding")
                }
                answer = proxy.upstream.request(self.command, self.path, content=body, headers=headers)
                self._answer(answer.status_code, answer.content, answer.headers.get("content-type"))

            def _answer(self, status: int, content: bytes, content_type: str | None) -> None:
                self.send_response(status)
                if content_type:
                    self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            do_GET = do_POST = do_PATCH = do_DELETE = _forward

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, name="failing-bots-list", daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.upstream.close()


@dataclass
class Deployment:
    airflow: RealAirflow
    out: Path
    server: AttendeeServer
    driver: Driver
    proxy: FailingBotsList
    #: every meeting ended in this module (bot id -> the case), for the deployment-wide check at the end
    ended: dict[str, str] = field(default_factory=dict)


@pytest.fixture(scope="module")
def push(
    attendee_server: AttendeeServer, attendee_driver: Driver, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployment]:
    base = tmp_path_factory.mktemp("push-real-server")
    out, home = base / "consumed", base / "airflow"
    out.mkdir()
    home.mkdir()
    env = {
        "ATTENDEE_TEST_EVENTS": "push",
        "ATTENDEE_PUSH_OUT": str(out),
        "AIRFLOW__ATTENDEE__CATCH_UP_INTERVAL": str(CATCH_UP_INTERVAL_S),
        "AIRFLOW__CORE__PARALLELISM": "8",
        # Connections are edited over the REST API as an admin without a login; Airflow 3.1.0 makes that
        # admin's token only with an issuer set.
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
        "AIRFLOW__API_AUTH__JWT_ISSUER": "attendee-system-test",
    }
    proxy = FailingBotsList(attendee_server.url)
    with pytest.MonkeyPatch.context() as monkeypatch:
        # The connections live in the metadata DB: no variable of this process may shadow one.
        monkeypatch.delenv("AIRFLOW_CONN_ATTENDEE_DEFAULT", raising=False)
        try:
            with RealAirflow(home, DAGS, **env) as airflow:
                airflow.wait_for_dag(DAG_ID)  # and the API server
                yield Deployment(airflow, out, attendee_server, attendee_driver, proxy)
        finally:
            proxy.close()


def wait_until(condition: Callable[[], bool], airflow: RealAirflow, what: str, timeout: float) -> None:
    """Poll ``condition`` (a bound on a hang, not a measurement)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what} within {timeout:.0f} s; see {airflow.home}"
        airflow.assert_alive()
        time.sleep(0.5)


# ------------------------------------------------------------------------------- a project and its meetings
@dataclass
class Case:
    """One case's Attendee project, its Airflow connection, and the meetings it ended (bot id -> when)."""

    deployment: Deployment
    name: str
    conn_id: str
    project: Project
    host: str
    ended_at: dict[str, float] = field(default_factory=dict)

    @property
    def airflow(self) -> RealAirflow:
        return self.deployment.airflow

    @property
    def driver(self) -> Driver:
        return self.deployment.driver

    def set_connection(self, secret: str) -> None:
        """The Airflow connection with this webhook secret (base64), as a user saves it in the UI."""
        extra = json.loads(self.project.connection_json(webhook_secret=secret))["extra"]
        body = {
            "connection_id": self.conn_id,
            "conn_type": "attendee",
            "host": self.host,
            "password": self.project.api_key,
            "extra": json.dumps(extra),
        }
        api = f"{self.airflow.url}/api/v2/connections"
        answer = httpx.patch(f"{api}/{self.conn_id}", json=body, timeout=60)
        if answer.status_code == 404:
            answer = httpx.post(api, json=body, timeout=60)
        assert answer.status_code in (200, 201), answer.text

    def subscribe(self) -> None:
        """The project's webhook: ``bot.state_change`` to the API server, naming this connection."""
        url = f"{self.airflow.url}/attendee/webhooks?conn_id={self.conn_id}"
        self.driver.call(
            "subscribe_webhooks", project_id=self.project.project_id, url=url, triggers=["bot.state_change"]
        )

    def end_meetings(self, count: int) -> set[str]:
        """``count`` bots created and played through an empty meeting that ended just now."""
        from airflow.models.connection import Connection

        from airflow_provider_attendee.hooks.attendee import AttendeeHook

        hook = AttendeeHook(attendee_conn_id=self.conn_id, max_retries=2)
        hook.use_connection(
            Connection(
                conn_id=self.conn_id,
                conn_type="attendee",
                host=self.project.url,
                password=self.project.api_key,
            )
        )
        with hook:
            bots = [hook.create_bot(MEET, bot_name=f"Push {self.name}").id for _ in range(count)]
        for bot_id in bots:
            play(self.driver, bot_id, EMPTY, minutes_ago=10)
            self.ended_at[bot_id] = time.time()
            self.deployment.ended[bot_id] = self.name
        return set(bots)

    # ---------------------------------------------------------------------------- what Attendee sent
    def ended_deliveries(self, bots: set[str]) -> dict[str, dict[str, Any]]:
        """Bot id -> the delivery of its ``ended`` state change."""
        rows = self.driver.call("webhook_deliveries", project_id=self.project.project_id)
        return {
            d["bot_id"]: d
            for d in rows
            if d["bot_id"] in bots
            and d["trigger"] == "bot.state_change"
            and (d["payload"] or {}).get("new_state") == "ended"
        }

    def deliveries_of(self, bots: set[str]) -> list[dict[str, Any]]:
        rows = self.driver.call("webhook_deliveries", project_id=self.project.project_id)
        return [d for d in rows if d["bot_id"] in bots]

    def wait_delivered(self, bots: set[str]) -> None:
        """Until the ``ended`` delivery of each of these bots was accepted (the worker marked it)."""

        def accepted() -> bool:
            ended = self.ended_deliveries(bots)
            return set(ended) == bots and all(d["status"] == "success" for d in ended.values())

        wait_until(accepted, self.airflow, f"{self.name}: ended deliveries not accepted", GIVE_UP_S)

    def wait_given_up(self, bots: set[str]) -> list[dict[str, Any]]:
        """Until every delivery of these bots failed for good (3 attempts): Attendee never sends them again."""

        def given_up() -> bool:
            rows = self.deliveries_of(bots)
            ended = self.ended_deliveries(bots)
            return (
                set(ended) == bots
                and bool(rows)
                and all(d["status"] == "failure" and d["attempt_count"] == 3 for d in rows)
            )

        wait_until(given_up, self.airflow, f"{self.name}: deliveries not given up", GIVE_UP_S)
        rows = self.deliveries_of(bots)
        assert {(d["status"], d["attempt_count"], d["succeeded_at"]) for d in rows} == {("failure", 3, None)}
        return rows

    # ---------------------------------------------------------------------------- what Airflow did
    def consumed(self) -> Counter[str]:
        """Bot id -> how many DAG runs consumed its meeting (one file per bot and run), this case's bots."""
        return Counter(
            name for p in self.deployment.out.iterdir() if (name := p.name.split("__")[0]) in self.ended_at
        )

    def sources(self) -> dict[str, str]:
        """Bot id -> how its consumed meeting was emitted (webhook, catch_up)."""
        return {
            p.name.split("__")[0]: p.name.split("__")[1]
            for p in self.deployment.out.iterdir()
            if p.name.split("__")[0] in self.ended_at
        }

    def wait_consumed(self, bots: set[str], since: float) -> float:
        """Until each of these meetings was consumed by a run, at most RECOVERY_S after ``since``
        (monotonic); how long after ``since`` that was."""
        deadline = since + RECOVERY_S
        while not set(self.consumed()) >= bots:
            missing = sorted(bots - set(self.consumed()))
            assert time.monotonic() < deadline, (
                f"{self.name}: {missing} not processed within {RECOVERY_S:.0f} s; see {self.airflow.home}"
            )
            self.airflow.assert_alive()
            time.sleep(0.5)
        return time.monotonic() - since

    def delays(self, bots: set[str]) -> list[float]:
        """Per meeting: from its end (the driver's last event) to its run's note (the file's mtime)."""
        noted = {p.name.split("__")[0]: p.stat().st_mtime for p in self.deployment.out.iterdir()}
        return sorted(noted[b] - self.ended_at[b] for b in bots)

    def assert_each_once(self) -> None:
        """Each of this case's meetings: exactly one asset event on attendee://bots/ended, consumed by exactly
        one run of the DAG, which noted it once; every run of the DAG successful."""
        wait_until(
            lambda: not any(r["state"] in ("queued", "running") for r in self.airflow.runs(DAG_ID)),
            self.airflow,
            "runs unfinished",
            RECOVERY_S,
        )
        everyone = set(self.ended_at)
        assert self.consumed() == Counter(dict.fromkeys(everyone, 1)), self.consumed()
        events = asset_events(self.airflow)
        mine = Counter(bot for bot, _ in events.values() if bot in everyone)
        assert mine == Counter(dict.fromkeys(everyone, 1)), mine
        runs_per_event = Counter(
            event
            for (event,) in self.airflow.query(
                "SELECT e.event_id FROM dagrun_asset_event e JOIN dag_run r ON r.id = e.dag_run_id "
                "WHERE r.dag_id = :dag_id",
                dag_id=DAG_ID,
            )
        )
        for event_id, (bot, _) in events.items():
            if bot in everyone:
                assert runs_per_event[event_id] == 1, (bot, event_id, runs_per_event[event_id])
        assert {r["state"] for r in self.airflow.runs(DAG_ID)} == {"success"}


def asset_events(airflow: RealAirflow) -> dict[int, tuple[str, str]]:
    """Every event on attendee://bots/ended: id -> (bot id, source)."""
    rows = airflow.query(
        "SELECT e.id, e.extra FROM asset_event e JOIN asset a ON a.id = e.asset_id WHERE a.uri = :uri",
        uri=ENDED,
    )
    events = {}
    for event_id, extra in rows:
        extra = json.loads(extra) if isinstance(extra, str) else (extra or {})
        events[event_id] = ((extra.get("payload") or {}).get("bot_id"), extra.get("source"))
    return events


def new_case(deployment: Deployment, name: str, *, via_proxy: bool = False) -> Case:
    project = deployment.driver.create_project(deployment.server.url, name=f"push real server: {name}")
    host = deployment.proxy.url if via_proxy else project.url
    return Case(deployment, name, f"attendee_push_{name}", project, host)


def catch_up_position(airflow: RealAirflow, conn_id: str) -> str | None:
    """The catch-up's saved position for the connection (None: no look at it completed)."""
    rows = airflow.query("SELECT state FROM attendee_catch_up WHERE conn_id = :conn_id", conn_id=conn_id)
    return rows[0][0] if rows else None


def first_accepted(airflow: RealAirflow, conn_id: str) -> datetime | None:
    """When the first delivery naming the connection was recorded."""
    [(value,)] = airflow.query(
        "SELECT MIN(received_at) FROM attendee_webhook_delivery WHERE conn_id = :conn_id", conn_id=conn_id
    )
    if value is None:
        return None
    when = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


def api_log(airflow: RealAirflow) -> str:
    return (airflow.home / "api-server.log").read_text(errors="replace")


def summary(delays: list[float]) -> str:
    return f"min {delays[0]:.1f} s, median {statistics.median(delays):.1f} s, max {delays[-1]:.1f} s"


# ---------------------------------------------------------------------------------------------- the cases
@pytest.mark.timeout(BRING_UP_TIMEOUT_S + 600)  # the first test of the file brings the server and Airflow up
def test_warm_deliveries_each_meeting_once(push: Deployment):
    case = new_case(push, "warm")
    case.set_connection(case.project.webhook_secret)
    case.subscribe()
    rounds = []
    for count in (4, 4):  # meetings ending together, twice
        started = time.monotonic()
        bots = case.end_meetings(count)
        case.wait_delivered(bots)
        rounds.append(case.wait_consumed(bots, started))
    case.assert_each_once()
    everyone = set(case.ended_at)
    assert {d["status"] for d in case.ended_deliveries(everyone).values()} == {"success"}
    sources = Counter(case.sources().values())
    print(
        f"\n[1 warm] {len(everyone)} meetings, each once; sources {dict(sources)}; per meeting, end -> its "
        f"run's task: {summary(case.delays(everyone))}; rounds of 4 (first bot created -> all processed): "
        f"{', '.join(f'{r:.1f} s' for r in rounds)}"
    )


@pytest.mark.timeout(600)
def test_refused_after_the_secret_is_rotated_caught_up_once(push: Deployment):
    case = new_case(push, "rotated")
    case.set_connection(case.project.webhook_secret)
    case.subscribe()
    pushed = case.end_meetings(2)
    case.wait_delivered(pushed)
    case.wait_consumed(pushed, time.monotonic())

    rotated = case.driver.call("set_webhook_secret", project_id=case.project.project_id)["webhook_secret"]
    assert rotated != case.project.webhook_secret
    refused = case.end_meetings(3)
    rows = case.wait_given_up(refused)
    given_up = time.monotonic()
    for row in rows:  # each attempt answered by the receiver's 401
        assert len(row["response_body_list"]) == 3
        assert all("signature does not match" in str(body) for body in row["response_body_list"]), row
    log = api_log(case.airflow)
    for bot_id in refused:
        lines = [x for x in log.splitlines() if f"bot {bot_id}, idempotency_key" in x]
        assert lines and all(f"refused (401) for connection '{case.conn_id}'" in x for x in lines)

    case.set_connection(rotated)  # the user copies the new secret into the connection
    updated = time.monotonic()
    refused_delay = case.wait_consumed(refused, updated)
    after = case.end_meetings(1)
    case.wait_delivered(after)
    after_delay = case.wait_consumed(after, updated)
    case.assert_each_once()
    sources = case.sources()
    assert {sources[b] for b in refused} == {"catch_up"}
    print(
        f"\n[3 rotated] {len(case.ended_at)} meetings, each once; sources {dict(Counter(sources.values()))}; "
        f"the 3 refused meetings processed {refused_delay:.1f} s after the connection was updated, "
        f"{updated - given_up + refused_delay:.1f} s after Attendee gave them up; the next meeting, pushed "
        f"with the new secret: {after_delay:.1f} s after the update; "
        f"per meeting end -> run's task: {summary(case.delays(set(case.ended_at)))}"
    )


@pytest.mark.timeout(600)
def test_secret_wrong_from_the_start_each_meeting_once(push: Deployment):
    case = new_case(push, "wrong")
    right = case.project.webhook_secret
    wrong = base64.b64encode(secrets.token_bytes(32)).decode()
    case.set_connection(wrong)  # wrong from day one: no delivery of this connection is ever accepted
    case.subscribe()
    refused = case.end_meetings(3)
    case.wait_given_up(refused)
    given_up = time.monotonic()
    assert first_accepted(case.airflow, case.conn_id) is None
    refused_delay = case.wait_consumed(refused, given_up)

    case.set_connection(right)
    fixed = time.monotonic()
    pushed = case.end_meetings(2)
    case.wait_delivered(pushed)
    pushed_delay = case.wait_consumed(pushed, fixed)
    case.assert_each_once()
    sources = case.sources()
    assert {sources[b] for b in refused} == {"catch_up"}
    log = api_log(case.airflow)
    for bot_id in refused:  # each refusal's line says the catch-up emits it
        lines = [x for x in log.splitlines() if f"bot {bot_id}, idempotency_key" in x]
        assert lines and all("the catch-up emits it from the Attendee API" in x for x in lines), lines
    print(
        f"\n[4 wrong from the start] {len(case.ended_at)} meetings, each once; sources "
        f"{dict(Counter(sources.values()))}; the 3 refused ones processed {refused_delay:.1f} s after "
        f"Attendee gave their deliveries up; the 2 after the fix {pushed_delay:.1f} s after the fix "
        "(meetings ended right after it)"
    )


@pytest.mark.timeout(900)
def test_outage_warm_and_seconds_after_the_first_delivery_caught_up_once(push: Deployment):
    """Case 2 (``outage``: a connection the catch-up has looked at) and case 5 (``fresh``: the API server
    stopped seconds after the connection's first delivery, no look at it completed) in one outage."""
    airflow = push.airflow
    warm = new_case(push, "outage")
    warm.set_connection(warm.project.webhook_secret)
    warm.subscribe()
    before = warm.end_meetings(2)
    warm.wait_delivered(before)
    warm.wait_consumed(before, time.monotonic())
    wait_until(
        lambda: catch_up_position(airflow, warm.conn_id) is not None,
        airflow,
        "the catch-up never looked at the warm connection",
        RECOVERY_S,
    )

    fresh = new_case(push, "fresh", via_proxy=True)  # its bots list fails until the outage ends
    fresh.set_connection(fresh.project.webhook_secret)
    wait_until(  # the catch-up knows the connection at once (it has a secret): its first look cannot complete
        lambda: push.proxy.refused > 0, airflow, "the catch-up never tried the fresh connection", RECOVERY_S
    )
    fresh.subscribe()
    first = fresh.end_meetings(1)
    fresh.wait_delivered(first)
    accepted_at = first_accepted(airflow, fresh.conn_id)
    assert accepted_at is not None
    stopping = time.time()
    airflow.stop("api-server")  # SIGTERM: it stops listening at once, then exits
    signalled_after, stop_took = stopping - accepted_at.timestamp(), time.time() - stopping
    down_since = time.monotonic()
    assert catch_up_position(airflow, fresh.conn_id) is None  # no look at it had completed
    assert "Released the Attendee catch-up lease" in api_log(airflow)  # a clean stop hands it back

    missed = {"outage": warm.end_meetings(3), "fresh": fresh.end_meetings(3)}
    for case in (warm, fresh):
        for row in case.wait_given_up(missed[case.name]):  # the receiver was not there
            assert all(
                isinstance(body, dict) and body.get("status_code") is None
                for body in row["response_body_list"]
            )
    outage = time.monotonic() - down_since
    push.proxy.failing = False  # the Attendee API answers that connection's bots list again
    airflow.start("api-server")
    wait_until(airflow.api_up, airflow, "the API server did not come back", RECOVERY_S)
    back = time.monotonic()
    warm_delay = warm.wait_consumed(missed["outage"], back)
    fresh_delay = fresh.wait_consumed(first | missed["fresh"], back)
    for case in (warm, fresh):
        case.assert_each_once()
    assert {warm.sources()[b] for b in missed["outage"]} == {"catch_up"}
    assert {fresh.sources()[b] for b in first} == {"webhook"}
    assert {fresh.sources()[b] for b in missed["fresh"]} == {"catch_up"}
    log = api_log(airflow)
    assert (
        f"first look at connection '{fresh.conn_id}' (reaching back 1:00:00): 3 meeting(s) emitted that had "
        "finished before it, 1 recorded before" in log
    )

    # The whole deployment: every meeting of every case one event and one run, nothing else on the asset.
    events = asset_events(airflow)
    assert Counter(bot for bot, _ in events.values()) == Counter(dict.fromkeys(push.ended, 1))
    print(
        f"\n[2+5 outage] API server signalled to stop {signalled_after:.1f} s after the fresh connection's "
        f"first accepted delivery (it had exited {stop_took:.1f} s later; no catch-up look at it completed; the proxy refused {push.proxy.refused} bots lists); "
        f"down {outage:.1f} s (until Attendee gave all 6 meetings' deliveries up); after it answered again: "
        f"the warm connection's 3 processed in {warm_delay:.1f} s, the fresh one's 3 (its first look's "
        f"reach-back) in {fresh_delay:.1f} s; whole deployment: {len(events)} meetings, each once, "
        f"sources {dict(Counter(s for _, s in events.values()))}"
    )
