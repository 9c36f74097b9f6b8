"""The calendar sync over simulated days of calendar churn, in incremental and full mode: after every run,
every eligible event in the window has exactly one live bot (testing/calendar_model.py)."""

from __future__ import annotations

import pytest

from airflow_provider_attendee.testing.calendar_model import CalendarModel

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("incremental", [True, False], ids=["incremental", "full"])
@pytest.mark.parametrize("seed", [1, 2])
def test_two_days_of_churn(attendee_simulator, seed, incremental):
    model = CalendarModel(attendee_simulator, seed, incremental=incremental, events=60)
    problems = model.run(days=2)
    assert problems == [], "\n".join(problems[:20])
    stats = model.stats
    assert stats.runs > 150 and stats.skipped_runs > 5 and stats.checks == stats.runs
    assert model.changes > 300 and stats.rejected_seen  # churn happened, and some events were refused
    assert stats.requests.get("POST /api/v1/bots", 0) > 50  # bots were booked as events entered
