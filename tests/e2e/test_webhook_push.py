"""Push end to end over real HTTP: the simulator delivers signed webhooks (as the real server does) to the
receiver app served by uvicorn on 127.0.0.1, and every finished meeting becomes one asset event."""

from __future__ import annotations

import base64
import itertools
import json
import socket
import threading
import time
from collections import Counter

import pytest
import uvicorn

from tests.e2e.test_webhook_receiver import SECRET, events_for, webhook_connection

MEETINGS = [
    "https://meet.google.com/abc-defg-hij",  # the demo's product sync, and generated meetings
    "https://meet.google.com/bcd-efgh-ijk",
    "https://meet.google.com/cde-fghi-jkl",
]


@pytest.fixture
def receiver(post_meeting_db, monkeypatch):
    """The receiver app on a free port (uvicorn in a thread), verifying with SECRET; readied before it
    serves, as the plugin does in the API server (this test's own thread imports Airflow's models too)."""
    from airflow_provider_attendee.plugins.webhook_receiver import create_app, prepare

    webhook_connection(monkeypatch, "attendee_webhooks")
    prepare()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}/webhooks?conn_id=attendee_webhooks"
    server.should_exit = True
    thread.join(timeout=10)


def wait_until(condition, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return False


@pytest.mark.attendee_simulator(scenario="demo", time_scale=120)
def test_every_finished_meeting_is_pushed_once(attendee_simulator, receiver):
    from airflow_provider_attendee.hooks.attendee import AttendeeHook

    admin = attendee_simulator.admin
    admin.set_webhooks([{"url": receiver, "triggers": ["bot.state_change"]}], SECRET)
    with AttendeeHook() as hook:
        bots = [
            hook.create_bot(url, bot_name="Push") for url in MEETINGS for _ in range(2)
        ]  # 6 bots, 3 meetings
    ids = {bot.id for bot in bots}
    # No one polls the API from here: the simulator moves on its own and pushes each state change.
    assert wait_until(lambda: all(len(events_for(bot_id)) == 1 for bot_id in ids), timeout=90)
    deliveries = admin.webhook_deliveries()
    ended = [d for d in deliveries if d["bot_id"] in ids and d["delivered"]]
    assert len(ended) == len(deliveries) and all(d["attempts"] == [200] for d in deliveries)
    # Every state change pushed, in the order it happened: each bot's chain of (old, new) states runs
    # unbroken to ended. (How many changes a bot makes depends on how far the 120x clock moves per tick.)
    for bot_id in ids:
        chain = [
            (d["data"]["old_state"], d["data"]["new_state"]) for d in deliveries if d["bot_id"] == bot_id
        ]
        assert len(chain) >= 2 and chain[-1][1] == "ended", chain
        assert all(before[1] == after[0] for before, after in itertools.pairwise(chain)), chain
    for bot_id in ids:
        (event,) = events_for(bot_id)
        assert event["uri"] == "attendee://bots/ended" and event["payload"]["state"] == "ended"
        assert event["data"]["event_type"] == "post_processing_completed"


@pytest.mark.attendee_simulator(scenario="demo", time_scale=0)
def test_a_bots_own_webhooks_replace_the_projects_and_failed_deliveries_are_retried_3_times(
    attendee_simulator,
):
    from airflow_provider_attendee.hooks.attendee import AttendeeHook

    admin = attendee_simulator.admin
    admin.set_webhooks([{"url": "http://127.0.0.1:9/project", "triggers": ["bot.state_change"]}], SECRET)
    attendee_simulator.simulator.webhooks.backoff_seconds = 0.05
    with AttendeeHook() as hook:
        bot = hook.create_bot(
            MEETINGS[1], webhooks=[{"url": "http://127.0.0.1:9/own", "triggers": ["bot.state_change"]}]
        )
    assert wait_until(
        lambda: admin.webhook_deliveries() and all(d["done"] for d in admin.webhook_deliveries()), 30
    )
    (delivery,) = admin.webhook_deliveries()  # ready -> joining
    assert delivery["url"] == "http://127.0.0.1:9/own" and delivery["bot_id"] == bot.id
    assert len(delivery["attempts"]) == 3 and not delivery["delivered"]  # nobody listens on port 9


def test_the_simulators_signature_is_the_one_the_receiver_verifies():
    from airflow_provider_attendee.testing.simulator.webhook_delivery import sign
    from airflow_provider_attendee.webhooks import verify_webhook_signature

    payload = {
        "idempotency_key": "k",
        "bot_id": "bot_x",
        "trigger": "bot.state_change",
        "data": {"new_state": "ended", "name": "Zoë"},
    }
    assert verify_webhook_signature(json.dumps(payload).encode(), sign(payload, SECRET), SECRET)
    assert not verify_webhook_signature(
        json.dumps(payload).encode(), sign(payload, base64.b64encode(b"x" * 32).decode()), SECRET
    )


@pytest.mark.attendee_simulator(scenario="demo", time_scale=120)
def test_transcript_and_participant_webhooks_match_what_the_api_lists(attendee_simulator, receiver):
    from airflow_provider_attendee.hooks.attendee import AttendeeHook

    triggers = [
        "transcript.update",
        "participant_events.join_leave",
        "participant_events.speech_start_stop",
        "chat_messages.update",
    ]
    attendee_simulator.admin.set_webhooks([{"url": receiver, "triggers": triggers}], SECRET)
    with AttendeeHook() as hook:
        speech = {"record_participant_speech_start_stop_events": True}  # off by default, as on the server
        bot = hook.create_bot(MEETINGS[0], bot_name="Content", recording_settings=speech)
        assert wait_until(lambda: hook.get_bot(bot.id).state == "ended", timeout=60)
        events = list(hook.list_participant_events(bot.id))
        utterances = hook.get_transcript(bot.id)
        chat = list(hook.list_chat_messages(bot.id))
    assert wait_until(lambda: all(d["done"] for d in attendee_simulator.admin.webhook_deliveries()), 30)
    sent = Counter(d["trigger"] for d in attendee_simulator.admin.webhook_deliveries() if d["delivered"])
    kinds = Counter(e.event_type for e in events)
    assert sent == {
        "transcript.update": len(utterances),
        "participant_events.join_leave": kinds["join"] + kinds["leave"],
        "participant_events.speech_start_stop": kinds["speech_start"] + kinds["speech_stop"],
        "chat_messages.update": len(chat),
    }
    assert len(chat) >= 1
    assert len(utterances) == 10 and kinds["join"] == 5 and kinds["speech_start"] == 10


@pytest.mark.attendee_simulator(scenario="demo", time_scale=0)
def test_calendar_syncs_push_calendar_events_update_with_the_calendar_envelope(attendee_simulator, receiver):
    """Each calendar sync that changes events sends calendar.events_update, naming the calendar (not a bot);
    the receiver verifies and records it (``attendee://webhooks/calendar.events_update``)."""
    from airflow_provider_attendee.plugins.webhook_receiver import asset_uris, event_extra

    admin = attendee_simulator.admin
    admin.set_webhooks([{"url": receiver, "triggers": ["calendar.events_update"]}], SECRET)
    calendar_id, _ = admin.add_calendar(
        platform="google", deduplication_key="team-cal", metadata={"team": "a"}
    )
    event = admin.add_event(calendar_id, name="Sync", meeting_url=MEETINGS[0], start_in_minutes=60)
    admin.change_event(event["id"], name="Sync (moved room)")
    admin.cancel_event(event["id"])
    # Four syncs: the calendar's first (on connection), the new event, the edit, the cancellation.
    assert wait_until(lambda: len([d for d in admin.webhook_deliveries() if d["done"]]) == 4, timeout=30)
    deliveries = admin.webhook_deliveries()
    assert [d["attempts"] for d in deliveries] == [[200]] * 4  # signed as the receiver verifies
    assert {d["calendar_id"] for d in deliveries} == {calendar_id} and {d["bot_id"] for d in deliveries} == {
        None
    }

    envelope = {
        "idempotency_key": "k",
        "calendar_id": calendar_id,
        "calendar_deduplication_key": "team-cal",
        "calendar_metadata": {"team": "a"},
        "trigger": "calendar.events_update",
        "data": {"state": "connected", "connection_failure_data": None},
    }
    assert asset_uris(envelope) == ["attendee://webhooks/calendar.events_update"]
    extra = event_extra(envelope)
    assert extra["payload"]["calendar_id"] == calendar_id and "bot_id" not in extra["payload"]
    assert extra["calendar_metadata"] == {"team": "a"}
