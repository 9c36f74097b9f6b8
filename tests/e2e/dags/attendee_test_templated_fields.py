"""A test DAG (tests/e2e/test_templating_and_modes.py): every templated field of every operator and sensor
given as Jinja, and each sensor twice, in poke mode and deferrable, to compare their XComs."""

from __future__ import annotations

import os
from datetime import datetime

from airflow.sdk import DAG

from airflow_provider_attendee.operators.bots import AttendeeCreateBotOperator, AttendeeLeaveBotOperator
from airflow_provider_attendee.operators.calendar import AttendeeScheduleCalendarBotsOperator
from airflow_provider_attendee.operators.outputs import (
    AttendeeParticipantReportOperator,
    AttendeeRecordingOperator,
    AttendeeTranscriptOperator,
)
from airflow_provider_attendee.sensors.attendee import (
    AttendeeBotStateSensor,
    AttendeeParticipantCountSensor,
    AttendeeTranscriptReadySensor,
)

POLL = float(os.environ.get("ATTENDEE_EXAMPLE_POLL_SECONDS", "30"))
BOT_ID = "{{ ti.xcom_pull(task_ids='create_bot') }}"
MODES = {"poke": False, "deferred": True}

with DAG(
    dag_id="attendee_test_templated_fields",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    params={
        "conn": "attendee_default",
        "url": "https://meet.google.com/abc-defg-hij",
        "name": "Templated notetaker",
        "created_state": "joined_recording",
        "state": "ended",
        "failure": "fatal_error",
        "threshold": 4,
        "comparison": ">=",
        "pattern": ".",
        "destination": "/tmp/attendee-templated",
        "formats": "json, txt",
        "team": "product",
        "calendar": "no-such-calendar",
    },
    tags=["attendee", "test"],
) as dag:
    create = AttendeeCreateBotOperator(
        task_id="create_bot",
        attendee_conn_id="{{ params.conn }}",
        meeting_url="{{ params.url }}",
        bot_name="{{ params.name }}",
        metadata={"team": "{{ params.team }}", "run": "{{ run_id }}"},
        deduplication_key="templated-{{ run_id }}",
        bot_settings={"recording_settings": {"format": "{{ 'mp4' }}"}},
        wait_for_states="{{ params.created_state }}",
        failure_states="{{ params.failure }}",
        poke_interval=POLL,
    )
    # dag.test runs one task at a time, so the order decides which sensors really wait: both count sensors
    # (the deferred one for 4 people, then the poking one for 5), the poking state sensor (until the end).
    counts = [
        AttendeeParticipantCountSensor(
            task_id=f"count_{mode}",
            attendee_conn_id="{{ params.conn }}",
            bot_id=BOT_ID,
            threshold=threshold,
            comparison="{{ params.comparison }}",
            name_pattern="{{ params.pattern }}",
            deferrable=MODES[mode],
            poke_interval=POLL,
            timeout=600,
        )
        for mode, threshold in (
            ("deferred", "{{ params.threshold }}"),
            ("poke", "{{ params.threshold + 1 }}"),
        )
    ]
    states = [
        AttendeeBotStateSensor(
            task_id=f"state_{mode}",
            attendee_conn_id="{{ params.conn }}",
            bot_id=BOT_ID,
            target_states="{{ params.state }}",
            failure_states="{{ params.failure }}",
            deferrable=MODES[mode],
            poke_interval=POLL,
            timeout=600,
        )
        for mode in ("poke", "deferred")
    ]
    leave = AttendeeLeaveBotOperator(
        task_id="leave",
        attendee_conn_id="{{ params.conn }}",
        bot_id=BOT_ID,
        wait_for_end=True,
        poke_interval=POLL,
    )
    transcripts = [
        AttendeeTranscriptReadySensor(
            task_id=f"transcript_{mode}",
            attendee_conn_id="{{ params.conn }}",
            bot_id=BOT_ID,
            deferrable=deferrable,
            poke_interval=POLL,
            timeout=600,
        )
        for mode, deferrable in MODES.items()
    ]
    write = AttendeeTranscriptOperator(
        task_id="write_transcript",
        attendee_conn_id="{{ params.conn }}",
        bot_id=BOT_ID,
        destination="{{ params.destination }}/{{ run_id }}",
        formats="{{ params.formats }}",
    )
    recording = AttendeeRecordingOperator(
        task_id="write_recording",
        attendee_conn_id="{{ params.conn }}",
        bot_id=BOT_ID,
        destination="{{ params.destination }}/{{ run_id }}",
        file_name="{{ params.team }}.wav",
    )
    report = AttendeeParticipantReportOperator(
        task_id="write_report",
        attendee_conn_id="{{ params.conn }}",
        bot_id=BOT_ID,
        destination="{{ params.destination }}/{{ run_id }}",
        title="{{ params.team | title }} sync",
    )
    # Every templated field of the calendar sync (a calendar that does not exist: nothing to book).
    calendar = AttendeeScheduleCalendarBotsOperator(
        task_id="calendar_sync",
        attendee_conn_id="{{ params.conn }}",
        calendar_deduplication_key="{{ params.calendar }}",
        calendar_id="",
        window_start="{{ data_interval_end }}",
        window_end="{{ macros.ds_add(ds, 2) }}T00:00:00+00:00",
        bot_name="Notes · {{ params.team }} · {event_name}",
        metadata={"team": "{{ params.team }}"},
        bot_settings={"recording_settings": {"format": "{{ 'mp4' }}"}},
        key_prefix="{{ params.team }}-",
    )
    create >> counts[0] >> counts[1] >> states[0] >> states[1] >> leave >> transcripts[0]
    transcripts[0] >> transcripts[1] >> [write, recording, report]
    create >> calendar
