"""DRF-style cursor pagination: opaque cursors keyed on the sort position, absolute next/previous links.

A cursor remembers the sort key of the last (or first) item it saw, not an offset, so pages stay
correct while items are added or deleted between requests, as with the real server.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from starlette.requests import Request

from airflow_provider_attendee.testing.simulator.state import SimError

T = TypeVar("T")
SortKey = tuple[Any, ...]


def _encode(key: SortKey, backwards: bool) -> str:
    raw = json.dumps({"k": list(key), "b": backwards}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(cursor: str) -> tuple[SortKey, bool]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = json.loads(raw)
        return tuple(data["k"]), bool(data["b"])
    except (ValueError, KeyError, TypeError):
        raise SimError(404, {"detail": "Invalid cursor"}) from None


def _link(request: Request, cursor: str) -> str:
    # Absolute, built from the request's Host header, other query parameters kept (as DRF does).
    return str(request.url.include_query_params(cursor=cursor))


def paginate(
    request: Request,
    items: Sequence[T],
    key: Callable[[T], SortKey],
    render: Callable[[T], dict[str, Any]],
    page_size: int,
    descending: bool = False,
) -> dict[str, Any]:
    """One page of ``items`` (any order) sorted by ``key``, as ``{next, previous, results}``."""
    ordered = sorted(items, key=key, reverse=descending)
    keys = [key(item) for item in ordered]

    def after(k: SortKey, ref: SortKey) -> bool:
        return k < ref if descending else k > ref

    cursor = request.query_params.get("cursor")
    if cursor is None:
        start, end = 0, min(page_size, len(ordered))
    else:
        ref, backwards = _decode(cursor)
        if backwards:
            end = next((i for i, k in enumerate(keys) if not after(ref, k)), len(keys))
            start = max(0, end - page_size)
        else:
            start = next((i for i, k in enumerate(keys) if after(k, ref)), len(keys))
            end = min(start + page_size, len(ordered))
    page = ordered[start:end]
    return {
        "next": _link(request, _encode(keys[end - 1], False)) if end < len(ordered) and page else None,
        "previous": _link(request, _encode(keys[start], True)) if start > 0 and page else None,
        "results": [render(item) for item in page],
    }
