"""Verdicts on a bot: has a wait succeeded, failed, or should it go on (pure: no Airflow, no I/O).

Sensors (poke mode), triggers (deferred mode) and operators share these, so a wait ends the same way
whatever its mode.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from airflow_provider_attendee.client.states import LEAVING, NOT_ADMITTED, PRE_JOIN, TERMINAL
from airflow_provider_attendee.meetings.arguments import COMPARISONS

if TYPE_CHECKING:
    from airflow_provider_attendee.client.models import Bot
    from airflow_provider_attendee.meetings.presence import PresenceTracker


def bot_summary(bot: Bot, events: int = 3) -> dict[str, Any]:
    """What a resumed task needs to know about a bot: small and JSON-serialisable."""
    return {
        "bot_id": bot.id,
        "state": bot.state,
        "transcription_state": bot.transcription_state,
        "recording_state": bot.recording_state,
        "meeting_url": bot.meeting_url,
        "metadata": bot.metadata or {},
        "last_events": [{"type": e.type, "sub_type": e.sub_type} for e in bot.events[-events:]],
    }


def describe_events(summary: dict[str, Any]) -> str:
    events = summary.get("last_events") or []
    return (
        ", ".join(f"{e['type']}/{e['sub_type']}" if e.get("sub_type") else e["type"] for e in events)
        or "none"
    )


def evaluate_bot_state(
    bot: Bot, target_states: Iterable[str], failure_states: Iterable[str]
) -> tuple[str, str] | None:
    """("success"|"failure", message) once the bot is in a target or failure state, else None. A terminal
    state that is not a target always fails: the bot can never reach a target from there."""
    state = bot.state
    if state in target_states:
        return "success", f"Bot {bot.id} reached state {state}."
    if state in failure_states or state in TERMINAL:
        summary = bot_summary(bot)
        return "failure", (
            f"Bot {bot.id} reached state {state} instead of {', '.join(sorted(target_states))}; "
            f"its last events: {describe_events(summary)}."
        )
    return None


#: A finished bot's transcript states that mean nothing was ever transcribed (null: no default recording).
NEVER_TRANSCRIBED = frozenset({"not_started", None})


def nothing_transcribed(bot: Bot) -> bool:
    """Whether the bot finished (ended or failed) with its transcription never started: a silent meeting,
    or one nobody attended. The real server keeps ``not_started`` for good then, so the empty transcript
    is the outcome, not a wait."""
    return bot.state in ("ended", "fatal_error") and bot.transcription_state in NEVER_TRANSCRIBED


def evaluate_transcript(bot: Bot, require_recording: bool) -> tuple[str, str] | None:
    """Whether a bot's transcript (and recording) are ready, or can never be."""
    transcript_done = bot.transcription_state == "complete"
    recording_done = bot.recording_state == "complete" or not require_recording
    if transcript_done and recording_done:
        return "success", f"Bot {bot.id}: transcript{' and recording' if require_recording else ''} complete."
    if bot.state == "ended" and nothing_transcribed(bot) and recording_done:  # a bot that failed fails
        return "success", (
            f"Bot {bot.id} is {bot.state} and nothing was transcribed (transcription "
            f"{bot.transcription_state}): the transcript is final and empty."
        )
    failed = bot.transcription_state == "failed" or (require_recording and bot.recording_state == "failed")
    if failed or bot.state in TERMINAL:
        return "failure", (
            f"Bot {bot.id} is {bot.state} with transcription {bot.transcription_state} and recording "
            f"{bot.recording_state}: the transcript{' and recording' if require_recording else ''} will not "
            f"become complete (last events: {describe_events(bot_summary(bot))})."
        )
    return None


def count_verdict(
    bot: Bot, tracker: PresenceTracker, threshold: int, comparison: str
) -> dict[str, Any] | None:
    """The participant-count condition after the tracker took in the latest events (None: keep waiting)."""
    count = tracker.count
    satisfied = COMPARISONS[comparison]
    payload: dict[str, Any] = {
        "bot_id": bot.id,
        "count": count,
        "present": tracker.present_names,
        "condition": f"{comparison} {threshold}",
        "state": bot.state,
        "meeting_over": False,
    }
    if bot.state in TERMINAL or bot.state in LEAVING:
        if satisfied(0, threshold):
            return {
                **payload,
                "status": "success",
                "meeting_over": True,
                "count": 0,
                "present": [],
                "message": f"Bot {bot.id} is {bot.state}: the meeting is over for it, nobody is present.",
            }
        return {
            **payload,
            "status": "failure",
            "message": (
                f"Bot {bot.id} reached state {bot.state} while {count} present did not satisfy "
                f"{comparison} {threshold} (last events: {describe_events(bot_summary(bot))})."
            ),
        }
    if bot.state in PRE_JOIN or bot.state in NOT_ADMITTED:
        return None  # nobody can be counted before the bot is in
    if satisfied(count, threshold):
        return {
            **payload,
            "status": "success",
            "message": f"{count} present satisfies {comparison} {threshold}.",
        }
    return None


def waiting_for_state(bot: Bot, target_states: Iterable[str]) -> str:
    """The log line of a bot-state wait that goes on (the same in every mode)."""
    return f"Bot {bot.id} is {bot.state}; waiting for {', '.join(target_states)}"


def waiting_for_transcript(bot: Bot, require_recording: bool) -> str:
    """The log line of a transcript wait that goes on."""
    return (
        f"Bot {bot.id}: transcription {bot.transcription_state}, recording {bot.recording_state}; "
        f"waiting for the transcript{' and the recording' if require_recording else ''}"
    )


def waiting_for_count(bot: Bot, tracker: PresenceTracker, threshold: int, comparison: str) -> str:
    """The log line of a participant-count wait that goes on."""
    present = ", ".join(tracker.present_names) or "nobody"
    return f"Bot {bot.id} is {bot.state}; {tracker.count} present ({present}); waiting for {comparison} {threshold}"
