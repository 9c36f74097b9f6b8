"""A participant event as the pure modules read it (duck-typed like the API model), for tests."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Ev:
    id: str
    participant_uuid: str
    participant_name: str
    event_type: str
    timestamp_ms: int
    participant_is_host: bool = False
