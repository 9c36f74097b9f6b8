"""Participant names as people read them (pure, no Airflow, no pydantic).

The real server sends ``null`` (and sometimes ``""``) for a participant without a display name; reports,
transcripts and logs show such a person as "Unnamed participant (uuid ...)" instead of failing.
"""

from __future__ import annotations

UNNAMED = "Unnamed participant"


def display_name(name: str | None, uuid: str | None) -> str:
    """The name to show: the display name, or "Unnamed participant (uuid <first 8>)" when there is none."""
    if name and name.strip():
        return name
    return f"{UNNAMED} (uuid {uuid[:8]})" if uuid else UNNAMED
