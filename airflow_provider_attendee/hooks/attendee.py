"""AttendeeHook: a typed, retrying client for the Attendee REST API, sync and async.

Sync methods are named after the API (``get_bot``, ``list_bots``...); their async counterparts carry an
``a`` prefix (``aget_bot``...). List methods return lazy iterators that follow the ``next`` cursor.
All async calls of one connection in one event loop (e.g. every Attendee trigger in a triggerer) share a
single ``httpx.AsyncClient`` and therefore one connection pool.
"""

from __future__ import annotations

import asyncio
import dataclasses
import weakref
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from functools import cached_property
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx
import tenacity
from airflow.sdk import BaseHook
from pydantic import BaseModel

from airflow_provider_attendee import DEFAULT_BOT_NAME, DEFAULT_CONN_ID
from airflow_provider_attendee.client import http
from airflow_provider_attendee.client.http import ClientSettings, format_datetime, path_id
from airflow_provider_attendee.client.meeting_urls import stored_form
from airflow_provider_attendee.client.models import (
    Bot,
    BotState,
    Calendar,
    CalendarEvent,
    ChatMessage,
    Participant,
    ParticipantEvent,
    Recording,
    TranscriptUtterance,
)
from airflow_provider_attendee.exceptions import AttendeeConfigurationError, AttendeeError

ModelT = TypeVar("ModelT", bound=BaseModel)
DateLike = datetime | date | str

CALENDAR_EVENT_ORDERINGS = frozenset(
    f"{sign}{name}" for sign in ("", "-") for name in ("created_at", "updated_at", "start_time", "end_time")
)


# One AsyncClient per (event loop, connection settings): the triggerer runs every trigger in one loop.
@dataclass
class _AsyncPool:
    """A shared client plus a semaphore that admits ``max_concurrency`` requests at a time.

    Queueing on the semaphore (O(1) per waiter) instead of inside httpcore's pool keeps the CPU cost of
    a poll flat when a triggerer runs thousands of triggers on a pool of a few connections.
    """

    client: httpx.AsyncClient
    slots: asyncio.Semaphore


_SHARED_ASYNC_POOLS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[ClientSettings, _AsyncPool]]
_SHARED_ASYNC_POOLS = weakref.WeakKeyDictionary()


def _iso(value: DateLike | None, name: str) -> str | None:
    return None if value is None else format_datetime(value, name)


def _validate_meeting_url(meeting_url: str) -> str:
    url = str(meeting_url).strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or "." not in parts.hostname:
        raise AttendeeConfigurationError(
            f"meeting_url {meeting_url!r} is not a meeting link. Give the full Zoom, Google Meet or Teams URL, "
            "e.g. https://meet.google.com/abc-defg-hij or https://zoom.us/j/123?pwd=456."
        )
    return url


