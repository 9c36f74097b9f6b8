"""Every answer the real Attendee server gave in the recordings parses with the provider's models and goes
through the code that consumes it: the hook, the report, transcript formats, presence counting, calendar
planning, the transcript and report operators and the participant-count sensor."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import respx

from airflow_provider_attendee.client.models import (
    Bot,
    Calendar,
    CalendarEvent,
    ChatMessage,
    Participant,
    ParticipantEvent,
    Recording,
    TranscriptUtterance,
)
from airflow_provider_attendee.exceptions import AttendeeNotFoundError, AttendeeRecordingMissingError
from airflow_provider_attendee.hooks.attendee import AttendeeHook
from airflow_provider_attendee.meetings.calendar_plan import Selection, plan
from airflow_provider_attendee.meetings.presence import PresenceTracker
from airflow_provider_attendee.meetings.report import ReportBuilder
from airflow_provider_attendee.meetings.transcript_formats import FORMATS, records, render
from airflow_provider_attendee.operators.outputs import (
    AttendeeParticipantReportOperator,
    AttendeeRecordingOperator,
    AttendeeTranscriptOperator,
    meeting_window_ms,
)
from airflow_provider_attendee.sensors.attendee import AttendeeParticipantCountSensor
from tests.conformance.recordings import all_names, load
from tests.operators.conftest import FakeTaskInstance
from tests.unit.conftest import API, conn_json

#: Which model reads the answer of each API path.
MODELS: list[tuple[re.Pattern[str], type]] = [
    (re.compile(r"/bots/[^/]+/participant_events$"), ParticipantEvent),
    (re.compile(r"/bots/[^/]+/participants$"), Participant),
    (re.compile(r"/bots/[^/]+/transcript$"), TranscriptUtterance),
    (re.compile(r"/bots/[^/]+/chat_messages$"), ChatMessage),
    (re.compile(r"/bots/[^/]+/recording$"), Recording),
    (re.compile(r"/bots(/[^/]+(/leave|/delete_data)?)?$"), Bot),
    (re.compile(r"/calendar_events$"), CalendarEvent),
    (re.compile(r"/calendars(/[^/]+)?$"), Calendar),
]


def model_for(path: str) -> type:
    for pattern, model in MODELS:
        if pattern.search(path):
            return model
    raise AssertionError(f"no model for {path}")


def recorded_answers() -> list[tuple[str, Any]]:
    return [
        (f"{name}#{e.index} {e.method} {e.path}", e) for name in all_names() for e in load(name).responses()
    ]


@pytest.mark.parametrize(("where", "exchange"), recorded_answers(), ids=[w for w, _ in recorded_answers()])
def test_every_recorded_answer_parses(where, exchange):
    model = model_for(exchange.path)
    body = exchange.response_body
    items = body["results"] if isinstance(body, dict) and "results" in body else body
    items = items if isinstance(items, list) else [items]
    parsed = [model.model_validate(item) for item in items]
    assert len(parsed) == len(items)
    for item in parsed:  # every field the server sent is kept, none invented
        assert set(item.model_dump(exclude_unset=True)) == set(items[parsed.index(item)]), where


def test_all_recordings_are_covered():
    assert len(recorded_answers()) >= 100
    assert set(all_names()) == {
        "calendar.json",
        "calendar_changes.json",
        "errors.json",
        "lifecycle.json",
        "no_recording.json",
        "null_names.json",
        "speech_events_off.json",
        "url_normalisation.json",
    }


@pytest.fixture
def replay_api(monkeypatch: pytest.MonkeyPatch):
    """The hook's connection points at a mocked API that answers with recorded responses."""
    monkeypatch.setenv("AIRFLOW_CONN_ATTENDEE_DEFAULT", conn_json())
    with respx.mock(base_url=API, assert_all_called=False) as api:
        yield api


def serve(api: respx.MockRouter, name: str, *, rewrite: Any = None) -> None:
    """Answer each recorded GET path with its recorded response (the last one of that path wins)."""
    for exchange in load(name).exchanges:
        if exchange.method == "GET":
            path = exchange.path.removeprefix("/api/v1")
            body = rewrite(path, exchange.response_body) if rewrite else exchange.response_body
            api.get(path, params=exchange.query).respond(exchange.status, json=body)


NULL_NAMES = load("null_names.json")
BOT_ID = NULL_NAMES.seed_steps[0]["result"]["bot_id"]
T_MS = NULL_NAMES.seed_steps[0]["result"]["T_ms"]


