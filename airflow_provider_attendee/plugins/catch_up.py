"""Catch-up: meetings that finished while webhooks could not reach Airflow (down, restarting, refusing a
wrong or rotated secret) are found from the Attendee API and emitted, once, on ``attendee://bots/<state>``.

Attendee tries a delivery 3 times within a few seconds, then never again, so push alone loses what
happens during any outage. Push stays the fast path: the catch-up looks every ``catch_up_interval``
seconds (``bot_watch.look``: live bots, the list's tail, one look-up per finished bot: cost grows with
what is new, not with history) and emits only meetings (bot, state) that push did not record. It runs in
the API server (the receiver's process), one process per connection at a time (a lease in the metadata
DB), for finished states some unpaused DAG is scheduled on.

Which connections (``conn_ids``): from the start, every connection set up for push (``push_conn_ids``:
an Attendee connection with a webhook secret), plus those that deliveries named, accepted or refused, and
``catch_up_conn_ids``; so a secret that is wrong from the first delivery, or an outage before any
delivery got through, loses nothing. The first look at a connection reaches back ``catch_up_lookback``
(``bot_watch.look``'s ``reach_back``, at no extra request): what finished before it and was not recorded
(by push, or by any other writer of the asset's events) is emitted then.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from airflow_provider_attendee import DEFAULT_CONN_ID
from airflow_provider_attendee.client.states import TERMINAL

log = logging.getLogger(__name__)

#: The connection type whose connections with a ``webhook_secret`` are caught up from the start.
CONN_TYPE = "attendee"
#: Events of the asset are looked up this far before the reach-back too (clock skew between Airflow and
#: Attendee): a meeting emitted by another writer is not emitted twice.
SKEW = timedelta(minutes=5)


def push_conn_ids() -> set[str]:
    """The connections set up for push: Attendee connections (and ``attendee_default``, whatever its type:
    the receiver's default) with a ``webhook_secret``, in the metadata DB or an ``AIRFLOW_CONN_*``
    variable, read as the receiver reads them (a variable shadows a DB row of the same id)."""
    from airflow_provider_attendee._compat import server_connection
    from airflow_provider_attendee.plugins import _asset_events

    found = set()
    for conn_id in sorted(_asset_events.listable_conn_ids(CONN_TYPE, DEFAULT_CONN_ID)):
        try:
            conn = server_connection(conn_id)
        except Exception as err:  # a variable that is not a connection, or one gone since it was listed
            log.debug("Attendee catch-up: connection %r not readable: %s", conn_id, err)
            continue
        if conn.conn_type != CONN_TYPE and conn_id != DEFAULT_CONN_ID:
            continue
        if (conn.extra_dejson or {}).get("webhook_secret"):
            found.add(conn_id)
    return found


def conn_ids(configured: tuple[str, ...] | list[str] = ()) -> list[str]:
    """Every connection to catch up: set up for push, named by deliveries (accepted or refused, within the
    retention), and ``configured`` (``catch_up_conn_ids``)."""
    from airflow_provider_attendee.plugins import _asset_events

    ids = set(_asset_events.catch_up_conn_ids()) | set(configured)
    try:
        ids |= push_conn_ids()
    except Exception as err:  # the others are still caught up; the next pass lists them again
        log.warning("Attendee catch-up: could not list the connections set up for push: %s", err)
    return sorted(ids)


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


def _looked_at(saved: Any) -> datetime | None:
    """When the saved position was taken (None for one saved before this was kept)."""
    value = saved.get("looked_at") if isinstance(saved, dict) else None
    try:
        when = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None
    return when.replace(tzinfo=timezone.utc) if when and when.tzinfo is None else when


@dataclass
class CatchUpResult:
    """One pass over one connection."""

    conn_id: str
    emitted: list[str] = field(default_factory=list)
    already: list[str] = field(default_factory=list)
    skipped: bool = False  # another process holds the lease


def catch_up(
    conn_id: str,
    states: set[str],
    owner: str,
    lease: timedelta,
    lookback: timedelta = timedelta(0),
    max_age: timedelta | None = None,
) -> CatchUpResult:
    """One look for ``conn_id``: emit every meeting that reached one of ``states`` and was not pushed. The
    first look at the connection reaches back ``lookback`` (0: it starts from now). A position saved longer
    than ``max_age`` ago (the retention: the records of pushed meetings since may be pruned) is not
    resumed, or its look would emit them again: the look is a first look then."""
    from airflow_provider_attendee._compat import server_connection
    from airflow_provider_attendee.client.bot_watch import WatchState, look
    from airflow_provider_attendee.hooks.attendee import AttendeeHook
    from airflow_provider_attendee.plugins import _asset_events

    result = CatchUpResult(conn_id)
    held, saved = _asset_events.claim_catch_up(conn_id, owner, lease)
    if not held:
        result.skipped = True
        return result
    previous = WatchState.from_json(saved)
    now = datetime.now(timezone.utc)
    looked_at = _looked_at(saved)
    if previous is not None and max_age is not None and looked_at is not None and looked_at < now - max_age:
        log.info(
            "Attendee catch-up: the position for connection %r is from %s, older than %s: looking afresh",
            conn_id,
            looked_at.isoformat(),
            max_age,
        )
        previous = None

    # Few retries: the next pass looks again. Settings resolved here, synchronously: the API server
    # reads connections from its secrets backends and metadata DB, not through a task supervisor.
    hook = AttendeeHook(attendee_conn_id=conn_id, max_retries=2)
    hook.use_connection(server_connection(conn_id))

    async def one_look() -> tuple[list[Any], WatchState]:
        try:
            return await look(
                hook,
                previous,
                states,
                already_known=_asset_events.finished_bots,
                reach_back=lookback if previous is None else None,
                now=now,
            )
        finally:
            await hook.aclose()

    found, following = asyncio.run(one_look())
    if found:
        # Another writer may have emitted them: a polling watcher before a switch to push, or one that
        # polls the same connection now (a DAG in poll mode on a connection with a webhook secret). Its
        # events count too, since the previous look (the reach-back for a first look).
        since = (
            looked_at if previous is not None and looked_at else now - (lookback or max_age or SKEW)
        ) - SKEW
        elsewhere = _asset_events.emitted_meetings(states, since, bot_ids={i.bot.id for i in found})
        for item in [i for i in found if (i.bot.id, i.bot.state) in elsewhere]:
            result.already.append(item.bot.id)
            found.remove(item)
            log.info(
                "Attendee catch-up: bot %s reached %s; another writer (a polling watcher) emitted it "
                "already: not emitted again (connection %r)",
                item.bot.id,
                item.bot.state,
                conn_id,
            )
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
    _asset_events.save_catch_up(conn_id, owner, {**following.to_json(), "looked_at": now.isoformat()})
    if previous is None:
        log.info(
            "Attendee catch-up: first look at connection %r (reaching back %s): %d meeting(s) emitted that "
            "had finished before it, %d recorded before; from now on each look finds what finished since",
            conn_id,
            lookback,
            len(result.emitted),
            len(result.already),
        )
    return result
