"""The catch-up knows, from the start, every connection set up for push (not only those that delivered),
and its first look at a connection reaches back ``[attendee] catch_up_lookback``: against the migrated
metadata DB (Airflow 3.1 and 3.3) and the simulator. Refused deliveries name their connection to the
catch-up, and their log line says what will become of the meeting."""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta, timezone

import pytest

from tests.e2e.test_exactly_once import event_ids, record
from tests.e2e.test_webhook_receiver import SECRET, envelope
from tests.e2e.test_webhook_receiver import post as post_default

ENDED = "attendee://bots/ended"
URL = "https://meet.google.com/abc-defg-hij"
RECEIVER_LOG = "airflow_provider_attendee.plugins.webhook_receiver"

pytestmark = pytest.mark.usefixtures("post_meeting_db", "api_server_process")


@pytest.fixture
def api_server_process(monkeypatch):
    """Read connections as the API server does: it marks its process a server one
    (airflow/api_fastapi/main.py), and Airflow 3.2+ then looks in the metadata DB too."""
    monkeypatch.setenv("_AIRFLOW_PROCESS_CONTEXT", "server")


@pytest.fixture
def db_connections():
    """Add connections to the metadata DB (as the UI or CLI does); removed after the test."""
    from airflow.models.connection import Connection
    from airflow.utils.session import create_session
    from sqlalchemy import delete

    added: list[str] = []

    def add(conn_id: str, conn_type: str, extra: dict | None = None) -> None:
        with create_session() as session:
            session.execute(delete(Connection).where(Connection.conn_id == conn_id))
            session.add(
                Connection(
                    conn_id=conn_id,
                    conn_type=conn_type,
                    host="http://127.0.0.1:9",
                    password="k",
                    extra=json.dumps(extra) if extra else None,
                )
            )
        added.append(conn_id)

    yield add
    with create_session() as session:
        session.execute(delete(Connection).where(Connection.conn_id.in_(added)))


def env_connection(monkeypatch, conn_id: str, value: dict | str) -> None:
    monkeypatch.setenv(
        f"AIRFLOW_CONN_{conn_id.upper()}", value if isinstance(value, str) else json.dumps(value)
    )


def test_connections_set_up_for_push_are_known_from_the_metadata_db_and_the_environment(
    monkeypatch, db_connections
):
    from airflow_provider_attendee.plugins.catch_up import conn_ids, push_conn_ids

    monkeypatch.delenv("AIRFLOW_CONN_ATTENDEE_DEFAULT", raising=False)
    secret = {"webhook_secret": SECRET}
    db_connections("attendee_prod", "attendee", secret)  # set up for push: caught up from the start
    db_connections("attendee_polled", "attendee")  # no secret: polled, never caught up
    db_connections("slack_alerts", "http", secret)  # not an Attendee connection
    db_connections("attendee_default", "http", secret)  # the receiver's default, whatever its type
    db_connections("attendee_shadowed", "attendee", secret)
    env_connection(monkeypatch, "attendee_shadowed", {"conn_type": "attendee", "host": "h"})  # env wins
    env_connection(monkeypatch, "attendee_env", {"conn_type": "attendee", "host": "h", "extra": secret})
    env_connection(monkeypatch, "attendee_uri", f"attendee://:key@host?webhook_secret={SECRET}")
    env_connection(monkeypatch, "not_a_connection", "{not json")
    assert push_conn_ids() == {"attendee_prod", "attendee_default", "attendee_env", "attendee_uri"}
    # Besides: what deliveries named, and what the administrator listed.
    record("bot_pushed_elsewhere")  # a delivery accepted for attendee_default
    assert conn_ids(("attendee_extra",)) == sorted(
        {"attendee_prod", "attendee_default", "attendee_env", "attendee_uri", "attendee_extra"}
    )


