"""The one place that uses Airflow internals: recording asset events in the metadata DB, making sure each
``attendee://`` event is consumed by exactly one run of every DAG scheduled on it, and listing the
connections the catch-up looks at (``listable_conn_ids``: Airflow 3.1 to 3.3 have no public in-process API
for any of these).

**Why.** Airflow's scheduler creates an asset-triggered run for the events timestamped up to the newest
queue row (``asset_dag_run_queue.created_at``), and the next run takes only events newer than that run's
``run_after``. An event's timestamp is taken when its transaction flushes, not when it commits: an event
that commits after a run was created but is timestamped before its ``run_after`` is consumed by no run, ever
(apache/airflow #54659, #56749; fixed upstream by PR #70972, in no release this provider supports). And an
event whose queue row merged into an older one that the scheduler then deleted waits for the next event.

**What this module does about it.**

- *Serialised writes.* Every write here (a group of webhook deliveries, see ``delivery_batches``; a
  caught-up meeting, a re-queue, a run) first takes one row lock (``attendee_event_lock``, an ``UPDATE``:
  a row lock on PostgreSQL and MySQL, the write lock on SQLite), so its timestamps are taken after every
  earlier write committed: among them, timestamp order is commit order, across API-server processes and
  workers (the events of one group commit together).
- *Queue rows dated after each write* (``_advance_queue``): Airflow dates an asset's queue row for a DAG
  when it is first inserted, and a run takes the events up to that date; the events written while the DAG
  was already queued would be left to no run. Each write here dates the rows of its assets again, after its
  events, so the next run takes them too (else the reconciliation below would, after its grace).
- *Reconciliation* (``reconcile``, every second in the API server): for each unpaused DAG scheduled on an
  ``attendee://`` asset, the events no run of that DAG consumed (judged by the event-to-run link,
  ``dagrun_asset_event``), older than a grace period. Newer than the DAG's last asset run: the DAG is queued
  again (the scheduler's next run takes them). Older (written concurrently by another writer, e.g. the
  triggerer): no scheduler run can take them any more, so a run is created here that consumes exactly them,
  with ``run_after`` at their timestamp so no later run takes them too.
- *One event per meeting.* ``attendee_finished_meeting`` holds each (bot, state) pushed or caught up:
  whichever path records a meeting first emits it, the other does not.
- *Bounded storage.* ``prune`` deletes deliveries, meetings and noted refusals older than the retention.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import tenacity
from sqlalchemy import (
    delete,
    exists,
    func,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.exc import IntegrityError, OperationalError

from airflow_provider_attendee.db.tables import (
    LOCK_NAME,
    OWN_TABLES,
    catch_up_states,
    deliveries,
    finished_meetings,
    locks,
    refusals,
)

__all__ = [
    "LOCK_NAME",
    "OWN_TABLES",
    "catch_up_states",
    "deliveries",
    "finished_meetings",
    "locks",
    "refusals",
]

log = logging.getLogger(__name__)

#: A connection's refusals are noted at most this often (each one costs a write otherwise).
REFUSAL_NOTE_EVERY = timedelta(minutes=1)

_created_for: set[int] = set()
_create_lock = threading.Lock()
_models_lock = threading.Lock()
_models_loaded = False


def load_models() -> None:
    """Import and configure Airflow's ORM models once, in one thread: deliveries are handled in a thread
    pool, and concurrent first imports deadlock (a model module's import lock against SQLAlchemy's
    configure mutex; seen with Attendee delivering webhooks concurrently). Configuring first takes the
    mutex before the imports, in the order Airflow's own ``before_configured`` hook does. Idempotent."""
    global _models_loaded
    with _models_lock:
        if not _models_loaded:
            from airflow.models import import_all_models
            from sqlalchemy.orm import configure_mappers

            configure_mappers()
            import_all_models()  # the asset models' mappers refer to others (Trigger, DagModel)
            import airflow.assets.manager
            import airflow.models.asset
            import airflow.models.dagrun
            import airflow.models.serialized_dag
            import airflow.utils.session  # noqa: F401

            _models_loaded = True


