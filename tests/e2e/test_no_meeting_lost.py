"""No finished meeting is lost, in a real Airflow started as a user starts it, on a busy machine: CPU
burners run for the whole of each test. Each meeting must be consumed by exactly one DAG run.

- push: three rounds of six meetings ending together; three meetings ending while the connection's
  webhook secret is wrong (every delivery refused); five ending while the API server is down (>= 20 s);
- push from the start: the secret wrong from the first delivery (none ever accepted, then fixed); the API
  server down seconds after the first delivery, before the catch-up's first look: nothing is lost, as the
  catch-up knows every connection set up for push and its first look reaches back (catch_up_lookback);
- poll: three rounds of six meetings ending together through the polling trigger, the last round created
  and finished between two polls;
- PostgreSQL with two API-server processes receiving deliveries: 30 meetings ending in bursts (in the
  Airflow 3.1 suite only: CI time; the 3.3 suite runs PostgreSQL in the Celery deployment).
"""

from __future__ import annotations

import base64
import importlib.util
import json
import os
import secrets
import time
from collections import Counter
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path

import pytest

from airflow_provider_attendee.testing import start_simulator
from airflow_provider_attendee.testing.real_airflow import RealAirflow, cpu_burners
from airflow_provider_attendee.testing.services import missing_services, postgres
from tests.suites import real_server_twin

DAGS = Path(__file__).resolve().parent / "poll_dags"
#: One burner per test: CI runs the two Airflow versions' suites side by side on 2 cores, so with the
#: other suite (and its burner) the machine is busy throughout.
BURNERS = int(os.environ.get("ATTENDEE_TEST_BURNERS", "1"))
DAG_ID = "attendee_poll_consumer"
#: The API server's outage lasts at least this long (and until Attendee gave up every delivery).
OUTAGE_SECONDS = 20
URLS = ["https://meet.google.com/abc-defg-hij"] * 4 + [
    "https://meet.google.com/bcd-efgh-ijk",
    "https://meet.google.com/cde-fghi-jkl",
]


def consumed(out: Path) -> Counter[str]:
    """Bot id -> how many DAG runs consumed its meeting (one file per bot and run)."""
    return Counter(path.name.split("__")[0] for path in out.iterdir())


def sources(out: Path) -> Counter[str]:
    """How the consumed meetings were emitted (webhook, catch_up, trigger)."""
    return Counter(path.name.split("__")[1] for path in out.iterdir())


def wait_until(condition: Callable[[], bool], airflow: RealAirflow, what: str, timeout: float = 240) -> None:
    """Poll ``condition`` (a bound on a hang, not a measurement)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what}; see {airflow.home}"
        airflow.assert_alive()
        time.sleep(0.5)


def wait_consumed(out: Path, expected: set[str], airflow: RealAirflow) -> None:
    """Until every meeting in ``expected`` was consumed by a run."""
    deadline = time.monotonic() + 240
    while not set(consumed(out)) >= expected:
        assert time.monotonic() < deadline, f"missing {sorted(expected - set(consumed(out)))}; {airflow.home}"
        airflow.assert_alive()
        time.sleep(0.5)


def wait_runs_finished(airflow: RealAirflow) -> None:
    """Until none of the DAG's runs is queued or running."""
    wait_until(
        lambda: not any(r["state"] in ("queued", "running") for r in airflow.runs(DAG_ID)),
        airflow,
        "runs unfinished",
    )


def end_meetings(sim, urls: list[str], *, seen_live: Callable[[], None] | None = None) -> set[str]:
    """Create a bot per URL, then end them all in the same instant of the simulator's clock."""
    from airflow_provider_attendee.hooks.attendee import AttendeeHook

    with AttendeeHook() as hook:
        bots = {hook.create_bot(url, bot_name="Lost?").id for url in urls}
    if seen_live:
        seen_live()
    sim.admin.advance(3600)
    return bots


def deliveries_failed(sim, bots: set[str]) -> bool:
    """Every ended delivery of these bots was tried and given up (Attendee never sends it again)."""
    ended = [
        d
        for d in sim.admin.webhook_deliveries()
        if d["bot_id"] in bots and d["trigger"] == "bot.state_change"
    ]
    return (
        bool(ended)
        and {d["bot_id"] for d in ended} == bots
        and not any(d["delivered"] for d in ended)
        and all(len(d["attempts"]) == 3 for d in ended)
    )


