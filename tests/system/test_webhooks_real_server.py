"""Webhooks from the REAL Attendee server (its Celery worker delivers them) to a receiver in this test: what
the driver's webhook commands set up, and what the provider's webhook parsing and signature check make of it."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from airflow_provider_attendee.webhooks import parse_webhook, verify_webhook_signature
from tests.system.server import Driver, Project
from tests.system.test_hook_real_server import MEET, google_event, move, utc_in

WAIT_S = 60.0


class Receiver:
    """An HTTP receiver on 127.0.0.1 that keeps every POST and answers ``status``."""

    def __init__(self) -> None:
        self.posts: list[tuple[dict[str, str], bytes]] = []
        self.status = 200
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.posts.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(receiver.status)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_for(self, predicate: Callable[[list[Any]], bool], what: str) -> list[Any]:
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            parsed = [parse_webhook(body) for _, body in list(self.posts)]
            if predicate(parsed):
                return parsed
            time.sleep(0.2)
        raise AssertionError(f"no {what} within {WAIT_S:.0f} s; got {[p.trigger for p in parsed]}")

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = Receiver()
    try:
        yield running
    finally:
        running.close()


def test_bot_webhooks_signed_with_the_project_secret(
    system_hook, attendee_driver: Driver, system_project: Project, receiver: Receiver
):
    subscription = attendee_driver.call(
        "subscribe_webhooks",
        project_id=system_project.project_id,
        url=receiver.url,
        triggers=["bot.state_change", "transcript.update", "participant_events.join_leave"],
    )
    assert subscription["id"].startswith("webhook_")
    bot = system_hook.create_bot(MEET, bot_name="Notes", metadata={"meeting": "m1"})
    move(attendee_driver, bot.id, "joined_meeting", "recording_permission_granted")
    attendee_driver.call("participant_event", bot_id=bot.id, uuid="p1", name="Ada", event_type="join")
    attendee_driver.call("utterance", bot_id=bot.id, speaker_uuid="p1", text="Hello.", duration_ms=800)
    move(attendee_driver, bot.id, "meeting_ended", "post_processing_completed")

    parsed = receiver.wait_for(
        lambda hooks: sum(h.trigger == "bot.state_change" for h in hooks) >= 5 and len(hooks) >= 7,
        "7 webhooks",
    )
    for headers, body in receiver.posts:
        assert headers["content-type"] == "application/json"
        assert headers["user-agent"] == "Attendee-Webhook/1.0"
        assert verify_webhook_signature(body, headers["x-webhook-signature"], system_project.webhook_secret)
    assert {p.bot_id for p in parsed} == {bot.id}
    assert {p.bot_metadata["meeting"] for p in parsed} == {"m1"}
    # Deliveries are concurrent Celery tasks: compare as sets, in the order of the states they report.
    states = sorted(
        (p.data.created_at, p.data.old_state, p.data.new_state)
        for p in parsed
        if p.trigger == "bot.state_change"
    )
    assert [(old, new) for _, old, new in states] == [
        ("ready", "joining"),
        ("joining", "joined_not_recording"),
        ("joined_not_recording", "joined_recording"),
        ("joined_recording", "post_processing"),
        ("post_processing", "ended"),
    ]
    [ended] = [p for p in parsed if p.trigger == "bot.state_change" and p.data.new_state == "ended"]
    assert "bot_duration_seconds" in ended.data.event_metadata
    [join] = [p for p in parsed if p.trigger == "participant_events.join_leave"]
    assert (join.data.participant_uuid, join.data.participant_name, join.data.event_type) == (
        "p1",
        "Ada",
        "join",
    )
    [utterance] = [p for p in parsed if p.trigger == "transcript.update"]
    assert (utterance.data.speaker_uuid, utterance.data.transcription.transcript) == ("p1", "Hello.")

    deadline = time.monotonic() + WAIT_S  # the worker marks a delivery after the receiver answered
    while True:
        deliveries = attendee_driver.call("webhook_deliveries", project_id=system_project.project_id)
        if {d["status"] for d in deliveries} == {"success"} or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert len(deliveries) == 7
    assert {d["status"] for d in deliveries} == {"success"}
    assert {d["idempotency_key"] for d in deliveries} == {p.idempotency_key for p in parsed}


def test_rotated_secret_inactive_subscription_and_failed_delivery(
    system_hook, attendee_driver: Driver, system_project: Project, receiver: Receiver
):
    subscription = attendee_driver.call(
        "subscribe_webhooks", project_id=system_project.project_id, url=receiver.url
    )
    rotated = attendee_driver.call("set_webhook_secret", project_id=system_project.project_id)[
        "webhook_secret"
    ]
    assert rotated != system_project.webhook_secret
    first = system_hook.create_bot(MEET, bot_name="Notes")
    receiver.wait_for(lambda hooks: len(hooks) == 1, "the join_requested webhook")
    headers, body = receiver.posts[0]
    assert verify_webhook_signature(body, headers["x-webhook-signature"], rotated)
    assert not verify_webhook_signature(body, headers["x-webhook-signature"], system_project.webhook_secret)

    # An inactive subscription gets nothing.
    attendee_driver.call("set_webhook_active", subscription_id=subscription["id"], active=False)
    move(attendee_driver, first.id, "joined_meeting")
    time.sleep(3)
    assert len(receiver.posts) == 1
    assert [d["bot_id"] for d in attendee_driver.call("webhook_deliveries", bot_id=first.id)] == [first.id]

    # A receiver that refuses: 3 attempts, then the delivery is failed for good.
    attendee_driver.call("set_webhook_active", subscription_id=subscription["id"], active=True)
    receiver.status = 500
    second = system_hook.create_bot(MEET, bot_name="Notes")
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        [delivery] = attendee_driver.call("webhook_deliveries", bot_id=second.id)
        if delivery["status"] == "failure" and delivery["attempt_count"] == 3:  # "failure" after each attempt
            break
        time.sleep(0.5)
    assert (delivery["status"], delivery["attempt_count"], delivery["trigger"]) == (
        "failure",
        3,
        "bot.state_change",
    )
    assert len(receiver.posts) == 4  # one for the first bot, three attempts for the second


def test_calendar_webhooks(attendee_driver: Driver, system_project: Project, receiver: Receiver):
    attendee_driver.call(
        "subscribe_webhooks",
        project_id=system_project.project_id,
        url=receiver.url,
        triggers=["calendar.events_update", "calendar.state_change"],
    )
    calendar = attendee_driver.call(
        "create_calendar",
        project_id=system_project.project_id,
        deduplication_key="ada",
        metadata={"owner": "ada"},
    )["id"]
    event = google_event("g1", utc_in(hours=2))  # one start: computed twice, it may differ by a second
    attendee_driver.call("sync_calendar", calendar_id=calendar, events=[event])
    attendee_driver.call("sync_calendar", calendar_id=calendar, events=[event])  # no change
    attendee_driver.call("sync_calendar", calendar_id=calendar, events=[], auth_error=True)
    parsed = receiver.wait_for(lambda hooks: len(hooks) >= 2, "2 calendar webhooks")
    time.sleep(2)  # nothing more comes: an unchanged sync sends none
    # At least once: on a loaded machine a slow answer makes Attendee send a delivery again (same key).
    parsed = list({p.idempotency_key: p for p in map(parse_webhook, (b for _, b in receiver.posts))}.values())
    assert sorted(p.trigger for p in parsed) == ["calendar.events_update", "calendar.state_change"]
    assert {(p.calendar_id, p.calendar_deduplication_key) for p in parsed} == {(calendar, "ada")}
    assert {p.calendar_metadata["owner"] for p in parsed} == {"ada"}
    [state_change] = [p for p in parsed if p.trigger == "calendar.state_change"]
    assert state_change.data.state == "disconnected"
    for headers, body in receiver.posts:
        assert verify_webhook_signature(body, headers["x-webhook-signature"], system_project.webhook_secret)
