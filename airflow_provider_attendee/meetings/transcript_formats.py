"""Render transcript utterances as JSON records, plain text, WebVTT and SRT (pure, no Airflow)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_attendee.client.names import display_name

if TYPE_CHECKING:  # no pydantic at import: the transcript operator checks FORMATS at DAG parse time
    from airflow_provider_attendee.client.models import TranscriptUtterance

FORMATS = ("json", "txt", "vtt", "srt")


def _clock(ms: int, separator: str) -> str:
    ms = max(ms, 0)
    hours, rest = divmod(ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    seconds, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{seconds:02d}{separator}{millis:03d}"


def records(utterances: Sequence[TranscriptUtterance], origin_ms: int | None = None) -> list[dict[str, Any]]:
    """Utterances in time order, with offsets from ``origin_ms`` (default: the first utterance)."""
    ordered = sorted(utterances, key=lambda u: u.timestamp_ms)
    origin = origin_ms if origin_ms is not None else (ordered[0].timestamp_ms if ordered else 0)
    return [
        {
            "speaker_name": u.speaker_name,
            "speaker": display_name(u.speaker_name, u.speaker_uuid),
            "speaker_uuid": u.speaker_uuid,
            "speaker_is_host": u.speaker_is_host,
            "timestamp_ms": u.timestamp_ms,
            "duration_ms": u.duration_ms,
            "offset_ms": u.timestamp_ms - origin,
            "text": u.text,
        }
        for u in ordered
    ]


def render(kind: str, rows: list[dict[str, Any]]) -> str:
    """One transcript document in ``kind`` (json, txt, vtt or srt) from :func:`records` rows."""
    if kind == "json":
        return json.dumps(rows, ensure_ascii=False, indent=1) + "\n"
    if kind == "txt":
        return "".join(f"[{_clock(r['offset_ms'], '.')[:8]}] {r['speaker']}: {r['text']}\n" for r in rows)
    if kind == "vtt":
        cues = [
            f"{_clock(r['offset_ms'], '.')} --> {_clock(r['offset_ms'] + r['duration_ms'], '.')}\n"
            f"<v {r['speaker']}>{r['text']}\n"
            for r in rows
        ]
        return "WEBVTT\n\n" + "\n".join(cues)
    if kind == "srt":
        cues = [
            f"{index}\n{_clock(r['offset_ms'], ',')} --> {_clock(r['offset_ms'] + r['duration_ms'], ',')}\n"
            f"{r['speaker']}: {r['text']}\n"
            for index, r in enumerate(rows, start=1)
        ]
        return "\n".join(cues)
    raise ValueError(f"unknown transcript format {kind!r}; use one of {', '.join(FORMATS)}")
