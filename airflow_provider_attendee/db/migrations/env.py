"""Alembic environment of the provider's migrations: its own version table (``alembic_version_attendee``),
only its own tables compared (Airflow's are in the same database), on the connection it is given or on
Airflow's engine."""

from __future__ import annotations

import contextlib
from typing import Any

from alembic import context

from airflow_provider_attendee.db.tables import metadata

VERSION_TABLE = "alembic_version_attendee"
config = context.config


def include_object(_: Any, name: str | None, type_: str, *args: Any) -> bool:
    """Only the provider's tables (and their indexes): never Airflow's, which share the database."""
    if type_ == "table":
        return name in metadata.tables
    return True


def run_migrations_offline() -> None:
    """Print the SQL (``airflow db migrate --show-sql-only``) instead of running it."""
    from airflow import settings

    context.configure(
        url=settings.SQL_ALCHEMY_CONN,
        target_metadata=metadata,
        literal_binds=True,
        render_as_batch=True,
        version_table=VERSION_TABLE,
        include_object=include_object,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Run the migrations on ``config.attributes["connection"]`` if given, else on Airflow's engine."""
    with contextlib.ExitStack() as stack:
        connection = config.attributes.get("connection")
        if connection is None:
            from airflow import settings

            assert settings.engine is not None, "Airflow's ORM is not configured"
            connection = stack.enter_context(settings.engine.connect())
        context.configure(
            connection=connection,
            target_metadata=metadata,
            transaction_per_migration=True,
            render_as_batch=True,
            compare_type=True,
            version_table=VERSION_TABLE,
            include_object=include_object,
        )
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
