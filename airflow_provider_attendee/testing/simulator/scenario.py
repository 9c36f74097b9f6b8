"""Meeting scenarios: what happens in each simulated meeting, and the calendars the simulator serves.

A scenario is a JSON (or YAML) document validated by :class:`Scenario`. Meeting times are seconds after
the bot is admitted (so a test's expectations do not depend on when the bot was created); calendar
event times are minutes after the scenario is loaded. Meetings a scenario does not describe get a
plausible generated default, deterministic for a given seed and meeting URL.
"""

from __future__ import annotations

import hashlib
import json
import random
from datetime import timedelta
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from airflow_provider_attendee.client.meeting_urls import normalize_meeting_url


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PresenceSpec(_Spec):
    """One stay in the meeting: joined ``join`` seconds after the bot was admitted, left at ``leave``."""

    join: float = 0.0
    leave: float | None = None

    @model_validator(mode="after")
    def _ordered(self) -> PresenceSpec:
        if self.leave is not None and self.leave < self.join:
            raise ValueError(f"leave ({self.leave}) is before join ({self.join})")
        return self


class SpeechSpec(_Spec):
    """One utterance: starts ``at`` seconds after the bot was admitted and lasts ``duration`` seconds."""

    at: float
    duration: float = Field(gt=0)
    text: str = ""


class ParticipantSpec(_Spec):
    #: The display name; null for a participant the meeting shows without one (as the real server does).
    name: str | None
    is_host: bool = False
    uuid: str | None = None
    user_uuid: str | None = None
    email: str | None = None
    presence: list[PresenceSpec] = Field(default_factory=lambda: [PresenceSpec()])
    speech: list[SpeechSpec] = Field(default_factory=list)


class ChatSpec(_Spec):
    at: float
    #: A participant's name, or their uuid (for a participant without a name).
    sender: str
    text: str
    #: "everyone", or "only_bot" for a message sent to the bot alone.
    to: str = "everyone"


class MeetingSpec(_Spec):
    """What the bot meets at ``meeting_url``."""

    meeting_url: str
    #: admitted: joins after join_delay; waiting_room: waits, admitted after admit_after_seconds if set,
    #: else gives up after waiting_room_timeout_seconds (fatal_error); denied: request to join denied.
    admission: Literal["admitted", "waiting_room", "denied"] = "admitted"
    join_delay_seconds: float = Field(default=5.0, ge=0)
    admit_after_seconds: float | None = Field(default=None, ge=0)
    waiting_room_timeout_seconds: float = Field(default=900.0, gt=0)
    #: When the meeting ends after the bot was admitted; None: 60 s after the last participant left,
    #: or never if someone stays (then only a leave request ends the bot's stay).
    ends_after_seconds: float | None = Field(default=None, gt=0)
    participants: list[ParticipantSpec] = Field(default_factory=list)
    chat: list[ChatSpec] = Field(default_factory=list)

    def end_offset(self) -> float | None:
        if self.ends_after_seconds is not None:
            return self.ends_after_seconds
        leaves = [p.leave for person in self.participants for p in person.presence]
        if not leaves or any(leave is None for leave in leaves):
            return None
        return max(leave for leave in leaves if leave is not None) + 60.0

    @cached_property
    def spoken_lines(self) -> list[tuple[timedelta, timedelta]]:
        """(start, stop) after admission of each speech with text (the transcript's lines), computed once
        per meeting: a bot's clock steps use it without building the meeting's content."""
        return [
            (timedelta(seconds=speech.at), timedelta(seconds=speech.at) + timedelta(seconds=speech.duration))
            for person in self.participants
            for speech in person.speech
            if speech.text
        ]


class AttendeeSpec(_Spec):
    email: str
    name: str | None = None


class RescheduleSpec(_Spec):
    after_minutes: float = Field(ge=0)
    start_in_minutes: float
    duration_minutes: float | None = None


