"""AttendeeScheduleCalendarBotsOperator: keep one bot per upcoming calendar event, idempotently."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator, Context

from airflow_provider_attendee import DEFAULT_BOT_NAME, DEFAULT_CONN_ID
from airflow_provider_attendee.calendar_sync import EventFilter, Selection, execute_plan, plan, summarise
from airflow_provider_attendee.exceptions import AttendeeCalendarSyncError, AttendeeConfigurationError

# The hook and models are imported where used: DAG files parse without loading them.
if TYPE_CHECKING:
    from airflow_provider_attendee.hooks.attendee import AttendeeHook
    from airflow_provider_attendee.models import CalendarEvent


def _as_datetime(value: Any, name: str) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    import pendulum

    try:
        parsed = pendulum.parse(str(value))
    except Exception:
        raise AttendeeConfigurationError(f"{name}={value!r} is not an ISO 8601 datetime.") from None
    if not isinstance(parsed, datetime):
        raise AttendeeConfigurationError(f"{name}={value!r} is not a datetime.")
    return parsed


class AttendeeScheduleCalendarBotsOperator(BaseOperator):
    """
    Reconcile bots with calendar events in a time window: create the missing ones, delete the unwanted.

    For each event starting in the window: an event that is not cancelled, has a meeting URL, passes the
    selection and has no live bot gets one (bound with ``calendar_event_id``, deduplication key
    ``<key_prefix><event id>``); an event that already has a live bot costs no request; the ``scheduled``
    bots of cancelled or deselected events are deleted. Creates and deletes run concurrently (at most
    ``max_concurrency``). A second run over an unchanged calendar sends no POST and no DELETE. Failures
    on some events do not stop the others; the task then fails listing them.

    :param calendar_id: only this calendar's events (templated).
    :param calendar_deduplication_key: only the events of the calendar with this key (templated).
    :param window_start: start of the window (templated; default: now, or the data interval start when
        ``use_data_interval``).
    :param window_end: end of the window (templated; default: window_start + ``lookahead``).
    :param lookahead: default window length.
    :param use_data_interval: take the window from the run's data interval.
    :param incremental: only list events updated since the previous successful run started (events that
        did not change need nothing new); falls back to a full listing on the first run.
    :param skip_name_regex: events whose name matches get no bot (case-insensitive).
    :param min_attendees: events with fewer attendees get no bot.
    :param attendee_domains: only events with an attendee from one of these email domains get a bot.
    :param event_filter: ``callable(CalendarEvent) -> bool``, applied after the built-in rules.
    :param bot_name: bot name; ``{event_name}``, ``{event_id}``, ``{start_time}``... are filled per event.
    :param metadata: bot metadata; values may use the same ``{field}`` placeholders.
    :param bot_settings: further bot fields for every bot (transcription_settings, webhooks, ...).
    :param key_prefix: prefix of the per-event deduplication key.
    :param max_concurrency: concurrent creates/deletes (default 8).
    :return: summary with counts and ids of created, skipped, cancelled and failed.
    """

    template_fields: Sequence[str] = (
        "calendar_id",
        "calendar_deduplication_key",
        "window_start",
        "window_end",
        "bot_name",
        "metadata",
        "bot_settings",
        "key_prefix",
    )
    ui_color = "#d9ecff"

    def __init__(
        self,
        *,
        calendar_id: str | None = None,
        calendar_deduplication_key: str | None = None,
        window_start: Any = None,
        window_end: Any = None,
        lookahead: timedelta = timedelta(hours=24),
        use_data_interval: bool = False,
        incremental: bool = False,
        skip_name_regex: str | None = None,
        min_attendees: int = 0,
        attendee_domains: Sequence[str] = (),
        event_filter: EventFilter | None = None,
        bot_name: str = DEFAULT_BOT_NAME,
        metadata: dict[str, str] | None = None,
        bot_settings: dict[str, Any] | None = None,
        key_prefix: str = "airflow-calendar-",
        max_concurrency: int = 8,
        attendee_conn_id: str = DEFAULT_CONN_ID,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.calendar_id = calendar_id
        self.calendar_deduplication_key = calendar_deduplication_key
        self.window_start = window_start
        self.window_end = window_end
        self.lookahead = lookahead
        self.use_data_interval = use_data_interval
        self.incremental = incremental
        self.selection = Selection(
            skip_name_regex=skip_name_regex,
            min_attendees=min_attendees,
            attendee_domains=tuple(attendee_domains),
            event_filter=event_filter,
        )
        self.bot_name = bot_name
        self.metadata = metadata
        self.bot_settings = bot_settings
        self.key_prefix = key_prefix
        if max_concurrency < 1:
            raise AttendeeConfigurationError(f"max_concurrency must be >= 1, got {max_concurrency}.")
        self.max_concurrency = max_concurrency
        self.attendee_conn_id = attendee_conn_id

    def window(self, context: Context) -> tuple[datetime, datetime]:
        if self.use_data_interval and context.get("data_interval_start") is not None:
            start = _as_datetime(context["data_interval_start"], "data_interval_start")
            end = _as_datetime(context["data_interval_end"], "data_interval_end")
            if end <= start:
                end = start + self.lookahead
        else:
            start = (
                _as_datetime(self.window_start, "window_start")
                if self.window_start
                else datetime.now(timezone.utc)
            )
            end = _as_datetime(self.window_end, "window_end") if self.window_end else start + self.lookahead
        if end <= start:
            raise AttendeeConfigurationError(f"The window ends ({end}) before it starts ({start}).")
        return start, end

    def updated_since(self, context: Context) -> datetime | None:
        if not self.incremental:
            return None
        previous = context.get("prev_start_date_success")
        return _as_datetime(previous, "prev_start_date_success") if previous else None

    def events_in_window(
        self, hook: AttendeeHook, start: datetime, end: datetime, updated_since: datetime | None
    ) -> Iterator[CalendarEvent]:
        """Events starting in [start, end), read lazily in start order: stops paging past the window."""
        for event in hook.list_calendar_events(
            calendar_id=self.calendar_id or None,
            calendar_deduplication_key=self.calendar_deduplication_key or None,
            start_time_gte=start,
            updated_at_gte=updated_since,
            ordering="start_time",
        ):
            if event.start_time >= end:
                return
            yield event

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_provider_attendee._http import format_datetime
        from airflow_provider_attendee.hooks.attendee import AttendeeHook

        hook = AttendeeHook(self.attendee_conn_id)
        settings = hook.settings  # resolved synchronously here; the async calls below reuse it
        start, end = self.window(context)
        since = self.updated_since(context)
        self.log.info(
            "Reconciling calendar events starting in [%s, %s)%s",
            start.isoformat(),
            end.isoformat(),
            f", updated since {since.isoformat()}" if since else "",
        )
        actions = plan(self.events_in_window(hook, start, end, since), self.selection)
        limit = (
            min(self.max_concurrency, settings.max_concurrency)
            if settings.max_concurrency
            else self.max_concurrency
        )
        outcome = asyncio.run(self._run(hook, actions, limit))
        summary = summarise(actions, outcome, [format_datetime(start, "start"), format_datetime(end, "end")])
        self.log.info("Calendar sync: %s", summary["counts"])
        for item in summary["created"]:
            self.log.info("Created bot %s for event %s", item["bot_id"], item["event_id"])
        for item in summary["cancelled"]:
            self.log.info("Deleted bot %s of event %s (%s)", item["bot_id"], item["event_id"], item["reason"])
        if summary["failed"]:
            lines = "\n".join(f"- {f['event_id']} ({f['action']}): {f['error']}" for f in summary["failed"])
            raise AttendeeCalendarSyncError(
                f"{len(summary['failed'])} of {summary['events_seen']} calendar events could not be reconciled "
                f"(the others were):\n{lines}"
            )
        return summary

    async def _run(self, hook: AttendeeHook, actions: Any, limit: int) -> Any:
        try:
            return await execute_plan(
                hook,
                actions,
                key_prefix=self.key_prefix,
                bot_name=self.bot_name,
                metadata=self.metadata,
                bot_settings=self.bot_settings,
                max_concurrency=limit,
            )
        finally:
            await (await hook.aget_client()).aclose()
