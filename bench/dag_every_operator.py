"""A DAG using every operator and sensor of the provider (parsed by the parse-time benchmark)."""

from __future__ import annotations

from datetime import datetime, timedelta

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

BOT = "{{ ti.xcom_pull(task_ids='create') }}"

with DAG("bench_every_operator", schedule=None, start_date=datetime(2026, 1, 1)) as dag:
    sync = AttendeeScheduleCalendarBotsOperator(task_id="sync", lookahead=timedelta(hours=1))
    create = AttendeeCreateBotOperator(task_id="create", meeting_url="https://zoom.us/j/1")
    recording_state = AttendeeBotStateSensor(
        task_id="recording_state", bot_id=BOT, target_states=["joined_recording"]
    )
    quorum = AttendeeParticipantCountSensor(task_id="quorum", bot_id=BOT, threshold=3)
    leave = AttendeeLeaveBotOperator(task_id="leave", bot_id=BOT)
    ready = AttendeeTranscriptReadySensor(task_id="ready", bot_id=BOT)
    outputs = [
        AttendeeTranscriptOperator(task_id="transcript", bot_id=BOT),
        AttendeeRecordingOperator(task_id="recording", bot_id=BOT),
        AttendeeParticipantReportOperator(task_id="report", bot_id=BOT),
    ]
    sync >> create >> recording_state >> quorum >> leave >> ready >> outputs
