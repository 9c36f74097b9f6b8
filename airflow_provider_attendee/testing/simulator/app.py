"""The simulator's HTTP layer: the Attendee API routes (openapi.yml) and the ``/_sim/`` admin surface."""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qsl

from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import Message, Receive, Scope, Send

from airflow_provider_attendee.client.meeting_urls import normalize_meeting_url
from airflow_provider_attendee.client.states import BOT_STATES
from airflow_provider_attendee.testing.simulator.bodies import (
    chat_body,
    participant_body,
    participant_event_body,
    utterance_body,
)
from airflow_provider_attendee.testing.simulator.core import (
    AttendeeSimulator,
    Exchange,
    exchange_listeners,
    route_of,
)
from airflow_provider_attendee.testing.simulator.faults import HTML_502, FaultConfig
from airflow_provider_attendee.testing.simulator.media import wav_chunks, wav_size
from airflow_provider_attendee.testing.simulator.pagination import paginate
from airflow_provider_attendee.testing.simulator.scenario import CalendarSpec, EventSpec
from airflow_provider_attendee.testing.simulator.state import (
    FINISHED,
    SimBot,
    SimCalendarEvent,
    SimError,
    epoch_ms,
    iso,
)

API = "/api/v1"
CREATE_BOT_FIELDS = [
    "automatic_leave_settings",
    "bot_chat_message",
    "bot_image",
    "bot_name",
    "calendar_event_id",
    "callback_settings",
    "debug_settings",
    "deduplication_key",
    "external_media_storage_settings",
    "google_meet_settings",
    "join_at",
    "kubernetes_settings",
    "meeting_url",
    "metadata",
    "recording_settings",
    "rtmp_settings",
    "teams_settings",
    "transcription_settings",
    "voice_agent_settings",
    "webhooks",
    "websocket_settings",
    "zoom_settings",
]
#: recording_settings keys and JSON types (bots/serializers.py BOT_RECORDING_SETTINGS_SCHEMA, in its order).
RECORDING_SETTINGS_TYPES = {
    "format": "string",
    "view": "string",
    "resolution": "string",
    "record_chat_messages_when_paused": "boolean",
    "record_async_transcription_audio_chunks": "boolean",
    "record_participant_speech_start_stop_events": "boolean",
    "reserve_additional_storage": "boolean",
}
RECORDING_RESOLUTIONS = ["1080p", "720p"]
#: In the order the server's error message lists them.
ORDERINGS = [
    "-updated_at",
    "updated_at",
    "start_time",
    "-start_time",
    "end_time",
    "-end_time",
    "created_at",
    "-created_at",
]
DATETIME_FORMAT_ERROR = "Datetime has wrong format. Use one of these formats instead: YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z]."

log = logging.getLogger(__name__)
Handler = Callable[[Request], Awaitable[Response]]


class SimulatedConnectionReset(Exception):
    """Raised after the response started, so the server drops the connection mid-response."""


class _QuietResets(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], SimulatedConnectionReset))


logging.getLogger("uvicorn.error").addFilter(_QuietResets())


def _page(title: str, body: str) -> str:
    """A minimal HTML page (no resource from elsewhere)."""
    from html import escape

    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{escape(title)}</title></head>"
        f"<body><h1>{escape(title)}</h1>{body}</body></html>"
    )


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(body, status_code=status, headers=headers)


def parse_datetime(value: str) -> datetime | None:
    """ISO 8601 as DRF reads it; a value without zone is UTC. None when unreadable."""
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00").replace(" ", "+"))
    except ValueError:
        return None
    return parsed.replace(tzinfo=timezone.utc) if parsed.tzinfo is None else parsed


def _query_datetime(request: Request, name: str, message: str | None = None) -> datetime | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    value = parse_datetime(raw)
    if value is None:
        raise SimError(
            400,
            {"error": message or f"Invalid {name} format. Use ISO 8601 format (e.g., 2024-01-18T12:34:56Z)"},
        )
    return value