def post(client, payload, conn_id: str, *, secret: str = SECRET):
    from airflow_provider_attendee.webhooks import SIGNATURE_HEADER, sign_payload

    return client.post(
        f"/webhooks?conn_id={conn_id}",
        content=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json", SIGNATURE_HEADER: sign_payload(payload, secret)},
    )


def refusal_line(caplog) -> str:
    (line,) = [
        r.getMessage() for r in caplog.records if "refused" in r.getMessage() or "(503)" in r.getMessage()
    ]
    caplog.clear()
    return line


WRONG = "d3Jvbmctd3Jvbmctd3Jvbmctd3Jvbmctd3Jvbmctd3I="


def test_a_refused_delivery_names_its_connection_to_the_catch_up_and_says_what_will_happen(
    monkeypatch, db_connections, caplog
):
    """Only the connection id of the request is used, and only for a connection set up for push (with a
    secret): a stranger's request cannot turn the catch-up on for a polled connection."""
    from fastapi.testclient import TestClient

    from airflow_provider_attendee.plugins import _asset_events
    from airflow_provider_attendee.plugins.webhook_receiver import create_app

    # Not listed (not of type attendee, as from a secrets backend the catch-up cannot list): only the
    # refusal makes it known.
    db_connections("attendee_vault", "http", {"webhook_secret": SECRET})
    db_connections("attendee_polled", "attendee")
    client = TestClient(create_app())
    caplog.set_level(logging.WARNING, logger=RECEIVER_LOG)

    assert post(client, envelope("bot_a"), "attendee_vault", secret=WRONG).status_code == 401
    assert "attendee_vault" in _asset_events.catch_up_conn_ids()
    line = refusal_line(caplog)
    assert "bot_a" in line and SECRET not in line
    assert (
        "the catch-up emits it from the Attendee API: its first look at connection 'attendee_vault'" in line
    )
    assert "reaches back 1:00:00 (catch_up_lookback)" in line

    assert post(client, envelope("bot_b"), "attendee_polled").status_code == 503  # no secret to check
    assert post(client, envelope("bot_c"), "attendee_nowhere").status_code == 503  # no such connection
    assert _asset_events.catch_up_conn_ids() == ["attendee_vault"]
    polled, nowhere = refusal_line_pair(caplog)
    assert "'attendee_polled' has no webhook_secret, so the catch-up does not look at it" in polled
    assert "it is not recovered" in polled and "unless it gets a webhook_secret within 1:00:00" in polled
    assert "'attendee_nowhere' cannot be read" in nowhere and "it is not recovered" in nowhere

    # Once the catch-up has looked at the connection, its next look finds the meeting.
    with _asset_events.locked_session() as session:
        session.execute(_asset_events.catch_up_states.insert().values(conn_id="attendee_vault", state="{}"))
    post(client, envelope("bot_d"), "attendee_vault", secret=WRONG)
    assert "at its next look at connection 'attendee_vault' (every 30 s)" in refusal_line(caplog)

    monkeypatch.setenv("AIRFLOW__ATTENDEE__CATCH_UP_INTERVAL", "0")
    post(client, envelope("bot_e"), "attendee_vault", secret=WRONG)
    line = refusal_line(caplog)
    assert "the catch-up is off ([attendee] catch_up_interval = 0)" in line and "not recovered" in line
    monkeypatch.setenv("AIRFLOW__ATTENDEE__CATCH_UP_INTERVAL", "30")
    monkeypatch.setenv("AIRFLOW__ATTENDEE__EVENT_SWEEPER", "False")
    post(client, envelope("bot_f"), "attendee_vault", secret=WRONG)
    assert "the catch-up is off ([attendee] event_sweeper = False)" in refusal_line(caplog)
    monkeypatch.delenv("AIRFLOW__ATTENDEE__EVENT_SWEEPER")

    monkeypatch.setenv("AIRFLOW__ATTENDEE__CATCH_UP_LOOKBACK", "0")
    db_connections("attendee_fresh", "attendee", {"webhook_secret": SECRET})
    post(client, envelope("bot_g"), "attendee_fresh", secret=WRONG)
    line = refusal_line(caplog)
    assert "has not looked at connection 'attendee_fresh' yet and [attendee] catch_up_lookback is 0" in line
    assert "not recovered" in line

    # A replay of a recorded delivery is no refusal: it was recorded the first time.
    webhook_env = {"conn_type": "attendee", "host": "h", "extra": {"webhook_secret": SECRET}}
    env_connection(monkeypatch, "attendee_default", webhook_env)
    payload = envelope("bot_h")
    caplog.set_level(logging.INFO, logger="airflow_provider_attendee.plugins.webhook_receiver")
    assert post_default(client, payload).json()["status"] == "recorded"
    assert post_default(client, payload).json()["status"] == "duplicate"
    assert not [r for r in caplog.records if "refused" in r.getMessage()]
    assert any("received again: recorded before" in r.getMessage() for r in caplog.records)


