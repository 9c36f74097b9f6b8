"""Imports that moved between the Airflow 3 versions this provider supports (3.1 to 3.3)."""

from __future__ import annotations

from typing import Any

try:  # Airflow 3.2+
    from airflow.sdk import conf  # type: ignore[attr-defined, unused-ignore]
except ImportError:  # Airflow 3.1
    from airflow.configuration import conf  # type: ignore[no-redef, assignment, unused-ignore]

try:  # Airflow 3.2+: the task SDK owns the task-facing exceptions
    from airflow.sdk.exceptions import (  # type: ignore[attr-defined, unused-ignore]
        AirflowException,
        AirflowFailException,
        AirflowNotFoundException,
        AirflowSensorTimeout,
    )
except ImportError:  # Airflow 3.1
    from airflow.exceptions import (  # type: ignore[no-redef, assignment, attr-defined, unused-ignore]
        AirflowException,
        AirflowFailException,
        AirflowNotFoundException,
        AirflowSensorTimeout,
    )

try:  # Airflow 3.2+: metrics moved to the task SDK (airflow.stats is a deprecated shim)
    from airflow.sdk.observability.stats import Stats  # type: ignore[import-not-found, unused-ignore]
except ImportError:  # Airflow 3.1
    from airflow.stats import Stats  # type: ignore[no-redef, unused-ignore]


def server_connection(conn_id: str) -> Any:
    """A connection read in an Airflow server process (the API server), where no task supervisor runs:
    Airflow 3.1's SDK lookup imports the supervisor channel and fails there for a connection that is not
    an environment variable, so the core lookup (env vars, secrets backends, metadata DB) is used then."""
    from airflow.sdk import BaseHook

    try:
        return BaseHook.get_connection(conn_id)
    except ImportError:
        from airflow.models.connection import Connection

        return Connection.get_connection_from_secrets(conn_id)


def default_deferrable() -> bool:
    """Airflow's ``[operators] default_deferrable`` setting."""
    return bool(conf.getboolean("operators", "default_deferrable", fallback=False))


__all__ = [
    "AirflowException",
    "AirflowFailException",
    "AirflowNotFoundException",
    "AirflowSensorTimeout",
    "Stats",
    "conf",
    "default_deferrable",
    "server_connection",
]
