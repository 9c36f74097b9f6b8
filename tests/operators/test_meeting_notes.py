"""The notes operator and the model side with scripted pydantic-ai models (no network): corrections sent
back, what stays wrong dropped, a 3-hour meeting under the budget, names not uuids, a silent meeting."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip(
    "pydantic_ai",
    reason="the [notes] extra (common-ai 1.0, pydantic-ai-slim >= 2.36) needs pydantic >= 2.12; Airflow 3.1.0's "
    "constraints pin pydantic 2.11.9, so the notes' model side is tested on Airflow 3.3 only",
)

from pydantic_ai import Agent
from pydantic_ai.messages import ModelMessage, ModelResponse, ToolCallPart, UserPromptPart
from pydantic_ai.models.function import AgentInfo, FunctionModel

from airflow_provider_attendee.hooks.attendee import AttendeeHook
from airflow_provider_attendee.notes.budget import Budget, estimate_tokens
from airflow_provider_attendee.notes.llm import write_notes
from airflow_provider_attendee.notes.models import MeetingNotes
from airflow_provider_attendee.notes.prompt import INSTRUCTIONS
from airflow_provider_attendee.notes.stand_in import stand_in_notes
from airflow_provider_attendee.notes.transcript import build_lines
from airflow_provider_attendee.operators.bots import AttendeeCreateBotOperator
from airflow_provider_attendee.operators.notes import AttendeeMeetingNotesOperator
from tests.notes.meetings import PEOPLE, meeting
from tests.operators.test_output_and_calendar_operators import QUIET_SCENARIO, SILENT_MEETING

LLM_CONN = json.dumps({"conn_type": "pydanticai", "extra": {"model": "test"}})


def prompt_of(messages: list[ModelMessage]) -> str:
    return next(p.content for m in messages for p in m.parts if isinstance(p, UserPromptPart))


class Scripted:
    """A FunctionModel answering from a list of scripted answers (each a function of the prompt)."""

    def __init__(self, *answers: Any) -> None:
        self.answers = list(answers)
        self.calls: list[list[ModelMessage]] = []

    def __call__(self, messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        self.calls.append(list(messages))
        answer = self.answers[min(len(self.calls), len(self.answers)) - 1]
        return ModelResponse(parts=[ToolCallPart(info.output_tools[0].name, answer(prompt_of(messages)))])

    @property
    def model(self) -> FunctionModel:
        return FunctionModel(self, model_name="scripted")


def first_line(prompt: str) -> tuple[str, str, str]:
    found = re.search(r"^(L\d+) (\d+:\d\d) ([^:]+):", prompt, re.MULTILINE)
    assert found
    return found.group(1), found.group(2), found.group(3)


def answer(owner: str | None = None, time: str | None = None) -> Any:
    def notes(prompt: str) -> dict[str, Any]:
        line, at, speaker = first_line(prompt)
        citation = {"line": line, "speaker": speaker, "time": time or at}
        return {
            "summary": [{"text": "The meeting opened", "citations": [citation]}],
            "action_items": [{"what": "Send the plan", "owner": owner or speaker, "citations": [citation]}],
        }

    return notes


@pytest.fixture
def llm_conn(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_NOTES_LLM", LLM_CONN)


@pytest.fixture
def scripted_model(monkeypatch: pytest.MonkeyPatch):
    """The connection's model replaced by a scripted one (what a hosted model would be)."""

    def use(script: Scripted) -> Scripted:
        from airflow.providers.common.ai.hooks.pydantic_ai import PydanticAIHook

        monkeypatch.setattr(PydanticAIHook, "get_conn", lambda self: script.model)
        return script

    return use


@pytest.fixture
def finished_bot(attendee_simulator) -> str:
    attendee_simulator.admin.reset("demo", time_scale=0)
    bot = AttendeeHook().create_bot("https://meet.google.com/abc-defg-hij", bot_name="Notes")
    attendee_simulator.admin.advance(800)
    return bot.id


def notes_task(bot_id: str, tmp_path: Path, **kwargs: Any) -> AttendeeMeetingNotesOperator:
    return AttendeeMeetingNotesOperator(
        task_id="notes", bot_id=bot_id, llm_conn_id="notes_llm", destination=str(tmp_path), **kwargs
    )


def test_a_wrong_citation_and_owner_go_back_and_are_corrected(
    finished_bot, llm_conn, scripted_model, context, tmp_path
) -> None:
    script = scripted_model(Scripted(answer(owner="Jane Doe", time="59:59"), answer()))
    result = notes_task(finished_bot, tmp_path).execute(context)
    assert len(script.calls) == 2
    sent_back = "\n".join(str(getattr(p, "content", "")) for p in script.calls[1][-1].parts)
    assert "owner 'Jane Doe' did not take part" in sent_back
    assert "line L1 is at 00:09 (to 00:21), not 59:59" in sent_back
    assert result["dropped"] == []
    assert result["usage"]["corrections"] == 1 and result["usage"]["calls"] == 2
    assert [a["owner"] for a in result["notes"]["action_items"]] == ["Maya Chen"]
    assert (tmp_path / "notes.md").exists() and json.loads((tmp_path / "notes.json").read_text())["usage"][
        "calls"
    ] == 2