def recording_settings_error(value: Any) -> Any:
    """The server's field error for ``recording_settings`` (jsonschema's message, then its own checks), or
    None when valid: unknown keys are a 400, as in bots/serializers.py validate_recording_settings."""
    if value is None:
        return None
    if not isinstance(value, dict):
        return [f"{value!r} is not of type 'object'"]
    extras = sorted(set(value) - set(RECORDING_SETTINGS_TYPES))
    if extras:
        verb = "was" if len(extras) == 1 else "were"
        return [f"Additional properties are not allowed ({', '.join(map(repr, extras))} {verb} unexpected)"]
    python_types = {"string": str, "boolean": bool}
    for key, kind in RECORDING_SETTINGS_TYPES.items():
        if key in value and not isinstance(value[key], python_types[kind]):
            return [f"{value[key]!r} is not of type '{kind}'"]
    if "resolution" in value and value["resolution"] not in RECORDING_RESOLUTIONS:
        return [f"{value['resolution']!r} is not one of {RECORDING_RESOLUTIONS!r}"]
    if value.get("format") not in ("mp4", "mp3", "none", None):
        return {"format": "Format must be mp4 or mp3 or 'none'"}
    if value.get("view") not in ("speaker_view", "gallery_view", "speaker_view_no_sidebar", None):
        return {"view": "View must be speaker_view or gallery_view or speaker_view_no_sidebar"}
    return None


