from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def airflow_db(attendee_airflow_db: str) -> str:
    """The plugin's migrated metadata DB in the session's throwaway AIRFLOW_HOME (tests/conftest.py)."""
    return attendee_airflow_db


@pytest.fixture
def no_attendee_events(airflow_db: str) -> None:
    """No attendee:// asset events, queue rows, recorded deliveries, finished meetings, catch-up positions
    or noted refusals left by earlier tests. The simulator's ids come from its seed, so a later test's bots have an earlier test's ids: its
    leftovers would count as this test's events, and the receiver would take its meetings as already seen."""
    from airflow.models.asset import AssetDagRunQueue, AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import delete, select

    from airflow_provider_attendee.plugins import _asset_events

    _asset_events.load_models()
    with create_session() as session:
        _asset_events._ensure_tables(session)
    with create_session() as session:
        session.execute(delete(AssetDagRunQueue))
        attendee_assets = select(AssetModel.id).where(AssetModel.uri.like("attendee://%"))
        session.execute(delete(AssetEvent).where(AssetEvent.asset_id.in_(attendee_assets)))
        for table in (
            _asset_events.deliveries,
            _asset_events.finished_meetings,
            _asset_events.catch_up_states,  # positions and leases (an earlier test's sweeper holds one)
            _asset_events.refusals,
        ):
            session.execute(delete(table))


POST_MEETING_DAG_ID = "attendee_post_meeting"


@pytest.fixture
def post_meeting_db(no_attendee_events: None):
    """The migrated DB with only the example post-meeting DAG unpaused (scheduled on
    ``attendee://bots/ended``), none of its runs, and no attendee:// events left from other tests."""
    from airflow.models.dag import DagModel
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import delete, update

    with create_session() as session:
        session.execute(update(DagModel).values(is_paused=True))
        session.execute(
            update(DagModel).where(DagModel.dag_id == POST_MEETING_DAG_ID).values(is_paused=False)
        )
        session.execute(delete(DagRun).where(DagRun.dag_id == POST_MEETING_DAG_ID))
    yield
    with create_session() as session:
        session.execute(update(DagModel).values(is_paused=True))