def test_what_stays_wrong_is_dropped_with_a_note(
    finished_bot, llm_conn, scripted_model, context, tmp_path
) -> None:
    script = scripted_model(Scripted(answer(owner="Jane Doe")))
    result = notes_task(finished_bot, tmp_path, max_corrections=1).execute(context)
    assert len(script.calls) == 2  # the first answer and one correction
    assert result["notes"]["action_items"] == []  # never published as fact
    assert [p["text"] for p in result["notes"]["summary"]] == [
        "The meeting opened"
    ]  # the grounded rest stays
    assert any("Jane Doe" in d for d in result["dropped"])
    assert "Jane Doe" in (tmp_path / "notes.md").read_text().split("## Left out")[1]
    assert "Jane Doe" not in (tmp_path / "notes.md").read_text().split("## Left out")[0]


def test_the_prompt_names_people_not_uuids(finished_bot, llm_conn, scripted_model, context, tmp_path) -> None:
    script = scripted_model(Scripted(answer()))
    notes_task(finished_bot, tmp_path).execute(context)
    prompt = prompt_of(script.calls[0])
    uuids = {p.uuid for p in AttendeeHook().list_participants(finished_bot)}
    assert uuids and not any(uuid in prompt or uuid[:8] in prompt for uuid in uuids)
    assert "Participants: " in prompt and "Maya Chen" in prompt
    assert re.search(r"^L1 00:0\d Maya Chen: ", prompt, re.MULTILINE)


def test_the_stand_in_is_chosen_by_the_connection_and_says_so(
    finished_bot, llm_conn, context, tmp_path
) -> None:
    result = notes_task(finished_bot, tmp_path, require_approval=False).execute(context)
    assert result["stand_in"] and "stand-in model" in (tmp_path / "notes.md").read_text()
    assert result["model"] == "attendee-stand-in" and result["usage"]["calls"] == 1
    assert result["notes"]["summary"] and result["dropped"] == []


def test_a_silent_meeting_makes_no_model_call(
    attendee_simulator, llm_conn, scripted_model, context, tmp_path
) -> None:
    attendee_simulator.admin.reset(QUIET_SCENARIO, time_scale=0)
    bot = AttendeeCreateBotOperator(task_id="c", meeting_url=SILENT_MEETING, bot_name="Notes").execute(
        context
    )
    attendee_simulator.admin.advance(1200)
    script = scripted_model(Scripted(answer()))
    result = notes_task(bot, tmp_path).execute(context)
    assert script.calls == [] and result["note"] == "nothing_transcribed" and result["usage"]["calls"] == 0
    assert "None." in (tmp_path / "notes.md").read_text()


def measure(minutes: int) -> tuple[Any, list[int], Any]:
    """Notes of a scripted meeting by the stand-in through the default budget: the run, the budgeter's
    estimate of each call's whole input (from the messages sent), and the lines."""
    lines = build_lines(meeting(minutes))
    sizes: list[int] = []

    def respond(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        sent = (
            INSTRUCTIONS
            + json.dumps(info.output_tools[0].parameters_json_schema)
            + "\n".join(str(getattr(p, "content", "")) for m in messages for p in m.parts)
        )
        sizes.append(estimate_tokens(sent))
        return ModelResponse(
            parts=[ToolCallPart(info.output_tools[0].name, stand_in_notes(prompt_of(messages)))]
        )

    agent = Agent(FunctionModel(respond), output_type=MeetingNotes, instructions=INSTRUCTIONS)
    run = write_notes(agent, lines, PEOPLE, budget=Budget(), corrections=2)
    return run, sizes, lines


def test_a_three_hour_meeting_stays_under_the_budget_and_keeps_citations() -> None:
    run, sizes, lines = measure(180)
    assert run.parts > 3 and len(sizes) == run.usage.requests == run.parts
    assert max(sizes) <= Budget().input_tokens
    by_id = {line.id: line for line in lines}
    cited = [
        c
        for item in [*run.notes.summary, *run.notes.decisions, *run.notes.action_items]
        for c in item.citations
    ]
    assert all(by_id[c.line].speaker == c.speaker and by_id[c.line].time == c.time for c in cited)
    late = [c for a in run.notes.action_items for c in a.citations if by_id[c.line].start_ms > 150 * 60_000]
    assert late  # items of the last part keep their citations in the merged notes
    assert run.dropped == []


def test_rerunning_the_notes_leaves_one_set_of_action_items(
    finished_bot, llm_conn, scripted_model, context, tmp_path, monkeypatch
) -> None:
    from urllib.parse import quote

    from airflow_provider_attendee.analytics.store import fetch
    from airflow_provider_attendee.hooks.meeting_tables import MeetingTables

    monkeypatch.setenv("AIRFLOW_CONN_NOTES_TABLES", f"sqlite://{quote(str(tmp_path / 'm.db'), safe='')}")
    scripted_model(Scripted(answer()))
    for _ in range(2):
        result = notes_task(finished_bot, tmp_path, sql_conn_id="notes_tables").execute(context)
    assert result["tables"]["action_items"] == 1
    tables = MeetingTables("notes_tables")
    with tables.connection() as connection:
        rows = fetch(connection, "SELECT bot_id, owner, what FROM attendee_action_items")
    assert rows == [(finished_bot, "Maya Chen", "Send the plan")]
