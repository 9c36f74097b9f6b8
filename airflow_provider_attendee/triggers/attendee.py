"""Triggers: async pollers of the Attendee API for deferrable sensors and event-driven DAGs.

Every trigger resolves its connection with ``aget_connection`` and polls through the hook's shared
``httpx.AsyncClient`` (one pool per connection in a triggerer), serialises only ids, states, thresholds
and intervals (never the key), and puts everything the resumed task needs into the event payload.

Retries have one layer: the trigger's poll loop. Its hook makes one attempt per request; a transient
error (5xx, 429, connection) is retried by the loop after a jittered backoff (capped at the poll
interval; a 429's Retry-After is honoured), up to ``max_transient_errors`` in a row. Polls are jittered
too, so a thousand triggers started together do not hit the server in lockstep.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import AsyncIterator
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from airflow.triggers.base import BaseEventTrigger, BaseTrigger, TriggerEvent

from airflow_provider_attendee import DEFAULT_CONN_ID
from airflow_provider_attendee.client.states import TERMINAL, parse_state
from airflow_provider_attendee.exceptions import (
    AttendeeConnectionError,
    AttendeeError,
    AttendeeRateLimitError,
    AttendeeServerError,
    AttendeeUnexpectedResponseError,
)
from airflow_provider_attendee.meetings.verdicts import (
    bot_summary,
    count_verdict,
    evaluate_bot_state,
    evaluate_transcript,
    waiting_for_count,
    waiting_for_state,
    waiting_for_transcript,
)

# The hook and its pydantic models are imported when a trigger runs (in the triggerer), not when a DAG
# file that creates one (an AssetWatcher's trigger) is parsed.
if TYPE_CHECKING:
    from airflow_provider_attendee.client.bot_watch import WatchState
    from airflow_provider_attendee.client.models import Bot
    from airflow_provider_attendee.hooks.attendee import AttendeeHook

TRANSIENT_ERRORS = (
    AttendeeConnectionError,
    AttendeeRateLimitError,
    AttendeeServerError,
    AttendeeUnexpectedResponseError,
)
DEFAULT_POLL_INTERVAL = 30.0
DEFAULT_MAX_TRANSIENT_ERRORS = 10


def poll_delay(interval: float) -> float:
    """The wait before the next poll: the interval, jittered by +-10% (triggers drift out of lockstep)."""
    return interval * random.uniform(0.9, 1.1)


def retry_delay(errors: int, interval: float, error: BaseException) -> float:
    """The wait after the ``errors``-th transient error in a row: what a 429 asks, else an exponential
    backoff capped at the poll interval, with equal jitter (half fixed, half random)."""
    if isinstance(error, AttendeeRateLimitError) and error.retry_after is not None:
        return max(error.retry_after, 0.0) + random.uniform(0, 1)
    ceiling = min(interval, 2.0**errors)
    return ceiling * random.uniform(0.5, 1.0)


async def back_off(log: Any, errors: int, limit: int, interval: float, error: BaseException) -> None:
    """Log the ``errors``-th transient error in a row and wait before the next poll (``retry_delay``)."""
    delay = retry_delay(errors, interval, error)
    log.warning("Transient Attendee error %d/%d, polling again in %.1fs: %s", errors, limit, delay, error)
    await asyncio.sleep(delay)


def single_attempt_hook(conn_id: str) -> AttendeeHook:
    """A hook that does not retry: inside a trigger, the poll loop is the only retry layer."""
    from airflow_provider_attendee.hooks.attendee import AttendeeHook

    return AttendeeHook(conn_id, max_retries=0)


class AttendeePollingTrigger(BaseTrigger):
    """Base of the Attendee triggers: a poll loop with bounded retries of transient errors."""

    def __init__(
        self,
        *,
        attendee_conn_id: str = DEFAULT_CONN_ID,
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

    def make_hook(self) -> AttendeeHook:
        return single_attempt_hook(self.attendee_conn_id)

    async def run(self) -> AsyncIterator[TriggerEvent]:
        hook = self.make_hook()
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
                await back_off(self.log, errors, self.max_transient_errors, self.poll_interval, err)
                continue
            except AttendeeError as err:
                yield TriggerEvent(self._error(str(err)))
                return
            if payload is not None:
                yield TriggerEvent(payload)
                return
            await asyncio.sleep(poll_delay(self.poll_interval))

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
            self.log.info(waiting_for_state(bot, self.target_states))
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
            self.log.info(waiting_for_transcript(bot, self.require_recording))
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
        from airflow_provider_attendee.meetings.presence import PresenceTracker

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
        verdict = count_verdict(bot, self.tracker, self.threshold, self.comparison)
        if verdict is None:
            self.log.info(waiting_for_count(bot, self.tracker, self.threshold, self.comparison))
        return verdict

    def _error(self, message: str) -> dict[str, Any]:
        return {"status": "error", "message": message, "bot_id": self.bot_id}


class AttendeeBotEventTrigger(BaseEventTrigger):
    """Event-driven scheduling: one event per bot that reaches ``state`` (default ``ended``), for
    ``AssetWatcher``: a DAG scheduled on the asset runs once per finished meeting.

    **Bounded polling.** Each poll costs what is new, never the history (``bot_watch``): for a terminal
    ``state`` (ended, fatal_error) the trigger lists the bots that are live (one page for up to 25), looks
    up those that left that list since the previous poll (one request per finished meeting), and re-reads
    the tail of the bots list (ordered by creation; usually one page) to find bots created since, so a bot
    that starts and finishes between two polls (one that fails to join within a second) is emitted too.
    For another state it lists the bots in that state.
    **State.** The live ids and the list's last page, in the asset state store where Airflow offers it
    (3.3+; in memory before), so the state is bounded, and a triggerer restart resumes where it was (a bot
    that finished meanwhile is still emitted, at least once).
    **First start.** It starts from now (its first poll walks the list once to find its end): bots that
    finished before are not emitted, unless ``not_before`` (an ISO time) asks for a one-off backfill of
    those whose last event is after it.

    Bots are filtered by ``meeting_url`` (server side; the URL may be given as copied from an invite, it
    is normalised the way the server stores it) and ``metadata`` key/values.
    """

    STATE_KEY_PREFIX = "attendee_watch:"

    def __init__(
        self,
        *,
        state: str = "ended",
        metadata: dict[str, str] | None = None,
        meeting_url: str | None = None,
        not_before: str | None = None,
        attendee_conn_id: str = DEFAULT_CONN_ID,
        poll_interval: float = 60.0,
        max_transient_errors: int = DEFAULT_MAX_TRANSIENT_ERRORS,
    ) -> None:
        super().__init__()
        self.state = parse_state(state)
        self.metadata = dict(metadata or {})
        self.meeting_url = meeting_url
        self.not_before = not_before
        self.attendee_conn_id = attendee_conn_id
        self.poll_interval = float(poll_interval)
        self.max_transient_errors = int(max_transient_errors)
        #: Terminal state: what the last look left (live ids, the list's tail). Other states: the bots
        #: already in it (as ``live``).
        self._watching: WatchState | None = None

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

    async def _load_watching(self) -> None:
        store = getattr(self, "asset_state_store", None)
        if store is None or self._watching is not None:
            return
        try:
            stored = await store.aget(self._state_key)
        except Exception as err:  # the store is best effort; memory still works while this process runs
            self.log.warning("Could not read the asset state store: %s", err)
            return
        from airflow_provider_attendee.client.bot_watch import WatchState

        self._watching = WatchState.from_json(stored)

    async def _save_watching(self) -> None:
        store = getattr(self, "asset_state_store", None)
        if store is None or self._watching is None:
            return
        try:
            await store.aset(self._state_key, self._watching.to_json())
        except Exception as err:
            self.log.warning("Could not write the asset state store: %s", err)

    def _wanted(self, bot: Bot) -> bool:
        return all((bot.metadata or {}).get(key) == value for key, value in self.metadata.items())

    def matches(self, bot: Bot) -> bool:
        """The metadata filter, and (for a backfill) the ``not_before`` cutoff on the bot's last event."""
        if not self._wanted(bot):
            return False
        if self.not_before and bot.events:
            cutoff = datetime.fromisoformat(self.not_before.replace("Z", "+00:00"))
            if cutoff.tzinfo is None:
                cutoff = cutoff.replace(tzinfo=timezone.utc)
            return bot.events[-1].created_at > cutoff
        return True

    async def poll(self, hook: AttendeeHook) -> tuple[list[Bot], WatchState]:
        """One look: the bots to emit now, and the state for the next look."""
        from airflow_provider_attendee.client.bot_watch import WatchState, look

        first = self._watching is None
        if self.state in TERMINAL:
            found, watching = await look(
                hook, self._watching, {self.state}, meeting_url=self.meeting_url, wanted=self._wanted
            )
            for item in found:
                self.log.info("Bot %s reached %s: %s", item.bot.id, item.bot.state, item.how)
            finished = [item.bot for item in found]
            if first and self.not_before:  # a one-off backfill, asked for
                finished += [
                    bot
                    async for bot in hook.alist_bots(states=[self.state], meeting_url=self.meeting_url)
                    if self.matches(bot)
                ]
            return finished, watching
        current = [
            bot
            async for bot in hook.alist_bots(states=[self.state], meeting_url=self.meeting_url)
            if self._wanted(bot)
        ]
        seen = self._watching.live if self._watching else set()
        now_in_state = WatchState(live={bot.id for bot in current})
        if first and not self.not_before:
            return [], now_in_state  # starts from now
        return [bot for bot in current if bot.id not in seen and self.matches(bot)], now_in_state

    async def run(self) -> AsyncIterator[TriggerEvent]:
        hook = single_attempt_hook(self.attendee_conn_id)
        await self._load_watching()
        errors = 0
        while True:
            try:
                finished, watching = await self.poll(hook)
                errors = 0
            except TRANSIENT_ERRORS as err:
                errors += 1
                if errors > self.max_transient_errors:
                    raise
                await back_off(self.log, errors, self.max_transient_errors, self.poll_interval, err)
                continue
            for bot in finished:
                yield TriggerEvent({"status": "success", **bot_summary(bot)})
            # Saved once the triggerer took the events: a crash in between emits them again (at least
            # once), it never loses a finished meeting.
            self._watching = watching
            await self._save_watching()
            await asyncio.sleep(poll_delay(self.poll_interval))
