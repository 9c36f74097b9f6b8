"""The model side of the notes, on common-ai's ``PydanticAIHook`` and pydantic-ai (imported only when a notes
task runs): one agent run per part of the transcript, each answer checked against the transcript and sent
back with what was wrong a bounded number of times; what still fails is dropped, with a note."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic_ai import Agent, ModelRetry, RunContext
from pydantic_ai.messages import ModelMessage, ModelResponse
from pydantic_ai.models import Model
from pydantic_ai.models.test import TestModel
from pydantic_ai.usage import RunUsage, UsageLimits

from airflow_provider_attendee.notes.budget import Budget, estimate_tokens, split_lines
from airflow_provider_attendee.notes.grounding import feedback, ground
from airflow_provider_attendee.notes.merge import merge_notes
from airflow_provider_attendee.notes.models import MeetingNotes
from airflow_provider_attendee.notes.prompt import INSTRUCTIONS, prompt_overhead, user_prompt
from airflow_provider_attendee.notes.transcript import Line

#: Tokens kept in each call for the feedback of a correction (the list of what was wrong).
FEEDBACK_TOKENS = 400


@dataclass
class NotesRun:
    """The merged notes, what was dropped, and the calls and tokens it took."""

    notes: MeetingNotes
    dropped: list[str] = field(default_factory=list)
    parts: int = 0
    corrections: int = 0
    usage: RunUsage = field(default_factory=RunUsage)
    estimated_input_tokens: list[int] = field(default_factory=list)

    def usage_record(self) -> dict[str, Any]:
        """Calls and tokens, as reported by the model and as estimated by the budgeter (per call)."""
        return {
            "calls": self.usage.requests,
            "parts": self.parts,
            "corrections": self.corrections,
            "input_tokens": self.usage.input_tokens,
            "output_tokens": self.usage.output_tokens,
            "estimated_input_tokens": sum(self.estimated_input_tokens),
            "estimated_max_call_tokens": max(self.estimated_input_tokens, default=0),
        }


def schema_text() -> str:
    """The output schema as the model receives it (an output tool's parameters)."""
    return json.dumps(MeetingNotes.model_json_schema(), separators=(",", ":"))


def transcript_room(budget: Budget, participants: Sequence[str], corrections: int) -> int:
    """Tokens left for transcript lines in one call: the budget's input less the instructions, the schema,
    and, when corrections are allowed, the model's earlier answer and the feedback a correction adds."""
    overhead = estimate_tokens(prompt_overhead(participants)) + estimate_tokens(schema_text())
    if corrections:
        overhead += budget.output_tokens + FEEDBACK_TOKENS
    room = budget.input_tokens - overhead
    if room < 200:
        raise ValueError(
            f"A token budget of {budget.context_tokens} (with {budget.output_tokens} for the answer) leaves "
            f"no room for the transcript after ~{overhead} tokens of instructions and schema: raise it."
        )
    return room


def message_text(messages: Sequence[ModelMessage]) -> str:
    """Everything in a conversation that counts against the context: prompts, answers, tool calls."""
    texts: list[str] = []
    for message in messages:
        for part in message.parts:
            content = getattr(part, "content", None)
            if content is None and hasattr(part, "args_as_json_str"):
                content = part.args_as_json_str()
            if content is not None:
                texts.append(content if isinstance(content, str) else json.dumps(content, default=str))
    return "\n".join(texts)


def estimated_call_tokens(messages: Sequence[ModelMessage]) -> list[int]:
    """The budgeter's estimate of each model call's input in a finished run (instructions and schema too)."""
    fixed = estimate_tokens(INSTRUCTIONS) + estimate_tokens(schema_text())
    return [
        fixed + estimate_tokens(message_text(messages[:index]))
        for index, message in enumerate(messages)
        if isinstance(message, ModelResponse)
    ]


def write_notes(
    agent: Agent[Any, MeetingNotes],
    lines: Sequence[Line],
    participants: Sequence[str],
    *,
    budget: Budget,
    corrections: int,
    usage_limits: UsageLimits | None = None,
    model: Model | None = None,
    log: logging.Logger | Any = None,
) -> NotesRun:
    """Notes of ``lines``: one run of ``agent`` per part under the budget, grounded, merged."""
    parts = split_lines(lines, transcript_room(budget, participants, corrections))
    run = NotesRun(notes=MeetingNotes(), parts=len(parts))
    partials: list[MeetingNotes] = []
    current: list[Line] = []

    @agent.output_validator
    def grounded(ctx: RunContext[Any], notes: MeetingNotes) -> MeetingNotes:
        checked = ground(notes, current, participants)
        if checked.ok:
            return checked.notes
        if ctx.retry < corrections:
            run.corrections += 1
            if log:
                log.info(
                    "Sending %d problem(s) back to the model: %s", len(checked.problems), checked.problems
                )
            raise ModelRetry(feedback(checked.problems))
        run.dropped.extend(checked.problems)
        return checked.notes

    for number, part in enumerate(parts, start=1):
        current[:] = part
        result = agent.run_sync(
            user_prompt(part, participants, number, len(parts)),
            model=model,
            usage_limits=usage_limits,
            usage=run.usage,
            retries={"output": corrections},
        )
        run.estimated_input_tokens.extend(estimated_call_tokens(result.all_messages()))
        partials.append(result.output)
        if log:
            from airflow.providers.common.ai.utils.logging import log_run_summary

            log_run_summary(log, result, usage=result.usage)
    run.notes = merge_notes(partials) if partials else MeetingNotes()
    return run


def plain_agent(output_type: type[MeetingNotes], instructions: str) -> Agent[Any, MeetingNotes]:
    """An agent without a connection's model (the stand-in is passed to each run)."""
    return Agent(None, output_type=output_type, instructions=instructions)


def is_test_model(model: Model) -> bool:
    """Whether the connection chose pydantic-ai's test model (``"model": "test"``)."""
    return isinstance(model, TestModel)
