"""A participant event and a transcript utterance as the pure modules read them (duck-typed like the API
models), for tests."""

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


@dataclass
class Utt:
    speaker_uuid: str
    speaker_name: str | None
    timestamp_ms: int
    duration_ms: int
    speaker_is_host: bool = False
