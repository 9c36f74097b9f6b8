"""The notes' pure logic: the compact layout, splitting under a budget, grounding, merging, redaction."""

from __future__ import annotations

from airflow_provider_attendee.notes.budget import Budget, estimate_tokens, split_lines
from airflow_provider_attendee.notes.grounding import ground
from airflow_provider_attendee.notes.merge import merge_notes
from airflow_provider_attendee.notes.models import ActionItem, Citation, MeetingNotes, Point
from airflow_provider_attendee.notes.prompt import user_prompt
from airflow_provider_attendee.notes.render import to_markdown
from airflow_provider_attendee.notes.transcript import build_lines, render_lines
from tests.notes.meetings import PEOPLE, UUIDS, meeting, record

ROWS = [
    record("Maya Chen", 9_000, "Welcome everyone."),
    record("Maya Chen", 15_000, "Tickets are down twelve percent."),
    record(
        "Tom Okafor", 24_000, "I'll send the plan by Friday, mail me at tom@example.com or +44 20 7946 0958."
    ),
    record("Priya Raman", 3_725_000, "Sofia Alvarez said the export is slow. Did we decide?"),
    record("Sofia Alvarez", 3_731_000, "Yes, we ship next sprint."),
]


def test_layout_names_times_merged_turns_and_ids() -> None:
    lines = build_lines(ROWS)
    assert [(x.id, x.time, x.speaker) for x in lines] == [
        ("L1", "00:09", "Maya Chen"),
        ("L2", "00:24", "Tom Okafor"),
        ("L3", "62:05", "Priya Raman"),
        ("L4", "62:11", "Sofia Alvarez"),
    ]
    assert lines[0].text == "Welcome everyone. Tickets are down twelve percent."
    text = render_lines(lines)
    assert text.splitlines()[0] == "L1 00:09 Maya Chen: Welcome everyone. Tickets are down twelve percent."
    assert not any(uuid in text for uuid in UUIDS.values())


def test_redaction_and_leaving_people_out() -> None:
    lines = build_lines(ROWS, redact_contacts=True, leave_out=["Sofia Alvarez"])
    text = render_lines(lines)
    assert "tom@example.com" not in text and "7946" not in text
    assert "[email]" in text and "[phone]" in text
    assert "Sofia" not in text  # neither her lines nor her name in what others said
    assert "[participant] said the export is slow" in text
    prompt = user_prompt(lines, ["Maya Chen", "Tom Okafor", "Priya Raman"], 1, 1)
    assert "Sofia" not in prompt and "Participants: Maya Chen, Tom Okafor, Priya Raman" in prompt


def test_splitting_at_turns_under_the_room() -> None:
    lines = build_lines(meeting(180))
    parts = split_lines(lines, 2500)
    assert len(parts) > 5
    assert [x for part in parts for x in part] == lines  # whole turns, in order, none lost
    assert all(sum(estimate_tokens(x.render()) + 1 for x in part) <= 2500 for part in parts)


def test_default_budget_fits_an_8k_model() -> None:
    assert Budget().context_tokens == 8192 and Budget().input_tokens + Budget().output_tokens == 8192


def cite(line: str, speaker: str, time: str) -> list[Citation]:
    return [Citation(line=line, speaker=speaker, time=time)]


def test_grounding_keeps_supported_items_and_names_what_is_wrong() -> None:
    lines = build_lines(ROWS)
    notes = MeetingNotes(
        summary=[Point(text="Tickets fell", citations=cite("L1", "Maya Chen", "00:15"))],  # inside the turn
        decisions=[Point(text="Ship next sprint", citations=cite("L4", "Sofia Alvarez", "50:00"))],
        action_items=[
            ActionItem(
                what="Send the plan",
                owner="tom okafor",
                due="Friday",
                citations=cite("L2", "Tom Okafor", "00:24"),
            ),
            ActionItem(what="Call the vendor", owner="Jane Doe", citations=cite("L2", "Tom Okafor", "00:24")),
            ActionItem(
                what="Check the export", owner="unassigned", citations=cite("L9", "Priya Raman", "62:05")
            ),
            ActionItem(what="Review", owner="Maya Chen", citations=cite("L3", "Maya Chen", "62:05")),
        ],
        open_questions=[Point(text="Did we decide?", citations=[])],
    )
    result = ground(notes, lines, PEOPLE)
    assert [a.what for a in result.notes.action_items] == ["Send the plan"]
    assert result.notes.action_items[0].owner == "Tom Okafor"
    assert [p.text for p in result.notes.summary] == ["Tickets fell"]
    assert result.notes.decisions == [] and result.notes.open_questions == []
    problems = "\n".join(result.problems)
    assert "line L4 is at 62:11 (to 62:17), not 50:00" in problems
    assert "owner 'Jane Doe' did not take part" in problems
    assert "line 'L9' is not in the transcript" in problems
    assert "line L3 was spoken by Priya Raman, not Maya Chen" in problems
    assert "'Did we decide?' cites no transcript line" in problems


def test_merge_keeps_citations_and_joins_the_same_item() -> None:
    a = MeetingNotes(
        action_items=[
            ActionItem(what="Send the plan.", owner="Tom Okafor", citations=cite("L2", "Tom Okafor", "00:24"))
        ],
        decisions=[Point(text="Ship", citations=cite("L1", "Maya Chen", "00:09"))],
    )
    b = MeetingNotes(
        action_items=[
            ActionItem(
                what="send the plan",
                owner="Tom Okafor",
                due="Friday",
                citations=cite("L40", "Tom Okafor", "70:00"),
            ),
            ActionItem(
                what="Call the vendor", owner="unassigned", citations=cite("L41", "Maya Chen", "71:00")
            ),
        ],
    )
    merged = merge_notes([a, b])
    assert [(x.what, x.due, [c.line for c in x.citations]) for x in merged.action_items] == [
        ("Send the plan.", "Friday", ["L2", "L40"]),
        ("Call the vendor", None, ["L41"]),
    ]
    assert merged.decisions[0].citations[0].line == "L1"
    md = to_markdown(merged, "Notes", {"dropped": ["decision 'x': line 'L9' is not in the transcript"]})
    assert (
        "- [ ] **Tom Okafor**: Send the plan. (due Friday) (Tom Okafor 00:24, L2; Tom Okafor 70:00, L40)"
        in md
    )
    assert "Left out (not supported by the transcript)" in md
