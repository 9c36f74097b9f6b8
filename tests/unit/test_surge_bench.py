"""The surge benchmark's pure parts: its groups of meetings, and its reading of the receiver's and the
sweeper's log lines."""

from __future__ import annotations

import random

from airflow_provider_attendee.plugins.event_sweeper import REPAIRED_LINE
from airflow_provider_attendee.plugins.webhook_receiver import COMMITTED_LINE
from bench.surge import commit_times, groups, repaired_events


def test_groups_start_with_a_full_one_and_cover_every_meeting_within_the_window():
    plan = groups(600, 50, 120.0, random.Random(7))
    assert plan[0] == (0.0, 50)
    assert sum(size for _, size in plan) == 600
    assert all(1 <= size <= 50 and 0 <= offset <= 120 for offset, size in plan)
    assert [offset for offset, _ in plan] == sorted(offset for offset, _ in plan)


def test_commit_times_read_the_receivers_own_line():
    ended = COMMITTED_LINE % (
        "k1",
        "bot.state_change",
        "bot_a",
        ["attendee://bots/ended"],
        812,
        640,
        35,
        17,
        150,
        3,
        1,
    )
    other = COMMITTED_LINE % ("k2", "bot.state_change", "bot_a", [], 20, 10, 1, 1, 0, 3, 1)
    assert commit_times(f"x {ended} y\nz {other}\n") == [(812.0, 640.0, 35.0, 17)]


def test_repaired_events_read_the_sweepers_own_line():
    requeued = REPAIRED_LINE % ([12, 13], "d", "queued the DAG again", "", "1 requeued")
    created = REPAIRED_LINE % ([7], "d", "created run ", "asset_triggered__x", "1 requeued, 1 run_created")
    unrelated = "Attendee catch-up of attendee_default: 0 meetings"
    assert repaired_events(f"a {requeued}\nb {unrelated}\nc {created}\n") == {
        12: "requeued",
        13: "requeued",
        7: "run_created",
    }
