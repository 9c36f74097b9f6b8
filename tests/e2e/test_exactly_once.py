"""Exactly once, in the metadata DB: events left behind or stranded by Airflow's scheduler are repaired,
judged by the event-to-run link; push and catch-up emit a meeting once; storage is pruned; the
administrator's switches work; refusals say which delivery they refused."""

from __future__ import annotations

import logging
import threading
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from tests.e2e.test_webhook_receiver import envelope, events_for, post, webhook_connection

DAG_ID = "attendee_post_meeting"
ENDED = "attendee://bots/ended"


# Each test starts with only the example post-meeting DAG unpaused and nothing left from other tests.
pytestmark = pytest.mark.usefixtures("post_meeting_db")


def record(bot_id: str) -> None:
    from airflow_provider_attendee.plugins._asset_events import record_delivery

    record_delivery(
        idempotency_key=str(uuid.uuid4()),
        trigger="bot.state_change",
        bot_id=bot_id,
        asset_uris=[ENDED],
        extra={"payload": {"bot_id": bot_id, "state": "ended"}, "source": "webhook"},
        meeting_state="ended",
        conn_id="attendee_default",
    )


def event_ids() -> dict[str, int]:
    """Bot id -> its event on attendee://bots/ended."""
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        rows = session.execute(
            select(AssetEvent.id, AssetEvent.extra)
            .join(AssetModel, AssetModel.id == AssetEvent.asset_id)
            .where(AssetModel.uri == ENDED)
        )
        return {extra["payload"]["bot_id"]: event_id for event_id, extra in rows if extra.get("payload")}


def consumers() -> dict[int, list[str]]:
    """Event id -> the runs of the DAG that consumed it (the event-to-run link)."""
    from airflow.models.asset import association_table
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        rows = session.execute(
            select(association_table.c.event_id, DagRun.run_id)
            .join(DagRun, DagRun.id == association_table.c.dag_run_id)
            .where(DagRun.dag_id == DAG_ID)
        )
        found: dict[int, list[str]] = {}
        for event_id, run_id in rows:
            found.setdefault(event_id, []).append(run_id)
        return found


def scheduler_pass() -> str | None:
    """What Airflow's scheduler does for an asset-triggered DAG (3.1 to 3.3): a run for the events up to
    the newest queue row, after the previous run's run_after; then the queue rows are deleted."""
    from airflow.models.asset import AssetDagRunQueue, AssetEvent, DagScheduleAssetReference
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from airflow.utils.types import DagRunType
    from sqlalchemy import delete, func, select

    from airflow_provider_attendee.plugins._asset_events import _create_run

    with create_session() as session:
        newest = session.scalar(
            select(func.max(AssetDagRunQueue.created_at)).where(AssetDagRunQueue.target_dag_id == DAG_ID)
        )
        if newest is None:
            return None
        previous = session.scalar(
            select(func.max(DagRun.run_after)).where(
                DagRun.dag_id == DAG_ID,
                DagRun.run_type == DagRunType.ASSET_TRIGGERED,
                DagRun.run_after < newest,
            )
        )
        query = select(AssetEvent).where(
            AssetEvent.asset_id.in_(
                select(DagScheduleAssetReference.asset_id).where(DagScheduleAssetReference.dag_id == DAG_ID)
            ),
            AssetEvent.timestamp <= newest,
        )
        if previous is not None:
            query = query.where(AssetEvent.timestamp > previous)
        events = list(session.scalars(query))
        run_id = _create_run(session, DAG_ID, events, run_after=newest)
        session.execute(delete(AssetDagRunQueue).where(AssetDagRunQueue.target_dag_id == DAG_ID))
        return run_id


def test_an_event_the_scheduler_stranded_gets_a_run_of_its_own_once():
    from airflow.models.asset import AssetDagRunQueue
    from airflow.utils.session import create_session
    from sqlalchemy import delete

    from airflow_provider_attendee.plugins._asset_events import reconcile

    record("bot_stranded")
    # As on a busy machine: a run was created (run_after later than the event) that did not see the
    # event (it committed late), and the queue row went with that run.
    with create_session() as session:
        session.execute(delete(AssetDagRunQueue))
    record("bot_other")
    assert scheduler_pass()  # consumes bot_other only... and bot_stranded, had it been committed in time
    stranded = event_ids()["bot_stranded"]
    with create_session() as session:  # undo that run's link to bot_stranded: it never saw the event
        from airflow.models.asset import association_table

        session.execute(delete(association_table).where(association_table.c.event_id == stranded))
    assert stranded not in consumers()
    # No scheduler run can take it any more: it is older than the last run.
    record("bot_later")
    scheduler_pass()
    assert stranded not in consumers()

    (repair,) = reconcile(grace=timedelta(0))
    assert repair.action == "run_created" and repair.event_ids == [stranded]
    assert consumers()[stranded] == [repair.run_id]
    assert reconcile(grace=timedelta(0)) == []  # once
    record("bot_after")
    scheduler_pass()
    taken = consumers()
    assert all(len(runs) == 1 for runs in taken.values()), taken  # no event consumed twice
    assert set(event_ids().values()) <= set(taken)  # and none left


