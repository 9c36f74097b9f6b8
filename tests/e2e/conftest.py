from __future__ import annotations

import os
import subprocess
import sys

import pytest


@pytest.fixture(scope="session")
def airflow_db() -> str:
    """A migrated metadata DB in the session's throwaway AIRFLOW_HOME, with the attendee_api pool."""
    env = {**os.environ, "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING"}
    airflow = [sys.executable, "-m", "airflow"]
    subprocess.run([*airflow, "db", "migrate"], check=True, env=env, capture_output=True)
    subprocess.run(
        [*airflow, "pools", "set", "attendee_api", "8", "Attendee API calls"],
        check=True,
        env=env,
        capture_output=True,
    )
    # Airflow 3.1's dag.test() runs only DAGs already serialized in the DB (3.3 serializes them itself).
    subprocess.run([*airflow, "dags", "reserialize"], check=True, env=env, capture_output=True)
    return os.environ["AIRFLOW_HOME"]