class DuplicateDelivery(Exception):
    """This idempotency key was recorded before."""


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _ensure_tables(session: Any) -> None:
    """The provider's tables at the migrations' head (``db.manager``: ``airflow db migrate`` normally did
    it), and the lock row, once per process and database."""
    engine = session.get_bind()
    with _create_lock:
        if id(engine) in _created_for:
            return
        from airflow_provider_attendee.db.manager import ensure_current

        ensure_current(engine)
        with contextlib.suppress(IntegrityError), engine.begin() as connection:
            if connection.execute(select(locks.c.name).where(locks.c.name == LOCK_NAME)).first() is None:
                connection.execute(locks.insert().values(name=LOCK_NAME, counter=0))
        _created_for.add(id(engine))


#: Threads of one process queue here rather than in SQLite's busy handler (which is not fair).
_process_lock = threading.Lock()
#: ``session.info`` key of the seconds ``locked_session`` waited for the database's write lock.
LOCK_WAIT_KEY = "attendee_lock_wait_seconds"


def _locked_out(error: BaseException) -> bool:
    """SQLite's "database is locked", or PostgreSQL's lock timeout (see ``locked_session``)."""
    text = str(error).lower()
    return isinstance(error, OperationalError) and ("locked" in text or "lock timeout" in text)


#: A transaction that met "database is locked" (SQLite: another process held the file past the busy
#: timeout) was rolled back whole: it is tried again.
retry_locked_out = tenacity.retry(
    retry=tenacity.retry_if_exception(_locked_out),
    stop=tenacity.stop_after_attempt(6),
    wait=tenacity.wait_random_exponential(multiplier=0.2, max=3),
    reraise=True,
)


@contextlib.contextmanager
def locked_session() -> Iterator[Any]:
    """A metadata-DB session holding the module's write lock until it commits (on leaving the block)."""
    load_models()
    from airflow.utils.session import create_session

    with _process_lock, create_session() as session:
        _ensure_tables(session)
        if session.get_bind().dialect.name == "postgresql":
            # Never wait long while holding the lock (e.g. on a queue row a slow scheduler transaction
            # is deleting): give up, let the others through, and try again (retry_locked_out).
            session.execute(text("SET LOCAL lock_timeout = '3s'"))
        waiting = time.monotonic()
        session.execute(update(locks).where(locks.c.name == LOCK_NAME).values(counter=locks.c.counter + 1))
        # How long the lock took (other writers ahead), for the receiver's log line: where a delivery's
        # time goes in a surge.
        session.info[LOCK_WAIT_KEY] = time.monotonic() - waiting
        yield session


@contextlib.contextmanager
def _plain_session() -> Iterator[Any]:
    load_models()
    from airflow.utils.session import create_session

    with create_session() as session:
        _ensure_tables(session)
        yield session


def _register(session: Any, uri: str, extra: dict[str, Any]) -> int | None:
    """One asset event on ``uri`` (and its DAGs queued), if an asset with that URI exists: its asset's id."""
    from airflow.assets.manager import asset_manager
    from airflow.models.asset import AssetModel

    asset = session.scalar(select(AssetModel).where(AssetModel.uri == uri))
    if asset is None:
        return None
    event = asset_manager.register_asset_change(asset=asset, extra=extra, session=session)
    return None if event is None else int(asset.id)


def _advance_queue(session: Any, asset_ids: set[int]) -> None:
    """Date the DAG-run queue rows of these assets now, after this transaction's events were written.

    Airflow keeps one queue row per asset and DAG, dated when it was first inserted (a later event's insert
    does nothing), and an asset-triggered run takes the events up to the newest row's date. Without this, in
    a surge the events written after a row was first queued would be left to no run when the scheduler
    consumes that row, until the sweeper queued the DAG again (its 2 s grace: most of the surge's tail).
    With it, the run that consumes the row takes them too. A row the scheduler is consuming meanwhile is
    waited for (PostgreSQL: its row lock) and, once deleted, inserted anew. Best effort: an error other
    than a lock time-out (retried with the whole transaction) is logged, and the sweeper repairs instead."""
    if not asset_ids:
        return
    try:
        with session.begin_nested():
            _upsert_queue_rows(session, asset_ids)
    except Exception as err:
        if _locked_out(err):
            raise
        log.warning(
            "Could not date the DAG-run queue rows of assets %s (%s); the sweeper queues their DAGs again",
            sorted(asset_ids),
            err,
        )


