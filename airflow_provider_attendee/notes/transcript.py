"""The transcript laid out for a model: names not uuids, mm:ss, one line per speaker turn, line ids.

What leaves the machine is exactly what :func:`render_lines` writes: the line id, the time, the speaker's
display name and the words (optionally with emails and phone numbers redacted, and without the lines of
participants left out, whose names are also masked in what others said).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

#: Gap between two utterances of one speaker beyond which they stay separate lines (ms).
MERGE_GAP_MS = 30_000

EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# A phone number: 7+ digits, with the usual separators, optionally an international prefix.
PHONE = re.compile(r"(?<![\w.])(?:\+|00)?\d(?:[\s().-]{0,2}\d){6,14}(?![\w])")
LEFT_OUT = "[participant]"


@dataclass(frozen=True)
class Line:
    """One speaker turn: consecutive utterances of one speaker merged."""

    id: str
    speaker: str
    start_ms: int
    end_ms: int
    text: str

    @property
    def time(self) -> str:
        return mm_ss(self.start_ms)

    def render(self) -> str:
        return f"{self.id} {self.time} {self.speaker}: {self.text}"


def mm_ss(ms: int) -> str:
    """An offset as mm:ss (minutes go past 59 in a long meeting: 125:03)."""
    seconds = max(ms, 0) // 1000
    return f"{seconds // 60:02d}:{seconds % 60:02d}"


def redact(text: str) -> str:
    """Emails and phone numbers replaced by [email] and [phone]."""
    return PHONE.sub("[phone]", EMAIL.sub("[email]", text))


def build_lines(
    rows: Sequence[Mapping[str, Any]],
    *,
    leave_out: Iterable[str] = (),
    redact_contacts: bool = False,
    merge_gap_ms: int = MERGE_GAP_MS,
    max_line_chars: int = 2000,
) -> list[Line]:
    """Lines from transcript records (``meetings.transcript_formats.records``: ``speaker``, ``offset_ms``,
    ``duration_ms``, ``text``). A turn longer than ``max_line_chars`` is cut at word boundaries so that
    every line fits in one call."""
    excluded = {name.casefold() for name in leave_out if name}
    masks = [re.compile(re.escape(name), re.IGNORECASE) for name in leave_out if name]
    turns: list[dict[str, Any]] = []
    for row in rows:
        speaker, text = str(row["speaker"]), " ".join(str(row["text"]).split())
        if speaker.casefold() in excluded or not text:
            continue
        for mask in masks:
            text = mask.sub(LEFT_OUT, text)
        if redact_contacts:
            text = redact(text)
        start, end = int(row["offset_ms"]), int(row["offset_ms"]) + int(row.get("duration_ms") or 0)
        last = turns[-1] if turns else None
        if last and last["speaker"] == speaker and start - last["end"] <= merge_gap_ms:
            last["text"] += " " + text
            last["end"] = max(last["end"], end)
        else:
            turns.append({"speaker": speaker, "start": start, "end": end, "text": text})
    lines: list[Line] = []
    for turn in turns:
        for piece in _pieces(turn["text"], max_line_chars):
            lines.append(Line(f"L{len(lines) + 1}", turn["speaker"], turn["start"], turn["end"], piece))
    return lines


def _pieces(text: str, limit: int) -> list[str]:
    words, pieces, current = text.split(" "), [], ""
    for word in words:
        if current and len(current) + 1 + len(word) > limit:
            pieces.append(current)
            current = word
        else:
            current = f"{current} {word}" if current else word
    return [*pieces, current] if current else pieces


def render_lines(lines: Sequence[Line]) -> str:
    """The transcript part of a prompt: one line per turn."""
    return "\n".join(line.render() for line in lines)
