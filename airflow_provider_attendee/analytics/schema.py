"""The meeting tables: names, columns, per-database DDL and the schema version (pure, no Airflow).

Three tables (names configurable): one row per bot (``attendee_meetings``), one row per participant per
meeting (``attendee_participants``), and the schema version of each table set (``attendee_schema_version``).
Column types are chosen per database (PostgreSQL, SQLite, MySQL, Snowflake); SQLite gets dates and times
as ISO-8601 text, which sorts and compares like the real types.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields

#: Bump when the columns change, with a migration in ``store.ensure_schema``.
SCHEMA_VERSION = 1

#: (column, logical type, NOT NULL) of the meetings table; the first column is the primary key.
MEETING_COLUMNS: tuple[tuple[str, str, bool], ...] = (
    ("bot_id", "key", True),
    ("meeting_url", "url", True),
    ("platform", "code", True),
    ("calendar_id", "key", False),
    ("calendar_name", "name", False),
    ("calendar_event_id", "key", False),
    ("event_name", "name", False),
    ("series_key", "name", True),
    ("invited", "int", False),
    ("outcome", "code", True),
    ("failure_reason", "code", False),
    ("final_state", "code", True),
    ("last_event_type", "code", False),
    ("last_event_sub_type", "code", False),
    ("started_at", "ts", False),
    ("ended_at", "ts", False),
    ("week_start", "date", True),
    ("duration_seconds", "real", True),
    ("participants", "int", True),
    ("peak_concurrent", "int", True),
    ("total_speaking_seconds", "real", True),
    ("written_at", "ts", True),
)
#: (column, logical type, NOT NULL) of the participants table; primary key (bot_id, participant_key).
PARTICIPANT_COLUMNS: tuple[tuple[str, str, bool], ...] = (
    ("bot_id", "key", True),
    ("participant_key", "key", True),
    ("display_name", "name", True),
    ("email", "name", False),
    ("is_host", "bool", True),
    ("present_seconds", "real", True),
    ("speaking_seconds", "real", True),
    ("talk_share", "real", True),
    ("speaking_turns", "int", True),
    ("joins", "int", True),
    ("first_join", "ts", False),
    ("last_leave", "ts", False),
)

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$")


@dataclass(frozen=True)
class Dialect:
    """What differs between databases for these tables: parameter style, types, transactions, indexes."""

    name: str
    placeholder: str
    types: dict[str, str]
    #: the statement that opens a write transaction (SQLite: take the write lock first, so that two
    #: writers queue instead of failing on a lock upgrade); None: the driver opens it implicitly
    begin: str | None = None
    #: statements run on a connection before its first transaction (SQLite: wait for the write lock)
    prepare: tuple[str, ...] = ()
    #: indexes inside CREATE TABLE (MySQL has no CREATE INDEX IF NOT EXISTS)
    inline_indexes: bool = False
    #: whether the database has indexes at all (Snowflake has none)
    indexes: bool = True
    #: False: dates and times are sent as ISO-8601 text (SQLite)
    native_dates: bool = True
    #: True: times are sent as naive UTC (MySQL DATETIME has no zone)
    naive_times: bool = False


def _types(
    key: str, code: str, name: str, url: str, ts: str, date: str, real: str, integer: str, boolean: str
) -> dict[str, str]:
    """The column types of one database, by logical type."""
    return {
        "key": key,
        "code": code,
        "name": name,
        "url": url,
        "ts": ts,
        "date": date,
        "real": real,
        "int": integer,
        "bool": boolean,
    }


DIALECTS: dict[str, Dialect] = {
    "sqlite": Dialect(
        "sqlite",
        "?",
        _types("TEXT", "TEXT", "TEXT", "TEXT", "TEXT", "TEXT", "REAL", "INTEGER", "INTEGER"),
        begin="BEGIN IMMEDIATE",
        prepare=("PRAGMA busy_timeout = 60000",),
        native_dates=False,
    ),
    "postgresql": Dialect(
        "postgresql",
        "%s",
        _types(
            "VARCHAR(255)",
            "VARCHAR(64)",
            "TEXT",
            "TEXT",
            "TIMESTAMPTZ",
            "DATE",
            "DOUBLE PRECISION",
            "INTEGER",
            "BOOLEAN",
        ),
    ),
    "mysql": Dialect(
        "mysql",
        "%s",
        _types(
            "VARCHAR(255)",
            "VARCHAR(64)",
            "VARCHAR(512)",
            "VARCHAR(2048)",
            "DATETIME(6)",
            "DATE",
            "DOUBLE",
            "INTEGER",
            "BOOLEAN",
        ),
        inline_indexes=True,
        naive_times=True,
    ),
    "snowflake": Dialect(
        "snowflake",
        "%s",
        _types(
            "VARCHAR(255)",
            "VARCHAR(64)",
            "VARCHAR(512)",
            "VARCHAR(2048)",
            "TIMESTAMP_TZ",
            "DATE",
            "FLOAT",
            "INTEGER",
            "BOOLEAN",
        ),
        indexes=False,
    ),
}
#: Airflow connection types (and SQLAlchemy dialect names) for each dialect.
DIALECT_ALIASES = {
    "postgres": "postgresql",
    "postgresql": "postgresql",
    "sqlite": "sqlite",
    "mysql": "mysql",
    "mariadb": "mysql",
    "snowflake": "snowflake",
}


def dialect_named(name: str) -> Dialect | None:
    """The dialect of an Airflow connection type or SQLAlchemy dialect name, or None if unsupported."""
    key = DIALECT_ALIASES.get(name.lower().split("+")[0])
    return DIALECTS[key] if key else None


@dataclass(frozen=True)
class TableNames:
    """The tables' names (optionally schema-qualified: ``analytics.meetings``)."""

    meetings: str = "attendee_meetings"
    participants: str = "attendee_participants"
    schema_version: str = "attendee_schema_version"
    #: the meeting notes' action items (created on first use: analytics.action_items)
    action_items: str = "attendee_action_items"

    def __post_init__(self) -> None:
        for item in fields(self):
            value = getattr(self, item.name)
            if not isinstance(value, str) or not _IDENTIFIER.match(value):
                raise ValueError(
                    f"Table name {item.name}={value!r} is not a plain SQL identifier: use letters, digits "
                    "and underscores, optionally qualified by a schema (analytics.attendee_meetings)."
                )

    @classmethod
    def of(cls, names: TableNames | dict[str, str] | None) -> TableNames:
        """From a dict such as ``{"meetings": "analytics.meetings"}`` (missing keys keep the defaults)."""
        if names is None or isinstance(names, TableNames):
            return names or cls()
        unknown = set(names) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(
                f"Unknown table key(s) {sorted(unknown)}: use meetings, participants, schema_version and "
                "action_items."
            )
        return cls(**names)


