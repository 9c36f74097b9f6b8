"""Finding bots that finished, at a cost that grows with what is new, never with history (Airflow-free).

One look (``look``) combines two cheap views of the bots list:

- the bots that are live now (one page per 25 live bots): a watched bot that left this list since the
  previous look is looked up (one request per finished meeting);
- the list's tail: the list is ordered by creation and paginated with cursors the server hands out, so
  re-reading the last page seen (usually one request) shows every bot created since. A bot created and
  finished between two looks (e.g. one that failed to join within a second) is found there.

The state between looks is small and JSON-able (``WatchState``): the live ids, the URL of the last page and
the ids on it. The very first look walks the list once to find its end (one request per 25 bots the list
holds: the only look whose cost grows with history), and by default reports nothing: watching starts from
now. Given ``reach_back``, it also reports the bots that reached a target state within that long before
it, picked out of the pages it reads anyway (by their last event's time), so reaching back costs no request
of its own and finds a bot however long ago it was created (a scheduled bot made weeks before its
meeting). Used by ``AttendeeBotEventTrigger`` (in the triggerer, from now) and by the webhook catch-up (in
the API server, reaching back ``[attendee] catch_up_lookback``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Protocol

from airflow_provider_attendee.client.errors import AttendeeNotFoundError
from airflow_provider_attendee.client.models import Bot
from airflow_provider_attendee.client.states import LIVE

#: How a finished bot was found, as logged.
LEFT_LIVE_LIST = "left the list of live bots"
IN_LIST_TAIL = "created and finished between two looks (the list's tail)"
BEFORE_FIRST_LOOK = "finished before the first look, within its reach-back"


def finished_at(bot: Bot) -> datetime | None:
    """When the bot reached its current state: the time of its newest event (None without events)."""
    return max((event.created_at for event in bot.events), default=None)


class BotsClient(Protocol):
    """The three calls a look makes (``AttendeeHook`` has them)."""

    def alist_bots(self, *, states: Any = None, meeting_url: str | None = None) -> AsyncIterator[Bot]: ...

    async def aget_bot(self, bot_id: str) -> Bot: ...

    async def apage_bots(
        self, page_url: str | None = None, *, meeting_url: str | None = None
    ) -> tuple[list[Bot], str | None]: ...


@dataclass
class WatchState:
    """What one look leaves for the next: bounded by the live bots plus one page."""

    live: set[str] = field(default_factory=set)
    tail_url: str | None = None
    tail_ids: set[str] = field(default_factory=set)
    #: Whether the tail was found (the first look finds it): before that, every bot would look new.
    tail_known: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "live": sorted(self.live),
            "tail_url": self.tail_url,
            "tail_ids": sorted(self.tail_ids),
            "tail_known": self.tail_known,
        }

    @classmethod
    def from_json(cls, value: Any) -> WatchState | None:
        """The state saved by ``to_json``; a plain list (the trigger's former format) is the live ids."""
        if isinstance(value, list):
            return cls(live={str(v) for v in value})
        if not isinstance(value, dict):
            return None
        return cls(
            live={str(v) for v in value.get("live") or []},
            tail_url=value.get("tail_url") or None,
            tail_ids={str(v) for v in value.get("tail_ids") or []},
            tail_known=bool(value.get("tail_known")),
        )


@dataclass
class Finished:
    """A bot found in one of the target states, and how it was found."""

    bot: Bot
    how: str


async def _tail(
    client: BotsClient, state: WatchState, meeting_url: str | None
) -> tuple[list[Bot], WatchState]:
    """The bots created since the last page seen, and the state pointing at the new last page."""
    url, new, first = state.tail_url, [], True
    while True:
        page, next_url = await client.apage_bots(url, meeting_url=meeting_url)
        new += [bot for bot in page if not first or bot.id not in state.tail_ids]
        if next_url is None:
            return new, WatchState(tail_url=url, tail_ids={bot.id for bot in page}, tail_known=True)
        url, first = next_url, False


async def look(
    client: BotsClient,
    previous: WatchState | None,
    targets: Collection[str],
    *,
    meeting_url: str | None = None,
    wanted: Callable[[Bot], bool] = lambda bot: True,
    already_known: Callable[[set[str]], set[str]] = lambda ids: set(),
    reach_back: timedelta | None = None,
    now: datetime | None = None,
) -> tuple[list[Finished], WatchState]:
    """One look: the bots that reached one of ``targets`` (finished states) since ``previous``, and the
    state for the next look. ``previous=None`` starts watching from now: nothing is reported, unless
    ``reach_back`` asks for the bots that reached a target within that long before ``now`` (default: the
    current time), oldest first; a bot live at the start of this look is not among them (the next look
    reports it). ``already_known`` names, among bots that left the live list, those known to have finished
    (pushed): they are not looked up."""
    cutoff = (now or datetime.now(timezone.utc)) - reach_back if reach_back else None
    live = {
        bot.id async for bot in client.alist_bots(states=list(LIVE), meeting_url=meeting_url) if wanted(bot)
    }
    new, following = await _tail(client, previous or WatchState(), meeting_url)
    # A bot created between the two views is on the tail, live, but not in ``live``: watch it from now on,
    # or it would finish unseen (the next tail skips the page it is on, the next live view misses it).
    following.live = live | {bot.id for bot in new if bot.state in LIVE and wanted(bot)}
    if previous is None:
        if cutoff is None:
            return [], following
        # The first look read every page of the list to find its end: the bots that finished within the
        # reach-back are on those pages, whenever they were created.
        recent = [
            (when, bot)
            for bot in new
            if bot.state in targets
            and bot.id not in live
            and wanted(bot)
            and (when := finished_at(bot)) is not None
            and when >= cutoff
        ]
        recent.sort(key=lambda item: (item[0], item[1].id))
        return [Finished(bot, BEFORE_FIRST_LOOK) for _, bot in recent], following
    if not previous.tail_known:
        new = []  # the tail was not known yet (a state saved before it was kept): only the live view
    found: list[Finished] = []
    gone = previous.live - live
    for bot_id in sorted(gone - already_known(gone)):
        try:
            bot = await client.aget_bot(bot_id)
        except AttendeeNotFoundError:
            continue  # deleted while scheduled (unscheduled): it never finished
        if bot.state in targets:
            found.append(Finished(bot, LEFT_LIVE_LIST))
    for bot in new:
        if bot.id not in previous.live and bot.id not in live and bot.state in targets and wanted(bot):
            found.append(Finished(bot, IN_LIST_TAIL))
    return found, following
