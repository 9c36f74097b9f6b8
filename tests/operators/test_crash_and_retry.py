"""A calendar sync killed part-way, then retried, ends in the exact state: one bot per event, no duplicate."""

from __future__ import annotations

from datetime import timedelta

import pytest

from airflow_provider_attendee.hooks.attendee import AttendeeHook
from airflow_provider_attendee.operators.calendar import AttendeeScheduleCalendarBotsOperator


class Killed(BaseException):
    """Stands for the worker process dying (SIGKILL, OOM): not an Exception, nothing catches it."""


@pytest.mark.parametrize("killed_after", [0, 7, 19])
def test_killed_after_k_of_n_creates_then_retried(attendee_simulator, context, monkeypatch, killed_after):
    admin = attendee_simulator.admin
    events = [
        {
            "name": f"E{i}",
            "meeting_url": f"https://zoom.us/j/{900 + i}",
            "start_in_minutes": 30 + i,
            "attendees": [{"email": "a@x.org"}, {"email": "b@x.org"}],
        }
        for i in range(20)
    ]
    _, event_ids = admin.add_calendar(events=events)
    admin.set_faults(routes=[{"method": "POST", "path": "/bots$", "latency_ms": 20}])  # creates overlap
    operator = AttendeeScheduleCalendarBotsOperator(
        task_id="sync", lookahead=timedelta(hours=2), max_concurrency=4
    )

    real_create = AttendeeHook.acreate_bot
    sent = {"n": 0}

    async def dying_create(self, *args, **kwargs):
        if sent["n"] >= killed_after:
            raise Killed()
        sent["n"] += 1
        return await real_create(self, *args, **kwargs)

    monkeypatch.setattr(AttendeeHook, "acreate_bot", dying_create)
    with pytest.raises(Killed):
        operator.execute(context)
    monkeypatch.setattr(AttendeeHook, "acreate_bot", real_create)
    # What reached the server before the crash: at most the creates sent (in-flight ones may or may not land).
    assert len(admin.bots()) <= killed_after

    retry = operator.execute(context)  # the task's retry
    assert retry["counts"]["failed"] == 0
    assert retry["counts"]["created"] + retry["counts"]["skipped"] == 20
    bots = admin.bots()
    assert sorted(b["calendar_event_id"] for b in bots) == sorted(event_ids)  # exactly one per event
    assert set(admin.counters()["bots_created_by_dedup_key"].values()) == {1}
    again = operator.execute(context)
    assert again["counts"]["created"] == 0 and len(admin.bots()) == 20