class SimulatorApp:
    """Builds the ASGI application around an :class:`AttendeeSimulator`."""

    def __init__(self, simulator: AttendeeSimulator) -> None:
        self.sim = simulator
        api = [
            Route(f"{API}/bots", self.bots, methods=["GET", "POST"]),
            Route(f"{API}/bots/{{bot_id}}", self.bot, methods=["GET", "PATCH", "DELETE"]),
            Route(f"{API}/bots/{{bot_id}}/leave", self.leave, methods=["POST"]),
            Route(f"{API}/bots/{{bot_id}}/delete_data", self.delete_data, methods=["POST"]),
            Route(f"{API}/bots/{{bot_id}}/pause_recording", self.pause, methods=["POST"]),
            Route(f"{API}/bots/{{bot_id}}/resume_recording", self.resume, methods=["POST"]),
            Route(f"{API}/bots/{{bot_id}}/participant_events", self.participant_events, methods=["GET"]),
            Route(f"{API}/bots/{{bot_id}}/participants", self.participants, methods=["GET"]),
            Route(f"{API}/bots/{{bot_id}}/transcript", self.transcript, methods=["GET"]),
            Route(f"{API}/bots/{{bot_id}}/recording", self.recording, methods=["GET"]),
            Route(f"{API}/bots/{{bot_id}}/chat_messages", self.chat_messages, methods=["GET"]),
            Route(f"{API}/calendars", self.calendars, methods=["GET", "POST"]),
            Route(f"{API}/calendars/{{calendar_id}}", self.calendar, methods=["GET", "PATCH", "DELETE"]),
            Route(f"{API}/calendar_events", self.calendar_events, methods=["GET"]),
        ]
        admin = [
            Route("/_sim/", self.admin_index, methods=["GET"]),
            Route("/_sim/health", self.admin_health, methods=["GET"]),
            Route("/_sim/clock", self.admin_clock, methods=["GET", "POST"]),
            Route("/_sim/counters", self.admin_counters, methods=["GET", "DELETE"]),
            Route("/_sim/reset", self.admin_reset, methods=["POST"]),
            Route("/_sim/scenario", self.admin_scenario, methods=["POST"]),
            Route("/_sim/faults", self.admin_faults, methods=["GET", "PUT"]),
            Route("/_sim/calendars", self.admin_calendars, methods=["POST"]),
            Route("/_sim/calendars/{calendar_id}/events", self.admin_calendar_event, methods=["POST"]),
            Route("/_sim/calendar_events/{event_id}/cancel", self.admin_cancel_event, methods=["POST"]),
            Route(
                "/_sim/calendar_events/{event_id}/reschedule", self.admin_reschedule_event, methods=["POST"]
            ),
            Route("/_sim/bots", self.admin_bots, methods=["GET"]),
            Route("/_sim/webhooks", self.admin_webhooks, methods=["GET", "PUT"]),
            Route("/_sim/bots/{bot_id}/fail", self.admin_fail_bot, methods=["POST"]),
            Route("/_sim/bots/{bot_id}/events", self.admin_bot_event, methods=["POST"]),
            Route("/_sim/bots/{bot_id}/no_recording", self.admin_no_recording, methods=["POST"]),
            Route("/_sim/calendar_events/{event_id}", self.admin_change_event, methods=["PATCH"]),
            Route("/_sim/recordings/{bot_id}.wav", self.admin_recording_file, methods=["GET"]),
        ]
        routes = [Route(r.path, self._api(r.endpoint), methods=list(r.methods or [])) for r in api]
        routes += [Route(r.path, self._admin(r.endpoint), methods=list(r.methods or [])) for r in admin]
        # The dashboard's page of a bot, where a task's "Attendee bot" link points (connection project_id).
        routes.append(Route("/projects/{project_id}/bots/{bot_id}", self.bot_page, methods=["GET"]))
        self.starlette = Starlette(
            routes=routes,
            exception_handlers={404: self._not_found, 405: self._not_allowed},
        )
        # The real server answers 404 to /api/v1/bots/ (no redirect to the path without the slash).
        self.starlette.router.redirect_slashes = False

    # --------------------------------------------------------------------------- ASGI plumbing
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(API):
            await self.starlette(scope, receive, send)
            return
        self.sim.clock.tick()
        with self.sim.counters.serving(f"{scope['method']} {route_of(scope['path'])}"):
            await self._serve_api(scope, receive, send)

    async def _serve_api(self, scope: Scope, receive: Receive, send: Send) -> None:
        """An API request: faults first, then the handler, recorded for the contract checks."""
        sim = self.sim
        method, path = scope["method"], scope["path"]
        if scope.get("client"):
            sim.counters.clients.add(tuple(scope["client"]))
        messages: list[Message] = []
        request_body = bytearray()
        more = True
        while more:  # read the whole request first, so that it can be recorded whatever the handler does
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # the client went away before sending its request: nothing to process
            request_body.extend(message.get("body", b""))
            more = message.get("more_body", False)
        fault = sim.faults.decide(method, path, bytes(request_body))
        if fault.delay_s:
            await asyncio.sleep(fault.delay_s)
        if fault.kind != "none":
            sim.counters.faults[fault.kind] += 1
        if fault.kind == "429":
            await self._send_simple(
                send,
                429,
                b'{"detail": "Request was throttled. Expected available in '
                + str(int(fault.retry_after)).encode()
                + b' seconds."}',
                "application/json",
                {"retry-after": f"{fault.retry_after:g}"},
            )
            sim.counters.statuses["429"] += 1
            return
        if fault.kind == "5xx":
            html = fault.html
            body = HTML_502 if html else json.dumps({"detail": "A server error occurred."}).encode()
            await self._send_simple(send, fault.status, body, "text/html" if html else "application/json")
            sim.counters.statuses[str(fault.status)] += 1
            return
        if fault.kind == "reset_before":
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", b"4096")],
                }
            )
            raise SimulatedConnectionReset()
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": bytes(request_body), "more_body": False}
            return await receive()

        async def capture(message: Message) -> None:
            messages.append(message)

        await self.starlette(scope, replay, capture)
        start = messages[0]
        body = b"".join(m.get("body", b"") for m in messages[1:])
        sim.counters.statuses[str(start["status"])] += 1
        if fault.kind == "reset_after":
            await send(start)
            await send({"type": "http.response.body", "body": body[: len(body) // 2], "more_body": True})
            raise SimulatedConnectionReset()
        for message in messages:
            await send(message)
        if exchange_listeners:
            headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
            exchange = Exchange(
                method=method,
                path=path,
                query=parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True),
                request_headers=headers,
                request_body=bytes(request_body),
                status=start["status"],
                response_headers={
                    k.decode("latin-1").lower(): v.decode("latin-1") for k, v in start.get("headers", [])
                },
                response_body=body,
            )
            for listener in list(exchange_listeners):
                listener(exchange)

    @staticmethod
    async def _not_found(request: Request, exc: Exception) -> Response:
        return _json({"error": "Not found"}, 404)

    @staticmethod
    async def _not_allowed(request: Request, exc: Exception) -> Response:
        return _json({"detail": f'Method "{request.method}" not allowed.'}, 405)

    @staticmethod
    async def _send_simple(
        send: Send, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None
    ) -> None:
        raw = [(b"content-type", content_type.encode()), (b"content-length", str(len(body)).encode())]
        raw += [(k.encode(), v.encode()) for k, v in (headers or {}).items()]
        await send({"type": "http.response.start", "status": status, "headers": raw})
        await send({"type": "http.response.body", "body": body})

    def _api(self, handler: Handler) -> Handler:
        async def endpoint(request: Request) -> Response:
            try:
                self._authenticate(request)
                wait = self.sim.throttle(time.monotonic()) if request.method == "POST" else None
                if wait is not None:
                    seconds = max(math.ceil(wait), 1)
                    return _json(
                        {"detail": f"Request was throttled. Expected available in {seconds} seconds."},
                        429,
                        {"Retry-After": str(seconds)},
                    )
                return await handler(request)
            except SimError as err:
                return _json(err.body, err.status, err.headers)

        return endpoint

    def _admin(self, handler: Handler) -> Handler:
        async def endpoint(request: Request) -> Response:
            try:
                return await handler(request)
            except SimError as err:
                return _json(err.body, err.status)
            except (ValidationError, ValueError, KeyError) as err:
                return _json({"error": str(err)}, 400)

        return endpoint

    def _authenticate(self, request: Request) -> None:
        header = request.headers.get("authorization")
        if not header:
            raise SimError(401, {"detail": "Missing Authorization header"})
        scheme, _, key = header.partition(" ")
        if scheme.lower() != "token" or not key.strip():
            raise SimError(
                401, {"detail": "Invalid Authorization header. Should have this format: Token <api_key>"}
            )
        if key.strip() not in self.sim.api_keys:
            raise SimError(401, {"detail": "Invalid or disabled API key"}, {"WWW-Authenticate": "Token"})

    async def _body(self, request: Request) -> dict[str, Any]:
        raw = await request.body()
        try:
            data = json.loads(raw or b"{}")
        except ValueError as err:
            raise SimError(400, {"detail": f"JSON parse error - {err}"}) from None
        if not isinstance(data, dict):
            raise SimError(400, {"non_field_errors": ["Invalid data. Expected a dictionary, but got list."]})
        return data

    @property
    def world(self) -> Any:
        return self.sim.world

    # ---------------------------------------------------------------------------------- bots
    async def bots(self, request: Request) -> Response:
        if request.method == "POST":
            return _json(self._create_bot(await self._body(request)).body(), 201)
        states = request.query_params.getlist("states")
        for state in states:
            if state not in BOT_STATES:
                raise SimError(
                    400, {"error": f"Invalid state: {state}. Valid states are: {', '.join(BOT_STATES)}"}
                )
        after = _query_datetime(request, "join_at_after")
        before = _query_datetime(request, "join_at_before")
        meeting_url = request.query_params.get("meeting_url")
        dedup = request.query_params.get("deduplication_key")
        with self.world.lock:
            self.world.sync()
            found = [
                b
                for b in self.world.bots.values()
                if (not states or b.state in states)
                and (meeting_url is None or b.meeting_url == meeting_url)
                and (dedup is None or b.deduplication_key == dedup)
                and (after is None or (b.join_at is not None and b.join_at > after))
                and (before is None or (b.join_at is not None and b.join_at < before))
            ]
            page = paginate(request, found, lambda b: (b.seq,), SimBot.body, self.sim.page_size_for(25))
        return _json(page)

    def _create_bot(self, data: dict[str, Any]) -> SimBot:
        unexpected = sorted(set(data) - set(CREATE_BOT_FIELDS))
        if unexpected:
            raise SimError(
                400,
                {
                    "non_field_errors": [
                        f"Unexpected field(s): {', '.join(unexpected)}. Allowed fields are: {', '.join(CREATE_BOT_FIELDS)}"
                    ]
                },
            )
        errors: dict[str, list[str]] = {}
        event_id = data.get("calendar_event_id")
        meeting_url = data.get("meeting_url")
        if not data.get("bot_name"):
            errors["bot_name"] = [
                "This field is required." if "bot_name" not in data else "This field may not be blank."
            ]
        if event_id:
            if meeting_url:
                raise SimError(
                    400,
                    {
                        "error": "meeting_url should not be provided when calendar_event_id is specified. The "
                        "meeting URL will be taken from the calendar event."
                    },
                )
            if data.get("join_at"):
                raise SimError(
                    400,
                    {
                        "error": "join_at should not be provided when calendar_event_id is specified. The join "
                        "time will be taken from the calendar event."
                    },
                )
        elif not meeting_url:
            errors["meeting_url"] = ["This field is required."]
        else:
            # The server stores (and returns, and filters on) the normalised URL.
            meeting_url = normalize_meeting_url(meeting_url) if isinstance(meeting_url, str) else None
            if meeting_url is None:
                errors["meeting_url"] = ["Invalid meeting URL"]
        join_at = None
        if data.get("join_at") is not None:
            join_at = parse_datetime(str(data["join_at"]))
            if join_at is None:
                errors["join_at"] = [DATETIME_FORMAT_ERROR]
            elif join_at < self.world.sync():
                errors["join_at"] = ["join_at cannot be in the past"]
        metadata = data.get("metadata")
        if metadata is not None:
            if not isinstance(metadata, dict):
                errors["metadata"] = ["Metadata must be an object not an array or other type"]
            else:
                for key, value in metadata.items():
                    if not isinstance(value, str):
                        errors["metadata"] = [f"Value for key '{key}' must be a string"]
                        break
        dedup = data.get("deduplication_key")
        if dedup is not None and (not isinstance(dedup, str) or not dedup):
            errors["deduplication_key"] = ["This field may not be blank."]
        recording_error = recording_settings_error(data.get("recording_settings"))
        if recording_error is not None:
            errors["recording_settings"] = recording_error
        if errors:
            raise SimError(400, errors)
        settings = {
            k: v
            for k, v in data.items()
            if k
            not in (
                "meeting_url",
                "bot_name",
                "join_at",
                "metadata",
                "deduplication_key",
                "calendar_event_id",
            )
        }
        return self.world.create_bot(
            meeting_url=meeting_url,
            bot_name=data["bot_name"],
            join_at=join_at,
            metadata=metadata,
            deduplication_key=dedup,
            calendar_event_id=event_id,
            settings=settings,
        )

    async def bot(self, request: Request) -> Response:
        bot_id = request.path_params["bot_id"]
        if request.method == "GET":
            return _json(self.world.get_bot(bot_id).body())
        if request.method == "DELETE":
            self.world.delete_bot(bot_id)
            return Response(status_code=200)
        data = await self._body(request)
        fields: dict[str, Any] = {}
        errors: dict[str, list[str]] = {}
        for name in ("join_at", "meeting_url", "bot_name", "bot_image", "recording_settings", "metadata"):
            if name in data:
                fields[name] = data[name]
        if "join_at" in fields:
            parsed = parse_datetime(str(fields["join_at"]))
            if parsed is None:
                errors["join_at"] = [DATETIME_FORMAT_ERROR]
            elif parsed < self.world.sync():
                errors["join_at"] = ["join_at cannot be in the past"]
            fields["join_at"] = parsed
        if "meeting_url" in fields and normalize_meeting_url(str(fields["meeting_url"])) is None:
            errors["meeting_url"] = ["Invalid meeting URL"]
        recording_error = recording_settings_error(fields.get("recording_settings"))
        if recording_error is not None:
            errors["recording_settings"] = recording_error
        if errors:
            raise SimError(400, errors)
        return _json(self.world.patch_bot(bot_id, fields).body())

    async def leave(self, request: Request) -> Response:
        return _json(self.world.leave_bot(request.path_params["bot_id"]).body())

    async def delete_data(self, request: Request) -> Response:
        return _json(self.world.delete_bot_data(request.path_params["bot_id"]).body())

    async def pause(self, request: Request) -> Response:
        return _json(self.world.set_recording_paused(request.path_params["bot_id"], True).body())

    async def resume(self, request: Request) -> Response:
        return _json(self.world.set_recording_paused(request.path_params["bot_id"], False).body())

    async def participant_events(self, request: Request) -> Response:
        after = _query_datetime(request, "after")
        before = _query_datetime(request, "before")
        with self.world.lock:
            bot = self.world.get_bot(request.path_params["bot_id"])
            now = self.world.sync()
            events = [
                e
                for e in self.world.visible_events(bot, now)
                if (after is None or e.created_at > after) and (before is None or e.created_at < before)
            ]
            page = paginate(
                request, events, lambda e: (e.seq,), participant_event_body, self.sim.page_size_for(25)
            )
        return _json(page)

    async def participants(self, request: Request) -> Response:
        is_host = request.query_params.get("is_host")
        if is_host is not None and is_host.lower() not in ("true", "false"):
            raise SimError(400, {"error": "Invalid is_host value. Use true or false."})
        wanted_id = request.query_params.get("id")
        with self.world.lock:
            bot = self.world.get_bot(request.path_params["bot_id"])
            people = [
                p
                for p in self.world.participants_seen(bot, self.world.sync())
                if (is_host is None or p.is_host == (is_host.lower() == "true"))
                and (wanted_id is None or p.id == wanted_id)
            ]
            order = {p.uuid: i for i, p in enumerate(people)}
            page = paginate(
                request, people, lambda p: (order[p.uuid],), participant_body, self.sim.page_size_for(25)
            )
        return _json(page)

    async def transcript(self, request: Request) -> Response:
        updated_after = _query_datetime(request, "updated_after")
        with self.world.lock:
            bot = self.world.get_bot(request.path_params["bot_id"])
            if not bot.has_recording:
                raise SimError(404, {"error": "No recording found for bot"})
            utterances = [
                u
                for u in self.world.visible_utterances(bot, self.world.sync())
                if updated_after is None or u.created_at > updated_after
            ]
            utterances.sort(key=lambda u: u.start)
            return _json([utterance_body(u) for u in utterances])

    async def recording(self, request: Request) -> Response:
        bot = self.world.get_bot(request.path_params["bot_id"])
        if not bot.has_recording:
            raise SimError(404, {"error": "No recording found for bot"})
        if not self._has_recording_file(bot):
            raise SimError(404, {"error": "No recording file found for bot"})
        url = f"{request.base_url}_sim/recordings/{bot.id}.wav?X-Amz-Expires=1800"
        return _json({"url": url, "start_timestamp_ms": epoch_ms(bot.recording_started_at)})

    def _has_recording_file(self, bot: SimBot) -> bool:
        """A file exists once a recording bot finished, unless format "none", deleted, or no storage."""
        return (
            bot.recording_state == "complete"
            and bot.recording_started_at is not None
            and bot.makes_recording_file
            and not bot.data_deleted
            and self.world.recording_storage
        )

    async def chat_messages(self, request: Request) -> Response:
        updated_after = _query_datetime(request, "updated_after")
        with self.world.lock:
            bot = self.world.get_bot(request.path_params["bot_id"])
            lines = [
                c
                for c in self.world.visible_chat(bot, self.world.sync())
                if updated_after is None or c.at > updated_after
            ]
            order = {c.id: i for i, c in enumerate(lines)}
            page = paginate(request, lines, lambda c: (order[c.id],), chat_body, self.sim.page_size_for(25))
        return _json(page)

    # ---------------------------------------------------------------------------- calendars
    async def calendars(self, request: Request) -> Response:
        if request.method == "POST":
            data = await self._body(request)
            errors = {
                name: ["This field is required."]
                for name in ("client_id", "client_secret", "platform", "refresh_token")
                if not data.get(name)
            }
            if data.get("platform") and data["platform"] not in ("google", "microsoft"):
                errors["platform"] = [f'"{data["platform"]}" is not a valid choice.']
            if errors:
                raise SimError(400, errors)
            calendar = self.world.add_calendar(
                platform=data["platform"],
                client_id=data["client_id"],
                deduplication_key=data.get("deduplication_key"),
                metadata=data.get("metadata"),
            )
            return _json(calendar.body(), 201)
        dedup = request.query_params.get("deduplication_key")
        with self.world.lock:
            self.world.sync()
            found = [
                c for c in self.world.calendars.values() if dedup is None or c.deduplication_key == dedup
            ]
            page = paginate(
                request,
                found,
                lambda c: (c.seq,),
                lambda c: c.body(),
                self.sim.page_size_for(25),
                descending=True,
            )
        return _json(page)

    async def calendar(self, request: Request) -> Response:
        with self.world.lock:
            self.world.sync()
            calendar = self.world.calendars.get(request.path_params["calendar_id"])
            if calendar is None:
                raise SimError(404, {"error": "Calendar not found"})
            if request.method == "DELETE":
                del self.world.calendars[calendar.id]
                return Response(status_code=200)
            if request.method == "PATCH":
                data = await self._body(request)
                if "metadata" in data:
                    calendar.metadata = data["metadata"]
                calendar.updated_at = self.world.sync()
            return _json(calendar.body())

    async def calendar_events(self, request: Request) -> Response:
        params = request.query_params
        ordering = params.get("ordering") or "-updated_at"
        if ordering not in ORDERINGS:
            raise SimError(400, {"error": f"Invalid ordering. Allowed values: {', '.join(ORDERINGS)}"})
        bounds = {
            name: _query_datetime(
                request, name, f"Invalid {name} format. Use ISO 8601 format (e.g., 2025-01-13T10:30:00Z)"
            )
            for name in ("start_time_gte", "end_time_lte", "updated_at_gte", "updated_after")
        }
        updated_gte = bounds["updated_at_gte"] or bounds["updated_after"]
        calendar_id = params.get("calendar_id")
        calendar_key = params.get("calendar_deduplication_key")
        event_id = params.get("event_id")
        field = ordering.lstrip("-")

        def key(event: SimCalendarEvent) -> tuple[Any, ...]:
            return (getattr(event, field).timestamp(), event.seq)

        with self.world.lock:
            self.world.sync()
            found = [
                e
                for e in self.world.calendar_events.values()
                if e.calendar.id in self.world.calendars
                and (calendar_id is None or e.calendar.id == calendar_id)
                and (calendar_key is None or e.calendar.deduplication_key == calendar_key)
                and (event_id is None or e.id == event_id)
                and (bounds["start_time_gte"] is None or e.start_time >= bounds["start_time_gte"])
                and (bounds["end_time_lte"] is None or e.end_time <= bounds["end_time_lte"])
                and (updated_gte is None or e.updated_at >= updated_gte)
            ]
            page = paginate(
                request,
                found,
                key,
                self.world.event_body,
                self.sim.page_size_for(100),
                descending=ordering.startswith("-"),
            )
        return _json(page)

    # -------------------------------------------------------------------------------- admin
    async def bot_page(self, request: Request) -> Response:
        """A small page for the "Attendee bot" link: the bot as the API shows it (a real server's dashboard
        has this page; the simulator has no login)."""
        from html import escape

        bot_id = request.path_params["bot_id"]
        try:
            body = self.world.get_bot(bot_id).body()
        except SimError:
            page = f"<p>No bot {escape(bot_id)} in this simulator (it was reset, or the id is wrong).</p>"
            return Response(_page(f"Bot {bot_id}", page), status_code=404, media_type="text/html")
        rows = "".join(
            f"<tr><th>{escape(key)}</th><td>{escape(str(body.get(key)))}</td></tr>"
            for key in (
                "state",
                "meeting_url",
                "join_at",
                "transcription_state",
                "recording_state",
                "metadata",
            )
        )
        events = "".join(
            f"<li>{escape(str(e.get('created_at')))}: {escape(str(e.get('type')))}"
            f"{' / ' + escape(str(e['sub_type'])) if e.get('sub_type') else ''}</li>"
            for e in body.get("events") or []
        )
        page = (
            "<p>Attendee simulator: on a real Attendee server this link opens the bot's dashboard page.</p>"
            f"<table>{rows}</table><h2>Events</h2><ol>{events}</ol>"
            f"<p>API: <code>GET /api/v1/bots/{escape(bot_id)}</code> (transcript, participants, recording).</p>"
        )
        return Response(_page(f"Bot {bot_id}", page), media_type="text/html")

    async def admin_index(self, request: Request) -> Response:
        """What the banner's admin URL shows: the admin routes."""
        routes = [
            f"{method} {route.path}"
            for route in self.starlette.routes
            if isinstance(route, Route) and route.path.startswith("/_sim/")
            for method in sorted((route.methods or set()) - {"HEAD"})
        ]
        return _json({"now": iso(self.world.sync()), "routes": routes})

    async def admin_health(self, request: Request) -> Response:
        return _json({"ok": True, "now": iso(self.world.sync())})

    async def admin_clock(self, request: Request) -> Response:
        if request.method == "POST":
            data = await self._body(request)
            if data.get("time_scale") is not None:
                self.sim.clock.set_time_scale(float(data["time_scale"]))
            if data.get("seconds_per_request") is not None:
                self.sim.clock.set_seconds_per_request(float(data["seconds_per_request"]))
            if data.get("advance_seconds"):
                self.sim.clock.advance(float(data["advance_seconds"]))
        clock = self.sim.clock
        return _json(
            {
                "now": iso(self.world.sync()),
                "time_scale": clock.time_scale,
                "seconds_per_request": clock.seconds_per_request,
            }
        )

    async def admin_counters(self, request: Request) -> Response:
        if request.method == "DELETE":
            self.sim.counters.requests.clear()
            self.sim.counters.statuses.clear()
            self.sim.counters.faults.clear()
            self.sim.counters.clients.clear()
            self.sim.counters.peak_in_flight.clear()
        snapshot: dict[str, Any] = self.sim.counters.snapshot()
        snapshot["bots_created_by_dedup_key"] = dict(self.world.bots_created_by_dedup_key)
        return _json(snapshot)

    async def admin_reset(self, request: Request) -> Response:
        data = await self._body(request)
        self.sim.reset(
            scenario=data.get("scenario"),
            time_scale=float(data.get("time_scale", 1.0)),
            seed=int(data.get("seed", 0)),
            origin=parse_datetime(data["origin"]) if data.get("origin") else None,
        )
        self.sim.page_size = data.get("page_size")  # a reset starts over: the server's page sizes
        if "zoom_credentials" in data:
            self.world.zoom_credentials = bool(data["zoom_credentials"])
        if "recording_storage" in data:
            self.world.recording_storage = bool(data["recording_storage"])
        self.sim.faults.configure(FaultConfig.model_validate(data.get("faults") or {}))
        return _json({"ok": True, "now": iso(self.world.sync())})

    async def admin_scenario(self, request: Request) -> Response:
        self.sim.add_scenario(await self._body(request))
        return _json({"ok": True})

    async def admin_faults(self, request: Request) -> Response:
        if request.method == "PUT":
            self.sim.faults.configure(FaultConfig.model_validate(await self._body(request)))
        return _json(self.sim.faults.config.model_dump())

    async def admin_calendars(self, request: Request) -> Response:
        spec = CalendarSpec.model_validate(await self._body(request))
        calendar = self.world.load_calendars([spec])[0]
        events = [e.id for e in self.world.calendar_events.values() if e.calendar is calendar]
        return _json({"calendar": calendar.body(), "event_ids": events}, 201)

    async def admin_calendar_event(self, request: Request) -> Response:
        calendar = self.world.calendars.get(request.path_params["calendar_id"])
        if calendar is None:
            raise SimError(404, {"error": "Calendar not found"})
        event = self.world.add_calendar_event(calendar, EventSpec.model_validate(await self._body(request)))
        return _json(self.world.event_body(event), 201)

    async def admin_cancel_event(self, request: Request) -> Response:
        data = await self._body(request)
        event = self.world.cancel_calendar_event(
            request.path_params["event_id"], sync_bots=bool(data.get("sync_bots", True))
        )
        return _json(self.world.event_body(event))

    async def admin_reschedule_event(self, request: Request) -> Response:
        data = await self._body(request)
        now = self.world.sync()
        start = now + timedelta(minutes=float(data["start_in_minutes"]))
        end = start + timedelta(minutes=float(data.get("duration_minutes", 30)))
        event = self.world.reschedule_calendar_event(request.path_params["event_id"], start, end)
        return _json(self.world.event_body(event))

    async def admin_webhooks(self, request: Request) -> Response:
        """PUT ``{"subscriptions": [{"url", "triggers"}], "secret": "<base64>"}``: the project's webhooks;
        GET: every delivery so far (attempts, statuses)."""
        if request.method == "PUT":
            data = await self._body(request)
            try:
                self.sim.configure_webhooks(list(data.get("subscriptions") or []), str(data["secret"]))
            except (KeyError, ValueError) as err:
                raise SimError(
                    400, {"error": f"subscriptions and a base64 secret are required ({err})"}
                ) from None
        return _json({"deliveries": self.sim.webhooks.summaries()})

    async def admin_bots(self, request: Request) -> Response:
        with self.world.lock:
            now = self.world.sync()
            bots = []
            for bot in sorted(self.world.bots.values(), key=lambda b: b.seq):
                body = bot.body()
                body.update(
                    bot_name=bot.bot_name,
                    calendar_event_id=bot.calendar_event_id,
                    present=[p.name for p in self.world.present_now(bot, now)],
                    finished=bot.state in FINISHED,
                )
                bots.append(body)
            return _json({"now": iso(now), "bots": bots, "deleted_bot_ids": list(self.world.deleted_bot_ids)})

    async def admin_fail_bot(self, request: Request) -> Response:
        data = await self._body(request)
        bot = self.world.fail_bot(request.path_params["bot_id"], data.get("sub_type", "process_terminated"))
        return _json(bot.body())

    async def admin_bot_event(self, request: Request) -> Response:
        data = await self._body(request)
        bot = self.world.fire_event(request.path_params["bot_id"], data["type"], data.get("sub_type"))
        return _json(bot.body())

    async def admin_no_recording(self, request: Request) -> Response:
        """Make a bot one without a default Recording (null states, 404 transcript), as ORM-made bots are."""
        with self.world.lock:
            bot = self.world.get_bot(request.path_params["bot_id"])
            bot.has_recording = False
            return _json(bot.body())

    async def admin_change_event(self, request: Request) -> Response:
        data = await self._body(request)
        allowed = {"name", "meeting_url", "attendees"}
        unknown = set(data) - allowed
        if unknown:
            raise SimError(400, {"error": f"Unknown field(s) {sorted(unknown)}; allowed: {sorted(allowed)}"})
        event = self.world.change_calendar_event(request.path_params["event_id"], **data)
        return _json(self.world.event_body(event))

    async def admin_recording_file(self, request: Request) -> Response:
        bot = self.world.get_bot(request.path_params["bot_id"])
        if not self._has_recording_file(bot):
            raise SimError(404, {"error": "No recording file found for bot"})
        end = bot.departed_at or self.world.sync()
        # One second of audio per simulated minute recorded keeps files small but real.
        seconds = max(1.0, (end - bot.recording_started_at).total_seconds() / 60.0)
        return StreamingResponse(
            wav_chunks(seconds),
            media_type="audio/wav",
            headers={"Content-Length": str(wav_size(seconds))},
        )
