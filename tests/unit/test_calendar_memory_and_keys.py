"""The calendar sync's memory of the previous run and its deduplication keys, without a server.

- The previous summary is read with one bounded XCom request, through Airflow's own
  ``RuntimeTaskInstance.xcom_pull`` of the installed version (3.1 or 3.3), its XCom storage faked: without
  ``map_indexes`` Airflow 3 answers a list of every earlier run's value once there are two or more.
- A deduplication key held by a bot that does not serve the event (the server moved it with its event,
  then it was staged) never leaves the event without a bot; one held by a bot that serves it does.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from airflow_provider_attendee._compat import latest_prior_xcom
from airflow_provider_attendee.client.errors import error_for_status
from airflow_provider_attendee.client.models import Bot, CalendarEvent
from airflow_provider_attendee.meetings.calendar_plan import (
    MAX_KEY_ATTEMPTS,
    Plan,
    RejectionMemory,
    deduplication_key,
    execute_plan,
    latest_summary,
    summarise,
)

T0 = datetime(2026, 12, 5, 5, 33, tzinfo=timezone.utc)


# ------------------------------------------------------------------ the previous run's summary
class FakeXComStore:
    """Airflow's XCom rows of one task, one per run (oldest first, as a database hands them back when
    ordered by map index only), answering the two ways ``xcom_pull`` asks (``XCom.get_all`` for every map
    index, ``XCom.get_one`` for one), as the execution API does with ``include_prior_dates``."""

    def __init__(self) -> None:
        self.values: list[Any] = []
        self.calls: list[str] = []

    def get_all(self, *, include_prior_dates: bool = False, **_: Any) -> Any:
        self.calls.append("get_all")
        rows = self.values if include_prior_dates else []
        return list(rows) or None

    def get_one(self, *, include_prior_dates: bool = False, map_index: Any = None, **_: Any) -> Any:
        self.calls.append("get_one")
        assert map_index == -1
        return self.values[-1] if include_prior_dates and self.values else None  # newest first, LIMIT 1


@pytest.fixture
def airflow_ti(monkeypatch: pytest.MonkeyPatch) -> tuple[Any, FakeXComStore]:
    """A task instance whose ``xcom_pull`` is the installed Airflow's own, on a fake XCom store."""
    from airflow.sdk.execution_time import task_runner

    store = FakeXComStore()
    monkeypatch.setattr(task_runner, "XCom", store)
    methods = {
        name: getattr(task_runner.RuntimeTaskInstance, name)
        for name in ("xcom_pull", "_normalize_xcom_pull_params")
        if hasattr(task_runner.RuntimeTaskInstance, name)
    }
    TI = type("TI", (), methods)
    ti = TI()
    ti.dag_id, ti.run_id, ti.task_id, ti.map_index = "calendar", "scheduled__4", "sync", -1
    return ti, store


def summary(run: int, *rejected: str) -> dict[str, Any]:
    at = (T0 + timedelta(minutes=5 * run)).isoformat()
    entries = [
        {
            "event_id": e,
            "action": "create",
            "rejected_at": at,
            "event_start": (T0 + timedelta(hours=3)).isoformat(),
        }
        for e in rejected
    ]
    return {"run": run, "rejected": entries, "synced_at": at.replace("+00:00", "Z")}


@pytest.mark.parametrize("earlier_runs", [0, 1, 2, 3, 7])
def test_the_latest_summary_is_one_value_however_many_runs_came_before(airflow_ti, earlier_runs):
    ti, store = airflow_ti
    store.values = [summary(run, "evt_zoom") for run in range(earlier_runs)]
    pulled = latest_prior_xcom(ti, "sync")
    assert pulled == (store.values[-1] if earlier_runs else None)
    assert store.calls == ["get_one"]  # one row, not the history


def test_without_map_indexes_airflow_answers_a_list_from_two_earlier_runs_on(airflow_ti):
    """What the operator used to read: the same call without map_indexes, in the installed Airflow."""
    ti, store = airflow_ti
    store.values = [summary(0, "evt_zoom")]
    assert ti.xcom_pull(task_ids="sync", include_prior_dates=True) == store.values[0]
    store.values.append(summary(1, "evt_zoom"))
    assert ti.xcom_pull(task_ids="sync", include_prior_dates=True) == store.values  # every run's value
    assert RejectionMemory.from_summary(store.values, T0, timedelta(hours=1)).entries == {}  # the old bug


def test_a_mapped_sync_reads_its_own_map_index(airflow_ti):
    ti, _ = airflow_ti
    ti.map_index = 2
    seen: dict[str, Any] = {}

    def pull(**kwargs: Any) -> None:
        seen.update(kwargs)

    ti.xcom_pull = pull
    latest_prior_xcom(ti, "sync")
    assert seen == {"task_ids": "sync", "key": "return_value", "include_prior_dates": True, "map_indexes": 2}


def test_latest_summary_of_what_was_read_back():
    newest, older = summary(3, "a"), summary(1, "b")
    assert latest_summary(newest) is newest
    assert latest_summary([newest, older]) is newest and latest_summary([older, newest]) is newest
    assert latest_summary([{"rejected": []}, "junk"]) is None  # no way to tell which is the latest
    assert latest_summary(None) is None and latest_summary("junk") is None
    memory = RejectionMemory.from_summary(latest_summary([older, newest]), T0, timedelta(hours=1))
    assert list(memory.entries) == ["a"]


# ------------------------------------------------------------------------- deduplication keys
IN_USE = (
    b'{"error": "Deduplication key already in use. A bot in a non-terminal state with this deduplication key '
    b'already exists. Please use a different deduplication key or wait for that bot to terminate."}'
)


