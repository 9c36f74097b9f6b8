"""Bot state names and their groups, as plain strings: light for DAG parsing (no pydantic), and free of
Airflow imports so that the simulator (and the pytest plugin) can use them before Airflow is configured."""

from __future__ import annotations

from collections.abc import Sequence

#: All 16 states of the spec's BotStateEnum, in its order.
BOT_STATES: tuple[str, ...] = (
    "ready",
    "joining",
    "joined_not_recording",
    "joined_recording",
    "leaving",
    "post_processing",
    "fatal_error",
    "waiting_room",
    "ended",
    "data_deleted",
    "scheduled",
    "staged",
    "joined_recording_paused",
    "joining_breakout_room",
    "leaving_breakout_room",
    "joined_recording_permission_denied",
)
#: Finished: the server allows the same deduplication key again once a bot is here.
TERMINAL = frozenset({"ended", "fatal_error", "data_deleted"})
#: States from which ``POST /bots/{id}/leave`` is accepted, in the order the server's error message lists them.
LEAVE_ALLOWED: tuple[str, ...] = (
    "joined_recording_paused",
    "joined_recording",
    "joined_not_recording",
    "joined_recording_permission_denied",
    "waiting_room",
    "joining",
    "joining_breakout_room",
    "leaving_breakout_room",
)
IN_MEETING = frozenset(LEAVE_ALLOWED)
#: In the meeting itself (admitted), as opposed to still joining or waiting to be let in.
JOINED = IN_MEETING - {"joining", "waiting_room"}
#: Before the bot tries to join.
PRE_JOIN = frozenset({"ready", "scheduled", "staged"})
#: Left the meeting, not finished yet.
LEAVING = frozenset({"leaving", "post_processing"})
#: Failure states of a wait, unless waited for.
DEFAULT_FAILURE_STATES = ("fatal_error", "data_deleted", "ended")


def parse_state(value: object) -> str:
    """A user-given state name, normalised; an error listing the valid names otherwise."""
    name = str(getattr(value, "value", value)).strip().lower()
    if name not in BOT_STATES:
        from airflow_provider_attendee.exceptions import (
            AttendeeConfigurationError,  # imports airflow: only here
        )

        raise AttendeeConfigurationError(
            f"Unknown Attendee bot state {value!r}. Valid states are: {', '.join(BOT_STATES)}."
        )
    return name


def resolve_states(
    target_states: Sequence[str] | str, failure_states: Sequence[str] | str | None
) -> tuple[list[str], list[str]]:
    """Validate a wait's states; default failures: fatal_error, data_deleted, and ended unless targeted."""
    targets = [target_states] if isinstance(target_states, str) else list(target_states)
    if not targets:
        from airflow_provider_attendee.exceptions import AttendeeConfigurationError

        raise AttendeeConfigurationError(
            "target_states must name at least one bot state, e.g. joined_recording."
        )
    target = [parse_state(s) for s in targets]
    if failure_states is None:
        return target, [s for s in DEFAULT_FAILURE_STATES if s not in target]
    failures = [failure_states] if isinstance(failure_states, str) else list(failure_states)
    return target, [s for s in (parse_state(f) for f in failures) if s not in target]
