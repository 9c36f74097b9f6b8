"""The sweeper's log of reconcile's repairs: queuing a DAG again is routine (INFO), a run of their own for
stranded events is a warning; each line carries this process's running count."""

from __future__ import annotations

import logging
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