def test_an_event_left_behind_is_queued_again_and_consumed_by_the_next_run():
    from airflow.models.asset import AssetDagRunQueue
    from airflow.utils.session import create_session
    from sqlalchemy import delete

    from airflow_provider_attendee.plugins._asset_events import reconcile

    record("bot_first")
    scheduler_pass()
    record("bot_left_behind")
    with create_session() as session:  # its queue row merged into one the scheduler deleted
        session.execute(delete(AssetDagRunQueue))
    (repair,) = reconcile(grace=timedelta(0))
    assert repair.action == "requeued" and repair.event_ids == [event_ids()["bot_left_behind"]]
    assert reconcile(grace=timedelta(0)) == []  # queued: the scheduler will take it
    scheduler_pass()
    assert consumers()[event_ids()["bot_left_behind"]]
    assert reconcile(grace=timedelta(0)) == []


def test_an_event_recorded_while_its_dag_is_queued_is_taken_by_the_next_run_without_a_repair():
    """Airflow dates the queue row when it is first inserted, and a run takes the events up to that date: the
    provider dates it again after each write, so the events written meanwhile go with the same run (in a
    surge they would otherwise wait for the sweeper's grace)."""
    from airflow.models.asset import AssetDagRunQueue
    from airflow.utils.session import create_session
    from sqlalchemy import select

    from airflow_provider_attendee.plugins._asset_events import reconcile

    def queued_at() -> list:
        with create_session() as session:
            return list(session.scalars(select(AssetDagRunQueue.created_at)))

    record("bot_first")
    (first_queued,) = queued_at()
    record("bot_meanwhile")  # the DAG is still queued: Airflow's own insert does nothing
    (queued,) = queued_at()
    assert queued > first_queued
    run_id = scheduler_pass()
    ids = event_ids()
    assert consumers() == {ids["bot_first"]: [run_id], ids["bot_meanwhile"]: [run_id]}
    assert queued_at() == []
    assert reconcile(grace=timedelta(0)) == []  # nothing left for the sweeper


def test_deliveries_committing_concurrently_with_scheduler_passes_are_each_consumed_once():
    """200 meetings recorded from 8 threads while a scheduler pass runs in a loop; after the repairs every
    meeting is consumed by exactly one run."""
    from airflow_provider_attendee.plugins._asset_events import reconcile

    bots = [f"bot_race_{i:03d}" for i in range(200)]
    done = threading.Event()

    def scheduler() -> None:
        while not done.is_set():
            scheduler_pass()

    def writer(chunk: list[str]) -> None:
        for bot_id in chunk:
            record(bot_id)

    loop = threading.Thread(target=scheduler)
    loop.start()
    writers = [threading.Thread(target=writer, args=(bots[i::8],)) for i in range(8)]
    for thread in writers:
        thread.start()
    for thread in writers:
        thread.join()
    done.set()
    loop.join()
    for _ in range(5):
        reconcile(grace=timedelta(0))
        scheduler_pass()
    ids = event_ids()
    taken = consumers()
    assert sorted(ids) == bots
    assert {bot: len(taken.get(event_id, [])) for bot, event_id in ids.items()} == dict.fromkeys(bots, 1)


def test_push_and_catch_up_emit_a_meeting_once(monkeypatch):
    from fastapi.testclient import TestClient

    from airflow_provider_attendee.plugins._asset_events import record_caught_up
    from airflow_provider_attendee.plugins.webhook_receiver import create_app

    webhook_connection(monkeypatch)
    client = TestClient(create_app())
    extra = {"payload": {"bot_id": "bot_caught", "state": "ended"}, "source": "catch_up"}
    assert (
        record_caught_up(bot_id="bot_caught", state="ended", conn_id="attendee_default", extra=extra) is None
    )
    late = post(client, envelope("bot_caught"))  # push arrives after the catch-up found it
    assert late.status_code == 200 and ENDED not in late.json()["asset_events"]
    assert [e["uri"] for e in events_for("bot_caught")].count(ENDED) == 1

    pushed = post(client, envelope("bot_pushed"))
    assert pushed.status_code == 200 and ENDED in pushed.json()["asset_events"]
    again = record_caught_up(bot_id="bot_pushed", state="ended", conn_id="attendee_default", extra=extra)
    assert again == "webhook"
    assert [e["uri"] for e in events_for("bot_pushed")].count(ENDED) == 1


