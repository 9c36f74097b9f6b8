"""Create the provider's tables, adopting those an earlier build created on first use (rows kept).

Each table and index is created only if missing: the tables as release 0.2.0 has them.

Revision ID: 0001_attendee
Revises:
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_attendee"
down_revision = None
branch_labels = None
depends_on = None


def _definitions() -> dict[str, tuple[list[sa.Column], tuple[str, str] | None]]:
    """Fresh Column objects for each table (a Column belongs to one table once created)."""
    return {
        "attendee_webhook_delivery": (
            [
                sa.Column("idempotency_key", sa.String(255), primary_key=True),
                sa.Column("trigger", sa.String(64), nullable=False),
                sa.Column("bot_id", sa.String(64), nullable=True),
                sa.Column("conn_id", sa.String(250), nullable=True),
                sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
                sa.Column("asset_uris", sa.Text, nullable=False),
            ],
            ("idx_attendee_webhook_delivery_received_at", "received_at"),
        ),
        "attendee_finished_meeting": (
            [
                sa.Column("bot_id", sa.String(64), primary_key=True),
                sa.Column("state", sa.String(64), primary_key=True),
                sa.Column("source", sa.String(16), nullable=False),
                sa.Column("conn_id", sa.String(250), nullable=True),
                sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
            ],
            ("idx_attendee_finished_meeting_recorded_at", "recorded_at"),
        ),
        "attendee_event_lock": (
            [
                sa.Column("name", sa.String(32), primary_key=True),
                sa.Column("counter", sa.Integer, nullable=False),
            ],
            None,
        ),
        "attendee_catch_up": (
            [
                sa.Column("conn_id", sa.String(250), primary_key=True),
                sa.Column("state", sa.Text, nullable=True),
                sa.Column("lease_owner", sa.String(64), nullable=True),
                sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
            ],
            None,
        ),
        "attendee_webhook_refusal": (
            [
                sa.Column("conn_id", sa.String(250), primary_key=True),
                sa.Column("refused_at", sa.DateTime(timezone=True), nullable=False),
            ],
            ("idx_attendee_webhook_refusal_refused_at", "refused_at"),
        ),
    }


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    for name, (columns, index) in _definitions().items():
        if not inspector.has_table(name):
            op.create_table(name, *columns)
        if index and index[0] not in {i["name"] for i in inspector.get_indexes(name)}:
            op.create_index(index[0], name, [index[1]])
    lock = sa.table("attendee_event_lock", sa.column("name", sa.String), sa.column("counter", sa.Integer))
    if op.get_bind().execute(sa.select(lock.c.name).where(lock.c.name == "asset_events")).first() is None:
        op.bulk_insert(lock, [{"name": "asset_events", "counter": 0}])


def downgrade() -> None:
    for name, (_, index) in reversed(_definitions().items()):
        if index:
            op.drop_index(index[0], table_name=name)
        op.drop_table(name)
