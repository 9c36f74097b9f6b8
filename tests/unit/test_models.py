"""Models parse the spec's examples and the seed pages, tolerate new fields and real-server nulls."""

from __future__ import annotations

import json
from datetime import timezone
from pathlib import Path
from typing import Any

import pytest
import yaml

from airflow_provider_attendee.client import states
from airflow_provider_attendee.client.models import (
    Bot,
    BotState,
    Calendar,
    CalendarEvent,
    ParticipantEvent,
    Recording,
)
from airflow_provider_attendee.exceptions import AttendeeConfigurationError

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "attendee"
SPEC = yaml.safe_load((FIXTURES / "openapi.yml").read_text())
SCHEMA_MODELS = {"Bot": Bot, "Calendar": Calendar, "CalendarEvent": CalendarEvent, "Recording": Recording}


def spec_examples() -> list[tuple[str, Any]]:
    """Every response example in openapi.yml, with the schema it illustrates."""
    found = []
    for path, operations in SPEC["paths"].items():
        for method, operation in operations.items():
            for status, response in operation.get("responses", {}).items():
                content = response.get("content", {}).get("application/json", {})
                ref = content.get("schema", {}).get("$ref", "").rsplit("/", 1)[-1]
                for name, example in content.get("examples", {}).items():
                    found.append((f"{method.upper()} {path} {status} {name}", (ref, example["value"])))
    return found


@pytest.mark.parametrize(("where", "example"), spec_examples(), ids=[w for w, _ in spec_examples()])
def test_spec_examples_parse(where, example):
    ref, value = example
    if ref.startswith("Paginated"):
        model = SCHEMA_MODELS[ref.removeprefix("Paginated").removesuffix("List")]
        parsed = [model.model_validate(item) for item in value["results"]]
        assert parsed
        if model is CalendarEvent:
            event = parsed[0]
            assert event.bots[0].state == BotState.JOINED_RECORDING
            assert event.attendees[0].email == "user1@example.com"
    elif ref in SCHEMA_MODELS:
        assert SCHEMA_MODELS[ref].model_validate(value).model_dump()


def test_spec_has_examples_for_bots_calendars_and_recordings():
    refs = {ref for _, (ref, _) in spec_examples()}
    assert {"Bot", "Calendar", "Recording", "PaginatedCalendarEventList"} <= refs


def seed_json_blocks() -> list[tuple[str, Any]]:
    """The largest JSON object found in each seed page."""
    blocks = []
    decoder = json.JSONDecoder()
    for path in sorted((FIXTURES / "seeds").glob("*.txt")):
        text = path.read_text()
        best: Any = None
        for index, char in enumerate(text):
            if char == "{":
                try:
                    value, end = decoder.raw_decode(text, index)
                except ValueError:
                    continue
                if best is None or end - index > best[1]:
                    best = (value, end - index)
        if best is not None and isinstance(best[0], dict) and "results" in best[0]:
            blocks.append((path.name, best[0]))
    return blocks


@pytest.mark.parametrize(("name", "block"), seed_json_blocks(), ids=[n for n, _ in seed_json_blocks()])
def test_seed_pages_parse(name, block):
    item = block["results"][0]
    if not item:
        # The participant_events page shows a placeholder: its fields sit beside "results". They must be
        # exactly the ParticipantEvent fields (values are "<string>"-style placeholders, not data).
        fields = set(block) - {"next", "previous", "results"}
        assert fields == set(ParticipantEvent.model_fields), name
        return
    model = CalendarEvent if "calendar_id" in item else Bot
    parsed = model.model_validate(item)
    assert parsed.id


def test_seed_pages_found():
    assert len(seed_json_blocks()) >= 2


def test_bot_tolerates_nulls_and_new_fields():
    bot = Bot.model_validate(
        {
            "id": "bot_1",
            "meeting_url": "https://zoom.us/j/1",
            "state": "ended",
            "events": [
                {"type": "leave_requested", "sub_type": "user_requested", "created_at": "2025-01-18T12:34:56"}
            ],
            "transcription_state": "complete",
            "recording_state": "failed",
            "join_at": None,
            "metadata": None,
            "deduplication_key": None,
            "brand_new_field": {"x": 1},
        }
    )
    assert bot.events[0].created_at.tzinfo == timezone.utc
    assert bot.model_extra == {"brand_new_field": {"x": 1}}
    assert bot.is_terminal and not bot.is_in_meeting
    assert bot.last_event is not None and bot.last_event.sub_type == "user_requested"


def test_participant_event_keeps_unknown_types_and_exact_ms():
    event = ParticipantEvent.model_validate(
        {
            "id": "pe_1",
            "participant_name": "Zoë 🎉",
            "participant_uuid": "u",
            "participant_user_uuid": None,
            "participant_is_host": False,
            "event_type": "hand_raised",
            "event_data": None,
            "timestamp_ms": 1733114771999,
        }
    )
    assert event.event_type == "hand_raised" and event.timestamp_ms == 1733114771999


def test_state_sets():
    assert len(BotState) == 19 and [s.value for s in BotState] == list(states.BOT_STATES)
    assert {"ended", "fatal_error", "data_deleted"} == states.TERMINAL
    assert {"ready", "scheduled", "staged"} == states.PRE_JOIN
    assert BotState.WAITING_ROOM in states.IN_MEETING and BotState.LEAVING not in states.IN_MEETING
    assert BotState.parse(" Joined_Recording ") == BotState.JOINED_RECORDING
    with pytest.raises(AttendeeConfigurationError, match="Valid states are: ready, joining"):
        BotState.parse("recording")
    assert str(BotState.ENDED) == "ended"


def test_unknown_states_event_codes_and_null_states_are_kept():
    """A newer server's values never break parsing: kept as plain strings (and null where served)."""
    bot = Bot.model_validate(
        {
            "id": "bot_1",
            "meeting_url": "https://meet.google.com/abc-defg-hij",
            "state": "joined_hologram",
            "events": [
                {"type": "teleported", "sub_type": "quantum_tunnel", "created_at": "2026-01-01T00:00:00Z"}
            ],
            "transcription_state": "summarising",
            "recording_state": None,
        }
    )
    assert bot.state == "joined_hologram" and not bot.is_terminal and not bot.is_in_meeting
    assert bot.events[0].type == "teleported" and bot.events[0].sub_type == "quantum_tunnel"
    assert bot.transcription_state == "summarising" and bot.recording_state is None


def test_unnamed_participants_parse_and_get_a_readable_name():
    event = ParticipantEvent.model_validate(
        {
            "id": "pe_1",
            "participant_name": None,
            "participant_uuid": "nn-anon-0123456789",
            "participant_user_uuid": None,
            "participant_is_host": False,
            "event_type": "join",
            "event_data": {},
            "timestamp_ms": 1,
        }
    )
    assert event.participant_name is None
    assert event.display_name == "Unnamed participant (uuid nn-anon-)"