class AttendeeHook(BaseHook):
    """
    Interact with the Attendee API.

    :param attendee_conn_id: Airflow connection of type ``attendee``: host is the Attendee URL (default
        https://app.attendee.dev), password the API key; optional extras ``timeout``, ``max_retries``,
        ``retry_backoff``, ``max_retry_time`` and ``max_concurrency``.
    :param transport: optional httpx transport for the sync client (tests, proxies).
    :param async_transport: optional httpx transport for the async client; disables client sharing.
    """

    conn_name_attr = "attendee_conn_id"
    default_conn_name = DEFAULT_CONN_ID
    conn_type = "attendee"
    hook_name = "Attendee"

    def __init__(
        self,
        attendee_conn_id: str = default_conn_name,
        *,
        transport: httpx.BaseTransport | None = None,
        async_transport: httpx.AsyncBaseTransport | None = None,
        max_retries: int | None = None,
    ) -> None:
        super().__init__()
        self.attendee_conn_id = attendee_conn_id
        #: Overrides the connection's ``max_retries``: triggers pass 0, their poll loop being the one retry layer.
        self._max_retries = max_retries
        self._transport = transport
        self._async_transport = async_transport
        self._async_settings: ClientSettings | None = None

    # ----------------------------------------------------------------------------------- connection
    @staticmethod
    def _settings_for(conn: Any, conn_id: str) -> ClientSettings:
        if conn.conn_type not in (None, "", "attendee", "http", "https"):
            raise AttendeeConfigurationError(
                f"Connection {conn_id!r} has type {conn.conn_type!r}; create it with type 'attendee'."
            )
        extra = conn.extra_dejson if isinstance(conn.extra_dejson, Mapping) else {}
        if conn.password:
            from airflow.sdk.log import mask_secret

            mask_secret(conn.password)
        return http.settings_from_connection(conn_id, conn.host, conn.port, conn.password, extra)

    def _lookup_error(self, error: Exception) -> AttendeeConfigurationError:
        return AttendeeConfigurationError(
            f"Airflow connection {self.attendee_conn_id!r} could not be loaded ({type(error).__name__}: {error}). "
            f"Create it (type 'attendee') in the UI or set AIRFLOW_CONN_{self.attendee_conn_id.upper()}."
        )

    @cached_property
    def settings(self) -> ClientSettings:
        """The connection's settings, read once (sync lookup: never call this inside an event loop)."""
        try:
            conn = self.get_connection(self.attendee_conn_id)
        except AttendeeError:
            raise
        except Exception as err:
            raise self._lookup_error(err) from None
        return self._with_overrides(self._settings_for(conn, self.attendee_conn_id))

    def _with_overrides(self, settings: ClientSettings) -> ClientSettings:
        if self._max_retries is None:
            return settings
        return dataclasses.replace(settings, max_retries=self._max_retries)

    def use_connection(self, conn: Any) -> None:
        """Use this connection object (already looked up, e.g. in the API server) instead of a lookup."""
        self._async_settings = self._with_overrides(self._settings_for(conn, self.attendee_conn_id))
        self.__dict__["settings"] = self._async_settings

    async def aget_settings(self) -> ClientSettings:
        """The connection's settings, resolved with ``aget_connection`` (safe inside an event loop)."""
        if self._async_settings is None and "settings" in self.__dict__:
            self._async_settings = self.settings  # already resolved synchronously (e.g. in a worker)
        if self._async_settings is None:
            try:
                conn = await self._aget_connection_compat()
            except AttendeeError:
                raise
            except Exception as err:
                raise self._lookup_error(err) from None
            self._async_settings = self._with_overrides(self._settings_for(conn, self.attendee_conn_id))
        return self._async_settings

    async def _aget_connection_compat(self) -> Any:
        try:
            return await self.aget_connection(self.attendee_conn_id)
        except ImportError:
            # Airflow 3.1.0's aget_connection imports the supervisor channel even when no supervisor runs
            # (tests, scripts). Without a supervisor the sync lookup only reads the secrets backends (env
            # vars, metastore), so running it in a worker thread keeps the event loop free.
            return await asyncio.to_thread(self.get_connection, self.attendee_conn_id)

    @cached_property
    def client(self) -> httpx.Client:
        """The sync client of this hook (one connection pool, closed by ``close()``)."""
        return httpx.Client(transport=self._transport, **self.settings.client_kwargs())

    def get_conn(self) -> httpx.Client:
        """The sync httpx client (Airflow's hook interface)."""
        return self.client

    def close(self) -> None:
        """Close the sync client's connections."""
        if "client" in self.__dict__:
            self.client.close()
            del self.__dict__["client"]

    def __enter__(self) -> AttendeeHook:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def aget_client(self) -> httpx.AsyncClient:
        """The async client for this connection, shared by every hook of the same settings in this loop."""
        return (await self._apool()).client

    async def aclose(self) -> None:
        """Close this connection's async client in the running loop (call before the loop ends, e.g. at
        the end of an operator's ``asyncio.run``); a later async call opens a new one."""
        own: _AsyncPool | None = self.__dict__.get("_own_async_pool")
        if own is not None:
            await own.client.aclose()
            return
        if self._async_settings is None:
            return  # never used in this loop
        shared = _SHARED_ASYNC_POOLS.get(asyncio.get_running_loop(), {}).pop(self._async_settings, None)
        if shared is not None:
            await shared.client.aclose()

    async def _apool(self) -> _AsyncPool:
        settings = await self.aget_settings()
        if self._async_transport is not None:
            own: _AsyncPool | None = self.__dict__.get("_own_async_pool")
            if own is None or own.client.is_closed:
                client = httpx.AsyncClient(transport=self._async_transport, **settings.client_kwargs())
                own = self.__dict__["_own_async_pool"] = _AsyncPool(
                    client, asyncio.Semaphore(settings.max_concurrency)
                )
            return own
        pools = _SHARED_ASYNC_POOLS.setdefault(asyncio.get_running_loop(), {})
        shared = pools.get(settings)
        if shared is None or shared.client.is_closed:
            client = httpx.AsyncClient(**settings.client_kwargs())
            shared = pools[settings] = _AsyncPool(client, asyncio.Semaphore(settings.max_concurrency))
        return shared

    def test_connection(self) -> tuple[bool, str]:
        """One cheap authenticated call (first page of bots, not retried: a person is waiting), and a
        verdict naming what is wrong with this connection and the fix (see ``connection_check``)."""
        from airflow_provider_attendee.connection_check import check_connection

        try:
            conn = self.get_connection(self.attendee_conn_id)
        except Exception as err:
            return False, str(self._lookup_error(err))
        if conn.password:
            from airflow.sdk.log import mask_secret

            mask_secret(conn.password)
        return check_connection(conn, transport=self._transport)

    # ------------------------------------------------------------------------------- request engine
    def _url(self, path_or_url: str, base_url: str) -> str:
        if "://" in path_or_url:
            return http.same_origin_url(path_or_url, base_url)
        return base_url + http.API_PREFIX + path_or_url

    def _request(
        self,
        method: str,
        path_or_url: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        idempotent: bool | None = None,
    ) -> httpx.Response:
        settings = self.settings
        url = self._url(path_or_url, settings.base_url)
        what = f"{method} {urlsplit(url).path}"
        safe = method != "POST" if idempotent is None else idempotent
        try:
            for attempt in tenacity.Retrying(**http.retry_policy(settings, idempotent=safe, what=what)):
                with attempt:
                    response = self.client.request(
                        method, url, params=http.clean_params(params or {}) or None, json=json
                    )
                    http.raise_for_status(response, settings)
        except httpx.TransportError as err:
            raise http.transport_error(err, settings, what) from None
        return response

    async def _arequest(
        self,
        method: str,
        path_or_url: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        idempotent: bool | None = None,
    ) -> httpx.Response:
        settings = await self.aget_settings()
        pool = await self._apool()
        url = self._url(path_or_url, settings.base_url)
        what = f"{method} {urlsplit(url).path}"
        safe = method != "POST" if idempotent is None else idempotent
        try:
            async for attempt in tenacity.AsyncRetrying(
                **http.retry_policy(settings, idempotent=safe, what=what)
            ):
                with attempt:
                    async with pool.slots:
                        response = await pool.client.request(
                            method, url, params=http.clean_params(params or {}) or None, json=json
                        )
                    http.raise_for_status(response, settings)
        except httpx.TransportError as err:
            raise http.transport_error(err, settings, what) from None
        return response

    def _one(self, model: type[ModelT], method: str, path: str, **kwargs: Any) -> ModelT:
        response = self._request(method, path, **kwargs)
        return http.validate(model, http.parse_json(response), response)

    async def _aone(self, model: type[ModelT], method: str, path: str, **kwargs: Any) -> ModelT:
        response = await self._arequest(method, path, **kwargs)
        return http.validate(model, http.parse_json(response), response)

    def _paginate(self, model: type[ModelT], path: str, params: Mapping[str, Any]) -> Iterator[ModelT]:
        url: str | None = path
        query: Mapping[str, Any] | None = params
        while url:
            response = self._request("GET", url, params=query)
            results, url = http.page_of(http.parse_json(response), response, self.settings.base_url)
            query = None  # the next link carries the filters
            for item in results:
                yield http.validate(model, item, response)

    async def _apaginate(
        self, model: type[ModelT], path: str, params: Mapping[str, Any]
    ) -> AsyncIterator[ModelT]:
        url: str | None = path
        query: Mapping[str, Any] | None = params
        while url:
            response = await self._arequest("GET", url, params=query)
            results, url = http.page_of(
                http.parse_json(response), response, (await self.aget_settings()).base_url
            )
            query = None
            for item in results:
                yield http.validate(model, item, response)

    def _list(self, model: type[ModelT], path: str, params: Mapping[str, Any]) -> list[ModelT]:
        response = self._request("GET", path, params=params)
        return http.list_of(model, http.parse_json(response), response)

    async def _alist(self, model: type[ModelT], path: str, params: Mapping[str, Any]) -> list[ModelT]:
        response = await self._arequest("GET", path, params=params)
        return http.list_of(model, http.parse_json(response), response)

    # ------------------------------------------------------------------------------ request shapes
    @staticmethod
    def _bot(bot_id: str, suffix: str = "") -> str:
        return f"/bots/{path_id(bot_id, 'bot')}{suffix}"

    @staticmethod
    def _create_bot_body(
        meeting_url: str | None,
        bot_name: str | None,
        join_at: DateLike | None,
        deduplication_key: str | None,
        metadata: Mapping[str, Any] | None,
        calendar_event_id: str | None,
        settings: Mapping[str, Any],
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"bot_name": bot_name or DEFAULT_BOT_NAME}
        if calendar_event_id:
            if meeting_url or join_at:
                raise AttendeeConfigurationError(
                    "Give either calendar_event_id or meeting_url/join_at, not both: a bot for a calendar "
                    "event takes its meeting URL and join time from the event."
                )
            body["calendar_event_id"] = calendar_event_id
        elif meeting_url:
            body["meeting_url"] = _validate_meeting_url(meeting_url)
        else:
            raise AttendeeConfigurationError("create_bot needs a meeting_url (or a calendar_event_id).")
        if join_at is not None and join_at != "":
            body["join_at"] = format_datetime(join_at, "join_at")
        if deduplication_key:
            body["deduplication_key"] = str(deduplication_key)
        if metadata:
            bad = [k for k, v in metadata.items() if not isinstance(v, str)]
            if bad:
                raise AttendeeConfigurationError(
                    f"Attendee bot metadata values must be strings; convert {', '.join(map(repr, bad))}."
                )
            body["metadata"] = dict(metadata)
        body.update({k: v for k, v in settings.items() if v is not None})
        return body

    @staticmethod
    def _bot_filters(
        states: Iterable[str | BotState] | str | None,
        meeting_url: str | None,
        deduplication_key: str | None,
        join_at_after: DateLike | None,
        join_at_before: DateLike | None,
    ) -> dict[str, Any]:
        if isinstance(states, str | BotState):
            states = [states]
        return {
            "states": [BotState.parse(s).value for s in states] if states else None,
            # The server matches the URL exactly as it stored it (normalised): send that form.
            "meeting_url": stored_form(meeting_url) if meeting_url else None,
            "deduplication_key": deduplication_key,
            "join_at_after": _iso(join_at_after, "join_at_after"),
            "join_at_before": _iso(join_at_before, "join_at_before"),
        }

    @staticmethod
    def _calendar_event_filters(
        calendar_id: str | None,
        calendar_deduplication_key: str | None,
        start_time_gte: DateLike | None,
        end_time_lte: DateLike | None,
        updated_at_gte: DateLike | None,
        event_id: str | None,
        ordering: str | None,
    ) -> dict[str, Any]:
        if ordering is not None and ordering not in CALENDAR_EVENT_ORDERINGS:
            raise AttendeeConfigurationError(
                f"ordering={ordering!r} is not supported; use one of {', '.join(sorted(CALENDAR_EVENT_ORDERINGS))}."
            )
        return {
            "calendar_id": calendar_id,
            "calendar_deduplication_key": calendar_deduplication_key,
            "start_time_gte": _iso(start_time_gte, "start_time_gte"),
            "end_time_lte": _iso(end_time_lte, "end_time_lte"),
            "updated_at_gte": _iso(updated_at_gte, "updated_at_gte"),
            "event_id": event_id,
            "ordering": ordering,
        }

    # ------------------------------------------------------------------------------------- bots
    def create_bot(
        self,
        meeting_url: str | None = None,
        *,
        bot_name: str | None = None,
        join_at: DateLike | None = None,
        deduplication_key: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        calendar_event_id: str | None = None,
        **settings: Any,
    ) -> Bot:
        """Create a bot (ad hoc, scheduled with ``join_at``, or bound to a calendar event).

        Further bot settings (``transcription_settings``, ``recording_settings``, ``webhooks``...) pass
        through. The POST is retried after a possibly-delivered failure only when it carries a
        deduplication key, so a retry can never create a second bot.
        """
        body = self._create_bot_body(
            meeting_url, bot_name, join_at, deduplication_key, metadata, calendar_event_id, settings
        )
        return self._one(Bot, "POST", "/bots", json=body, idempotent="deduplication_key" in body)

    async def acreate_bot(
        self,
        meeting_url: str | None = None,
        *,
        bot_name: str | None = None,
        join_at: DateLike | None = None,
        deduplication_key: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        calendar_event_id: str | None = None,
        **settings: Any,
    ) -> Bot:
        """Async ``create_bot``."""
        body = self._create_bot_body(
            meeting_url, bot_name, join_at, deduplication_key, metadata, calendar_event_id, settings
        )
        return await self._aone(Bot, "POST", "/bots", json=body, idempotent="deduplication_key" in body)

    def get_bot(self, bot_id: str) -> Bot:
        """One bot, with its state, recording and transcription states and events."""
        return self._one(Bot, "GET", self._bot(bot_id))

    async def aget_bot(self, bot_id: str) -> Bot:
        """Async :meth:`get_bot`."""
        return await self._aone(Bot, "GET", self._bot(bot_id))

    def list_bots(
        self,
        *,
        states: Iterable[str | BotState] | str | None = None,
        meeting_url: str | None = None,
        deduplication_key: str | None = None,
        join_at_after: DateLike | None = None,
        join_at_before: DateLike | None = None,
    ) -> Iterator[Bot]:
        """Bots of the project, lazily over every page; ``states`` is sent as repeated parameters.

        ``meeting_url`` may be the URL as copied from an invite: it is normalised the way the server stores
        URLs (:func:`~airflow_provider_attendee.client.meeting_urls.normalize_meeting_url`) before the exact match.
        """
        params = self._bot_filters(states, meeting_url, deduplication_key, join_at_after, join_at_before)
        return self._paginate(Bot, "/bots", params)

    def alist_bots(
        self,
        *,
        states: Iterable[str | BotState] | str | None = None,
        meeting_url: str | None = None,
        deduplication_key: str | None = None,
        join_at_after: DateLike | None = None,
        join_at_before: DateLike | None = None,
    ) -> AsyncIterator[Bot]:
        """Async :meth:`list_bots`."""
        params = self._bot_filters(states, meeting_url, deduplication_key, join_at_after, join_at_before)
        return self._apaginate(Bot, "/bots", params)

    async def apage_bots(
        self, page_url: str | None = None, *, meeting_url: str | None = None
    ) -> tuple[list[Bot], str | None]:
        """One page of the bots list (ordered by creation): the first page when ``page_url`` is None, else
        the page at that URL (a ``next`` link the server handed out). Returns its bots and its ``next``
        link; re-reading the last page's URL later shows the bots created since (the list's tail)."""
        params = None if page_url else self._bot_filters(None, meeting_url, None, None, None)
        response = await self._arequest("GET", page_url or "/bots", params=params)
        results, next_url = http.page_of(
            http.parse_json(response), response, (await self.aget_settings()).base_url
        )
        return [http.validate(Bot, item, response) for item in results], next_url

    def update_bot(
        self,
        bot_id: str,
        *,
        join_at: DateLike | None = None,
        metadata: Mapping[str, Any] | None = None,
        **fields: Any,
    ) -> Bot:
        """PATCH a bot: reschedule (``join_at``, only while scheduled), or change metadata at any time."""
        body: dict[str, Any] = {k: v for k, v in fields.items() if v is not None}
        if join_at is not None:
            body["join_at"] = format_datetime(join_at, "join_at")
        if metadata is not None:
            body["metadata"] = dict(metadata)
        if not body:
            raise AttendeeConfigurationError("update_bot needs at least one field to change (e.g. join_at).")
        return self._one(Bot, "PATCH", self._bot(bot_id), json=body)

    def delete_bot(self, bot_id: str) -> None:
        """Delete (unschedule) a bot; only allowed while it is ``scheduled``."""
        self._request("DELETE", self._bot(bot_id))

    async def adelete_bot(self, bot_id: str) -> None:
        """Async :meth:`delete_bot`."""
        await self._arequest("DELETE", self._bot(bot_id))

    # State transitions (leave, delete_data, pause, resume) are retried like idempotent requests: the
    # server's state machine refuses a repeat (AttendeeInvalidStateError), so a retry after a lost
    # response can never act twice.
    def leave_bot(self, bot_id: str) -> Bot:
        """Ask the bot to leave its meeting (only from the in-meeting states)."""
        return self._one(Bot, "POST", self._bot(bot_id, "/leave"), idempotent=True)

    async def aleave_bot(self, bot_id: str) -> Bot:
        """Async :meth:`leave_bot`."""
        return await self._aone(Bot, "POST", self._bot(bot_id, "/leave"), idempotent=True)

    def delete_bot_data(self, bot_id: str) -> Bot:
        """Delete the bot's recording, transcript and participants for good (ended or fatal_error only)."""
        return self._one(Bot, "POST", self._bot(bot_id, "/delete_data"), idempotent=True)

    def pause_recording(self, bot_id: str) -> Bot:
        """Pause the bot's recording (it stays in the meeting)."""
        return self._one(Bot, "POST", self._bot(bot_id, "/pause_recording"), idempotent=True)

    def resume_recording(self, bot_id: str) -> Bot:
        """Resume a paused recording."""
        return self._one(Bot, "POST", self._bot(bot_id, "/resume_recording"), idempotent=True)

    # --------------------------------------------------------------------- what the bot observed
    def list_participant_events(
        self, bot_id: str, *, after: DateLike | None = None, before: DateLike | None = None
    ) -> Iterator[ParticipantEvent]:
        """Participant events in the server's storage order (sort by ``timestamp_ms`` before using them).

        ``after``/``before`` filter on when the server stored each event, not on ``timestamp_ms``.
        """
        params = {"after": _iso(after, "after"), "before": _iso(before, "before")}
        return self._paginate(ParticipantEvent, self._bot(bot_id, "/participant_events"), params)

    def alist_participant_events(
        self, bot_id: str, *, after: DateLike | None = None, before: DateLike | None = None
    ) -> AsyncIterator[ParticipantEvent]:
        """Async :meth:`list_participant_events`."""
        params = {"after": _iso(after, "after"), "before": _iso(before, "before")}
        return self._apaginate(ParticipantEvent, self._bot(bot_id, "/participant_events"), params)

    @staticmethod
    def _participant_filters(is_host: bool | None) -> dict[str, Any]:
        return {"is_host": None if is_host is None else str(bool(is_host)).lower()}

    def list_participants(self, bot_id: str, *, is_host: bool | None = None) -> Iterator[Participant]:
        """Everyone the bot has seen in the meeting (present or not), optionally only hosts."""
        return self._paginate(
            Participant, self._bot(bot_id, "/participants"), self._participant_filters(is_host)
        )

    def alist_participants(self, bot_id: str, *, is_host: bool | None = None) -> AsyncIterator[Participant]:
        """Async :meth:`list_participants`."""
        return self._apaginate(
            Participant, self._bot(bot_id, "/participants"), self._participant_filters(is_host)
        )

    def get_transcript(
        self, bot_id: str, *, updated_after: DateLike | None = None
    ) -> list[TranscriptUtterance]:
        """The utterances so far (all of them once ``transcription_state`` is complete)."""
        params = {"updated_after": _iso(updated_after, "updated_after")}
        return self._list(TranscriptUtterance, self._bot(bot_id, "/transcript"), params)

    async def aget_transcript(
        self, bot_id: str, *, updated_after: DateLike | None = None
    ) -> list[TranscriptUtterance]:
        """Async :meth:`get_transcript`."""
        params = {"updated_after": _iso(updated_after, "updated_after")}
        return await self._alist(TranscriptUtterance, self._bot(bot_id, "/transcript"), params)

    def get_recording(self, bot_id: str) -> Recording:
        """A short-lived URL of the recording file (404 until the file exists)."""
        return self._one(Recording, "GET", self._bot(bot_id, "/recording"))

    def list_chat_messages(
        self, bot_id: str, *, updated_after: DateLike | None = None
    ) -> Iterator[ChatMessage]:
        """The meeting's chat messages the bot saw."""
        params = {"updated_after": _iso(updated_after, "updated_after")}
        return self._paginate(ChatMessage, self._bot(bot_id, "/chat_messages"), params)

    # --------------------------------------------------------------------------------- calendars
    def list_calendars(self, *, deduplication_key: str | None = None) -> Iterator[Calendar]:
        """The project's calendars."""
        return self._paginate(Calendar, "/calendars", {"deduplication_key": deduplication_key})

    def get_calendar(self, calendar_id: str) -> Calendar:
        """One calendar, with its sync state."""
        return self._one(Calendar, "GET", f"/calendars/{path_id(calendar_id, 'calendar')}")

    def list_calendar_events(
        self,
        *,
        calendar_id: str | None = None,
        calendar_deduplication_key: str | None = None,
        start_time_gte: DateLike | None = None,
        end_time_lte: DateLike | None = None,
        updated_at_gte: DateLike | None = None,
        event_id: str | None = None,
        ordering: str | None = None,
    ) -> Iterator[CalendarEvent]:
        """Calendar events (cancelled ones too, with ``is_deleted``), each with its ``bots``."""
        params = self._calendar_event_filters(
            calendar_id,
            calendar_deduplication_key,
            start_time_gte,
            end_time_lte,
            updated_at_gte,
            event_id,
            ordering,
        )
        return self._paginate(CalendarEvent, "/calendar_events", params)

    def alist_calendar_events(
        self,
        *,
        calendar_id: str | None = None,
        calendar_deduplication_key: str | None = None,
        start_time_gte: DateLike | None = None,
        end_time_lte: DateLike | None = None,
        updated_at_gte: DateLike | None = None,
        event_id: str | None = None,
        ordering: str | None = None,
    ) -> AsyncIterator[CalendarEvent]:
        """Async :meth:`list_calendar_events`."""
        params = self._calendar_event_filters(
            calendar_id,
            calendar_deduplication_key,
            start_time_gte,
            end_time_lte,
            updated_at_gte,
            event_id,
            ordering,
        )
        return self._apaginate(CalendarEvent, "/calendar_events", params)
