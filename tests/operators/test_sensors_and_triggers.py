"""Sensors (poke and deferrable) and triggers (serialisation, run loop, errors) against the simulator."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import json
from datetime import timedelta

import pytest

from airflow_provider_attendee.exceptions import AttendeeBotFailedError, AttendeeConfigurationError
from airflow_provider_attendee.hooks.attendee import AttendeeHook
from airflow_provider_attendee.sensors.attendee import (
    AttendeeBotStateSensor,
    AttendeeParticipantCountSensor,
    AttendeeTranscriptReadySensor,
)
from airflow_provider_attendee.triggers.attendee import (
    AttendeeBotEventTrigger,
    AttendeeBotStateTrigger,
    AttendeeParticipantCountTrigger,
    AttendeeTranscriptReadyTrigger,
)
from tests.operators.conftest import DEMO_MEETING

try:
    from airflow.sdk.exceptions import TaskDeferred
except ImportError:  # Airflow 3.1
    from airflow.exceptions import TaskDeferred

WAITING = "https://zoom.us/j/99988877766"  # the demo's never-admitted meeting


@pytest.fixture
def demo(attendee_simulator):
    attendee_simulator.admin.reset("demo", time_scale=0)
    return attendee_simulator


def new_bot(url: str = DEMO_MEETING) -> str:
    return AttendeeHook().create_bot(url, bot_name="Notes").id


def first_event(trigger, advance=None, step: float = 5.0, timeout: float = 20.0):
    """Run a trigger until its first event, stepping the simulated clock meanwhile."""

    async def run():
        async def stepper():
            while advance is not None:
                await asyncio.to_thread(advance, step)
                await asyncio.sleep(0.01)

        task = asyncio.create_task(stepper())
        try:
            async for event in trigger.run():
                return event.payload
        finally:
            task.cancel()

    return asyncio.run(asyncio.wait_for(run(), timeout))


def roundtrip(trigger):
    classpath, kwargs = trigger.serialize()
    module, name = classpath.rsplit(".", 1)
    cls = getattr(importlib.import_module(module), name)
    assert cls is type(trigger)
    json.dumps(kwargs)  # stored as JSON by the triggerer
    return cls(**kwargs)


class TestBotStateSensor:
    def test_poke_mode_with_a_stepped_clock(self, demo, context):
        bot_id = new_bot()
        sensor = AttendeeBotStateSensor(task_id="s", bot_id=bot_id, target_states=["joined_recording"])
        assert sensor.check(context) is None
        demo.admin.advance(10)
        assert sensor.check(context) is not None

    def test_failure_state_fails_at_once_with_events(self, demo, context):
        bot_id = new_bot(WAITING)
        demo.admin.advance(400)
        sensor = AttendeeBotStateSensor(task_id="s", bot_id=bot_id, target_states="joined_recording")
        with pytest.raises(
            AttendeeBotFailedError, match="could_not_join_meeting/waiting_room_timeout_exceeded"
        ):
            sensor.poke(context)

    def test_ended_is_a_failure_unless_targeted(self):
        sensor = AttendeeBotStateSensor(task_id="s", bot_id="b", target_states=["joined_recording"])
        assert sensor.build_trigger().failure_states == ["fatal_error", "data_deleted", "ended"]
        ended = AttendeeBotStateSensor(task_id="s", bot_id="b", target_states=["ended"])
        assert ended.build_trigger().failure_states == ["fatal_error", "data_deleted"]
        with pytest.raises(AttendeeConfigurationError, match="Unknown Attendee bot state 'done'"):
            AttendeeBotStateSensor(task_id="s", bot_id="b", target_states=["done"])

    def test_deferrable_checks_first_then_defers_with_timeout(self, demo, context):
        bot_id = new_bot()
        sensor = AttendeeBotStateSensor(
            task_id="s",
            bot_id=bot_id,
            target_states=["joined_recording"],
            deferrable=True,
            timeout=900,
            poke_interval=3,
        )
        with pytest.raises(TaskDeferred) as deferred:
            sensor.execute(context)
        trigger = deferred.value.trigger
        assert isinstance(trigger, AttendeeBotStateTrigger) and trigger.bot_id == bot_id
        assert deferred.value.timeout == timedelta(seconds=900) and trigger.poll_interval == 3
        demo.admin.advance(10)
        assert sensor.execute(context) == {"bot_id": bot_id, "state": "joined_recording"}  # met: no deferral
        assert sensor.execute_complete(context, {"status": "success", "bot_id": bot_id, "state": "x"}) == {
            "bot_id": bot_id,
            "state": "x",
        }
        with pytest.raises(AttendeeBotFailedError):
            sensor.execute_complete(context, {"status": "failure", "message": "bot failed"})


class TestParticipantCountSensor:
    def test_poke_counts_incrementally(self, demo, context, openapi_contract):
        bot_id = new_bot()
        sensor = AttendeeParticipantCountSensor(task_id="s", bot_id=bot_id, threshold=5)
        demo.admin.advance(10)
        assert sensor.check(context) is None  # admitted, two people in
        assert sensor._tracker.count == 2
        demo.admin.advance(55)
        assert sensor.check(context) is None  # four people in
        demo.admin.advance(240)
        payload = sensor.check(context)
        assert payload is not None and payload["count"] == 5
        reads = [
            e
            for e in openapi_contract
            if e.path.endswith("/participant_events") and "cursor" not in dict(e.query)
        ]
        assert [dict(e.query).get("after") is None for e in reads] == [True, False, False]

    def test_host_and_name_filters(self, demo, context):
        bot_id = new_bot()
        demo.admin.advance(300)
        without_host = AttendeeParticipantCountSensor(
            task_id="s", bot_id=bot_id, threshold=4, comparison="==", exclude_host=True
        )
        assert without_host.check(context) is not None
        only_p = AttendeeParticipantCountSensor(
            task_id="s", bot_id=bot_id, threshold=1, comparison="==", name_pattern="^priya"
        )
        assert only_p.check(context) is not None

    def test_meeting_empty_or_over(self, demo, context):
        bot_id = new_bot()
        empty = AttendeeParticipantCountSensor(task_id="s", bot_id=bot_id, threshold=1, comparison="<=")
        demo.admin.advance(100)
        assert empty.check(context) is None
        demo.admin.advance(800)  # the meeting ended: nobody left to count
        payload = empty.check(context)
        assert payload is not None and payload["meeting_over"] is True and payload["count"] == 0
        crowd = AttendeeParticipantCountSensor(task_id="s", bot_id=bot_id, threshold=10)
        with pytest.raises(AttendeeBotFailedError, match="reached state ended while"):
            crowd.poke(context)

    @pytest.mark.parametrize(("threshold", "comparison"), [(-1, ">="), (2, "~"), ("many", ">=")])
    def test_bad_conditions(self, threshold, comparison):
        with pytest.raises(AttendeeConfigurationError):
            AttendeeParticipantCountSensor(
                task_id="s", bot_id="b", threshold=threshold, comparison=comparison
            )

    def test_deferred_trigger_carries_the_state(self, demo, context):
        bot_id = new_bot()
        demo.admin.advance(30)
        sensor = AttendeeParticipantCountSensor(task_id="s", bot_id=bot_id, threshold=5, deferrable=True)
        with pytest.raises(TaskDeferred) as deferred:
            sensor.execute(context)
        trigger = roundtrip(deferred.value.trigger)
        assert isinstance(trigger, AttendeeParticipantCountTrigger)
        assert trigger.tracker.count == 3  # Maya, Tom, Priya: what the first check saw survives serialisation
        assert (
            sensor.execute_complete(
                context, {"status": "success", "bot_id": bot_id, "count": 5, "present": []}
            )["count"]
            == 5
        )


class TestTranscriptReadySensor:
    def test_poke_and_failure(self, demo, context):
        bot_id = new_bot()
        sensor = AttendeeTranscriptReadySensor(task_id="s", bot_id=bot_id, require_recording=True)
        demo.admin.advance(100)
        assert sensor.check(context) is None
        demo.admin.advance(800)
        assert sensor.check(context) is not None
        failed = new_bot(WAITING)
        demo.admin.advance(400)
        with pytest.raises(AttendeeBotFailedError, match="will not become complete"):
            AttendeeTranscriptReadySensor(task_id="s", bot_id=failed).poke(context)


class TestTriggers:
    def test_serialisation_holds_no_secret(self, demo):
        triggers = [
            AttendeeBotStateTrigger(bot_id="b", target_states=["ended"], failure_states=["fatal_error"]),
            AttendeeTranscriptReadyTrigger(bot_id="b", require_recording=True),
            AttendeeParticipantCountTrigger(bot_id="b", threshold=3, comparison=">=", exclude_host=True),
            AttendeeBotEventTrigger(state="ended", metadata={"team": "a"}),
        ]
        for trigger in triggers:
            copy = roundtrip(trigger)
            assert copy.serialize() == trigger.serialize()
            assert demo.api_key not in json.dumps(trigger.serialize())

    def test_state_reached(self, demo):
        bot_id = new_bot()
        trigger = AttendeeBotStateTrigger(
            bot_id=bot_id, target_states=["ended"], failure_states=["fatal_error"], poll_interval=0.01
        )
        payload = first_event(trigger, demo.admin.advance, step=60)
        assert payload["status"] == "success" and payload["state"] == "ended"
        assert payload["bot_id"] == bot_id and payload["transcription_state"] == "complete"

    def test_failure_state(self, demo):
        bot_id = new_bot(WAITING)
        trigger = AttendeeBotStateTrigger(
            bot_id=bot_id,
            target_states=["joined_recording"],
            failure_states=["fatal_error"],
            poll_interval=0.01,
        )
        payload = first_event(trigger, demo.admin.advance, step=60)
        assert payload["status"] == "failure" and "waiting_room_timeout_exceeded" in payload["message"]

    def test_transient_errors_absorbed(self, demo, monkeypatch):
        monkeypatch.setenv("AIRFLOW_CONN_ATTENDEE_DEFAULT", demo.connection_json(max_retries=0))
        bot_id = new_bot()
        demo.admin.advance(10)
        demo.admin.set_faults(seed=1, default={"rate_5xx": 0.5, "rate_429": 0.2, "retry_after_seconds": 0})
        trigger = AttendeeBotStateTrigger(
            bot_id=bot_id,
            target_states=["joined_recording"],
            failure_states=[],
            poll_interval=0.01,
            max_transient_errors=20,
        )
        payload = first_event(trigger)
        assert payload["status"] == "success"
        assert sum(demo.admin.counters()["faults"].values()) >= 1

    def test_bound_exceeded(self, demo, monkeypatch):
        monkeypatch.setenv("AIRFLOW_CONN_ATTENDEE_DEFAULT", demo.connection_json(max_retries=0))
        demo.admin.set_faults(default={"rate_5xx": 1.0})
        trigger = AttendeeBotStateTrigger(
            bot_id="bot_x",
            target_states=["ended"],
            failure_states=[],
            poll_interval=0.01,
            max_transient_errors=2,
        )
        demo.admin.reset_counters()
        payload = first_event(trigger)
        assert payload["status"] == "error" and "gave up after 3 transient errors" in payload["message"]
        # One retry layer: three polls, one request each (the connection's max_retries is not applied on top).
        assert demo.admin.requests("GET /api/v1/bots/{bot_id}") == 3

    def test_non_transient_error_stops_at_once(self, demo):
        trigger = AttendeeBotStateTrigger(
            bot_id="bot_missing", target_states=["ended"], failure_states=[], poll_interval=0.01
        )
        payload = first_event(trigger)
        assert payload["status"] == "error" and "Bot not found" in payload["message"]

    def test_triggers_of_one_connection_share_one_pool(self, demo):
        bots = [new_bot() for _ in range(5)]
        demo.admin.advance(10)

        async def run_all():
            triggers = [
                AttendeeBotStateTrigger(
                    bot_id=b, target_states=["joined_recording"], failure_states=[], poll_interval=0.01
                )
                for b in bots
            ]
            results = await asyncio.gather(*(anext(t.run()) for t in triggers))
            clients = {id(await AttendeeHook().aget_client()) for _ in triggers}
            return results, clients

        results, clients = asyncio.run(run_all())
        assert all(r.payload["status"] == "success" for r in results) and len(clients) == 1

    def test_participant_count_trigger(self, demo):
        bot_id = new_bot()
        trigger = AttendeeParticipantCountTrigger(
            bot_id=bot_id, threshold=3, comparison=">=", poll_interval=0.01
        )
        payload = first_event(trigger, demo.admin.advance, step=10)
        assert payload["status"] == "success" and payload["count"] >= 3


class Store:
    """An asset state store (Airflow 3.3+), in memory."""

    def __init__(self):
        self.data = {}

    async def aget(self, key, default=None):
        return self.data.get(key, default)

    async def aset(self, key, value):
        self.data[key] = value


def poll(trigger):
    """One poll of the event trigger, as its run loop does it (the watched ids carried over)."""

    async def once():
        finished, watching = await trigger.poll(AttendeeHook())
        trigger._watching = watching
        return sorted(bot.id for bot in finished)

    return asyncio.run(once())


class TestBotEventTrigger:
    def test_history_costs_nothing_and_each_finished_bot_is_emitted_once(self, demo):
        hook = AttendeeHook()
        history = [hook.create_bot(DEMO_MEETING, bot_name=f"Old {i}").id for i in range(30)]
        demo.admin.advance(1000)  # 30 meetings ended before the watcher started
        a = hook.create_bot(DEMO_MEETING, bot_name="A", metadata={"team": "product"}).id
        b = hook.create_bot("https://zoom.us/j/81234567890?pwd=acme2026", bot_name="B").id
        trigger = AttendeeBotEventTrigger(poll_interval=0.01)
        assert poll(trigger) == []  # starts from now: the 30 old ones are not replayed
        assert trigger._watching.live == {a, b}
        demo.admin.reset_counters()
        assert poll(trigger) == []  # nothing finished yet
        demo.admin.advance(1000)
        assert poll(trigger) == sorted([a, b]) and poll(trigger) == []
        requests = demo.admin.counters()["requests"]
        # 3 polls: one page of live bots and one page of the list's tail each, and one look-up per
        # finished meeting: not one per old bot (only the first poll walked the list, once).
        assert requests == {"GET /api/v1/bots": 6, "GET /api/v1/bots/{bot_id}": 2}, requests
        assert not set(history) & trigger._watching.live

    @pytest.mark.parametrize("state", ["fatal_error", "ended"])
    def test_a_bot_that_starts_and_finishes_between_two_polls_is_emitted(self, demo, state):
        hook = AttendeeHook()
        for i in range(27):  # more than a page of history before the watcher starts
            hook.create_bot(DEMO_MEETING, bot_name=f"Old {i}")
        demo.admin.advance(1000)
        trigger = AttendeeBotEventTrigger(state=state, poll_interval=0.01)
        assert poll(trigger) == []
        quick = hook.create_bot(DEMO_MEETING, bot_name="Quick").id
        if state == "fatal_error":
            demo.admin.fail_bot(quick, "request_to_join_denied")  # fails to join within a second
        else:
            demo.admin.advance(1000)
        demo.admin.reset_counters()
        assert poll(trigger) == [quick]  # never seen live: found in the list's tail
        assert poll(trigger) == []  # once
        assert demo.admin.counters()["requests"] == {"GET /api/v1/bots": 4}
        assert len(trigger._watching.tail_ids) <= 25 and quick in trigger._watching.tail_ids  # one page

    def test_a_restart_resumes_from_the_store_and_a_backfill_is_asked_for(self, demo):
        hook = AttendeeHook()
        a = hook.create_bot(DEMO_MEETING, bot_name="A", metadata={"team": "product"}).id
        b = hook.create_bot(
            "https://zoom.us/j/81234567890?pwd=acme2026", bot_name="B", metadata={"team": "sales"}
        ).id
        store = Store()

        async def polls() -> int:
            return await asyncio.to_thread(demo.admin.requests, "GET /api/v1/bots")

        async def events(trigger, expected, quiet_polls=3):
            """The trigger's first ``expected`` events (however busy the machine), then any it emits in
            ``quiet_polls`` more polls: counted by the simulator, not timed."""
            trigger.asset_state_store = store
            seen = []
            agen = trigger.run()
            try:
                for _ in range(expected):
                    seen.append((await asyncio.wait_for(anext(agen), 120)).payload["bot_id"])
                quiet_until = await polls() + quiet_polls
                following = asyncio.ensure_future(anext(agen))
                while not following.done() and await polls() < quiet_until:
                    await asyncio.sleep(0.01)
                if following.done():
                    seen.append(following.result().payload["bot_id"])
                following.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await following
            finally:
                await agen.aclose()
            return seen

        first = AttendeeBotEventTrigger(poll_interval=0.01)
        assert asyncio.run(events(first, 0)) == []  # watching a and b, stored
        demo.admin.advance(1000)  # both end while the triggerer is down
        restarted = roundtrip(first)
        assert sorted(asyncio.run(events(restarted, 2))) == sorted([a, b])  # resumed: emitted, once
        assert asyncio.run(events(roundtrip(first), 0)) == []
        start = demo.admin.now()
        c = hook.create_bot(
            "https://teams.microsoft.com/l/meetup-join/19%3ameeting_standup%40thread.v2/0"
            "?context=%7b%22Tid%22%3a%22t-1%22%2c%22Oid%22%3a%22o-1%22%7d",
            bot_name="C",
            metadata={"team": "product"},
        ).id
        demo.admin.advance(3000)
        store.data.clear()  # a new deployment asking for a backfill since before c started
        backfill = AttendeeBotEventTrigger(poll_interval=0.01, metadata={"team": "product"}, not_before=start)
        assert asyncio.run(events(backfill, 1)) == [c]
