"""A stand-in for a language model, for the demo and the tests: pydantic-ai's ``FunctionModel`` writing
extractive notes from the lines it is sent (no network, no model). Chosen by an LLM connection whose model
is ``test``; the notes then say plainly that a stand-in wrote them."""

from __future__ import annotations

import re
from typing import Any

from pydantic_ai.messages import ModelMessage, ModelResponse, ToolCallPart, UserPromptPart
from pydantic_ai.models.function import AgentInfo, FunctionModel

from airflow_provider_attendee.notes.models import UNASSIGNED

#: What the notes say about who wrote them.
STAND_IN_NOTE = (
    "Written by a stand-in model (pydantic-ai FunctionModel, picking transcript lines by keywords), not by "
    "a language model: the LLM connection's model is 'test'."
)
UNDEFINED_NOTE = (
    "Written by a stand-in model (pydantic-ai FunctionModel, picking transcript lines by keywords), not by "
    "a language model: the LLM connection {conn_id!r} is not defined (define it to use a real model)."
)
LINE = re.compile(r"^(L\d+) (\d+:\d\d) ([^:]+): (.*)$", re.MULTILINE)
DECISION = re.compile(r"\b(decided|we'll go with|let's go with|agreed|decision)\b", re.IGNORECASE)
ACTION = re.compile(r"\b(I'll|I will|will send|can you|please|take (?:that|it)|action item)\b", re.IGNORECASE)
DUE = re.compile(
    r"\b(?:by|before|on) ((?:mon|tues|wednes|thurs|fri|satur|sun)day|tomorrow|next week|\w+ \d{1,2})\b", re.I
)


def _last_prompt(messages: list[ModelMessage]) -> str:
    for message in reversed(messages):
        for part in message.parts:
            if isinstance(part, UserPromptPart) and isinstance(part.content, str):
                return part.content
    return ""


def stand_in_notes(prompt: str) -> dict[str, Any]:
    """Notes picked from the transcript lines of ``prompt``, every item citing its line."""
    participants = re.search(r"^Participants: (.*)$", prompt, re.MULTILINE)
    people = {n.strip() for n in participants.group(1).split(",")} if participants else set()
    lines = LINE.findall(prompt)

    def cite(line: tuple[str, str, str, str]) -> list[dict[str, str]]:
        return [{"line": line[0], "speaker": line[2], "time": line[1]}]

    def first_sentence(text: str) -> str:
        return re.split(r"(?<=[.?!])\s", text, maxsplit=1)[0][:200]

    summary: list[dict[str, Any]] = []
    seen: set[str] = set()
    for line in lines:
        if line[2] not in seen and len(summary) < 3:
            seen.add(line[2])
            summary.append({"text": f"{line[2]}: {first_sentence(line[3])}", "citations": cite(line)})
    actions = []
    for line in lines:
        if ACTION.search(line[3]):
            due = DUE.search(line[3])
            owner = line[2] if line[2] in people and not line[3].lower().startswith("can you") else UNASSIGNED
            actions.append(
                {
                    "what": first_sentence(line[3]),
                    "owner": owner,
                    "due": due.group(1) if due else None,
                    "citations": cite(line),
                }
            )
    return {
        "summary": summary,
        "decisions": [
            {"text": first_sentence(ln[3]), "citations": cite(ln)} for ln in lines if DECISION.search(ln[3])
        ][:5],
        "action_items": actions[:10],
        "open_questions": [
            {"text": q, "citations": cite(ln)}
            for ln in lines
            for q in re.findall(r"[^.?!]*\?", ln[3])[:1]
            if not ACTION.search(q)
        ][:5],
    }


def _respond(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
    tool = info.output_tools[0].name
    return ModelResponse(parts=[ToolCallPart(tool, stand_in_notes(_last_prompt(messages)))])


def stand_in_model() -> FunctionModel:
    """The stand-in model (named so in the logs)."""
    return FunctionModel(_respond, model_name="attendee-stand-in")
