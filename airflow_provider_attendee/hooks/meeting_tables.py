"""The meeting tables on an Airflow connection: its ``DbApiHook`` (PostgreSQL, SQLite, MySQL, Snowflake,
through Airflow's common SQL provider), the database's dialect, and the writes and reads operators make.
The SQL itself is in :mod:`airflow_provider_attendee.analytics` (no Airflow there).

Without a connection of that id, the default id ``attendee_meetings`` means an embedded SQLite file,
``$AIRFLOW_HOME/attendee/meetings.db``: the example DAGs run as shipped. Point them at a real database by
defining the connection (``AIRFLOW_CONN_ATTENDEE_MEETINGS='postgresql://...'``).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Iterator, Sequence
from datetime import date
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow.providers.common.sql.hooks.sql import DbApiHook

from airflow_provider_attendee import DEFAULT_TABLES_CONN_ID
from airflow_provider_attendee._compat import AirflowNotFoundException
from airflow_provider_attendee.analytics.action_items import (
    action_item_rows,
    ensure_action_items,
    open_action_items,
    replace_action_items,
)
from airflow_provider_attendee.analytics.digest import Digest, compute_digest
from airflow_provider_attendee.analytics.rows import EVENT_ID_KEY, MeetingRow, ParticipantRow
from airflow_provider_attendee.analytics.schema import DIALECTS, Dialect, TableNames, dialect_named
from airflow_provider_attendee.analytics.store import (
    SchemaVersionError,
    WriteResult,
    ensure_schema,
    fetch,
    replace_meeting,
)
from airflow_provider_attendee.exceptions import (
    AttendeeNotFoundError,
    AttendeeTablesConfigurationError,
    AttendeeTablesError,
)

if TYPE_CHECKING:
    from airflow_provider_attendee.client.models import Bot, Calendar, CalendarEvent
    from airflow_provider_attendee.hooks.attendee import AttendeeHook


def embedded_database() -> Path:
    """The embedded SQLite file of the default connection id: $AIRFLOW_HOME/attendee/meetings.db."""
    home = os.environ.get("AIRFLOW_HOME") or os.path.join(os.path.expanduser("~"), "airflow")
    return Path(home) / "attendee" / "meetings.db"


class EmbeddedSqliteHook(DbApiHook):
    """A ``DbApiHook`` on a local SQLite file, for the default connection id when it is not defined."""

    conn_name_attr = "sqlite_conn_id"
    default_conn_name = DEFAULT_TABLES_CONN_ID
    conn_type = "sqlite"
    hook_name = "Embedded SQLite"

    def __init__(self, path: Path) -> None:
        super().__init__(sqlite_conn_id=DEFAULT_TABLES_CONN_ID)
        self._placeholder = "?"
        self.path = path

    def get_conn(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        return sqlite3.connect(self.path, timeout=60)

    def get_uri(self) -> str:
        return f"sqlite:///{self.path}"


def calendar_context(hook: AttendeeHook, bot: Bot) -> tuple[CalendarEvent | None, Calendar | None]:
    """The bot's calendar event (from its metadata ``event_id``, as the calendar sync sets it) and calendar,
    for the event's name, attendees (emails) and calendar; (None, None) for a bot of no known event."""
    event_id = (bot.metadata or {}).get(EVENT_ID_KEY)
    if not event_id:
        return None, None
    event = next(iter(hook.list_calendar_events(event_id=str(event_id))), None)
    if event is None:
        return None, None
    with contextlib.suppress(AttendeeNotFoundError):
        return event, hook.get_calendar(event.calendar_id)
    return event, None


def sql_hook(conn_id: str) -> DbApiHook:
    """The connection's DbApiHook; the embedded SQLite file for the default id when it is not defined."""
    from airflow.sdk import BaseHook

    try:
        connection = BaseHook.get_connection(conn_id)
    except (AirflowNotFoundException, ImportError):  # ImportError: Airflow 3.1 outside a task, not found
        if conn_id == DEFAULT_TABLES_CONN_ID:
            return EmbeddedSqliteHook(embedded_database())
        raise AttendeeTablesConfigurationError(
            f"Airflow connection {conn_id!r} (meeting tables) is not defined. Define it, e.g. "
            f"AIRFLOW_CONN_{conn_id.upper()}='postgresql://user:password@host:5432/database', or use "
            f"{DEFAULT_TABLES_CONN_ID!r} for the embedded SQLite file."
        ) from None
    hook = connection.get_hook()
    if not isinstance(hook, DbApiHook):
        raise AttendeeTablesConfigurationError(
            f"Airflow connection {conn_id!r} is of type {connection.conn_type!r}, not a SQL database: the "
            "meeting tables need a DbApiHook connection (postgres, sqlite, mysql, snowflake)."
        )
    return hook


