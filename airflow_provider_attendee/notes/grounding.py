"""Checks of a model's notes against the transcript: every citation a real line (speaker and time), every
owner a participant or "unassigned". What fails is described for the model, and kept out of the notes."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from airflow_provider_attendee.notes.models import UNASSIGNED, ActionItem, Citation, MeetingNotes, Point
from airflow_provider_attendee.notes.transcript import Line, mm_ss


@dataclass
class Grounding:
    """The notes with only their grounded items, and what was wrong with the others."""

    notes: MeetingNotes
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _seconds(time: str) -> int | None:
    parts = time.strip().split(":")
    if not 2 <= len(parts) <= 3 or not all(p.isdigit() for p in parts):
        return None
    total = 0
    for part in parts:
        total = total * 60 + int(part)
    return total


def citation_problem(citation: Citation, lines: dict[str, Line]) -> str | None:
    """Why a citation does not match the transcript, or None when it does."""
    line = lines.get(citation.line.strip())
    if line is None:
        return f"line {citation.line!r} is not in the transcript"
    if citation.speaker.strip().casefold() != line.speaker.casefold():
        return f"line {line.id} was spoken by {line.speaker}, not {citation.speaker}"
    seconds = _seconds(citation.time)
    if seconds is None or not line.start_ms // 1000 <= seconds <= max(line.end_ms, line.start_ms) // 1000:
        return f"line {line.id} is at {line.time} (to {mm_ss(line.end_ms)}), not {citation.time}"
    return None


def _check_citations(
    kind: str, label: str, citations: Sequence[Citation], lines: dict[str, Line]
) -> str | None:
    if not citations:
        return f"{kind} {label!r} cites no transcript line"
    wrong = [p for p in (citation_problem(c, lines) for c in citations) if p]
    return f"{kind} {label!r}: {'; '.join(wrong)}" if wrong else None


def ground(notes: MeetingNotes, lines: Iterable[Line], participants: Iterable[str]) -> Grounding:
    """The items of ``notes`` that are grounded, each owner spelled as the participant list has it."""
    by_id = {line.id: line for line in lines}
    people = {name.casefold(): name for name in participants}
    problems: list[str] = []

    def points(kind: str, items: list[Point]) -> list[Point]:
        kept = []
        for item in items:
            problem = _check_citations(kind, item.text, item.citations, by_id)
            if problem:
                problems.append(problem)
            else:
                kept.append(item)
        return kept

    actions: list[ActionItem] = []
    for action in notes.action_items:
        problem = _check_citations("action item", action.what, action.citations, by_id)
        owner = action.owner.strip()
        if owner.casefold() == UNASSIGNED:
            owner = UNASSIGNED
        elif owner.casefold() in people:
            owner = people[owner.casefold()]
        else:
            owner_problem = (
                f"action item {action.what!r}: owner {action.owner!r} did not take part in the meeting "
                f'(participants: {", ".join(sorted(people.values()))}; or "{UNASSIGNED}")'
            )
            problem = f"{problem}; {owner_problem}" if problem else owner_problem
        if problem:
            problems.append(problem)
        else:
            actions.append(action.model_copy(update={"owner": owner}))
    kept = MeetingNotes(
        summary=points("summary point", notes.summary),
        decisions=points("decision", notes.decisions),
        action_items=actions,
        open_questions=points("open question", notes.open_questions),
    )
    return Grounding(kept, problems)


def feedback(problems: Sequence[str]) -> str:
    """What is sent back to the model when its notes fail the checks."""
    return (
        "Some items are not supported by the transcript:\n- "
        + "\n- ".join(problems)
        + "\nCorrect them: cite line ids, speakers and times exactly as the transcript shows them, and give "
        f'each action item an owner from the participant list or "{UNASSIGNED}". Leave out an item you '
        "cannot support."
    )
