"""Operators that create a bot and make a bot leave."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import Context

from airflow_provider_attendee.client.states import TERMINAL, resolve_states
from airflow_provider_attendee.exceptions import (
    AttendeeBotFailedError,
    AttendeeDeduplicationKeyInUseError,
    AttendeeError,
    AttendeeInvalidStateError,
)
from airflow_provider_attendee.operators.base import AttendeeWaitingOperator
from airflow_provider_attendee.templating import is_templated

if TYPE_CHECKING:
    from airflow_provider_attendee.client.models import Bot

LEAVE_ACTION_XCOM_KEY = "attendee_leave_action"


def default_deduplication_key(dag_id: str, run_id: str, task_id: str, map_index: int) -> str:
    """Stable per task instance (not per try): a retry or a lost response finds the same bot."""
    digest = hashlib.sha256(f"{dag_id}\x00{run_id}\x00{task_id}\x00{map_index}".encode()).hexdigest()[:16]
    return f"airflow-{dag_id[:40]}-{task_id[:40]}-{map_index}-{digest}"


class AttendeeCreateBotOperator(AttendeeWaitingOperator):
    """
    Create an Attendee bot for a meeting, idempotently; optionally wait until it reaches a state.

    :param meeting_url: the Zoom, Google Meet or Teams URL (templated); or give ``calendar_event_id``.
    :param bot_name: the name shown in the meeting (templated).
    :param join_at: when to join (templated; datetime or ISO string); empty: join now.
    :param metadata: string key/values stored on the bot (templated).
    :param calendar_event_id: bind the bot to a calendar event (its URL and start time are used).
    :param deduplication_key: default: derived from dag_id, run_id, task_id and map_index, so a retry or a
        lost response never creates a second bot: when the key is in use, the live bot is reused.
    :param bot_settings: further bot fields passed through (transcription_settings, recording_settings,
        webhooks, ...) (templated).
    :param record_speech_events: ask the bot to record speech events (default True): merged into
        ``bot_settings`` as ``recording_settings.record_participant_speech_start_stop_events: true``,
        never over a value set there. The participant report then measures speaking time from them
        (without them, from the transcript). False sends ``bot_settings`` as given.
    :param wait_for_states: optionally wait until the bot is in one of these states (e.g.
        ``["joined_recording"]``), deferring when ``deferrable``.
    :param failure_states: states that end the wait with a failure (default: fatal_error, data_deleted,
        and ended unless waited for).
    :return: the bot id (XCom).
    """

    template_fields: Sequence[str] = (
        "meeting_url",
        "bot_name",
        "join_at",
        "metadata",
        "calendar_event_id",
        "deduplication_key",
        "bot_settings",
        "wait_for_states",
        "failure_states",
        "attendee_conn_id",
    )
    template_fields_renderers = {"metadata": "json", "bot_settings": "json"}

    def __init__(
        self,
        *,
        meeting_url: str | None = None,
        bot_name: str | None = None,
        join_at: Any = None,
        metadata: dict[str, str] | None = None,
        calendar_event_id: str | None = None,
        deduplication_key: str | None = None,
        bot_settings: dict[str, Any] | None = None,
        record_speech_events: bool = True,
        wait_for_states: Sequence[str] | None = None,
        failure_states: Sequence[str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.meeting_url = meeting_url
        self.bot_name = bot_name
        self.join_at = join_at
        self.metadata = metadata
        self.calendar_event_id = calendar_event_id
        self.deduplication_key = deduplication_key
        self.bot_settings = bot_settings
        self.record_speech_events = record_speech_events
        self.wait_for_states = wait_for_states
        self.failure_states = failure_states
        if wait_for_states and not is_templated(wait_for_states) and not is_templated(failure_states):
            resolve_states(
                wait_for_states, failure_states
            )  # a typo fails at parse time; templates at run time

    def _key(self, context: Context) -> str:
        if self.deduplication_key:
            return str(self.deduplication_key)
        ti = context["ti"]
        return default_deduplication_key(
            ti.dag_id, ti.run_id, ti.task_id, ti.map_index if ti.map_index is not None else -1
        )

    def _existing_bot(self, key: str) -> Bot | None:
        live = [bot for bot in self.hook.list_bots(deduplication_key=key) if bot.state not in TERMINAL]
        return live[-1] if live else None

    def execute(self, context: Context) -> str:
        from airflow_provider_attendee.client.bot_settings import with_report_settings

        if self.wait_for_states:  # rendered now: a bad state name fails before a bot is created
            resolve_states(self.wait_for_states, self.failure_states)
        key = self._key(context)
        settings = with_report_settings(self.bot_settings, self.record_speech_events)
        try:
            bot = self.hook.create_bot(
                self.meeting_url or None,
                bot_name=self.bot_name,
                join_at=self.join_at or None,
                deduplication_key=key,
                metadata=self.metadata,
                calendar_event_id=self.calendar_event_id or None,
                **settings,
            )
            self.log.info("Created bot %s (%s) with deduplication key %s", bot.id, bot.state, key)
        except AttendeeDeduplicationKeyInUseError:
            existing = self._existing_bot(key)
            if existing is None:
                raise
            bot = existing
            self.log.info(
                "Bot %s already exists for deduplication key %s (%s); reusing it",
                bot.id,
                key,
                bot.state,
            )
        self.push_bot_link(context, bot.id)
        if self.wait_for_states:
            self.wait_for_bot(context, bot.id, self.wait_for_states, self.failure_states)
        return bot.id


class AttendeeLeaveBotOperator(AttendeeWaitingOperator):
    """
    Make a bot leave its meeting; optionally wait until it has ``ended`` (transcript and recording ready).

    A bot that is already leaving, post-processing, ended, or never joined is left alone with a log line,
    unless ``fail_if_not_in_meeting``. A bot still ``scheduled`` is deleted when
    ``unschedule_if_scheduled`` (it would otherwise join later).

    :param bot_id: the bot (templated).
    :param fail_if_not_in_meeting: fail when the bot is not in a meeting (default: log and succeed).
    :param unschedule_if_scheduled: delete a bot that is still ``scheduled`` (it would join later).
    :param wait_for_end: wait until the bot has ``ended`` (transcript and recording ready), polling or
        deferring (see ``deferrable``, ``poke_interval`` and ``wait_timeout``).
    :return: ``{"bot_id", "state", "action"}`` with action one of left, unscheduled, none.
    """

    template_fields: Sequence[str] = ("bot_id", "attendee_conn_id")

    def __init__(
        self,
        *,
        bot_id: str,
        fail_if_not_in_meeting: bool = False,
        unschedule_if_scheduled: bool = False,
        wait_for_end: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.bot_id = bot_id
        self.fail_if_not_in_meeting = fail_if_not_in_meeting
        self.unschedule_if_scheduled = unschedule_if_scheduled
        self.wait_for_end = wait_for_end

    def execute(self, context: Context) -> dict[str, Any]:
        self.push_bot_link(context, self.bot_id)
        bot = self.hook.get_bot(self.bot_id)
        action = "none"
        if bot.is_in_meeting:
            try:
                bot = self.hook.leave_bot(self.bot_id)
                action = "left"
                self.log.info("Asked bot %s to leave its meeting; it is now %s", bot.id, bot.state)
            except AttendeeInvalidStateError:
                bot = self.hook.get_bot(self.bot_id)  # it left on its own meanwhile
                self.log.info("Bot %s left on its own meanwhile (%s)", bot.id, bot.state)
        elif bot.state == "scheduled" and self.unschedule_if_scheduled:
            self.hook.delete_bot(self.bot_id)
            self.log.info("Bot %s had not joined yet: unscheduled (deleted)", self.bot_id)
            return {"bot_id": self.bot_id, "state": "deleted", "action": "unscheduled"}
        else:
            message = f"Bot {bot.id} is {bot.state}, not in a meeting: nothing to leave."
            if self.fail_if_not_in_meeting:
                raise AttendeeBotFailedError(message + " (fail_if_not_in_meeting=True)")
            self.log.info(message)
        if self.wait_for_end and bot.state != "data_deleted":
            if bot.state in ("scheduled", "staged"):
                raise AttendeeError(
                    f"Bot {bot.id} is {bot.state}: it has not joined, so it will not end by leaving. "
                    "Set unschedule_if_scheduled=True or do not wait for the end."
                )
            # Kept in XCom: a deferred task resumes in a new process (and dag.test drops defer kwargs).
            context["ti"].xcom_push(key=LEAVE_ACTION_XCOM_KEY, value=action)
            summary = self.wait_for_bot(context, bot.id, ["ended"], ["fatal_error", "data_deleted"])
            return {"bot_id": bot.id, "state": summary["state"], "action": action}
        return {"bot_id": bot.id, "state": bot.state, "action": action}

    def execute_complete(self, context: Context, event: dict[str, Any]) -> Any:
        result = super().execute_complete(context, event)
        action = context["ti"].xcom_pull(task_ids=self.task_id, key=LEAVE_ACTION_XCOM_KEY)
        return {**result, "action": action or "left"}

    def result_from_event(self, event: dict[str, Any]) -> Any:
        return {"bot_id": event.get("bot_id"), "state": event.get("state")}
