"""The provider's tables under alembic (``airflow_provider_attendee.db``), on SQLite and PostgreSQL: created
from empty, adopted with their rows from a database an earlier build populated, downgraded and upgraded
again, migrated once when many processes start together, and equal to their definitions (a table changed
without a migration fails here)."""

from __future__ import annotations

import itertools
import multiprocessing
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from airflow_provider_attendee.db import manager, tables
from airflow_provider_attendee.testing.services import missing_services

OWN = {t.name for t in tables.OWN_TABLES}
_databases = itertools.count()


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    """A throwaway PostgreSQL server's URL (its ``postgres`` database), for this module."""
    if "postgresql" in missing_services():
        pytest.skip(
            "PostgreSQL is not installed (apt-get install postgresql, or scripts/install-services.sh)"
        )
    from airflow_provider_attendee.testing.services import postgres

    with postgres("attendee_db_manager") as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[sa.Engine]:
    """An engine on an empty database: a SQLite file, or a new PostgreSQL database."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'airflow.db'}"
    else:
        base = request.getfixturevalue("postgres_url")
        name = f"db_{os.getpid()}_{next(_databases)}"
        admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        url = str(sa.engine.make_url(base).set(database=name).render_as_string(hide_password=False))
    created = sa.create_engine(url, poolclass=sa.pool.NullPool)
    yield created
    created.dispose()


def upgrade(engine: sa.Engine, to: str = "heads") -> None:
    from alembic import command

    with engine.connect() as connection:
        command.upgrade(manager.AttendeeDBManager(None)._config(connection), to)
        connection.commit()


def downgrade(engine: sa.Engine, to: str) -> None:
    from alembic import command

    with engine.connect() as connection:
        command.downgrade(manager.AttendeeDBManager(None)._config(connection), to)
        connection.commit()


def revision(engine: sa.Engine) -> str | None:
    with engine.connect() as connection:
        return manager.current_revision(connection)


def own_tables(engine: sa.Engine) -> set[str]:
    return OWN & set(sa.inspect(engine).get_table_names())


def drift(engine: sa.Engine, metadata: sa.MetaData = tables.metadata) -> list[object]:
    """What alembic's autogenerate would change to make the database's provider tables equal ``metadata``."""

    def only_ours(name: str | None, type_: str, parent_names: object) -> bool:
        return type_ != "table" or name in OWN

    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "include_name": only_ours}
        )
        return list(compare_metadata(context, metadata))


def test_from_empty_the_migrations_make_exactly_the_defined_tables(engine: sa.Engine) -> None:
    upgrade(engine)

    assert own_tables(engine) == OWN
    assert revision(engine) == manager.AttendeeDBManager(None).head() == "0001_attendee"
    assert drift(engine) == []
    with engine.connect() as connection:
        assert connection.execute(sa.select(tables.locks)).all() == [(tables.LOCK_NAME, 0)]


def test_a_table_changed_without_a_migration_is_drift(engine: sa.Engine) -> None:
    """The drift check can fail: a column added to a definition, and no migration, is reported."""
    upgrade(engine)
    changed = sa.MetaData()
    for table in tables.metadata.sorted_tables:
        table.to_metadata(changed)
    sa.Table("attendee_catch_up", changed, sa.Column("note", sa.Text), extend_existing=True)

    differences = drift(engine, changed)

    assert [(d[0], d[3].name) for d in differences if isinstance(d, tuple)] == [("add_column", "note")]


def populate_as_an_earlier_build(engine: sa.Engine) -> dict[str, int]:
    """The tables as 0.2.0.dev0 before the DB manager created them on first use (``table.create``, no
    version table), the refusal table not yet there, with rows; the row count of each table."""
    old = sa.MetaData()
    for table in (tables.deliveries, tables.finished_meetings, tables.locks, tables.catch_up_states):
        table.to_metadata(old)
    old.create_all(engine)
    now = datetime.now(timezone.utc)
    with engine.begin() as connection:
        connection.execute(
            tables.deliveries.insert(),
            [
                {
                    "idempotency_key": f"key-{i}",
                    "trigger": "bot.state_change",
                    "bot_id": f"bot_{i}",
                    "conn_id": "attendee_default",
                    "received_at": now,
                    "asset_uris": '["attendee://bots/ended"]',
                }
                for i in range(3)
            ],
        )
        connection.execute(
            tables.finished_meetings.insert(),
            [
                {"bot_id": "bot_0", "state": "ended", "source": "push", "conn_id": None, "recorded_at": now},
                {
                    "bot_id": "bot_9",
                    "state": "ended",
                    "source": "catch_up",
                    "conn_id": "a",
                    "recorded_at": now,
                },
            ],
        )
        connection.execute(tables.locks.insert().values(name=tables.LOCK_NAME, counter=41))
        connection.execute(
            tables.catch_up_states.insert().values(conn_id="attendee_default", state='{"seen": []}')
        )
    return {"attendee_webhook_delivery": 3, "attendee_finished_meeting": 2, "attendee_event_lock": 1}


def test_an_earlier_builds_tables_are_adopted_with_their_rows(engine: sa.Engine) -> None:
    counts = populate_as_an_earlier_build(engine)
    assert revision(engine) is None

    upgrade(engine)

    assert revision(engine) == "0001_attendee"
    assert own_tables(engine) == OWN  # the missing refusal table was added
    assert drift(engine) == []
    with engine.connect() as connection:
        for name, count in counts.items():
            assert connection.execute(sa.text(f"SELECT count(*) FROM {name}")).scalar() == count
        assert connection.execute(sa.select(tables.locks.c.counter)).scalar() == 41  # not a second row
        assert connection.execute(sa.select(tables.catch_up_states.c.state)).scalar() == '{"seen": []}'


def test_a_downgrade_to_base_drops_the_tables_and_an_upgrade_brings_them_back(engine: sa.Engine) -> None:
    upgrade(engine)

    downgrade(engine, "base")
    assert own_tables(engine) == set()
    assert revision(engine) is None

    upgrade(engine)
    assert own_tables(engine) == OWN
    assert drift(engine) == []


def test_db_reset_drops_the_tables_and_the_version_table(engine: sa.Engine) -> None:
    upgrade(engine)

    with engine.begin() as connection:
        manager.AttendeeDBManager(None).drop_tables(connection)

    assert own_tables(engine) == set()
    assert manager.VERSION_TABLE not in sa.inspect(engine).get_table_names()


def _ensure_in_a_process(url: str) -> None:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    manager.ensure_current(engine)
    engine.dispose()


def test_many_processes_starting_together_migrate_once(engine: sa.Engine) -> None:
    """API servers, triggerers and workers starting at once on a database no `airflow db migrate` ran the
    manager on: the first-use migration runs under a lock, and leaves one version row."""
    url = engine.url.render_as_string(hide_password=False)
    context = multiprocessing.get_context("fork")  # modules already imported: they start at once
    processes = [context.Process(target=_ensure_in_a_process, args=(url,)) for _ in range(6)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(120)

    assert [p.exitcode for p in processes] == [0] * 6
    assert own_tables(engine) == OWN
    with engine.connect() as connection:
        versions = connection.execute(sa.text(f"SELECT version_num FROM {manager.VERSION_TABLE}")).all()
    assert versions == [("0001_attendee",)]
    assert drift(engine) == []


def test_first_use_says_how_to_register_the_manager(
    engine: sa.Engine, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(manager, "_checked", set())

    with caplog.at_level("WARNING", logger=manager.__name__):
        manager.ensure_current(engine)
        manager.ensure_current(engine)  # once per process and database

    assert own_tables(engine) == OWN
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1
    assert manager.MANAGER_PATH in warnings[0] and "external_db_managers" in warnings[0]


def test_no_warning_where_airflow_db_migrate_ran_the_manager(
    engine: sa.Engine, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    upgrade(engine)
    monkeypatch.setattr(manager, "_checked", set())

    with caplog.at_level("WARNING", logger=manager.__name__):
        manager.ensure_current(engine)

    assert [r for r in caplog.records if r.levelname == "WARNING"] == []


@pytest.mark.slow
def test_airflow_db_migrate_adopts_an_earlier_builds_tables(tmp_path: Path) -> None:
    """``airflow db migrate``, as a deployment runs it: on Airflow 3.2+ the provider info names the manager;
    on 3.1 ``[database] external_db_managers`` does (as the docs say). The tables an earlier build made in
    the same database are adopted with their rows."""
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'airflow.db'}", poolclass=sa.pool.NullPool)
    counts = populate_as_an_earlier_build(engine)
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(tmp_path),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": str(engine.url),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
    }
    if airflow_minor() < 2:
        env["AIRFLOW__DATABASE__EXTERNAL_DB_MANAGERS"] = manager.MANAGER_PATH

    done = subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )

    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "Upgrading the Attendee provider's tables" in done.stdout + done.stderr
    assert revision(engine) == "0001_attendee"
    assert own_tables(engine) == OWN and drift(engine) == []
    with engine.connect() as connection:
        for name, count in counts.items():
            assert connection.execute(sa.text(f"SELECT count(*) FROM {name}")).scalar() == count
        assert connection.execute(sa.text("SELECT count(*) FROM dag")).scalar() == 0  # Airflow's own, too
    engine.dispose()


def airflow_minor() -> int:
    from importlib.metadata import version

    return int(version("apache-airflow-core").split(".")[1])
