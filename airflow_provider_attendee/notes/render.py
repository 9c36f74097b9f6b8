"""notes.md and notes.json: the notes, the items dropped as ungrounded, and who (which model) wrote them."""

from __future__ import annotations

import json
from typing import Any

from airflow_provider_attendee.notes.models import Citation, MeetingNotes


def _cites(citations: list[Citation]) -> str:
    return " (" + "; ".join(f"{c.speaker} {c.time}, {c.line}" for c in citations) + ")" if citations else ""


def to_markdown(notes: MeetingNotes, title: str, about: dict[str, Any]) -> str:
    """The notes as Markdown, each item followed by the lines it cites; the notes on how they were made."""
    out = [f"# {title}", ""]
    if about.get("stand_in"):
        out += [f"> {about['stand_in']}", ""]
    sections = [
        ("Summary", [f"- {p.text}{_cites(p.citations)}" for p in notes.summary]),
        ("Decisions", [f"- {p.text}{_cites(p.citations)}" for p in notes.decisions]),
        (
            "Action items",
            [
                f"- [ ] **{a.owner}**: {a.what}{f' (due {a.due})' if a.due else ''}{_cites(a.citations)}"
                for a in notes.action_items
            ],
        ),
        ("Open questions", [f"- {p.text}{_cites(p.citations)}" for p in notes.open_questions]),
    ]
    for heading, rows in sections:
        out += [f"## {heading}", "", *(rows or ["None."]), ""]
    if about.get("dropped"):
        out += ["## Left out (not supported by the transcript)", ""]
        out += [f"- {problem}" for problem in about["dropped"]] + [""]
    usage = about.get("usage") or {}
    out.append(
        f"_Written by {about.get('model', 'a model')} in {usage.get('calls', 0)} call(s) "
        f"from {about.get('lines', 0)} transcript lines._"
    )
    return "\n".join(out) + "\n"


def to_json(notes: MeetingNotes, about: dict[str, Any]) -> str:
    return json.dumps({**about, "notes": notes.model_dump()}, ensure_ascii=False, indent=1) + "\n"
