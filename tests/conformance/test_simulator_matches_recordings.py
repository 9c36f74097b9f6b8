"""Differential conformance: the simulator, set up as the real server was, answers a recording's requests
as the real server did (status, keys, types, nullability, list order, error bodies word for word).

Each recording's seed steps (what was set up on the real server between requests) are repeated through
the simulator's admin API; the simulator's clock is frozen at the recording's own time so that recorded
request times (join_at, updated_at_gte) mean the same. Deliberate differences are listed, with reasons,
in ``DELIBERATE_DIFFERENCES`` below; any other difference fails the test.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from airflow_provider_attendee.testing import RunningSimulator
from tests.conformance.recordings import DELIBERATE, Exchange, Recording, Replayer, load

pytestmark = pytest.mark.contract_exempt  # the recordings send bad requests on purpose

#: What the simulator answers differently on purpose, and why (also listed in the README).
DELIBERATE_DIFFERENCES = {
    ("*", "$.raw"): "a calendar event's `raw` is the calendar provider's own JSON (Google's event on the "
    "real server); the simulator serves a small placeholder object",
    **{
        ("null_names.json#3", f"$[{i}].transcription"): "seeded through the ORM with `words: null`; a live "
        'closed-caption utterance is stored as `{"transcript": ...}` only (bot_controller.py), as '
        "speech_events_off.json shows and the simulator serves"
        for i in (0, 1)
    },
    ("speech_events_off.json#6", "$.results:order"): "seeded through the ORM: all joins and leaves first, "
    "then the speech events; a live bot (and the simulator) stores each event as it happens",
}
DELIBERATE.update(DELIBERATE_DIFFERENCES)

#: Seed actions of the recordings, as simulator bot events.
ADVANCE_TO_EVENT = {
    "staged": "staged",
    "joining": "join_requested",
    "post_processing": "left_meeting",
    "ended": "post_processing_completed",
    "fatal_error": "could_not_join_meeting",
}
SERVER_EVENT_NAMES = {
    "BOT_PUT_IN_WAITING_ROOM": "put_in_waiting_room",
    "BOT_JOINED_MEETING": "joined_meeting",
    "BOT_RECORDING_PERMISSION_GRANTED": "recording_permission_granted",
    "COULD_NOT_JOIN": "could_not_join_meeting",
}
EVENT_LEADS_TO = {
    "staged": "staged",
    "join_requested": "joining",
    "put_in_waiting_room": "waiting_room",
    "joined_meeting": "joined_not_recording",
    "recording_permission_granted": "joined_recording",
    "left_meeting": "post_processing",
    "post_processing_completed": "ended",
    "could_not_join_meeting": "fatal_error",
}
BOT_ACTION = re.compile(r"(advance_bot|fire_event)\('(\w+)', '(\w+)'(?:, sub_type=(\w+))?\)")


def assert_same(differences: list[str]) -> None:
    assert not differences, "The simulator differs from the real server:\n" + "\n".join(differences)


def at(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


class Setup:
    """One recording's world on the simulator: clock, seed steps, and the replayer."""

    def __init__(self, sim: RunningSimulator, recording: Recording, origin: str, **reset: Any) -> None:
        self.sim, self.recording = sim, recording
        sim.admin.reset(time_scale=0.0, origin=origin, **reset)
        self.client = httpx.Client(
            base_url=sim.url, headers={"Authorization": f"Token {sim.api_key}"}, timeout=10
        )
        self.replayer = Replayer(self.client)

    def advance_to(self, moment: datetime) -> None:
        now = at(self.sim.admin.now())
        if moment > now:
            self.sim.admin.advance((moment - now).total_seconds())

    def bot_action(self, step: dict[str, Any]) -> bool:
        """Repeat an ``advance_bot`` / ``fire_event`` seed step; False when the step is something else."""
        match = BOT_ACTION.search(step["action"])
        if match is None:
            return False
        kind, bot, what, sub_type = match.groups()
        event = ADVANCE_TO_EVENT[what] if kind == "advance_bot" else SERVER_EVENT_NAMES[what]
        sub = {"COULD_NOT_JOIN_MEETING_WAITING_ROOM_TIMEOUT_EXCEEDED": "waiting_room_timeout_exceeded"}
        bot_id = self.replayer.ids[bot]
        # The simulator's scheduler may have got there already (a bot scheduled to join within 5 minutes
        # is staged at once); the real server's scheduler did the same a moment later.
        if self.client.get(f"/api/v1/bots/{bot_id}").json()["state"] != EVENT_LEADS_TO[event]:
            self.sim.admin.fire_event(bot_id, event, sub.get(sub_type or ""))
        return True

    def create_bot(self, recorded_id: str, **body: Any) -> str:
        response = self.client.post("/api/v1/bots", json=body)
        assert response.status_code == 201, response.text
        self.replayer.learn(recorded_id, response.json()["id"])
        return str(response.json()["id"])

    def run(
        self,
        seed: Callable[[dict[str, Any]], None] | None = None,
        headers_for: Callable[[Exchange], dict[str, str] | None] = lambda e: None,
    ) -> list[str]:
        def default_seed(step: dict[str, Any]) -> None:
            if not self.bot_action(step):
                raise AssertionError(f"{self.recording.name}: no simulator set-up for {step['action']!r}")

        self.replayer.replay(self.recording, seed or default_seed, headers_for)
        self.client.close()
        if not self.replayer.differences:  # every exchange was compared, not skipped
            assert self.replayer.exchanges_compared == len(self.recording.exchanges)
        return self.replayer.differences


