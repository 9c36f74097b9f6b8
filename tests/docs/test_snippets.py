"""The code the docs show that is not in an example DAG: each snippet runs here, and the docs include it
from this file (``--8<-- [start:name]`` markers), so what a reader copies is what CI ran."""

from __future__ import annotations

import base64
import json

import pytest

from airflow_provider_attendee.webhooks import BotStateChangeWebhook, sign_payload


@pytest.mark.attendee_simulator(scenario="demo")
def test_hook_usage(attendee_simulator):
    # --8<-- [start:hook]
    import pendulum

    from airflow_provider_attendee.hooks.attendee import AttendeeHook

    hook = AttendeeHook()  # attendee_conn_id="attendee_default"
    bot = hook.create_bot(
        "https://zoom.us/j/123?pwd=456",
        bot_name="Notetaker",
        join_at="2030-01-15T14:00:00Z",
        deduplication_key="standup-2030-01-15",
        metadata={"team": "platform"},
        transcription_settings={"deepgram": {"language": "en"}},
    )
    for live in hook.list_bots(states=["scheduled", "joined_recording"]):  # lazy, follows every page
        print(live.id, live.state, live.join_at)
    events = hook.list_participant_events(bot.id, after="2030-01-15T14:00:00Z")
    upcoming = hook.list_calendar_events(
        calendar_deduplication_key="user-42", start_time_gte=pendulum.now(), ordering="start_time"
    )
    # --8<-- [end:hook]
    assert bot.state == "scheduled" and bot.metadata == {"team": "platform"}
    assert bot.id in {b.id for b in hook.list_bots(states=["scheduled"])}
    assert list(events) == [] and list(upcoming) == []


def test_verify_a_webhook():
    secret = base64.b64encode(b"project-webhook-secret-32-bytes!").decode()
    payload = {
        "idempotency_key": "0d9d7a3b-7f1e-4c1e-9b7e-3f1b2f0c9a11",
        "bot_id": "bot_weIAju4OXNZkDTpZ",
        "bot_metadata": None,
        "trigger": "bot.state_change",
        "data": {
            "new_state": "ended",
            "old_state": "post_processing",
            "created_at": "2030-01-15T14:30:45.123456+00:00",
            "event_type": "post_processing_completed",
        },
    }
    body = json.dumps(payload).encode()
    headers = {"X-Webhook-Signature": sign_payload(payload, secret)}

    def receive(body: bytes, headers: dict[str, str], webhook_secret: str) -> object:
        # --8<-- [start:verify-webhook]
        from airflow_provider_attendee.webhooks import parse_webhook, verify_webhook_signature

        if not verify_webhook_signature(body, headers.get("X-Webhook-Signature"), webhook_secret):
            return 401  # not signed with the project's secret
        # A BotStateChangeWebhook, TranscriptUpdateWebhook, ParticipantEventWebhook, CalendarWebhook, or
        # OtherWebhook for other triggers:
        event = parse_webhook(body)
        # --8<-- [end:verify-webhook]
        return event

    event = receive(body, headers, secret)
    assert isinstance(event, BotStateChangeWebhook) and event.bot_id == "bot_weIAju4OXNZkDTpZ"
    assert receive(body, {"X-Webhook-Signature": "forged"}, secret) == 401