def bot(bot_id: str, state: str, join_at: datetime, key: str) -> Bot:
    return Bot(
        id=bot_id,
        meeting_url="https://meet.google.com/abc-defg-hij",
        state=state,
        join_at=join_at,
        deduplication_key=key,
    )


class FakeHook:
    """The server's deduplication rule and the event's ``bots`` list, for one event."""

    def __init__(self, event: CalendarEvent, holders: list[Bot]) -> None:
        self.event = event
        self.bots = {b.id: b for b in holders}
        self.posts: list[str] = []
        self.lookups = 0

    def _live(self, key: str) -> list[Bot]:
        return [b for b in self.bots.values() if b.deduplication_key == key and b.state not in ("ended",)]

    async def acreate_bot(self, *, calendar_event_id: str, deduplication_key: str, **_: Any) -> Bot:
        self.posts.append(deduplication_key)
        if self._live(deduplication_key):
            raise error_for_status(
                status_code=400,
                method="POST",
                path="/api/v1/bots",
                body=IN_USE,
                content_type="application/json",
                conn_id="attendee_default",
            )
        new = bot(f"bot_new{len(self.posts)}", "scheduled", self.event.start_time, deduplication_key)
        self.bots[new.id] = new
        self.event.bots.append(new)
        return new

    async def alist_bots(self, *, deduplication_key: str) -> AsyncIterator[Bot]:
        self.lookups += 1
        for b in [b for b in self.bots.values() if b.deduplication_key == deduplication_key]:
            yield b

    async def alist_calendar_events(self, *, event_id: str) -> AsyncIterator[CalendarEvent]:
        assert event_id == self.event.id
        yield self.event


def event(bots: list[Bot]) -> CalendarEvent:
    return CalendarEvent(
        id="evt_1",
        calendar_id="cal_1",
        meeting_url="https://meet.google.com/abc-defg-hij",
        start_time=T0,
        end_time=T0 + timedelta(hours=1),
        bots=bots,
    )


def run(hook: FakeHook) -> dict[str, Any]:
    listed = event(list(hook.event.bots))  # the plan's view, from before any of this run's POSTs
    outcome = asyncio.run(
        execute_plan(
            hook,
            Plan(create=[listed]),
            key_prefix="k-",
            bot_name="Notes",
            metadata=None,
            bot_settings=None,
            max_concurrency=2,
        )
    )
    return summarise(Plan(create=[listed], events_seen=1), outcome, ["a", "b"])


KEY = deduplication_key("k-", event([]))


def test_a_key_held_by_the_bot_the_server_moved_and_staged_gets_the_event_a_new_bot():
    """Created for 05:33, moved with its event to 06:03, staged, event back at 05:33: the key (…@05:33)
    is held by a bot that joins at 06:03."""
    moved = bot("bot_moved", "staged", T0 + timedelta(minutes=30), KEY)
    hook = FakeHook(event([moved]), [moved])
    result = run(hook)
    assert hook.posts == [KEY, f"{KEY}~bot_moved"]
    assert result["created"] == [
        {"event_id": "evt_1", "bot_id": "bot_new2", "deduplication_key": f"{KEY}~bot_moved"}
    ]
    assert result["skipped"] == {} and result["failed"] == result["rejected"] == []


@pytest.mark.parametrize("state", ["scheduled", "staged"])
def test_a_key_held_by_a_bot_that_serves_the_event_means_it_has_its_bot(state):
    """Created concurrently by an overlapping run (or by an earlier attempt whose answer was lost)."""
    mine = bot("bot_mine", state, T0, KEY)
    hook = FakeHook(event([]), [mine])
    hook.event.bots.append(mine)  # bound to the event since the listing
    result = run(hook)
    assert hook.posts == [KEY] and result["created"] == []
    assert "bot_mine" in result["skipped"]["evt_1"] and result["counts"]["skipped"] == 1


def test_a_holder_not_bound_to_the_event_does_not_serve_it():
    stranger = bot("bot_stranger", "scheduled", T0, KEY)  # same key, but not in the event's bots
    hook = FakeHook(event([]), [stranger])
    assert [c["bot_id"] for c in run(hook)["created"]] == ["bot_new2"]
    assert hook.posts == [KEY, f"{KEY}~bot_stranger"]


def test_the_derived_key_held_by_a_sibling_run_s_new_bot_is_taken_as_served():
    moved = bot("bot_moved", "staged", T0 + timedelta(minutes=30), KEY)
    sibling = bot("bot_sibling", "scheduled", T0, f"{KEY}~bot_moved")  # an overlapping run got there first
    hook = FakeHook(event([moved, sibling]), [moved, sibling])
    hook.event.bots = [moved, sibling]
    result = run(hook)
    assert hook.posts == [KEY, f"{KEY}~bot_moved"] and result["created"] == []
    assert "bot_sibling" in result["skipped"]["evt_1"]


def test_every_key_held_by_bots_elsewhere_fails_the_event_for_a_retry():
    holders = [bot("bot_a", "staged", T0 + timedelta(minutes=30), KEY)]
    for i in range(MAX_KEY_ATTEMPTS):
        holders.append(bot(f"bot_{i}", "joining", T0 - timedelta(minutes=30), f"{KEY}~{holders[-1].id}"))
    hook = FakeHook(event(list(holders)), holders)
    result = run(hook)
    assert len(hook.posts) == MAX_KEY_ATTEMPTS and result["created"] == []
    assert (
        result["counts"]["failed"] == 1 and "Deduplication key already in use" in result["failed"][0]["error"]
    )


def test_the_summary_is_json():
    moved = bot("bot_moved", "staged", T0 + timedelta(minutes=30), KEY)
    json.dumps(run(FakeHook(event([moved]), [moved])))
