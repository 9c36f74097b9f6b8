"""Contract checks: requests and responses seen by the simulator, validated against openapi.yml.

The spec is the project's copy of openapi.yml (tests/fixtures/attendee, kept equal to ../shared), with the
fields BEHAVIOUR.md documents as really nullable marked so, the recording_settings keys the server's
serializer accepts and the document lacks, and openapi-core's spec validation off
(the document mixes OpenAPI 3.1 constructs into 3.0.3, as BEHAVIOUR.md notes).
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from openapi_core import Config, OpenAPI
from openapi_core.testing import MockRequest, MockResponse
from werkzeug.datastructures import ImmutableMultiDict

from airflow_provider_attendee.testing import Exchange

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "attendee"
SPEC_PATH = FIXTURES / "openapi.yml"

# BEHAVIOUR.md, "Where the server's JSON breaks openapi.yml": null although the spec says non-nullable.
REALLY_NULLABLE = {
    "Bot": ["join_at", "metadata", "deduplication_key"],
    "Calendar": ["metadata", "deduplication_key"],
}


@cache
def spec_dict() -> dict[str, Any]:
    spec = yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))
    schemas = spec["components"]["schemas"]
    for schema, fields in REALLY_NULLABLE.items():
        for name in fields:
            schemas[schema]["properties"][name]["nullable"] = True
    # recordings/null_names.json: a chat message's timestamp_ms is an integer (epoch ms), not a string.
    schemas["ChatMessage"]["properties"]["timestamp_ms"] = {"type": "integer"}
    # BEHAVIOUR.md: with calendar_event_id the server requires that meeting_url is NOT given.
    schemas["CreateBotRequest"]["required"].remove("meeting_url")
    # The server's own schema (bots/serializers.py BOT_RECORDING_SETTINGS_SCHEMA, same commit) has two
    # booleans openapi.yml's recording_settings lacks; BEHAVIOUR.md: speech events are off by default.
    for name in ("CreateBotRequest", "PatchedPatchBotRequest"):
        recording = schemas[name]["properties"]["recording_settings"]["properties"]
        for flag in (
            "record_async_transcription_audio_chunks",
            "record_participant_speech_start_stop_events",
        ):
            recording.setdefault(flag, {"type": "boolean", "default": False})
    return spec


@cache
def openapi() -> OpenAPI:
    return OpenAPI.from_dict(spec_dict(), config=Config(spec_validator_cls=None))


@cache
def _operations() -> list[tuple[re.Pattern[str], str]]:
    return [
        (re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", path) + "$"), path) for path in spec_dict()["paths"]
    ]


def documented_statuses(method: str, path: str) -> set[str]:
    for pattern, template in _operations():
        if pattern.match(path):
            operation = spec_dict()["paths"][template].get(method.lower(), {})
            return set(map(str, operation.get("responses", {})))
    return set()


def _request(exchange: Exchange) -> MockRequest:
    return MockRequest(
        host_url="https://app.attendee.dev",
        method=exchange.method,
        path=exchange.path,
        args=ImmutableMultiDict(exchange.query),
        headers=exchange.request_headers,
        data=exchange.request_body,
        content_type=exchange.request_headers.get("content-type", "application/json"),
    )


def check(exchange: Exchange) -> list[str]:
    """Problems with one exchange (empty when it conforms)."""
    problems = []
    where = f"{exchange.method} {exchange.path}"
    request = _request(exchange)
    try:
        openapi().validate_request(request)
    except Exception as err:  # openapi-core raises a family of errors
        problems.append(f"request {where}: {err!r} {getattr(err, '__cause__', '')!r}")
    if str(exchange.status) in documented_statuses(exchange.method, exchange.path):
        response = MockResponse(
            data=exchange.response_body,
            status_code=exchange.status,
            headers=exchange.response_headers,
            content_type=exchange.response_headers.get("content-type", "application/json"),
        )
        try:
            openapi().validate_response(request, response)
        except Exception as err:
            problems.append(
                f"response {where} -> {exchange.status}: {err!r} {getattr(err, '__cause__', '')!r}"
            )
    return problems
