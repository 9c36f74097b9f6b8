"""The Attendee client's errors: one family under ``AttendeeError``, with no Airflow import.

Every message names the request (method and path) or the input at fault, carries the server's own error
text, and says what to do. No message ever contains the API key.

Inside Airflow, each class has a twin of the same name in ``airflow_provider_attendee.exceptions`` that is
also an ``AirflowException`` (and an ``AirflowFailException`` where a retry cannot help). Importing that
module registers the twins, and from then on creating any of these errors creates its twin
(``AttendeeError.__new__``): so the client and the meeting logic raise ``AttendeeNotFoundError(...)`` here,
without importing Airflow, while inside Airflow every error they raise is the Airflow exception a task,
a retry policy or an ``except`` in a DAG expects.
"""

from __future__ import annotations

import json
from typing import Any

_MAX_BODY_CHARS = 500

#: Each error class -> its Airflow twin (filled when ``airflow_provider_attendee.exceptions`` is imported).
_TWINS: dict[type[AttendeeError], type[AttendeeError]] = {}


class AttendeeError(Exception):
    """Base class of every error raised by this provider."""

    def __new__(cls, *args: Any, **kwargs: Any) -> AttendeeError:
        """The registered Airflow twin of ``cls`` when there is one (Python then runs ``__init__`` on it)."""
        return super().__new__(_TWINS.get(cls, cls), *args, **kwargs)

    def __init__(
        self,
        message: str,
        *,
        http_status: int | None = None,
        method: str | None = None,
        path: str | None = None,
        detail: str | None = None,
    ) -> None:
        super().__init__(message)
        self.http_status = http_status
        self.method = method
        self.path = path
        self.detail = detail


class AttendeeConfigurationError(AttendeeError, ValueError):
    """The Airflow connection or an argument is unusable (bad URL, missing key, invalid value).

    Also a ``ValueError``, the built-in exception Airflow and Python code expect for bad input."""


class AttendeeConnectionError(AttendeeError):
    """The Attendee server could not be reached (DNS, refused, reset, timeout) after all retries."""


class AttendeeUnexpectedResponseError(AttendeeError):
    """The server answered with something that is not the Attendee API (wrong host, proxy page)."""


class AttendeeAPIError(AttendeeError):
    """The Attendee API answered with an HTTP error status."""


class AttendeeAuthenticationError(AttendeeAPIError):
    """401/403: the API key is missing, wrong or disabled."""


class AttendeeNotFoundError(AttendeeAPIError):
    """404: the bot, calendar or path does not exist (or belongs to another project)."""


class AttendeeRecordingMissingError(AttendeeNotFoundError):
    """404 on ``/recording`` for a bot that exists but has no recording file (never retried in Airflow).

    Created with ``recording_settings.format: "none"``, not uploaded yet, or a server without recording
    storage: an outcome to handle (``AttendeeRecordingOperator(if_missing="skip")``), not a wrong id.
    """


class AttendeeInvalidRequestError(AttendeeAPIError):
    """400: the server rejected the request's fields (see ``field_errors``)."""

    field_errors: dict[str, list[str]]


class AttendeeInvalidStateError(AttendeeInvalidRequestError):
    """400: the call is not allowed in the bot's current state (leave after leaving, delete after staging)."""


class AttendeeDeduplicationKeyInUseError(AttendeeInvalidRequestError):
    """400: a bot with this deduplication key is still live; look it up with ``list_bots(deduplication_key=)``."""


class AttendeeRateLimitError(AttendeeAPIError):
    """429: too many requests; ``retry_after`` holds the seconds the server asked to wait, if given."""

    retry_after: float | None = None


class AttendeeServerError(AttendeeAPIError):
    """5xx: the Attendee server failed; usually transient."""


class AttendeeBotFailedError(AttendeeError):
    """The bot reached a state where the awaited condition can never be met (fatal_error, ended...).

    Fails the task without retries (in Airflow): waiting again cannot change a finished bot.
    """


class AttendeeTranscriptNotReadyError(AttendeeError):
    """The transcript is not complete yet (retry later, or allow an incomplete transcript)."""


class AttendeeDestinationError(AttendeeError):
    """A result could not be written to the destination (not writable, unknown scheme, size mismatch)."""


class AttendeeCalendarSyncError(AttendeeError):
    """Some calendar events could not be reconciled; the others were."""


class AttendeeTablesError(AttendeeError):
    """Writing or reading the meeting tables failed in the database (retried: usually transient)."""


class AttendeeTablesConfigurationError(AttendeeConfigurationError):
    """The meeting tables cannot be used as configured (unknown connection, not a SQL database, tables
    of a newer schema version): fails without retries, a retry cannot fix it."""


#: Every error class, base first: each has its Airflow twin in ``airflow_provider_attendee.exceptions``.
ERRORS: tuple[type[AttendeeError], ...] = (
    AttendeeError,
    AttendeeConfigurationError,
    AttendeeConnectionError,
    AttendeeUnexpectedResponseError,
    AttendeeAPIError,
    AttendeeAuthenticationError,
    AttendeeNotFoundError,
    AttendeeRecordingMissingError,
    AttendeeInvalidRequestError,
    AttendeeInvalidStateError,
    AttendeeDeduplicationKeyInUseError,
    AttendeeRateLimitError,
    AttendeeServerError,
    AttendeeBotFailedError,
    AttendeeTranscriptNotReadyError,
    AttendeeDestinationError,
    AttendeeCalendarSyncError,
    AttendeeTablesError,
    AttendeeTablesConfigurationError,
)


