"""Pagination, filters, participants and calendars of the simulator, through the hook over real HTTP."""

from __future__ import annotations

import io
import wave
from datetime import datetime, timedelta, timezone

import httpx
import pytest

from airflow_provider_attendee.client.models import BotState
from airflow_provider_attendee.exceptions import AttendeeInvalidRequestError, AttendeeNotFoundError
from airflow_provider_attendee.hooks.attendee import AttendeeHook

MEET = "https://meet.google.com/abc-defg-hij"


def sim_now(sim) -> datetime:
    return datetime.fromisoformat(sim.admin.now().replace("Z", "+00:00"))


@pytest.mark.attendee_simulator(page_size=3)
def test_pagination_every_item_once_in_order(attendee_simulator, openapi_contract):
    hook = AttendeeHook()
    created = [hook.create_bot(f"https://zoom.us/j/{1000 + i}", bot_name=f"b{i}").id for i in range(10)]
    assert [b.id for b in hook.list_bots()] == created
    pages = [e for e in openapi_contract if e.method == "GET" and e.path == "/api/v1/bots"]
    assert len(pages) == 4  # 3 + 3 + 3 + 1
    # Absolute next links with the other filters kept, and previous links after the first page.
    headers = {"Authorization": f"Token {attendee_simulator.api_key}", "Content-Type": "application/json"}
    first = httpx.get(f"{attendee_simulator.url}/api/v1/bots?states=joining", headers=headers).json()
    assert first["next"].startswith(attendee_simulator.url) and "states=joining" in first["next"]
    assert first["previous"] is None
    second = httpx.get(first["next"], headers=headers).json()
    back = httpx.get(second["previous"], headers=headers).json()
    assert [b["id"] for b in back["results"]] == [b["id"] for b in first["results"]]


@pytest.mark.attendee_simulator(page_size=2)
def test_cursor_survives_deletions_between_pages(attendee_simulator):
    hook = AttendeeHook()
    join_at = sim_now(attendee_simulator) + timedelta(hours=1)
    ids = [
        hook.create_bot(f"https://zoom.us/j/{2000 + i}", bot_name="b", join_at=join_at).id for i in range(5)
    ]
    pages = hook.list_bots()
    assert [next(pages).id, next(pages).id] == ids[:2]
    hook.delete_bot(ids[0])  # deleting an already-seen item must not make the next page skip one
    assert [b.id for b in pages] == ids[2:]


@pytest.mark.contract_exempt  # an invalid cursor and a comma list of states, on purpose
def test_invalid_cursor_and_states(attendee_simulator):
    headers = {"Authorization": f"Token {attendee_simulator.api_key}"}
    bad_cursor = httpx.get(f"{attendee_simulator.url}/api/v1/bots?cursor=garbage!!", headers=headers)
    assert bad_cursor.status_code == 404 and bad_cursor.json() == {"detail": "Invalid cursor"}
    comma = httpx.get(f"{attendee_simulator.url}/api/v1/bots?states=ended,joining", headers=headers)
    assert comma.status_code == 400 and "Invalid state: ended,joining" in comma.json()["error"]
    bad_time = httpx.get(f"{attendee_simulator.url}/api/v1/bots?join_at_after=yesterday", headers=headers)
    assert bad_time.status_code == 400 and "Invalid join_at_after format" in bad_time.json()["error"]


def test_bot_filters(attendee_simulator):
    hook = AttendeeHook()
    now = sim_now(attendee_simulator)
    early = hook.create_bot("https://zoom.us/j/1", bot_name="b", join_at=now + timedelta(hours=1))
    late = hook.create_bot("https://zoom.us/j/2", bot_name="b", join_at=now + timedelta(hours=3))
    adhoc = hook.create_bot(MEET, bot_name="b", deduplication_key="adhoc")
    assert {b.id for b in hook.list_bots(states=["scheduled"])} == {early.id, late.id}
    assert {b.id for b in hook.list_bots(states=["scheduled", "joining"])} == {early.id, late.id, adhoc.id}
    assert [b.id for b in hook.list_bots(meeting_url=MEET)] == [adhoc.id]
    assert [b.id for b in hook.list_bots(deduplication_key="adhoc")] == [adhoc.id]
    after = now + timedelta(hours=2)
    assert [b.id for b in hook.list_bots(join_at_after=after)] == [late.id]
    assert [b.id for b in hook.list_bots(join_at_before=after)] == [early.id]
    # Strict bounds, and a "+01:00" time that the hook sends in Z form.
    assert list(hook.list_bots(join_at_after=early.join_at, join_at_before=late.join_at)) == []
    local = (now + timedelta(hours=2)).astimezone(timezone(timedelta(hours=1))).isoformat()
    assert [b.id for b in hook.list_bots(join_at_after=local)] == [late.id]