def test_lifecycle(attendee_simulator):
    recording = load("lifecycle.json")
    differences = Setup(attendee_simulator, recording, "2026-11-23T12:49:13Z").run()
    assert_same(differences)


def test_errors(attendee_simulator):
    recording = load("errors.json")
    setup = Setup(attendee_simulator, recording, "2026-11-23T12:50:44Z")

    def headers_for(exchange: Exchange) -> dict[str, str] | None:
        # Exchange 0 had no Authorization header, exchange 1 an unknown key (README of the recordings).
        if exchange.index == 0:
            return {"Authorization": ""}
        if exchange.index == 1:
            return {"Authorization": "Token not-a-real-api-key-000000000"}
        return None

    assert_same(setup.run(headers_for=headers_for))


def test_url_normalisation(attendee_simulator):
    recording = load("url_normalisation.json")
    # The recording's project has no Zoom App credentials.
    differences = Setup(attendee_simulator, recording, "2026-11-23T19:00:00Z", zoom_credentials=False).run()
    assert_same(differences)


def calendar_events_from(times: dict[str, dict[str, str]], names: dict[str, str], origin: datetime) -> list:
    return [
        {
            "id": event_id,
            "start_in_minutes": (at(t["start_time"]) - origin).total_seconds() / 60,
            "duration_minutes": (at(t["end_time"]) - at(t["start_time"])).total_seconds() / 60,
            **names[event_id],
        }
        for event_id, t in times.items()
    ]


def test_calendar(attendee_simulator):
    recording = load("calendar.json")
    origin = at("2026-11-23T12:50:07.732Z")
    setup = Setup(attendee_simulator, recording, origin.isoformat())
    ids = recording.seed_steps[0]["result"]["ids"]
    urls = {
        "A": "https://meet.google.com/pqr-stuv-wxy",
        "B": "https://us02web.zoom.us/j/81234567890?pwd=Q2FsZW5kYXJab29tMTIz",
        "C": "https://teams.microsoft.com/l/meetup-join/19%3ameeting_CAL%40thread.v2/0?context=%7b%22Tid%22%3a%22t%22%2c%22Oid%22%3a%22o%22%7d",
        "D": None,
        "E": "https://meet.google.com/can-celd-mtg",
        "F": "https://meet.google.com/pas-tmee-tng",
    }
    specs = {ids[k]: {"name": f"Event {k}", "meeting_url": url} for k, url in urls.items()}
    specs[ids["E"]]["cancel_after_minutes"] = 0

    def seed(step: dict[str, Any]) -> None:
        action = step["action"]
        if action.startswith("add_calendar_event"):
            calendar_id = setup.replayer.ids["cal_fXs2OC0JTcssQsKP"]
            for spec in calendar_events_from(step["result"]["times"], specs, origin):
                setup.sim.admin.add_event(calendar_id, **spec)
        elif action.startswith("mark_calendar_event_deleted"):
            event_id = re.search(r"'(evt_\w+)'", action).group(1)
            setup.sim.admin.cancel_event(event_id, sync_bots="run_sync=True" in action)
        else:
            assert setup.bot_action(step), action

    assert_same(setup.run(seed))


