"""The digest's numbers against a week computed by hand (tests/analytics/meetings.py), on SQLite and
PostgreSQL; and its Markdown, HTML and charts."""

from __future__ import annotations

import logging
from datetime import date, datetime, timezone

import pytest

from airflow_provider_attendee.analytics import digest_render
from airflow_provider_attendee.analytics.digest import digest_week
from tests.analytics.meetings import known_weeks

WEEK = date(2026, 11, 9)


@pytest.fixture
def digest(tables):
    for meeting, people in known_weeks():
        tables.write(meeting, people)
    return tables.digest(WEEK, previous_weeks=1)


def test_meeting_hours_per_week_and_calendar(digest):
    assert digest.weeks == ["2026-11-02", "2026-11-09"]
    # Week 1: standup 30 min + sales call 60 min; present 1800+1800+1200 + 3600+3600 s; Ann, Bob, Cat, Dan.
    # Week 2: standups 15 + 45 min, ad hoc 30 min; present 900+900 + 2700+2700+1800 + 1800 s; Ann, Bob, Eve, Dan.
    assert [(t.week, t.meetings, t.hours, t.person_hours, t.people) for t in digest.totals] == [
        ("2026-11-02", 2, 1.5, 3.33, 4),
        ("2026-11-09", 3, 1.5, 3.0, 4),
    ]
    assert [(c.calendar, c.hours, c.meetings) for c in digest.calendars] == [
        ("team-eng", {"2026-11-02": 0.5, "2026-11-09": 1.0}, 2),
        ("(no calendar)", {"2026-11-02": 0.0, "2026-11-09": 0.5}, 1),
        ("team-sales", {"2026-11-02": 1.0, "2026-11-09": 0.0}, 0),
    ]


def test_talk_share_per_person_with_the_trend(digest):
    shares = {
        p.name: (p.email, p.meetings, p.speaking_seconds, p.share, p.previous_share) for p in digest.people
    }
    assert shares == {
        # this week 100 + 200 of the standups' 400 + 300 s; before: 300 of 500 (standup) + 60 of 600 (sales)
        "Ann Lee": ("ann@example.com", 2, 300.0, round(300 / 700, 4), round(360 / 1100, 4)),
        "Bob Ray": ("bob@example.com", 2, 400.0, round(400 / 700, 4), round(100 / 500, 4)),
        # the ad hoc call has no calendar event: counted under the email of the same name seen before
        "Dan Ortiz": ("dan@example.com", 1, 120.0, 1.0, 0.9),
        "Eve Sato": (None, 1, 0.0, 0.0, None),  # not invited: no email; silent; new
    }
    assert [p.name for p in digest.people] == ["Bob Ray", "Ann Lee", "Dan Ortiz", "Eve Sato"]
    bob = digest.people[0]
    assert bob.trend == pytest.approx(400 / 700 - 0.2, abs=1e-4)


def test_attendance_per_recurring_meeting(digest):
    series = [(s.series_key, s.name, s.weeks, s.change) for s in digest.series]
    assert series == [
        # "Standup" and "  standup ": one recurring event (one iCalUID): 3 of 4, then 2 and 3 of 4
        (
            "cal_eng:standup@google.com",
            "Standup",
            [("2026-11-02", 1, 3.0, 4.0), ("2026-11-09", 2, 2.5, 4.0)],
            -0.5,
        ),
        ("cal_sales:evt_sales", "Sales call", [("2026-11-02", 1, 2.0, 3.0)], None),
        ("https://zoom.us/j/5550001", "https://zoom.us/j/5550001", [("2026-11-09", 1, 1.0, None)], None),
    ]


def test_failed_bots_by_reason(digest):
    assert [(f.reason, f.this_week, f.window) for f in digest.failures] == [
        ("waiting_room_timeout_exceeded", 1, 2),
        ("request_to_join_denied", 1, 1),
    ]
    assert [(b.bot_id, b.reason, b.when) for b in digest.failed_bots] == [
        ("bot_w2_waiting", "waiting_room_timeout_exceeded", "2026-11-13 09:00"),
        ("bot_w2_denied", "request_to_join_denied", "2026-11-10 09:00"),
    ]
    assert digest.headline() == {
        "week": "2026-11-09",
        "meetings": 3,
        "hours": 1.5,
        "people": 4,
        "failed_bots": 2,
        "top_speaker": "Bob Ray",
        "open_action_items": 0,  # no meeting notes written
    }


def test_the_digest_reads_as_markdown_html_and_charts(digest, tmp_path, caplog):
    charts = {key: name for key, name in digest_render.CHARTS.items()}
    markdown = digest_render.to_markdown(digest, charts)
    assert markdown.startswith(
        "# Meeting digest: week of 2026-11-09\n\n3 meetings, 1.5 h of meetings, 3 person-hours"
    )
    assert "| Bob Ray <bob@example.com> | 2 | 6:40 | 57% | 20% | ▲ 37 pts |" in markdown
    assert "| Standup | 3 | 3 → 2.5 | 4 | -0.5 |" in markdown
    assert "| waiting_room_timeout_exceeded | 1 | 2 |" in markdown
    assert "![Failed bots by reason](failures.png)" in markdown
    page = digest_render.to_html(digest, charts)
    assert page.count("<table>") == 5 and '<img src="talk_share.png"' in page
    assert "Bob Ray &lt;bob@example.com&gt;" in page and '<td class="num up">▲ 37 pts</td>' in page
    writers = digest_render.chart_writers(digest)
    assert writers is not None and set(writers) == set(digest_render.CHARTS)
    with caplog.at_level(logging.INFO, logger="matplotlib"):
        for key, write in writers.items():
            write(str(tmp_path / f"{key}.png"))
            assert (tmp_path / f"{key}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not [r for r in caplog.records if "categorical units" in r.getMessage()]  # noise in the task log


def test_which_week():
    monday_morning = datetime(2026, 11, 16, 6, 0, tzinfo=timezone.utc)
    assert digest_week("previous", monday_morning) == date(2026, 11, 9)
    assert digest_week(None, monday_morning) == date(2026, 11, 9)
    assert digest_week("current", monday_morning) == date(2026, 11, 16)
    assert digest_week("2026-11-12", monday_morning) == date(2026, 11, 9)
    with pytest.raises(ValueError, match="Invalid isoformat"):
        digest_week("last tuesday", monday_morning)


def test_two_people_of_one_name_in_a_meeting_count_that_meeting_once(tables):
    from airflow_provider_attendee.analytics.rows import meeting_rows
    from tests.analytics.meetings import WEEK_2, finished_bot, report

    people = [
        ("u1", "Alex Kim", 600, 30, False),
        ("u2", "Alex Kim", 500, 20, False),
        ("u3", "Ravi", 400, 50, True),
    ]
    tables.write(*meeting_rows(finished_bot("bot_twins", WEEK_2, 10), report(WEEK_2, 10, people)))
    digest = tables.digest(WEEK, previous_weeks=0)
    alex = next(p for p in digest.people if p.name == "Alex Kim")
    # no email tells them apart: one row under the name, the meeting once (50 s of its 100 s of talk)
    assert (alex.meetings, alex.speaking_seconds, alex.present_seconds, alex.share) == (1, 50.0, 1100.0, 0.5)
    assert digest.totals[-1].person_hours == round(1500 / 3600, 2)
