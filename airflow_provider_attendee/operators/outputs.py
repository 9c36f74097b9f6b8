"""Operators that fetch what a bot produced: transcript, recording, and the participant report."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NoReturn

from airflow.sdk import Context

from airflow_provider_attendee._compat import conf
from airflow_provider_attendee.client.states import DEPARTURE_EVENTS, JOINED_EVENT, LEFT_EVENTS, TERMINAL
from airflow_provider_attendee.exceptions import (
    AttendeeBotFailedError,
    AttendeeConfigurationError,
    AttendeeDestinationError,
    AttendeeNotFoundError,
    AttendeeRecordingMissingError,
    AttendeeTranscriptNotReadyError,
)
from airflow_provider_attendee.links import AttendeeBotLink
from airflow_provider_attendee.operators.base import AttendeeBaseOperator
from airflow_provider_attendee.storage import (
    as_path,
    atomic_open,
    default_destination,
    write_text,
    write_with,
)
from airflow_provider_attendee.templating import is_templated

# Models, renderers and the report are imported where used: DAG files parse without loading them.
if TYPE_CHECKING:
    from airflow_provider_attendee.client.models import Bot
    from airflow_provider_attendee.meetings.report import MeetingReport

log = logging.getLogger(__name__)

#: Executors that run every task on this machine: the default local destination is safe with them.
LOCAL_EXECUTORS = frozenset({"LocalExecutor", "SequentialExecutor", "DebugExecutor"})


#: The transcript operator's note for a bot that finished with nothing transcribed (an empty transcript).
NOTHING_TRANSCRIBED = "nothing_transcribed"

#: What AttendeeRecordingOperator does when the bot has no recording file.
IF_MISSING = ("fail", "skip")


def runs_tasks_elsewhere(executor: Any) -> bool:
    """Whether an executor setting (``a,b`` for several) runs tasks on other machines than this one."""
    return not all(name.strip().rsplit(".", 1)[-1] in LOCAL_EXECUTORS for name in str(executor).split(","))


def meeting_window_ms(bot: Bot) -> tuple[int | None, int | None]:
    """When the bot was in the meeting, from its events (epoch ms): joined, and left or meeting ended
    (while it is still leaving: when it was asked to leave)."""
    start = next((e for e in bot.events if e.type == JOINED_EVENT), None)
    end = next((e for e in bot.events if e.type in LEFT_EVENTS), None) or next(
        (e for e in bot.events if e.type in DEPARTURE_EVENTS), None
    )

    def ms(event: Any) -> int | None:
        return round(event.created_at.timestamp() * 1000) if event is not None else None

    return ms(start), ms(end)


class _OutputOperator(AttendeeBaseOperator):
    """A bot's results written under ``destination`` (a folder; default under $AIRFLOW_HOME/attendee)."""

    operator_extra_links = (AttendeeBotLink(),)

    def __init__(self, *, bot_id: str, destination: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.bot_id = bot_id
        self.destination = destination

    def folder(self, context: Context) -> Any:
        if self.destination:
            return as_path(self.destination)
        ti = context["ti"]
        local = default_destination(ti.dag_id, ti.run_id, self.bot_id)
        executor = self.executor or conf.get("core", "executor", fallback="LocalExecutor")
        if runs_tasks_elsewhere(executor):
            self.log.warning(
                "No destination given: writing to %s on this worker's own disk. With %s, tasks run on other "
                "machines and cannot read it: set destination= to shared storage (s3://conn@bucket/prefix, "
                "gs://..., or a mount every worker shares).",
                local,
                executor,
            )
        return as_path(local)


class AttendeeTranscriptOperator(_OutputOperator):
    """
    Write a bot's transcript to ``destination``: ``transcript.json`` and optionally txt, vtt and srt.

    Speaker names and timestamps are kept (offsets from the recording start; without a recording file,
    from when the bot joined). Fails with ``AttendeeTranscriptNotReadyError`` (retried) while the
    transcript is not complete, unless ``allow_incomplete``. A bot that finished with nothing transcribed
    (a silent meeting, nobody attended: the server keeps ``transcription_state`` ``not_started`` for good)
    gets an empty transcript in every format and the note ``nothing_transcribed``; a failed transcription
    or deleted data fail at once with ``AttendeeBotFailedError`` (a retry cannot help).

    :param bot_id: the bot (templated).
    :param destination: folder as a path, a URL (``file://``, ``s3://conn@bucket/prefix``) or an
        ObjectStoragePath (templated).
    :param formats: any of json, txt, vtt, srt: a list, or a comma-separated string (templated).
    :return: ``{"bot_id", "paths": {format: path}, "utterances", "speakers", "transcription_state",
        "note"}``: ``note`` is ``nothing_transcribed``, ``incomplete`` (``allow_incomplete`` took a partial
        transcript) or None.
    """

    template_fields: Sequence[str] = ("bot_id", "destination", "formats", "attendee_conn_id")

    def __init__(
        self,
        *,
        bot_id: str,
        destination: Any = None,
        formats: Sequence[str] = ("json",),
        allow_incomplete: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(bot_id=bot_id, destination=destination, **kwargs)
        self.formats = formats
        self.allow_incomplete = allow_incomplete
        if not is_templated(formats):
            self._formats()  # a typo fails at parse time; a template once rendered

    def _formats(self) -> list[str]:
        """The formats as a list ("json, txt" from a rendered template too), checked."""
        from airflow_provider_attendee.meetings.transcript_formats import FORMATS

        given = self.formats
        names = given.replace(",", " ").split() if isinstance(given, str) else [str(f) for f in given]
        unknown = [f for f in names if f not in FORMATS]
        if unknown or not names:
            raise AttendeeConfigurationError(
                f"Unknown transcript format(s) {unknown or given!r}; use any of {', '.join(FORMATS)}."
            )
        return names

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_provider_attendee.meetings import transcript_formats
        from airflow_provider_attendee.meetings.verdicts import nothing_transcribed

        formats = self._formats()
        self.push_bot_link(context, self.bot_id)
        bot = self.hook.get_bot(self.bot_id)
        note = None
        if bot.state == "data_deleted":  # the transcript is gone ([]), whatever its state says
            self.raise_not_ready(bot)
        if bot.transcription_state == "complete":
            utterances = self.hook.get_transcript(self.bot_id)
        elif nothing_transcribed(bot):
            note, utterances = NOTHING_TRANSCRIBED, []
            self.log.info(
                "Bot %s is %s and nothing was transcribed (transcription %s: a silent meeting, or nobody "
                "attended): writing an empty transcript.",
                bot.id,
                bot.state,
                bot.transcription_state,
            )
        elif self.allow_incomplete:
            note, utterances = "incomplete", self.hook.get_transcript(self.bot_id)
        else:
            self.raise_not_ready(bot)
        origin = None
        if utterances:  # offsets from the recording's start (an empty transcript needs no origin)
            with contextlib.suppress(AttendeeNotFoundError):  # no recording file: from the bot's join
                origin = self.hook.get_recording(self.bot_id).start_timestamp_ms
            if origin is None:
                origin = meeting_window_ms(bot)[0]
        rows = transcript_formats.records(utterances, origin)
        folder = self.folder(context)
        paths = {}
        for kind in dict.fromkeys(formats):
            target = folder / f"transcript.{kind}"
            write_text(target, transcript_formats.render(kind, rows))
            paths[kind] = str(target)
        speakers = sorted({row["speaker"] for row in rows})
        self.log.info(
            "Wrote %d utterances by %d speakers to %s", len(rows), len(speakers), ", ".join(paths.values())
        )
        return {
            "bot_id": bot.id,
            "paths": paths,
            "utterances": len(rows),
            "speakers": speakers,
            "transcription_state": bot.transcription_state,
            "note": note,
        }

    def raise_not_ready(self, bot: Bot) -> NoReturn:
        """A transcript that is not there: retried while it can still come, failed at once when not."""
        if bot.state == "data_deleted" or (bot.state in TERMINAL and bot.transcription_state == "failed"):
            raise AttendeeBotFailedError(
                f"The transcript of bot {bot.id} will never be complete: the bot is {bot.state} with "
                f"transcription {bot.transcription_state}. "
                + (
                    "Its data was deleted (delete_data)."
                    if bot.state == "data_deleted"
                    else "Check the project's transcription settings and credentials (Deepgram for Zoom by "
                    "default), or set allow_incomplete=True to take what was transcribed."
                )
            )
        raise AttendeeTranscriptNotReadyError(
            f"The transcript of bot {bot.id} is {bot.transcription_state} (bot {bot.state}), not "
            "complete. Wait with AttendeeTranscriptReadySensor, or set allow_incomplete=True to take what "
            "exists."
        )


class AttendeeRecordingOperator(_OutputOperator):
    """
    Download a bot's recording to ``destination``, streaming in chunks (constant memory).

    The byte count is checked against the server's Content-Length; nothing partial is left behind.
    A bot without a recording file (created with ``recording_settings.format: "none"``, not uploaded
    yet, or a server without recording storage) raises ``AttendeeRecordingMissingError`` (never retried)
    with ``if_missing="fail"`` (default); with ``"skip"`` it logs a warning and returns ``missing``.

    :param file_name: the file's name in the folder (default ``recording`` + the URL's extension).
    :param if_missing: ``"fail"`` or ``"skip"``: what a bot without a recording file does to the task.
    :return: ``{"bot_id", "path", "bytes", "missing"}``: path None, bytes 0 and ``missing`` the reason
        when there is no file, else ``missing`` None.
    """

    template_fields: Sequence[str] = ("bot_id", "destination", "file_name", "attendee_conn_id")

    def __init__(
        self,
        *,
        bot_id: str,
        destination: Any = None,
        file_name: str | None = None,
        chunk_size: int = 1 << 20,
        download_timeout: float = 300.0,
        if_missing: str = "fail",
        **kwargs: Any,
    ) -> None:
        super().__init__(bot_id=bot_id, destination=destination, **kwargs)
        self.file_name = file_name
        self.chunk_size = chunk_size
        self.download_timeout = download_timeout
        self.if_missing = if_missing

    def execute(self, context: Context) -> dict[str, Any]:
        import httpx

        if self.if_missing not in IF_MISSING:
            raise AttendeeConfigurationError(f'if_missing must be "fail" or "skip", got {self.if_missing!r}.')
        self.push_bot_link(context, self.bot_id)
        try:
            recording = self.hook.get_recording(self.bot_id)
        except AttendeeRecordingMissingError as err:
            if self.if_missing == "fail":
                raise
            self.log.warning(
                'Bot %s has no recording file (%s): created with recording_settings.format "none", not '
                "uploaded yet, or no recording storage on the server. Carrying on without it (if_missing='skip').",
                self.bot_id,
                err.detail,
            )
            return {"bot_id": self.bot_id, "path": None, "bytes": 0, "missing": err.detail or str(err)}
        url = httpx.URL(recording.url)
        suffix = url.path.rsplit(".", 1)[-1] if "." in url.path.rsplit("/", 1)[-1] else "mp4"
        target = self.folder(context) / (self.file_name or f"recording.{suffix}")
        written = 0
        # A presigned URL: no Attendee credentials are sent to the storage host.
        with httpx.stream("GET", url, timeout=self.download_timeout, follow_redirects=True) as response:
            if response.status_code != 200:
                raise AttendeeDestinationError(
                    f"Downloading the recording of bot {self.bot_id} failed with HTTP {response.status_code} from "
                    f"{url.host}. The link expires after 30 minutes: retry the task to get a fresh one."
                )
            expected = int(response.headers.get("content-length", -1))
            next_log = 50 << 20
            with atomic_open(target, "wb") as handle:
                for chunk in response.iter_bytes(self.chunk_size):
                    handle.write(chunk)
                    written += len(chunk)
                    if written >= next_log:
                        self.log.info(
                            "Downloaded %d MB of %s",
                            written >> 20,
                            f"{expected >> 20} MB" if expected >= 0 else "?",
                        )
                        next_log += 50 << 20
                if expected >= 0 and written != expected:
                    raise AttendeeDestinationError(
                        f"The recording of bot {self.bot_id} was cut short: {written} of {expected} bytes. Retry."
                    )
        self.log.info("Saved the recording of bot %s to %s (%d bytes)", self.bot_id, target, written)
        return {"bot_id": self.bot_id, "path": str(target), "bytes": written, "missing": None}


class AttendeeParticipantReportOperator(_OutputOperator):
    """
    Attendance and speaking report of a meeting, from the bot's participant events and transcript.

    Per participant: first join, last leave, time present, time speaking, share of talk time, speaking
    turns; for the meeting: duration, peak concurrent participants and when, and the present-count
    timeline. Speaking time comes from the speech events when the bot recorded any, else from the
    transcript's utterances (read only then); the report's ``speaking_source`` and data notes say which.
    Written as ``report.json``, ``participants.csv``, ``report.md`` and, when matplotlib is
    installed (``airflow-provider-attendee[report]``), ``report.png``.

    With ``sql_conn_id``, the same figures also go into the meeting tables of that SQL database (one row
    for the bot, one per participant; a failed bot with its reason), replacing this bot's earlier rows in
    one transaction; the tables are created when missing (see ``airflow_provider_attendee.hooks.meeting_tables``).

    :param sql_conn_id: an Airflow connection of a SQL database (DbApiHook: postgres, sqlite, mysql,
        snowflake), or ``attendee_meetings`` for the embedded SQLite file when no such connection exists
        (templated).
    :param sql_tables: table names, e.g. ``{"meetings": "analytics.meetings", "participants":
        "analytics.meeting_participants"}``.
    :return: ``{"bot_id", "paths", "headline"}`` with the headline numbers, and ``"tables"`` (what was
        written) with ``sql_conn_id``.
    """

    template_fields: Sequence[str] = ("bot_id", "destination", "title", "attendee_conn_id", "sql_conn_id")

    def __init__(
        self,
        *,
        bot_id: str,
        destination: Any = None,
        title: str | None = None,
        chart: bool = True,
        sql_conn_id: str | None = None,
        sql_tables: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(bot_id=bot_id, destination=destination, **kwargs)
        self.title = title
        self.chart = chart
        self.sql_conn_id = sql_conn_id
        self.sql_tables = sql_tables

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_provider_attendee.meetings import report_render
        from airflow_provider_attendee.meetings.report import ReportBuilder
        from airflow_provider_attendee.meetings.verdicts import nothing_transcribed

        self.push_bot_link(context, self.bot_id)
        bot = self.hook.get_bot(self.bot_id)
        start, end = meeting_window_ms(bot)
        builder = ReportBuilder(start, end, keep_intervals=self.chart)
        builder.add_all(self.hook.list_participant_events(self.bot_id))
        if nothing_transcribed(bot):  # the transcript is final and empty: nothing to read
            builder.set_nothing_transcribed()
        elif not builder.has_speech_events:  # a bot's default: speaking time is only in the transcript
            with contextlib.suppress(AttendeeNotFoundError):  # a bot without a recording has no transcript
                builder.add_utterances(self.hook.get_transcript(self.bot_id))
        report = builder.finish()
        folder = self.folder(context)
        title = self.title or (bot.metadata or {}).get("event_name") or f"Meeting report for bot {bot.id}"
        paths = {
            "json": str(
                write_text(folder / "report.json", report_render.to_json(report, {"bot_id": bot.id}))
            ),
            "csv": str(write_text(folder / "participants.csv", report_render.to_csv(report))),
            "markdown": str(write_text(folder / "report.md", report_render.to_markdown(report, title))),
        }
        if self.chart:
            writer = report_render.chart_writer(report, builder.intervals or {})
            if writer is None:
                self.log.info(
                    "matplotlib is not installed: no chart (pip install 'airflow-provider-attendee[report]')"
                )
            else:
                paths["chart"] = str(write_with(folder / "report.png", writer, ".png"))
        headline = report.headline()
        self.log.info("Report for bot %s: %s", bot.id, headline)
        for note in report.notes:
            self.log.info("Report for bot %s: %s", bot.id, note)
        result: dict[str, Any] = {"bot_id": bot.id, "paths": paths, "headline": headline}
        if self.sql_conn_id:
            result["tables"] = self.append_to_tables(context, bot, report)
        return result

    def append_to_tables(self, context: Context, bot: Bot, report: MeetingReport) -> dict[str, Any]:
        """The report's figures into the meeting tables; the task's outlets get the bot in their event."""
        from airflow_provider_attendee.analytics.rows import meeting_rows
        from airflow_provider_attendee.hooks.meeting_tables import (
            EmbeddedSqliteHook,
            MeetingTables,
            calendar_context,
        )

        tables = MeetingTables(self.sql_conn_id or "", self.sql_tables)
        executor = self.executor or conf.get("core", "executor", fallback="LocalExecutor")
        if isinstance(tables.hook, EmbeddedSqliteHook) and runs_tasks_elsewhere(executor):
            self.log.warning(
                "Connection %r is not defined: writing to the embedded SQLite file %s on this worker's own disk. "
                "With %s, define the connection to a shared database (postgresql://...).",
                tables.conn_id,
                tables.hook.path,
                executor,
            )
        event, calendar = calendar_context(self.hook, bot)
        meeting, people = meeting_rows(bot, report, event=event, calendar=calendar)
        written = tables.write(meeting, people)
        self.log.info(
            "Wrote bot %s (%s%s) and %d participants into %s",
            bot.id,
            meeting.outcome,
            f": {meeting.failure_reason}" if meeting.failure_reason else "",
            written.participants,
            tables.describe(),
        )
        for outlet in self.outlets:
            if getattr(outlet, "uri", None):  # an asset: tell downstream DAGs which meeting landed
                context["outlet_events"][outlet].extra.update({"bot_id": bot.id, "outcome": meeting.outcome})
        return {
            "conn_id": tables.conn_id,
            "meetings_table": tables.tables.meetings,
            "participants_table": tables.tables.participants,
            "outcome": meeting.outcome,
            "failure_reason": meeting.failure_reason,
            "participants": written.participants,
        }