def test_old_rows_are_pruned_and_old_payloads_refused(monkeypatch):
    from airflow.utils.session import create_session
    from fastapi.testclient import TestClient
    from sqlalchemy import func, select, update

    from airflow_provider_attendee.plugins._asset_events import deliveries, finished_meetings, prune
    from airflow_provider_attendee.plugins.webhook_receiver import create_app

    record("bot_old")
    record("bot_new")
    long_ago = datetime.now(timezone.utc) - timedelta(days=10)
    with create_session() as session:
        session.execute(
            update(deliveries).where(deliveries.c.bot_id == "bot_old").values(received_at=long_ago)
        )
        session.execute(
            update(finished_meetings)
            .where(finished_meetings.c.bot_id == "bot_old")
            .values(recorded_at=long_ago)
        )
    assert prune(timedelta(days=3)) == 2
    with create_session() as session:
        assert not session.scalar(
            select(func.count()).select_from(deliveries).where(deliveries.c.bot_id == "bot_old")
        )
        assert session.scalar(
            select(func.count()).select_from(deliveries).where(deliveries.c.bot_id == "bot_new")
        )

    webhook_connection(monkeypatch)
    client = TestClient(create_app())
    replay = envelope("bot_replayed")
    replay["data"]["created_at"] = long_ago.isoformat()  # signed, but older than the retention
    answer = post(client, replay)
    assert answer.status_code == 400 and "retention" in answer.json()["error"]
    assert events_for("bot_replayed") == []


def test_a_connection_is_caught_up_while_its_deliveries_are_kept():
    """Why switching from push to poll needs the catch-up off (docs: event-driven): deleting the webhook
    stops deliveries, but the connection is caught up until its last ones are pruned."""
    from airflow.utils.session import create_session
    from sqlalchemy import update

    from airflow_provider_attendee.plugins._asset_events import catch_up_conn_ids, deliveries, prune

    assert catch_up_conn_ids() == []
    record("bot_last_pushed")  # the last delivery before the webhook was deleted
    assert catch_up_conn_ids() == ["attendee_default"]
    assert prune(timedelta(days=3)) == 0
    assert catch_up_conn_ids() == ["attendee_default"]
    with create_session() as session:
        session.execute(update(deliveries).values(received_at=datetime.now(timezone.utc) - timedelta(days=4)))
    prune(timedelta(days=3))
    assert catch_up_conn_ids() == []


def test_a_refusal_names_the_delivery_it_refused(monkeypatch, caplog):
    import base64

    from fastapi.testclient import TestClient

    from airflow_provider_attendee.plugins.webhook_receiver import create_app

    webhook_connection(monkeypatch)
    client = TestClient(create_app())
    payload = envelope("bot_refused")
    wrong = base64.b64encode(b"a-rotated-secret-of-thirty-two-b").decode()
    with caplog.at_level(logging.WARNING, logger="airflow_provider_attendee.plugins.webhook_receiver"):
        assert post(client, payload, secret=wrong).status_code == 401
    (line,) = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert "bot.state_change" in line and "bot_refused" in line and payload["idempotency_key"] in line
    assert "signature" in line and wrong not in line


def test_switches_turn_the_endpoint_and_the_background_work_off(monkeypatch):
    from airflow_provider_attendee.plugins import event_sweeper
    from airflow_provider_attendee.plugins.webhooks import AttendeeWebhooksPlugin

    monkeypatch.setenv("AIRFLOW__ATTENDEE__WEBHOOK_RECEIVER", "False")
    monkeypatch.setenv("AIRFLOW__ATTENDEE__EVENT_SWEEPER", "False")
    AttendeeWebhooksPlugin.on_load()
    assert AttendeeWebhooksPlugin.fastapi_apps == [] and AttendeeWebhooksPlugin.fastapi_root_middlewares == []
    assert event_sweeper.start() is False
    monkeypatch.delenv("AIRFLOW__ATTENDEE__WEBHOOK_RECEIVER")
    monkeypatch.delenv("AIRFLOW__ATTENDEE__EVENT_SWEEPER")
    AttendeeWebhooksPlugin.on_load()
    assert [app["url_prefix"] for app in AttendeeWebhooksPlugin.fastapi_apps] == ["/attendee"]
    assert len(AttendeeWebhooksPlugin.fastapi_root_middlewares) == 1