def test_calendar_changes(attendee_simulator):
    recording = load("calendar_changes.json")
    first = recording.seed_steps[0]["result"]
    origin = at("2026-11-23T19:17:39.6Z")
    setup = Setup(attendee_simulator, recording, origin.isoformat())
    names = {"A": "Pipeline review", "B": "Customer onboarding", "C": "Vendor call", "D": "Partner sync"}
    events = first["events"]

    def seed(step: dict[str, Any]) -> None:
        action = step["action"]
        if step["before_exchange"] == 0:
            specs = [
                {
                    "id": events[k]["id"],
                    "name": names[k],
                    "meeting_url": events[k]["meeting_url"],
                    "start_in_minutes": (at(events[k]["start_time"]) - origin).total_seconds() / 60,
                    "duration_minutes": {"A": 30, "B": 45, "C": 30, "D": 60}[k],
                }
                for k in "ABCD"
            ]
            calendar = setup.sim.admin.add_calendar(
                id=first["calendar_id"],
                deduplication_key=first["deduplication_key"],
                metadata={"owner": "maya", "probe": "calendar_changes"},
                events=specs,
            )
            assert calendar[0] == first["calendar_id"]
            return
        query_time = at(re.search(r"updated_at_gte = (\S+Z)", action).group(1))
        setup.advance_to(query_time + timedelta(milliseconds=5))
        if "(a)" in action:
            start = at(events["A"]["start_time"]) + timedelta(hours=2)
            minutes = (start - at(setup.sim.admin.now())).total_seconds() / 60
            setup.sim.admin.reschedule_event(events["A"]["id"], minutes, 30)
        elif "(b)" in action:
            setup.sim.admin.change_event(
                events["B"]["id"], meeting_url="https://meet.google.com/cal-newb-bbb"
            )
        elif "(c)" in action or "(d)" in action:  # cancelled, or vanished: the server flags both is_deleted
            setup.sim.admin.cancel_event(events["C" if "(c)" in action else "D"]["id"])
        else:
            raise AssertionError(action)

    assert_same(setup.run(seed))


def test_null_names(attendee_simulator):
    recording = load("null_names.json")
    seeded = recording.seed_steps[0]["result"]
    start = at(seeded["T"])
    setup = Setup(attendee_simulator, recording, (start - timedelta(seconds=15)).isoformat())
    url = recording.exchanges[0].response_body["meeting_url"]
    setup.sim.admin.add_scenario(
        {
            "meetings": [
                {
                    "meeting_url": url,
                    "join_delay_seconds": 15,
                    "ends_after_seconds": 601,
                    "participants": [
                        {
                            "name": "Dana Lee",
                            "uuid": "nn-dana",
                            "user_uuid": "u-dana",
                            "is_host": True,
                            "presence": [{"join": 0, "leave": 600}],
                            "speech": [{"at": 10, "duration": 30, "text": "Welcome everyone"}],
                        },
                        {
                            "name": None,
                            "uuid": "nn-anon",
                            "presence": [{"join": 30, "leave": 300}],
                            "speech": [{"at": 60, "duration": 30, "text": "Yes, joining as a guest."}],
                        },
                        {"name": "", "uuid": "nn-blank", "presence": [{"join": 200, "leave": 400}]},
                    ],
                    "chat": [
                        {"at": 100, "sender": "nn-anon", "text": "Could you share the deck?"},
                        {"at": 120, "sender": "Dana Lee", "text": "Sure - link coming."},
                        {"at": 130, "sender": "nn-anon", "text": "thanks", "to": "only_bot"},
                    ],
                }
            ]
        }
    )

    def seed(step: dict[str, Any]) -> None:
        setup.create_bot(  # its seeded events include speech events: a bot that asked for them
            seeded["bot_id"],
            meeting_url=url,
            bot_name="Notetaker",
            metadata={"seed": "null-names"},
            recording_settings={"record_participant_speech_start_stop_events": True},
        )
        setup.advance_to(start + timedelta(seconds=700))

    assert_same(setup.run(seed))


def test_no_recording(attendee_simulator):
    recording = load("no_recording.json")
    seeded = recording.seed_steps[0]["result"]
    start = at(seeded["T"])
    setup = Setup(attendee_simulator, recording, (start - timedelta(seconds=10)).isoformat())
    # Nobody else in the meeting; it ends 300 s after the bot was admitted (at T).
    meeting = {"join_delay_seconds": 10, "ends_after_seconds": 300, "participants": []}
    setup.sim.admin.add_scenario(
        {"meetings": [{"meeting_url": "https://meet.google.com/nor-ecor-ding", **meeting}]}
    )

    def seed(step: dict[str, Any]) -> None:
        ended = setup.create_bot(
            seeded["ended_bot"],
            meeting_url="https://meet.google.com/nor-ecor-ding",
            bot_name="No recording",
            metadata={"kind": "ended", "seed": "no-recording"},
        )
        scheduled = setup.create_bot(
            seeded["scheduled_bot"],
            meeting_url="https://meet.google.com/nor-ecsc-hed",
            bot_name="No recording",
            join_at=seeded["scheduled_join_at"],
            metadata={"kind": "scheduled", "seed": "no-recording"},
        )
        for bot in (ended, scheduled):
            setup.sim.admin.no_recording(bot)
        setup.advance_to(start + timedelta(seconds=400))

    assert_same(setup.run(seed))


