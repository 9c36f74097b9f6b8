"""The webhook receiver (plugin app) against a migrated Airflow DB: signed deliveries become asset events
on the URIs DAGs are scheduled on, exactly once; bad, unsigned, oversized and replayed ones record nothing."""

from __future__ import annotations

import base64
import json
import threading
import uuid
from datetime import datetime, timezone

import pytest

from airflow_provider_attendee.webhooks import SIGNATURE_HEADER, sign_payload

SECRET = base64.b64encode(b"attendee-test-webhook-secret-32b").decode()


def webhook_connection(monkeypatch, conn_id: str = "attendee_default", extra: dict | None = None) -> None:
    """An Attendee connection whose webhook_secret is SECRET (or the given extra)."""
    conn = {
        "conn_type": "attendee",
        "host": "http://127.0.0.1:9",
        "password": "k",
        "extra": {"webhook_secret": SECRET} if extra is None else extra,
    }
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))


@pytest.fixture
def client(post_meeting_db, monkeypatch):
    from fastapi.testclient import TestClient

    from airflow_provider_attendee.plugins.webhook_receiver import create_app

    webhook_connection(monkeypatch)
    return TestClient(create_app())


def envelope(bot_id: str, state: str = "ended", key: str | None = None) -> dict:
    return {
        "idempotency_key": key or str(uuid.uuid4()),
        "bot_id": bot_id,
        "bot_metadata": {"team": "product"},
        "trigger": "bot.state_change",
        "data": {
            "new_state": state,
            "old_state": "post_processing",
            "created_at": datetime.now(timezone.utc).isoformat(),
            "event_type": "post_processing_completed",
            "event_sub_type": None,
            "event_metadata": {"bot_duration_seconds": 900},
        },
    }


def post(client, payload, *, secret=SECRET, raw=None, signature=None):
    body = raw if raw is not None else json.dumps(payload).encode()
    headers = {"Content-Type": "application/json"}
    sig = (
        signature
        if signature is not None
        else (sign_payload(payload, secret) if payload is not None else None)
    )
    if sig:
        headers[SIGNATURE_HEADER] = sig
    return client.post("/webhooks", content=body, headers=headers)


def events_for(bot_id: str) -> list[dict]:
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        rows = session.execute(
            select(AssetEvent, AssetModel.uri).join(AssetModel, AssetEvent.asset_id == AssetModel.id)
        )
        return [
            {"uri": uri, **event.extra}
            for event, uri in rows
            if (event.extra or {}).get("payload", {}).get("bot_id") == bot_id
        ]


def queued_runs(dag_id: str) -> int:
    from airflow.models.asset import AssetDagRunQueue
    from airflow.utils.session import create_session
    from sqlalchemy import func, select

    with create_session() as session:
        return session.scalar(
            select(func.count()).select_from(AssetDagRunQueue).where(AssetDagRunQueue.target_dag_id == dag_id)
        )


def test_a_signed_delivery_becomes_an_asset_event_once(client):
    bot_id = f"bot_{uuid.uuid4().hex[:12]}"
    payload = envelope(bot_id)
    answer = post(client, payload)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"status": "recorded", "asset_events": ["attendee://bots/ended"]}
    (event,) = events_for(bot_id)
    assert event["uri"] == "attendee://bots/ended" and event["source"] == "webhook"
    assert event["payload"] == {
        "status": "success",
        "bot_id": bot_id,
        "state": "ended",
        "old_state": "post_processing",
        "event_type": "post_processing_completed",
        "metadata": {"team": "product"},
    }
    assert queued_runs("attendee_post_meeting") >= 1  # the example post-meeting DAG will run

    # Attendee's retry (its answer came after 10 s): answered as delivered, so that Attendee does not count
    # it a failure, and nothing recorded twice.
    replay = post(client, payload)  # the same idempotency key again
    assert replay.status_code == 200, replay.text
    assert replay.json() == {"status": "duplicate", "asset_events": []}
    assert len(events_for(bot_id)) == 1


@pytest.mark.parametrize(
    ("case", "status"),
    [
        ("unsigned", 401),
        ("wrong secret", 401),
        ("tampered", 401),
        ("not json", 400),
        ("not an envelope", 400),
        ("oversized", 400),
    ],
)
def test_bad_deliveries_record_nothing(client, case, status):
    bot_id = f"bot_{uuid.uuid4().hex[:12]}"
    payload = envelope(bot_id)
    other = base64.b64encode(b"another-secret-of-thirty-two-byt").decode()
    if case == "unsigned":
        answer = post(client, None, raw=json.dumps(payload).encode())
    elif case == "wrong secret":
        answer = post(client, payload, secret=other)
    elif case == "tampered":
        answer = post(client, payload, raw=json.dumps({**payload, "bot_id": "bot_other"}).encode())
    elif case == "not json":
        answer = post(client, None, raw=b"not json", signature="c2ln")
    elif case == "not an envelope":
        answer = post(client, {"bot_id": bot_id})
    else:
        answer = post(client, {**payload, "padding": "x" * (1024 * 1024)})
    assert answer.status_code == status, answer.text
    assert events_for(bot_id) == []


def test_simultaneous_finishes_are_each_recorded_once(client):
    """Twenty meetings ending in the same second, each delivery sent twice at once: 20 events, every
    delivery answered 200 (20 recorded, 20 duplicates), written in fewer transactions than deliveries."""
    from airflow_provider_attendee.plugins.delivery_batches import batcher

    payloads = [envelope(f"bot_{uuid.uuid4().hex[:12]}") for _ in range(20)]
    answers: list[tuple[int, str]] = []
    barrier = threading.Barrier(40)
    batches_before, deliveries_before = batcher().batches, batcher().deliveries

    def send(payload):
        barrier.wait()
        answer = post(client, payload)
        answers.append((answer.status_code, answer.json()["status"]))

    threads = [threading.Thread(target=send, args=(p,)) for p in payloads * 2]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(answers) == [(200, "duplicate")] * 20 + [(200, "recorded")] * 20
    assert all(len(events_for(p["bot_id"])) == 1 for p in payloads)
    batches, deliveries = batcher().batches - batches_before, batcher().deliveries - deliveries_before
    assert deliveries == 40 and batches < 40, (batches, deliveries)  # arriving together, written together


def test_the_plugin_is_served_by_the_airflow_api_server(airflow_db):
    """Mounted under /attendee; and when the API server starts (its lifespan), the Execution API's
    versioned routes are built before the first request, not during the first task run's (which would
    stall the worker, webhooks included)."""
    from airflow.api_fastapi.app import create_app
    from fastapi.testclient import TestClient

    app = create_app()
    mounted = {getattr(route, "path", None): getattr(route, "app", None) for route in app.routes}
    assert "/attendee" in mounted
    execution = mounted["/execution"]
    assert execution._cadwyn_initialized is False  # cadwyn builds them lazily, in the event loop
    with TestClient(app):  # the server starts: lifespan, middleware stack built
        assert execution._cadwyn_initialized is True


def test_a_connection_without_a_usable_secret_answers_503_and_records_nothing(client, monkeypatch):
    bot_id = f"bot_{uuid.uuid4().hex[:12]}"
    for extra in ({}, {"webhook_secret": "not base64 !"}):
        webhook_connection(monkeypatch, extra=extra)
        answer = post(client, envelope(bot_id))
        assert answer.status_code == 503 and "webhook secret" in answer.json()["error"]
    assert events_for(bot_id) == []