def refusal_line_pair(caplog) -> tuple[str, str]:
    lines = [r.getMessage() for r in caplog.records if "(503)" in r.getMessage()]
    caplog.clear()
    assert len(lines) == 2, lines
    return lines[0], lines[1]


def test_noted_refusals_are_noted_once_a_minute_and_pruned_with_the_deliveries(db_connections):
    from airflow.utils.session import create_session
    from sqlalchemy import select, update

    from airflow_provider_attendee.plugins import _asset_events

    _asset_events.note_refusal("attendee_vault")
    with create_session() as session:
        first = session.scalar(select(_asset_events.refusals.c.refused_at))
    _asset_events.note_refusal("attendee_vault")  # within the minute: no write
    with create_session() as session:
        assert session.scalar(select(_asset_events.refusals.c.refused_at)) == first
        session.execute(
            update(_asset_events.refusals).values(refused_at=datetime.now(timezone.utc) - timedelta(days=4))
        )
    assert _asset_events.prune(timedelta(days=3)) == 1
    assert _asset_events.catch_up_conn_ids() == []


def watcher_event(bot_id: str) -> None:
    """An event on attendee://bots/ended as a polling watcher (the triggerer) writes it."""
    from airflow.assets.manager import asset_manager
    from airflow.models.asset import AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        asset = session.scalar(select(AssetModel).where(AssetModel.uri == ENDED))
        extra = {"from_trigger": True, "payload": {"status": "success", "bot_id": bot_id, "state": "ended"}}
        asset_manager.register_asset_change(asset=asset, extra=extra, session=session)


@pytest.mark.attendee_simulator
def test_the_first_look_emits_what_finished_before_it_once_at_no_extra_request(attendee_simulator):
    """Meetings that ended before the catch-up's first look (an outage, a wrong secret from the first
    delivery): emitted by it, except those push recorded or a watcher emitted; each once."""
    from airflow_provider_attendee.hooks.attendee import AttendeeHook
    from airflow_provider_attendee.plugins.catch_up import catch_up

    sim = attendee_simulator
    with AttendeeHook() as hook:
        bots = [hook.create_bot(URL, bot_name=f"Before {i}").id for i in range(5)]
    sim.admin.advance(3600)  # all ended, before the catch-up ever looked
    pushed, watched, *missed = bots
    record(pushed)
    watcher_event(watched)
    sim.admin.reset_counters()
    lease = timedelta(minutes=1)
    first = catch_up("attendee_default", {"ended"}, "proc-a", lease, lookback=timedelta(hours=1))
    assert sorted(first.emitted) == sorted(missed) and sorted(first.already) == sorted([pushed, watched])
    requests = sim.admin.counters()["requests"]
    assert requests == {"GET /api/v1/bots": 2}, requests  # the live view and the one page: no look-up
    assert catch_up("attendee_default", {"ended"}, "proc-a", lease, lookback=timedelta(hours=1)).emitted == []
    with AttendeeHook() as hook:  # after the first look: found as before, by the list's tail
        later = hook.create_bot(URL, bot_name="After").id
        polled = hook.create_bot(URL, bot_name="Polled").id
    sim.admin.advance(3600)
    # A DAG in poll mode on this connection (it has a webhook secret): its watcher emitted one of them
    # between two looks; the next look does not emit it again.
    watcher_event(polled)
    second = catch_up("attendee_default", {"ended"}, "proc-a", lease, lookback=timedelta(hours=1))
    assert second.emitted == [later] and second.already == [polled]
    from airflow.models.asset import AssetEvent
    from airflow.utils.session import create_session
    from sqlalchemy import func, select

    assert set(event_ids()) == {*bots, later, polled}
    with create_session() as session:  # one event per meeting, the watcher's included
        assert session.scalar(select(func.count()).select_from(AssetEvent)) == len(bots) + 2


