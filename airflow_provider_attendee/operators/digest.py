"""The weekly meeting digest: SQL over the meeting tables, rendered as Markdown, HTML and PNG charts."""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

from airflow.sdk import BaseOperator, Context

from airflow_provider_attendee import DEFAULT_TABLES_CONN_ID
from airflow_provider_attendee.exceptions import AttendeeConfigurationError


class AttendeeMeetingDigestOperator(BaseOperator):
    """
    Write the digest of one week of meetings from the meeting tables (what the report operator's
    ``sql_conn_id`` wrote): meeting hours per week and per calendar, talk-time share per person with the
    trend against the previous weeks, attendance per recurring meeting, failed bots by reason.

    Files, in ``<destination>/<week's Monday>/``: ``digest.md``, ``digest.html`` and, with matplotlib
    (``airflow-provider-attendee[report]``), ``hours.png``, ``talk_share.png``, ``attendance.png`` and
    ``failures.png``; each written atomically, the HTML last (so it never shows a missing chart).

    :param sql_conn_id: the tables' SQL connection (templated; default: the embedded SQLite file).
    :param sql_tables: table names, as for the report operator.
    :param destination: folder as a path or URL (templated; default ``$AIRFLOW_HOME/attendee/digests``).
    :param week: ``previous`` (the last full week before the run's data interval end; default),
        ``current``, or a date in the wanted week, e.g. ``2026-11-30`` (templated).
    :param previous_weeks: weeks before it to compare with (default 4).
    :return: ``{"week", "paths", "headline"}``.
    """

    template_fields: Sequence[str] = ("sql_conn_id", "destination", "week", "title")
    ui_color = "#e8f4e8"

    def __init__(
        self,
        *,
        sql_conn_id: str = DEFAULT_TABLES_CONN_ID,
        sql_tables: dict[str, str] | None = None,
        destination: Any = None,
        week: str = "previous",
        previous_weeks: int = 4,
        title: str = "Meeting digest",
        charts: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.sql_conn_id = sql_conn_id
        self.sql_tables = sql_tables
        self.destination = destination
        self.week = week
        self.previous_weeks = previous_weeks
        self.title = title
        self.charts = charts

    def folder(self) -> Any:
        from airflow_provider_attendee.storage import as_path

        if self.destination:
            return as_path(self.destination)
        home = os.environ.get("AIRFLOW_HOME") or os.path.join(os.path.expanduser("~"), "airflow")
        return as_path(os.path.join(home, "attendee", "digests"))

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_provider_attendee.analytics import digest_render
        from airflow_provider_attendee.analytics.digest import digest_week
        from airflow_provider_attendee.hooks.meeting_tables import MeetingTables
        from airflow_provider_attendee.storage import write_text, write_with

        if not isinstance(self.previous_weeks, int) or not 0 <= self.previous_weeks <= 104:
            raise AttendeeConfigurationError(
                f"previous_weeks must be a whole number of weeks from 0 to 104, got {self.previous_weeks!r}."
            )
        reference = context.get("data_interval_end") or datetime.now(timezone.utc)
        try:
            week = digest_week(str(self.week or "previous"), reference)
        except ValueError:
            raise AttendeeConfigurationError(
                f"week={self.week!r} is not 'previous', 'current' or a date (YYYY-MM-DD)."
            ) from None
        tables = MeetingTables(self.sql_conn_id, self.sql_tables)
        digest = tables.digest(week, self.previous_weeks)
        folder = self.folder() / week.isoformat()
        paths: dict[str, str] = {}
        charts: dict[str, str] = {}
        writers = digest_render.chart_writers(digest) if self.charts else {}
        if writers is None:
            self.log.info(
                "matplotlib is not installed: no charts (pip install 'airflow-provider-attendee[report]')"
            )
        for key, writer in (writers or {}).items():
            name = digest_render.CHARTS[key]
            paths[key] = str(write_with(folder / name, writer, ".png"))
            charts[key] = name
        paths["markdown"] = str(
            write_text(folder / "digest.md", digest_render.to_markdown(digest, charts, self.title))
        )
        paths["html"] = str(
            write_text(folder / "digest.html", digest_render.to_html(digest, charts, self.title))
        )
        headline = digest.headline()
        self.log.info(
            "Digest of the week of %s from %s: %s -> %s", week, tables.describe(), headline, paths["html"]
        )
        return {"week": week.isoformat(), "paths": paths, "headline": headline}
