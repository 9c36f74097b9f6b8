"""bot_watch.look against an in-memory bots list (cursor-paginated like the server's), including the
interleavings a busy machine produces: bots created or finished between the live view and the tail."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta, timezone
from typing import Any

from airflow_provider_attendee.client.bot_watch import (
    BEFORE_FIRST_LOOK,
    IN_LIST_TAIL,
    LEFT_LIVE_LIST,
    WatchState,
    look,
)
from airflow_provider_attendee.client.models import Bot, BotEvent
from airflow_provider_attendee.exceptions import AttendeeNotFoundError

ENDED = {"ended"}
NOW = datetime(2026, 12, 5, 12, 0, tzinfo=timezone.utc)


class FakeBots:
    """The three calls a look makes, over a list ordered by creation (pages of ``page_size``).
    ``between_views`` runs once, after the live view and before the tail: what a concurrent writer does."""

    def __init__(self, page_size: int = 3) -> None:
        self.bots: dict[str, str] = {}  # id -> state, in creation order
        self.changed: dict[str, datetime] = {}  # id -> when it entered its state (its last event)
        self.page_size = page_size
        self.between_views: Callable[[], None] | None = None
        self.requests = 0

    def create(self, state: str = "joining", *, at: datetime | None = None) -> str:
        bot_id = f"bot_{len(self.bots):04d}"
        self.set(bot_id, state, at=at)
        return bot_id

    def set(self, bot_id: str, state: str, *, at: datetime | None = None) -> None:
        self.bots[bot_id] = state
        self.changed[bot_id] = at or NOW

    def _bot(self, bot_id: str) -> Bot:
        # As the server lists a bot: its events in order, the newest the one that put it in its state.
        when = self.changed[bot_id]
        events = [
            BotEvent(type="join_requested", created_at=when - timedelta(hours=1)),
            BotEvent(type="post_processing_completed", created_at=when),
        ]
        return Bot(
            id=bot_id,
            meeting_url="https://meet.google.com/abc-defg-hij",
            state=self.bots[bot_id],
            events=events,
        )

    async def alist_bots(self, *, states: Any = None, meeting_url: str | None = None) -> AsyncIterator[Bot]:
        self.requests += 1
        for bot_id, state in list(self.bots.items()):
            if states is None or state in states:
                yield self._bot(bot_id)
        if self.between_views is not None:
            hook, self.between_views = self.between_views, None
            hook()

    async def aget_bot(self, bot_id: str) -> Bot:
        self.requests += 1
        if bot_id not in self.bots:
            raise AttendeeNotFoundError(f"Bot {bot_id} not found")
        return self._bot(bot_id)

    async def apage_bots(
        self, page_url: str | None = None, *, meeting_url: str | None = None
    ) -> tuple[list[Bot], str | None]:
        self.requests += 1
        start = int(page_url or 0)
        ids = list(self.bots)[start : start + self.page_size]
        following = start + self.page_size
        return [self._bot(i) for i in ids], (str(following) if following < len(self.bots) else None)


def run_look(client: FakeBots, state: WatchState | None) -> tuple[list[tuple[str, str]], WatchState]:
    found, following = asyncio.run(look(client, state, ENDED))
    # Through JSON, as the trigger and the catch-up keep it between looks.
    return [(f.bot.id, f.how) for f in found], WatchState.from_json(following.to_json()) or WatchState()


def test_first_look_reports_nothing_then_bots_that_left_the_live_list():
    client = FakeBots()
    old = client.create("ended")
    live = client.create("joined_recording")
    found, state = run_look(client, None)
    assert found == [] and state.live == {live} and state.tail_known
    client.bots[live] = "ended"
    found, state = run_look(client, state)
    assert found == [(live, LEFT_LIVE_LIST)] and old not in dict(found)
    assert run_look(client, state)[0] == []  # reported once


def test_bots_created_and_finished_between_two_looks_come_from_the_tail():
    client = FakeBots(page_size=2)
    for _ in range(3):
        client.create("ended")
    _, state = run_look(client, None)
    quick = [client.create("ended") for _ in range(4)]  # across two new pages
    found, state = run_look(client, state)
    assert found == [(bot_id, IN_LIST_TAIL) for bot_id in quick]
    assert run_look(client, state)[0] == []


def test_a_bot_created_between_the_live_view_and_the_tail_is_watched_until_it_finishes():
    """The race seen on a loaded machine: the bot is on the tail (so the next tail skips it) but not in the
    live view; it must still be reported when it finishes."""
    client = FakeBots()
    client.create("ended")
    _, state = run_look(client, None)
    created: list[str] = []
    client.between_views = lambda: created.append(client.create("joining"))
    found, state = run_look(client, state)
    assert found == [] and created and created[0] in state.live
    client.bots[created[0]] = "ended"
    found, state = run_look(client, state)
    assert found == [(created[0], LEFT_LIVE_LIST)]


def test_a_bot_that_finished_between_the_live_view_and_the_tail_is_reported_once():
    client = FakeBots()
    bot_id = client.create("joined_recording")
    _, state = run_look(client, None)

    def finish() -> None:
        client.bots[bot_id] = "ended"

    client.between_views = finish
    first, state = run_look(client, state)  # still live in the live view: reported by the next look
    second, state = run_look(client, state)
    assert first + second == [(bot_id, LEFT_LIVE_LIST)]
    assert run_look(client, state)[0] == []


def test_deleted_bots_and_non_target_states_are_not_reported():
    client = FakeBots()
    scheduled = client.create("scheduled")
    failed = client.create("joining")
    _, state = run_look(client, None)
    del client.bots[scheduled]  # unscheduled
    client.bots[failed] = "fatal_error"  # not a target here
    found, state = run_look(client, state)
    assert found == [] and state.live == set()


def test_pushed_bots_are_not_looked_up():
    client = FakeBots()
    bot_id = client.create("joined_recording")
    _, state = run_look(client, None)
    client.bots[bot_id] = "ended"
    before = client.requests
    found, _ = asyncio.run(look(client, state, ENDED, already_known=lambda ids: set(ids)))
    assert found == [] and client.requests - before == 2  # the live view and the tail, no look-up


def test_the_first_look_reaches_back_to_bots_that_finished_within_the_window_at_no_extra_request():
    """A scheduled bot created long before its meeting (first in the list) that ended recently is found,
    like one made minutes ago; what finished before the window, other states, and live bots are not."""
    client = FakeBots(page_size=2)
    scheduled_long_ago = client.create("scheduled", at=NOW - timedelta(days=20))
    old = client.create("ended", at=NOW - timedelta(hours=3))
    live = client.create("joined_recording", at=NOW - timedelta(minutes=20))
    failed = client.create("fatal_error", at=NOW - timedelta(minutes=30))  # not a target here
    recent = client.create("ended", at=NOW - timedelta(minutes=10))
    edge = client.create("ended", at=NOW - timedelta(hours=1))  # the window's first instant: in
    client.set(scheduled_long_ago, "ended", at=NOW - timedelta(minutes=50))
    found, state = asyncio.run(look(client, None, ENDED, reach_back=timedelta(hours=1), now=NOW))
    assert [(f.bot.id, f.how) for f in found] == [
        (edge, BEFORE_FIRST_LOOK),
        (scheduled_long_ago, BEFORE_FIRST_LOOK),
        (recent, BEFORE_FIRST_LOOK),
    ]  # oldest first
    assert old not in {f.bot.id for f in found} and failed not in {f.bot.id for f in found}
    assert state.live == {live} and state.tail_known
    # The cost is the walk a first look does anyway: the live view and every page, nothing more.
    plain = FakeBots(page_size=2)
    for bot_id, bot_state in client.bots.items():
        plain.bots[bot_id], plain.changed[bot_id] = bot_state, client.changed[bot_id]
    asyncio.run(look(plain, None, ENDED, now=NOW))
    assert client.requests == plain.requests == 1 + 3  # live view + three pages of two
    # Reported once: the next look reports only what finished since.
    client.set(live, "ended", at=NOW + timedelta(minutes=1))
    found, _ = run_look(client, state)
    assert found == [(live, LEFT_LIVE_LIST)]


def test_without_a_reach_back_the_first_look_still_starts_from_now():
    client = FakeBots()
    client.create("ended", at=NOW - timedelta(minutes=1))
    for reach_back in (None, timedelta(0)):
        found, _ = asyncio.run(look(client, None, ENDED, reach_back=reach_back, now=NOW))
        assert found == []


def test_a_bot_live_when_the_first_look_began_is_reported_by_the_next_look_not_by_the_reach_back():
    """It finished between the live view and the page that shows it: reported once, by the next look."""
    client = FakeBots()
    bot_id = client.create("joined_recording", at=NOW - timedelta(minutes=5))
    client.between_views = lambda: client.set(bot_id, "ended", at=NOW)
    first, state = asyncio.run(look(client, None, ENDED, reach_back=timedelta(hours=1), now=NOW))
    assert first == [] and bot_id in state.live
    second, state = run_look(client, state)
    assert second == [(bot_id, LEFT_LIVE_LIST)]
    assert run_look(client, state)[0] == []


def test_the_reach_back_keeps_the_wanted_filter_and_skips_bots_without_events():
    client = FakeBots()
    mine = client.create("ended", at=NOW - timedelta(minutes=5))
    theirs = client.create("ended", at=NOW - timedelta(minutes=5))
    found, _ = asyncio.run(
        look(client, None, ENDED, reach_back=timedelta(hours=1), now=NOW, wanted=lambda b: b.id == mine)
    )
    assert [f.bot.id for f in found] == [mine] and theirs != mine

    class NoEvents(FakeBots):
        def _bot(self, bot_id: str) -> Bot:
            return super()._bot(bot_id).model_copy(update={"events": []})

    bare = NoEvents()
    bare.create("ended", at=NOW)
    assert asyncio.run(look(bare, None, ENDED, reach_back=timedelta(hours=1), now=NOW))[0] == []
