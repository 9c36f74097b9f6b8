"""What the Attendee operators and sensors share: the connection, the hook, the bot link; and waiting for
a bot state, for the operators that wait."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator, Context

from airflow_provider_attendee import DEFAULT_CONN_ID
from airflow_provider_attendee._compat import AirflowSensorTimeout, default_deferrable
from airflow_provider_attendee.client.states import resolve_states
from airflow_provider_attendee.exceptions import AttendeeBotFailedError, AttendeeError
from airflow_provider_attendee.links import BOT_URL_XCOM_KEY, AttendeeBotLink

# The hook, models and triggers are imported where used: DAG files parse without loading pydantic models.
if TYPE_CHECKING:
    from airflow_provider_attendee.hooks.attendee import AttendeeHook


class AttendeeHookMixin:
    """What every Attendee operator and sensor shares: the connection id, the hook, the bot link."""

    attendee_conn_id: str

    @cached_property
    def hook(self) -> AttendeeHook:
        from airflow_provider_attendee.hooks.attendee import AttendeeHook

        return AttendeeHook(self.attendee_conn_id)

    def push_bot_link(self, context: Context, bot_id: str) -> None:
        """Make the bot link available right away, also while the task is deferred or after it failed.
        Without the connection's ``project_id`` there is no page to link to: the value is None and no link
        is shown (pushed all the same: Airflow 3.1 logs an error for a link whose XCom is missing)."""
        context["ti"].xcom_push(key=BOT_URL_XCOM_KEY, value=self.hook.settings.bot_url(bot_id))


class AttendeeBaseOperator(AttendeeHookMixin, BaseOperator):
    """
    Base of the Attendee operators.

    :param attendee_conn_id: the Attendee connection (default ``attendee_default``; templated).
    """

    template_fields: Sequence[str] = ("attendee_conn_id",)
    ui_color = "#d9ecff"

    def __init__(self, *, attendee_conn_id: str = DEFAULT_CONN_ID, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.attendee_conn_id = attendee_conn_id


class AttendeeWaitingOperator(AttendeeBaseOperator):
    """
    Base of the operators that can wait for a bot state (create, leave): polling, or deferring to the
    same trigger as ``AttendeeBotStateSensor``.

    :param deferrable: wait in the triggerer instead of a worker slot (default ``[operators]
        default_deferrable``).
    :param poke_interval: seconds between two looks at the bot while waiting (default 30).
    :param wait_timeout: seconds to wait at most before ``AirflowSensorTimeout`` (default 6 h).
    """

    operator_extra_links = (AttendeeBotLink(),)

    def __init__(
        self,
        *,
        deferrable: bool = default_deferrable(),
        poke_interval: float = 30.0,
        wait_timeout: float = 6 * 3600.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.deferrable = deferrable
        self.poke_interval = poke_interval
        self.wait_timeout = wait_timeout

    def wait_for_bot(
        self,
        context: Context,
        bot_id: str,
        target_states: Sequence[str],
        failure_states: Sequence[str] | None = None,
    ) -> dict[str, Any]:
        """Return once the bot is in a target state; defers (same trigger as the sensor) if deferrable."""
        from airflow_provider_attendee.meetings.verdicts import (
            bot_summary,
            evaluate_bot_state,
            waiting_for_state,
        )
        from airflow_provider_attendee.triggers.attendee import AttendeeBotStateTrigger

        targets, failures = resolve_states(target_states, failure_states)
        bot = self.hook.get_bot(bot_id)
        deadline = time.monotonic() + self.wait_timeout
        while True:
            verdict = evaluate_bot_state(bot, targets, failures)
            if verdict is not None:
                status, message = verdict
                if status == "failure":
                    raise AttendeeBotFailedError(message)
                self.log.info(message)
                return bot_summary(bot)
            if self.deferrable:
                self.defer(
                    trigger=AttendeeBotStateTrigger(
                        bot_id=bot_id,
                        target_states=targets,
                        failure_states=failures,
                        attendee_conn_id=self.attendee_conn_id,
                        poll_interval=self.poke_interval,
                    ),
                    method_name="execute_complete",
                    timeout=timedelta(seconds=self.wait_timeout),
                )
            if time.monotonic() >= deadline:
                raise AirflowSensorTimeout(
                    f"Bot {bot_id} is still {bot.state} after {self.wait_timeout:g}s waiting for "
                    f"{', '.join(targets)}."
                )
            self.log.info(waiting_for_state(bot, targets))
            time.sleep(self.poke_interval)
            bot = self.hook.get_bot(bot_id)

    def execute_complete(self, context: Context, event: dict[str, Any]) -> Any:
        """Resume after the bot-state trigger fired; the event carries the bot id and state."""
        status = event.get("status")
        if status == "failure":
            raise AttendeeBotFailedError(event.get("message", "the bot failed"))
        if status != "success":
            raise AttendeeError(
                f"Waiting for Attendee bot {event.get('bot_id')} failed: {event.get('message')}"
            )
        self.log.info(event.get("message"))
        return self.result_from_event(event)

    def result_from_event(self, event: dict[str, Any]) -> Any:
        return event.get("bot_id")
