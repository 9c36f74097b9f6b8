"""The meeting tables on SQLite and PostgreSQL (same assertions): created once with their version, each
meeting replaced in one transaction (re-run, retry after a failure mid-write), concurrent writers."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest

from airflow_provider_attendee.analytics.rows import meeting_rows
from airflow_provider_attendee.analytics.schema import SCHEMA_VERSION
from airflow_provider_attendee.analytics.store import fetch
from airflow_provider_attendee.exceptions import AttendeeTablesConfigurationError, AttendeeTablesError
from airflow_provider_attendee.hooks.meeting_tables import MeetingTables
from tests.analytics.meetings import (
    ENG,
    ENG_INVITES,
    STANDUP_UID,
    WEEK_2,
    event,
    failed_bot,
    finished_bot,
    report,
)

START = WEEK_2 + timedelta(hours=5)
FIRST = [("u-ann", "Ann Lee", 900, 100, True), ("u-bob", "Bob Ray", 900, 300, False)]
SECOND = [*FIRST, ("u-cat", "Cat Wu", 600, 50, False)]


def standup(people: list[tuple[str, str, float, float, bool]], bot_id: str = "bot_standup") -> Any:
    return meeting_rows(
        finished_bot(bot_id, START, 15, metadata={"event_id": "evt_s2"}),
        report(START, 15, people),
        event=event("evt_s2", "cal_eng", "Standup", START, ENG_INVITES, STANDUP_UID),
        calendar=ENG,
    )


def content(tables: MeetingTables) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Every row of both tables (the columns the tests compare), in a fixed order."""
    with tables.connection() as connection:
        meetings = fetch(
            connection,
            f"SELECT bot_id, outcome, failure_reason, participants, total_speaking_seconds, calendar_name, "
            f"series_key, invited FROM {tables.tables.meetings} ORDER BY bot_id",
        )
        people = fetch(
            connection,
            f"SELECT bot_id, participant_key, display_name, email, speaking_seconds, present_seconds "
            f"FROM {tables.tables.participants} ORDER BY bot_id, participant_key",
        )
    return meetings, people


class FailingParticipantsInsert:
    """A DB-API connection whose participants insert writes one row, then fails (a crash mid-write)."""

    def __init__(self, real: Any) -> None:
        self.real = real

    def cursor(self) -> Any:
        real = self.real.cursor()

        class Cursor:
            def executemany(self, sql: str, rows: list[Any]) -> None:
                if "participants" in sql.split("(")[0]:
                    real.execute(sql, rows[0])
                    raise RuntimeError("connection lost (injected mid-write)")
                real.executemany(sql, rows)

            def __getattr__(self, name: str) -> Any:
                return getattr(real, name)

        return Cursor()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


def test_tables_are_created_once_with_their_version(tables):
    with tables.connection() as connection:
        first = fetch(connection, f"SELECT table_set, version FROM {tables.tables.schema_version}")
    with tables.connection() as connection:  # again: nothing created twice
        again = fetch(connection, f"SELECT table_set, version FROM {tables.tables.schema_version}")
    assert first == again == [("attendee_meetings", SCHEMA_VERSION)]
    assert content(tables) == ([], [])


def test_the_same_meeting_three_times_and_a_retry_after_a_failure_mid_write(tables):
    written = tables.write(*standup(FIRST))
    assert (written.meetings, written.participants) == (1, 2)
    once = content(tables)
    assert once[0] == [("bot_standup", "completed", None, 2, 400.0, "team-eng", f"cal_eng:{STANDUP_UID}", 4)]
    assert [(p[1], p[3], p[4]) for p in once[1]] == [
        ("u-ann", "ann@example.com", 100.0),
        ("u-bob", "bob@example.com", 300.0),
    ]

    tables.write(*standup(FIRST))  # a re-run: the same rows, not twice
    assert content(tables) == once

    real_get_conn = tables.hook.get_conn
    tables.hook.get_conn = lambda: FailingParticipantsInsert(real_get_conn())  # type: ignore[method-assign]
    with pytest.raises(AttendeeTablesError, match=r"bot_standup .* Nothing was changed"):
        tables.write(*standup(SECOND))  # a newer report, cut off after one participant row
    tables.hook.get_conn = real_get_conn  # type: ignore[method-assign]
    assert content(tables) == once  # rolled back: the previous rows, whole

    tables.write(*standup(SECOND))  # the task's retry
    meetings, people = content(tables)
    assert [(m[0], m[3], m[4]) for m in meetings] == [("bot_standup", 3, 450.0)]
    assert [p[1] for p in people] == ["u-ann", "u-bob", "u-cat"]