def dialect_of(hook: DbApiHook) -> Dialect:
    """The tables' dialect for a hook, from its connection type (or its SQLAlchemy dialect)."""
    for name in (getattr(hook, "conn_type", None), _dialect_name(hook)):
        if name and (dialect := dialect_named(name)):
            return dialect
    raise AttendeeTablesConfigurationError(
        f"{type(hook).__name__} ({getattr(hook, 'conn_type', '?')}) is not a database the meeting tables "
        f"support; use one of {', '.join(DIALECTS)}."
    )


def _dialect_name(hook: DbApiHook) -> str | None:
    with contextlib.suppress(Exception):
        return str(hook.dialect_name)
    return None


class MeetingTables:
    """One table set on one Airflow connection: created when missing, written per meeting, read by the digest.

    :param conn_id: an Airflow connection of a DbApiHook database (default: the embedded SQLite file).
    :param tables: table names, e.g. ``{"meetings": "analytics.meetings"}`` (see ``TableNames``).
    """

    def __init__(
        self, conn_id: str = DEFAULT_TABLES_CONN_ID, tables: TableNames | dict[str, str] | None = None
    ):
        self.conn_id = conn_id
        try:
            self.tables = TableNames.of(tables)
        except ValueError as err:
            raise AttendeeTablesConfigurationError(str(err)) from None

    @cached_property
    def hook(self) -> DbApiHook:
        return sql_hook(self.conn_id)

    @cached_property
    def dialect(self) -> Dialect:
        return dialect_of(self.hook)

    def describe(self) -> str:
        where = f" ({self.hook.path})" if isinstance(self.hook, EmbeddedSqliteHook) else ""
        return f"{self.tables.meetings} and {self.tables.participants} on {self.conn_id!r}{where}, {self.dialect.name}"

    @contextlib.contextmanager
    def connection(self) -> Iterator[Any]:
        """A DB-API connection with the tables in place (created when missing), closed afterwards."""
        dialect = self.dialect
        try:
            connection = self.hook.get_conn()
        except Exception as err:
            raise AttendeeTablesError(
                f"Cannot connect to the meeting tables' database (connection {self.conn_id!r}): "
                f"{type(err).__name__}: {err}. Check the connection's host, credentials and database."
            ) from err
        try:
            ensure_schema(connection, self.tables, dialect)
            yield connection
        except SchemaVersionError as err:
            raise AttendeeTablesConfigurationError(str(err)) from None
        finally:
            with contextlib.suppress(Exception):
                connection.close()

    def write(self, meeting: MeetingRow, participants: Sequence[ParticipantRow]) -> WriteResult:
        """Replace this meeting's rows in one transaction."""
        with self.connection() as connection:
            try:
                return replace_meeting(connection, self.tables, self.dialect, meeting, participants)
            except Exception as err:
                raise AttendeeTablesError(
                    f"Writing bot {meeting.bot_id} into {self.tables.meetings} (connection {self.conn_id!r}) "
                    f"failed: {type(err).__name__}: {err}. Nothing was changed (rolled back); a retry writes "
                    "it again."
                ) from err

    def write_action_items(self, bot_id: str, items: Sequence[Any]) -> int:
        """Replace this meeting's action items (from its notes) in one transaction; how many were written."""
        with self.connection() as connection:
            try:
                ensure_action_items(connection, self.tables, self.dialect)
                rows = action_item_rows(bot_id, items)
                return replace_action_items(connection, self.tables, self.dialect, bot_id, rows)
            except Exception as err:
                raise AttendeeTablesError(
                    f"Writing the action items of bot {bot_id} into {self.tables.action_items} (connection "
                    f"{self.conn_id!r}) failed: {type(err).__name__}: {err}. Nothing was changed (rolled back); "
                    "a retry writes them again."
                ) from err

    def digest(self, week: date, previous_weeks: int) -> Digest:
        """The digest's figures for ``week`` (a Monday) and the weeks before it, with the open action items."""
        with self.connection() as connection:
            digest = compute_digest(
                lambda sql, parameters: fetch(connection, sql, parameters),
                self.tables,
                self.dialect,
                week,
                previous_weeks,
            )
            ensure_action_items(connection, self.tables, self.dialect)
            digest.open_action_items = open_action_items(connection, self.tables, self.dialect, week)
            return digest
