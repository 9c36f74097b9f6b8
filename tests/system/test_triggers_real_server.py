"""The polling trigger (``AttendeeBotEventTrigger``, the AssetWatcher's) against the real Attendee server:
history is not replayed, each bot that finishes is emitted once, a bot created and finished between two
polls is found in the list's tail (with more than one page of bots behind it), filters hold, and a
restart resumes from the saved state."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.system.meetings import EMPTY, fail_to_join, play
from tests.system.server import Driver

MEET = "https://meet.google.com/abc-defg-hij"


def poll(trigger: Any) -> list[str]:
    """One poll of the trigger (what its run loop does each poll_interval): the bots it would emit."""
    from airflow_provider_attendee.hooks.attendee import AttendeeHook

    async def once() -> list[str]:
        hook = AttendeeHook(trigger.attendee_conn_id)
        try:
            finished, watching = await trigger.poll(hook)
        finally:
            await hook.aclose()
        trigger._watching = watching
        return sorted(bot.id for bot in finished)

    return asyncio.run(once())


def test_bot_event_trigger_emits_each_finished_meeting_once(system_hook, attendee_driver: Driver):
    from airflow_provider_attendee.triggers.attendee import AttendeeBotEventTrigger

    history = [system_hook.create_bot(MEET, bot_name=f"Old {i}").id for i in range(27)]  # > one page
    for bot_id in history[:25]:
        fail_to_join(attendee_driver, bot_id)
    for bot_id in history[25:]:
        play(attendee_driver, bot_id, EMPTY)
    ended = AttendeeBotEventTrigger(poll_interval=0.01)
    failed = AttendeeBotEventTrigger(state="fatal_error", poll_interval=0.01)
    product = AttendeeBotEventTrigger(poll_interval=0.01, metadata={"team": "product"})
    for trigger in (ended, failed, product):
        assert poll(trigger) == []  # starts from now: history is not replayed

    live = system_hook.create_bot(MEET, bot_name="A", metadata={"team": "product"}).id
    other = system_hook.create_bot(MEET, bot_name="B", metadata={"team": "sales"}).id
    for trigger in (ended, failed, product):
        assert poll(trigger) == []
    assert ended._watching is not None and ended._watching.live == {live, other}

    play(attendee_driver, live, EMPTY)  # seen live, then finished
    quick = system_hook.create_bot(MEET, bot_name="Quick", metadata={"team": "product"}).id
    play(attendee_driver, quick, EMPTY)  # created and finished between two polls
    denied = system_hook.create_bot(MEET, bot_name="Denied").id
    fail_to_join(attendee_driver, denied)
    assert (poll(ended), poll(failed), poll(product)) == (
        sorted([live, quick]),
        [denied],
        sorted([live, quick]),
    )
    assert (poll(ended), poll(failed), poll(product)) == ([], [], [])  # once

    play(attendee_driver, other, EMPTY)  # finishes while the triggerer is down: resumed from the state
    restarted = AttendeeBotEventTrigger(poll_interval=0.01)
    restarted._watching = ended._watching
    assert poll(restarted) == [other] and poll(product) == []
    assert not set(history) & restarted._watching.live
