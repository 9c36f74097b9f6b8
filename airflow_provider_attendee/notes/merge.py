"""Partial notes of a long meeting joined into one: every item keeps its citations; the same action item
or decision said in two parts is kept once, with the citations of both."""

from __future__ import annotations

import re
from collections.abc import Sequence

from airflow_provider_attendee.notes.models import ActionItem, Citation, MeetingNotes, Point

#: Summary points kept for the whole meeting (the first ones of each part, in turn).
MAX_SUMMARY = 8


def _key(text: str) -> str:
    return re.sub(r"\W+", " ", text.casefold()).strip()


def _citations(first: list[Citation], more: list[Citation]) -> list[Citation]:
    seen = {c.line for c in first}
    return [*first, *(c for c in more if c.line not in seen)]


def _points(parts: Sequence[list[Point]]) -> list[Point]:
    merged: dict[str, Point] = {}
    for part in parts:
        for point in part:
            key = _key(point.text)
            if key in merged:
                merged[key] = merged[key].model_copy(
                    update={"citations": _citations(merged[key].citations, point.citations)}
                )
            else:
                merged[key] = point
    return list(merged.values())


def _summary(parts: Sequence[list[Point]]) -> list[Point]:
    """Round-robin over the parts, so that a long meeting's summary covers all of it."""
    chosen: list[Point] = []
    depth = 0
    while len(chosen) < MAX_SUMMARY and any(depth < len(p) for p in parts):
        chosen.extend(p[depth] for p in parts if depth < len(p))
        depth += 1
    return _points([chosen[:MAX_SUMMARY]])


def merge_notes(parts: Sequence[MeetingNotes]) -> MeetingNotes:
    """One set of notes from the notes of consecutive parts of a meeting."""
    if len(parts) == 1:
        return parts[0]
    actions: dict[tuple[str, str], ActionItem] = {}
    for part in parts:
        for item in part.action_items:
            key = (_key(item.what), item.owner.casefold())
            if key in actions:
                known = actions[key]
                actions[key] = known.model_copy(
                    update={
                        "citations": _citations(known.citations, item.citations),
                        "due": known.due or item.due,
                    }
                )
            else:
                actions[key] = item
    return MeetingNotes(
        summary=_summary([p.summary for p in parts]),
        decisions=_points([p.decisions for p in parts]),
        action_items=list(actions.values()),
        open_questions=_points([p.open_questions for p in parts]),
    )
