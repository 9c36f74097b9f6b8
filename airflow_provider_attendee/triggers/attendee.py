"""Triggers: async pollers of the Attendee API for deferrable sensors and event-driven DAGs.

Every trigger resolves its connection with ``aget_connection`` and polls through the hook's shared
``httpx.AsyncClient`` (one pool per connection in a triggerer), absorbs transient API errors with
backoff up to a bound, serialises only ids, states, thresholds and intervals (never the key), and puts
everything the resumed task needs into the event payload.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import AsyncIterator, Iterable
from datetime import datetime, timezone
from typing import Any

from airflow.triggers.base import BaseEventTrigger, BaseTrigger, TriggerEvent

from airflow_provider_attendee.exceptions import (
    AttendeeConnectionError,
    AttendeeError,
    AttendeeRateLimitError,
    AttendeeServerError,
    AttendeeUnexpectedResponseError,
)
from airflow_provider_attendee.hooks.attendee import AttendeeHook
from airflow_provider_attendee.models import LEAVING_STATES, TERMINAL_STATES, Bot, BotState
from airflow_provider_attendee.presence import COMPARISONS, PresenceTracker

TRANSIENT_ERRORS = (
    AttendeeConnectionError,
    AttendeeRateLimitError,
    AttendeeServerError,
    AttendeeUnexpectedResponseError,
)
DEFAULT_POLL_INTERVAL = 30.0
NOT_YET_IN_MEETING = frozenset(
    {BotState.READY, BotState.SCHEDULED, BotState.STAGED, BotState.JOINING, BotState.WAITING_ROOM}
)
DEFAULT_MAX_TRANSIENT_ERRORS = 10


def bot_summary(bot: Bot, events: int = 3) -> dict[str, Any]:
    """What a resumed task needs to know about a bot: small and JSON-serialisable."""
    return {
        "bot_id": bot.id,
        "state": bot.state.value,
        "transcription_state": bot.transcription_state.value,
        "recording_state": bot.recording_state.value,
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
    """("success"|"failure", message) once the bot is in a target or failure state, else None."""
    state = bot.state.value
    if state in target_states:
        return "success", f"Bot {bot.id} reached state {state}."
    if state in failure_states:
        summary = bot_summary(bot)
        return "failure", (
            f"Bot {bot.id} reached state {state} instead of {', '.join(sorted(target_states))}; "
            f"its last events: {describe_events(summary)}."
        )
    return None


def evaluate_transcript(bot: Bot, require_recording: bool) -> tuple[str, str] | None:
    """Whether a bot's transcript (and recording) are ready, or can never be."""
    transcript_done = bot.transcription_state.value == "complete"
    recording_done = bot.recording_state.value == "complete" or not require_recording
    if transcript_done and recording_done:
        return "success", f"Bot {bot.id}: transcript{' and recording' if require_recording else ''} complete."
    failed = bot.transcription_state.value == "failed" or (
        require_recording and bot.recording_state.value == "failed"
    )
    if failed or bot.state in TERMINAL_STATES:
        return "failure", (
            f"Bot {bot.id} is {bot.state.value} with transcription {bot.transcription_state.value} and recording "
            f"{bot.recording_state.value}: the transcript{' and recording' if require_recording else ''} will not "
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
        "state": bot.state.value,
    }
    if bot.state in TERMINAL_STATES or bot.state in LEAVING_STATES:
        if satisfied(0, threshold):
            return {
                **payload,
                "status": "success",
                "meeting_over": True,
                "count": 0,
                "message": f"Bot {bot.id} is {bot.state.value}: the meeting is over for it, nobody is present.",
            }
        return {
            **payload,
            "status": "failure",
            "message": (
                f"Bot {bot.id} reached state {bot.state.value} while {count} present did not satisfy "
                f"{comparison} {threshold} (last events: {describe_events(bot_summary(bot))})."
            ),
        }
    if bot.state in NOT_YET_IN_MEETING:
        return None  # nobody can be counted before the bot is in
    if satisfied(count, threshold):
        return {
            **payload,
            "status": "success",
            "message": f"{count} present satisfies {comparison} {threshold}.",
        }
    return None