def _upsert_queue_rows(session: Any, asset_ids: set[int]) -> None:
    from airflow.models.asset import AssetDagRunQueue

    queued = session.execute(
        select(AssetDagRunQueue.asset_id, AssetDagRunQueue.target_dag_id).where(
            AssetDagRunQueue.asset_id.in_(sorted(asset_ids))
        )
    ).all()
    if not queued:
        return
    now = _now()  # after every event of the transaction was flushed: no earlier than their timestamps
    rows = [{"asset_id": asset_id, "target_dag_id": dag_id, "created_at": now} for asset_id, dag_id in queued]
    dialect = session.get_bind().dialect.name
    if dialect == "mysql":
        from sqlalchemy.dialects.mysql import insert as mysql_insert

        mysql_upsert = mysql_insert(AssetDagRunQueue).values(rows)
        session.execute(mysql_upsert.on_duplicate_key_update(created_at=mysql_upsert.inserted.created_at))
        return
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert  # type: ignore[assignment]
    upsert = insert(AssetDagRunQueue).values(rows)
    session.execute(
        upsert.on_conflict_do_update(
            index_elements=[AssetDagRunQueue.asset_id, AssetDagRunQueue.target_dag_id],
            set_={"created_at": upsert.excluded.created_at},
        )
    )


def _meeting_recorded(session: Any, bot_id: str, state: str) -> str | None:
    """How (``webhook`` or ``catch_up``) the meeting was recorded before, if it was."""
    return session.scalar(
        select(finished_meetings.c.source).where(
            finished_meetings.c.bot_id == bot_id, finished_meetings.c.state == state
        )
    )


def _record_meeting(session: Any, bot_id: str, state: str, source: str, conn_id: str | None) -> None:
    session.execute(
        finished_meetings.insert().values(
            bot_id=bot_id, state=state, source=source, conn_id=conn_id, recorded_at=_now()
        )
    )


@dataclass(frozen=True)
class Delivery:
    """One verified webhook delivery, as the receiver hands it over for recording."""

    idempotency_key: str
    trigger: str
    bot_id: str | None
    asset_uris: list[str]
    extra: dict[str, Any]
    #: A ``bot.state_change`` into a terminal state: the meeting it finishes (one event per meeting).
    meeting_state: str | None = None
    conn_id: str | None = None


@dataclass
class Recorded:
    """What a delivery produced: the URIs that got an event, and the meeting's earlier source if the
    meeting (bot and state) was already emitted (then its ``attendee://bots/<state>`` event is not)."""

    asset_uris: list[str]
    already_from: str | None = None
    #: Seconds the batch's transaction waited for the write lock, and took in all (its last attempt, lock
    #: included); the deliveries recorded in that one transaction.
    lock_wait_seconds: float = 0.0
    seconds: float = 0.0
    batch_size: int = 1
    #: Seconds the delivery waited for its batch to start (``delivery_batches``: the batch before it).
    queued_seconds: float = 0.0
    #: The assets that got an event (their DAG-run queue rows are dated after the batch: ``_advance_queue``).
    asset_ids: set[int] = field(default_factory=set)


def _record_one(session: Any, delivery: Delivery) -> Recorded:
    """Store one delivery and its asset events in ``session`` (the caller holds the write lock)."""
    if session.execute(
        select(deliveries.c.idempotency_key).where(deliveries.c.idempotency_key == delivery.idempotency_key)
    ).first():
        raise DuplicateDelivery(delivery.idempotency_key)
    already = None
    uris = list(delivery.asset_uris)
    if delivery.bot_id and delivery.meeting_state:
        already = _meeting_recorded(session, delivery.bot_id, delivery.meeting_state)
        if already:
            uris = [uri for uri in uris if uri != f"attendee://bots/{delivery.meeting_state}"]
        else:
            _record_meeting(session, delivery.bot_id, delivery.meeting_state, "webhook", delivery.conn_id)
    assets = {uri: _register(session, uri, delivery.extra) for uri in uris}
    recorded = [uri for uri, asset_id in assets.items() if asset_id is not None]
    session.execute(
        deliveries.insert().values(
            idempotency_key=delivery.idempotency_key,
            trigger=delivery.trigger,
            bot_id=delivery.bot_id,
            conn_id=delivery.conn_id,
            received_at=_now(),
            asset_uris=json.dumps(recorded),
        )
    )
    session.flush()
    return Recorded(recorded, already, asset_ids={a for a in assets.values() if a is not None})


