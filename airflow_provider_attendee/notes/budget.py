"""Token estimates and splitting a transcript at speaker turns so that each call stays under a budget."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from airflow_provider_attendee.notes.transcript import Line

#: A local model's context (Llama 3 8B, Mistral 7B in Ollama: 8,192 tokens).
DEFAULT_CONTEXT_TOKENS = 8192
#: Kept free in the context for the model's answer.
DEFAULT_OUTPUT_TOKENS = 2048
#: Characters per token assumed: fewer than the ~4 of English BPE tokenizers, so the estimate errs high.
CHARS_PER_TOKEN = 3.2


def estimate_tokens(text: str) -> int:
    """A cautious token count for ``text`` (over-estimates common tokenizers on English and names)."""
    return math.ceil(len(text) / CHARS_PER_TOKEN) + 1 if text else 0


@dataclass(frozen=True)
class Budget:
    """Tokens per call: the context, of which ``output_tokens`` are kept for the answer."""

    context_tokens: int = DEFAULT_CONTEXT_TOKENS
    output_tokens: int = DEFAULT_OUTPUT_TOKENS

    @property
    def input_tokens(self) -> int:
        return self.context_tokens - self.output_tokens


def split_lines(lines: Sequence[Line], room_tokens: int) -> list[list[Line]]:
    """Consecutive runs of whole lines (speaker turns), each estimated at most ``room_tokens``.

    Raises ``ValueError`` if one line alone does not fit (the layout cuts long turns, so only a budget
    smaller than a line can do that)."""
    parts: list[list[Line]] = []
    current: list[Line] = []
    used = 0
    for line in lines:
        cost = estimate_tokens(line.render()) + 1  # the newline
        if cost > room_tokens:
            raise ValueError(
                f"Transcript line {line.id} alone needs ~{cost} tokens, more than the {room_tokens} left "
                "for the transcript in each call: raise the token budget."
            )
        if current and used + cost > room_tokens:
            parts.append(current)
            current, used = [], 0
        current.append(line)
        used += cost
    if current:
        parts.append(current)
    return parts
