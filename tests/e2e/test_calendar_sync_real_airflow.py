"""The calendar sync's memory of refused events through a real Airflow (RealAirflow: api-server, scheduler,
dag-processor, triggerer; LocalExecutor), over six runs of each mode, where the operator reads the previous
run's summary back with ``xcom_pull`` as Airflow really answers it.

The project has no Zoom credentials, so the server refuses the Zoom event on every attempt (400, as the
real server does). From the third run on, Airflow 3 answers ``xcom_pull(include_prior_dates=True)``
without ``map_indexes`` with a list of every earlier run's value: the sync then forgot its rejections
(full mode sent the refused POST on every run; incremental mode stopped reporting the event). Here every
run must report the event as rejected, and the refused POST must go out once per ``retry_rejected_after``
(1 h): on the first run and on the first run after the simulator's clock passed the hour.

The syncs' clock is the simulator's (the test DAG, tests/e2e/calendar_dags/), frozen between runs and
stepped by the test; it starts an hour behind the wall clock, so that in incremental mode the refused
event, unchanged, is not listed again by "updated since the previous successful run" (Airflow's wall-clock
start time): its rejection is carried from the previous run's summary, the path that lost it.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_attendee.testing import start_simulator
from airflow_provider_attendee.testing.real_airflow import RealAirflow
from tests.suites import real_server_twin

DAGS = Path(__file__).resolve().parent / "calendar_dags"
MODES = ("full", "incremental")
RETRY_REJECTED_AFTER = timedelta(hours=1)  # as in the test DAG
ZOOM = "https://zoom.us/j/9876543210?pwd=abc"
MEET = "https://meet.google.com/mem-{mode}-one?authuser=0"
#: The simulator's clock step before each run (minutes): a sync every 5 minutes, and once 61 minutes.
STEPS = (0, 5, 5, 61, 5, 5)
#: Whether each run sends the refused event's POST (its retry period is over) or only reports it.
SENT = (True, False, False, True, False, False)


def parse(timestamp: str) -> datetime:
    return datetime.fromisoformat(timestamp.replace("Z", "+00:00"))


def xcom(airflow: RealAirflow, dag_id: str, run_id: str) -> dict[str, Any]:
    """The sync's summary as Airflow stored it."""
    value = airflow.xcom_value(dag_id, run_id, "sync")
    assert isinstance(value, dict), value
    return value


@real_server_twin(
    "tests/system/test_calendar_sync_real_server.py::"
    "test_calendar_sync_over_six_runs_in_a_real_airflow_against_the_real_server"
)
@pytest.mark.slow
@pytest.mark.timeout(900)
def test_refused_events_are_remembered_over_many_runs_in_a_real_airflow(tmp_path):
    with start_simulator(time_scale=0, api_key=f"e2e-{secrets.token_hex(8)}") as sim:
        origin = datetime.now(timezone.utc) - timedelta(hours=1)
        sim.admin.reset(time_scale=0, zoom_credentials=False, origin=origin.isoformat())
        world = sim.simulator.world
        refused, fine = {}, {}
        for mode in MODES:
            calendar_id, _ = sim.admin.add_calendar(deduplication_key=f"memory-{mode}")
            spec = {"name": "Sync", "start_in_minutes": 180, "attendees": [{"email": "a@example.com"}]}
            refused[mode] = sim.admin.add_event(calendar_id, meeting_url=ZOOM, **spec)["id"]
            fine[mode] = sim.admin.add_event(calendar_id, meeting_url=MEET.format(mode=mode), **spec)["id"]

        # Ground truth: every POST /bots the server got for a refused event, and the simulated time of it.
        posts: dict[str, list[datetime]] = {mode: [] for mode in MODES}
        create_bot = world.create_bot

        def recording_create_bot(**kwargs: Any) -> Any:
            for mode in MODES:
                if kwargs.get("calendar_event_id") == refused[mode]:
                    posts[mode].append(world.sync())
            return create_bot(**kwargs)

        world.create_bot = recording_create_bot

        airflow_env = {
            "AIRFLOW_CONN_ATTENDEE_DEFAULT": sim.connection_json(),
            "ATTENDEE_TEST_SIM_URL": sim.url,
        }
        with RealAirflow(tmp_path, DAGS, **airflow_env) as airflow:
            dag_ids = {mode: f"attendee_test_calendar_memory_{mode}" for mode in MODES}
            for dag_id in dag_ids.values():
                airflow.wait_for_dag(dag_id)
            logical = datetime(2026, 1, 1, tzinfo=timezone.utc)
            summaries: dict[str, list[dict[str, Any]]] = {mode: [] for mode in MODES}
            for run, step in enumerate(STEPS):
                sim.admin.advance(minutes=step)
                logical += timedelta(minutes=5)  # the logical dates a 5-minute schedule gives
                for dag_id in dag_ids.values():
                    airflow.cli("dags", "trigger", dag_id, "--logical-date", logical.isoformat())
                for mode, dag_id in dag_ids.items():
                    runs = airflow.wait_for_runs(dag_id, count=run + 1)
                    assert [r["state"] for r in runs] == ["success"] * (run + 1), f"{runs}; see {tmp_path}"
                    summaries[mode].append(xcom(airflow, dag_id, runs[0]["run_id"]))

        for mode in MODES:
            for run, (summary, sent) in enumerate(zip(summaries[mode], SENT, strict=True)):
                where = f"{mode} run {run + 1}: {summary}"
                assert summary["counts"]["rejected"] == 1, where  # reported on every run
                [entry] = summary["rejected"]
                assert entry["event_id"] == refused[mode] and "Zoom App credentials" in entry["error"], where
                assert entry["sent"] is sent, where
                latest_round = max(i for i in range(run + 1) if SENT[i])
                assert parse(entry["rejected_at"]) == parse(summaries[mode][latest_round]["synced_at"]), where
                assert summary["counts"]["failed"] == 0 and summary["counts"]["created"] == (run == 0), where
                if mode == "incremental" and run > 0 and not sent:
                    # Neither event changed nor entered the window: nothing listed, the rejection carried.
                    assert (summary["mode"], summary["events_seen"]) == ("incremental", 0), where
            # The refused POST: once on the first run, once more when its hour had passed, never in between.
            assert len(posts[mode]) == SENT.count(True), (mode, posts[mode])
            gaps = [later - earlier for earlier, later in zip(posts[mode], posts[mode][1:], strict=False)]
            assert all(gap >= RETRY_REJECTED_AFTER for gap in gaps), (mode, posts[mode])
            live = [b for b in sim.admin.bots() if b["calendar_event_id"] == fine[mode] and not b["finished"]]
            assert len(live) == 1  # the other event got its one bot on the first run, and kept it
