"""Checks of the arguments users give operators and sensors (pure, no Airflow).

They run while a DAG file is parsed, so this module stays light to import: no dataclasses, pydantic
models or hook (``tests/unit/test_parse_imports.py`` keeps it so).
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from typing import Any

from airflow_provider_attendee.client.errors import AttendeeConfigurationError

COMPARISONS: dict[str, Callable[[int, int], bool]] = {
    ">=": operator.ge,
    ">": operator.gt,
    "<=": operator.le,
    "<": operator.lt,
    "==": operator.eq,
}


def validate_threshold(threshold: Any, comparison: str) -> tuple[int, str]:
    """Check a participant-count condition given by a user; returns it normalised."""
    if comparison not in COMPARISONS:
        raise AttendeeConfigurationError(
            f"comparison={comparison!r} is not supported; use one of {', '.join(COMPARISONS)}."
        )
    text = str(threshold).strip()
    if isinstance(threshold, bool) or not text.isdigit():
        raise AttendeeConfigurationError(
            f"threshold must be a whole number of participants >= 0, got {threshold!r}."
        )
    return int(text), comparison


def compile_regex(pattern: str | None, argument: str) -> re.Pattern[str] | None:
    """Compile a user's case-insensitive regular expression (None when not given), naming the argument."""
    if not pattern:
        return None
    try:
        return re.compile(pattern, re.IGNORECASE)
    except re.error as err:
        raise AttendeeConfigurationError(
            f"{argument} {pattern!r} is not a valid regular expression: {err}"
        ) from None


def compile_name_pattern(pattern: str | None) -> re.Pattern[str] | None:
    """The participant-count sensor's ``name_pattern``."""
    return compile_regex(pattern, "name_pattern")


def check_selection(skip_name_regex: str | None, min_attendees: int) -> None:
    """The calendar sync's event selection: a valid regular expression, a count >= 0."""
    compile_regex(skip_name_regex, "skip_name_regex")
    if min_attendees < 0:
        raise AttendeeConfigurationError(f"min_attendees must be >= 0, got {min_attendees}.")