def delivered(sim, bots: set[str]) -> bool:
    """The delivery of each of these bots' ``ended`` state was accepted."""
    ended = [
        d
        for d in sim.admin.webhook_deliveries()
        if d["bot_id"] in bots
        and d["trigger"] == "bot.state_change"
        and (d.get("data") or {}).get("new_state") == "ended"
    ]
    return {d["bot_id"] for d in ended if d["delivered"]} == bots


def sources_by_bot(out: Path) -> dict[str, str]:
    """Bot id -> how its consumed meeting was emitted (webhook, catch_up)."""
    return {path.name.split("__")[0]: path.name.split("__")[1] for path in out.iterdir()}


def catch_up_position(airflow: RealAirflow, conn_id: str) -> str | None:
    """The catch-up's saved position for the connection (None: it never completed a look)."""
    rows = airflow.query("SELECT state FROM attendee_catch_up WHERE conn_id = :conn_id", conn_id=conn_id)
    return rows[0][0] if rows else None


def connection(sim, secret: str) -> str:
    conn = json.loads(sim.connection_json())
    conn["extra"] = {**conn.get("extra", {}), "webhook_secret": secret}
    return json.dumps(conn)


def set_connection(airflow: RealAirflow, conn_json: str) -> None:
    """The connection in the metadata DB (the API server reads it per delivery), as a user edits it."""
    airflow.cli("connections", "delete", "attendee_default", check=False)
    airflow.cli("connections", "add", "attendee_default", "--conn-json", conn_json)


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_push_under_load_through_a_wrong_secret_and_an_outage(tmp_path, monkeypatch):
    secret = base64.b64encode(secrets.token_bytes(32)).decode()
    wrong = base64.b64encode(secrets.token_bytes(32)).decode()
    out = tmp_path / "consumed"
    out.mkdir()
    with (
        cpu_burners(BURNERS),
        start_simulator(scenario="demo", time_scale=0, api_key=f"e2e-{secrets.token_hex(8)}") as sim,
    ):
        env = {
            "ATTENDEE_TEST_EVENTS": "push",
            "ATTENDEE_PUSH_OUT": str(out),
            "AIRFLOW__ATTENDEE__CATCH_UP_INTERVAL": "5",
            "AIRFLOW__CORE__PARALLELISM": "8",
        }
        # The connection lives in the metadata DB (edited below): no env-var connection may shadow it
        # (one left by an earlier test or benchmark in this process would).
        monkeypatch.delenv("AIRFLOW_CONN_ATTENDEE_DEFAULT", raising=False)
        with RealAirflow(tmp_path / "home", DAGS, **env) as airflow:
            set_connection(airflow, connection(sim, secret))
            monkeypatch.setenv("AIRFLOW_CONN_ATTENDEE_DEFAULT", sim.connection_json())
            airflow.wait_for_dag(DAG_ID)
            wait_until(airflow.api_up, airflow, "the API server did not answer")
            sim.admin.set_webhooks(
                [{"url": f"{airflow.url}/attendee/webhooks", "triggers": ["bot.state_change"]}], secret
            )

            everyone: set[str] = set()
            for _ in range(3):  # three rounds of six meetings ending together
                everyone |= end_meetings(sim, URLS)
                wait_consumed(out, everyone, airflow)

            # The secret is wrong (a rotation half done) while three meetings end: all refused.
            set_connection(airflow, connection(sim, wrong))
            refused = end_meetings(sim, URLS[:3])
            wait_until(lambda: deliveries_failed(sim, refused), airflow, "deliveries were not refused")
            set_connection(airflow, connection(sim, secret))
            everyone |= refused
            wait_consumed(out, everyone, airflow)
            api_log = (airflow.home / "api-server.log").read_text(errors="replace")
            for bot_id in refused:  # each refusal names its bot (and trigger, and key)
                assert f"bot {bot_id}, idempotency_key" in api_log

            # The API server is down while five meetings end, until every delivery failed for good.
            airflow.stop("api-server")
            down_since = time.monotonic()
            stopped_log = (airflow.home / "api-server.log").read_text(errors="replace")
            assert "Released the Attendee catch-up lease" in stopped_log  # a clean stop hands it back
            missed = end_meetings(sim, URLS[1:])
            wait_until(lambda: deliveries_failed(sim, missed), airflow, "deliveries did not fail")
            time.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - down_since)))
            airflow.start("api-server")
            wait_until(airflow.api_up, airflow, "the API server did not come back")
            back_at = time.monotonic()
            everyone |= missed
            wait_consumed(out, everyone, airflow)
            catch_up_delay = time.monotonic() - back_at
            wait_runs_finished(airflow)

            counts = consumed(out)
            assert counts == Counter(dict.fromkeys(everyone, 1)), counts  # zero missing, zero twice
            assert {r["state"] for r in airflow.runs(DAG_ID)} == {"success"}
            how = sources(out)
            assert how["catch_up"] >= len(missed)  # the outage's meetings came from the catch-up
            print(
                f"push: {len(everyone)} meetings, each consumed once; sources {dict(how)}; "
                f"caught up {len(missed)} missed meetings {catch_up_delay:.1f} s after the API server was back"
            )


