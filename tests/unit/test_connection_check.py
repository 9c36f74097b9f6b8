"""The connection test (Airflow's Test button, POST /api/v2/connections/test, `airflow connections test`):
one request, never retried, and a message that says what is wrong with this connection and the fix,
without naming the random temporary id Airflow tests it under."""

from __future__ import annotations

import json

import httpx
import pytest
import respx

from airflow_provider_attendee.hooks.attendee import AttendeeHook
from airflow_provider_attendee.testing.real_airflow import free_port
from tests.unit.conftest import API, BASE, SECRET

TEMP_ID = "eSutUNZH"  # the kind of id Airflow's API tests a connection under


def outcome(monkeypatch: pytest.MonkeyPatch, **conn: object) -> tuple[bool, str]:
    """Test the connection the way Airflow's API does: under a random id, from an env var."""
    fields = {"conn_type": "attendee", "host": "attendee.test", "password": SECRET, **conn}
    monkeypatch.setenv(f"AIRFLOW_CONN_{TEMP_ID.upper()}", json.dumps(fields))
    ok, message = AttendeeHook(TEMP_ID).test_connection()
    assert TEMP_ID not in message and SECRET not in message and ".." not in message
    return ok, message


@pytest.fixture
def api():
    with respx.mock(base_url=API, assert_all_called=False) as router:
        yield router


def test_success_costs_one_request(api, monkeypatch):
    route = api.get("/bots").respond(200, json={"next": None, "previous": None, "results": []})
    assert outcome(monkeypatch) == (True, f"Connected to the Attendee API at {BASE}.")
    assert route.call_count == 1
    assert route.calls.last.request.headers["Authorization"] == f"Token {SECRET}"


def test_through_airflow_connection_model(api, monkeypatch):
    """What POST /api/v2/connections/test runs: Connection.test_connection() under a temporary id."""
    from airflow.models.connection import Connection

    conn = Connection(conn_id=TEMP_ID, conn_type="attendee", host="attendee.test", password="")
    monkeypatch.setenv(f"AIRFLOW_CONN_{TEMP_ID.upper()}", conn.get_uri())
    ok, message = conn.test_connection()
    assert not ok and message.startswith("This connection has no Attendee API key.")
    assert TEMP_ID not in message and "API Keys" in message


def test_missing_key(monkeypatch):
    ok, message = outcome(monkeypatch, password="")
    assert not ok
    assert message.startswith("This connection has no Attendee API key.")
    assert "put it in the connection's API key (password) field" in message


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (
            {"timeout": "soon"},
            "This connection: extra field 'timeout' must be a number >= 0.001, got 'soon'.",
        ),
        ({"max_retries": -1}, "This connection: extra field 'max_retries' must be a number >= 0, got -1."),
    ],
)
def test_bad_extra(monkeypatch, extra, expected):
    ok, message = outcome(monkeypatch, extra=extra)
    assert not ok and message.startswith(expected) and "empty it for the default" in message


def test_masked_key_from_airflow_31_row_button(api, monkeypatch):
    route = api.get("/bots").respond(401, json={"detail": "Invalid or disabled API key"})
    ok, message = outcome(monkeypatch, password="***")
    assert not ok and route.call_count == 0
    assert message.startswith("The API key of this connection arrived masked (***), not as stored")
    assert "airflow connections test <conn id>" in message


def test_not_an_http_url(monkeypatch):
    ok, message = outcome(monkeypatch, host="ftp://attendee.test")
    assert not ok
    assert message.startswith(
        "The Attendee URL 'ftp://attendee.test' of this connection is not an http(s) URL."
    )


def test_port_in_url_and_port_field_disagree(monkeypatch):
    ok, message = outcome(monkeypatch, host="http://127.0.0.1:8000", port=9000)
    assert not ok
    assert message == (
        "This connection has port 8000 in its Attendee URL and 9000 in its Port field. "
        "Keep one of them, or make them equal."
    )