class EventSpec(_Spec):
    id: str | None = None
    name: str | None = None
    meeting_url: str | None = None
    start_in_minutes: float
    duration_minutes: float = Field(default=30.0, gt=0)
    attendees: list[AttendeeSpec] = Field(default_factory=list)
    #: The event is cancelled (is_deleted) this many minutes after loading; 0 = already cancelled.
    cancel_after_minutes: float | None = Field(default=None, ge=0)
    reschedule: RescheduleSpec | None = None


class CalendarSpec(_Spec):
    id: str | None = None
    platform: Literal["google", "microsoft"] = "google"
    deduplication_key: str | None = None
    metadata: dict[str, Any] | None = None
    events: list[EventSpec] = Field(default_factory=list)


class Scenario(_Spec):
    name: str = "scenario"
    description: str = ""
    calendars: list[CalendarSpec] = Field(default_factory=list)
    meetings: list[MeetingSpec] = Field(default_factory=list)

    def meeting(self, meeting_url: str) -> MeetingSpec | None:
        wanted = meeting_key(meeting_url)
        for meeting in self.meetings:
            if meeting_key(meeting.meeting_url) == wanted:
                return meeting
        return None


def meeting_key(url: str) -> str:
    """How scenario meetings are matched to bots: the server's stored form, case-insensitively."""
    return (normalize_meeting_url(url) or url.strip()).rstrip("/").lower()


def load_scenario(source: str | Path | dict[str, Any] | Scenario | None) -> Scenario:
    """Load a scenario from a model, a dict, a JSON/YAML file path, or a bundled name (e.g. ``demo``)."""
    if source is None:
        return Scenario()
    if isinstance(source, Scenario):
        return source
    if isinstance(source, dict):
        return Scenario.model_validate(source)
    path = Path(source)
    if not path.exists():
        bundled = resources.files("airflow_provider_attendee.testing.simulator").joinpath(
            f"scenarios/{source}.json"
        )
        if not bundled.is_file():
            raise FileNotFoundError(f"No scenario file {source!r} and no bundled scenario of that name.")
        return Scenario.model_validate_json(bundled.read_text(encoding="utf-8"))
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() in (".yml", ".yaml"):
        import yaml  # optional: only needed for YAML scenario files

        return Scenario.model_validate(yaml.safe_load(text))
    return Scenario.model_validate(json.loads(text))


_FIRST_NAMES = ["Alice", "Bob", "Chen", "Dana", "Emeka", "Farah", "Gustav", "Hana", "Ivan", "Júlia"]
_LINES = [
    "Let's get started, thanks everyone for joining.",
    "Quick update from my side: the rollout went fine.",
    "I have a question about the timeline.",
    "We should follow up on that offline.",
    "Can you share the numbers after the call?",
    "I agree, let's go with the second option.",
    "Any blockers we should know about?",
    "That's all from me.",
]


def generated_meeting(meeting_url: str, seed: int) -> MeetingSpec:
    """A plausible meeting for a URL the scenario does not describe: 3-5 people, 20-40 minutes."""
    digest = hashlib.sha256(f"{seed}:{meeting_key(meeting_url)}".encode()).hexdigest()
    rng = random.Random(int(digest[:16], 16))
    length = rng.randint(20, 40) * 60.0
    people = rng.sample(_FIRST_NAMES, rng.randint(3, 5))
    participants = []
    for index, name in enumerate(people):
        join = 0.0 if index < 2 else float(rng.randint(30, 300))
        leave = length - rng.randint(0, 120)
        speech = []
        at = join + rng.randint(5, 60)
        while at < leave - 30:
            duration = float(rng.randint(4, 25))
            speech.append(SpeechSpec(at=at, duration=duration, text=rng.choice(_LINES)))
            at += duration + rng.randint(60, 240)
        participants.append(
            ParticipantSpec(
                name=name,
                is_host=index == 0,
                presence=[PresenceSpec(join=join, leave=leave)],
                speech=speech,
            )
        )
    return MeetingSpec(meeting_url=meeting_url, participants=participants, ends_after_seconds=length)
