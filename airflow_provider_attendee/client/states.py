"""Bot state names and their groups, as plain strings: light for DAG parsing (no pydantic), and free of
Airflow imports so that the simulator (and the pytest plugin) can use them before Airflow is configured."""

from __future__ import annotations

from collections.abc import Sequence

from airflow_provider_attendee.client.errors import AttendeeConfigurationError

#: Every state the server accepts in ``GET /bots?states=``, in its order: the spec's 16 bot states, then
#: the 3 states of app sessions (which the server's list shares).
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
    "connecting",
    "connected",
    "disconnecting",
)
#: The states of app sessions, not of meeting bots (a meeting bot never enters them).
APP_SESSION_STATES = frozenset({"connecting", "connected", "disconnecting"})
#: Finished: the server allows the same deduplication key again once a bot is here.
TERMINAL = frozenset({"ended", "fatal_error", "data_deleted"})
#: Every state a meeting bot can still leave (the spec's states, not finished).
LIVE: tuple[str, ...] = tuple(s for s in BOT_STATES if s not in TERMINAL and s not in APP_SESSION_STATES)
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
#: Trying to get in: not yet admitted, nobody can be counted yet.
NOT_ADMITTED = frozenset({"joining", "waiting_room"})
#: In the meeting itself (admitted), as opposed to still joining or waiting to be let in.
JOINED = IN_MEETING - NOT_ADMITTED
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
        import difflib

        close = difflib.get_close_matches(name, BOT_STATES, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise AttendeeConfigurationError(
            f"Unknown Attendee bot state {value!r}.{hint} Valid states are: {', '.join(BOT_STATES)}."
        )
    return name


def resolve_states(
    target_states: Sequence[str] | str, failure_states: Sequence[str] | str | None
) -> tuple[list[str], list[str]]:
    """Validate a wait's states; default failures: fatal_error, data_deleted, and ended unless targeted."""
    targets = [target_states] if isinstance(target_states, str) else list(target_states)
    if not targets:
        raise AttendeeConfigurationError(
            "target_states must name at least one bot state, e.g. joined_recording."
        )
    target = [parse_state(s) for s in targets]
    if failure_states is None:
        return target, [s for s in DEFAULT_FAILURE_STATES if s not in target]
    failures = [failure_states] if isinstance(failure_states, str) else list(failure_states)
    return target, [s for s in (parse_state(f) for f in failures) if s not in target]


#: Every ``events[].type`` code the real API sends (bots/models.py BotEventTypes.type_to_api_code).
#: The server may add codes: consumers keep unknown ones as plain strings and never fail on them.
EVENT_TYPES: tuple[str, ...] = (
    "put_in_waiting_room",
    "joined_meeting",
    "recording_permission_granted",
    "meeting_ended",
    "left_meeting",
    "join_requested",
    "fatal_error",
    "leave_requested",
    "could_not_join_meeting",
    "post_processing_completed",
    "data_deleted",
    "staged",
    "recording_paused",
    "recording_resumed",
    "joined_breakout_room",
    "left_breakout_room",
    "began_joining_breakout_room",
    "began_leaving_breakout_room",
    "recording_permission_denied",
    "app_session_connection_requested",
    "app_session_connected",
    "app_session_disconnect_requested",
    "app_session_disconnected",
)
#: Every ``events[].sub_type`` code the real API sends (the key is absent when there is none).
EVENT_SUB_TYPES: tuple[str, ...] = (
    "meeting_not_started_waiting_for_host",
    "process_terminated",
    "zoom_authorization_failed",
    "zoom_meeting_status_failed",
    "unpublished_zoom_app",
    "rtmp_connection_failed",
    "zoom_sdk_internal_error",
    "ui_element_not_found",
    "request_to_join_denied",
    "user_requested",
    "auto_leave_silence",
    "auto_leave_only_participant_in_meeting",
    "heartbeat_timeout",
    "meeting_not_found",
    "bot_not_launched",
    "waiting_room_timeout_exceeded",
    "auto_leave_max_uptime_exceeded",
    "login_required",
    "bot_login_attempt_failed",
    "out_of_credits",
    "unable_to_connect_to_meeting",
    "attendee_internal_error",
    "host_denied_permission",
    "request_timed_out",
    "host_client_cannot_grant_permission",
    "auto_leave_could_not_enable_closed_captions",
    "authorized_user_not_in_meeting_timeout_exceeded",
    "blocked_by_captcha",
    "webinar_attendee_needs_panelist_promotion",
    "zoom_app_cannot_join_anonymously",
    "global_runtime_timeout",
)
#: The event that marks the bot's admission to the meeting (start of what it observed).
JOINED_EVENT = "joined_meeting"
#: Events that mark when the bot stopped observing the meeting.
DEPARTURE_EVENTS = frozenset(
    {"leave_requested", "meeting_ended", "left_meeting", "fatal_error", "could_not_join_meeting"}
)
#: Events after which the bot is out of the meeting (a leave_requested bot is still in it, leaving).
LEFT_EVENTS = DEPARTURE_EVENTS - {"leave_requested"}
