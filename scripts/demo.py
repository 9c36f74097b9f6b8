"""The one-command demo: the example DAGs end to end through Airflow, against the bundled simulator.

Starts the Attendee simulator (bundled "demo" scenario, 1 simulated minute = 1 real second), sets up a
throwaway Airflow home (SQLite) with the connection (the example DAGs run in the default pool), then runs
``attendee_calendar_sync``, ``attendee_meeting_pipeline`` and, for the meetings that ended meanwhile,
``attendee_post_meeting`` (the bots found by the same event trigger that feeds its Asset, and the failed
bots), which fills the meeting tables (embedded SQLite), then ``attendee_meeting_digest`` for the week.
Prints what happened. No account, no network; Airflow's own logs go to .demo/airflow.log.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from airflow_provider_attendee.client.names import distinct_labels
from airflow_provider_attendee.testing.demo import PRODUCT_SYNC  # imports neither Airflow nor the server

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / ".demo"
TIME_SCALE = 60.0  # simulated seconds per real second
WAIT_FOR_MEETINGS_S = 60.0


def configure_airflow() -> dict[str, str]:
    """A fresh AIRFLOW_HOME under .demo/, set before anything imports airflow."""
    shutil.rmtree(WORK, ignore_errors=True)
    (WORK / "airflow-home").mkdir(parents=True)
    env = {
        "AIRFLOW_HOME": str(WORK / "airflow-home"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "example_dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
        "ATTENDEE_EXAMPLE_POLL_SECONDS": "1",
    }
    os.environ.update(env)
    return env


@contextlib.contextmanager
def quiet(log_path: Path) -> Iterator[None]:
    """Send everything written to stdout/stderr (Airflow's task logs) to a file."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with open(log_path, "a") as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


def step(message: str) -> None:
    print(f"\n==> {message}", flush=True)


def airflow_cli(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "airflow", *args], check=True, capture_output=True)


def run_dag(name: str, log: Path, **kwargs: Any) -> Any:
    import runpy

    dag = runpy.run_path(str(ROOT / "example_dags" / f"{name}.py"))["dag"]
    started = time.monotonic()
    with quiet(log):
        run = dag.test(**kwargs)
    states = {(ti.task_id, ti.map_index): str(ti.state) for ti in run.get_task_instances()}
    failed = {task: state for task, state in states.items() if state != "success"}
    print(f"    {name}: {run.state} in {time.monotonic() - started:.1f}s ({len(states)} task instances)")
    if failed:
        raise SystemExit(f"    tasks not successful: {failed}; see {log}")
    return run


def xcom(run: Any, task_id: str) -> list[Any]:
    return [
        ti.xcom_pull(task_ids=task_id, map_indexes=ti.map_index)
        for ti in run.get_task_instances()
        if ti.task_id == task_id
    ]


async def finished_bots(exclude: set[str], deadline: float, since: str) -> list[dict[str, Any]]:
    """Bots that reached ``ended``, as the post-meeting DAG's AssetWatcher sees them (with a backfill of
    those that ended since the simulated clock started, before the watcher did)."""
    from airflow_provider_attendee.triggers.attendee import AttendeeBotEventTrigger

    found: list[dict[str, Any]] = []
    events = AttendeeBotEventTrigger(state="ended", poll_interval=1, not_before=since).run()
    try:
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                event = await asyncio.wait_for(anext(events), remaining)
            except (TimeoutError, asyncio.TimeoutError):
                break
            if event.payload["bot_id"] not in exclude:
                found.append(event.payload)
    finally:
        await events.aclose()
    return found


def local(path: str) -> str:
    return path.removeprefix("file://")


