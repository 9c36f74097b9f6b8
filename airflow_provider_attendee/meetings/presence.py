"""Who is in the meeting right now, from participant events read incrementally (pure, no Airflow).

Participant events arrive in the server's storage order, not by timestamp, and a poll may return events
already seen. The tracker keeps, per participant, only the latest event, de-duplicates by event id within
a margin, and serialises to a small dict so a trigger can carry it across restarts.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Protocol

from airflow_provider_attendee.client.names import display_name

# The argument checks live in a light module (sensors run them while a DAG file is parsed).
from airflow_provider_attendee.meetings.arguments import COMPARISONS as COMPARISONS
from airflow_provider_attendee.meetings.arguments import compile_name_pattern
from airflow_provider_attendee.meetings.arguments import validate_threshold as validate_threshold

#: How far before the newest event seen the next incremental read starts (clock skew, late storage).
DEFAULT_MARGIN = timedelta(minutes=2)


class ParticipantEventLike(Protocol):
    id: str
    participant_uuid: str
    participant_name: str | None
    participant_is_host: bool
    event_type: str
    timestamp_ms: int


@dataclass
class PresenceTracker:
    """Incremental present-count of a meeting's participants (the bot itself is never listed)."""

    exclude_host: bool = False
    name_pattern: str | None = None
    #: participant uuid -> [timestamp_ms of its latest join/leave, present?, name, is_host]
    people: dict[str, list[Any]] = field(default_factory=dict)
    #: event id -> timestamp_ms, only for events within the margin of the newest one (for de-duplication)
    recent_ids: dict[str, int] = field(default_factory=dict)
    newest_ms: int = 0
    margin_ms: int = int(DEFAULT_MARGIN.total_seconds() * 1000)

    def __post_init__(self) -> None:
        self._pattern = compile_name_pattern(self.name_pattern)

    def apply(self, events: Iterable[ParticipantEventLike]) -> int:
        """Take in a batch of events (any order, repeats allowed); returns how many were new."""
        fresh = 0
        for event in sorted(events, key=lambda e: (e.timestamp_ms, e.id)):
            if event.id in self.recent_ids:
                continue  # seen in an earlier read (reads overlap by the margin)
            # Ids older than the margin are forgotten; applying such a repeat again is harmless because
            # a participant's state only ever moves to a newer event.
            self.recent_ids[event.id] = event.timestamp_ms
            fresh += 1
            self.newest_ms = max(self.newest_ms, event.timestamp_ms)
            if event.event_type not in ("join", "leave"):
                continue
            latest = self.people.get(event.participant_uuid)
            if latest is not None and latest[0] > event.timestamp_ms:
                continue  # an older event arriving late does not undo a newer one
            self.people[event.participant_uuid] = [
                event.timestamp_ms,
                event.event_type == "join",
                display_name(event.participant_name, event.participant_uuid),
                event.participant_is_host,
            ]
        floor = self.newest_ms - self.margin_ms
        self.recent_ids = {k: v for k, v in self.recent_ids.items() if v >= floor}
        return fresh

    def counts(self, person: list[Any]) -> bool:
        _, present, name, is_host = person
        if not present or (self.exclude_host and is_host):
            return False
        return self._pattern is None or self._pattern.search(name) is not None

    @property
    def count(self) -> int:
        return sum(1 for person in self.people.values() if self.counts(person))

    @property
    def present_names(self) -> list[str]:
        return sorted(person[2] for person in self.people.values() if self.counts(person))

    def read_after(self) -> datetime | None:
        """The ``after`` bound for the next incremental read (None: read everything)."""
        if not self.newest_ms:
            return None
        return datetime.fromtimestamp((self.newest_ms - self.margin_ms) / 1000, tz=timezone.utc)

    def to_dict(self) -> dict[str, Any]:
        return {
            "exclude_host": self.exclude_host,
            "name_pattern": self.name_pattern,
            "people": self.people,
            "recent_ids": self.recent_ids,
            "newest_ms": self.newest_ms,
            "margin_ms": self.margin_ms,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PresenceTracker:
        return cls(**data)
