"""The action items of the meeting notes in a table beside the meeting tables (pure, no Airflow): created
when missing (its own CREATE TABLE IF NOT EXISTS, so tables written by earlier releases gain it without a
migration), replaced per meeting in one transaction (re-running a meeting's notes leaves one set), and
the open ones per owner for the weekly digest."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Any

from airflow_provider_attendee.analytics.schema import Dialect, TableNames, insert_statement
from airflow_provider_attendee.analytics.store import adapt, fetch, transaction

#: (column, logical type, NOT NULL); primary key (bot_id, item_no).
ACTION_ITEM_COLUMNS: tuple[tuple[str, str, bool], ...] = (
    ("bot_id", "key", True),
    ("item_no", "int", True),
    ("what", "name", True),
    ("owner", "name", True),
    ("due", "name", False),
    ("status", "code", True),
    ("citations", "name", True),
    ("written_at", "ts", True),
)
#: An action item's status when written: the notes know no other; close one by updating the row.
OPEN = "open"


@dataclass(frozen=True)
class OpenActionItem:
    """An open action item in the digest: whose, what, by when, from which meeting."""

    owner: str
    what: str
    due: str | None
    bot_id: str
    meeting: str | None


def action_items_ddl(tables: TableNames, dialect: Dialect) -> str:
    columns = [f"{n} {dialect.types[k]}{' NOT NULL' if r else ''}" for n, k, r in ACTION_ITEM_COLUMNS]
    body = ",\n    ".join([*columns, "PRIMARY KEY (bot_id, item_no)"])
    return f"CREATE TABLE IF NOT EXISTS {tables.action_items} (\n    {body}\n)"


def ensure_action_items(connection: Any, tables: TableNames, dialect: Dialect) -> None:
    with transaction(connection, dialect) as cursor:
        cursor.execute(action_items_ddl(tables, dialect))


def action_item_rows(
    bot_id: str, items: Sequence[Any], written_at: datetime | None = None
) -> list[tuple[Any, ...]]:
    """Rows of a meeting's action items (``notes.models.ActionItem`` or dicts of the same fields)."""
    when = written_at or datetime.now(timezone.utc)
    rows = []
    for number, item in enumerate(items, start=1):
        data = item if isinstance(item, dict) else item.model_dump()
        citations = "; ".join(
            f"{c['speaker']} {c['time']} ({c['line']})" for c in data.get("citations") or []
        )
        rows.append((bot_id, number, data["what"], data["owner"], data.get("due"), OPEN, citations, when))
    return rows


def replace_action_items(
    connection: Any, tables: TableNames, dialect: Dialect, bot_id: str, rows: Sequence[tuple[Any, ...]]
) -> int:
    """This meeting's action items replaced by ``rows`` in one transaction; returns how many were written."""
    insert = insert_statement(tables.action_items, ACTION_ITEM_COLUMNS, dialect)
    with transaction(connection, dialect) as cursor:
        cursor.execute(f"DELETE FROM {tables.action_items} WHERE bot_id = {dialect.placeholder}", (bot_id,))
        if rows:
            cursor.executemany(insert, [tuple(adapt(v, dialect) for v in row) for row in rows])
    return len(rows)


def open_action_items(
    connection: Any, tables: TableNames, dialect: Dialect, week: date
) -> list[OpenActionItem]:
    """Open action items of the meetings up to the end of ``week`` (and of notes with no meeting row),
    by owner ("unassigned" last), then by meeting and order in the notes."""
    mark = dialect.placeholder
    rows = fetch(
        connection,
        f"SELECT a.owner, a.what, a.due, a.bot_id, m.event_name FROM {tables.action_items} a "
        f"LEFT JOIN {tables.meetings} m ON m.bot_id = a.bot_id "
        f"WHERE a.status = {mark} AND (m.week_start IS NULL OR m.week_start <= {mark}) "
        "ORDER BY a.owner, m.started_at, a.bot_id, a.item_no",
        (OPEN, adapt(week, dialect)),
    )
    items = [OpenActionItem(str(o), str(w), d, str(b), e.strip() if e else None) for o, w, d, b, e in rows]
    return sorted(items, key=lambda item: item.owner == "unassigned")


def per_owner(items: Sequence[OpenActionItem]) -> dict[str, list[OpenActionItem]]:
    grouped: dict[str, list[OpenActionItem]] = {}
    for item in items:
        grouped.setdefault(item.owner, []).append(item)
    return grouped


__all__ = ["OpenActionItem", "action_item_rows", "ensure_action_items", "open_action_items", "per_owner"]
