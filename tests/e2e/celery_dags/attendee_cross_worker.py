"""Two machines, one result (tests/e2e/test_celery_deployment.py): a transcript written on machine A (Celery
queue ``machine_a``) to shared object storage (``ATTENDEE_SHARED_DESTINATION``, an ``s3://conn@bucket/...``
URL) is read back by a task on machine B (queue ``machine_b``), which has no access to A's disk."""

from __future__ import annotations

import json
import os
from datetime import datetime
from typing import Any

from airflow.sdk import DAG, ObjectStoragePath, task

from airflow_provider_attendee.operators.bots import AttendeeCreateBotOperator
from airflow_provider_attendee.operators.outputs import AttendeeTranscriptOperator
from airflow_provider_attendee.sensors.attendee import AttendeeBotStateSensor

BOT_ID = "{{ ti.xcom_pull(task_ids='create_bot') }}"
SHARED = os.environ.get("ATTENDEE_SHARED_DESTINATION", "s3://aws_shared@attendee-results")

with DAG(
    dag_id="attendee_cross_worker",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    tags=["attendee", "test"],
) as dag:
    create_bot = AttendeeCreateBotOperator(
        task_id="create_bot", meeting_url="https://meet.google.com/bcd-efgh-ijk", queue="machine_a"
    )
    wait_ended = AttendeeBotStateSensor(
        task_id="wait_ended",
        bot_id=BOT_ID,
        target_states=["ended"],
        deferrable=True,
        poke_interval=2,
        queue="machine_a",
    )
    transcript = AttendeeTranscriptOperator(
        task_id="transcript",
        bot_id=BOT_ID,
        formats=["json"],
        destination=SHARED + "/{{ run_id | replace(':', '_') }}",
        queue="machine_a",
    )

    @task(queue="machine_b")
    def read_on_the_other_machine(written: dict[str, Any]) -> dict[str, Any]:
        """Machine B opens what machine A wrote."""
        uri = written["paths"]["json"]
        rows = json.loads(ObjectStoragePath(uri).read_text())
        return {"machine": os.environ["ATTENDEE_MACHINE"], "uri": uri, "utterances": len(rows)}

    @task(queue="machine_a")
    def machine_of_the_writer() -> str:
        return os.environ["ATTENDEE_MACHINE"]

    create_bot >> wait_ended >> transcript
    read_on_the_other_machine(transcript.output)
    machine_of_the_writer() >> create_bot
