"""``AttendeeDBManager``: the provider's tables under Airflow's migrations, as the edge3 provider's are.

Airflow 3.2+ finds it in the provider info (``db-managers``); Airflow 3.1 runs it when it is named in
``[database] external_db_managers``. ``airflow db migrate`` then creates and upgrades the tables, with the
version in ``alembic_version_attendee``. Where it is not registered, ``ensure_current`` runs the same
migrations on first use (under a lock) and says how to register it.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from airflow.utils.db_manager import BaseDBManager
from sqlalchemy import inspect, text

from airflow_provider_attendee.db.tables import metadata

log = logging.getLogger(__name__)

HERE = Path(__file__).parent
#: The manager's dotted path, as ``[database] external_db_managers`` names it.
MANAGER_PATH = "airflow_provider_attendee.db.manager.AttendeeDBManager"
VERSION_TABLE = "alembic_version_attendee"
#: PostgreSQL advisory lock key of the first-use migration ("ATTD").
_PG_LOCK_KEY = 0x41545444


class AttendeeDBManager(BaseDBManager):
    """Creates, upgrades and downgrades the provider's tables with its own alembic migrations."""

    metadata = metadata
    version_table_name = VERSION_TABLE
    migration_dir = (HERE / "migrations").as_posix()
    alembic_file = (HERE / "alembic.ini").as_posix()
    supports_table_dropping = True

    def _config(self, connection: Any = None) -> Any:
        config = self.get_alembic_config()
        if connection is not None:
            config.attributes["connection"] = connection
        return config

    def initdb(self, use_migration_files: bool = False) -> None:
        """Create the tables (by the migrations, so that they are exactly what an upgrade makes)."""
        self.upgradedb()

    def upgradedb(
        self,
        to_revision: str | None = None,
        from_revision: str | None = None,
        show_sql_only: bool = False,
        use_migration_files: bool = False,
    ) -> None:
        """Run the migrations up to ``to_revision`` (the head by default). Tables an earlier release
        created on first use (no version recorded) are adopted by the first revision, rows kept. The same
        on every Airflow version (3.1's base class would fail on existing tables, 3.3's stamps them)."""
        from alembic import command

        if show_sql_only:
            start = f"{from_revision}:" if from_revision else ""
            command.upgrade(self._config(), f"{start}{to_revision or 'heads'}", sql=True)
            return
        log.info("Upgrading the Attendee provider's tables")
        command.upgrade(self._config(), to_revision or "heads")

    def downgrade(
        self, to_revision: str, from_revision: str | None = None, show_sql_only: bool = False
    ) -> None:
        """Run the migrations down to ``to_revision`` (``base`` drops the tables)."""
        from alembic import command

        start = f"{from_revision}:" if from_revision and show_sql_only else ""
        command.downgrade(self._config(), f"{start}{to_revision}", sql=show_sql_only)

    def drop_tables(self, connection: Any) -> None:
        """``airflow db reset``: drop the provider's tables and its version table."""
        inspector = inspect(connection)
        for table in reversed(metadata.sorted_tables):
            if inspector.has_table(table.name):
                table.drop(connection)
        if inspector.has_table(VERSION_TABLE):
            connection.execute(text(f"DROP TABLE {VERSION_TABLE}"))

    def head(self) -> str:
        """The newest revision of the migrations."""
        return str(self.get_script_object().get_current_head())


def current_revision(connection: Any) -> str | None:
    """The revision the database is at (None when the manager never ran there)."""
    from alembic.migration import MigrationContext

    return MigrationContext.configure(
        connection, opts={"version_table": VERSION_TABLE}
    ).get_current_revision()


_checked: set[str] = set()
_check_lock = threading.Lock()


def ensure_current(engine: Any) -> None:
    """Make sure the provider's tables are at the migrations' head before first use in this process: one
    query when ``airflow db migrate`` ran with the manager registered; otherwise the migrations run here,
    under a lock (so the API servers, triggerers and workers starting together migrate once)."""
    key = str(engine.url)
    with _check_lock:
        if key in _checked:
            return
        head = AttendeeDBManager(None).head()
        with engine.connect() as connection:
            at = current_revision(connection)
        if at != head:
            with _migration_lock(engine), engine.connect() as connection:
                at = current_revision(connection)
                if at != head:
                    log.warning(
                        "The Attendee provider's tables are at revision %s, not %s: upgrading them now. "
                        "To have `airflow db migrate` do it (as a deployment should), add %s to "
                        "[database] external_db_managers (Airflow 3.2+ finds it by itself).",
                        at or "none",
                        head,
                        MANAGER_PATH,
                    )
                    _upgrade_on(connection)
        _checked.add(key)


def _upgrade_on(connection: Any) -> None:
    from alembic import command

    manager = AttendeeDBManager(None)
    command.upgrade(manager._config(connection), "heads")
    if connection.in_transaction():
        connection.commit()


@contextlib.contextmanager
def _migration_lock(engine: Any) -> Iterator[None]:
    """Held by one process at a time: an advisory lock on PostgreSQL, a file lock beside a SQLite file."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": _PG_LOCK_KEY})
            try:
                yield
            finally:
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": _PG_LOCK_KEY})
                connection.commit()
    elif engine.dialect.name == "sqlite" and engine.url.database not in (None, "", ":memory:"):
        with open(f"{engine.url.database}.attendee-migrate.lock", "w") as lock_file:
            fcntl.flock(lock_file, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock_file, fcntl.LOCK_UN)
    else:
        yield
