"""Writing meetings into the tables on a DB-API connection: created when missing, replaced per meeting in
one transaction (pure, no Airflow).

**Idempotent.** Writing a meeting deletes that bot's rows and inserts the new ones in one transaction: a
re-run, a retry or a second delivery replaces them, and a failure mid-write rolls back to the previous
rows. **Concurrent writers.** Writers of different meetings touch different rows and never wait on each
other (SQLite, which has one writer at a time, queues them: each transaction takes the write lock first);
two writers of the same meeting at once conflict on the primary key, and the loser retries its
transaction (the last one wins, still one copy).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, fields
from datetime import date, datetime, timezone
from typing import Any

from airflow_provider_attendee.analytics.rows import MeetingRow, ParticipantRow
from airflow_provider_attendee.analytics.schema import (
    MEETING_COLUMNS,
    PARTICIPANT_COLUMNS,
    SCHEMA_VERSION,
    Dialect,
    TableNames,
    ddl,
    insert_statement,
)

#: Meetings per DELETE ... IN (...) statement when many are written at once.
DELETE_CHUNK = 500
#: Exception class names that mean "another writer got there first: run the transaction again".
CONFLICTS = frozenset(
    {"IntegrityError", "SerializationFailure", "DeadlockDetected", "TransactionRollbackError"}
)


_FIELDS = {cls: tuple(f.name for f in fields(cls)) for cls in (MeetingRow, ParticipantRow)}


class SchemaVersionError(Exception):
    """The tables carry a schema version this package does not know (written by a newer release)."""


@dataclass(frozen=True)
class WriteResult:
    meetings: int
    participants: int
    attempts: int


def adapt(value: Any, dialect: Dialect) -> Any:
    """A Python value as the database's driver takes it (SQLite: ISO text; MySQL: naive UTC times)."""
    if isinstance(value, datetime):
        utc = value.astimezone(timezone.utc)
        if not dialect.native_dates:
            return utc.isoformat(timespec="microseconds").replace("+00:00", "Z")
        return utc.replace(tzinfo=None) if dialect.naive_times else utc
    if isinstance(value, date) and not dialect.native_dates:
        return value.isoformat()
    return value


def params(row: MeetingRow | ParticipantRow, dialect: Dialect) -> tuple[Any, ...]:
    """A row's values in column order, adapted for the database (``astuple`` would deep-copy them)."""
    return tuple(adapt(getattr(row, name), dialect) for name in _FIELDS[type(row)])


def _is_conflict(error: BaseException) -> bool:
    names = {cls.__name__ for cls in type(error).__mro__}
    return bool(names & CONFLICTS) or "database is locked" in str(error)


@contextlib.contextmanager
def transaction(connection: Any, dialect: Dialect) -> Iterator[Any]:
    """A cursor in one transaction: committed on success, rolled back on any failure."""
    cursor = connection.cursor()
    try:
        for statement in dialect.prepare:
            cursor.execute(statement)
        if dialect.begin:
            cursor.execute(dialect.begin)
        yield cursor
        connection.commit()
    except BaseException:
        with contextlib.suppress(Exception):
            connection.rollback()
        raise
    finally:
        with contextlib.suppress(Exception):
            cursor.close()


def fetch(connection: Any, sql: str, parameters: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    """All rows of a query, in a transaction of its own (ended at once: no reader holds locks)."""
    cursor = connection.cursor()
    try:
        cursor.execute(sql, tuple(parameters))
        return [tuple(row) for row in cursor.fetchall()]
    finally:
        with contextlib.suppress(Exception):
            cursor.close()
        with contextlib.suppress(Exception):
            connection.commit()


def schema_version(connection: Any, tables: TableNames, dialect: Dialect) -> int | None:
    """The version recorded for this table set, or None when the tables do not exist yet."""
    try:
        rows = fetch(
            connection,
            f"SELECT version FROM {tables.schema_version} WHERE table_set = {dialect.placeholder}",
            (tables.meetings,),
        )
    except Exception:  # no version table yet (every driver names that error differently)
        with contextlib.suppress(Exception):
            connection.rollback()
        return None
    return int(rows[0][0]) if rows else None


def ensure_schema(connection: Any, tables: TableNames, dialect: Dialect, attempts: int = 3) -> int:
    """Create the tables and indexes when missing and record the schema version; return that version.

    Several writers may start on an empty database at once: the loser of a concurrent creation looks again.
    """
    for attempt in range(1, attempts + 1):
        version = schema_version(connection, tables, dialect)
        if version == SCHEMA_VERSION:
            return version
        if version is not None:
            raise SchemaVersionError(
                f"Table {tables.meetings} has schema version {version}; this release of "
                f"airflow-provider-attendee writes version {SCHEMA_VERSION}. Upgrade the package on every "
                "worker, or write to other tables (sql_tables=...)."
            )
        try:
            with transaction(connection, dialect) as cursor:
                for statement in ddl(tables, dialect):
                    cursor.execute(statement)
                cursor.execute(
                    f"INSERT INTO {tables.schema_version} (table_set, version, applied_at) "
                    f"VALUES ({', '.join([dialect.placeholder] * 3)})",
                    (tables.meetings, SCHEMA_VERSION, adapt(datetime.now(timezone.utc), dialect)),
                )
            return SCHEMA_VERSION
        except Exception:
            if attempt == attempts:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def replace_meetings(
    connection: Any,
    tables: TableNames,
    dialect: Dialect,
    meetings: Sequence[tuple[MeetingRow, Sequence[ParticipantRow]]],
    attempts: int = 3,
) -> WriteResult:
    """Replace these meetings' rows (delete, insert) in one transaction, retried on a concurrent conflict."""
    meeting_insert = insert_statement(tables.meetings, MEETING_COLUMNS, dialect)
    participant_insert = insert_statement(tables.participants, PARTICIPANT_COLUMNS, dialect)
    ids = [meeting.bot_id for meeting, _ in meetings]
    people = [params(person, dialect) for _, persons in meetings for person in persons]
    for attempt in range(1, attempts + 1):
        try:
            with transaction(connection, dialect) as cursor:
                for start in range(0, len(ids), DELETE_CHUNK):
                    chunk = ids[start : start + DELETE_CHUNK]
                    marks = ", ".join([dialect.placeholder] * len(chunk))
                    cursor.execute(f"DELETE FROM {tables.participants} WHERE bot_id IN ({marks})", chunk)
                    cursor.execute(f"DELETE FROM {tables.meetings} WHERE bot_id IN ({marks})", chunk)
                cursor.executemany(meeting_insert, [params(meeting, dialect) for meeting, _ in meetings])
                if people:
                    cursor.executemany(participant_insert, people)
            return WriteResult(len(ids), len(people), attempt)
        except Exception as error:
            if attempt == attempts or not _is_conflict(error):
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def replace_meeting(
    connection: Any,
    tables: TableNames,
    dialect: Dialect,
    meeting: MeetingRow,
    participants: Sequence[ParticipantRow],
) -> WriteResult:
    """One meeting's rows, replaced in one transaction."""
    return replace_meetings(connection, tables, dialect, [(meeting, participants)])
