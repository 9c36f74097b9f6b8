"""Attendee connections saved through Airflow's ORM (what the UI's form does, in the API server where the
plugin registers the clean-up) keep only the extra fields that have a value; other types are untouched."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from airflow_provider_attendee import _connection_extra
from airflow_provider_attendee.hooks.attendee import AttendeeHook

# What Airflow 3.3's form saves for a new connection where only "Max retries" was filled in.
FORM_EXTRA = {
    "timeout": None,
    "max_retries": 3,
    "retry_backoff": None,
    "max_retry_time": None,
    "project_id": None,
    "webhook_secret": None,
    "max_concurrency": None,
}


@pytest.fixture
def clean_up_registered(airflow_db: str) -> Iterator[None]:
    from airflow.models.connection import Connection
    from sqlalchemy import event

    _connection_extra.register()
    _connection_extra.register()  # idempotent
    yield
    for name in ("before_insert", "before_update"):
        event.remove(Connection, name, _connection_extra.drop_unset_fields)


def stored_extra(conn_id: str) -> str | None:
    from airflow.models.connection import Connection
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        return session.scalar(select(Connection).where(Connection.conn_id == conn_id)).extra


def save(conn_id: str, conn_type: str, extra: dict) -> None:
    """Insert the connection, or update its extra (as the form's PATCH does)."""
    from airflow.models.connection import Connection
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        conn = session.scalar(select(Connection).where(Connection.conn_id == conn_id))
        if conn is None:
            session.add(
                Connection(conn_id=conn_id, conn_type=conn_type, password="k", extra=json.dumps(extra))
            )
        else:
            conn.extra = json.dumps(extra)


def test_unset_fields_are_not_stored(clean_up_registered, monkeypatch):
    save("attendee_form", "attendee", FORM_EXTRA)
    assert json.loads(stored_extra("attendee_form")) == {"max_retries": 3}
    save(
        "attendee_form",
        "attendee",
        {**FORM_EXTRA, "max_retries": None, "project_id": "proj_1", "timeout": ""},
    )
    assert json.loads(stored_extra("attendee_form")) == {"project_id": "proj_1"}
    save("attendee_form", "attendee", {**FORM_EXTRA, "max_retries": None})
    assert stored_extra("attendee_form") is None
    save("http_form", "http", {"timeout": None})
    assert json.loads(stored_extra("http_form")) == {"timeout": None}  # not ours: as Airflow saved it


def test_old_connections_with_nulls_still_work(monkeypatch):
    conn = {"conn_type": "attendee", "host": "attendee.test", "password": "k", "extra": FORM_EXTRA}
    monkeypatch.setenv("AIRFLOW_CONN_ATTENDEE_OLD", json.dumps(conn))
    settings = AttendeeHook("attendee_old").settings
    assert (settings.timeout, settings.max_retries, settings.max_retry_time, settings.max_concurrency) == (
        30.0,
        3,
        120.0,
        8,
    )
    assert settings.project_id is None and settings.bot_url("bot_1") is None