@retry_locked_out
def record_deliveries(batch: list[Delivery]) -> list[Recorded | Exception]:
    """Record deliveries in one transaction under the write lock (group commit: one lock and one commit
    for all, instead of each delivery queueing for its own), each in its own savepoint, so that one that
    fails (a replay: ``DuplicateDelivery``) leaves the others recorded. One result per delivery, in order:
    its ``Recorded``, or the exception it met. Nothing is recorded until the whole batch commits; a lock
    time-out rolls the whole batch back and tries it again."""
    started = time.monotonic()
    results: list[Recorded | Exception] = []
    with locked_session() as session:
        for delivery in batch:
            try:
                with session.begin_nested():
                    results.append(_record_one(session, delivery))
            except IntegrityError:  # the same key, concurrently: the other request recorded it
                results.append(DuplicateDelivery(delivery.idempotency_key))
            except Exception as err:
                if _locked_out(err):
                    raise
                results.append(err)
        _advance_queue(session, {a for r in results if isinstance(r, Recorded) for a in r.asset_ids})
        lock_wait = float(session.info.get(LOCK_WAIT_KEY, 0.0))
    took = time.monotonic() - started
    for result in results:
        if isinstance(result, Recorded):
            result.lock_wait_seconds, result.seconds, result.batch_size = lock_wait, took, len(batch)
    return results


def record_delivery(**fields: Any) -> Recorded:
    """Record one delivery (``Delivery``'s fields) in a transaction of its own; raises what it met
    (``DuplicateDelivery`` for a key recorded before)."""
    (result,) = record_deliveries([Delivery(**fields)])
    if isinstance(result, Exception):
        raise result
    return result


@retry_locked_out
def record_caught_up(*, bot_id: str, state: str, conn_id: str, extra: dict[str, Any]) -> str | None:
    """Emit a meeting found by the catch-up, unless push (or an earlier catch-up) emitted it. Returns
    None when it was emitted now, else how it had been recorded."""
    with locked_session() as session:
        already = _meeting_recorded(session, bot_id, state)
        if already:
            return already
        _record_meeting(session, bot_id, state, "catch_up", conn_id)
        asset_id = _register(session, f"attendee://bots/{state}", extra)
        _advance_queue(session, set() if asset_id is None else {asset_id})
    return None


def finished_bots(bot_ids: set[str]) -> set[str]:
    """Those of ``bot_ids`` whose finish was recorded (pushed or caught up): the catch-up skips them."""
    if not bot_ids:
        return set()
    load_models()
    from airflow.utils.session import create_session

    with create_session() as session:
        _ensure_tables(session)
        rows = session.execute(
            select(finished_meetings.c.bot_id).where(finished_meetings.c.bot_id.in_(sorted(bot_ids)))
        )
        return {str(bot_id) for (bot_id,) in rows}


def catch_up_conn_ids() -> list[str]:
    """The connections deliveries named within the retention, accepted or refused (their meetings are
    caught up)."""
    load_models()
    from airflow.utils.session import create_session

    with create_session() as session:
        _ensure_tables(session)
        delivered = session.execute(
            select(deliveries.c.conn_id).where(deliveries.c.conn_id.is_not(None)).distinct()
        )
        refused = session.execute(select(refusals.c.conn_id))
        return sorted({str(conn_id) for (conn_id,) in [*delivered, *refused]})


#: The prefix of connections given as environment variables (Airflow's EnvironmentVariablesBackend).
CONN_ENV_PREFIX = "AIRFLOW_CONN_"


def listable_conn_ids(conn_type: str, *also: str) -> set[str]:
    """The ids of the connections a server process can list: in the metadata DB, those of ``conn_type``
    and those named in ``also`` (whatever their type); and every ``AIRFLOW_CONN_<ID>`` variable (as
    ``<id>`` lower-cased, the form Airflow looks up; its type is known once read: resolve each with
    ``_compat.server_connection``). Connections in other secrets backends (Vault, AWS, ...) cannot be
    listed."""
    import os

    load_models()
    from airflow.models.connection import Connection
    from airflow.utils.session import create_session

    ids = {
        name[len(CONN_ENV_PREFIX) :].lower()
        for name in os.environ
        if name.startswith(CONN_ENV_PREFIX) and len(name) > len(CONN_ENV_PREFIX)
    }
    with create_session() as session:
        rows = session.scalars(
            select(Connection.conn_id).where(
                or_(Connection.conn_type == conn_type, Connection.conn_id.in_(sorted(also)))
            )
        )
        ids |= {str(conn_id) for conn_id in rows}
    return ids