def test_host_is_another_server_answering_404(api, monkeypatch):
    """Airflow's own API server, given as the Attendee URL, answers this for /api/v1/..."""
    api.get("/bots").respond(404, json={"detail": "/api/v1 has been removed in Airflow 3."})
    ok, message = outcome(monkeypatch)
    assert not ok
    assert message == (
        f"{BASE} is not an Attendee server: GET /api/v1/bots answered HTTP 404 (/api/v1 has been removed in "
        "Airflow 3). Set the Attendee URL of this connection to your Attendee server's address, without "
        "/api/v1 (e.g. https://app.attendee.dev; a plain-http server needs http://)."
    )
    assert "Check the id" not in message


@pytest.mark.parametrize(
    ("status", "body", "content_type", "answer"),
    [
        (404, b"<html>Not here</html>", "text/html", "HTTP 404 (non-JSON error page (HTML) from the server"),
        (
            200,
            b"<!doctype html><h1>Welcome</h1>",
            "text/html",
            "HTTP 200 with a page that is not JSON (text/html)",
        ),
        (
            200,
            b'{"status": "ok"}',
            "application/json",
            "HTTP 200 with JSON that is not Attendee's list of bots",
        ),
        (405, b'{"detail": "Method not allowed"}', "application/json", "HTTP 405 (Method not allowed)"),
    ],
)
def test_host_is_not_attendee(api, monkeypatch, status, body, content_type, answer):
    api.get("/bots").respond(status, content=body, headers={"content-type": content_type})
    ok, message = outcome(monkeypatch)
    assert not ok
    assert message.startswith(f"{BASE} is not an Attendee server: GET /api/v1/bots answered {answer}")
    assert "Set the Attendee URL of this connection" in message


def test_wrong_key(api, monkeypatch):
    api.get("/bots").respond(401, json={"detail": "Invalid or disabled API key"})
    ok, message = outcome(monkeypatch)
    assert not ok
    assert message == (
        f"The Attendee server at {BASE} refused the API key of this connection: HTTP 401 (Invalid or "
        "disabled API key). Put a valid key of your Attendee project in the API key field (the dashboard's "
        "API Keys page creates one)."
    )


def test_server_error_is_not_retried(api, monkeypatch):
    route = api.get("/bots").respond(503, json={"detail": "Service unavailable"})
    ok, message = outcome(monkeypatch)
    assert not ok and route.call_count == 1
    assert message.endswith(
        "HTTP 503 (Service unavailable). This is usually temporary: test again in a minute."
    )


def test_redirect_names_the_target(monkeypatch):
    with respx.mock(base_url="http://attendee.test/api/v1") as router:
        router.get("/bots").respond(301, headers={"location": "https://attendee.test/api/v1/bots"})
        ok, message = outcome(monkeypatch, host="http://attendee.test")
    assert not ok
    assert message.startswith(
        "http://attendee.test redirected GET /api/v1/bots to https://attendee.test/api/v1/bots."
    )


def test_closed_port(monkeypatch):
    """A real refused connection: one attempt, and no "retried up to 0 times"."""
    port = free_port()
    ok, message = outcome(monkeypatch, host=f"http://127.0.0.1:{port}")
    assert not ok
    assert message.startswith(
        f"Attendee GET /api/v1/bots could not reach http://127.0.0.1:{port} (ConnectError"
    )
    assert message.endswith(
        "Check the Attendee URL (scheme, host and port) of this connection, and that the server is up and "
        "reachable from Airflow."
    )
    assert "retried" not in message


def test_unreachable_is_tried_once(monkeypatch):
    with respx.mock(base_url=API) as router:
        route = router.get("/bots").mock(side_effect=httpx.ConnectError("Name or service not known"))
        ok, message = outcome(monkeypatch, extra={"max_retries": 5})
    assert not ok and route.call_count == 1 and "retried" not in message