def test_the_sweeper_does_nothing_while_no_dag_is_scheduled_on_an_attendee_asset(monkeypatch):
    from airflow.models.dag import DagModel
    from airflow.utils.session import create_session
    from sqlalchemy import update

    from airflow_provider_attendee.plugins import _asset_events
    from airflow_provider_attendee.plugins.event_settings import read_settings
    from airflow_provider_attendee.plugins.event_sweeper import EventSweeper

    calls: list[str] = []
    for name in ("reconcile", "catch_up_conn_ids", "prune"):
        original = getattr(_asset_events, name)

        def counted(*args, _name=name, _original=original, **kwargs):
            calls.append(_name)
            return _original(*args, **kwargs)

        monkeypatch.setattr(_asset_events, name, counted)
    with create_session() as session:
        session.execute(update(DagModel).values(is_paused=True))
    idle = EventSweeper(read_settings())
    for _ in range(5):
        idle.run_once()
    assert idle.passes == 0 and calls == []  # one cheap check, then nothing until the next one
    from airflow_provider_attendee.plugins import event_sweeper

    monkeypatch.setattr(event_sweeper, "_sweeper", idle)
    event_sweeper.wake()  # a delivery created an asset event: the idle wait ends at once
    assert idle.idle_until == 0.0
    with create_session() as session:
        session.execute(update(DagModel).where(DagModel.dag_id == DAG_ID).values(is_paused=False))
    busy = EventSweeper(read_settings())
    busy.run_once()
    assert busy.passes == 1 and calls == ["reconcile", "catch_up_conn_ids", "prune"]


@pytest.mark.attendee_simulator(scenario="demo")
def test_the_catch_up_emits_meetings_push_missed_once_and_respects_the_lease(attendee_simulator):
    from datetime import timedelta as td

    from airflow_provider_attendee.hooks.attendee import AttendeeHook
    from airflow_provider_attendee.plugins.catch_up import catch_up

    sim = attendee_simulator
    with AttendeeHook() as hook:
        live = [
            hook.create_bot("https://meet.google.com/abc-defg-hij", bot_name=f"L{i}").id for i in range(3)
        ]
    first = catch_up("attendee_default", {"ended"}, "proc-a", td(minutes=1))
    assert first.emitted == []  # starts from now
    with AttendeeHook() as hook:  # created and finished between two looks: only the list's tail shows it
        quick = hook.create_bot("https://meet.google.com/bcd-efgh-ijk", bot_name="Quick").id
    sim.admin.advance(3600)
    record(live[0])  # push got this one through
    assert catch_up("attendee_default", {"ended"}, "proc-b", td(minutes=1)).skipped  # proc-a holds it
    sim.admin.reset_counters()
    second = catch_up("attendee_default", {"ended"}, "proc-a", td(minutes=1))
    assert sorted(second.emitted) == sorted([*live[1:], quick]) and second.already == []
    requests = sim.admin.counters()["requests"]
    # Live list and tail one page each, one look-up per bot that left the live list and that push did
    # not record (the pushed one costs nothing): nothing per old bot.
    assert requests == {"GET /api/v1/bots": 2, "GET /api/v1/bots/{bot_id}": 2}, requests
    assert catch_up("attendee_default", {"ended"}, "proc-a", td(minutes=1)).emitted == []  # once
    assert catch_up("attendee_default", {"ended"}, "proc-b", td(minutes=1)).skipped  # still proc-a's
    from airflow_provider_attendee.plugins._asset_events import release_catch_up

    assert release_catch_up("proc-a") == 1  # proc-a exits cleanly: proc-b takes over at once, where it was
    taken_over = catch_up("attendee_default", {"ended"}, "proc-b", td(minutes=1))
    assert not taken_over.skipped and taken_over.emitted == []
    emitted = [b for b, e in event_ids().items() if b in {*live, quick}]
    assert sorted(emitted) == sorted([*live, quick])  # one event each (event_ids keeps one per bot)
    from airflow.models.asset import AssetEvent
    from airflow.utils.session import create_session
    from sqlalchemy import func, select

    with create_session() as session:
        assert session.scalar(select(func.count()).select_from(AssetEvent)) == 4
