from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def airflow_db(attendee_airflow_db: str) -> str:
    """The plugin's migrated metadata DB in the session's throwaway AIRFLOW_HOME (tests/conftest.py)."""
    return attendee_airflow_db
