"""Whether an argument is still a Jinja template: such values are checked in ``execute``, after rendering,
never in ``__init__`` (Airflow's rule; the DAG file would not even import otherwise)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

_MARKERS = ("{{", "{%")


def is_templated(value: Any) -> bool:
    """True if the value (or any item of a list or mapping in it) contains Jinja markup."""
    if isinstance(value, str):
        return any(marker in value for marker in _MARKERS)
    if isinstance(value, Mapping):
        return any(is_templated(k) or is_templated(v) for k, v in value.items())
    if isinstance(value, (list, tuple, set, frozenset)):
        return any(is_templated(item) for item in value)
    return False