def push_env(out: Path) -> dict[str, str]:
    return {
        "ATTENDEE_TEST_EVENTS": "push",
        "ATTENDEE_PUSH_OUT": str(out),
        "AIRFLOW__ATTENDEE__CATCH_UP_INTERVAL": "5",
        "AIRFLOW__CORE__PARALLELISM": "8",
    }


@real_server_twin("tests/system/test_push_real_server.py::test_secret_wrong_from_the_start_each_meeting_once")
@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_push_with_the_secret_wrong_from_the_first_delivery(tmp_path, monkeypatch):
    """No delivery is ever accepted until the secret is fixed: the catch-up knows the connection anyway
    (an Attendee connection with a webhook secret), so each refused meeting is processed once; then the
    fixed secret's meetings are pushed, once."""
    secret = base64.b64encode(secrets.token_bytes(32)).decode()
    wrong = base64.b64encode(secrets.token_bytes(32)).decode()
    out = tmp_path / "consumed"
    out.mkdir()
    with (
        cpu_burners(BURNERS),
        start_simulator(scenario="demo", time_scale=0, api_key=f"e2e-{secrets.token_hex(8)}") as sim,
    ):
        monkeypatch.delenv("AIRFLOW_CONN_ATTENDEE_DEFAULT", raising=False)
        with RealAirflow(tmp_path / "home", DAGS, **push_env(out)) as airflow:
            set_connection(airflow, connection(sim, wrong))  # wrong from day one
            monkeypatch.setenv("AIRFLOW_CONN_ATTENDEE_DEFAULT", sim.connection_json())
            airflow.wait_for_dag(DAG_ID)
            wait_until(airflow.api_up, airflow, "the API server did not answer")
            sim.admin.set_webhooks(
                [{"url": f"{airflow.url}/attendee/webhooks", "triggers": ["bot.state_change"]}], secret
            )
            refused = end_meetings(sim, URLS)
            wait_until(lambda: deliveries_failed(sim, refused), airflow, "deliveries were not refused")
            given_up = time.monotonic()
            assert airflow.query("SELECT COUNT(*) FROM attendee_webhook_delivery") == [(0,)]  # none accepted
            wait_consumed(out, refused, airflow)
            refused_delay = time.monotonic() - given_up

            set_connection(airflow, connection(sim, secret))
            fixed_at = time.monotonic()
            pushed = end_meetings(sim, URLS)
            wait_consumed(out, refused | pushed, airflow)
            pushed_delay = time.monotonic() - fixed_at
            wait_runs_finished(airflow)

            everyone = refused | pushed
            counts = consumed(out)
            assert counts == Counter(dict.fromkeys(everyone, 1)), counts  # zero missing, zero twice
            assert {r["state"] for r in airflow.runs(DAG_ID)} == {"success"}
            how = sources_by_bot(out)
            assert {how[bot_id] for bot_id in refused} == {"catch_up"}
            api_log = (airflow.home / "api-server.log").read_text(errors="replace")
            for bot_id in refused:  # each refusal's line promises what then happened
                lines = [x for x in api_log.splitlines() if f"bot {bot_id}, idempotency_key" in x]
                assert lines and all("the catch-up emits it from the Attendee API" in x for x in lines)
            assert "not recovered" not in api_log
            print(
                f"push, secret wrong from the start: {len(everyone)} meetings, each consumed once; "
                f"sources {dict(sources(out))}; the {len(refused)} refused ones consumed {refused_delay:.1f} s "
                f"after Attendee gave their deliveries up; the {len(pushed)} after the fix consumed "
                f"{pushed_delay:.1f} s after the secret was fixed (meetings ended right after)"
            )