def test_null_names_through_the_hook_and_the_report(replay_api):
    serve(replay_api, "null_names.json")
    hook = AttendeeHook()
    events = list(hook.list_participant_events(BOT_ID))
    people = list(hook.list_participants(BOT_ID))
    transcript = hook.get_transcript(BOT_ID)
    chat = list(hook.list_chat_messages(BOT_ID))
    assert [p.name for p in people] == ["Dana Lee", None, ""]
    assert [p.display_name for p in people] == [
        "Dana Lee",
        "Unnamed participant (uuid nn-anon)",
        "Unnamed participant (uuid nn-blank)",
    ]
    assert transcript[1].speaker_name is None and chat[0].sender_name is None
    # The description's ground truth: presence and speaking seconds, and a 600 s meeting.
    start, end = meeting_window_ms(hook.get_bot(BOT_ID))
    assert (start, end) == (T_MS, T_MS + 600_000)
    builder = ReportBuilder(start, end)
    builder.add_all(events)
    report = builder.finish()
    assert report.duration_seconds == 600
    by_uuid = {p.uuid: p for p in report.participants}
    assert {u: p.present_seconds for u, p in by_uuid.items()} == {
        "nn-dana": 600,
        "nn-anon": 270,
        "nn-blank": 200,
    }
    assert {u: p.speaking_seconds for u, p in by_uuid.items()} == {
        "nn-dana": 30,
        "nn-anon": 30,
        "nn-blank": 0,
    }
    assert by_uuid["nn-anon"].name == "Unnamed participant (uuid nn-anon)"
    for kind in FORMATS:
        text = render(kind, records(transcript, start))
        assert "Unnamed participant (uuid nn-anon)" in text or kind == "json"
    assert json.loads(render("json", records(transcript, start)))[1]["speaker_name"] is None


def test_null_names_through_the_operators(replay_api, tmp_path):
    serve(replay_api, "null_names.json")
    # Not in this recording: the real server's answer for a bot whose file is gone (lifecycle.json #16).
    replay_api.get(f"/bots/{BOT_ID}/recording").respond(
        404, json={"error": "No recording file found for bot"}
    )
    ti = FakeTaskInstance()
    transcript = AttendeeTranscriptOperator(
        task_id="t", bot_id=BOT_ID, destination=str(tmp_path), formats=FORMATS
    ).execute({"ti": ti})
    assert transcript["speakers"] == ["Dana Lee", "Unnamed participant (uuid nn-anon)"]
    with open(transcript["paths"]["txt"].removeprefix("file://")) as text:
        assert "Unnamed participant (uuid nn-anon): Yes" in text.read()
    report = AttendeeParticipantReportOperator(
        task_id="r", bot_id=BOT_ID, destination=str(tmp_path), chart=False
    ).execute({"ti": ti})
    assert report["headline"]["participants"] == 3 and report["headline"]["duration_seconds"] == 600
    with open(report["paths"]["markdown"].removeprefix("file://")) as markdown:
        assert "Unnamed participant (uuid nn-anon)" in markdown.read()


def test_null_names_through_the_participant_count_sensor(replay_api):
    """Mid-meeting (the recorded events up to T+250 s, the bot still recording): three people present,
    two of them without a name (null, and an empty string)."""

    def mid_meeting(path: str, body: Any) -> Any:
        if path.endswith("/participant_events"):
            early = [e for e in body["results"] if e["timestamp_ms"] <= T_MS + 250_000]
            return {**body, "results": early}
        if path == f"/bots/{BOT_ID}":
            return {**body, "state": "joined_recording"}
        return body

    serve(replay_api, "null_names.json", rewrite=mid_meeting)
    sensor = AttendeeParticipantCountSensor(task_id="count", bot_id=BOT_ID, threshold=3, deferrable=False)
    assert sensor.poke({"ti": FakeTaskInstance()})
    tracker = PresenceTracker()
    tracker.apply(AttendeeHook().list_participant_events(BOT_ID))
    assert tracker.present_names == [
        "Dana Lee",
        "Unnamed participant (uuid nn-anon)",
        "Unnamed participant (uuid nn-blank)",
    ]


def test_bots_without_a_recording(replay_api):
    serve(replay_api, "no_recording.json")
    hook = AttendeeHook()
    ended = hook.get_bot("bot_ykqZQNfLH62KZOQ2")
    assert ended.transcription_state is None and ended.recording_state is None and ended.is_terminal
    listed = {b.id: b for b in hook.list_bots(states="ended")}
    assert listed["bot_ykqZQNfLH62KZOQ2"].recording_state is None


def test_calendar_planning_on_recorded_events():
    """The recorded calendar after its sync: cancelled A (bots deleted), staged bot on cancelled B, C with
    no bot, D without a link, E cancelled with a bot, F in the past."""
    recording = load("calendar.json")
    events = [CalendarEvent.model_validate(e) for e in recording.exchanges[30].response_body["results"]]
    ids = recording.seed_steps[0]["result"]["ids"]
    actions = plan(events, Selection())
    assert [e.id for e in actions.create] == [ids["F"], ids["C"]]  # F: the server will refuse (in the past)
    assert [(e.id, bot.id) for e, bot, _ in actions.delete] == [(ids["E"], "bot_6EQhX9PQAO0wO1jl")]
    assert "staged" in actions.unremovable[ids["B"]] and actions.skipped[ids["D"]] == "no meeting URL"