SPEAKERS = {
    "meetings": [
        {
            "meeting_url": "https://zoom.us/j/555",
            "participants": [
                {
                    "name": "Host",
                    "is_host": True,
                    "presence": [{"join": 0}],
                    "speech": [{"at": 5, "duration": 3, "text": "one"}],
                },
                {"name": "Guest", "presence": [{"join": 10, "leave": 40}, {"join": 60}]},
                {"name": "Late", "presence": [{"join": 100}]},
            ],
            "chat": [{"at": 20, "sender": "Guest", "text": "hi 👋"}],
        }
    ]
}


def test_participants_events_filters_and_chat(attendee_simulator):
    attendee_simulator.admin.add_scenario(SPEAKERS)
    hook = AttendeeHook()
    speech = {"record_participant_speech_start_stop_events": True}
    bot = hook.create_bot("https://zoom.us/j/555", bot_name="b", recording_settings=speech)
    default = hook.create_bot("https://zoom.us/j/555", bot_name="default settings")
    attendee_simulator.admin.advance(5)  # admitted now
    admitted = sim_now(attendee_simulator)
    attendee_simulator.admin.advance(70)
    # As on the real server, only a bot created with the setting records speech events.
    assert [e.event_type for e in hook.list_participant_events(default.id)] == [
        "join",
        "join",
        "leave",
        "join",
    ]
    events = list(hook.list_participant_events(bot.id))
    ordered = sorted(events, key=lambda e: (e.timestamp_ms, e.id))
    assert [(e.participant_name, e.event_type) for e in ordered] == [
        ("Host", "join"),
        ("Host", "speech_start"),
        ("Host", "speech_stop"),
        ("Guest", "join"),
        ("Guest", "leave"),
        ("Guest", "join"),
    ]
    assert ordered[0].timestamp_ms == round(admitted.timestamp() * 1000)
    # after/before filter on when the server stored events, strictly.
    assert list(hook.list_participant_events(bot.id, after=sim_now(attendee_simulator))) == []
    before_guest = list(hook.list_participant_events(bot.id, before=admitted + timedelta(seconds=9)))
    assert {e.participant_name for e in before_guest} == {"Host"}
    people = list(hook.list_participants(bot.id))
    assert [p.name for p in people] == ["Host", "Guest"]  # Late has not joined yet
    assert [p.name for p in hook.list_participants(bot.id, is_host=True)] == ["Host"]
    assert [p.name for p in hook.list_participants(bot.id, is_host=False)] == ["Guest"]
    assert [m.text for m in hook.list_chat_messages(bot.id)] == ["hi 👋"]
    ground_truth = attendee_simulator.admin.bots()
    assert [sorted(b["present"]) for b in ground_truth] == [["Guest", "Host"]] * 2


def test_transcript_updated_after(attendee_simulator):
    attendee_simulator.admin.add_scenario(SPEAKERS)
    hook = AttendeeHook()
    bot = hook.create_bot("https://zoom.us/j/555", bot_name="b")
    attendee_simulator.admin.advance(20)
    (utterance,) = hook.get_transcript(bot.id)
    assert (utterance.speaker_name, utterance.text, utterance.duration_ms) == ("Host", "one", 3000)
    assert hook.get_transcript(bot.id, updated_after=sim_now(attendee_simulator)) == []