@real_server_twin(
    "tests/system/test_push_real_server.py::test_outage_warm_and_seconds_after_the_first_delivery_caught_up_once"
)
@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_push_outage_seconds_after_the_first_delivery_before_the_first_catch_up_look(tmp_path, monkeypatch):
    """The API server stops a few seconds after the first delivery was accepted, before the catch-up ever
    completed a look at the connection, and meetings end during the outage: its first look after the
    restart reaches back and emits them, once; the pushed ones are not emitted again.

    Now that the catch-up knows the connection from the start, its first look runs as soon as a DAG is
    scheduled on the asset: to stop the API server before it completed, the Attendee API fails the bots
    list until the outage ends (as an Attendee API that is slow or unreachable from Airflow at first, or
    a long first walk over a project's history, would keep it from completing)."""
    secret = base64.b64encode(secrets.token_bytes(32)).decode()
    out = tmp_path / "consumed"
    out.mkdir()
    with (
        cpu_burners(BURNERS),
        start_simulator(scenario="demo", time_scale=0, api_key=f"e2e-{secrets.token_hex(8)}") as sim,
    ):
        sim.admin.set_faults(routes=[{"method": "GET", "path": "^/api/v1/bots$", "rate_5xx": 1.0}])
        monkeypatch.delenv("AIRFLOW_CONN_ATTENDEE_DEFAULT", raising=False)
        with RealAirflow(tmp_path / "home", DAGS, **push_env(out)) as airflow:
            set_connection(airflow, connection(sim, secret))
            monkeypatch.setenv("AIRFLOW_CONN_ATTENDEE_DEFAULT", sim.connection_json())
            airflow.wait_for_dag(DAG_ID)
            wait_until(airflow.api_up, airflow, "the API server did not answer")
            sim.admin.set_webhooks(
                [{"url": f"{airflow.url}/attendee/webhooks", "triggers": ["bot.state_change"]}], secret
            )
            first = end_meetings(sim, URLS)
            wait_until(
                lambda: bool(airflow.query("SELECT 1 FROM attendee_webhook_delivery")), airflow, "none"
            )
            first_accepted = time.monotonic()
            wait_until(lambda: delivered(sim, first), airflow, "the first deliveries were not accepted")
            airflow.stop("api-server")
            down_after = time.monotonic() - first_accepted
            down_since = time.monotonic()
            assert catch_up_position(airflow, "attendee_default") is None  # no look had completed

            missed = end_meetings(sim, URLS[1:])
            wait_until(lambda: deliveries_failed(sim, missed), airflow, "deliveries did not fail")
            time.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - down_since)))
            sim.admin.set_faults()  # the Attendee API answers the API server again
            airflow.start("api-server")
            wait_until(airflow.api_up, airflow, "the API server did not come back")
            back_at = time.monotonic()
            wait_consumed(out, first | missed, airflow)
            catch_up_delay = time.monotonic() - back_at
            wait_runs_finished(airflow)

            everyone = first | missed
            counts = consumed(out)
            assert counts == Counter(dict.fromkeys(everyone, 1)), counts  # zero missing, zero twice
            assert {r["state"] for r in airflow.runs(DAG_ID)} == {"success"}
            how = sources_by_bot(out)
            assert {how[bot_id] for bot_id in first} == {"webhook"}
            assert {how[bot_id] for bot_id in missed} == {"catch_up"}
            api_log = (airflow.home / "api-server.log").read_text(errors="replace")
            assert (
                "first look at connection 'attendee_default' (reaching back 1:00:00): 5 meeting(s)" in api_log
            )
            print(
                f"push, outage before the first catch-up look: API server stopped {down_after:.1f} s after the "
                f"first accepted delivery; {len(everyone)} meetings, each consumed once; sources "
                f"{dict(sources(out))}; the {len(missed)} missed meetings consumed {catch_up_delay:.1f} s "
                "after the API server answered again"
            )


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_poll_under_load_three_rounds_and_bots_between_two_polls(tmp_path, monkeypatch):
    out = tmp_path / "consumed"
    out.mkdir()
    with (
        cpu_burners(BURNERS),
        start_simulator(scenario="demo", time_scale=0, api_key=f"e2e-{secrets.token_hex(8)}") as sim,
    ):
        env = {"AIRFLOW_CONN_ATTENDEE_DEFAULT": sim.connection_json(), "ATTENDEE_PUSH_OUT": str(out)}
        with RealAirflow(tmp_path / "home", DAGS, **env) as airflow:
            monkeypatch.setenv("AIRFLOW_CONN_ATTENDEE_DEFAULT", sim.connection_json())
            airflow.wait_for_dag(DAG_ID)
            wait_until(airflow.api_up, airflow, "the API server did not answer")
            wait_until(lambda: sim.admin.requests("GET /api/v1/bots") > 2, airflow, "no trigger polled")

            def polled_twice() -> None:  # the trigger has seen the new bots live
                start = sim.admin.requests("GET /api/v1/bots")
                wait_until(lambda: sim.admin.requests("GET /api/v1/bots") >= start + 4, airflow, "no poll")

            everyone: set[str] = set()
            for live_first in (True, True, False):  # the last round starts and ends between two polls
                everyone |= end_meetings(sim, URLS, seen_live=polled_twice if live_first else None)
                wait_consumed(out, everyone, airflow)
            wait_runs_finished(airflow)
            counts = consumed(out)
            assert counts == Counter(dict.fromkeys(everyone, 1)), counts
            assert {r["state"] for r in airflow.runs(DAG_ID)} == {"success"}


