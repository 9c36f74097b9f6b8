"""The DAG-run queue rows dated after each write (``_asset_events._advance_queue``) on PostgreSQL, against the
way Airflow 3.3's scheduler consumes them: it locks the DAG's rows (``FOR UPDATE``), creates the run for the
events up to the newest row's date, and deletes the rows. A write meanwhile must wait for that lock and then
queue the DAG anew, dated after its events: else its events would be left to no run."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import datetime, timezone

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from airflow_provider_attendee.testing.services import missing_services

EARLIER = datetime(2026, 1, 1, tzinfo=timezone.utc)
QUEUE = "asset_dag_run_queue"


@pytest.fixture(scope="module")
def engine() -> Iterator[sa.Engine]:
    """A throwaway PostgreSQL database with Airflow's queue table (its columns and key, without the foreign
    keys to tables this test does not need)."""
    if "postgresql" in missing_services():
        pytest.skip(
            "PostgreSQL is not installed (apt-get install postgresql, or scripts/install-services.sh)"
        )
    from airflow_provider_attendee.testing.services import postgres

    with postgres("attendee_queue_rows") as url:
        created = sa.create_engine(url)
        with created.begin() as connection:
            connection.execute(
                sa.text(
                    f"CREATE TABLE {QUEUE} (asset_id INTEGER NOT NULL, target_dag_id VARCHAR(250) NOT NULL, "
                    "created_at TIMESTAMP WITH TIME ZONE NOT NULL, PRIMARY KEY (asset_id, target_dag_id))"
                )
            )
        yield created
        created.dispose()


@pytest.fixture
def queue(engine: sa.Engine) -> sa.Engine:
    """The queue table holding one row, for asset 1 and DAG ``d``, dated ``EARLIER``."""
    with engine.begin() as connection:
        connection.execute(sa.text(f"DELETE FROM {QUEUE}"))
        connection.execute(
            sa.text(f"INSERT INTO {QUEUE} VALUES (1, 'd', :at)"),
            {"at": EARLIER},
        )
    return engine


def rows(engine: sa.Engine) -> list[tuple[int, str, datetime]]:
    with engine.connect() as connection:
        return [tuple(r) for r in connection.execute(sa.text(f"SELECT * FROM {QUEUE} ORDER BY 1, 2"))]


def write(engine: sa.Engine, asset_ids: set[int]) -> None:
    """What a group of deliveries does at its end, in its own transaction."""
    from airflow_provider_attendee.plugins._asset_events import _advance_queue

    with Session(engine) as session, session.begin():
        _advance_queue(session, asset_ids)


def test_a_queued_row_is_dated_after_the_write_and_other_assets_are_left_alone(queue: sa.Engine) -> None:
    before = datetime.now(timezone.utc)
    write(queue, {1, 2})  # asset 2 queues no DAG: nothing is invented for it
    ((asset_id, dag_id, dated),) = rows(queue)
    assert (asset_id, dag_id) == (1, "d")
    assert dated >= before


def test_a_write_waits_for_the_schedulers_lock_and_queues_the_dag_anew(queue: sa.Engine) -> None:
    with queue.connect() as scheduler:
        consuming = scheduler.begin()
        scheduler.execute(sa.text(f"SELECT * FROM {QUEUE} WHERE target_dag_id = 'd' FOR UPDATE"))
        before = datetime.now(timezone.utc)
        writer = threading.Thread(target=write, args=(queue, {1}))
        writer.start()
        deadline = time.monotonic() + 60
        with queue.connect() as observer:  # until the write waits on the scheduler's row lock
            while not observer.execute(sa.text("SELECT count(*) FROM pg_locks WHERE NOT granted")).scalar():
                assert writer.is_alive() and time.monotonic() < deadline, (
                    "the write did not wait for the lock"
                )
                time.sleep(0.05)
        assert rows(queue)[0][2] == EARLIER  # nothing committed while the scheduler holds the row
        scheduler.execute(sa.text(f"DELETE FROM {QUEUE} WHERE target_dag_id = 'd'"))  # the run took the row
        consuming.commit()
    writer.join(timeout=60)
    assert not writer.is_alive()
    ((asset_id, dag_id, dated),) = rows(queue)  # queued again: the scheduler's next run takes the new events
    assert (asset_id, dag_id) == (1, "d")
    assert dated >= before
