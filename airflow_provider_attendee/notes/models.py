"""The notes a model writes, and what the notes task returns (pydantic v2 models)."""

from __future__ import annotations

from pydantic import BaseModel, Field

#: The owner of an action item nobody in the meeting took on.
UNASSIGNED = "unassigned"


class Citation(BaseModel):
    """A transcript line that supports an item: its id, who spoke it and when (mm:ss)."""

    line: str = Field(description='The line id from the transcript, e.g. "L12".')
    speaker: str = Field(description="The speaker's name exactly as the transcript line shows it.")
    time: str = Field(description="The line's time exactly as shown, mm:ss.")


class Point(BaseModel):
    """A summary point, a decision or an open question, with the lines that support it."""

    text: str
    citations: list[Citation] = Field(default_factory=list)


class ActionItem(BaseModel):
    """Something a person is to do: what, who (a participant or "unassigned"), and by when if said."""

    what: str
    owner: str = Field(description='A participant\'s name as listed, or "unassigned".')
    due: str | None = Field(default=None, description="The due date as said in the meeting, else null.")
    citations: list[Citation] = Field(default_factory=list)


class MeetingNotes(BaseModel):
    """Notes of a meeting (or of one part of it): every item cites the lines that support it."""

    summary: list[Point] = Field(default_factory=list, description="At most 5 short points.")
    decisions: list[Point] = Field(default_factory=list)
    action_items: list[ActionItem] = Field(default_factory=list)
    open_questions: list[Point] = Field(default_factory=list)

    def items(self) -> int:
        """How many items the notes hold, all kinds together."""
        return len(self.summary) + len(self.decisions) + len(self.action_items) + len(self.open_questions)