def test_recording_is_a_real_wav(attendee_simulator):
    attendee_simulator.admin.add_scenario(
        {
            "meetings": [
                {
                    "meeting_url": "https://zoom.us/j/777",
                    "ends_after_seconds": 600,
                    "participants": [{"name": "A", "presence": [{"join": 0}]}],
                }
            ]
        }
    )
    hook = AttendeeHook()
    bot = hook.create_bot("https://zoom.us/j/777", bot_name="b")
    with pytest.raises(AttendeeNotFoundError, match="No recording file found for bot"):
        hook.get_recording(bot.id)
    attendee_simulator.admin.advance(700)
    recording = hook.get_recording(bot.id)
    audio = httpx.get(recording.url).content
    with wave.open(io.BytesIO(audio)) as wav:
        assert wav.getnchannels() == 1 and wav.getframerate() == 8000
        seconds = wav.getnframes() / wav.getframerate()
    assert seconds == pytest.approx((600 - 1) / 60, abs=0.01)  # one audio second per recorded minute


def test_calendar_events_filters_orderings_and_bots(attendee_simulator):
    admin = attendee_simulator.admin
    cal_a, (e1, e2, e3) = admin.add_calendar(
        deduplication_key="user-a",
        events=[
            {"name": "A1", "meeting_url": MEET, "start_in_minutes": 60, "duration_minutes": 30},
            {"name": "A2", "meeting_url": None, "start_in_minutes": 30, "duration_minutes": 30},
            {
                "name": "A3",
                "meeting_url": "https://zoom.us/j/9",
                "start_in_minutes": 120,
                "duration_minutes": 60,
            },
        ],
    )
    cal_b, (f1,) = admin.add_calendar(
        deduplication_key="user-b", events=[{"name": "B1", "meeting_url": MEET, "start_in_minutes": 10}]
    )
    hook = AttendeeHook()
    now = sim_now(attendee_simulator)
    names = lambda events: [e.name for e in events]  # noqa: E731
    assert names(hook.list_calendar_events(calendar_id=cal_a, ordering="start_time")) == ["A2", "A1", "A3"]
    assert names(hook.list_calendar_events(calendar_deduplication_key="user-b")) == ["B1"]
    assert names(hook.list_calendar_events(ordering="-start_time")) == ["A3", "A1", "A2", "B1"]
    assert names(hook.list_calendar_events(event_id=e3)) == ["A3"]
    window = hook.list_calendar_events(
        start_time_gte=now + timedelta(minutes=30),
        end_time_lte=now + timedelta(minutes=90),
        ordering="start_time",
    )
    assert names(window) == ["A2", "A1"]  # both bounds inclusive
    bot = hook.create_bot(calendar_event_id=e1, bot_name="Notes", deduplication_key=f"cal-{e1}")
    assert bot.state == BotState.SCHEDULED and bot.meeting_url == MEET
    (event,) = hook.list_calendar_events(event_id=e1)
    assert [b.id for b in event.bots] == [bot.id] and event.bots[0].join_at == event.start_time
    admin.advance(minutes=1)
    admin.reschedule_event(e1, start_in_minutes=240)
    moved = hook.get_bot(bot.id)
    assert moved.join_at == next(iter(hook.list_calendar_events(event_id=e1))).start_time
    changed_since = sim_now(attendee_simulator)
    assert names(hook.list_calendar_events(updated_at_gte=changed_since)) == ["A1"]  # inclusive boundary
    admin.cancel_event(e1)
    (cancelled,) = hook.list_calendar_events(event_id=e1)
    assert cancelled.is_deleted and cancelled.bots == []
    with pytest.raises(AttendeeNotFoundError):
        hook.get_bot(bot.id)
    assert bot.id in admin.deleted_bot_ids()
    with pytest.raises(AttendeeInvalidRequestError, match="may not be null"):
        hook.create_bot(calendar_event_id=e2, bot_name="Notes")
    assert [c.deduplication_key for c in hook.list_calendars()] == ["user-b", "user-a"]  # newest first
    assert hook.get_calendar(cal_b).deduplication_key == "user-b"
    assert f1


def test_staged_bot_survives_cancellation(attendee_simulator):
    admin = attendee_simulator.admin
    _, (event_id,) = admin.add_calendar(
        events=[{"name": "Soon", "meeting_url": MEET, "start_in_minutes": 10}]
    )
    hook = AttendeeHook()
    bot = hook.create_bot(calendar_event_id=event_id, bot_name="Notes")
    admin.advance(minutes=6)
    assert hook.get_bot(bot.id).state == BotState.STAGED
    admin.cancel_event(event_id)
    assert hook.get_bot(bot.id).state == BotState.STAGED
    (event,) = hook.list_calendar_events(event_id=event_id)
    assert event.is_deleted and [b.id for b in event.bots] == [bot.id]