@retry_locked_out
def note_refusal(conn_id: str) -> None:
    """A delivery naming ``conn_id`` (an existing connection: the caller checked) was refused: catch the
    connection up from now on, as one that delivers. Written at most once a minute per connection."""
    now = _now()
    try:
        with _plain_session() as session:
            last = session.scalar(select(refusals.c.refused_at).where(refusals.c.conn_id == conn_id))
            if last is None:
                session.execute(refusals.insert().values(conn_id=conn_id, refused_at=now))
            elif _aware(last) < now - REFUSAL_NOTE_EVERY:
                session.execute(update(refusals).where(refusals.c.conn_id == conn_id).values(refused_at=now))
    except IntegrityError:  # another request noted it at the same moment
        pass


def catch_up_started(conn_id: str) -> bool:
    """Whether the catch-up has looked at ``conn_id`` (its position is saved): a meeting finishing now is
    found by its next look; before that, only by the first look's reach-back."""
    load_models()
    from airflow.utils.session import create_session

    with create_session() as session:
        _ensure_tables(session)
        state = session.scalar(select(catch_up_states.c.state).where(catch_up_states.c.conn_id == conn_id))
        return state is not None


def emitted_meetings(
    states: set[str], since: datetime, bot_ids: set[str] | None = None
) -> set[tuple[str, str]]:
    """(bot id, state) of every ``attendee://bots/<state>`` asset event since ``since`` (of ``bot_ids``
    only, when given), whoever wrote it: push, the catch-up, a polling watcher, the REST API. The
    catch-up checks what it found against it, so that a meeting a watcher emitted (before a switch to
    push, or polling the same connection) is not emitted again."""
    if not states:
        return set()
    load_models()
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session

    uris = {f"attendee://bots/{state}": state for state in states}
    with create_session() as session:
        rows = session.execute(
            select(AssetModel.uri, AssetEvent.extra)
            .join(AssetModel, AssetModel.id == AssetEvent.asset_id)
            .where(AssetModel.uri.in_(sorted(uris)), AssetEvent.timestamp >= since)
        )
        found = set()
        for uri, extra in rows:
            payload = (extra or {}).get("payload") if isinstance(extra, dict) else None
            bot_id = payload.get("bot_id") if isinstance(payload, dict) else None
            if bot_id and (bot_ids is None or str(bot_id) in bot_ids):
                found.add((str(bot_id), uris[uri]))
        return found


def scheduled_attendee_uris() -> set[str]:
    """The ``attendee://`` asset URIs an unpaused DAG is scheduled on (empty: nothing to do here)."""
    load_models()
    from airflow.models.asset import AssetModel, DagScheduleAssetReference
    from airflow.models.dag import DagModel
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = session.execute(
            select(AssetModel.uri)
            .join(DagScheduleAssetReference, DagScheduleAssetReference.asset_id == AssetModel.id)
            .join(DagModel, DagModel.dag_id == DagScheduleAssetReference.dag_id)
            .where(AssetModel.uri.like("attendee://%"), DagModel.is_paused.is_(False))
            .distinct()
        )
        return {str(uri) for (uri,) in rows}


@retry_locked_out
def claim_catch_up(conn_id: str, owner: str, lease: timedelta) -> tuple[bool, Any]:
    """Take (or renew) this process's lease on the connection's catch-up: ``(True, saved state)``, or
    ``(False, None)`` while another process holds it (one catch-up per connection, however many API
    server processes run)."""
    now = _now()
    with locked_session() as session:
        row = session.execute(select(catch_up_states).where(catch_up_states.c.conn_id == conn_id)).first()
        if row is None:
            session.execute(
                catch_up_states.insert().values(conn_id=conn_id, lease_owner=owner, lease_until=now + lease)
            )
            return True, None
        until = row.lease_until
        if until is not None and until.tzinfo is None:
            until = until.replace(tzinfo=timezone.utc)
        if row.lease_owner not in (None, owner) and until is not None and until > now:
            return False, None
        session.execute(
            update(catch_up_states)
            .where(catch_up_states.c.conn_id == conn_id)
            .values(lease_owner=owner, lease_until=now + lease)
        )
        return True, json.loads(row.state) if row.state else None