SPEECH_OFF = load("speech_events_off.json")
T_SPEECH_OFF = 1796137200000  # the description's T: both bots joined then
#: Its description's ground truth, the same for both bots.
PRESENT = {"so-maria": 898, "so-kenji": 840, "so-guest": 300}
SPOKE = {"so-maria": 20, "so-kenji": 50.5, "so-guest": 15}
TURNS = {"so-maria": 2, "so-kenji": 2, "so-guest": 1}
#: Default settings (no speech events: the transcript), and speech events on (the one rule: speech events).
SPEECH_OFF_BOTS = {"bot_5eXapoDUutcop8lQ": "transcript", "bot_VKTNgTutHWF6PKg3": "speech_events"}


@pytest.mark.parametrize(("bot_id", "source"), SPEECH_OFF_BOTS.items())
def test_speech_events_off_through_the_hook_and_the_report(replay_api, bot_id, source):
    serve(replay_api, "speech_events_off.json")
    hook = AttendeeHook()
    events = list(hook.list_participant_events(bot_id))
    assert any(e.event_type == "speech_start" for e in events) == (source == "speech_events")
    start, end = meeting_window_ms(hook.get_bot(bot_id))
    assert (start, end) == (T_SPEECH_OFF, T_SPEECH_OFF + 906_000)  # joined_meeting to left_meeting
    builder = ReportBuilder(start, end).add_all(events)
    report = builder.add_utterances(hook.get_transcript(bot_id)).finish()
    by_uuid = {p.uuid: p for p in report.participants}
    assert {u: p.present_seconds for u, p in by_uuid.items()} == PRESENT
    assert {u: p.speaking_seconds for u, p in by_uuid.items()} == SPOKE
    assert {u: p.speaking_turns for u, p in by_uuid.items()} == TURNS
    assert report.duration_seconds == 906 and report.speaking_source == source
    assert report.headline()["top_speaker"] == "Kenji Watanabe"
    assert round(by_uuid["so-kenji"].talk_share, 4) == round(50.5 / 85.5, 4)
    with pytest.raises(AttendeeRecordingMissingError, match="No recording file found for bot"):
        hook.get_recording(bot_id)


@pytest.mark.parametrize(("bot_id", "source"), SPEECH_OFF_BOTS.items())
def test_speech_events_off_through_the_operators(replay_api, tmp_path, bot_id, source):
    serve(replay_api, "speech_events_off.json")
    ti = FakeTaskInstance()
    report = AttendeeParticipantReportOperator(
        task_id="r", bot_id=bot_id, destination=str(tmp_path), chart=False
    ).execute({"ti": ti})
    assert report["headline"]["speaking_source"] == source
    assert report["headline"]["total_speaking_seconds"] == 85.5
    with open(report["paths"]["json"].removeprefix("file://")) as json_file:
        written = json.load(json_file)
    assert {p["uuid"]: p["speaking_seconds"] for p in written["participants"]} == SPOKE
    assert {p["uuid"]: p["present_seconds"] for p in written["participants"]} == PRESENT
    assert {p["uuid"]: p["speaking_turns"] for p in written["participants"]} == TURNS
    assert written["speaking_source"] == source and bool(written["notes"]) == (source == "transcript")
    with open(report["paths"]["csv"].removeprefix("file://")) as csv_file:
        assert {line.rsplit(",", 1)[-1] for line in csv_file.read().splitlines()[1:]} == {source}
    # Only the default bot needed the transcript: speech events win when both exist.
    read = [c for c in replay_api.calls if c.request.url.path.endswith("/transcript")]
    assert len(read) == (source == "transcript")
    transcript = AttendeeTranscriptOperator(
        task_id="t", bot_id=bot_id, destination=str(tmp_path), formats=["json", "txt"]
    ).execute({"ti": ti})
    with open(transcript["paths"]["txt"].removeprefix("file://")) as text:
        lines = text.read().splitlines()
    # No recording file: offsets from the bot's join (Maria spoke 20 s after it), not the first utterance.
    assert lines[0] == "[00:00:20] Maria Santos: Good morning, let's review the launch checklist."
    assert lines[-1].startswith("[00:11:40] Kenji Watanabe:")
    skipped = AttendeeRecordingOperator(
        task_id="rec", bot_id=bot_id, destination=str(tmp_path), if_missing="skip"
    ).execute({"ti": ti})
    assert skipped == {
        "bot_id": bot_id,
        "path": None,
        "bytes": 0,
        "missing": "No recording file found for bot",
    }
    with pytest.raises(AttendeeRecordingMissingError) as failed:
        AttendeeRecordingOperator(task_id="rec", bot_id=bot_id, destination=str(tmp_path)).execute({"ti": ti})
    assert 'recording_settings.format "none"' in str(failed.value)
    assert "Check the id" not in str(failed.value)
    assert isinstance(failed.value, AttendeeNotFoundError)
