"""The meeting notes' action items in the meeting tables, on SQLite and PostgreSQL: re-running a meeting's
notes leaves one set, and the digest's open items per owner equal a count by hand."""

from __future__ import annotations

from datetime import date, timedelta

from airflow_provider_attendee.analytics import digest_render
from airflow_provider_attendee.analytics.rows import meeting_rows
from airflow_provider_attendee.analytics.store import fetch
from tests.analytics.meetings import WEEK_2, finished_bot, known_weeks, report

WEEK = date(2026, 11, 9)


def item(what: str, owner: str, due: str | None = None) -> dict:
    return {
        "what": what,
        "owner": owner,
        "due": due,
        "citations": [{"line": "L1", "speaker": owner, "time": "00:05"}],
    }


def stored(tables, bot_id: str) -> list[tuple]:
    with tables.connection() as connection:
        return fetch(
            connection,
            f"SELECT item_no, what, owner, due, status FROM {tables.tables.action_items} WHERE bot_id = "
            f"{tables.dialect.placeholder} ORDER BY item_no",
            (bot_id,),
        )


def test_rerunning_a_meetings_notes_leaves_one_set(tables) -> None:
    tables.write_action_items(
        "bot_1", [item("Send the plan", "Ann Lee", "Friday"), item("Book a room", "Bob Ray")]
    )
    tables.write_action_items(
        "bot_1", [item("Send the plan", "Ann Lee", "Friday"), item("Book a room", "Bob Ray")]
    )
    assert stored(tables, "bot_1") == [
        (1, "Send the plan", "Ann Lee", "Friday", "open"),
        (2, "Book a room", "Bob Ray", None, "open"),
    ]
    tables.write_action_items("bot_1", [item("Book a room", "Bob Ray")])  # notes written again, one item left
    tables.write_action_items("bot_2", [item("Call the vendor", "unassigned")])
    assert stored(tables, "bot_1") == [(1, "Book a room", "Bob Ray", None, "open")]
    assert len(stored(tables, "bot_2")) == 1


def test_the_digest_lists_the_open_items_per_owner(tables) -> None:
    for meeting, people in known_weeks():
        tables.write(meeting, people)
    later = WEEK_2 + timedelta(days=7)  # a meeting after the digest's week: not in it
    tables.write(
        *meeting_rows(
            finished_bot("bot_later", later, 30), report(later, 30, [("u-dan", "Dan Ortiz", 1800, 60, False)])
        )
    )
    tables.write_action_items(
        "bot_w1_standup", [item("Fix the export", "Ann Lee"), item("Book the room", "Bob Ray", "Friday")]
    )
    tables.write_action_items(
        "bot_w2_standup_a", [item("Review the plan", "Ann Lee"), item("Find a date", "unassigned")]
    )
    tables.write_action_items(
        "bot_w2_standup_b",
        [item("Ship the fix", "Bob Ray"), item("Write the notes", "Bob Ray"), item("Old", "Eve Sato")],
    )
    tables.write_action_items(
        "bot_w2_standup_b", [item("Ship the fix", "Bob Ray"), item("Write the notes", "Bob Ray")]
    )
    tables.write_action_items(
        "bot_no_report", [item("Call the vendor", "Cat Wu")]
    )  # notes without a meeting row
    tables.write_action_items("bot_later", [item("Next week's thing", "Dan Ortiz")])

    digest = tables.digest(WEEK, previous_weeks=1)
    by_owner = {}
    for open_item in digest.open_action_items:
        by_owner[open_item.owner] = by_owner.get(open_item.owner, 0) + 1
    # By hand: Ann 1 + 1, Bob 1 + 2 (the re-run's two, not the first run's three), Cat 1, unassigned 1;
    # Eve's item was gone with the re-run, Dan's meeting is after the week.
    assert by_owner == {"Ann Lee": 2, "Bob Ray": 3, "Cat Wu": 1, "unassigned": 1}
    assert digest.open_action_items[-1].owner == "unassigned"
    assert digest.headline()["open_action_items"] == 7
    markdown = digest_render.to_markdown(digest, {})
    assert "## Open action items per owner (from the meeting notes)" in markdown
    assert (
        "| Bob Ray | 3 | Book the room (due Friday) [Standup]; Ship the fix [standup]; Write the notes [standup] |"
        in markdown
    )
    assert "Open action items per owner" in digest_render.to_html(digest, {})
