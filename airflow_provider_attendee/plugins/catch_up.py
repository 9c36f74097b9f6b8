"""Catch-up: meetings that finished while webhooks could not reach Airflow (down, restarting, refusing a
rotated secret) are found from the Attendee API and emitted, once, on ``attendee://bots/<state>``.

Attendee tries a delivery 3 times within a few seconds, then never again, so push alone loses what
happens during any outage. Push stays the fast path: the catch-up looks every ``catch_up_interval``
seconds (``bot_watch.look``: live bots, the list's tail, one look-up per finished bot: cost grows with
what is new, not with history) and emits only meetings (bot, state) that push did not record. It runs in
the API server (the receiver's process), one process per connection at a time (a lease in the metadata
DB), for finished states some unpaused DAG is scheduled on.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from airflow_provider_attendee.client.states import TERMINAL

log = logging.getLogger(__name__)


def wanted_states(scheduled_uris: set[str]) -> set[str]:
    """The finished states DAGs are scheduled on (``attendee://bots/ended`` -> ``ended``)."""
    prefix = "attendee://bots/"
    return {uri[len(prefix) :] for uri in scheduled_uris if uri.startswith(prefix)} & TERMINAL


def caught_up_extra(bot: Any, how: str) -> dict[str, Any]:
    """An asset event's ``extra`` for a caught-up meeting: the same ``payload`` keys as a pushed one."""
    last = bot.events[-1] if bot.events else None
    payload = {
        "status": "success",
        "bot_id": bot.id,
        "state": bot.state,
        "event_type": getattr(last, "type", None),
        "event_sub_type": getattr(last, "sub_type", None),
        "metadata": bot.metadata or {},
    }
    return {
        "payload": {k: v for k, v in payload.items() if v is not None},
        "trigger": "bot.state_change",
        "bot_metadata": bot.metadata,
        "source": "catch_up",
        "found": how,
    }


@dataclass
class CatchUpResult:
    """One pass over one connection."""

    conn_id: str
    emitted: list[str] = field(default_factory=list)
    already: list[str] = field(default_factory=list)
    skipped: bool = False  # another process holds the lease


def catch_up(conn_id: str, states: set[str], owner: str, lease: timedelta) -> CatchUpResult:
    """One look for ``conn_id``: emit every meeting that reached one of ``states`` and was not pushed."""
    from airflow_provider_attendee._compat import server_connection
    from airflow_provider_attendee.client.bot_watch import WatchState, look
    from airflow_provider_attendee.hooks.attendee import AttendeeHook
    from airflow_provider_attendee.plugins import _asset_events

    result = CatchUpResult(conn_id)
    held, saved = _asset_events.claim_catch_up(conn_id, owner, lease)
    if not held:
        result.skipped = True
        return result

    # Few retries: the next pass looks again. Settings resolved here, synchronously: the API server
    # reads connections from its secrets backends and metadata DB, not through a task supervisor.
    hook = AttendeeHook(attendee_conn_id=conn_id, max_retries=2)
    hook.use_connection(server_connection(conn_id))

    async def one_look() -> tuple[list[Any], WatchState]:
        try:
            return await look(
                hook, WatchState.from_json(saved), states, already_known=_asset_events.finished_bots
            )
        finally:
            await hook.aclose()

    found, following = asyncio.run(one_look())
    for item in found:
        already = _asset_events.record_caught_up(
            bot_id=item.bot.id,
            state=item.bot.state,
            conn_id=conn_id,
            extra=caught_up_extra(item.bot, item.how),
        )
        if already:
            result.already.append(item.bot.id)
        else:
            result.emitted.append(item.bot.id)
            log.warning(
                "Attendee catch-up: bot %s reached %s without a webhook reaching Airflow; emitted now "
                "(found: %s; connection %r)",
                item.bot.id,
                item.bot.state,
                item.how,
                conn_id,
            )
    _asset_events.save_catch_up(conn_id, owner, following.to_json())
    return result