@pytest.mark.attendee_simulator(scenario="demo")
def test_operator_options(attendee_simulator):
    from datetime import datetime

    from airflow.sdk import DAG

    with DAG("docs_operator_options", schedule=None, start_date=datetime(2026, 1, 1)) as dag:
        from datetime import timedelta

        from airflow_provider_attendee.operators.bots import (
            AttendeeCreateBotOperator,
            AttendeeLeaveBotOperator,
        )
        from airflow_provider_attendee.operators.calendar import AttendeeScheduleCalendarBotsOperator
        from airflow_provider_attendee.operators.outputs import (
            AttendeeParticipantReportOperator,
            AttendeeRecordingOperator,
            AttendeeTranscriptOperator,
        )

        # --8<-- [start:create-options]
        # Create a bot and wait (in the triggerer) until it records. Returns the bot id.
        create = AttendeeCreateBotOperator(
            task_id="create_bot",
            meeting_url="{{ params.meeting_url }}",
            bot_name="Notetaker",
            wait_for_states=["joined_recording"],
            deferrable=True,
        )
        # --8<-- [end:create-options]
        # --8<-- [start:calendar-options]
        # Calendar -> bots, with every selection rule.
        sync = AttendeeScheduleCalendarBotsOperator(
            task_id="schedule_bots",
            lookahead=timedelta(hours=24),
            incremental=True,
            skip_name_regex=r"\b(personal|lunch)\b",
            min_attendees=2,
            attendee_domains=["example.com"],
            event_filter=lambda event: "1:1" not in (event.name or ""),
            bot_name="Notetaker · {event_name}",
            metadata={"event_id": "{event_id}"},
            max_concurrency=8,
        )
        # --8<-- [end:calendar-options]
        # --8<-- [start:leave-options]
        # Leave; a bot that has not joined yet is unscheduled instead; wait until it ended.
        leave = AttendeeLeaveBotOperator(
            task_id="leave",
            bot_id=create.output,
            unschedule_if_scheduled=True,
            wait_for_end=True,
            deferrable=True,
        )
        # --8<-- [end:leave-options]
        # --8<-- [start:output-options]
        # Results to shared storage (a path or URL; default $AIRFLOW_HOME/attendee/<dag>/<run>/<bot>/).
        transcript = AttendeeTranscriptOperator(
            task_id="transcript",
            bot_id=create.output,
            destination="s3://aws_default@meetings/{{ ds }}/",
            formats=["json", "vtt", "srt"],
        )
        recording = AttendeeRecordingOperator(task_id="recording", bot_id=create.output)  # streamed
        report = AttendeeParticipantReportOperator(task_id="report", bot_id=create.output)
        # --8<-- [end:output-options]
    dag.validate()
    assert {t.task_id for t in dag.tasks} == {
        "create_bot",
        "schedule_bots",
        "leave",
        "transcript",
        "recording",
        "report",
    }
    assert create.wait_for_states == ["joined_recording"] and leave.wait_for_end and recording.bot_id
    assert transcript.destination.startswith("s3://") and report.bot_id == transcript.bot_id
    # The selection as documented, against the demo calendar: the 1:1 is left out by event_filter, the
    # personal appointment by skip_name_regex.
    summary = sync.execute({})
    names = {event.id: event.name for event in sync.hook.list_calendar_events()}
    skipped = {names[event_id]: reason for event_id, reason in summary["skipped"].items()}
    assert skipped["1:1 Maya / Tom"] == "event_filter returned False"
    assert skipped["Dentist (personal)"] == "name matches skip_name_regex"
    assert summary["counts"]["created"] == len(attendee_simulator.admin.bots()) > 0


@pytest.mark.attendee_simulator(scenario="demo")
def test_transcript_ready_sensor(attendee_simulator):
    from airflow_provider_attendee.hooks.attendee import AttendeeHook

    bot_id = AttendeeHook().create_bot("https://meet.google.com/abc-defg-hij", bot_name="Notes").id
    # --8<-- [start:transcript-ready]
    from airflow_provider_attendee.sensors.attendee import AttendeeTranscriptReadySensor

    ready = AttendeeTranscriptReadySensor(
        task_id="wait_transcript",
        bot_id=bot_id,  # e.g. "{{ ti.xcom_pull(task_ids='create_bot') }}"
        require_recording=True,  # and the recording
        deferrable=True,
        timeout=3600,
    )
    # --8<-- [end:transcript-ready]
    ready.deferrable = False  # poked here, outside a triggerer
    assert ready.poke({}).is_done is False  # the meeting has not even started
    attendee_simulator.admin.advance(800)  # the demo's product sync ends 720 s after the bot is admitted
    result = ready.poke({})
    assert result.is_done and result.xcom_value["bot_id"] == bot_id
    assert result.xcom_value["transcription_state"] == "complete"
    assert result.xcom_value["recording_state"] == "complete"
