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


def latest_prior_xcom(ti: Any, task_id: str, key: str = "return_value") -> Any:
    """What ``task_id`` returned (at ``ti``'s map index) in the latest run up to this one: one value, or
    None. Bounded: one XCom row is read, however long the history.

    Why here: on Airflow 3 (checked in 3.1.0 and 3.3.2), ``ti.xcom_pull(task_ids=t, include_prior_dates=True)``
    without ``map_indexes`` asks for every map index (``XCom.get_all``, the execution API's ``/slice``
    route), and with ``include_prior_dates`` that means every earlier run's value: a single value while
    exactly one exists, then a list of all of them, ordered by map index only (so in no defined order of
    runs) and growing with the DAG's history. Given ``map_indexes``, both versions ask for one value
    instead (``XCom.get_one``: the single-XCom route, which orders the runs up to this one by logical date,
    newest first, then by the XCom's timestamp, and returns the first). This run's own value is not among
    them: Airflow clears a task instance's XComs when it starts running.
    """
    map_index = getattr(ti, "map_index", None)
    return ti.xcom_pull(
        task_ids=task_id,
        key=key,
        include_prior_dates=True,
        map_indexes=-1 if map_index is None else map_index,
    )


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
    "latest_prior_xcom",
    "server_connection",
]


def initialize_execution_api(app: Any) -> int:
    """Build the Execution API's versioned routes now, in the API-server process that is starting; the
    number of apps initialized.

    Why: Airflow mounts its Execution API (``/execution``) as a cadwyn app, which builds its versioned
    routes on its first request, synchronously, in the event loop: 10 to 30 s of CPU on a busy 2-core
    machine, during which that API-server worker answers nothing, Attendee's webhooks included (seen in
    the surge benchmark: the first task runs after a start stalled both workers for 14 s and 10 deliveries
    hit Attendee's 10 s timeout). Done here, before the worker serves, the cost moves to its start.
    ``app`` is any ASGI app of the root app's middleware chain (each holds the next in ``.app``, the last
    is the router); a structure not found (another Airflow or cadwyn) changes nothing."""
    node, hops = app, 0
    while node is not None and not hasattr(node, "routes") and hops < 64:
        node, hops = getattr(node, "app", None), hops + 1
    initialized = 0
    for route in getattr(node, "routes", None) or []:
        mounted: Any = getattr(route, "app", None)
        if getattr(mounted, "_cadwyn_initialized", True) is False and hasattr(mounted, "_cadwyn_initialize"):
            mounted._cadwyn_initialize()
            initialized += 1
    return initialized
