"""The sweeper's log of reconcile's repairs: queuing a DAG again is routine (INFO), a run of their own for
stranded events is a warning; each line carries this process's running count."""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from unittest import mock

from airflow_provider_attendee.plugins import _asset_events, event_sweeper
from airflow_provider_attendee.plugins.event_settings import EventSettings
from airflow_provider_attendee.plugins.event_sweeper import EventSweeper


def test_repairs_are_logged_by_kind_with_a_count(monkeypatch):
    batches = [
        [_asset_events.Repair("d", "requeued", [1, 2])],
        [_asset_events.Repair("d", "requeued", [3]), _asset_events.Repair("d", "run_created", [4], "run_x")],
    ]
    monkeypatch.setattr(_asset_events, "scheduled_attendee_uris", lambda: {"attendee://bots/ended"})
    monkeypatch.setattr(_asset_events, "reconcile", lambda: batches.pop(0))
    monkeypatch.setattr(_asset_events, "prune", lambda retention: 0)
    settings = EventSettings(
        webhook_receiver=True,
        event_sweeper=True,
        catch_up_interval=0,  # no catch-up in this test
        catch_up_conn_ids=(),
        retention=timedelta(days=3),
    )
    sweeper = EventSweeper(settings)
    logged = mock.Mock()
    monkeypatch.setattr(event_sweeper, "log", logged)
    sweeper.run_once()
    sweeper.run_once()
    lines = [(c.args[0], c.args[1] % c.args[2:]) for c in logged.log.call_args_list]
    assert [level for level, _ in lines] == [logging.INFO, logging.INFO, logging.WARNING]
    assert lines[0][1].endswith("queued the DAG again (repairs by this API server so far: 1 requeued)")
    assert lines[2][1].endswith(
        "created run run_x (repairs by this API server so far: 2 requeued, 1 run_created)"
    )
    assert sweeper.repairs == {"requeued": 2, "run_created": 1}


def test_stop_ends_the_thread_hands_its_leases_back_and_a_later_start_runs_afresh(monkeypatch):
    """``stop`` (tests, between cases): the thread ends, its leases go back, and the next ``start`` runs
    a new sweeper whose thread is not stopped by the old signal."""
    passes: list[str] = []
    released: list[str] = []
    monkeypatch.setattr(EventSweeper, "run_once", lambda self: passes.append(self.owner))
    monkeypatch.setattr(event_sweeper, "SWEEP_SECONDS", 0.01)
    monkeypatch.setattr(_asset_events, "release_catch_up", lambda owner: released.append(owner) or 0)
    monkeypatch.setenv("AIRFLOW__ATTENDEE__EVENT_SWEEPER", "True")
    event_sweeper.stop()  # none left by an earlier test

    def wait_for_passes(owner: str, count: int) -> None:
        for _ in range(6000):
            if passes.count(owner) >= count:
                return
            time.sleep(0.01)
        raise AssertionError(f"fewer than {count} passes of {owner}")

    assert event_sweeper.start() is True
    first_thread, first = event_sweeper._thread, event_sweeper._sweeper
    assert first_thread is not None and first is not None
    wait_for_passes(first.owner, 1)
    event_sweeper.stop()
    assert not first_thread.is_alive()
    assert event_sweeper._thread is None and event_sweeper._sweeper is None
    assert released == [first.owner]
    count = passes.count(first.owner)

    assert event_sweeper.start() is True
    second = event_sweeper._sweeper
    assert second is not None and second.owner != first.owner
    wait_for_passes(second.owner, 3)  # time for a stray pass of the first, had it not stopped
    assert passes.count(first.owner) == count  # the stopped one made no further pass
    event_sweeper.stop()
    assert released == [first.owner, second.owner]
