"""Meeting notes a team can act on (summary, decisions, action items, open questions) from a bot's
transcript, written by a model through common-ai's ``PydanticAIHook`` behind its approval gate.

Nothing of common-ai or pydantic-ai is imported until the task runs (DAG files are parsed every few
seconds), so the operator composes common-ai's pieces instead of subclassing ``LLMOperator``: the hook and
the ``pydanticai`` connection choose the model, ``LLMApprovalMixin`` holds publication until a person
approves, usage limits are coerced and logged the same way, and the Airflow task retries as usual.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Literal, cast

from airflow.sdk import Context

from airflow_provider_attendee._compat import AirflowNotFoundException
from airflow_provider_attendee.exceptions import AttendeeConfigurationError, AttendeeError
from airflow_provider_attendee.operators.outputs import _OutputOperator

if TYPE_CHECKING:
    from airflow_provider_attendee.client.models import Bot
    from airflow_provider_attendee.notes.models import MeetingNotes

#: The LLM connection of the example DAGs: while it is not defined, the stand-in model writes the notes.
DEFAULT_NOTES_LLM_CONN_ID = "attendee_notes_llm"

#: The XCom note of a meeting with nothing transcribed: no model call was made.
NOTHING_TRANSCRIBED = "nothing_transcribed"


class AttendeeNotesError(AttendeeError):
    """The notes could not be written (the [notes] extra missing, a budget too small, a model failure)."""


class AttendeeMeetingNotesOperator(_OutputOperator):
    """
    Notes of a bot's meeting, written by a model and grounded in the transcript.

    The transcript is sent compactly (names, mm:ss, one line per speaker turn, line ids), split at speaker
    turns so that each call stays under ``token_budget``; every citation is checked against the transcript
    (line, speaker, time) and every owner against the participants; what fails goes back to the model with
    what was wrong, at most ``max_corrections`` times, then is dropped with a note. A meeting with nothing
    transcribed makes no model call. ``notes.md`` and ``notes.json`` are written to ``destination`` (by
    default the folder of the bot's transcript and report in this DAG run) and, with ``sql_conn_id``, the action items into the meeting tables: after a person approved, with
    ``require_approval=True``.

    :param bot_id: the bot (templated).
    :param llm_conn_id: a common-ai ``pydanticai`` connection (templated); its model ``test`` selects the
        package's stand-in model, which says so in the notes, as does the default id
        ``attendee_notes_llm`` while no such connection is defined (the example DAGs run as shipped).
    :param model_id: overrides the connection's model, as for ``LLMOperator`` (templated).
    :param token_budget: tokens per call, context of the model (default 8192, a local 8k model).
    :param output_tokens: of the budget, kept for the answer (default 2048).
    :param max_corrections: how often wrong citations or owners go back to the model per call (default 2).
    :param redact_contacts: replace emails and phone numbers by ``[email]`` and ``[phone]`` before sending.
    :param leave_out: participants whose lines and name are not sent (templated).
    :param usage_limits: pydantic-ai ``UsageLimits`` (or a dict of them) for the whole task.
    :param require_approval: hold the notes for a person's approval before anything is written (Airflow
        3.1+); ``approval_timeout``, ``on_approval_timeout``, ``approval_assigned_users`` as for
        ``LLMOperator``.
    :param sql_conn_id: also write the action items into the meeting tables of this SQL connection (the
        table ``attendee_action_items``, replaced per meeting), for the weekly digest (templated).
    :param sql_tables: table names, as for the participant report (``{"action_items": ...}``).
    :return: ``{"bot_id", "paths", "notes", "dropped", "usage", "model", "stand_in", "note"}``.
    """

    template_fields: Sequence[str] = (
        "bot_id",
        "destination",
        "attendee_conn_id",
        "llm_conn_id",
        "model_id",
        "leave_out",
        "usage_limits",
        "sql_conn_id",
    )

    def __init__(
        self,
        *,
        bot_id: str,
        llm_conn_id: str = DEFAULT_NOTES_LLM_CONN_ID,
        model_id: str | None = None,
        destination: Any = None,
        title: str | None = None,
        token_budget: int = 8192,
        output_tokens: int = 2048,
        max_corrections: int = 2,
        redact_contacts: bool = False,
        leave_out: Sequence[str] = (),
        model_settings: dict[str, Any] | None = None,
        usage_limits: Any = None,
        require_approval: bool = False,
        approval_timeout: timedelta | None = None,
        on_approval_timeout: Literal["fail", "approve", "reject"] = "fail",
        approval_assigned_users: Any = None,
        sql_conn_id: str | None = None,
        sql_tables: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(bot_id=bot_id, destination=destination, **kwargs)
        self.llm_conn_id = llm_conn_id
        self.model_id = model_id
        self.title = title
        self.token_budget = token_budget
        self.output_tokens = output_tokens
        self.max_corrections = max_corrections
        self.redact_contacts = redact_contacts
        self.leave_out = leave_out
        self.model_settings = model_settings
        self.usage_limits = usage_limits
        self.require_approval = require_approval
        self.approval_timeout = approval_timeout
        self.on_approval_timeout = on_approval_timeout
        self.approval_assigned_users = approval_assigned_users
        self.sql_conn_id = sql_conn_id
        self.sql_tables = sql_tables
        # What common-ai's approval mixin reads from the operator.
        self.allow_modifications = False
        self.approval_notifiers: list[Any] = []

    # What common-ai's approval mixin reads from the operator it resumes.
    APPROVE, REJECT = "Approve", "Reject"

    @staticmethod
    def _describe_responder(event: dict[str, Any]) -> str:
        from airflow.providers.common.ai.mixins.approval import LLMApprovalMixin

        return LLMApprovalMixin._describe_responder(event)

    @property
    def prompt(self) -> str:
        """What a review shows as the prompt (common-ai's approval mixin reads it): the notes' bot."""
        return f"Meeting notes of bot {self.bot_id}"

    def validate_approval_prompt(self) -> None:
        """The approval mixin's check: the prompt is always text here."""

    def _checked(self) -> None:
        if self.output_tokens < 256 or self.token_budget <= self.output_tokens:
            raise AttendeeConfigurationError(
                f"token_budget={self.token_budget} and output_tokens={self.output_tokens}: the budget must be "
                "larger than the tokens kept for the answer, which need at least 256. Use the model's context "
                "size (e.g. 8192) as token_budget."
            )
        if self.max_corrections < 0:
            raise AttendeeConfigurationError(
                f"max_corrections must be 0 or more, got {self.max_corrections}."
            )
        if isinstance(self.leave_out, str) or not isinstance(self.leave_out, Iterable):
            raise AttendeeConfigurationError(
                f"leave_out must be a list of participant names, got {self.leave_out!r}."
            )

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_provider_attendee.meetings.verdicts import nothing_transcribed

        self._checked()
        self.push_bot_link(context, self.bot_id)
        bot = self.hook.get_bot(self.bot_id)
        if nothing_transcribed(bot):
            self.log.info(
                "Bot %s: nothing was transcribed (a silent meeting): no model call, no notes.", bot.id
            )
            return self.publish(context, self.empty_result(bot, NOTHING_TRANSCRIBED))
        result = self.write(bot)
        if self.require_approval:
            from airflow.providers.common.ai.mixins.approval import LLMApprovalMixin

            from airflow_provider_attendee.notes.models import MeetingNotes
            from airflow_provider_attendee.notes.render import to_markdown

            notes = MeetingNotes.model_validate(result["notes"])
            body = to_markdown(notes, self.heading(bot), result)
            self.log.info("Holding the notes of bot %s for a person's approval.", bot.id)
            LLMApprovalMixin.defer_for_approval(
                cast(Any, self),
                context,
                result,
                subject=f"Approve the meeting notes of bot {bot.id}",
                body=body,
            )
        return self.publish(context, result)

    def execute_complete(
        self, context: Context, generated_output: str, event: dict[str, Any], decision: Any = None
    ) -> dict[str, Any]:
        """After the review: approved notes are published; a rejection fails the task (common-ai's rules)."""
        from airflow.providers.common.ai.mixins.approval import LLMApprovalMixin

        output = LLMApprovalMixin.execute_complete(
            cast(Any, self), context, generated_output, event, decision
        )
        return self.publish(context, json.loads(output))

    def heading(self, bot: Bot) -> str:
        return self.title or f"Notes: {(bot.metadata or {}).get('event_name') or f'bot {bot.id}'}"

    def empty_result(self, bot: Bot, note: str) -> dict[str, Any]:
        from airflow_provider_attendee.notes.models import MeetingNotes

        return {
            "bot_id": bot.id,
            "title": self.heading(bot),
            "notes": MeetingNotes().model_dump(),
            "dropped": [],
            "usage": {"calls": 0, "parts": 0, "corrections": 0, "input_tokens": 0, "output_tokens": 0},
            "model": None,
            "stand_in": None,
            "lines": 0,
            "note": note,
        }

    def write(self, bot: Bot) -> dict[str, Any]:
        """The notes of the bot's transcript, from the model (pydantic-ai imported here, at run time)."""
        try:
            from airflow.providers.common.ai.hooks.pydantic_ai import PydanticAIHook
            from airflow.providers.common.ai.utils.usage import coerce_usage_limits

            from airflow_provider_attendee.notes import llm, stand_in
        except ImportError as err:
            raise AttendeeNotesError(
                f"Meeting notes need the [notes] extra ({err}): pip install 'airflow-provider-attendee[notes]' "
                "(common-ai 1.0: Python 3.11+, pydantic 2.12+)."
            ) from err
        from airflow_provider_attendee.notes.budget import Budget
        from airflow_provider_attendee.notes.models import MeetingNotes
        from airflow_provider_attendee.notes.prompt import INSTRUCTIONS
        from airflow_provider_attendee.notes.transcript import build_lines

        rows, participants = self.transcript(bot)
        lines = build_lines(rows, leave_out=self.leave_out, redact_contacts=self.redact_contacts)
        if not lines:
            self.log.info("Bot %s: no transcript line to send: no model call, no notes.", bot.id)
            return self.empty_result(bot, NOTHING_TRANSCRIBED)
        try:
            hook = PydanticAIHook.get_hook(self.llm_conn_id, hook_params={"model_id": self.model_id})
        except (AirflowNotFoundException, ImportError):  # ImportError: Airflow 3.1 outside a task
            if self.llm_conn_id != DEFAULT_NOTES_LLM_CONN_ID:
                raise AttendeeConfigurationError(
                    f"LLM connection {self.llm_conn_id!r} is not defined. Define a pydanticai connection, e.g. "
                    f'AIRFLOW_CONN_{self.llm_conn_id.upper()}=\'{{"conn_type": "pydanticai", "password": '
                    '"<api key>", "extra": {"model": "openai:gpt-5-mini"}}\' (docs: operators/meeting-notes).'
                ) from None
            hook = None
        model = hook.get_conn() if hook is not None else None
        stand_in_note = None
        if model is None or llm.is_test_model(model):
            model, stand_in_note = stand_in.stand_in_model(), stand_in.STAND_IN_NOTE
            if hook is None:
                stand_in_note = stand_in.UNDEFINED_NOTE.format(conn_id=self.llm_conn_id)
            self.log.warning("%s", stand_in_note)
        agent = (
            hook.create_agent(
                output_type=MeetingNotes, instructions=INSTRUCTIONS, model_settings=self.model_settings
            )
            if hook is not None
            else llm.plain_agent(MeetingNotes, INSTRUCTIONS)
        )
        budget = Budget(self.token_budget, self.output_tokens)
        try:
            run = llm.write_notes(
                agent,
                lines,
                participants,
                budget=budget,
                corrections=self.max_corrections,
                usage_limits=coerce_usage_limits(self.usage_limits),
                model=model,
                log=self.log,
            )
        except ValueError as err:
            raise AttendeeConfigurationError(str(err)) from err
        usage = run.usage_record()
        self.log.info(
            "Notes of bot %s: %d summary points, %d decisions, %d action items, %d open questions; %d dropped "
            "as unsupported; %d calls over %d part(s), %s input and %s output tokens (estimated input %d, "
            "largest call ~%d of a %d-token budget).",
            bot.id,
            len(run.notes.summary),
            len(run.notes.decisions),
            len(run.notes.action_items),
            len(run.notes.open_questions),
            len(run.dropped),
            usage["calls"],
            usage["parts"],
            usage["input_tokens"],
            usage["output_tokens"],
            usage["estimated_input_tokens"],
            usage["estimated_max_call_tokens"],
            budget.input_tokens,
        )
        return {
            "bot_id": bot.id,
            "title": self.heading(bot),
            "notes": run.notes.model_dump(),
            "dropped": run.dropped,
            "usage": usage,
            "model": getattr(model, "model_name", None),
            "stand_in": stand_in_note,
            "lines": len(lines),
            "note": None,
        }

    def transcript(self, bot: Bot) -> tuple[list[dict[str, Any]], list[str]]:
        """The transcript records (offsets as the transcript operator writes them) and the participants'
        names (those left out excepted)."""
        import contextlib

        from airflow_provider_attendee.exceptions import AttendeeNotFoundError
        from airflow_provider_attendee.meetings.transcript_formats import records
        from airflow_provider_attendee.operators.outputs import meeting_window_ms

        utterances = self.hook.get_transcript(bot.id)
        origin = None
        if utterances:
            with contextlib.suppress(AttendeeNotFoundError):
                origin = self.hook.get_recording(bot.id).start_timestamp_ms
            if origin is None:
                origin = meeting_window_ms(bot)[0]
        rows = records(utterances, origin)
        left_out = {name.casefold() for name in self.leave_out}
        names = [p.display_name for p in self.hook.list_participants(bot.id)] + [r["speaker"] for r in rows]
        return rows, [n for n in dict.fromkeys(names) if n.casefold() not in left_out]

    def publish(self, context: Context, result: dict[str, Any]) -> dict[str, Any]:
        """notes.md and notes.json into the folder; the action items into the meeting tables."""
        from airflow_provider_attendee.notes.models import MeetingNotes
        from airflow_provider_attendee.notes.render import to_json, to_markdown
        from airflow_provider_attendee.storage import write_text

        notes = MeetingNotes.model_validate(result["notes"])
        folder = self.folder(context)
        about = {k: v for k, v in result.items() if k not in ("notes", "paths", "tables")}
        result["paths"] = {
            "markdown": str(write_text(folder / "notes.md", to_markdown(notes, result["title"], about))),
            "json": str(write_text(folder / "notes.json", to_json(notes, about))),
        }
        if self.sql_conn_id:
            result["tables"] = self.append_to_tables(result["bot_id"], notes)
        self.log.info(
            "Wrote the notes of bot %s to %s", result["bot_id"], ", ".join(result["paths"].values())
        )
        return result

    def append_to_tables(self, bot_id: str, notes: MeetingNotes) -> dict[str, Any]:
        """The action items into the meeting tables, replacing this meeting's earlier ones."""
        from airflow_provider_attendee.hooks.meeting_tables import MeetingTables

        tables = MeetingTables(self.sql_conn_id or "", self.sql_tables)
        written = tables.write_action_items(bot_id, notes.action_items)
        self.log.info("Wrote %d action items of bot %s into %s", written, bot_id, tables.tables.action_items)
        return {
            "conn_id": tables.conn_id,
            "action_items_table": tables.tables.action_items,
            "action_items": written,
        }