@pytest.mark.contract_exempt  # an ordering outside the spec's enum, on purpose
def test_bad_ordering(attendee_simulator):
    headers = {"Authorization": f"Token {attendee_simulator.api_key}"}
    response = httpx.get(f"{attendee_simulator.url}/api/v1/calendar_events?ordering=name", headers=headers)
    assert response.status_code == 400 and response.json()["error"].startswith("Invalid ordering")


@pytest.mark.attendee_simulator(scenario="demo")
def test_bundled_demo_scenario(attendee_simulator):
    hook = AttendeeHook()
    events = list(hook.list_calendar_events(ordering="start_time"))
    assert len(events) == 10
    assert sum(e.meeting_url is None for e in events) == 2
    assert not any(e.is_deleted for e in events)  # the 1:1 is cancelled 3 minutes in
    attendee_simulator.admin.advance(minutes=4)
    events = {e.name: e for e in hook.list_calendar_events()}
    assert events["1:1 Maya / Tom"].is_deleted
    assert events["Design review"].updated_at > events["Design review"].created_at
    meetings = attendee_simulator.simulator.scenario.meetings
    assert len(meetings) == 4 and all(3 <= len(m.participants) <= 8 for m in meetings[:3])
    assert meetings[3].admission == "waiting_room" and meetings[3].admit_after_seconds is None


def test_bound_bots_json_has_no_calendar_event_id_and_a_moved_bot_keeps_its_key(attendee_simulator):
    """As on the real server (BEHAVIOUR.md, "Calendar sync and bound bots"): a bot's JSON has no
    calendar_event_id (the event's ``bots`` list is the link); the calendar sync moves a bound scheduled bot
    with its event and keeps its deduplication key, leaves a staged one where it is, so a key naming the
    first start is still held when the event comes back to that start: 400 "Deduplication key already in
    use"."""
    admin = attendee_simulator.admin
    _, (event_id,) = admin.add_calendar(
        events=[{"name": "Sync", "meeting_url": MEET, "start_in_minutes": 60}]
    )
    api = httpx.Client(
        base_url=f"{attendee_simulator.url}/api/v1",
        headers={"Authorization": f"Token {attendee_simulator.api_key}"},
    )
    key = f"k-{event_id}@first-start"
    created = api.post(
        "/bots", json={"calendar_event_id": event_id, "bot_name": "Notes", "deduplication_key": key}
    )
    assert created.status_code == 201
    bot_id, first_start = created.json()["id"], created.json()["join_at"]
    (event,) = api.get("/calendar_events", params={"event_id": event_id}).json()["results"]
    bodies = [
        created.json(),
        api.get(f"/bots/{bot_id}").json(),
        *api.get("/bots").json()["results"],
        *event["bots"],
    ]
    assert all("calendar_event_id" not in body for body in bodies)
    assert [b["id"] for b in event["bots"]] == [bot_id]

    admin.reschedule_event(event_id, start_in_minutes=30)  # the scheduled bot follows, with its key
    moved = api.get(f"/bots/{bot_id}").json()
    (event,) = api.get("/calendar_events", params={"event_id": event_id}).json()["results"]
    assert moved["join_at"] == event["start_time"] != first_start and moved["deduplication_key"] == key
    admin.advance(minutes=26)  # 4 minutes before its new start: staged, no longer follows
    assert api.get(f"/bots/{bot_id}").json()["state"] == "staged"
    admin.reschedule_event(event_id, start_in_minutes=34)  # back to the first start
    (event,) = api.get("/calendar_events", params={"event_id": event_id}).json()["results"]
    staged = api.get(f"/bots/{bot_id}").json()
    assert event["start_time"] == first_start and staged["join_at"] != first_start
    assert staged["deduplication_key"] == key and [b["id"] for b in event["bots"]] == [bot_id]
    again = api.post(
        "/bots", json={"calendar_event_id": event_id, "bot_name": "Notes", "deduplication_key": key}
    )
    assert again.status_code == 400 and again.json()["error"].startswith("Deduplication key already in use")
    assert [b["id"] for b in api.get("/bots", params={"deduplication_key": key}).json()["results"]] == [
        bot_id
    ]
    api.close()