@retry_locked_out
def save_catch_up(conn_id: str, owner: str, state: dict[str, Any]) -> None:
    """Store the catch-up's position (only while this process holds the lease)."""
    with locked_session() as session:
        session.execute(
            update(catch_up_states)
            .where(catch_up_states.c.conn_id == conn_id, catch_up_states.c.lease_owner == owner)
            .values(state=json.dumps(state))
        )


@retry_locked_out
def release_catch_up(owner: str) -> int:
    """Give up this process's catch-up leases (a clean shutdown), so that the next process catches up at
    once instead of waiting for them to lapse; the connections released."""
    with locked_session() as session:
        released = session.execute(
            update(catch_up_states)
            .where(catch_up_states.c.lease_owner == owner)
            .values(lease_owner=None, lease_until=None)
        ).rowcount
    return int(released or 0)


@retry_locked_out
def prune(retention: timedelta) -> int:
    """Delete deliveries, emitted meetings and noted refusals older than ``retention``; the rows deleted."""
    cutoff = _now() - retention
    with locked_session() as session:
        gone = session.execute(delete(deliveries).where(deliveries.c.received_at < cutoff)).rowcount or 0
        gone += (
            session.execute(
                delete(finished_meetings).where(finished_meetings.c.recorded_at < cutoff)
            ).rowcount
            or 0
        )
        gone += session.execute(delete(refusals).where(refusals.c.refused_at < cutoff)).rowcount or 0
    return int(gone)


def _any_of(condition: Any) -> bool:
    """Whether a DAG's asset condition is met by any one of its assets (a run may consume one event)."""
    name = type(condition).__name__
    if name.endswith("AssetAny") or name in ("Asset", "SerializedAsset"):
        return True
    return name.endswith("AssetAll") and len(getattr(condition, "objects", ())) == 1


@dataclass
class Repair:
    """One action of ``reconcile``: a DAG queued again, or a run created for events no run can take."""

    dag_id: str
    action: str  # "requeued" | "run_created"
    event_ids: list[int]
    run_id: str | None = None


def _unconsumed(session: Any, dag_id: str, floor: datetime, cutoff: datetime) -> list[Any]:
    from airflow.models.asset import AssetEvent, AssetModel, DagScheduleAssetReference
    from airflow.models.asset import association_table as consumed
    from airflow.models.dagrun import DagRun

    taken = (
        select(consumed.c.event_id)
        .join(DagRun, DagRun.id == consumed.c.dag_run_id)
        .where(DagRun.dag_id == dag_id, consumed.c.event_id == AssetEvent.id)
    )
    return list(
        session.scalars(
            select(AssetEvent)
            .join(DagScheduleAssetReference, DagScheduleAssetReference.asset_id == AssetEvent.asset_id)
            .join(AssetModel, AssetModel.id == AssetEvent.asset_id)
            .where(
                DagScheduleAssetReference.dag_id == dag_id,
                AssetModel.uri.like("attendee://%"),
                AssetEvent.timestamp > floor,
                AssetEvent.timestamp <= cutoff,
                ~exists(taken),
            )
            .order_by(AssetEvent.timestamp, AssetEvent.id)
        )
    )