def print_notes(results: list[Any], bots: dict[str, Any], approved: list[str]) -> None:
    """The meeting notes: who wrote them (plainly: a stand-in model), what was approved, where they are."""
    if not results:
        print("    meeting notes: not in this install (pip install 'airflow-provider-attendee[notes]')")
        return
    print(
        f"    meeting notes: held for approval, approved by a scripted demo reviewer ({len(approved)} reviews)"
    )
    for result in sorted(results, key=lambda r: r["bot_id"]):
        name = bots.get(result["bot_id"], {}).get("bot_name", result["bot_id"]).replace("Notetaker · ", "")
        notes, usage = result["notes"], result["usage"]
        print(
            f"    {name}: {len(notes['summary'])} summary points, {len(notes['decisions'])} decisions, "
            f"{len(notes['action_items'])} action items, {len(notes['open_questions'])} open questions; "
            f"{usage['calls']} model call(s), {len(result['dropped'])} item(s) dropped as unsupported"
        )
        if result.get("stand_in"):
            print(
                "      NOTE: a stand-in model wrote these notes (pydantic-ai FunctionModel picking transcript"
            )
            print(
                "      lines by keywords), not a language model. Define the connection attendee_notes_llm to"
            )
            print("      use a real one (docs/operators/meeting-notes.md).")
        for item in notes["action_items"][:3]:
            cite = item["citations"][0]
            print(f"      - [ ] {item['owner']}: {item['what']} ({cite['speaker']} {cite['time']})")
        if result.get("paths"):
            print(f"      notes: {local(result['paths']['markdown'])}")


def print_report(title: str, report_json: str) -> None:
    report = json.loads(Path(local(report_json)).read_text())
    source = {"speech_events": "speech events", "transcript": "the transcript"}.get(
        report["speaking_source"], "nowhere: no speech events, no transcript"
    )
    print(
        f"    {title}: {report['duration_seconds'] / 60:.0f} min, {len(report['participants'])} attended, "
        f"at most {report['peak_concurrent']} at once; speaking time from {source}"
    )
    labels = distinct_labels((person["uuid"], person["name"]) for person in report["participants"])
    for person in report["participants"]:
        host = " (host)" if person["is_host"] else ""
        print(
            f"      - {labels[person['uuid']]}{host}: present {person['present_seconds'] / 60:4.1f} min, "
            f"spoke {person['speaking_seconds']:4.0f} s ({person['talk_share']:4.0%}) in {person['speaking_turns']} turn"
            + ("s" if person["speaking_turns"] != 1 else "")
        )