def register_twins(twins: dict[type[AttendeeError], type[AttendeeError]]) -> None:
    """Create each error as its twin from now on (each twin must subclass its error)."""
    for error, twin in twins.items():
        if not issubclass(twin, error):
            raise TypeError(f"{twin.__qualname__} does not subclass {error.__qualname__}")
    _TWINS.update(twins)


def describe_error_body(body: bytes, content_type: str) -> tuple[str, dict[str, list[str]]]:
    """Turn an error body into readable text and field errors, whatever its shape (JSON or an HTML page)."""
    text = body.decode("utf-8", errors="replace").strip()
    parsed: Any = None
    if "json" in content_type or text[:1] in "{[":
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = None
    if isinstance(parsed, dict):
        for key in ("error", "detail"):
            if isinstance(parsed.get(key), str) and len(parsed) == 1:
                return parsed[key], {}
        field_errors = {
            str(field): [str(m) for m in (msgs if isinstance(msgs, list) else [msgs])]
            for field, msgs in parsed.items()
        }
        summary = "; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in field_errors.items())
        return summary, field_errors
    if isinstance(parsed, list):
        return "; ".join(str(m) for m in parsed), {}
    if "html" in content_type or text.lower().startswith(("<!doctype", "<html")):
        return "non-JSON error page (HTML) from the server or a proxy", {}
    if not text:
        return "empty response body", {}
    return text[:_MAX_BODY_CHARS], {}


def as_sentence(text: str) -> str:
    """The text ending with one full stop (server messages may or may not end with one)."""
    text = text.rstrip()
    return text if text.endswith((".", "!", "?")) else f"{text}."


def _classify_bad_request(detail: str) -> type[AttendeeInvalidRequestError]:
    lowered = detail.lower()
    if "deduplication key already in use" in lowered:
        return AttendeeDeduplicationKeyInUseError
    state_markers = ("is in state", "not allowed when bot is in state", "not in a state where")
    if any(marker in lowered for marker in state_markers):
        return AttendeeInvalidStateError
    return AttendeeInvalidRequestError


def _is_missing_recording(path: str, detail: str) -> bool:
    """The server's 404 for a bot without a recording file (or without a recording), not "Bot not found"."""
    return path.rstrip("/").endswith("/recording") and detail.lower().startswith(
        ("no recording file found", "no recording found")
    )


def error_for_status(
    *,
    status_code: int,
    method: str,
    path: str,
    body: bytes,
    content_type: str,
    conn_id: str,
    retry_after: float | None = None,
    secret: str | None = None,
) -> AttendeeAPIError:
    """Build the exception for one HTTP error response (``secret`` is scrubbed from the server's text)."""
    detail, field_errors = describe_error_body(body, content_type)
    if secret:
        detail = detail.replace(secret, "***")
        field_errors = {k: [m.replace(secret, "***") for m in v] for k, v in field_errors.items()}
    where = f"Attendee API {method} {path} failed with HTTP {status_code}: {as_sentence(detail)}"
    error: AttendeeAPIError
    if status_code in (401, 403):
        error = AttendeeAuthenticationError(
            f"{where} Check the API key (password) of Airflow connection {conn_id!r}.",
            http_status=status_code,
            method=method,
            path=path,
            detail=detail,
        )
    elif status_code == 404 and _is_missing_recording(path, detail):
        error = AttendeeRecordingMissingError(
            f"{where} The bot exists but has no recording file: it was created with "
            'recording_settings.format "none" (no file is ever made), its file is not uploaded yet (it is '
            "once the bot has ended and its recording_state is complete), or the Attendee server has no "
            'recording storage configured. Use AttendeeRecordingOperator(if_missing="skip") to carry on '
            "without it.",
            http_status=status_code,
            method=method,
            path=path,
            detail=detail,
        )
    elif status_code == 404:
        error = AttendeeNotFoundError(
            f"{where} Check the id in the request, that it belongs to the project of connection "
            f"{conn_id!r}, and that the connection's host is an Attendee server.",
            http_status=status_code,
            method=method,
            path=path,
            detail=detail,
        )
    elif status_code == 429:
        error = AttendeeRateLimitError(
            f"{where} Slow down (Airflow pools help) or retry later"
            + (f"; the server asked to wait {retry_after:g}s." if retry_after is not None else "."),
            http_status=status_code,
            method=method,
            path=path,
            detail=detail,
        )
        error.retry_after = retry_after
    elif status_code >= 500:
        error = AttendeeServerError(
            f"{where} The Attendee server failed; this is usually transient, retry later.",
            http_status=status_code,
            method=method,
            path=path,
            detail=detail,
        )
    elif 400 <= status_code < 500:
        cls = _classify_bad_request(detail) if status_code == 400 else AttendeeInvalidRequestError
        named = [name for name in field_errors if name != "non_field_errors"]
        hint = {
            AttendeeDeduplicationKeyInUseError: " Look the live bot up with list_bots(deduplication_key=...) "
            "or use another key.",
            AttendeeInvalidStateError: " Check the bot's state before this call.",
        }.get(
            cls,
            " Fix the request fields named above."
            if named
            # e.g. {"error": "Zoom App credentials are required..."}: about the project, not a field
            else " The server names no request field: do what its message says (it may be about the "
            "project's settings rather than this request).",
        )
        error = cls(where + hint, http_status=status_code, method=method, path=path, detail=detail)
        error.field_errors = field_errors
    else:
        error = AttendeeAPIError(where, http_status=status_code, method=method, path=path, detail=detail)
    return error