class AttendeePollingTrigger(BaseTrigger):
    """Base of the Attendee triggers: a poll loop with bounded retries of transient errors."""

    def __init__(
        self,
        *,
        attendee_conn_id: str = AttendeeHook.default_conn_name,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        max_transient_errors: int = DEFAULT_MAX_TRANSIENT_ERRORS,
    ) -> None:
        super().__init__()
        self.attendee_conn_id = attendee_conn_id
        self.poll_interval = float(poll_interval)
        self.max_transient_errors = int(max_transient_errors)

    def _base_kwargs(self) -> dict[str, Any]:
        return {
            "attendee_conn_id": self.attendee_conn_id,
            "poll_interval": self.poll_interval,
            "max_transient_errors": self.max_transient_errors,
        }

    async def poll(self, hook: AttendeeHook) -> dict[str, Any] | None:
        """One check; return the event payload when done, else None."""
        raise NotImplementedError

    async def run(self) -> AsyncIterator[TriggerEvent]:
        hook = AttendeeHook(self.attendee_conn_id)
        errors = 0
        while True:
            try:
                payload = await self.poll(hook)
                errors = 0
            except TRANSIENT_ERRORS as err:
                errors += 1
                if errors > self.max_transient_errors:
                    yield TriggerEvent(
                        self._error(f"gave up after {errors} transient errors in a row: {err}")
                    )
                    return
                delay = min(self.poll_interval, 2.0**errors) * random.uniform(0.5, 1.0)
                self.log.warning(
                    "Transient Attendee error %d/%d, polling again in %.1fs: %s",
                    errors,
                    self.max_transient_errors,
                    delay,
                    err,
                )
                await asyncio.sleep(delay)
                continue
            except AttendeeError as err:
                yield TriggerEvent(self._error(str(err)))
                return
            if payload is not None:
                yield TriggerEvent(payload)
                return
            await asyncio.sleep(self.poll_interval)

    def _error(self, message: str) -> dict[str, Any]:
        return {"status": "error", "message": message}


class AttendeeBotStateTrigger(AttendeePollingTrigger):
    """Fires when a bot reaches one of ``target_states`` (success) or ``failure_states`` (failure)."""

    def __init__(
        self,
        *,
        bot_id: str,
        target_states: list[str],
        failure_states: list[str],
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.bot_id = bot_id
        self.target_states = list(target_states)
        self.failure_states = list(failure_states)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "bot_id": self.bot_id,
                "target_states": self.target_states,
                "failure_states": self.failure_states,
                **self._base_kwargs(),
            },
        )

    async def poll(self, hook: AttendeeHook) -> dict[str, Any] | None:
        bot = await hook.aget_bot(self.bot_id)
        verdict = evaluate_bot_state(bot, self.target_states, self.failure_states)
        if verdict is None:
            self.log.info(
                "Bot %s is %s; waiting for %s", bot.id, bot.state.value, ", ".join(self.target_states)
            )
            return None
        status, message = verdict
        return {"status": status, "message": message, **bot_summary(bot)}

    def _error(self, message: str) -> dict[str, Any]:
        return {"status": "error", "message": message, "bot_id": self.bot_id}


class AttendeeTranscriptReadyTrigger(AttendeePollingTrigger):
    """Fires when the bot's transcript (and optionally its recording) is complete, or never will be."""

    def __init__(self, *, bot_id: str, require_recording: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.bot_id = bot_id
        self.require_recording = bool(require_recording)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {"bot_id": self.bot_id, "require_recording": self.require_recording, **self._base_kwargs()},
        )

    async def poll(self, hook: AttendeeHook) -> dict[str, Any] | None:
        bot = await hook.aget_bot(self.bot_id)
        verdict = evaluate_transcript(bot, self.require_recording)
        if verdict is None:
            return None
        status, message = verdict
        return {"status": status, "message": message, **bot_summary(bot)}

    def _error(self, message: str) -> dict[str, Any]:
        return {"status": "error", "message": message, "bot_id": self.bot_id}


class AttendeeParticipantCountTrigger(AttendeePollingTrigger):
    """Fires when the number of people present satisfies ``<comparison> <threshold>``.

    The count comes from participant events read incrementally (``after`` the newest event seen minus a
    margin, de-duplicated by id). The participants endpoint is not used: it lists everyone ever seen, not
    who is present. When the bot is no longer in the meeting, nobody is observable any more: a condition
    that zero people satisfy (e.g. ``<= 1``) succeeds with ``meeting_over``; any other fails.
    """

    def __init__(
        self,
        *,
        bot_id: str,
        threshold: int,
        comparison: str = ">=",
        exclude_host: bool = False,
        name_pattern: str | None = None,
        presence: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.bot_id = bot_id
        self.threshold = int(threshold)
        self.comparison = comparison
        self.tracker = (
            PresenceTracker.from_dict(presence)
            if presence
            else PresenceTracker(exclude_host=exclude_host, name_pattern=name_pattern)
        )

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "bot_id": self.bot_id,
                "threshold": self.threshold,
                "comparison": self.comparison,
                "exclude_host": self.tracker.exclude_host,
                "name_pattern": self.tracker.name_pattern,
                "presence": self.tracker.to_dict(),
                **self._base_kwargs(),
            },
        )

    async def poll(self, hook: AttendeeHook) -> dict[str, Any] | None:
        bot = await hook.aget_bot(self.bot_id)
        events = [
            e async for e in hook.alist_participant_events(self.bot_id, after=self.tracker.read_after())
        ]
        self.tracker.apply(events)
        return count_verdict(bot, self.tracker, self.threshold, self.comparison)

    def _error(self, message: str) -> dict[str, Any]:
        return {"status": "error", "message": message, "bot_id": self.bot_id}