@pytest.mark.attendee_simulator
def test_a_position_older_than_the_retention_is_not_resumed(attendee_simulator, caplog):
    """Resuming it would emit every meeting since, including pushed ones whose record was pruned: the
    look starts afresh instead (here from now: catch_up_lookback 0)."""
    from airflow_provider_attendee.hooks.attendee import AttendeeHook
    from airflow_provider_attendee.plugins import _asset_events
    from airflow_provider_attendee.plugins.catch_up import catch_up

    lease, retention = timedelta(minutes=1), timedelta(days=3)
    assert catch_up("attendee_default", {"ended"}, "proc-a", lease, max_age=retention).emitted == []
    with AttendeeHook() as hook:
        bots = [hook.create_bot(URL, bot_name=f"Old {i}").id for i in range(2)]
    attendee_simulator.admin.advance(3600)
    with _asset_events.locked_session() as session:  # the position was saved 4 days ago
        saved = json.loads(
            session.scalar(
                _asset_events.catch_up_states.select().with_only_columns(
                    _asset_events.catch_up_states.c.state
                )
            )
        )
        saved["looked_at"] = (datetime.now(timezone.utc) - timedelta(days=4)).isoformat()
        session.execute(_asset_events.catch_up_states.update().values(state=json.dumps(saved)))
    with caplog.at_level(logging.INFO, logger="airflow_provider_attendee.plugins.catch_up"):
        assert catch_up("attendee_default", {"ended"}, "proc-a", lease, max_age=retention).emitted == []
    assert "older than 3 days, 0:00:00: looking afresh" in caplog.text
    assert not set(bots) & set(event_ids())  # from now: what finished meanwhile is not emitted


@pytest.mark.attendee_simulator
def test_the_sweeper_catches_up_a_connection_with_a_secret_before_any_delivery(
    attendee_simulator, monkeypatch
):
    """A secret wrong from the start: no delivery is ever accepted, yet the connection is caught up."""
    from airflow_provider_attendee.hooks.attendee import AttendeeHook
    from airflow_provider_attendee.plugins import _asset_events
    from airflow_provider_attendee.plugins.event_settings import read_settings
    from airflow_provider_attendee.plugins.event_sweeper import EventSweeper

    sim = attendee_simulator
    monkeypatch.setenv("AIRFLOW_CONN_ATTENDEE_DEFAULT", sim.connection_json(webhook_secret=SECRET))
    sweeper = EventSweeper(read_settings())
    sweeper.run_once()
    assert _asset_events.catch_up_started("attendee_default")  # looked before any delivery
    with AttendeeHook() as hook:
        bots = {hook.create_bot(URL, bot_name=f"Refused {i}").id for i in range(3)}
    sim.admin.advance(3600)  # their deliveries were refused (wrong secret) or never sent
    sweeper.next_catch_up = 0.0
    sweeper.run_once()
    assert set(event_ids()) == bots
