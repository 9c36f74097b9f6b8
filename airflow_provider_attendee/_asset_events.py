"""The one place that uses Airflow internals: recording a webhook delivery and its asset events in the
metadata DB, in one transaction (Airflow 3.1 to 3.3 have no public in-process API for it).

Airflow's scheduler may leave asset events behind: it creates a run for the events up to the time the
DAG was first queued, then deletes the queue row, so events that arrived in between (meetings ending in
the same second) wait for the next event, possibly the next day. ``requeue_left_behind`` queues such a
DAG again; the plugin runs it every second in the API server.

A delivery is stored in the table ``attendee_webhook_delivery`` (created on first use, keyed by Attendee's
``idempotency_key``) in the same transaction as its asset events: a delivery is recorded exactly once,
and either with all its asset events or not at all. The scheduler turns the events into DAG runs when it
next looks, so a delivery accepted while the scheduler is down is processed when it returns.
"""

from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import Column, DateTime, MetaData, String, Table, Text, func, inspect, select
from sqlalchemy.exc import IntegrityError, OperationalError

_metadata = MetaData()

#: Deliveries received: the de-duplication record (and an audit trail: when, which trigger, which bot).
deliveries = Table(
    "attendee_webhook_delivery",
    _metadata,
    Column("idempotency_key", String(255), primary_key=True),
    Column("trigger", String(64), nullable=False),
    Column("bot_id", String(64), nullable=True),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("asset_uris", Text, nullable=False),
)

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
            import airflow.utils.session  # noqa: F401

            _models_loaded = True


class DuplicateDelivery(Exception):
    """This idempotency key was recorded before."""


def _ensure_table(session: Any) -> None:
    engine = session.get_bind()
    with _create_lock:
        if id(engine) in _created_for:
            return
        try:
            _metadata.create_all(engine, tables=[deliveries], checkfirst=True)
        except OperationalError:  # another process created it between the check and the CREATE
            if not inspect(engine).has_table(deliveries.name):
                raise
        _created_for.add(id(engine))


def record_delivery(
    *, idempotency_key: str, trigger: str, bot_id: str | None, asset_uris: list[str], extra: dict[str, Any]
) -> list[str]:
    """Store the delivery and one asset event per known asset URI, atomically. Returns the URIs that got an
    event (an asset no DAG is scheduled on does not exist in Airflow, so it gets none). Raises
    ``DuplicateDelivery`` when the key was recorded before (nothing is stored then)."""
    load_models()
    from airflow.assets.manager import asset_manager
    from airflow.models.asset import AssetModel
    from airflow.utils.session import create_session

    with create_session() as session:
        _ensure_table(session)
        if session.execute(
            select(deliveries.c.idempotency_key).where(deliveries.c.idempotency_key == idempotency_key)
        ).first():
            raise DuplicateDelivery(idempotency_key)
        recorded = []
        for uri in asset_uris:
            asset = session.scalar(select(AssetModel).where(AssetModel.uri == uri))
            if asset is None:
                continue
            event = asset_manager.register_asset_change(asset=asset, extra=extra, session=session)
            if event is not None:
                recorded.append(uri)
        try:
            session.execute(
                deliveries.insert().values(
                    idempotency_key=idempotency_key,
                    trigger=trigger,
                    bot_id=bot_id,
                    received_at=datetime.now(timezone.utc),
                    asset_uris=json.dumps(recorded),
                )
            )
            session.flush()
        except IntegrityError:  # the same key, concurrently: the other request recorded it
            session.rollback()
            raise DuplicateDelivery(idempotency_key) from None
    return recorded


def requeue_left_behind(grace: timedelta = timedelta(seconds=0.5)) -> list[str]:
    """Queue again every DAG scheduled on an ``attendee://`` asset that has events no run consumed (newer
    than its latest asset-triggered run, older than ``grace``) and nothing queued: the scheduler then
    creates a run that consumes them. Returns the DAG ids queued."""
    load_models()
    from airflow.models.asset import AssetDagRunQueue, AssetEvent, AssetModel, DagScheduleAssetReference
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from airflow.utils.types import DagRunType

    queued: list[str] = []
    cutoff = datetime.now(timezone.utc) - grace
    with create_session() as session:
        references = session.execute(
            select(
                DagScheduleAssetReference.dag_id,
                DagScheduleAssetReference.asset_id,
                DagScheduleAssetReference.created_at,
            )
            .join(AssetModel, AssetModel.id == DagScheduleAssetReference.asset_id)
            .where(AssetModel.uri.like("attendee://%"))
        ).all()
        for dag_id, asset_id, referenced_since in references:
            if session.scalar(
                select(func.count())
                .select_from(AssetDagRunQueue)
                .where(AssetDagRunQueue.target_dag_id == dag_id)
            ):
                continue  # a run is coming anyway
            last_run = session.scalar(
                select(func.max(DagRun.run_after)).where(
                    DagRun.dag_id == dag_id, DagRun.run_type == DagRunType.ASSET_TRIGGERED
                )
            )
            floor = last_run or referenced_since
            left_behind = session.scalar(
                select(func.count())
                .select_from(AssetEvent)
                .where(
                    AssetEvent.asset_id == asset_id,
                    AssetEvent.timestamp > floor,
                    AssetEvent.timestamp <= cutoff,
                )
            )
            if left_behind:
                session.add(AssetDagRunQueue(asset_id=asset_id, target_dag_id=dag_id))
                try:
                    session.flush()
                except IntegrityError:  # queued meanwhile (by a new event or another sweeper): fine
                    session.rollback()
                    continue
                queued.append(dag_id)
    return queued
