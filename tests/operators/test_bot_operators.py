"""AttendeeCreateBotOperator and AttendeeLeaveBotOperator against the simulator over real HTTP."""

from __future__ import annotations

import inspect
from datetime import datetime, timedelta, timezone

import pytest

from airflow_provider_attendee.exceptions import (
    AttendeeBotFailedError,
    AttendeeConfigurationError,
    AttendeeError,
    AttendeeInvalidRequestError,
)
from airflow_provider_attendee.hooks.attendee import AttendeeHook
from airflow_provider_attendee.links import BOT_URL_XCOM_KEY
from airflow_provider_attendee.operators.bots import (
    AttendeeCreateBotOperator,
    AttendeeLeaveBotOperator,
    default_deduplication_key,
)
from airflow_provider_attendee.operators.calendar import AttendeeScheduleCalendarBotsOperator
from airflow_provider_attendee.operators.outputs import (
    AttendeeParticipantReportOperator,
    AttendeeRecordingOperator,
    AttendeeTranscriptOperator,
)
from airflow_provider_attendee.sensors.attendee import (
    AttendeeBotStateSensor,
    AttendeeParticipantCountSensor,
    AttendeeTranscriptReadySensor,
)
from airflow_provider_attendee.triggers.attendee import AttendeeBotStateTrigger
from tests.operators.conftest import DEMO_MEETING, FakeTaskInstance

try:
    from airflow.sdk.exceptions import TaskDeferred
except ImportError:  # Airflow 3.1
    from airflow.exceptions import TaskDeferred

ALL_OPERATORS = [
    AttendeeCreateBotOperator,
    AttendeeLeaveBotOperator,
    AttendeeScheduleCalendarBotsOperator,
    AttendeeTranscriptOperator,
    AttendeeRecordingOperator,
    AttendeeParticipantReportOperator,
    AttendeeBotStateSensor,
    AttendeeParticipantCountSensor,
    AttendeeTranscriptReadySensor,
]


@pytest.mark.parametrize("operator", ALL_OPERATORS, ids=lambda o: o.__name__)
def test_template_fields_are_init_arguments_assigned_unchanged(operator):
    ours = [
        cls
        for cls in operator.__mro__
        if cls.__module__.startswith("airflow_provider_attendee") and "__init__" in cls.__dict__
    ]
    parameters = {name for cls in ours for name in inspect.signature(cls.__init__).parameters}
    for name in operator.template_fields:
        assert name in parameters, f"{operator.__name__}.{name} is templated but not an __init__ argument"
    # The class's own __init__ or one of its Attendee bases assigns each field as given.
    source = "".join(inspect.getsource(cls.__init__) for cls in ours)
    for name in operator.template_fields:
        assert f"self.{name} = {name}\n" in source, f"{operator.__name__}.{name} is not assigned unchanged"


def test_create_bot_is_idempotent_across_retries(attendee_simulator, context):
    operator = AttendeeCreateBotOperator(
        task_id="create",
        meeting_url=DEMO_MEETING,
        bot_name="Notes",
        metadata={"team": "product"},
        bot_settings={"recording_settings": {"format": "mp4"}},
    )
    first = operator.execute(context)
    context["ti"].try_number = 2
    second = operator.execute(context)  # a retry: the key is in use, the live bot is reused
    assert first == second
    (bot,) = attendee_simulator.admin.bots()
    assert bot["id"] == first and bot["metadata"] == {"team": "product"} and bot["bot_name"] == "Notes"
    key = default_deduplication_key("test_dag", context["ti"].run_id, "task", -1)
    assert bot["deduplication_key"] == key
    assert attendee_simulator.admin.counters()["bots_created_by_dedup_key"] == {key: 1}
    assert context["ti"].xcoms[BOT_URL_XCOM_KEY] is None  # no project_id: no dashboard page to link to


@pytest.mark.parametrize(
    ("kwargs", "sent"),
    [
        ({}, {"record_participant_speech_start_stop_events": True}),
        (
            {"bot_settings": {"recording_settings": {"format": "mp3"}}},
            {"format": "mp3", "record_participant_speech_start_stop_events": True},
        ),
        (  # a value the user set is never overridden
            {"bot_settings": {"recording_settings": {"record_participant_speech_start_stop_events": False}}},
            {"record_participant_speech_start_stop_events": False},
        ),
        ({"record_speech_events": False}, None),  # the opt-out: the server's defaults
    ],
)
def test_create_bot_asks_for_speech_events(attendee_simulator, context, kwargs, sent):
    bot_id = AttendeeCreateBotOperator(task_id="c", meeting_url=DEMO_MEETING, **kwargs).execute(context)
    assert attendee_simulator.simulator.world.bots[bot_id].settings.get("recording_settings") == sent


