"""What the model is told: the instructions, and one part of the transcript with the participants."""

from __future__ import annotations

from collections.abc import Sequence

from airflow_provider_attendee.notes.models import UNASSIGNED
from airflow_provider_attendee.notes.transcript import Line, render_lines

INSTRUCTIONS = f"""You write meeting notes a team can act on, from a transcript.
Each transcript line reads: <line id> <mm:ss> <speaker>: <words>.
Return: a short summary (at most 5 points), the decisions taken, the action items (what; the owner, a
participant's name exactly as listed, or "{UNASSIGNED}" when nobody took it on; the due date only when one
was said), and the open questions.
Every item cites the lines that support it: line id, speaker and time exactly as the line shows them.
Write only what the transcript says. Leave out anything you cannot cite."""


def user_prompt(lines: Sequence[Line], participants: Sequence[str], part: int, parts: int) -> str:
    """The message of one call: who took part, and the transcript (or its part ``part`` of ``parts``)."""
    scope = f"Part {part} of {parts} of the meeting's transcript" if parts > 1 else "The meeting's transcript"
    return f"Participants: {', '.join(participants) or 'none named'}\n\n{scope}:\n{render_lines(lines)}\n"


def prompt_overhead(participants: Sequence[str], parts: int = 2) -> str:
    """The prompt without transcript lines: what every call costs besides its part of the transcript."""
    return INSTRUCTIONS + user_prompt([], participants, parts, parts)