class AttendeeBotEventTrigger(BaseEventTrigger):
    """Event-driven scheduling: one event per bot that reaches ``state`` (default ``ended``).

    For ``AssetWatcher``: a DAG scheduled on the asset runs once per finished meeting. Bots are filtered
    by ``meeting_url`` (server side) and ``metadata`` key/values. The ids already emitted are kept in the
    asset state store where Airflow offers it (3.3+), so a triggerer restart does not emit them again;
    on older Airflow they are kept in memory, and ``not_before`` (a fixed ISO time) bounds what a restart
    can re-emit: only bots whose last event is after it count.
    """

    STATE_KEY_PREFIX = "attendee_emitted:"

    def __init__(
        self,
        *,
        state: str = "ended",
        metadata: dict[str, str] | None = None,
        meeting_url: str | None = None,
        not_before: str | None = None,
        attendee_conn_id: str = AttendeeHook.default_conn_name,
        poll_interval: float = 60.0,
        max_transient_errors: int = DEFAULT_MAX_TRANSIENT_ERRORS,
    ) -> None:
        super().__init__()
        self.state = BotState.parse(state).value
        self.metadata = dict(metadata or {})
        self.meeting_url = meeting_url
        self.not_before = not_before
        self.attendee_conn_id = attendee_conn_id
        self.poll_interval = float(poll_interval)
        self.max_transient_errors = int(max_transient_errors)
        self._emitted: set[str] = set()

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "state": self.state,
                "metadata": self.metadata,
                "meeting_url": self.meeting_url,
                "not_before": self.not_before,
                "attendee_conn_id": self.attendee_conn_id,
                "poll_interval": self.poll_interval,
                "max_transient_errors": self.max_transient_errors,
            },
        )

    @property
    def _state_key(self) -> str:
        spec = json.dumps([self.state, self.metadata, self.meeting_url], sort_keys=True)
        return self.STATE_KEY_PREFIX + spec

    async def _load_emitted(self) -> None:
        store = getattr(self, "asset_state_store", None)
        if store is None:
            return
        try:
            stored = await store.aget(self._state_key)
        except Exception as err:  # the store is best effort; memory still guarantees once per run
            self.log.warning("Could not read the asset state store: %s", err)
            return
        if isinstance(stored, list):
            self._emitted.update(str(bot_id) for bot_id in stored)

    async def _save_emitted(self) -> None:
        store = getattr(self, "asset_state_store", None)
        if store is None:
            return
        try:
            await store.aset(self._state_key, sorted(self._emitted))
        except Exception as err:
            self.log.warning("Could not write the asset state store: %s", err)

    def matches(self, bot: Bot) -> bool:
        if any((bot.metadata or {}).get(key) != value for key, value in self.metadata.items()):
            return False
        if self.not_before and bot.events:
            cutoff = datetime.fromisoformat(self.not_before.replace("Z", "+00:00"))
            if cutoff.tzinfo is None:
                cutoff = cutoff.replace(tzinfo=timezone.utc)
            return bot.events[-1].created_at > cutoff
        return True

    async def run(self) -> AsyncIterator[TriggerEvent]:
        hook = AttendeeHook(self.attendee_conn_id)
        await self._load_emitted()
        errors = 0
        while True:
            try:
                fresh = [
                    bot
                    async for bot in hook.alist_bots(states=[self.state], meeting_url=self.meeting_url)
                    if bot.id not in self._emitted and self.matches(bot)
                ]
                errors = 0
            except TRANSIENT_ERRORS as err:
                errors += 1
                if errors > self.max_transient_errors:
                    raise
                self.log.warning("Transient Attendee error %d/%d: %s", errors, self.max_transient_errors, err)
                await asyncio.sleep(min(self.poll_interval, 2.0**errors))
                continue
            for bot in fresh:
                self._emitted.add(bot.id)
                yield TriggerEvent({"status": "success", **bot_summary(bot)})
                # Saved once the triggerer took the event: a crash in between re-emits (at least once),
                # it never loses a finished meeting.
                await self._save_emitted()
            await asyncio.sleep(self.poll_interval)
