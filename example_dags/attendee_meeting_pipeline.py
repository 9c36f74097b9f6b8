"""
One meeting, end to end.

For the meeting URL given as a DAG param: create a bot, wait until it records, wait until enough people
are present, wait until the meeting is (nearly) empty or 90 minutes passed, make the bot leave,
wait until it ended (transcript and recording ready), then fetch the transcript, the recording and the
participant report in parallel, and publish a short summary (INFO lines in the task log, XCom and a
Markdown file).

The bot asks for speech events (the create operator's default), so the report measures who spoke from
them; a bot without them is measured from its transcript. A bot without a recording file (created with
``recording_settings.format: "none"``, or a server without recording storage) still gets its summary,
which says the recording is missing.

All waits are deferrable sensors: no worker slot is held while the meeting runs.
"""

from __future__ import annotations

import logging
import os
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from airflow.sdk import DAG, Param, task

from airflow_provider_attendee.operators.bots import AttendeeCreateBotOperator, AttendeeLeaveBotOperator
from airflow_provider_attendee.operators.outputs import (
    AttendeeParticipantReportOperator,
    AttendeeRecordingOperator,
    AttendeeTranscriptOperator,
)
from airflow_provider_attendee.sensors.attendee import AttendeeBotStateSensor, AttendeeParticipantCountSensor

# Seconds between checks; the demo shortens it (its simulated meetings run 60x faster).
POLL = float(os.environ.get("ATTENDEE_EXAMPLE_POLL_SECONDS", "30"))
BOT_ID = "{{ ti.xcom_pull(task_ids='create_bot') }}"
log = logging.getLogger("attendee_meeting_pipeline")

with DAG(
    dag_id="attendee_meeting_pipeline",
    description="Record a meeting and publish its transcript, recording and attendance report",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    default_args={"retries": 2, "retry_delay": timedelta(seconds=15)},
    params={
        "meeting_url": Param(
            "https://meet.google.com/abc-defg-hij", type="string", description="Meeting link"
        ),
        "bot_name": Param("Airflow Notetaker", type="string", description="The bot's name in the meeting"),
        "min_participants": Param(3, type="integer", minimum=1, description="Start condition"),
    },
    tags=["attendee", "example"],
    doc_md=__doc__,
) as dag:
    # --8<-- [start:create_bot]
    create_bot = AttendeeCreateBotOperator(
        task_id="create_bot",
        meeting_url="{{ params.meeting_url }}",
        bot_name="{{ params.bot_name }}",
        metadata={"dag_id": "{{ dag.dag_id }}", "run_id": "{{ run_id }}"},
    )
    # --8<-- [end:create_bot]
    # --8<-- [start:wait_recording]
    wait_recording = AttendeeBotStateSensor(
        task_id="wait_recording",
        bot_id=BOT_ID,
        target_states=["joined_recording"],
        deferrable=True,
        poke_interval=POLL,
        timeout=3600,
    )
    # --8<-- [end:wait_recording]
    # --8<-- [start:participant_count]
    wait_quorum = AttendeeParticipantCountSensor(
        task_id="wait_quorum",
        bot_id=BOT_ID,
        threshold="{{ params.min_participants }}",
        comparison=">=",
        deferrable=True,
        poke_interval=POLL,
        timeout=3600,
    )
    wait_empty = AttendeeParticipantCountSensor(
        task_id="wait_empty",
        bot_id=BOT_ID,
        threshold=1,
        comparison="<=",
        deferrable=True,
        poke_interval=POLL,
        timeout=90 * 60,  # the meeting's maximum duration: after 90 minutes the bot leaves anyway
        soft_fail=True,  # a timeout skips this wait instead of failing: the leave still runs
    )
    # --8<-- [end:participant_count]
    # --8<-- [start:leave]
    leave = AttendeeLeaveBotOperator(task_id="leave", bot_id=BOT_ID, trigger_rule="none_failed")
    # --8<-- [end:leave]
    # --8<-- [start:wait_ended]
    wait_ended = AttendeeBotStateSensor(
        task_id="wait_ended",
        bot_id=BOT_ID,
        target_states=["ended"],
        deferrable=True,
        poke_interval=POLL,
        timeout=3600,
    )
    # --8<-- [end:wait_ended]
    # --8<-- [start:transcript]
    transcript = AttendeeTranscriptOperator(
        task_id="transcript", bot_id=BOT_ID, formats=["json", "txt", "vtt"]
    )
    # --8<-- [end:transcript]
    # --8<-- [start:recording]
    # A bot without a recording file is an outcome, not a failure: the summary says so.
    recording = AttendeeRecordingOperator(task_id="recording", bot_id=BOT_ID, if_missing="skip")
    # --8<-- [end:recording]
    # --8<-- [start:report]
    report = AttendeeParticipantReportOperator(task_id="participant_report", bot_id=BOT_ID)
    # --8<-- [end:report]

    @task(task_id="publish_summary")
    def publish_summary(
        transcript: dict[str, Any], recording: dict[str, Any], report: dict[str, Any]
    ) -> dict[str, Any]:
        """A short Markdown summary next to the report, logged at INFO and returned as XCom."""
        headline = report["headline"]
        if recording["path"]:
            saved = f"{recording['bytes']} bytes ({recording['path']})"
        else:
            saved = f"missing ({recording['missing']})"
        talk = f"{headline['total_speaking_seconds'] / 60:.1f} minutes of talk"
        if headline["speaking_source"] != "speech_events":
            talk += f" (from the {headline['speaking_source']}: the bot recorded no speech events)"
        lines = [
            f"# Meeting summary (bot {report['bot_id']})",
            "",
            f"- {headline['participants']} participants, at most {headline['peak_concurrent']} at once",
            f"- {headline['duration_seconds'] / 60:.0f} minutes, {talk}",
            f"- Top speaker: {headline['top_speaker']}",
            f"- Transcript: {transcript['utterances']} utterances ({transcript['paths']['json']})",
            f"- Recording: {saved}",
            f"- Report: {report['paths']['markdown']}",
        ]
        summary_path = Path(report["paths"]["markdown"].removeprefix("file://")).with_name("summary.md")
        summary_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        # A short INFO line first, where the task log shows it (stdout lands in a collapsed group), then
        # one line per file, so the log view never cuts the summary off.
        log.info(
            "Meeting summary of bot %s: %s",
            report["bot_id"],
            "; ".join(
                [
                    *(line.removeprefix("- ") for line in lines[2:5]),
                    f"{transcript['utterances']} utterances",
                    "recording saved" if recording["path"] else f"recording missing ({recording['missing']})",
                ]
            ),
        )
        files = {"summary": str(summary_path), "transcript": transcript["paths"]["json"]}
        files |= {f"report {kind}": path for kind, path in report["paths"].items()}
        if recording["path"]:
            files["recording"] = recording["path"]
        for kind, path in files.items():
            log.info("  %s: %s", kind, path)
        return {
            **headline,
            "bot_id": report["bot_id"],
            "summary": str(summary_path),
            "transcript": transcript["paths"]["json"],
            "recording": recording["path"],
            "recording_missing": recording["missing"],
            "report": report["paths"],
        }

    summary = publish_summary(transcript.output, recording.output, report.output)
    (
        create_bot
        >> wait_recording
        >> wait_quorum
        >> wait_empty
        >> leave
        >> wait_ended
        >> [transcript, recording, report]
    )
