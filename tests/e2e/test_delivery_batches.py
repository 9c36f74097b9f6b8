"""Group commit of webhook deliveries (``plugins.delivery_batches``) against a migrated Airflow DB: one
transaction records many deliveries, a replay in a batch leaves the others recorded, deliveries arriving
while a batch is written go into the next one, and a failed batch fails only its own deliveries."""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import Future

import pytest

from airflow_provider_attendee.plugins._asset_events import (
    Delivery,
    DuplicateDelivery,
    Recorded,
    record_deliveries,
)
from airflow_provider_attendee.plugins.delivery_batches import DeliveryBatcher

ENDED = "attendee://bots/ended"
pytestmark = pytest.mark.usefixtures("post_meeting_db")


def ended(bot_id: str, key: str | None = None) -> Delivery:
    return Delivery(
        idempotency_key=key or str(uuid.uuid4()),
        trigger="bot.state_change",
        bot_id=bot_id,
        asset_uris=[ENDED, "attendee://webhooks/bot.state_change"],
        extra={"payload": {"bot_id": bot_id, "state": "ended"}, "source": "webhook"},
        meeting_state="ended",
        conn_id="attendee_default",
    )


def ended_events() -> dict[str, int]:
    """Bot id -> how many attendee://bots/ended events it has."""
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    counts: dict[str, int] = {}
    with create_session() as session:
        for (extra,) in session.execute(
            select(AssetEvent.extra)
            .join(AssetModel, AssetModel.id == AssetEvent.asset_id)
            .where(AssetModel.uri == ENDED)
        ):
            bot_id = extra["payload"]["bot_id"]
            counts[bot_id] = counts.get(bot_id, 0) + 1
    return counts


def recorded_keys() -> set[str]:
    from airflow.utils.session import create_session
    from sqlalchemy import select

    from airflow_provider_attendee.plugins._asset_events import deliveries

    with create_session() as session:
        return {str(key) for (key,) in session.execute(select(deliveries.c.idempotency_key))}


def test_a_batch_records_each_delivery_once_and_refuses_only_the_replays():
    earlier = ended("bot_earlier")
    assert isinstance(record_deliveries([earlier])[0], Recorded)
    twice = ended("bot_twice")
    batch = [ended("bot_a"), earlier, twice, ended("bot_b"), twice, ended("bot_earlier")]

    results = record_deliveries(batch)

    assert [type(r).__name__ for r in results] == [
        "Recorded",
        "DuplicateDelivery",  # recorded by an earlier transaction
        "Recorded",
        "Recorded",
        "DuplicateDelivery",  # the same key earlier in this batch
        "Recorded",  # a new delivery of a meeting already emitted: recorded, no second event
    ]
    first = results[0]
    assert isinstance(first, Recorded) and first.batch_size == 6
    assert first.asset_uris == [ENDED]  # no DAG is scheduled on attendee://webhooks/... here
    late = results[5]
    assert isinstance(late, Recorded) and late.already_from == "webhook" and late.asset_uris == []
    assert ended_events() == {"bot_earlier": 1, "bot_twice": 1, "bot_a": 1, "bot_b": 1}
    assert {d.idempotency_key for d in batch} <= recorded_keys()


class Gate:
    """A recorder that holds its first batch until ``release`` is set (``entered`` says it is held)."""

    def __init__(self) -> None:
        self.entered, self.release = threading.Event(), threading.Event()

    def __call__(self, batch: list[Delivery]) -> list[Recorded | Exception]:
        if not self.entered.is_set():
            self.entered.set()
            self.release.wait(30)
        return record_deliveries(batch)


def gated_batcher() -> tuple[DeliveryBatcher, threading.Event, threading.Event]:
    """A batcher whose writer is held in its first batch: (batcher, entered, release)."""
    gate = Gate()
    return DeliveryBatcher(record=gate), gate.entered, gate.release


def test_deliveries_arriving_during_a_write_go_into_the_next_batch():
    """The first delivery is written alone and at once; twenty arriving while it is written wait and are
    written together, in one transaction."""
    batcher, entered, release = gated_batcher()
    first = batcher.submit(ended("bot_first"))
    assert entered.wait(30)
    rest = [batcher.submit(ended(f"bot_{i}")) for i in range(20)]
    assert not any(f.done() for f in [first, *rest])  # nothing answered before its commit
    release.set()
    results = [f.result(timeout=60) for f in [first, *rest]]

    assert list(batcher.batch_sizes) == [1, 20] and (batcher.batches, batcher.deliveries) == (2, 21)
    assert [r.batch_size for r in results] == [1] + [20] * 20
    assert ended_events() == {"bot_first": 1, **{f"bot_{i}": 1 for i in range(20)}}


def test_a_failed_batch_fails_its_own_deliveries_and_the_writer_goes_on():
    calls: list[int] = []

    def flaky(batch: list[Delivery]) -> list[Recorded | Exception]:
        calls.append(len(batch))
        if len(calls) == 1:
            raise RuntimeError("the metadata database went away")
        return record_deliveries(batch)

    batcher = DeliveryBatcher(record=flaky)
    lost: Future[Recorded] = batcher.submit(ended("bot_lost"))
    with pytest.raises(RuntimeError, match="went away"):
        lost.result(timeout=60)
    assert isinstance(batcher.submit(ended("bot_next")).result(timeout=60), Recorded)
    assert ended_events() == {"bot_next": 1}  # the failed one was not recorded: Attendee sends it again


def test_a_delivery_whose_request_went_away_is_recorded_and_the_others_answered():
    """A cancelled future (its HTTP request was dropped) does not stop the writer from settling the rest."""
    batcher, entered, release = gated_batcher()
    warm = batcher.submit(ended("bot_warm"))  # the writer is busy with this one
    assert entered.wait(30)
    gone, kept = batcher.submit(ended("bot_gone")), batcher.submit(ended("bot_kept"))
    assert gone.cancel()
    release.set()
    assert isinstance(kept.result(timeout=60), Recorded) and isinstance(warm.result(timeout=60), Recorded)
    assert isinstance(batcher.submit(ended("bot_after")).result(timeout=60), Recorded)
    assert ended_events() == {"bot_warm": 1, "bot_gone": 1, "bot_kept": 1, "bot_after": 1}


def test_a_replay_surfaces_as_duplicate_delivery_through_the_batcher():
    batcher = DeliveryBatcher()
    delivery = ended("bot_again")
    batcher.submit(delivery).result(timeout=60)
    with pytest.raises(DuplicateDelivery):
        batcher.submit(delivery).result(timeout=60)
    assert ended_events() == {"bot_again": 1}