def _postgres_missing() -> str | None:
    # CI time (two suites in 25 minutes on 2 cores): this deployment runs in the Airflow 3.1 suite; the 3.3
    # suite runs PostgreSQL in the Celery deployment test. Both versions run the push path above.
    if int(version("apache-airflow-core").split(".")[1]) >= 2:
        return "the PostgreSQL push deployment runs in the Airflow 3.1 suite (CI time; 3.3: the Celery test)"
    if importlib.util.find_spec("psycopg2") is None:
        return "psycopg2 is not installed (the 'scale' extra)"
    if missing := missing_services():
        return f"needs {', '.join(missing)}: sudo bash scripts/install-services.sh"
    return None


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_postgres_two_api_server_processes_thirty_meetings_in_bursts(tmp_path, monkeypatch):
    if reason := _postgres_missing():
        pytest.skip(reason)
    secret = base64.b64encode(secrets.token_bytes(32)).decode()
    out = tmp_path / "consumed"
    out.mkdir()
    with (
        cpu_burners(BURNERS),
        postgres() as database,
        start_simulator(scenario="demo", time_scale=0, api_key=f"e2e-{secrets.token_hex(8)}") as sim,
    ):
        env = {
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": database,
            "AIRFLOW__API__WORKERS": "2",
            "AIRFLOW__CORE__PARALLELISM": "8",
            "AIRFLOW_CONN_ATTENDEE_DEFAULT": connection(sim, secret),
            "ATTENDEE_TEST_EVENTS": "push",
            "ATTENDEE_PUSH_OUT": str(out),
        }
        with RealAirflow(tmp_path / "home", DAGS, **env) as airflow:
            monkeypatch.setenv("AIRFLOW_CONN_ATTENDEE_DEFAULT", sim.connection_json())
            airflow.wait_for_dag(DAG_ID)
            wait_until(airflow.api_up, airflow, "the API server did not answer")
            sim.admin.set_webhooks(
                [{"url": f"{airflow.url}/attendee/webhooks", "triggers": ["bot.state_change"]}], secret
            )
            everyone: set[str] = set()
            for _ in range(5):  # bursts of six: deliveries spread over both API-server processes
                everyone |= end_meetings(sim, URLS)
            wait_consumed(out, everyone, airflow)
            wait_runs_finished(airflow)
            counts = consumed(out)
            assert counts == Counter(dict.fromkeys(everyone, 1)), counts
            assert {r["state"] for r in airflow.runs(DAG_ID)} == {"success"}
            print(
                f"postgres, 2 API-server processes: {len(everyone)} meetings, each once; {dict(sources(out))}"
            )