def _index_statement(dialect: Dialect, table: str, name: str, columns: str) -> str:
    """CREATE INDEX IF NOT EXISTS, with the schema where each database wants it (SQLite: on the index)."""
    schema, _, bare = table.rpartition(".")
    if dialect.name == "sqlite" and schema:
        return f"CREATE INDEX IF NOT EXISTS {schema}.{name} ON {bare} ({columns})"
    return f"CREATE INDEX IF NOT EXISTS {name} ON {table} ({columns})"


def _columns(dialect: Dialect, columns: tuple[tuple[str, str, bool], ...]) -> list[str]:
    return [
        f"{name} {dialect.types[kind]}{' NOT NULL' if required else ''}" for name, kind, required in columns
    ]


#: The indexes the digest's queries use: (table attribute, index suffix, columns).
INDEXES = (("meetings", "week", "week_start, outcome"),)


def ddl(tables: TableNames, dialect: Dialect) -> list[str]:
    """The statements that create the tables and indexes when missing (each idempotent)."""
    indexes = {
        attribute: [
            (f"{getattr(tables, attribute).rpartition('.')[2]}_{suffix}_idx", columns)
            for table_attr, suffix, columns in INDEXES
            if table_attr == attribute
        ]
        for attribute in ("meetings", "participants")
    }

    def create(attribute: str, columns: tuple[tuple[str, str, bool], ...], key: str) -> list[str]:
        body = [*_columns(dialect, columns), f"PRIMARY KEY ({key})"]
        if dialect.inline_indexes:
            body += [f"INDEX {name} ({cols})" for name, cols in indexes[attribute]]
        table = getattr(tables, attribute)
        statements = [f"CREATE TABLE IF NOT EXISTS {table} (\n    " + ",\n    ".join(body) + "\n)"]
        if dialect.indexes and not dialect.inline_indexes:
            statements += [_index_statement(dialect, table, name, cols) for name, cols in indexes[attribute]]
        return statements

    version = (
        f"CREATE TABLE IF NOT EXISTS {tables.schema_version} (\n"
        f"    table_set {dialect.types['name']} NOT NULL,\n"
        f"    version {dialect.types['int']} NOT NULL,\n"
        f"    applied_at {dialect.types['ts']} NOT NULL,\n"
        "    PRIMARY KEY (table_set)\n)"
    )
    return [
        version,
        *create("meetings", MEETING_COLUMNS, "bot_id"),
        *create("participants", PARTICIPANT_COLUMNS, "bot_id, participant_key"),
    ]


def insert_statement(table: str, columns: tuple[tuple[str, str, bool], ...], dialect: Dialect) -> str:
    names = [name for name, _, _ in columns]
    return (
        f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join([dialect.placeholder] * len(names))})"
    )