def _create_run(
    session: Any, dag_id: str, events: list[Any], run_after: datetime | None = None
) -> str | None:
    """An asset-triggered run of ``dag_id`` consuming exactly ``events`` (as the scheduler creates one),
    timestamped at ``run_after`` (default: the newest of them); None when the DAG is not serialized or
    needs several assets."""
    from airflow.models.dagrun import DagRun
    from airflow.models.serialized_dag import SerializedDagModel
    from airflow.utils.state import DagRunState
    from airflow.utils.types import DagRunTriggeredByType, DagRunType

    serialized = SerializedDagModel.get(dag_id=dag_id, session=session)
    if serialized is None:
        return None
    serialized.load_op_links = False
    dag = serialized.dag
    if not _any_of(getattr(dag.timetable, "asset_condition", None)):
        return None
    run_after = run_after or max(event.timestamp for event in events)
    run = dag.create_dagrun(
        run_id=DagRun.generate_run_id(
            run_type=DagRunType.ASSET_TRIGGERED, logical_date=None, run_after=run_after
        ),
        logical_date=None,
        data_interval=None,
        run_after=run_after,
        run_type=DagRunType.ASSET_TRIGGERED,
        triggered_by=DagRunTriggeredByType.ASSET,
        state=DagRunState.QUEUED,
        creating_job_id=None,
        session=session,
    )
    run.consumed_asset_events.extend(events)
    return str(run.run_id)


def _attendee_dags(session: Any) -> list[tuple[str, datetime]]:
    """Unpaused DAGs scheduled on an ``attendee://`` asset, each with when it started listening."""
    from airflow.models.asset import AssetModel, DagScheduleAssetReference
    from airflow.models.dag import DagModel

    return [
        (str(dag_id), since)
        for dag_id, since in session.execute(
            select(DagScheduleAssetReference.dag_id, func.min(DagScheduleAssetReference.created_at))
            .join(AssetModel, AssetModel.id == DagScheduleAssetReference.asset_id)
            .join(DagModel, DagModel.dag_id == DagScheduleAssetReference.dag_id)
            .where(AssetModel.uri.like("attendee://%"), DagModel.is_paused.is_(False))
            .group_by(DagScheduleAssetReference.dag_id)
        )
    ]


def _last_asset_run(session: Any, dag_id: str) -> datetime | None:
    from airflow.models.dagrun import DagRun
    from airflow.utils.types import DagRunType

    return session.scalar(
        select(func.max(DagRun.run_after)).where(
            DagRun.dag_id == dag_id, DagRun.run_type == DagRunType.ASSET_TRIGGERED
        )
    )


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def _repair_dag(session: Any, dag_id: str, floor: datetime, cutoff: datetime) -> list[Repair]:
    """Read in this order (last run, queue, events): a run the scheduler commits meanwhile has consumed
    its events by the time they are read, so they are never taken for stranded ones."""
    from airflow.models.asset import AssetDagRunQueue

    last = _last_asset_run(session, dag_id)
    queued = session.scalar(
        select(func.count()).select_from(AssetDagRunQueue).where(AssetDagRunQueue.target_dag_id == dag_id)
    )
    events = _unconsumed(session, dag_id, floor, cutoff)
    stranded = [e for e in events if last is not None and _aware(e.timestamp) <= _aware(last)]
    waiting = [e for e in events if e not in stranded]
    repairs = []
    if stranded:
        run_id = _create_run(session, dag_id, stranded)
        if run_id:
            repairs.append(Repair(dag_id, "run_created", [e.id for e in stranded], run_id))
    if waiting and not queued:
        session.add(AssetDagRunQueue(asset_id=waiting[-1].asset_id, target_dag_id=dag_id))
        session.flush()
        repairs.append(Repair(dag_id, "requeued", [e.id for e in waiting]))
    return repairs


def reconcile(
    grace: timedelta = timedelta(seconds=2), lookback: timedelta = timedelta(hours=6)
) -> list[Repair]:
    """Get every ``attendee://`` event left unconsumed (older than ``grace``, newer than ``lookback``)
    consumed by one run of each DAG scheduled on it (see the module docstring); the repairs made."""
    load_models()
    from airflow.utils.session import create_session

    now = _now()
    cutoff = now - grace
    with create_session() as session:  # a read-only look first: the common case needs no lock
        candidates = [
            (dag_id, floor)
            for dag_id, since in _attendee_dags(session)
            if _unconsumed(session, dag_id, floor := max(_aware(since), now - lookback), cutoff)
        ]
    repairs: list[Repair] = []
    for dag_id, floor in candidates:
        repairs += _repair_locked(dag_id, floor, cutoff)
    return repairs


@retry_locked_out
def _repair_locked(dag_id: str, floor: datetime, cutoff: datetime) -> list[Repair]:
    with locked_session() as session:  # looked at again under the lock (another API server may act)
        return _repair_dag(session, dag_id, floor, cutoff)
