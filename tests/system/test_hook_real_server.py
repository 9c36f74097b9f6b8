"""AttendeeHook against the REAL Attendee server (run from source by scripts/attendee_server.py).

Every public hook method's request and answer, with exact outcomes, in a project of each test's own; the bots
are moved through their states by the server's own code (tests/system/driver/attendee_driver.py), so the
states, events, transcripts and calendar syncs are the server's, not a model of it. Also the create-bot
operator's settings as the server stores them.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone
from typing import Any

import pendulum
import pytest

from airflow_provider_attendee.exceptions import (
    AttendeeAuthenticationError,
    AttendeeDeduplicationKeyInUseError,
    AttendeeInvalidRequestError,
    AttendeeInvalidStateError,
    AttendeeNotFoundError,
    AttendeeRecordingMissingError,
)
from airflow_provider_attendee.hooks.attendee import AttendeeHook
from airflow_provider_attendee.operators.bots import AttendeeCreateBotOperator
from tests.operators.conftest import FakeTaskInstance
from tests.system.server import AttendeeServer, Driver, DriverError, Project

MEET = "https://meet.google.com/abc-defg-hij"
MEET_2 = "https://meet.google.com/kkk-llll-mmm"
TEAMS = "https://teams.microsoft.com/l/meetup-join/19%3ameeting_abc%40thread.v2/0?context=%7b%22Tid%22%3a%22t1%22%2c%22Oid%22%3a%22o1%22%7d"
ZOOM = "https://us02web.zoom.us/j/81234567890?pwd=secret123&uname=guest"


def utc_in(**delta: float) -> datetime:
    """A whole-second UTC time from now (the server stores microseconds, the API echoes what was sent)."""
    return (datetime.now(timezone.utc) + timedelta(**delta)).replace(microsecond=0)


def move(driver: Driver, bot_id: str, *events: str | tuple[str, str]) -> str:
    """Move a bot through events (``"joined_meeting"`` or ``("leave_requested", "user_requested")``)."""
    state = ""
    for event in events:
        event_type, sub_type = (event, None) if isinstance(event, str) else event
        state = driver.call("bot_event", bot_id=bot_id, event_type=event_type, sub_type=sub_type)["state"]
    return state


def joined_recording(hook: AttendeeHook, driver: Driver, **create: Any) -> str:
    bot = hook.create_bot(create.pop("meeting_url", MEET), bot_name=create.pop("bot_name", "Notes"), **create)
    assert move(driver, bot.id, "joined_meeting", "recording_permission_granted") == "joined_recording"
    return bot.id


def ended(driver: Driver, bot_id: str) -> None:
    move(driver, bot_id, ("leave_requested", "user_requested"), "left_meeting", "post_processing_completed")


def event_types(bot: Any) -> list[tuple[str, str | None]]:
    return [(event.type, event.sub_type) for event in bot.events]


def google_event(event_id: str, start: datetime, *, minutes: int = 30, **fields: Any) -> dict[str, Any]:
    """A calendar event as Google's events.list returns it."""
    return {
        "id": event_id,
        "status": "confirmed",
        "summary": f"Meeting {event_id}",
        "start": {"dateTime": start.isoformat().replace("+00:00", "Z")},
        "end": {"dateTime": (start + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")},
        "hangoutLink": MEET,
        "attendees": [{"email": "ada@example.com", "displayName": "Ada"}, {"email": "bob@example.com"}],
        "iCalUID": f"{event_id}@google.com",
        **fields,
    }


# ----------------------------------------------------------------------------------- connection
def test_connection_check_and_wrong_key(system_hook, system_project: Project, monkeypatch):
    ok, message = system_hook.test_connection()
    assert ok, message

    wrong = Project(system_project.url, "not-a-key-of-this-server")
    monkeypatch.setenv("AIRFLOW_CONN_ATTENDEE_WRONG", wrong.connection_json())
    with AttendeeHook("attendee_wrong") as hook:
        with pytest.raises(AttendeeAuthenticationError) as raised:
            hook.get_bot("bot_x")
        assert raised.value.http_status == 401
        assert raised.value.detail == "Invalid or disabled API key"
        ok, message = hook.test_connection()
    assert not ok
    assert "API key" in message


# ------------------------------------------------------------------------------------ create/get
def test_create_bot_now_and_get_it(system_hook):
    bot = system_hook.create_bot(
        MEET + "?authuser=0&hs=122",
        bot_name="Notes",
        metadata={"team": "sales", "deal": "42"},
        deduplication_key="create-now-1",
    )
    assert bot.id.startswith("bot_")
    assert bot.state == "joining"
    assert bot.meeting_url == MEET  # the server stores the normalised URL
    assert event_types(bot) == [("join_requested", None)]
    assert bot.join_at is None
    assert bot.metadata == {"team": "sales", "deal": "42"}
    assert bot.deduplication_key == "create-now-1"
    assert (bot.transcription_state, bot.recording_state) == ("not_started", "not_started")

    got = system_hook.get_bot(bot.id)
    assert got == bot
    assert asyncio.run(system_hook.aget_bot(bot.id)) == bot

    with pytest.raises(AttendeeNotFoundError) as raised:
        system_hook.get_bot("bot_doesnotexist")
    assert raised.value.detail == "Bot not found"


def test_create_bot_normalises_teams_and_zoom_urls(system_hook, attendee_driver: Driver, system_project):
    teams = system_hook.create_bot(TEAMS, bot_name="Notes")
    assert teams.meeting_url == (
        'https://teams.microsoft.com/l/meetup-join/19:meeting_abc@thread.v2/0?context={"Tid":"t1","Oid":"o1"}'
    )

    # A Zoom bot needs Zoom credentials on the project: a 400 about the project, not a field of the request
    # ({"error": ...}; BEHAVIOUR.md says {"meeting_url": [...]}).
    with pytest.raises(AttendeeInvalidRequestError) as raised:
        system_hook.create_bot(ZOOM, bot_name="Notes")
    assert raised.value.detail.startswith("Zoom App credentials are required to create a Zoom bot.")
    assert raised.value.field_errors == {}
    attendee_driver.call("add_zoom_credentials", project_id=system_project.project_id)
    zoom = system_hook.create_bot(ZOOM, bot_name="Notes")
    assert zoom.meeting_url == "https://us02web.zoom.us/j/81234567890?pwd=secret123"
    assert zoom.state == "joining"


def test_create_scheduled_bot(system_hook):
    join_at = pendulum.instance(utc_in(hours=2)).in_timezone("Europe/Paris")
    bot = asyncio.run(system_hook.acreate_bot(MEET, bot_name="Later", join_at=join_at))
    assert bot.state == "scheduled"
    assert bot.events == []
    assert bot.join_at == join_at  # the same instant, echoed in UTC
    assert bot.join_at.utcoffset() == timedelta(0)


def test_create_bot_errors(system_hook):
    with pytest.raises(AttendeeInvalidRequestError) as raised:
        system_hook.create_bot(MEET, bot_name="Past", join_at=utc_in(hours=-1))
    assert raised.value.field_errors == {"join_at": ["join_at cannot be in the past"]}

    with pytest.raises(AttendeeInvalidRequestError) as raised:
        system_hook.create_bot(MEET, bot_name="Odd", surprise_field=True)
    assert raised.value.field_errors["non_field_errors"][0].startswith("Unexpected field(s): surprise_field.")

    system_hook.create_bot(MEET, bot_name="First", deduplication_key="dup")
    with pytest.raises(AttendeeDeduplicationKeyInUseError):
        system_hook.create_bot(MEET, bot_name="Second", deduplication_key="dup")

    with pytest.raises(AttendeeInvalidRequestError) as raised:
        system_hook.create_bot(calendar_event_id="evt_doesnotexist", bot_name="Cal")
    assert raised.value.detail == "Calendar event with id evt_doesnotexist does not exist in this project."


def test_deduplication_key_free_again_once_the_bot_ended(system_hook, attendee_driver: Driver):
    first = system_hook.create_bot(MEET, bot_name="Notes", deduplication_key="meeting-1")
    move(attendee_driver, first.id, "joined_meeting", "meeting_ended", "post_processing_completed")
    assert system_hook.get_bot(first.id).state == "ended"
    second = system_hook.create_bot(MEET, bot_name="Notes", deduplication_key="meeting-1")
    assert second.id != first.id
    assert [bot.id for bot in system_hook.list_bots(deduplication_key="meeting-1")] == [first.id, second.id]


# ------------------------------------------------------------------------------------------ list
def test_list_bots_filters_and_pagination(system_hook, attendee_driver: Driver):
    adhoc = [
        system_hook.create_bot(MEET if i % 2 else MEET_2, bot_name=f"Bot {i}", deduplication_key=f"k{i}").id
        for i in range(26)
    ]
    soon = system_hook.create_bot(MEET, bot_name="Soon", join_at=utc_in(hours=1)).id
    later = system_hook.create_bot(MEET_2, bot_name="Later", join_at=utc_in(hours=3)).id
    move(attendee_driver, adhoc[0], "joined_meeting", "meeting_ended", "post_processing_completed")
    everything = [*adhoc, soon, later]

    # 28 bots: two pages (25 + 3), in creation order.
    assert [bot.id for bot in system_hook.list_bots()] == everything
    first_page, next_url = asyncio.run(system_hook.apage_bots())
    assert [bot.id for bot in first_page] == everything[:25]
    assert next_url is not None
    assert next_url.startswith(system_hook.settings.base_url + "/api/v1/bots?cursor=")
    second_page, last_next = asyncio.run(system_hook.apage_bots(next_url))
    assert [bot.id for bot in second_page] == everything[25:]
    assert last_next is None

    async def all_async() -> list[str]:
        return [bot.id async for bot in system_hook.alist_bots(states=["joining", "scheduled"])]

    assert asyncio.run(all_async()) == everything[1:]
    assert [bot.id for bot in system_hook.list_bots(states="scheduled")] == [soon, later]
    assert [bot.id for bot in system_hook.list_bots(states=["ended"])] == [adhoc[0]]
    assert [bot.id for bot in system_hook.list_bots(states="fatal_error")] == []
    # meeting_url: the raw URL as typed is normalised by the hook, then matched exactly by the server.
    assert [bot.id for bot in system_hook.list_bots(meeting_url=MEET_2 + "?authuser=1")] == [
        *adhoc[0::2],
        later,
    ]
    assert [bot.id for bot in system_hook.list_bots(deduplication_key="k7")] == [adhoc[7]]
    assert [bot.id for bot in system_hook.list_bots(join_at_after=utc_in(hours=2))] == [later]
    assert [bot.id for bot in system_hook.list_bots(join_at_before=utc_in(hours=2))] == [soon]
    assert [
        bot.id
        for bot in system_hook.list_bots(
            states="scheduled",
            join_at_after=pendulum.instance(utc_in(minutes=30)).in_timezone("Asia/Kolkata"),  # a "+" offset
            join_at_before=utc_in(hours=4),
        )
    ] == [soon, later]


# --------------------------------------------------------------------------- patch/delete/leave
def test_update_bot_while_scheduled_then_staged(system_hook, attendee_driver: Driver):
    bot = system_hook.create_bot(MEET, bot_name="Notes", join_at=utc_in(hours=2), metadata={"a": "1"})
    new_time = utc_in(hours=3)
    updated = system_hook.update_bot(bot.id, join_at=new_time, metadata={"a": "2"}, bot_name="Renamed")
    assert updated.join_at == new_time
    assert updated.metadata == {"a": "2"}
    assert updated.state == "scheduled"
    assert attendee_driver.call("bot_info", bot_id=bot.id)["join_at"] == new_time.isoformat()

    assert attendee_driver.call("stage_bot", bot_id=bot.id) == {"state": "staged"}
    staged = system_hook.get_bot(bot.id)
    assert staged.state == "staged"
    assert event_types(staged) == [("staged", None)]
    with pytest.raises(AttendeeInvalidStateError) as raised:
        system_hook.update_bot(bot.id, join_at=utc_in(hours=5))
    assert raised.value.detail == (
        "Bot is in state staged but join_at, meeting_url, bot_name, bot_image and recording_settings can only "
        "be updated when in the scheduled state"
    )
    assert system_hook.update_bot(bot.id, metadata={"a": "3"}).metadata == {"a": "3"}  # metadata: any state
    with pytest.raises(AttendeeInvalidStateError):
        system_hook.delete_bot(bot.id)


def test_delete_bot(system_hook):
    scheduled = system_hook.create_bot(MEET, bot_name="Notes", join_at=utc_in(hours=2))
    assert system_hook.delete_bot(scheduled.id) is None
    with pytest.raises(AttendeeNotFoundError):
        system_hook.get_bot(scheduled.id)
    other = system_hook.create_bot(MEET, bot_name="Notes", join_at=utc_in(hours=2))
    asyncio.run(system_hook.adelete_bot(other.id))
    assert list(system_hook.list_bots()) == []

    joining = system_hook.create_bot(MEET, bot_name="Notes")
    with pytest.raises(AttendeeInvalidStateError) as raised:
        system_hook.delete_bot(joining.id)
    assert raised.value.detail == "Bot is in state joining but can only be deleted when in scheduled state"
    with pytest.raises(AttendeeNotFoundError):
        system_hook.delete_bot("bot_doesnotexist")


def test_leave_bot(system_hook, attendee_driver: Driver):
    bot_id = joined_recording(system_hook, attendee_driver)
    left = system_hook.leave_bot(bot_id)
    assert left.state == "leaving"
    assert event_types(left)[-1] == ("leave_requested", "user_requested")
    with pytest.raises(AttendeeInvalidStateError) as raised:
        system_hook.leave_bot(bot_id)
    assert raised.value.detail.startswith("Event leave_requested not allowed when bot is in state leaving.")

    joining = system_hook.create_bot(MEET, bot_name="Notes")
    assert asyncio.run(system_hook.aleave_bot(joining.id)).state == "leaving"
    scheduled = system_hook.create_bot(MEET, bot_name="Notes", join_at=utc_in(hours=2))
    with pytest.raises(AttendeeInvalidStateError):
        system_hook.leave_bot(scheduled.id)


def test_pause_and_resume_recording_need_a_running_bot(system_hook, attendee_driver: Driver):
    joining = system_hook.create_bot(MEET, bot_name="Notes")
    with pytest.raises(AttendeeInvalidStateError) as raised:
        system_hook.pause_recording(joining.id)
    assert raised.value.detail == "Bot is in state joining and cannot pause recording"
    with pytest.raises(AttendeeInvalidStateError) as raised:
        system_hook.resume_recording(joining.id)
    assert raised.value.detail == "Bot is in state joining and cannot resume recording."  # sic: with a stop

    # In a meeting, the server asks the bot's process to pause and waits a second for it: no bot process
    # runs here, so the server answers that it could not.
    bot_id = joined_recording(system_hook, attendee_driver)
    with pytest.raises(AttendeeInvalidRequestError) as raised:
        system_hook.pause_recording(bot_id)
    assert raised.value.detail == "Unable to pause recording"
    # What a bot process does once paused, through the state machine: then resume is allowed to ask.
    assert move(attendee_driver, bot_id, "recording_paused") == "joined_recording_paused"
    assert system_hook.get_bot(bot_id).recording_state == "paused"
    with pytest.raises(AttendeeInvalidRequestError) as raised:
        system_hook.resume_recording(bot_id)
    assert raised.value.detail == "Unable to resume recording"


# ----------------------------------------------------------------------------------- after a meeting
def test_transcript_recording_and_delete_data(system_hook, attendee_driver: Driver):
    bot_id = joined_recording(system_hook, attendee_driver)
    assert system_hook.get_transcript(bot_id) == []
    start = 1_767_000_000_000
    lines = [
        ("u1", "Ada", "Hello everyone.", 0, 1500),
        ("u2", None, "Hi Ada.", 2000, 900),
        ("u1", "Ada", "Agenda.", 3500, 700),
    ]
    for uuid, name, text, offset, duration in lines:
        attendee_driver.call(
            "utterance",
            bot_id=bot_id,
            speaker_uuid=uuid,
            speaker_name=name,
            text=text,
            timestamp_ms=start + offset,
            duration_ms=duration,
            is_host=uuid == "u1",
        )
    assert system_hook.get_bot(bot_id).transcription_state == "in_progress"
    transcript = system_hook.get_transcript(bot_id)
    assert [
        (
            u.speaker_uuid,
            u.speaker_name,
            u.speaker_is_host,
            u.timestamp_ms,
            u.duration_ms,
            u.transcription.transcript,
        )
        for u in transcript
    ] == [
        (uuid, name, uuid == "u1", start + offset, duration, text)
        for uuid, name, text, offset, duration in lines
    ]
    assert transcript[1].speaker_user_uuid is None
    assert transcript[1].transcription.words is None
    assert system_hook.get_transcript(bot_id, updated_after=utc_in(minutes=5)) == []
    assert asyncio.run(system_hook.aget_transcript(bot_id)) == transcript

    with pytest.raises(AttendeeRecordingMissingError) as raised:
        system_hook.get_recording(bot_id)
    assert raised.value.detail == "No recording file found for bot"
    with pytest.raises(AttendeeInvalidStateError) as raised:
        system_hook.delete_bot_data(bot_id)
    assert raised.value.detail == "Bot is not in a state where the data deleted event can be created"

    ended(attendee_driver, bot_id)
    finished = system_hook.get_bot(bot_id)
    assert finished.state == "ended"
    # No recording storage here: the recording failed; the transcript is complete.
    assert (finished.transcription_state, finished.recording_state) == ("complete", "failed")
    assert [e for e, _ in event_types(finished)] == [
        "join_requested",
        "joined_meeting",
        "recording_permission_granted",
        "leave_requested",
        "left_meeting",
        "post_processing_completed",
    ]
    with pytest.raises(AttendeeRecordingMissingError):
        system_hook.get_recording(bot_id)

    deleted = system_hook.delete_bot_data(bot_id)
    assert deleted.state == "data_deleted"
    assert system_hook.get_transcript(bot_id) == []
    assert list(system_hook.list_participants(bot_id)) == []
    with pytest.raises(AttendeeRecordingMissingError):
        system_hook.get_recording(bot_id)
    with pytest.raises(AttendeeInvalidStateError):
        system_hook.delete_bot_data(bot_id)


def test_silent_meeting_keeps_transcription_not_started(system_hook, attendee_driver: Driver):
    bot_id = joined_recording(system_hook, attendee_driver)
    ended(attendee_driver, bot_id)
    bot = system_hook.get_bot(bot_id)
    assert (bot.state, bot.transcription_state, bot.recording_state) == ("ended", "not_started", "failed")
    assert system_hook.get_transcript(bot_id) == []


def test_recording_of_unknown_bot_is_not_found_not_missing(system_hook):
    with pytest.raises(AttendeeNotFoundError) as raised:
        system_hook.get_recording("bot_doesnotexist")
    assert type(raised.value) is not AttendeeRecordingMissingError
    assert not isinstance(raised.value, AttendeeRecordingMissingError)
    assert raised.value.detail == "Bot not found"


def test_participants_and_participant_events(system_hook, attendee_driver: Driver):
    bot_id = joined_recording(
        system_hook, attendee_driver, recording_settings={"record_participant_speech_start_stop_events": True}
    )
    attendee_driver.call("add_participant", bot_id=bot_id, uuid="bot-self", name="Notes", is_the_bot=True)
    attendee_driver.call(
        "participant_event", bot_id=bot_id, uuid="bot-self", event_type="join", timestamp_ms=1
    )
    base = 1_767_000_000_000
    backdated = utc_in(minutes=-10)
    # 28 events, stored with DEcreasing timestamps: the API lists them in storage order.
    expected = []
    for i in range(14):
        uuid, name, host = ("host-1", "Ada", True) if i % 2 == 0 else ("guest-1", None, False)
        for event_type in ("join", "speech_start") if i < 7 else ("speech_stop", "leave"):
            stamp = base - len(expected) * 1000
            made = attendee_driver.call(
                "participant_event",
                bot_id=bot_id,
                uuid=uuid,
                name=name,
                is_host=host,
                event_type=event_type,
                timestamp_ms=stamp,
                at=(backdated + timedelta(seconds=len(expected))).isoformat() if len(expected) < 10 else None,
            )
            assert made["recorded"] is True
            expected.append((made["id"], uuid, name, host, event_type, stamp))

    events = list(system_hook.list_participant_events(bot_id))
    assert [
        (e.id, e.participant_uuid, e.participant_name, e.participant_is_host, e.event_type, e.timestamp_ms)
        for e in events
    ] == expected  # the bot's own join is never listed
    assert all(e.participant_user_uuid is None and e.event_data == {} for e in events)

    async def async_events() -> list[str]:
        return [e.id async for e in system_hook.alist_participant_events(bot_id)]

    assert asyncio.run(async_events()) == [row[0] for row in expected]
    # after/before filter on when the server stored each event (10 were back-dated), not timestamp_ms.
    cut = utc_in(minutes=-5)
    assert [e.id for e in system_hook.list_participant_events(bot_id, after=cut)] == [
        r[0] for r in expected[10:]
    ]
    assert [e.id for e in system_hook.list_participant_events(bot_id, before=cut)] == [
        r[0] for r in expected[:10]
    ]

    participants = list(system_hook.list_participants(bot_id))
    assert [(p.uuid, p.name, p.is_host, p.user_uuid) for p in participants] == [
        ("host-1", "Ada", True, None),
        ("guest-1", None, False, None),
    ]
    assert all(p.id.startswith("par_") for p in participants)
    assert [p.uuid for p in system_hook.list_participants(bot_id, is_host=True)] == ["host-1"]

    async def async_guests() -> list[str]:
        return [p.uuid async for p in system_hook.alist_participants(bot_id, is_host=False)]

    assert asyncio.run(async_guests()) == ["guest-1"]


def test_speech_events_off_by_default(system_hook, attendee_driver: Driver):
    bot_id = joined_recording(system_hook, attendee_driver)
    assert attendee_driver.call("bot_info", bot_id=bot_id)["record_speech_events"] is False
    joined = attendee_driver.call(
        "participant_event", bot_id=bot_id, uuid="p1", name="Ada", event_type="join"
    )
    speech = attendee_driver.call("participant_event", bot_id=bot_id, uuid="p1", event_type="speech_start")
    assert joined["recorded"] is True
    assert speech["recorded"] is False
    assert [e.event_type for e in system_hook.list_participant_events(bot_id)] == ["join"]


def test_chat_messages(system_hook, attendee_driver: Driver):
    bot_id = joined_recording(system_hook, attendee_driver)
    assert list(system_hook.list_chat_messages(bot_id)) == []
    attendee_driver.call(
        "chat_message",
        bot_id=bot_id,
        sender_uuid="p1",
        sender_name="Ada",
        text="Slides?",
        timestamp=1_767_000_000,
    )
    [message] = system_hook.list_chat_messages(bot_id)
    assert (message.text, message.sender_uuid, message.sender_name, message.to) == (
        "Slides?",
        "p1",
        "Ada",
        "everyone",
    )
    assert (message.timestamp, message.timestamp_ms) == (1_767_000_000, 1_767_000_000_000)
    assert list(system_hook.list_chat_messages(bot_id, updated_after=utc_in(minutes=5))) == []


# ---------------------------------------------------------------------------------------- calendars
def test_calendars(system_hook, attendee_driver: Driver, system_project: Project):
    first = attendee_driver.call(
        "create_calendar",
        project_id=system_project.project_id,
        deduplication_key="ada",
        metadata={"team": "x"},
    )["id"]
    second = attendee_driver.call("create_calendar", project_id=system_project.project_id, client_id="other")[
        "id"
    ]
    calendars = list(system_hook.list_calendars())
    assert [c.id for c in calendars] == [second, first]  # newest first
    [ada] = system_hook.list_calendars(deduplication_key="ada")
    assert (ada.id, ada.platform, ada.client_id, ada.platform_uuid, ada.state) == (
        first,
        "google",
        "system-test-client",
        "primary",
        "connected",
    )
    assert (ada.metadata, ada.deduplication_key, ada.connection_failure_data) == ({"team": "x"}, "ada", None)
    assert ada.last_successful_sync_at is None
    assert calendars[0].metadata is None and calendars[0].deduplication_key is None

    attendee_driver.call("sync_calendar", calendar_id=first, events=[])
    synced = system_hook.get_calendar(first)
    assert synced.last_successful_sync_at is not None
    assert synced.last_attempted_sync_at == synced.last_successful_sync_at
    with pytest.raises(AttendeeNotFoundError) as raised:
        system_hook.get_calendar("cal_doesnotexist")
    assert raised.value.detail == "Calendar not found"

    # A revoked grant: the calendar is disconnected.
    assert attendee_driver.call("sync_calendar", calendar_id=second, events=[], auth_error=True) == {
        "success": False,
        "state": "disconnected",
    }
    disconnected = system_hook.get_calendar(second)
    assert disconnected.state == "disconnected"
    assert "invalid_grant" in disconnected.connection_failure_data["error"]


def test_calendar_events_and_their_bots(system_hook, attendee_driver: Driver, system_project: Project):
    calendar = attendee_driver.call(
        "create_calendar", project_id=system_project.project_id, deduplication_key="team-cal"
    )["id"]
    t1, t2, t3 = utc_in(hours=2), utc_in(hours=4), utc_in(hours=6)
    remote = [
        google_event("g1", t1),
        google_event("g2", t2, hangoutLink=None, location=f"Room 1 / {MEET_2}?authuser=0"),
        google_event("g3", t3, hangoutLink=None, summary=None, attendees=None),
    ]
    remote[1].pop("hangoutLink")
    remote[2].pop("hangoutLink")
    remote[2].pop("summary")
    remote[2].pop("attendees")
    result = attendee_driver.call("sync_calendar", calendar_id=calendar, events=remote)
    assert (result["success"], result["created_count"], result["updated_count"], result["deleted_count"]) == (
        True,
        3,
        0,
        0,
    )
    events = {e.platform_uuid: e for e in system_hook.list_calendar_events(calendar_id=calendar)}
    assert sorted(events) == ["g1", "g2", "g3"]
    g1, g2, g3 = events["g1"], events["g2"], events["g3"]
    assert (g1.meeting_url, g1.start_time, g1.end_time, g1.name, g1.ical_uid, g1.is_deleted) == (
        MEET,
        t1,
        t1 + timedelta(minutes=30),
        "Meeting g1",
        "g1@google.com",
        False,
    )
    assert [(a.email, a.name) for a in g1.attendees] == [
        ("ada@example.com", "Ada"),
        ("bob@example.com", None),
    ]
    assert g1.calendar_id == calendar
    assert g1.raw["id"] == "g1"
    assert g2.meeting_url == f"{MEET_2}?authuser=0"  # the event keeps the raw URL from the calendar
    assert (g3.meeting_url, g3.name, g3.attendees) == (None, None, [])

    # Bots bound to events: URL and start from the event.
    bot1 = system_hook.create_bot(calendar_event_id=g1.id, bot_name="Notes")
    assert (bot1.state, bot1.meeting_url, bot1.join_at) == ("scheduled", MEET, t1)
    assert attendee_driver.call("bot_info", bot_id=bot1.id)["calendar_event_id"] == g1.id
    bot2 = system_hook.create_bot(calendar_event_id=g2.id, bot_name="Notes")
    assert bot2.meeting_url == MEET_2  # the bot holds the normalised URL
    with pytest.raises(AttendeeInvalidRequestError) as raised:
        system_hook.create_bot(calendar_event_id=g3.id, bot_name="Notes")
    assert raised.value.field_errors == {"meeting_url": ["This field may not be null."]}
    [listed] = system_hook.list_calendar_events(event_id=g1.id)
    assert [b.id for b in listed.bots] == [bot1.id]

    # Filters and orderings.
    def ids(**filters: Any) -> list[str | None]:
        return [e.platform_uuid for e in system_hook.list_calendar_events(**filters)]

    assert ids(calendar_deduplication_key="team-cal", ordering="start_time") == ["g1", "g2", "g3"]
    assert ids(calendar_id=calendar, ordering="-start_time") == ["g3", "g2", "g1"]
    assert ids(start_time_gte=t2, ordering="start_time") == ["g2", "g3"]
    assert ids(end_time_lte=t2 + timedelta(minutes=30), ordering="end_time") == ["g1", "g2"]
    assert ids(event_id=g3.id) == ["g3"]
    assert ids(calendar_deduplication_key="no-such-calendar") == []

    # The next sync: g1 moves by an hour, g2 is cancelled (its scheduled bot is deleted), g3 vanishes.
    mark = datetime.now(timezone.utc)
    remote[0] = google_event("g1", t1 + timedelta(hours=1))
    remote[1] = {**remote[1], "status": "cancelled"}
    result = attendee_driver.call("sync_calendar", calendar_id=calendar, events=remote[:2])
    assert (result["created_count"], result["updated_count"], result["deleted_count"]) == (0, 2, 1)
    assert system_hook.get_bot(bot1.id).join_at == t1 + timedelta(hours=1)
    with pytest.raises(AttendeeNotFoundError):
        system_hook.get_bot(bot2.id)
    after = {e.platform_uuid: e for e in system_hook.list_calendar_events(calendar_id=calendar)}
    assert {k: (e.is_deleted, [b.id for b in e.bots]) for k, e in after.items()} == {
        "g1": (False, [bot1.id]),
        "g2": (True, []),
        "g3": (True, []),
    }
    assert after["g1"].start_time == t1 + timedelta(hours=1)
    assert sorted(ids(updated_at_gte=mark)) == ["g1", "g2", "g3"]
    assert ids(updated_at_gte=utc_in(minutes=5)) == []

    # A staged bot survives its event's cancellation and stays linked.
    attendee_driver.call("stage_bot", bot_id=bot1.id)
    remote[0] = {**remote[0], "status": "cancelled"}
    attendee_driver.call("sync_calendar", calendar_id=calendar, events=remote[:1])
    assert system_hook.get_bot(bot1.id).state == "staged"
    [g1_after] = system_hook.list_calendar_events(event_id=g1.id)
    assert g1_after.is_deleted is True
    assert [b.id for b in g1_after.bots] == [bot1.id]

    async def async_ids() -> list[str | None]:
        return [
            e.platform_uuid
            async for e in system_hook.alist_calendar_events(calendar_id=calendar, ordering="start_time")
        ]

    assert asyncio.run(async_ids()) == ["g1", "g2", "g3"]


def test_calendar_events_pagination(system_hook, attendee_driver: Driver, system_project: Project):
    calendar = attendee_driver.call("create_calendar", project_id=system_project.project_id)["id"]
    start = utc_in(days=1)
    remote = [google_event(f"e{i:03d}", start + timedelta(minutes=i)) for i in range(103)]
    assert attendee_driver.call("sync_calendar", calendar_id=calendar, events=remote)["created_count"] == 103
    listed = [
        e.platform_uuid for e in system_hook.list_calendar_events(calendar_id=calendar, ordering="start_time")
    ]
    assert listed == [f"e{i:03d}" for i in range(103)]  # 100 a page: two pages


def test_sync_with_auth_error_deletes_the_calendars_scheduled_bots(
    system_hook, attendee_driver: Driver, system_project: Project
):
    calendar = attendee_driver.call("create_calendar", project_id=system_project.project_id)["id"]
    attendee_driver.call("sync_calendar", calendar_id=calendar, events=[google_event("g1", utc_in(hours=2))])
    [event] = system_hook.list_calendar_events(calendar_id=calendar)
    bot = system_hook.create_bot(calendar_event_id=event.id, bot_name="Notes")
    attendee_driver.call("sync_calendar", calendar_id=calendar, events=[], auth_error=True)
    with pytest.raises(AttendeeNotFoundError):
        system_hook.get_bot(bot.id)


# ----------------------------------------------------------------------------------- the operator
@pytest.mark.parametrize(
    ("kwargs", "expected_recording_settings"),
    [
        pytest.param(
            {}, {"record_participant_speech_start_stop_events": True, "format": "mp4"}, id="default"
        ),
        pytest.param(
            {"bot_settings": {"recording_settings": {"format": "mp3", "view": "gallery_view"}}},
            {"record_participant_speech_start_stop_events": True, "format": "mp3", "view": "gallery_view"},
            id="user-settings-kept",
        ),
        pytest.param(
            {"record_speech_events": False},
            {"record_participant_speech_start_stop_events": False, "format": "mp4"},
            id="speech-events-off",
        ),
        pytest.param(
            {"bot_settings": {"recording_settings": {"record_participant_speech_start_stop_events": False}}},
            {"record_participant_speech_start_stop_events": False},
            id="user-false-wins",
        ),
    ],
)
def test_create_bot_operator_settings_as_stored(
    system_conn, attendee_driver: Driver, kwargs: dict[str, Any], expected_recording_settings: dict[str, Any]
):
    operator = AttendeeCreateBotOperator(task_id="create", meeting_url=MEET, bot_name="Notes", **kwargs)
    context = {"ti": FakeTaskInstance()}
    bot_id = operator.execute(context)
    stored = attendee_driver.call("bot_info", bot_id=bot_id)
    assert stored["settings"]["recording_settings"].items() >= expected_recording_settings.items()
    assert (
        stored["record_speech_events"]
        is expected_recording_settings["record_participant_speech_start_stop_events"]
    )
    # A retry of the task (same deduplication key) reuses the live bot.
    context["ti"].try_number = 2
    assert operator.execute(context) == bot_id
    with AttendeeHook(system_conn) as hook:
        assert len(list(hook.list_bots())) == 1


def test_deployment_or_server_answers(attendee_server: AttendeeServer, monkeypatch):
    """Runs against a deployment too (ATTENDEE_SYSTEM_URL): the key works and an unknown bot is a 404."""
    monkeypatch.setenv("AIRFLOW_CONN_ATTENDEE_SERVER", attendee_server.project.connection_json())
    with AttendeeHook("attendee_server") as hook:
        assert hook.test_connection()[0]
        with pytest.raises(AttendeeNotFoundError):
            hook.get_bot("bot_doesnotexist")


def test_driver_refuses_what_the_state_machine_refuses(system_hook, attendee_driver: Driver):
    bot = system_hook.create_bot(MEET, bot_name="Notes")
    with pytest.raises(DriverError) as raised:
        attendee_driver.call("bot_event", bot_id=bot.id, event_type="post_processing_completed")
    assert "not allowed when bot is in state joining" in raised.value.error
