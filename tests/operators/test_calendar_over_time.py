"""The calendar sync over calendar time, one behaviour per test, in both modes: what a calendar does between
two runs (events entering the window, reschedules, link changes, cancellations, selection changes, starts
moved sooner than the lead time), failed and skipped runs, overlapping runs and refused events.

Every test drives the operator as Airflow would (its clock is the simulator's, its "previous successful
run" the last run that succeeded, its XCom memory the previous summary) and checks the server's state.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from typing import Any

import pytest

from airflow_provider_attendee.exceptions import AttendeeCalendarSyncError, AttendeeError
from airflow_provider_attendee.operators import calendar as calendar_operator
from airflow_provider_attendee.operators.calendar import AttendeeScheduleCalendarBotsOperator
from airflow_provider_attendee.testing.calendar_model import CalendarModel, FakeTI

TWO = [{"email": "a@example.com"}, {"email": "b@example.com"}]
ZOOM = "https://zoom.us/j/9876543210?pwd=abc"

pytestmark = pytest.mark.parametrize("incremental", [True, False], ids=["incremental", "full"])


def parse(timestamp: str) -> datetime:
    return datetime.fromisoformat(timestamp.replace("Z", "+00:00"))


def meet(n: int) -> str:
    return f"https://meet.google.com/{CalendarModel._code(n)}?authuser=0"


class Calendar:
    """One calendar on the simulator, and a sync that runs against it as a scheduled DAG would."""

    def __init__(self, sim: Any, monkeypatch: pytest.MonkeyPatch, incremental: bool) -> None:
        self.sim, self.admin, self.world = sim, sim.admin, sim.simulator.world
        self.incremental = incremental
        self.calendar_id, _ = self.admin.add_calendar(deduplication_key="over-time")
        self.ti = FakeTI()
        self.previous_success: datetime | None = None
        self.links = 0
        monkeypatch.setattr(calendar_operator, "utcnow", self.now)

    def now(self) -> datetime:
        return datetime.fromisoformat(self.admin.now().replace("Z", "+00:00"))

    def add(
        self, minutes: float, *, name: str = "Sync", attendees: list[dict[str, str]] = TWO, url: str = ""
    ) -> str:
        self.links += 1
        spec = {
            "name": name,
            "meeting_url": url or meet(self.links),
            "start_in_minutes": minutes,
            "attendees": attendees,
        }
        return str(self.admin.add_event(self.calendar_id, **spec)["id"])

    def operator(self, **kwargs: Any) -> AttendeeScheduleCalendarBotsOperator:
        options: dict[str, Any] = {
            "task_id": "sync",
            "calendar_id": self.calendar_id,
            "incremental": self.incremental,
            "min_attendees": 2,
            "skip_name_regex": r"\blunch\b",
            "key_prefix": "t-",
        }
        return AttendeeScheduleCalendarBotsOperator(**{**options, **kwargs})

    def sync(self, **kwargs: Any) -> dict[str, Any]:
        """One run; on success it becomes the previous successful run, and its summary the memory."""
        started = self.now()
        summary = self.operator(**kwargs).execute(
            {"ti": self.ti, "prev_start_date_success": self.previous_success}  # type: ignore[arg-type]
        )
        self.previous_success = started
        self.ti.previous_summary = summary
        return summary

    def live_bots(self, event_id: str) -> list[dict[str, Any]]:
        return [b for b in self.admin.bots() if b["calendar_event_id"] == event_id and not b["finished"]]

    def serving(self, event_id: str) -> list[dict[str, Any]]:
        """The live bots that will join the event at its current start."""
        start = self.world.calendar_events[event_id].start_time
        return [
            b
            for b in self.live_bots(event_id)
            if datetime.fromisoformat(b["join_at"].replace("Z", "+00:00")) == start
        ]

    def posts(self) -> int:
        return int(self.admin.counters()["requests"].get("POST /api/v1/bots", 0))


@pytest.fixture
def cal(attendee_simulator: Any, monkeypatch: pytest.MonkeyPatch, incremental: bool) -> Calendar:
    return Calendar(attendee_simulator, monkeypatch, incremental)


def test_an_event_created_far_ahead_gets_its_bot_when_it_enters_the_window(cal: Calendar) -> None:
    standing = cal.add(30 * 60)  # created now, never changed again
    assert cal.sync()["counts"]["created"] == 0
    cal.admin.advance(minutes=5 * 60)
    assert cal.sync()["counts"]["created"] == 0  # starts in 25 h: still outside the 24 h look-ahead
    cal.admin.advance(minutes=2 * 60)
    cal.admin.reset_counters()
    summary = cal.sync()
    assert [c["event_id"] for c in summary["created"]] == [standing] and cal.posts() == 1
    assert len(cal.serving(standing)) == 1
    cal.admin.advance(minutes=15)
    cal.admin.reset_counters()
    assert cal.sync()["counts"]["created"] == 0 and cal.posts() == 0  # steady state: list pages only


def test_rescheduled_into_within_and_out_of_the_window_keeps_one_bot(cal: Calendar) -> None:
    moving, outside = cal.add(60), cal.add(30 * 60)
    cal.sync()
    first_bot = cal.serving(moving)[0]["id"]

    cal.admin.reschedule_event(outside, start_in_minutes=120)  # into the window
    cal.admin.reschedule_event(moving, start_in_minutes=300)  # within: its scheduled bot follows
    cal.admin.advance(minutes=15)
    summary = cal.sync()
    assert [c["event_id"] for c in summary["created"]] == [outside]
    assert [b["id"] for b in cal.serving(moving)] == [first_bot]

    cal.admin.reschedule_event(moving, start_in_minutes=40 * 60)  # out of the window: the bot still follows
    cal.admin.advance(minutes=15)
    summary = cal.sync()
    assert summary["counts"]["created"] == summary["counts"]["cancelled"] == 0
    assert [b["id"] for b in cal.serving(moving)] == [first_bot]

    cal.admin.advance(minutes=20 * 60)  # back inside the window, unchanged: it keeps that bot
    assert cal.sync()["counts"]["created"] == 0
    assert [b["id"] for b in cal.serving(moving)] == [first_bot]


@pytest.mark.parametrize(("minutes", "state"), [(6, "staged"), (12, "joined_recording")])
def test_a_bot_past_scheduled_of_a_moved_event_is_replaced_and_reported(
    cal: Calendar, minutes: float, state: str
) -> None:
    soon = cal.add(10)
    cal.sync()
    cal.admin.advance(minutes=minutes)  # staged 5 min before the start, in the meeting after it
    [old] = cal.live_bots(soon)
    assert old["state"] == state  # either way it no longer follows its event

    cal.admin.reschedule_event(soon, start_in_minutes=180)
    summary = cal.sync()
    assert [c["event_id"] for c in summary["created"]] == [soon]
    assert old["id"] in summary["unremovable"][soon] and "old start" in summary["unremovable"][soon]
    [serving] = cal.serving(soon)
    assert serving["id"] != old["id"]

    cal.admin.advance(
        minutes=15
    )  # the old bot is in (or done with) the old meeting: one bot for the new start
    assert cal.sync()["counts"]["created"] == 0 and len(cal.serving(soon)) == 1


def test_a_changed_meeting_link_keeps_the_bot_and_moves_it(cal: Calendar) -> None:
    event = cal.add(60)
    cal.sync()
    [bot] = cal.live_bots(event)
    cal.admin.change_event(event, meeting_url="https://meet.google.com/xyz-abcd-efg?hs=1")
    cal.admin.advance(minutes=15)
    assert cal.sync()["counts"]["created"] == 0
    [moved] = cal.live_bots(event)
    assert moved["id"] == bot["id"] and moved["meeting_url"] == "https://meet.google.com/xyz-abcd-efg"


def test_cancelled_events_lose_their_scheduled_bots_and_report_staged_ones(cal: Calendar) -> None:
    later, soon = cal.add(60), cal.add(8)
    cal.sync()
    cal.admin.advance(minutes=4)  # soon's bot is staged
    cal.admin.cancel_event(later)
    cal.admin.cancel_event(soon)
    summary = cal.sync()
    assert summary["counts"]["created"] == 0
    assert cal.live_bots(later) == []  # the server deleted the scheduled bot
    [staged] = cal.live_bots(soon)
    assert staged["state"] == "staged" and "cancelled" in summary["unremovable"][soon]


def test_selection_changes_delete_and_book_again(cal: Calendar) -> None:
    event = cal.add(60)
    cal.sync()
    cal.admin.change_event(event, attendees=[{"email": "a@example.com"}])
    cal.admin.advance(minutes=15)
    summary = cal.sync()
    assert summary["cancelled"] == [
        {
            "event_id": event,
            "bot_id": summary["cancelled"][0]["bot_id"],
            "reason": "1 attendees < min_attendees 2",
        }
    ]
    assert cal.live_bots(event) == []

    cal.admin.change_event(event, attendees=[*TWO, {"email": "c@example.com"}])
    cal.admin.advance(minutes=15)
    assert [c["event_id"] for c in cal.sync()["created"]] == [event] and len(cal.serving(event)) == 1

    cal.admin.change_event(event, name="Team lunch")
    cal.admin.advance(minutes=15)
    summary = cal.sync()
    assert summary["cancelled"][0]["reason"] == "name matches skip_name_regex" and cal.live_bots(event) == []


def test_an_event_moved_sooner_than_the_lead_time(cal: Calendar) -> None:
    booked, unbooked = cal.add(60), cal.add(30 * 60)
    cal.sync()
    [bot] = cal.live_bots(booked)
    cal.admin.reschedule_event(booked, start_in_minutes=0.5)
    cal.admin.reschedule_event(unbooked, start_in_minutes=0.5)
    summary = cal.sync()
    assert summary["counts"]["created"] == summary["counts"]["cancelled"] == 0
    assert [b["id"] for b in cal.serving(booked)] == [bot["id"]]  # kept: it follows the new start
    assert cal.live_bots(unbooked) == []  # too late to book: it could not join in time


def test_failed_and_skipped_runs_are_caught_up(
    cal: Calendar, attendee_simulator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_ATTENDEE_DEFAULT", attendee_simulator.connection_json(max_retries=0))
    cal.add(60)
    cal.sync()
    added = []
    cal.admin.set_faults(routes=[{"method": "GET", "path": "/calendar_events", "rate_5xx": 1.0}])
    for _ in range(3):  # three failed runs, then two skipped ones, while the calendar changes
        added.append(cal.add(90))  # created after the last success, starting soon
        added.append(cal.add(24 * 60 + 30))  # and standing meetings that enter the window meanwhile
        cal.admin.advance(minutes=60)
        with pytest.raises(AttendeeError):
            cal.sync()
    cal.admin.set_faults()
    for _ in range(2):
        added.append(cal.add(30))
        cal.admin.advance(minutes=15)
    cal.admin.reset_counters()
    summary = cal.sync()
    wanted = [e for e in added if cal.world.calendar_events[e].start_time >= cal.now() + timedelta(minutes=1)]
    assert sorted(c["event_id"] for c in summary["created"]) == sorted(wanted) and len(wanted) >= 3
    assert all(len(cal.serving(e)) == 1 for e in wanted)


@pytest.mark.attendee_simulator(page_size=5)
def test_overlapping_runs_never_double_book(cal: Calendar) -> None:
    events = [cal.add(30 + i) for i in range(12)]
    cal.admin.set_faults(routes=[{"method": "POST", "path": "/bots$", "latency_ms": 50}])
    barrier = threading.Barrier(3)
    summaries: list[dict[str, Any]] = []

    def run() -> None:
        barrier.wait()
        summaries.append(
            cal.operator(max_concurrency=4).execute({"ti": FakeTI(), "prev_start_date_success": None})
        )  # type: ignore[arg-type]

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(summaries) == 3
    assert sum(s["counts"]["created"] for s in summaries) == len(events)
    assert all(len(cal.live_bots(e)) == 1 for e in events)


@pytest.mark.attendee_simulator(zoom_credentials=False)
def test_a_refused_event_is_reported_not_resent_while_unchanged(cal: Calendar) -> None:
    refused, fine = cal.add(180, url=ZOOM), cal.add(180)
    cal.admin.reset_counters()
    first = cal.sync()
    assert [c["event_id"] for c in first["created"]] == [fine] and cal.posts() == 2
    [entry] = first["rejected"]
    assert entry["event_id"] == refused and entry["sent"] and "Zoom App credentials" in entry["error"]

    for _ in range(3):  # unchanged: reported every run, sent again on none
        cal.admin.advance(minutes=15)
        cal.admin.reset_counters()
        summary = cal.sync()
        assert cal.posts() == 0 and summary["counts"]["rejected"] == 1
        assert (
            summary["rejected"][0]["sent"] is False
            and summary["rejected"][0]["rejected_at"] == entry["rejected_at"]
        )

    cal.admin.change_event(refused, name="Sync (moved to Zoom)")  # a change is worth another try
    cal.admin.reset_counters()
    assert cal.sync()["rejected"][0]["sent"] is True and cal.posts() == 1

    cal.admin.advance(minutes=61)  # and so is time: the project may have been fixed meanwhile
    cal.admin.reset_counters()
    assert cal.sync()["rejected"][0]["sent"] is True and cal.posts() == 1

    with pytest.raises(
        AttendeeCalendarSyncError, match=r"(?s)refused 1 calendar event.*Zoom App credentials"
    ):
        cal.sync(on_rejected="fail")


@pytest.mark.parametrize("moved", ["earlier", "later"])
def test_an_event_moved_back_to_its_first_start_while_its_moved_bot_is_staged_gets_a_bot(
    cal: Calendar, moved: str
) -> None:
    """The server moves a scheduled bot with its event and keeps its deduplication key, which names the
    start the bot was created for. Moved back to that start once the bot is staged (it no longer follows),
    the event needs a new bot, and a POST with that key is refused (400 "Deduplication key already in use")
    because the staged bot holds it. The sync must still give the event a bot.

    ``earlier``: created for +60 min, moved to +30, staged 5 min before that, moved back to +60 (what a real
    server can do). ``later``: created for +30, moved to +60, staged at once (admin), moved back to +30 (the
    order in which it was reported)."""
    first, other = (60, 30) if moved == "earlier" else (30, 60)
    event = cal.add(first)
    cal.sync()
    [bot] = cal.live_bots(event)
    key, first_start = bot["deduplication_key"], parse(bot["join_at"])
    cal.admin.reschedule_event(event, start_in_minutes=other)
    cal.admin.advance(minutes=1)
    assert cal.sync()["counts"]["created"] == 0  # the scheduled bot followed: nothing to do
    [moved_bot] = cal.live_bots(event)
    assert (moved_bot["id"], moved_bot["deduplication_key"]) == (bot["id"], key)  # moved, same key
    if moved == "earlier":
        cal.admin.advance(minutes=other - 1 - 4)  # 4 minutes before its new start: staged
    else:
        cal.admin.fire_event(bot["id"], "staged")
    [staged] = cal.live_bots(event)
    assert staged["state"] == "staged"
    old_join = staged["join_at"]

    back = (first_start - cal.now()).total_seconds() / 60
    cal.admin.reschedule_event(event, start_in_minutes=back)  # back to its first start
    assert cal.world.calendar_events[event].start_time == first_start
    cal.admin.reset_counters()
    summary = cal.sync()
    assert [c["event_id"] for c in summary["created"]] == [event], summary
    assert (
        event not in summary["skipped"] and summary["counts"]["rejected"] == summary["counts"]["failed"] == 0
    )
    assert bot["id"] in summary["unremovable"][event] and "gets a new bot" in summary["unremovable"][event]
    [serving] = cal.serving(event)
    assert serving["id"] != bot["id"] and serving["deduplication_key"] == f"{key}~{bot['id']}"
    assert summary["created"][0]["deduplication_key"] == serving["deduplication_key"]
    assert cal.posts() == 2  # refused with the event's key, then created with the one past its holder
    [still] = [b for b in cal.live_bots(event) if b["id"] == bot["id"]]
    assert still["join_at"] == old_join  # the staged bot keeps the time it was moved to

    for _ in range(3):  # later runs: the event keeps exactly one bot at its start, nothing more is made
        cal.admin.advance(minutes=4)
        assert cal.sync()["counts"]["created"] == 0
        assert len(cal.serving(event)) == 1
