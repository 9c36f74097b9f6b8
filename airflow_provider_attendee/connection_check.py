"""The connection test behind ``AttendeeHook.test_connection`` (Airflow's Test button, ``POST
/api/v2/connections/test`` and ``airflow connections test``): one cheap authenticated request, and a
verdict that says what is wrong with this connection and how to fix it.

Airflow tests a connection from the UI or the API under a random temporary id, so the messages say "this
connection" and never name an id. The request is not retried: a person is waiting for the answer.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import httpx

from airflow_provider_attendee.client import http
from airflow_provider_attendee.exceptions import AttendeeConfigurationError, describe_error_body

SUBJECT = "this connection"
#: What Airflow's UI shows, and on Airflow 3.1 its row Test button sends, instead of a stored password.
MASKED = "***"
#: The first page of bots with a deduplication key no bot has: authenticated, cheap, read-only.
PROBE_PATH = f"{http.API_PREFIX}/bots"
PROBE_PARAMS = {"deduplication_key": "airflow-connection-test"}


def check_connection(conn: Any, *, transport: httpx.BaseTransport | None = None) -> tuple[bool, str]:
    """Test an Airflow connection (host, port, password, extra) against its Attendee server."""
    extra = conn.extra_dejson if isinstance(conn.extra_dejson, Mapping) else {}
    if conn.password == MASKED:
        return False, (
            f"The API key of {SUBJECT} arrived masked ({MASKED}), not as stored: Airflow's Test button in the "
            "connection list sends the masked key on Airflow 3.1. Test the connection with `airflow "
            "connections test <conn id>` instead (with [core] test_connection = Enabled)."
        )
    try:
        settings = http.settings_from_connection(
            conn.conn_id or "", conn.host, conn.port, conn.password, extra, subject=SUBJECT
        )
    except AttendeeConfigurationError as err:
        return False, str(err)
    settings = dataclasses.replace(settings, max_retries=0)
    try:
        with httpx.Client(transport=transport, **settings.client_kwargs()) as client:
            response = client.get(PROBE_PATH, params=PROBE_PARAMS)
    except httpx.TransportError as err:
        return False, str(http.transport_error(err, settings, f"GET {PROBE_PATH}"))
    return verdict(response, settings.base_url, settings.api_key)


def _aside(text: str | None) -> str:
    """A server's message as a parenthesis: " (Not found)"."""
    text = (text or "").strip().rstrip(".")
    return f" ({text})" if text else ""


def verdict(response: httpx.Response, base_url: str, api_key: str) -> tuple[bool, str]:
    """What the probe's response says about the connection."""
    status = response.status_code
    if response.is_redirect:
        return False, (
            f"{base_url} redirected GET {PROBE_PATH} to {response.headers.get('location', 'another address')}. "
            f"Set the Attendee URL of {SUBJECT} to the address the server redirects to (e.g. https:// "
            "instead of http://)."
        )
    not_attendee = (
        f"Set the Attendee URL of {SUBJECT} to your Attendee server's address, without /api/v1 (e.g. "
        f"{http.DEFAULT_BASE_URL}; a plain-http server needs http://)."
    )
    if not response.is_success:
        detail, _ = describe_error_body(response.content, response.headers.get("content-type", ""))
        detail = _aside(detail.replace(api_key, "***"))
        if status in (401, 403):
            return False, (
                f"The Attendee server at {base_url} refused the API key of {SUBJECT}: HTTP {status}{detail}. "
                "Put a valid key of your Attendee project in the API key field (the dashboard's API Keys page "
                "creates one)."
            )
        if status == 429 or status >= 500:
            return False, (
                f"The Attendee server at {base_url} could not answer now: HTTP {status}{detail}. This is "
                "usually temporary: test again in a minute."
            )
        return (
            False,
            f"{base_url} is not an Attendee server: GET {PROBE_PATH} answered HTTP {status}{detail}. {not_attendee}",
        )
    try:
        data = response.json()
    except ValueError:
        kind = response.headers.get("content-type") or "no content type"
        return False, (
            f"{base_url} is not an Attendee server: GET {PROBE_PATH} answered HTTP {status} with a page that is "
            f"not JSON ({kind}). {not_attendee}"
        )
    if not isinstance(data, dict) or not isinstance(data.get("results"), list):
        return False, (
            f"{base_url} is not an Attendee server: GET {PROBE_PATH} answered HTTP {status} with JSON that is "
            f"not Attendee's list of bots. {not_attendee}"
        )
    return True, f"Connected to the Attendee API at {base_url}."
