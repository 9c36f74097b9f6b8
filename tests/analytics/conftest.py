"""The meeting tables' databases: every test runs on SQLite and on PostgreSQL (a throwaway server, started
once per session; skipped with the reason when PostgreSQL or its provider is not installed), through
Airflow connections and their DbApiHooks, as the operators use them."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from airflow_provider_attendee.hooks.meeting_tables import MeetingTables
from airflow_provider_attendee.testing.services import missing_services

CONN_ID = "meeting_tables_test"
_databases = itertools.count()


def _postgres_missing() -> str | None:
    try:
        import psycopg2  # noqa: F401
        from airflow.providers.postgres.hooks.postgres import PostgresHook  # noqa: F401
    except ImportError as err:
        return f"the PostgreSQL provider is not installed ({err}): pip install -e '.[test]'"
    if "postgresql" in missing_services():
        return "PostgreSQL is not installed (apt-get install postgresql, or scripts/install-services.sh)"
    return None


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[tuple[str, int]]:
    """(host, port) of a throwaway PostgreSQL server for the session."""
    if reason := _postgres_missing():
        pytest.skip(reason)
    from sqlalchemy.engine import make_url

    from airflow_provider_attendee.testing.services import postgres

    with postgres("attendee_tables") as url:
        parsed = make_url(url)
        yield str(parsed.host), int(parsed.port or 5432)


def _new_postgres_database(host: str, port: int) -> str:
    import psycopg2

    name = f"tables_{next(_databases)}"
    connection = psycopg2.connect(host=host, port=port, user="postgres", dbname="postgres")
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}"')
    connection.close()
    return name


@pytest.fixture(params=["sqlite", "postgresql"])
def tables_conn_id(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """An Airflow connection id of an empty database: a SQLite file, or a new PostgreSQL database."""
    if request.param == "sqlite":
        uri = f"sqlite://{quote(str(tmp_path / 'meetings.db'), safe='')}"  # the host is the file's path
    else:
        host, port = request.getfixturevalue("postgres_server")
        uri = f"postgresql://postgres@{host}:{port}/{_new_postgres_database(host, port)}"
    monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", uri)
    return CONN_ID


@pytest.fixture
def tables(tables_conn_id: str) -> MeetingTables:
    return MeetingTables(tables_conn_id)
