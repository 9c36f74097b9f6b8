"""Async side of the hook: same requests, aget_connection, one shared client per loop and connection."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
import respx

from airflow_provider_attendee.client.models import BotState
from airflow_provider_attendee.exceptions import AttendeeConnectionError, AttendeeNotFoundError
from airflow_provider_attendee.hooks.attendee import AttendeeHook
from tests.unit.conftest import API, SECRET, bot

pytestmark = pytest.mark.usefixtures("attendee_conn")


def page(results, next_url=None):
    return {"next": next_url, "previous": None, "results": results}


@pytest.fixture
def api():
    with respx.mock(base_url=API, assert_all_called=False) as router:
        yield router


def test_async_methods(api):
    api.get("/bots/bot_1").respond(200, json=bot())
    create = api.post("/bots").respond(201, json=bot(state="scheduled"))
    delete = api.delete("/bots/bot_1").respond(200)
    leave = api.post("/bots/bot_1/leave").respond(200, json=bot(state="leaving"))
    listing = api.get("/bots")
    listing.side_effect = [
        httpx.Response(200, json=page([bot(id="b1")], f"{API}/bots?cursor=2&states=ended")),
        httpx.Response(200, json=page([bot(id="b2")], "/api/v1/bots?cursor=3&states=ended")),
        httpx.Response(200, json=page([bot(id="b3")])),
    ]
    api.get("/bots/bot_1/participant_events").respond(200, json=page([]))
    api.get("/bots/bot_1/participants").respond(200, json=page([]))
    api.get("/bots/bot_1/transcript").respond(200, json=[])
    api.get("/calendar_events").respond(200, json=page([]))

    async def run():
        hook = AttendeeHook()
        assert (await hook.aget_bot("bot_1")).state == BotState.JOINING
        await hook.acreate_bot("https://zoom.us/j/1", deduplication_key="k", join_at="2030-01-01T00:00:00Z")
        await hook.adelete_bot("bot_1")
        assert (await hook.aleave_bot("bot_1")).state == BotState.LEAVING
        ids = [b.id async for b in hook.alist_bots(states=["ended"])]
        assert [e async for e in hook.alist_participant_events("bot_1", after="2025-01-01T00:00:00Z")] == []
        assert [p async for p in hook.alist_participants("bot_1", is_host=False)] == []
        assert await hook.aget_transcript("bot_1") == []
        assert [e async for e in hook.alist_calendar_events(calendar_id="cal_1")] == []
        return ids

    assert asyncio.run(run()) == ["b1", "b2", "b3"]
    body = json.loads(create.calls.last.request.content)
    assert body["deduplication_key"] == "k" and body["join_at"] == "2030-01-01T00:00:00Z"
    assert delete.called and leave.called
    assert listing.calls[2].request.url.params.get_list("states") == ["ended"]
    assert create.calls.last.request.headers["Authorization"] == f"Token {SECRET}"


def test_async_errors_and_retries(api, caplog):
    # Backoff is 1 ms in these connections, so retries really sleep (asyncio.sleep is not patched:
    # other event loops, e.g. a simulator's server thread, share the module).
    route = api.get("/bots/bot_1")
    route.side_effect = [
        httpx.Response(503, text="down"),
        httpx.ConnectTimeout("slow"),
        httpx.Response(200, json=bot()),
    ]
    api.get("/bots/missing").respond(404, json={"error": "Bot not found"})
    api.post("/bots").mock(side_effect=httpx.ReadTimeout("lost"))

    async def run():
        hook = AttendeeHook()
        assert (await hook.aget_bot("bot_1")).id == "bot_1"
        with pytest.raises(AttendeeNotFoundError, match="Bot not found"):
            await hook.aget_bot("missing")
        with pytest.raises(AttendeeConnectionError):
            await hook.acreate_bot("https://zoom.us/j/1")

    asyncio.run(run())
    assert route.call_count == 3
    retries = [r.getMessage() for r in caplog.records if "retry" in r.getMessage()]
    assert len(retries) == 2
    assert "HTTP 503" in retries[0] and "ConnectTimeout" in retries[1]


def test_async_hooks_of_one_connection_share_one_client(api):
    api.get("/bots/bot_1").respond(200, json=bot())

    async def run():
        first, second = AttendeeHook(), AttendeeHook()
        await asyncio.gather(first.aget_bot("bot_1"), second.aget_bot("bot_1"))
        return await first.aget_client(), await second.aget_client()

    a, b = asyncio.run(run())
    assert a is b


def test_async_uses_aget_connection(api, monkeypatch):
    from airflow.sdk import Connection

    api.get("/bots/bot_1").respond(200, json=bot())
    looked_up: list[str] = []

    async def aget_connection(cls, conn_id):
        looked_up.append(conn_id)
        return Connection(conn_id=conn_id, conn_type="attendee", host="attendee.test", password=SECRET)

    def forbidden(*args, **kwargs):
        raise AssertionError("sync get_connection called inside the event loop")

    monkeypatch.setattr(AttendeeHook, "aget_connection", classmethod(aget_connection))
    monkeypatch.setattr(AttendeeHook, "get_connection", classmethod(forbidden))
    hook = AttendeeHook()
    assert asyncio.run(hook.aget_bot("bot_1")).id == "bot_1"
    assert looked_up == ["attendee_default"]
