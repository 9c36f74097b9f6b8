"""Sensors that wait on Attendee bots: a state, a number of people present, a finished transcript.

Each works in poke mode and deferrable mode (default from ``[operators] default_deferrable``). Deferrable
sensors check once first, so a condition already met never defers, and pass their ``timeout`` to the
deferral so a timeout raises ``AirflowSensorTimeout``. A sensor's XCom is the same in both modes (each
sensor's docstring lists its keys).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseSensorOperator, Context, PokeReturnValue

from airflow_provider_attendee import DEFAULT_CONN_ID
from airflow_provider_attendee._compat import default_deferrable
from airflow_provider_attendee.client.states import resolve_states
from airflow_provider_attendee.exceptions import AttendeeBotFailedError, AttendeeError
from airflow_provider_attendee.links import AttendeeBotLink
from airflow_provider_attendee.meetings.arguments import compile_name_pattern, validate_threshold
from airflow_provider_attendee.operators.base import AttendeeHookMixin
from airflow_provider_attendee.templating import is_templated

# The hook, models and triggers are imported where used: DAG files parse without loading pydantic models.
if TYPE_CHECKING:
    from airflow_provider_attendee.meetings.presence import PresenceTracker
    from airflow_provider_attendee.triggers.attendee import AttendeePollingTrigger


class AttendeeBaseSensor(AttendeeHookMixin, BaseSensorOperator):
    """
    Shared plumbing: the hook, the bot link, deferral with the sensor's timeout, event handling.

    :param bot_id: the bot (templated).
    :param attendee_conn_id: the Attendee connection (default ``attendee_default``; templated).
    :param deferrable: wait in the triggerer (default ``[operators] default_deferrable``).
    :param poke_interval: seconds between two looks at the bot (default 30).
    :param max_transient_errors: deferrable only: consecutive failed polls (server errors, timeouts)
        the trigger tolerates before it fails the task (default 10).
    """

    operator_extra_links = (AttendeeBotLink(),)
    ui_color = "#e8f4ff"

    def __init__(
        self,
        *,
        bot_id: str,
        attendee_conn_id: str = DEFAULT_CONN_ID,
        deferrable: bool = default_deferrable(),
        poke_interval: float = 30.0,
        max_transient_errors: int = 10,
        **kwargs: Any,
    ) -> None:
        super().__init__(poke_interval=poke_interval, **kwargs)
        self.bot_id = bot_id
        self.attendee_conn_id = attendee_conn_id
        self.deferrable = deferrable
        self.max_transient_errors = max_transient_errors

    def _trigger_kwargs(self) -> dict[str, Any]:
        return {
            "bot_id": self.bot_id,
            "attendee_conn_id": self.attendee_conn_id,
            "poll_interval": self.poke_interval,
            "max_transient_errors": self.max_transient_errors,
        }

    def build_trigger(self) -> AttendeePollingTrigger:
        raise NotImplementedError

    def check(self, context: Context) -> dict[str, Any] | None:
        """One look at the bot: the XCom payload when the condition is met, None to keep waiting.
        Raises ``AttendeeBotFailedError`` when it can no longer be met."""
        raise NotImplementedError

    def poke(self, context: Context) -> PokeReturnValue:
        payload = self.check(context)
        return PokeReturnValue(is_done=payload is not None, xcom_value=payload)

    def execute(self, context: Context) -> Any:
        self.push_bot_link(context, self.bot_id)
        if not self.deferrable:
            return super().execute(context)
        payload = self.check(context)  # checked once first: a met condition never defers
        if payload is not None:
            return payload
        self.defer(
            trigger=self.build_trigger(),
            method_name="execute_complete",
            timeout=timedelta(seconds=float(self.timeout)),
        )

    def execute_complete(self, context: Context, event: dict[str, Any]) -> Any:
        """Resume after the trigger fired: every fact needed is in ``event``."""
        status = event.get("status")
        if status == "success":
            self.log.info(event.get("message", "condition met"))
            return self.payload(event)
        if status == "failure":
            raise AttendeeBotFailedError(event.get("message", f"Bot {self.bot_id} failed."))
        raise AttendeeError(
            f"Waiting on Attendee bot {event.get('bot_id', self.bot_id)} failed: {event.get('message')}. "
            "Check the connection and the bot id; the task may be retried."
        )

    def payload(self, facts: dict[str, Any]) -> dict[str, Any]:
        """The sensor's XCom, from a poke's facts or a trigger's event alike."""
        return {k: facts[k] for k in ("bot_id", "state") if k in facts}


