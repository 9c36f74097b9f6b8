"""The provider's tables in Airflow's metadata database: their definitions, the single source for the
event code (``plugins._asset_events``), the DB manager and the migrations' drift test.

A change here needs a migration (``migrations/versions/``): ``tests/unit/test_db_manager.py`` fails when
the tables the migrations create differ from these.
"""

from __future__ import annotations

from sqlalchemy import Column, DateTime, Index, Integer, MetaData, String, Table, Text

metadata = MetaData()

#: Deliveries received: the replay record (and an audit trail: when, which trigger, which bot).
deliveries = Table(
    "attendee_webhook_delivery",
    metadata,
    Column("idempotency_key", String(255), primary_key=True),
    Column("trigger", String(64), nullable=False),
    Column("bot_id", String(64), nullable=True),
    Column("conn_id", String(250), nullable=True),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("asset_uris", Text, nullable=False),
    Index("idx_attendee_webhook_delivery_received_at", "received_at"),
)
#: Meetings emitted (a bot reaching a state), by push or by catch-up: each once.
finished_meetings = Table(
    "attendee_finished_meeting",
    metadata,
    Column("bot_id", String(64), primary_key=True),
    Column("state", String(64), primary_key=True),
    Column("source", String(16), nullable=False),
    Column("conn_id", String(250), nullable=True),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Index("idx_attendee_finished_meeting_recorded_at", "recorded_at"),
)
#: One row whose lock serialises every write of the event code.
locks = Table(
    "attendee_event_lock",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("counter", Integer, nullable=False),
)
#: The catch-up's position per connection (``bot_watch.WatchState``) and which process holds its lease.
catch_up_states = Table(
    "attendee_catch_up",
    metadata,
    Column("conn_id", String(250), primary_key=True),
    Column("state", Text, nullable=True),
    Column("lease_owner", String(64), nullable=True),
    Column("lease_until", DateTime(timezone=True), nullable=True),
)
#: Connections that refused deliveries named (only existing ones): caught up like those that delivered.
refusals = Table(
    "attendee_webhook_refusal",
    metadata,
    Column("conn_id", String(250), primary_key=True),
    Column("refused_at", DateTime(timezone=True), nullable=False),  # the latest noted (once a minute)
    Index("idx_attendee_webhook_refusal_refused_at", "refused_at"),
)

#: The row of ``attendee_event_lock`` every write locks.
LOCK_NAME = "asset_events"
OWN_TABLES = (deliveries, finished_meetings, locks, catch_up_states, refusals)
