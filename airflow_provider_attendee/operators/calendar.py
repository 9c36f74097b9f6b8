"""AttendeeScheduleCalendarBotsOperator: keep one bot per upcoming calendar event, idempotently."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from airflow.sdk import Context

from airflow_provider_attendee import DEFAULT_BOT_NAME, DEFAULT_CONN_ID
from airflow_provider_attendee.exceptions import AttendeeCalendarSyncError, AttendeeConfigurationError
from airflow_provider_attendee.meetings.arguments import check_selection
from airflow_provider_attendee.operators.base import AttendeeBaseOperator

# The hook, models and the reconciliation are imported where used: DAG files parse without loading them.
if TYPE_CHECKING:
    from airflow_provider_attendee.client.models import CalendarEvent
    from airflow_provider_attendee.hooks.attendee import AttendeeHook
    from airflow_provider_attendee.meetings.calendar_plan import EventFilter, Selection


#: How far before the previous run the "changed since" listing starts (clock skew between Airflow and server).
CHANGE_MARGIN = timedelta(minutes=2)


def utcnow() -> datetime:
    """The operator's clock (one place, so tests can move it)."""
    return datetime.now(timezone.utc)


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


class AttendeeScheduleCalendarBotsOperator(AttendeeBaseOperator):
    """
    Keep exactly one bot per eligible upcoming calendar event: create the missing, delete the unwanted.

    An event is eligible when it is not cancelled, has a meeting URL and passes the selection. At time
    ``t`` the window is ``[t + lead_time, t + lookahead)`` (or ``[window_start, window_end)`` when given).
    Each eligible event starting in the window without a live bot gets one (bound with
    ``calendar_event_id``; deduplication key ``<key_prefix><event id>@<start epoch>``, so overlapping
    runs never double-book; when that key is held by a bot that no longer serves the event, e.g. one the
    server moved with the event and that was then staged, ``<that key>~<holder bot id>``); the
    ``scheduled`` bots of cancelled or deselected events are deleted. A
    bound ``scheduled`` bot follows its event on the server (new start, new link), so a rescheduled event
    keeps its bot. A bot past ``scheduled`` (staged minutes before joining, joining, in the meeting)
    neither follows nor can be deleted: if its event was moved, the event gets a new bot for the new start
    and the old one is reported under ``unremovable``, as are such bots of cancelled or deselected events.

    **Guarantee.** After a successful run at ``t``, every eligible event starting in
    ``[t + lead_time, t + lookahead)`` has exactly one live bot serving it, in both modes.

    **Modes and cost.** ``incremental=False`` lists every event of the window on every run.
    ``incremental=True`` lists only what can have changed since the previous successful run started
    (``p``): the events updated since ``p`` (minus a 2-minute margin for clock skew), and the events
    whose start entered the window since then (``[p + lookahead, t + lookahead)``). Events that did not
    change and were already in the window were settled by that run. The first run, and a run after
    failed or skipped ones, take ``p`` from the last successful run, so the time in between is caught up.
    An unchanged calendar costs only list pages (0 POST, 0 DELETE); a moving window costs the events
    that entered it. Out-of-band changes that do not touch the event (a bot deleted by hand) are seen by
    a full run: run one now and then (``incremental=False``) if such changes happen.

    **Failures.** Transient errors (5xx, 429 after retries, connection) fail the task after every other
    event was reconciled, so Airflow's retry finishes them. A permanent rejection of one event (a 4xx,
    e.g. a Zoom link in a project without Zoom credentials) is logged and listed under ``rejected`` with
    the server's message; with ``on_rejected="warn"`` (default) the task still succeeds, with ``"fail"``
    it fails. A refused event is remembered (in the task's XCom): while it is unchanged it is not sent
    again, only reported again, until its rejection is older than ``retry_rejected_after`` (the project
    may have been fixed meanwhile); a change to the event sends it again at once. In incremental mode, the
    run where rejections are due lists the whole window (so at most one full pass per that period).

    :param calendar_id: only this calendar's events (templated).
    :param calendar_deduplication_key: only the events of the calendar with this key (templated).
    :param window_start: start of the window (templated; default: now + ``lead_time``, or the data
        interval start when ``use_data_interval``).
    :param window_end: end of the window (templated; default: now + ``lookahead``).
    :param lookahead: how far ahead events get bots (default 24 h).
    :param lead_time: events starting sooner than this get no new bot (default 1 min): it could not join
        in time. Their existing bots are kept.
    :param use_data_interval: take the window from the run's data interval.
    :param incremental: list only what changed or entered the window since the previous successful run
        (see above); the first run lists everything.
    :param on_rejected: ``"warn"`` (default) or ``"fail"``: whether permanent rejections fail the task.
    :param retry_rejected_after: how long an unchanged refused event is not sent again (default 1 h).
    :param skip_name_regex: events whose name matches get no bot (case-insensitive).
    :param min_attendees: events with fewer attendees get no bot.
    :param attendee_domains: only events with an attendee from one of these email domains get a bot.
    :param event_filter: ``callable(CalendarEvent) -> bool``, applied after the built-in rules.
    :param bot_name: bot name; ``{event_name}``, ``{event_id}``, ``{start_time}``... are filled per event.
    :param metadata: bot metadata; values may use the same ``{field}`` placeholders.
    :param bot_settings: further bot fields for every bot (transcription_settings, webhooks, ...).
    :param record_speech_events: ask every bot to record speech events (default True), merged into
        ``bot_settings`` as ``recording_settings.record_participant_speech_start_stop_events: true``
        unless set there; False sends ``bot_settings`` as given.
    :param key_prefix: prefix of the per-event deduplication key.
    :param max_concurrency: concurrent creates/deletes (default 8).
    :param attendee_conn_id: the Attendee connection (default ``attendee_default``).
    :return: summary: window, mode, events listed, counts, and the created, cancelled, failed,
        rejected, unremovable and skipped events with reasons.
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
        "attendee_conn_id",
    )

    def __init__(
        self,
        *,
        calendar_id: str | None = None,
        calendar_deduplication_key: str | None = None,
        window_start: Any = None,
        window_end: Any = None,
        lookahead: timedelta = timedelta(hours=24),
        lead_time: timedelta = timedelta(minutes=1),
        use_data_interval: bool = False,
        incremental: bool = False,
        on_rejected: str = "warn",
        retry_rejected_after: timedelta = timedelta(hours=1),
        skip_name_regex: str | None = None,
        min_attendees: int = 0,
        attendee_domains: Sequence[str] = (),
        event_filter: EventFilter | None = None,
        bot_name: str = DEFAULT_BOT_NAME,
        metadata: dict[str, str] | None = None,
        bot_settings: dict[str, Any] | None = None,
        record_speech_events: bool = True,
        key_prefix: str = "airflow-calendar-",
        max_concurrency: int = 8,
        attendee_conn_id: str = DEFAULT_CONN_ID,
        **kwargs: Any,
    ) -> None:
        super().__init__(attendee_conn_id=attendee_conn_id, **kwargs)
        self.calendar_id = calendar_id
        self.calendar_deduplication_key = calendar_deduplication_key
        self.window_start = window_start
        self.window_end = window_end
        self.lookahead = lookahead
        self.lead_time = lead_time
        self.use_data_interval = use_data_interval
        self.incremental = incremental
        if on_rejected not in ("warn", "fail"):
            raise AttendeeConfigurationError(f'on_rejected must be "warn" or "fail", got {on_rejected!r}.')
        self.on_rejected = on_rejected
        self.retry_rejected_after = retry_rejected_after
        check_selection(skip_name_regex, min_attendees)
        self.skip_name_regex = skip_name_regex
        self.min_attendees = min_attendees
        self.attendee_domains = tuple(attendee_domains)
        self.event_filter = event_filter
        self.bot_name = bot_name
        self.metadata = metadata
        self.bot_settings = bot_settings
        self.record_speech_events = record_speech_events
        self.key_prefix = key_prefix
        if max_concurrency < 1:
            raise AttendeeConfigurationError(f"max_concurrency must be >= 1, got {max_concurrency}.")
        self.max_concurrency = max_concurrency

    @property
    def selection(self) -> Selection:
        """Which calendar events get a bot."""
        from airflow_provider_attendee.meetings.calendar_plan import Selection

        return Selection(
            skip_name_regex=self.skip_name_regex,
            min_attendees=self.min_attendees,
            attendee_domains=self.attendee_domains,
            event_filter=self.event_filter,
        )

    def window(self, context: Context, now: datetime) -> tuple[datetime, datetime]:
        if self.use_data_interval and context.get("data_interval_start") is not None:
            start = _as_datetime(context["data_interval_start"], "data_interval_start")
            end = _as_datetime(context["data_interval_end"], "data_interval_end")
            if end <= start:
                end = start + self.lookahead
        else:
            start = (
                _as_datetime(self.window_start, "window_start") if self.window_start else now + self.lead_time
            )
            end = (
                _as_datetime(self.window_end, "window_end")
                if self.window_end
                else start - self.lead_time + self.lookahead
            )
        if end <= start:
            raise AttendeeConfigurationError(f"The window ends ({end}) before it starts ({start}).")
        return start, end

    def updated_since(self, context: Context) -> datetime | None:
        if not self.incremental:
            return None
        previous = context.get("prev_start_date_success")
        return _as_datetime(previous, "prev_start_date_success") if previous else None

    def previous_summary(self, context: Context) -> Any:
        """This task's summary from the latest earlier run (where its rejections are remembered): one
        XCom read, whatever the number of earlier runs (``_compat.latest_prior_xcom`` says why)."""
        from airflow_provider_attendee._compat import latest_prior_xcom
        from airflow_provider_attendee.meetings.calendar_plan import latest_summary

        ti = context.get("ti")
        if ti is None:
            return None
        try:
            pulled = latest_prior_xcom(ti, self.task_id)
        except Exception as err:  # a missing memory costs one repeated request, never the sync
            self.log.warning(
                "Could not read the previous run's summary (%s): refused events are sent again.", err
            )
            return None
        summary = latest_summary(pulled)
        if pulled is not None and summary is None:
            self.log.warning(
                "The previous run's summary is unreadable (%s): refused events are sent again.",
                type(pulled).__name__,
            )
        return summary

    def events_in_window(
        self, hook: AttendeeHook, start: datetime, end: datetime, previous: datetime | None
    ) -> Iterator[CalendarEvent]:
        """The events to reconcile: all events starting in [start, end), or (incremental, with a previous
        successful run at ``previous``) those changed since then plus those that entered the window."""
        if previous is None:
            yield from self._list(hook, start, end, None)
            return
        seen: set[str] = set()
        for event in self._list(hook, start, end, previous - CHANGE_MARGIN):
            seen.add(event.id)
            yield event
        # The previous run's window ended at (at least) previous + its length: what starts after entered since.
        entered_from = max(start, previous + (end - start))
        for event in self._list(hook, entered_from, end, None):
            if event.id not in seen:
                yield event

    def _list(
        self, hook: AttendeeHook, start: datetime, end: datetime, updated_since: datetime | None
    ) -> Iterator[CalendarEvent]:
        """Events starting in [start, end), read lazily in start order: stops paging past the window."""
        if start >= end:
            return
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
        from airflow_provider_attendee.client.http import format_datetime
        from airflow_provider_attendee.meetings.calendar_plan import RejectionMemory, plan, summarise

        hook = self.hook
        settings = hook.settings  # resolved synchronously here; the async calls below reuse it
        now = utcnow()
        start, end = self.window(context, now)
        memory = RejectionMemory.from_summary(self.previous_summary(context), now, self.retry_rejected_after)
        since = self.updated_since(context)
        if memory.due(start):  # all refused events are sent again together: once per retry period
            memory.retry_all = True
            self.log.info("Refused events are due another try (retry_rejected_after): sending them again")
            since = None  # unchanged ones are not listed incrementally: list the whole window this time
        self.log.info(
            "Reconciling calendar events starting in [%s, %s)%s",
            start.isoformat(),
            end.isoformat(),
            f", changed or entered the window since {since.isoformat()}" if since else " (full listing)",
        )
        listed: set[str] = set()

        def events() -> Iterator[CalendarEvent]:
            for event in self.events_in_window(hook, start, end, since):
                listed.add(event.id)
                yield event

        actions = plan(events(), self.selection)
        held = [entry for entry in map(memory.holds, actions.create) if entry is not None]
        held_ids = {entry["event_id"] for entry in held}
        actions.create = [event for event in actions.create if event.id not in held_ids]
        limit = (
            min(self.max_concurrency, settings.max_concurrency)
            if settings.max_concurrency
            else self.max_concurrency
        )
        outcome = asyncio.run(self._run(hook, actions, limit))
        for entry in outcome.rejected:
            if entry["action"] == "create":
                entry.update(rejected_at=now.isoformat(), sent=True)
        outcome.rejected += held
        if since is not None:  # carry the standing rejections of unlisted (unchanged) events forward
            outcome.rejected += memory.carried(listed, start)
        outcome.rejected.sort(key=lambda item: item["event_id"])
        summary = summarise(actions, outcome, [format_datetime(start, "start"), format_datetime(end, "end")])
        summary["mode"] = "incremental" if since else "full"
        summary["synced_at"] = format_datetime(now, "now")  # which of several summaries is the latest
        self.log.info("Calendar sync (%s): %s", summary["mode"], summary["counts"])
        reasons = Counter(summary["skipped"].values())
        if reasons:  # why nothing was booked for an event, counted (each event is in the XCom)
            self.log.info(
                "Skipped %d event(s): %s",
                reasons.total(),
                "; ".join(f"{count} {reason}" for reason, count in reasons.most_common()),
            )
        for item in summary["created"]:
            if "deduplication_key" in item:  # its usual key is held by a bot that joins at another start
                self.log.info(
                    "Created bot %s for event %s with deduplication key %s: the event's usual key is held "
                    "by a bot that no longer serves it (see unremovable)",
                    item["bot_id"],
                    item["event_id"],
                    item["deduplication_key"],
                )
            else:
                self.log.info("Created bot %s for event %s", item["bot_id"], item["event_id"])
        for item in summary["cancelled"]:
            self.log.info("Deleted bot %s of event %s (%s)", item["bot_id"], item["event_id"], item["reason"])
        for event_id, message in summary["unremovable"].items():
            self.log.warning("Event %s: %s", event_id, message)
        for item in summary["rejected"]:
            if item.get("sent", True):
                self.log.warning(
                    "The server refused to %s a bot for event %s: %s",
                    item["action"],
                    item["event_id"],
                    item["error"],
                )
            else:
                self.log.warning(
                    "Event %s is unchanged since the server refused it at %s (not sent again before %s "
                    "has passed, or the event changes): %s",
                    item["event_id"],
                    item["rejected_at"],
                    self.retry_rejected_after,
                    item["error"],
                )
        if summary["failed"]:
            lines = "\n".join(f"- {f['event_id']} ({f['action']}): {f['error']}" for f in summary["failed"])
            raise AttendeeCalendarSyncError(
                f"{len(summary['failed'])} of {summary['events_seen']} calendar events could not be reconciled "
                f"(the others were):\n{lines}"
            )
        if summary["rejected"] and self.on_rejected == "fail":
            lines = "\n".join(f"- {f['event_id']} ({f['action']}): {f['error']}" for f in summary["rejected"])
            raise AttendeeCalendarSyncError(
                f"The server refused {len(summary['rejected'])} calendar event(s) (the others were reconciled; "
                f"fix the event or the project, or set on_rejected='warn'):\n{lines}"
            )
        return summary

    async def _run(self, hook: AttendeeHook, actions: Any, limit: int) -> Any:
        from airflow_provider_attendee.client.bot_settings import with_report_settings
        from airflow_provider_attendee.meetings.calendar_plan import execute_plan

        try:
            return await execute_plan(
                hook,
                actions,
                key_prefix=self.key_prefix,
                bot_name=self.bot_name,
                metadata=self.metadata,
                bot_settings=with_report_settings(self.bot_settings, self.record_speech_events),
                max_concurrency=limit,
            )
        finally:
            await hook.aclose()
