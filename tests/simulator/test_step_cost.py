"""A simulator clock step costs what changes in it, not the size of the world: counted, never timed."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from airflow_provider_attendee.client.states import JOINED
from airflow_provider_attendee.testing.simulator.clock import SimClock
from airflow_provider_attendee.testing.simulator.scenario import load_scenario
from airflow_provider_attendee.testing.simulator.state import SimBot, SimWorld

MEET = "https://meet.google.com/abc-defg-hij"
ORIGIN = datetime(2030, 1, 1, tzinfo=timezone.utc)


def new_bot(world: SimWorld, url: str = MEET, join_in_minutes: float | None = None) -> SimBot:
    join_at = world.sync() + timedelta(minutes=join_in_minutes) if join_in_minutes is not None else None
    return world.create_bot(
        meeting_url=url,
        bot_name="Notetaker",
        join_at=join_at,
        metadata=None,
        deduplication_key=None,
        calendar_event_id=None,
        settings={},
    )


def test_a_step_touches_only_the_bots_that_change():
    clock = SimClock(time_scale=0, origin=ORIGIN)
    world = SimWorld(clock)
    old = [new_bot(world) for _ in range(10_000)]
    clock.advance(4 * 3600)
    world.sync()  # ten thousand whole meetings in one step: their state changes only
    assert {b.state for b in old} == {"ended"} and len(world.last_step.bot_ids) == 10_000
    assert world.last_step.actions <= 5 * 10_000 and world.contents_built == 0  # nobody read a meeting

    live = new_bot(world)  # joins now
    clock.advance(60)
    world.sync()
    assert live.state == "joined_recording"
    assert world.last_step.bot_ids == {live.id}  # the 10,000 ended bots cost nothing
    assert world.last_step.actions <= 3  # admitted, recording, perhaps the first transcribed line
    clock.advance(1)
    world.sync()
    assert world.last_step.actions <= 1 and world.last_step.bot_ids <= {live.id}

    now = world.sync()
    assert world.visible_events(old[0], now) and world.contents_built == 1  # built when first read
    assert world.visible_utterances(old[0], now) and world.contents_built == 1  # and only once


def test_content_is_the_same_whenever_it_is_first_read():
    """A meeting's ids, events and transcript depend on the seed and the bot, not on when it was read."""
    scenario = load_scenario("demo")
    urls = [m.meeting_url for m in scenario.meetings] + [MEET]
    worlds, clocks, bots = [], [], []
    for _ in range(2):
        clock = SimClock(time_scale=0, origin=ORIGIN)
        world = SimWorld(clock, load_scenario("demo"), seed=7)
        bots.append([new_bot(world, url, join_in_minutes=i % 3 or None) for i, url in enumerate(urls)])
        worlds.append(world)
        clocks.append(clock)

    def seen(world: SimWorld, bot: SimBot, now: datetime) -> tuple:
        events = [(e.id, e.participant.id, e.event_type, e.timestamp) for e in world.visible_events(bot, now)]
        utterances = [(u.participant.id, u.start, u.text) for u in world.visible_utterances(bot, now)]
        chat = [(c.id, c.participant.id, c.text) for c in world.visible_chat(bot, now)]
        return bot.body(), events, utterances, chat

    for _ in range(40):  # the first world is read at every step, the second only at the end
        for clock in clocks:
            clock.advance(90)
        now = worlds[0].sync()
        for bot in bots[0]:
            body, _, utterances, _ = seen(worlds[0], bot, now)
            if bot.state in JOINED or bot.state == "ended":  # transcription follows what was heard
                expected = "complete" if bot.state == "ended" else "in_progress"
                assert (body["transcription_state"] == expected) == bool(utterances), body
    now = worlds[1].sync()
    assert worlds[1].contents_built == 0 < worlds[0].contents_built
    for first, second in zip(bots[0], bots[1], strict=True):
        assert seen(worlds[0], first, now) == seen(worlds[1], second, now)
    assert {b.state for b in bots[0]} >= {"ended", "fatal_error"}
