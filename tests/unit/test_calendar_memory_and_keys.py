"""The calendar sync's memory of the previous run, without a server.

- The previous summary is read with one bounded XCom request, through Airflow's own
  ``RuntimeTaskInstance.xcom_pull`` of the installed version (3.1 or 3.3), its XCom storage faked: without
  ``map_indexes`` Airflow 3 answers a list of every earlier run's value once there are two or more.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from airflow_provider_attendee._compat import latest_prior_xcom
from airflow_provider_attendee.meetings.calendar_plan import RejectionMemory, latest_summary

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