SPEECH_OFF = load("speech_events_off.json")
#: The recording's meeting (seconds after the bot joined at T), from its description.
SPEECH_OFF_PEOPLE = [
    {
        "name": "Maria Santos",
        "uuid": "so-maria",
        "user_uuid": "u-maria",
        "is_host": True,
        "presence": [{"join": 2, "leave": 900}],
        "speech": [
            {"at": 20, "duration": 12, "text": "Good morning, let's review the launch checklist."},
            {"at": 120, "duration": 8, "text": "Great. Any blockers on the rollout?"},
        ],
    },
    {
        "name": "Kenji Watanabe",
        "uuid": "so-kenji",
        "user_uuid": "u-kenji",
        "presence": [{"join": 40, "leave": 880}],
        "speech": [
            {
                "at": 60,
                "duration": 30.5,
                "text": "The migration finished overnight and all checks are green.",
            },
            {"at": 700, "duration": 20, "text": "I will send the runbook after the call."},
        ],
    },
    {
        "name": None,
        "uuid": "so-guest",
        "presence": [{"join": 300, "leave": 600}],
        "speech": [
            {"at": 320, "duration": 15, "text": "Joining from the partner side, we are ready on our end."}
        ],
    },
]


def test_speech_events_off(attendee_simulator):
    """Two bots in the same meeting on a server without recording storage: default settings (no speech
    events, transcript only), and speech events on with format "none" (no file by design)."""
    start = at("2026-12-01T15:00:00Z")
    setup = Setup(
        attendee_simulator, SPEECH_OFF, (start - timedelta(seconds=30)).isoformat(), recording_storage=False
    )
    default_bot, speech_bot = (SPEECH_OFF.exchanges[i].response_body for i in (0, 5))
    setup.sim.admin.add_scenario(
        {
            "meetings": [
                {
                    "meeting_url": bot["meeting_url"],
                    "join_delay_seconds": 30,
                    "participants": SPEECH_OFF_PEOPLE,
                }
                for bot in (default_bot, speech_bot)
            ]
        }
    )
    created: list[str] = []

    def seed(step: dict[str, Any]) -> None:
        if created:
            return  # both steps are one set-up: the bots, then their meeting
        created.append(
            setup.create_bot(default_bot["id"], meeting_url=default_bot["meeting_url"], bot_name="Bot")
        )
        created.append(
            setup.create_bot(
                speech_bot["id"],
                meeting_url=speech_bot["meeting_url"],
                bot_name="Bot",
                recording_settings={"record_participant_speech_start_stop_events": True, "format": "none"},
            )
        )
        setup.advance_to(start + timedelta(seconds=905))
        for bot_id in created:
            assert setup.client.post(f"/api/v1/bots/{bot_id}/leave").status_code == 200
        setup.advance_to(start + timedelta(seconds=1000))

    assert_same(setup.run(seed))

    # The replayer ignores listed items the recording does not have: check that none was invented (a
    # default bot records no speech events), per bot, exactly.
    def kinds(events: list[dict[str, Any]]) -> list[tuple[str, str, int]]:
        return sorted((e["participant_uuid"], e["event_type"], e["timestamp_ms"]) for e in events)

    auth = {"Authorization": f"Token {attendee_simulator.api_key}"}
    with httpx.Client(base_url=attendee_simulator.url, headers=auth) as client:
        for recorded, bot_id in zip((1, 6), created, strict=True):
            listed = client.get(f"/api/v1/bots/{bot_id}/participant_events").json()["results"]
            assert kinds(listed) == kinds(SPEECH_OFF.exchanges[recorded].response_body["results"])


def test_the_replayer_sees_a_difference(attendee_simulator):
    """The comparison can fail: a recording altered in each compared aspect is caught."""
    recording = load("lifecycle.json")
    body = recording.exchanges[1].response_body
    body["transcription_state"] = None  # nullability
    body["new_key"] = 1  # keys
    recording.exchanges[2].response_body["state"] = 5  # type
    recording.exchanges[16].response_body = {"error": "No recording found"}  # error text
    recording.exchanges[21].status = 200  # status
    setup = Setup(attendee_simulator, recording, "2026-11-23T12:49:13Z")
    differences = setup.run()
    assert [d.split(":")[0].split(" ")[0] for d in differences] == [
        "lifecycle.json#1",
        "lifecycle.json#1",
        "lifecycle.json#2",
        "lifecycle.json#16",
        "lifecycle.json#21",
    ], differences
    assert setup.replayer.values_compared > 200