def test_default_keys_differ_per_run_task_and_map_index():
    keys = {
        default_deduplication_key("d", "r1", "t", -1),
        default_deduplication_key("d", "r2", "t", -1),
        default_deduplication_key("d", "r1", "u", -1),
        default_deduplication_key("d", "r1", "t", 0),
    }
    assert len(keys) == 4
    assert default_deduplication_key("d", "r1", "t", -1) == default_deduplication_key("d", "r1", "t", -1)


def test_create_bot_after_a_lost_response(attendee_simulator, context, monkeypatch):
    """The server created the bot but the client saw a reset: one bot, and the operator carries on with it."""
    attendee_simulator.admin.set_faults(
        routes=[{"method": "POST", "path": "/bots$", "rate_reset": 1.0, "reset_after_fraction": 1.0}]
    )
    monkeypatch.setenv(
        "AIRFLOW_CONN_ATTENDEE_DEFAULT", attendee_simulator.connection_json(retry_backoff=0.001)
    )
    # Only the first POST is cut: afterwards the route answers normally (dedup key in use).
    original = attendee_simulator.simulator.faults.decide
    calls = {"n": 0}

    def first_post_only(method, path, body=b""):
        calls["n"] += method == "POST"
        return original(method, path, body) if calls["n"] <= 1 else original("GET", "/nothing")

    monkeypatch.setattr(attendee_simulator.simulator.faults, "decide", first_post_only)
    bot_id = AttendeeCreateBotOperator(task_id="create", meeting_url=DEMO_MEETING).execute(context)
    assert [b["id"] for b in attendee_simulator.admin.bots()] == [bot_id]
    assert attendee_simulator.admin.counters()["faults"] == {"reset_after": 1}


def test_create_bot_scheduled_and_from_calendar(attendee_simulator, context):
    join_at = (datetime.now(timezone.utc) + timedelta(hours=2)).isoformat()
    scheduled = AttendeeCreateBotOperator(task_id="a", meeting_url=DEMO_MEETING, join_at=join_at).execute(
        context
    )
    _, (event_id,) = attendee_simulator.admin.add_calendar(
        events=[{"name": "E", "meeting_url": "https://zoom.us/j/5", "start_in_minutes": 60}]
    )
    context2 = {"ti": FakeTaskInstance(task_id="b")}
    bound = AttendeeCreateBotOperator(task_id="b", calendar_event_id=event_id).execute(context2)
    states = {b["id"]: (b["state"], b["calendar_event_id"]) for b in attendee_simulator.admin.bots()}
    assert states == {scheduled: ("scheduled", None), bound: ("scheduled", event_id)}


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"meeting_url": "zoom meeting tomorrow"}, AttendeeConfigurationError, "is not a meeting link"),
        ({"meeting_url": "https://example.com/x"}, AttendeeInvalidRequestError, "Invalid meeting URL"),
        (
            {"meeting_url": DEMO_MEETING, "join_at": "2001-01-01T00:00:00Z"},
            AttendeeInvalidRequestError,
            "in the past",
        ),
        ({"meeting_url": DEMO_MEETING, "metadata": {"n": 1}}, AttendeeConfigurationError, "must be strings"),
    ],
)
def test_create_bot_bad_input(attendee_simulator, context, kwargs, error, message):
    with pytest.raises(error, match=message):
        AttendeeCreateBotOperator(task_id="create", **kwargs).execute(context)


def test_unknown_state_name_fails_at_parse_time():
    with pytest.raises(AttendeeConfigurationError, match="Unknown Attendee bot state 'recording'"):
        AttendeeCreateBotOperator(task_id="create", meeting_url=DEMO_MEETING, wait_for_states=["recording"])


@pytest.mark.attendee_simulator(time_scale=200)
def test_create_bot_waits_in_poke_mode(attendee_simulator, context):
    operator = AttendeeCreateBotOperator(
        task_id="create", meeting_url=DEMO_MEETING, wait_for_states=["joined_recording"], poke_interval=0.05
    )
    bot_id = operator.execute(context)
    assert AttendeeHook().get_bot(bot_id).state == "joined_recording"


def test_create_bot_defers_with_the_shared_trigger(attendee_simulator, context, monkeypatch):
    monkeypatch.setenv(
        "AIRFLOW_CONN_ATTENDEE_DEFAULT", attendee_simulator.connection_json(project_id="proj_1")
    )
    operator = AttendeeCreateBotOperator(
        task_id="create",
        meeting_url=DEMO_MEETING,
        wait_for_states="joined_recording",
        deferrable=True,
        poke_interval=7,
        wait_timeout=600,
    )
    with pytest.raises(TaskDeferred) as deferred:
        operator.execute(context)
    trigger = deferred.value.trigger
    assert isinstance(trigger, AttendeeBotStateTrigger)
    assert trigger.target_states == ["joined_recording"]
    assert trigger.failure_states == ["fatal_error", "data_deleted", "ended"]
    assert trigger.poll_interval == 7 and deferred.value.timeout == timedelta(seconds=600)
    bot_id = trigger.bot_id
    # The bot's dashboard page, linked while the task is deferred.
    assert context["ti"].xcoms[BOT_URL_XCOM_KEY] == f"{attendee_simulator.url}/projects/proj_1/bots/{bot_id}"
    assert (
        operator.execute_complete(
            context, {"status": "success", "bot_id": bot_id, "state": "joined_recording", "message": "ok"}
        )
        == bot_id
    )
    with pytest.raises(AttendeeBotFailedError, match="waiting_room_timeout"):
        operator.execute_complete(
            context,
            {
                "status": "failure",
                "bot_id": bot_id,
                "message": "Bot x reached fatal_error: could_not_join_meeting/waiting_room_timeout_exceeded",
            },
        )
    with pytest.raises(AttendeeError, match="boom"):
        operator.execute_complete(context, {"status": "error", "bot_id": bot_id, "message": "boom"})