def test_failed_bots_are_rows_with_their_reason(tables):
    bot = failed_bot("bot_denied", START, "request_to_join_denied")
    tables.write(*meeting_rows(bot, report(None, 0, [])))
    meetings, people = content(tables)
    assert meetings == [
        ("bot_denied", "failed", "request_to_join_denied", 0, 0.0, None, bot.meeting_url, None)
    ]
    assert people == []


class Choreographed:
    """A DB-API connection that reports when its write transaction starts and may pause inside it."""

    def __init__(self, real: Any, on_start: Any, after_delete: Any) -> None:
        self.real, self.on_start, self.after_delete = real, on_start, after_delete

    def cursor(self) -> Any:
        real, owner = self.real.cursor(), self

        class Cursor:
            def execute(self, sql: str, parameters: Any = ()) -> Any:
                if not sql.lstrip().upper().startswith("SELECT") and owner.on_start:
                    owner.on_start()
                    owner.on_start = None
                result = real.execute(sql, parameters)
                if sql.startswith("DELETE FROM attendee_meetings") and owner.after_delete:
                    owner.after_delete()
                return result

            def __getattr__(self, name: str) -> Any:
                return getattr(real, name)

        return Cursor()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


def test_two_writers_at_once_both_land(tables_conn_id):
    """B starts writing while A is inside its transaction (PostgreSQL: both run at once; SQLite: B waits for
    the write lock): both meetings land, whole."""
    MeetingTables(tables_conn_id).write(*standup(FIRST, "bot_earlier"))  # the tables exist
    a, b = MeetingTables(tables_conn_id), MeetingTables(tables_conn_id)
    a_inside, b_started = threading.Event(), threading.Event()
    order: list[str] = []

    def a_pause() -> None:
        order.append("A inside its transaction")
        a_inside.set()
        assert b_started.wait(30)

    def b_start() -> None:
        order.append("B starts its transaction")
        b_started.set()

    real_a, real_b = a.hook.get_conn, b.hook.get_conn
    a.hook.get_conn = lambda: Choreographed(real_a(), None, a_pause)  # type: ignore[method-assign]
    b.hook.get_conn = lambda: Choreographed(real_b(), b_start, None)  # type: ignore[method-assign]
    errors: list[BaseException] = []

    def write(tables: MeetingTables, bot_id: str, people: Any, wait: threading.Event | None) -> None:
        try:
            if wait is not None:
                assert wait.wait(30)
            tables.write(*standup(people, bot_id))
            order.append(f"{bot_id} committed")
        except BaseException as err:
            errors.append(err)

    threads = [
        threading.Thread(target=write, args=(a, "bot_a", FIRST, None)),
        threading.Thread(target=write, args=(b, "bot_b", SECOND, a_inside)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    assert order.index("B starts its transaction") < order.index("bot_a committed")  # they overlapped
    meetings, people = content(MeetingTables(tables_conn_id))
    assert [(m[0], m[3]) for m in meetings] == [("bot_a", 2), ("bot_b", 3), ("bot_earlier", 2)]
    assert [p[0] for p in people].count("bot_b") == 3


def test_table_names_are_configurable_and_checked(tables_conn_id):
    custom = MeetingTables(
        tables_conn_id,
        {"meetings": "team_meetings", "participants": "team_people", "schema_version": "team_versions"},
    )
    custom.write(*standup(FIRST))
    with custom.connection() as connection:
        assert fetch(connection, "SELECT bot_id FROM team_meetings") == [("bot_standup",)]
        assert len(fetch(connection, "SELECT participant_key FROM team_people")) == 2
        assert fetch(connection, "SELECT table_set, version FROM team_versions") == [("team_meetings", 1)]
    with pytest.raises(AttendeeTablesConfigurationError, match="not a plain SQL identifier"):
        MeetingTables(tables_conn_id, {"meetings": "meetings; DROP TABLE x"})
    with pytest.raises(AttendeeTablesConfigurationError, match="Unknown table key"):
        MeetingTables(tables_conn_id, {"meeting": "x"})


def test_tables_of_a_newer_schema_are_refused(tables):
    with tables.connection() as connection:
        cursor = connection.cursor()
        cursor.execute(f"UPDATE {tables.tables.schema_version} SET version = {SCHEMA_VERSION + 1}")
        connection.commit()
    with pytest.raises(
        AttendeeTablesConfigurationError, match=r"schema version 2; this release .* writes version 1"
    ):
        tables.write(*standup(FIRST))


def test_unknown_connections_name_the_fix(monkeypatch):
    with pytest.raises(AttendeeTablesConfigurationError, match="AIRFLOW_CONN_NO_SUCH_DB="):
        MeetingTables("no_such_db").write(*standup(FIRST))
    monkeypatch.setenv("AIRFLOW_CONN_NOT_SQL", '{"conn_type": "attendee", "host": "http://x"}')
    with pytest.raises(AttendeeTablesConfigurationError, match="not a SQL database"):
        MeetingTables("not_sql").write(*standup(FIRST))
