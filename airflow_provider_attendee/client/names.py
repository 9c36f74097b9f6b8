"""Participant names as people read them (pure, no Airflow, no pydantic).

The real server sends ``null`` (and sometimes ``""``) for a participant without a display name; reports,
transcripts and logs show such a person as "Unnamed participant (uuid ...)" instead of failing.
"""

from __future__ import annotations

from collections.abc import Iterable

UNNAMED = "Unnamed participant"


def display_name(name: str | None, uuid: str | None) -> str:
    """The name to show: the display name, or "Unnamed participant (uuid <first 8>)" when there is none."""
    if name and name.strip():
        return name
    return f"{UNNAMED} (uuid {uuid[:8]})" if uuid else UNNAMED


def distinct_labels(people: Iterable[tuple[str, str]]) -> dict[str, str]:
    """A label per participant uuid from ``(uuid, name)`` pairs: the name, with the start of the uuid added
    where two people in the meeting share it (8 characters, more when those do not tell them apart), so a
    table or a chart tells them apart."""
    by_name: dict[str, list[str]] = {}
    for uuid, name in people:
        by_name.setdefault(name, []).append(uuid)
    labels: dict[str, str] = {}
    for name, uuids in by_name.items():
        if len(uuids) == 1:
            labels[uuids[0]] = name
            continue
        longest = max(map(len, uuids))
        width = next((n for n in range(8, longest + 1) if len({u[:n] for u in uuids}) == len(uuids)), longest)
        labels.update({uuid: f"{name} (uuid {uuid[:width]})" for uuid in uuids})
    return labels