def main() -> int:
    started = time.monotonic()
    env = configure_airflow()
    log = WORK / "airflow.log"
    from airflow_provider_attendee.testing import start_simulator

    api_key = f"demo-{secrets.token_hex(8)}"
    step("Starting the Attendee simulator (bundled 'demo' scenario)")
    # The clock stands still during set-up and the calendar sync (the operator's window is in real time),
    # then runs at 1 simulated minute per second.
    with start_simulator(scenario="demo", time_scale=0, api_key=api_key) as sim:
        os.environ["AIRFLOW_CONN_ATTENDEE_DEFAULT"] = sim.connection_json()
        print(f"    {sim.url} (admin: {sim.url}/_sim/)")

        step(f"Setting up a throwaway Airflow home in {env['AIRFLOW_HOME']}")
        airflow_cli("db", "migrate")
        airflow_cli("dags", "reserialize")
        print("    metadata DB migrated, connection attendee_default -> simulator (default pool)")

        step("attendee_calendar_sync: one bot per upcoming meeting")
        sync = xcom(run_dag("attendee_calendar_sync", log), "schedule_bots")[0]
        print(f"    {sync['events_seen']} calendar events: {sync['counts']}")
        bots = {b["id"]: b for b in sim.admin.bots()}
        for item in sync["created"]:
            bot = bots[item["bot_id"]]
            print(f"      + {bot['bot_name']:<40} joins {bot['join_at'][11:16]} UTC  ({bot['id']})")
        for event_id, reason in sync["skipped"].items():
            print(f"      - skipped {event_id}: {reason}")

        sim.admin.set_time_scale(TIME_SCALE)
        clock_started, sim_started = time.monotonic(), sim.admin.now()
        step(f"attendee_meeting_pipeline for {PRODUCT_SYNC} (now 1 simulated minute = 1 s)")
        pipeline = run_dag("attendee_meeting_pipeline", log, run_conf={"meeting_url": PRODUCT_SYNC})
        summary = xcom(pipeline, "publish_summary")[0]
        print_report("Weekly product sync", summary["report"]["json"])
        print(f"      transcript: {local(summary['transcript'])}")
        recording = summary["recording"]
        print(
            f"      recording:  {local(recording) if recording else 'missing: ' + summary['recording_missing']}"
        )
        print(f"      report:     {local(summary['report']['markdown'])}")
        if "chart" in summary["report"]:
            print(f"      chart:      {local(summary['report']['chart'])}")
        print(f"      summary:    {summary['summary']}")

        step("Waiting for the calendar's meetings to end (the post-meeting DAG's AssetWatcher trigger)")
        deadline = clock_started + WAIT_FOR_MEETINGS_S
        # Not the pipeline's bot: the calendar's bot recorded that meeting too (the tables would count it twice).
        ended = asyncio.run(finished_bots({summary["bot_id"]}, deadline, sim_started))
        failed = [b for b in sim.admin.bots() if b["state"] == "fatal_error"]
        for bot in failed:
            print(
                f"    ! {bot['bot_name']}: fatal_error ({bot['events'][-1].get('sub_type', '')}): never admitted"
            )
        calendar_ended = [bots[b["bot_id"]]["bot_name"] for b in ended if b["bot_id"] in bots]
        print(f"    {len(calendar_ended)} meetings ended: {', '.join(calendar_ended)}")

        if ended or failed:
            step("attendee_post_meeting for each finished meeting and failed bot (into the meeting tables)")
            from airflow_provider_attendee.testing.approvals import reviewer

            # The notes wait for a person's approval; here a scripted reviewer approves them once asked.
            with reviewer("attendee_post_meeting", name="demo reviewer") as approved:
                post = run_dag(
                    "attendee_post_meeting",
                    log,
                    run_conf={
                        "bot_ids": [b["bot_id"] for b in ended],
                        "failed_bot_ids": [b["id"] for b in failed],
                    },
                )
            for result in sorted(xcom(post, "participant_report"), key=lambda r: r["bot_id"]):
                name = bots.get(result["bot_id"], {}).get("bot_name", result["bot_id"])
                if result["tables"]["outcome"] == "failed":
                    print(
                        f"    {name.replace('Notetaker · ', '')}: failed ({result['tables']['failure_reason']})"
                    )
                    continue
                print_report(name.replace("Notetaker · ", ""), result["paths"]["json"])
                print(f"      report: {local(result['paths']['markdown'])}")
            print_notes(xcom(post, "meeting_notes"), bots, approved)
            tables = {r["tables"]["conn_id"] for r in xcom(post, "participant_report")}
            print(
                f"    meeting tables: {', '.join(tables)} -> {WORK / 'airflow-home' / 'attendee' / 'meetings.db'}"
            )

        step("attendee_meeting_digest: this week's digest from the meeting tables")
        digest = xcom(run_dag("attendee_meeting_digest", log, run_conf={"week": "current"}), "digest")[0]
        headline = digest["headline"]
        print(
            f"    week of {digest['week']}: {headline['meetings']} meetings, {headline['hours']} h, "
            f"{headline['people']} people, {headline['failed_bots']} failed bot(s), top speaker {headline['top_speaker']}, "
            f"{headline.get('open_action_items', 0)} open action item(s)"
        )
        print(f"      digest: {local(digest['paths']['html'])}")
        print(f"              {local(digest['paths']['markdown'])} (+ {len(digest['paths']) - 2} charts)")

        counters = sim.admin.counters()
        step("Done")
        print(
            f"    {sum(counters['requests'].values())} Attendee API calls, "
            f"{len(sim.admin.bots())} bots in the simulator, {time.monotonic() - started:.0f}s in all"
        )
        print(f"    Airflow logs: {log}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