class AttendeeBotStateSensor(AttendeeBaseSensor):
    """
    Wait until a bot is in one of ``target_states``.

    :param bot_id: the bot (templated).
    :param target_states: states that end the wait successfully, e.g. ``["joined_recording"]``.
    :param failure_states: states that fail the task at once (default: fatal_error, data_deleted, and
        ended when ended is not a target); the bot's last events are in the message.
    :return: ``{"bot_id", "state"}``.
    """

    template_fields: Sequence[str] = ("bot_id", "target_states", "failure_states", "attendee_conn_id")

    def __init__(
        self,
        *,
        bot_id: str,
        target_states: Sequence[str] | str,
        failure_states: Sequence[str] | str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(bot_id=bot_id, **kwargs)
        self.target_states = target_states
        self.failure_states = failure_states
        if not is_templated(target_states) and not is_templated(failure_states):
            resolve_states(target_states, failure_states)  # a typo fails at parse time; templates at run time

    def check(self, context: Context) -> dict[str, Any] | None:
        from airflow_provider_attendee.meetings.verdicts import evaluate_bot_state, waiting_for_state

        target, failure = resolve_states(self.target_states, self.failure_states)
        bot = self.hook.get_bot(self.bot_id)
        verdict = evaluate_bot_state(bot, target, failure)
        if verdict is None:
            self.log.info(waiting_for_state(bot, target))
            return None
        status, message = verdict
        if status == "failure":
            raise AttendeeBotFailedError(message)
        self.log.info(message)
        return self.payload({"bot_id": bot.id, "state": bot.state})

    def build_trigger(self) -> AttendeePollingTrigger:
        from airflow_provider_attendee.triggers.attendee import AttendeeBotStateTrigger

        target, failure = resolve_states(self.target_states, self.failure_states)
        return AttendeeBotStateTrigger(target_states=target, failure_states=failure, **self._trigger_kwargs())


class AttendeeTranscriptReadySensor(AttendeeBaseSensor):
    """
    Wait until the bot's transcript is complete (and its recording, with ``require_recording``).

    Fails when the bot finished or failed without them.

    :param bot_id: the bot (templated).
    :param require_recording: also wait for the recording to be complete.
    :return: ``{"bot_id", "state", "transcription_state", "recording_state"}``.
    """

    template_fields: Sequence[str] = ("bot_id", "attendee_conn_id")

    def __init__(self, *, bot_id: str, require_recording: bool = False, **kwargs: Any) -> None:
        super().__init__(bot_id=bot_id, **kwargs)
        self.require_recording = require_recording

    def check(self, context: Context) -> dict[str, Any] | None:
        from airflow_provider_attendee.meetings.verdicts import (
            bot_summary,
            evaluate_transcript,
            waiting_for_transcript,
        )

        bot = self.hook.get_bot(self.bot_id)
        verdict = evaluate_transcript(bot, self.require_recording)
        if verdict is None:
            self.log.info(waiting_for_transcript(bot, self.require_recording))
            return None
        status, message = verdict
        if status == "failure":
            raise AttendeeBotFailedError(message)
        self.log.info(message)
        return self.payload(bot_summary(bot))

    def build_trigger(self) -> AttendeePollingTrigger:
        from airflow_provider_attendee.triggers.attendee import AttendeeTranscriptReadyTrigger

        return AttendeeTranscriptReadyTrigger(
            require_recording=self.require_recording, **self._trigger_kwargs()
        )

    def payload(self, facts: dict[str, Any]) -> dict[str, Any]:
        keys = ("bot_id", "state", "transcription_state", "recording_state")
        return {k: facts[k] for k in keys if k in facts}


class AttendeeParticipantCountSensor(AttendeeBaseSensor):
    """
    Wait until the number of people in the meeting satisfies ``comparison threshold``.

    ``threshold=3, comparison=">="``: three people joined. ``threshold=1, comparison="<="``: the meeting is
    (nearly) empty. The bot never counts; ``exclude_host`` leaves the host out and ``name_pattern`` (a
    regex) counts only matching display names. Fails if the bot leaves the meeting first, unless zero
    people satisfy the condition (the meeting is over, so it is empty).

    :param bot_id: the bot (templated).
    :param threshold: the number of people (templated).
    :param comparison: one of ``>=``, ``>``, ``==``, ``<=``, ``<`` (templated).
    :param exclude_host: leave the meeting's host out of the count.
    :param name_pattern: count only display names matching this regex (templated).
    :return: ``{"bot_id", "count", "present", "state", "meeting_over"}``.
    """

    template_fields: Sequence[str] = ("bot_id", "threshold", "comparison", "name_pattern", "attendee_conn_id")

    def __init__(
        self,
        *,
        bot_id: str,
        threshold: int | str,
        comparison: str = ">=",
        exclude_host: bool = False,
        name_pattern: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(bot_id=bot_id, **kwargs)
        self.threshold = threshold
        self.comparison = comparison
        self.exclude_host = exclude_host
        self.name_pattern = name_pattern
        if not is_templated(threshold) and not is_templated(comparison):
            validate_threshold(threshold, comparison)
        if not is_templated(name_pattern):
            compile_name_pattern(name_pattern)
        self._tracker: PresenceTracker | None = None

    def _trigger(self) -> AttendeePollingTrigger:
        from airflow_provider_attendee.triggers.attendee import AttendeeParticipantCountTrigger

        threshold, comparison = validate_threshold(self.threshold, self.comparison)
        return AttendeeParticipantCountTrigger(
            threshold=threshold,
            comparison=comparison,
            exclude_host=self.exclude_host,
            name_pattern=self.name_pattern,
            presence=self._tracker.to_dict() if self._tracker else None,
            **self._trigger_kwargs(),
        )

    def check(self, context: Context) -> dict[str, Any] | None:
        from airflow_provider_attendee.meetings.presence import PresenceTracker
        from airflow_provider_attendee.meetings.verdicts import count_verdict, waiting_for_count

        threshold, comparison = validate_threshold(self.threshold, self.comparison)
        if self._tracker is None:
            self._tracker = PresenceTracker(exclude_host=self.exclude_host, name_pattern=self.name_pattern)
        bot = self.hook.get_bot(self.bot_id)
        self._tracker.apply(self.hook.list_participant_events(self.bot_id, after=self._tracker.read_after()))
        payload = count_verdict(bot, self._tracker, threshold, comparison)
        if payload is None:
            self.log.info(waiting_for_count(bot, self._tracker, threshold, comparison))
            return None
        if payload["status"] == "failure":
            raise AttendeeBotFailedError(payload["message"])
        self.log.info(payload["message"])
        return self.payload(payload)

    def build_trigger(self) -> AttendeePollingTrigger:
        return self._trigger()

    def payload(self, facts: dict[str, Any]) -> dict[str, Any]:
        return {k: facts[k] for k in ("bot_id", "count", "present", "state", "meeting_over") if k in facts}
