"""Attendee connections store in their extra only the fields a user set.

Airflow 3.3's connection form saves every field it shows, an empty one as null (``{"timeout": null,
"project_id": null, ...}``). The hook reads a null as "use the default", so such an extra works, but it is
noise that looks like a setting. The plugin registers ``drop_unset_fields`` on Airflow's ``Connection``
model in the API server (where the form saves), so that an Attendee connection is stored with the fields
that have a value. Like ``_asset_events``, this uses an Airflow internal (the ORM model), isolated here;
a failure leaves the connection as Airflow saves it.
"""

from __future__ import annotations

import json
import logging
from typing import Any

log = logging.getLogger(__name__)

CONN_TYPE = "attendee"


def without_unset(extra: dict[str, Any]) -> dict[str, Any]:
    """The extra without its empty fields (null or an empty string: the form's "not set")."""
    return {key: value for key, value in extra.items() if value is not None and value != ""}


def drop_unset_fields(_mapper: Any, _connection: Any, target: Any) -> None:
    """SQLAlchemy ``before_insert`` / ``before_update`` listener of Airflow's ``Connection``."""
    if getattr(target, "conn_type", None) != CONN_TYPE:
        return
    try:
        raw = target.extra
        extra = json.loads(raw) if raw else None
        if not isinstance(extra, dict):
            return
        kept = without_unset(extra)
        if kept != extra:
            target.extra = json.dumps(kept) if kept else None
    except Exception:  # never stand in the way of saving a connection
        log.warning("Could not drop the unset fields of connection %r", getattr(target, "conn_id", None))


def register() -> None:
    """Listen to inserts and updates of Airflow's ``Connection`` (idempotent)."""
    from airflow.models.connection import Connection
    from sqlalchemy import event

    for name in ("before_insert", "before_update"):
        if not event.contains(Connection, name, drop_unset_fields):
            event.listen(Connection, name, drop_unset_fields)