def test_create_bot_wait_fails_when_denied(attendee_simulator, context):
    attendee_simulator.admin.add_scenario(
        {"meetings": [{"meeting_url": "https://zoom.us/j/333", "admission": "denied"}]}
    )
    attendee_simulator.admin.set_time_scale(500)
    operator = AttendeeCreateBotOperator(
        task_id="create",
        meeting_url="https://zoom.us/j/333",
        wait_for_states=["joined_recording"],
        poke_interval=0.02,
    )
    with pytest.raises(AttendeeBotFailedError, match="could_not_join_meeting/request_to_join_denied"):
        operator.execute(context)


class TestLeave:
    def _bot_in_meeting(self, sim) -> str:
        bot = AttendeeHook().create_bot(DEMO_MEETING, bot_name="Notes")
        sim.admin.advance(30)
        return bot.id

    def test_leave_in_meeting(self, attendee_simulator, context):
        bot_id = self._bot_in_meeting(attendee_simulator)
        result = AttendeeLeaveBotOperator(task_id="leave", bot_id=bot_id).execute(context)
        assert result == {"bot_id": bot_id, "state": "leaving", "action": "left"}

    def test_leave_twice_is_fine_unless_asked_to_fail(self, attendee_simulator, context):
        bot_id = self._bot_in_meeting(attendee_simulator)
        AttendeeLeaveBotOperator(task_id="leave", bot_id=bot_id).execute(context)
        again = AttendeeLeaveBotOperator(task_id="leave", bot_id=bot_id).execute(context)
        assert again["action"] == "none" and again["state"] == "leaving"
        attendee_simulator.admin.advance(30)
        with pytest.raises(AttendeeBotFailedError, match="is ended, not in a meeting"):
            AttendeeLeaveBotOperator(task_id="leave", bot_id=bot_id, fail_if_not_in_meeting=True).execute(
                context
            )

    def test_unschedule_a_scheduled_bot(self, attendee_simulator, context):
        join_at = (datetime.now(timezone.utc) + timedelta(hours=2)).isoformat()
        bot = AttendeeHook().create_bot(DEMO_MEETING, bot_name="Notes", join_at=join_at)
        kept = AttendeeLeaveBotOperator(task_id="leave", bot_id=bot.id).execute(context)
        assert kept["action"] == "none" and attendee_simulator.admin.bots()
        gone = AttendeeLeaveBotOperator(task_id="leave", bot_id=bot.id, unschedule_if_scheduled=True).execute(
            context
        )
        assert gone == {"bot_id": bot.id, "state": "deleted", "action": "unscheduled"}
        assert attendee_simulator.admin.bots() == []

    def test_wait_for_end(self, attendee_simulator, context):
        bot_id = self._bot_in_meeting(attendee_simulator)
        attendee_simulator.admin.set_time_scale(100)
        result = AttendeeLeaveBotOperator(
            task_id="leave", bot_id=bot_id, wait_for_end=True, poke_interval=0.05
        ).execute(context)
        assert result == {"bot_id": bot_id, "state": "ended", "action": "left"}

    def test_wait_for_end_deferred_keeps_the_action(self, attendee_simulator, context):
        bot_id = self._bot_in_meeting(attendee_simulator)
        operator = AttendeeLeaveBotOperator(
            task_id="leave", bot_id=bot_id, wait_for_end=True, deferrable=True
        )
        with pytest.raises(TaskDeferred) as deferred:
            operator.execute(context)
        assert deferred.value.trigger.target_states == ["ended"]
        event = {"status": "success", "bot_id": bot_id, "state": "ended", "message": "done"}
        assert operator.execute_complete(context, event) == {
            "bot_id": bot_id,
            "state": "ended",
            "action": "left",
        }

    def test_unknown_bot(self, attendee_simulator, context):
        from airflow_provider_attendee.exceptions import AttendeeNotFoundError

        with pytest.raises(AttendeeNotFoundError, match="Bot not found"):
            AttendeeLeaveBotOperator(task_id="leave", bot_id="bot_nope").execute(context)
