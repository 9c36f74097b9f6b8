"""HTTP plumbing shared by the sync and async sides of the hook: settings, URLs, retries, responses.

Kept apart from the hook so that the retry policy and error mapping are written once and tested alone.
"""

from __future__ import annotations

import email.utils
import logging
import random
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import Any, TypeVar
from urllib.parse import quote, urljoin, urlsplit, urlunsplit

import httpx
import pendulum
import tenacity
from pydantic import BaseModel, ValidationError

from airflow_provider_attendee import __version__
from airflow_provider_attendee.client.errors import (
    AttendeeConfigurationError,
    AttendeeConnectionError,
    AttendeeError,
    AttendeeRateLimitError,
    AttendeeServerError,
    AttendeeUnexpectedResponseError,
    error_for_status,
)

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://app.attendee.dev"
API_PREFIX = "/api/v1"
USER_AGENT = f"airflow-provider-attendee/{__version__}"

#: Statuses retried for idempotent requests (429 is retried for every request: it was not processed).
RETRYABLE_STATUSES = frozenset({500, 502, 503, 504})
#: Errors that prove the request never reached the server, so even a plain POST may be sent again.
NOT_SENT_ERRORS: tuple[type[Exception], ...] = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
#: Errors after which the server may or may not have processed the request.
MAYBE_SENT_ERRORS: tuple[type[Exception], ...] = (
    httpx.ReadTimeout,
    httpx.WriteTimeout,
    httpx.ReadError,
    httpx.WriteError,
    httpx.RemoteProtocolError,
)

ModelT = TypeVar("ModelT", bound=BaseModel)


@dataclass(frozen=True)
class ClientSettings:
    """Everything needed to talk to one Attendee server, read from an Airflow connection."""

    conn_id: str
    base_url: str
    api_key: str = field(repr=False)
    timeout: float = 30.0
    max_retries: int = 5
    retry_backoff: float = 1.0
    max_retry_time: float = 120.0
    max_concurrency: int = 8
    project_id: str | None = None
    #: How messages name the connection ("this connection" in the connection test, where the id is a
    #: random temporary one); empty: "connection '<conn_id>'".
    subject: str = field(default="", compare=False)

    @property
    def connection_name(self) -> str:
        """The connection as messages name it."""
        return self.subject or f"connection {self.conn_id!r}"

    def bot_url(self, bot_id: str) -> str | None:
        """The bot's page in the Attendee dashboard, or None without the connection's ``project_id`` extra
        (the API's own URL of a bot answers 401 in a browser: no link is better than that one)."""
        if not self.project_id:
            return None
        return f"{self.base_url}/projects/{quote(self.project_id, safe='')}/bots/{quote(bot_id, safe='')}"

    @property
    def headers(self) -> dict[str, str]:
        return {
            "Authorization": f"Token {self.api_key}",
            "Content-Type": "application/json",
            "Accept": "application/json",
            "User-Agent": USER_AGENT,
        }

    def client_kwargs(self) -> dict[str, Any]:
        """Keyword arguments shared by httpx.Client and httpx.AsyncClient."""
        return {
            "base_url": self.base_url,
            "headers": self.headers,
            # No pool timeout: waiting for a free connection is how the concurrency limit queues requests.
            "timeout": httpx.Timeout(self.timeout, pool=None),
            # Idle connections are kept 55 s (httpx's default is 5 s), so triggers polling every 30 s reuse
            # them instead of reconnecting each poll; 55 s stays under the usual 60-75 s server timeouts.
            "limits": httpx.Limits(
                max_connections=self.max_concurrency,
                max_keepalive_connections=self.max_concurrency,
                keepalive_expiry=55.0,
            ),
            "follow_redirects": False,
        }


DEFAULT_PORTS = {"http": 80, "https": 443}


def _capitalized(text: str) -> str:
    return text[:1].upper() + text[1:]


def normalize_base_url(host: str | None, port: int | None = None, subject: str = "the connection") -> str:
    """Turn a connection's host (scheme optional, https by default) and port into a base URL.

    The Port field is optional (a port in the URL is enough); when both are given they must agree. The
    scheme's own port (443, 80) is left out of the URL."""
    raw = (host or "").strip().rstrip("/")
    if not raw:
        raw = DEFAULT_BASE_URL
    if "://" not in raw:
        raw = f"https://{raw}"
    parts = urlsplit(raw)
    try:
        url_port = parts.port
    except ValueError:
        url_port = -1
    if parts.scheme not in ("http", "https") or not parts.hostname or url_port == -1:
        raise AttendeeConfigurationError(
            f"The Attendee URL {host!r} of {subject} is not an http(s) URL. Set it to your Attendee server's "
            f"address, e.g. {DEFAULT_BASE_URL} (https:// may be left out; a plain-http server needs http://)."
        )
    if port and url_port is not None and port != url_port:
        raise AttendeeConfigurationError(
            f"{_capitalized(subject)} has port {url_port} in its Attendee URL and {port} in its Port field. "
            "Keep one of them, or make them equal."
        )
    netloc = parts.netloc
    if port and url_port is None and port != DEFAULT_PORTS[parts.scheme]:
        netloc = f"{netloc}:{port}"
    path = parts.path.rstrip("/")
    if path.endswith(API_PREFIX):
        path = path[: -len(API_PREFIX)]
    return urlunsplit((parts.scheme, netloc, path, "", ""))


def _number(extra: Mapping[str, Any], name: str, default: float, subject: str, minimum: float) -> float:
    value = extra.get(name)
    if value is None or value == "":
        return default  # unset (the UI's form writes null for an empty field)
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = minimum - 1
    if number < minimum:
        raise AttendeeConfigurationError(
            f"{_capitalized(subject)}: extra field {name!r} must be a number >= {minimum:g}, got {value!r}. "
            f"Correct it, or empty it for the default ({default:g})."
        )
    return number


def settings_from_connection(
    conn_id: str,
    host: str | None,
    port: int | None,
    password: str | None,
    extra: Mapping[str, Any],
    *,
    subject: str = "",
) -> ClientSettings:
    """Validate an Airflow connection's fields and turn them into ClientSettings; ``subject`` is how
    messages name the connection (default "connection '<conn_id>'")."""
    who = subject or f"connection {conn_id!r}"
    api_key = (password or "").strip()
    if not api_key:
        example = (
            ""
            if subject
            else ', e.g. AIRFLOW_CONN_ATTENDEE_DEFAULT=\'{"conn_type": "attendee", '
            '"host": "https://app.attendee.dev", "password": "<key>"}\''
        )
        raise AttendeeConfigurationError(
            f"{_capitalized(who)} has no Attendee API key. Create one in the Attendee dashboard (your project's "
            f"API Keys page) and put it in the connection's API key (password) field{example}."
        )
    return ClientSettings(
        conn_id=conn_id,
        base_url=normalize_base_url(host, port, who),
        api_key=api_key,
        timeout=_number(extra, "timeout", 30.0, who, minimum=0.001),
        max_retries=int(_number(extra, "max_retries", 5, who, minimum=0)),
        retry_backoff=_number(extra, "retry_backoff", 1.0, who, minimum=0),
        max_retry_time=_number(extra, "max_retry_time", 120.0, who, minimum=0),
        max_concurrency=int(_number(extra, "max_concurrency", 8, who, minimum=1)),
        project_id=str(extra["project_id"]) if extra.get("project_id") else None,
        subject=subject,
    )


def path_id(value: str, what: str) -> str:
    """Quote an object id for use in a URL path, rejecting empty ids with a clear message."""
    text = str(value or "").strip()
    if not text:
        raise AttendeeConfigurationError(f"An Attendee {what} id is required, got {value!r}.")
    return quote(text, safe="")


def format_datetime(value: datetime | date | str, name: str) -> str:
    """ISO 8601 in UTC with a Z suffix, from a datetime (naive = UTC), a pendulum object or a string."""
    if isinstance(value, str):
        try:
            parsed = pendulum.parse(value)
        except (ValueError, pendulum.parsing.exceptions.ParserError) as err:
            raise AttendeeConfigurationError(
                f"{name}={value!r} is not an ISO 8601 datetime (e.g. 2025-01-18T12:34:56Z): {err}"
            ) from None
        if not isinstance(parsed, datetime):
            raise AttendeeConfigurationError(
                f"{name}={value!r} is not a datetime (e.g. 2025-01-18T12:34:56Z)."
            )
        value = parsed
    elif not isinstance(value, datetime):
        if isinstance(value, date):
            value = datetime(value.year, value.month, value.day)
        else:
            raise AttendeeConfigurationError(f"{name} must be a datetime or ISO 8601 string, got {value!r}.")
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    utc = value.astimezone(timezone.utc)
    text = utc.strftime("%Y-%m-%dT%H:%M:%S")
    if utc.microsecond:
        text += f".{utc.microsecond:06d}"
    return text + "Z"


def clean_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """Drop None values; keep lists (httpx repeats the key, as the API expects for ``states``)."""
    return {key: value for key, value in params.items() if value is not None}


def same_origin_url(next_url: str, base_url: str) -> str:
    """Resolve a pagination ``next`` link (absolute or relative) against the configured base URL.

    The server builds ``next`` from the request's Host header, which may differ behind a proxy; the
    client only ever follows the path and query, on the configured host.
    """
    base = urlsplit(base_url)
    resolved = urlsplit(urljoin(base_url + "/", next_url))
    return urlunsplit((base.scheme, base.netloc, resolved.path, resolved.query, ""))


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header given as seconds or as an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def raise_for_status(response: httpx.Response, settings: ClientSettings) -> None:
    """Raise the provider's exception for an HTTP error response."""
    if response.is_success:
        return
    raise error_for_status(
        status_code=response.status_code,
        method=response.request.method,
        path=response.request.url.path,
        body=response.content,
        content_type=response.headers.get("content-type", ""),
        conn_id=settings.conn_id,
        retry_after=parse_retry_after(response.headers.get("retry-after")),
        secret=settings.api_key,
    )


def parse_json(response: httpx.Response) -> Any:
    """The JSON body of a success response, or a clear error when the host is not an Attendee API."""
    try:
        return response.json()
    except ValueError:
        raise AttendeeUnexpectedResponseError(
            f"Attendee API {response.request.method} {response.request.url.path} returned HTTP "
            f"{response.status_code} with a non-JSON body ({response.headers.get('content-type', 'no type')}). "
            "Is the connection's host an Attendee server?",
            http_status=response.status_code,
            method=response.request.method,
            path=response.request.url.path,
        ) from None


def validate(model: type[ModelT], data: Any, response: httpx.Response) -> ModelT:
    """Validate one JSON object into a model, turning pydantic's error into a short provider error."""
    try:
        return model.model_validate(data)
    except ValidationError as err:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(root)'}: {e['msg']}" for e in err.errors()[:5]
        )
        raise AttendeeUnexpectedResponseError(
            f"Attendee API {response.request.method} {response.request.url.path} returned a {model.__name__} "
            f"this provider cannot read ({problems}). Is the connection's host an Attendee server of a "
            "supported version?",
            http_status=response.status_code,
            method=response.request.method,
            path=response.request.url.path,
        ) from None


def _not_a(shape: str, response: httpx.Response) -> AttendeeUnexpectedResponseError:
    return AttendeeUnexpectedResponseError(
        f"Attendee API GET {response.request.url.path} did not return {shape}. Is the connection's host an "
        "Attendee server?",
        http_status=response.status_code,
        method="GET",
        path=response.request.url.path,
    )


def list_of(model: type[ModelT], data: Any, response: httpx.Response) -> list[ModelT]:
    """A plain JSON list body (e.g. the transcript) as models."""
    if not isinstance(data, list):
        raise _not_a("a list", response)
    return [validate(model, item, response) for item in data]


def page_of(data: Any, response: httpx.Response, base_url: str) -> tuple[list[Any], str | None]:
    """Split a paginated body into its results and its ``next`` link, resolved on the configured host."""
    if not isinstance(data, dict) or not isinstance(data.get("results"), list):
        raise _not_a("a paginated list ({next, previous, results})", response)
    next_url = data.get("next")
    if not isinstance(next_url, str) or not next_url:
        return data["results"], None
    return data["results"], same_origin_url(next_url, base_url)


def tls_failure(error: BaseException) -> ssl.SSLError | None:
    """The TLS error behind a transport error (wrong protocol, untrusted certificate), if any: such an
    error cannot heal by itself, so it is never retried."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if isinstance(current, ssl.SSLError):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def is_retryable(error: BaseException, *, idempotent: bool) -> bool:
    """Whether sending the request again is both useful and safe."""
    if tls_failure(error) is not None:
        return False
    if isinstance(error, (*NOT_SENT_ERRORS, AttendeeRateLimitError)):
        return True
    if not idempotent:
        return False
    if isinstance(error, MAYBE_SENT_ERRORS):
        return True
    return isinstance(error, AttendeeServerError) and error.http_status in RETRYABLE_STATUSES


class _WaitRetryAfterOrBackoff(tenacity.wait.wait_base):
    """Wait what a 429's Retry-After asks (capped), else exponential backoff plus up to one backoff of jitter."""

    def __init__(self, settings: ClientSettings) -> None:
        self._cap = max(settings.max_retry_time, 0.0)
        self._backoff = settings.retry_backoff

    def __call__(self, retry_state: tenacity.RetryCallState) -> float:
        error = retry_state.outcome.exception() if retry_state.outcome else None
        if isinstance(error, AttendeeRateLimitError) and error.retry_after is not None:
            return min(error.retry_after, self._cap)
        exponential = self._backoff * 2 ** min(retry_state.attempt_number - 1, 10)
        return min(exponential + random.uniform(0, self._backoff), self._cap)


def _describe(error: BaseException | None) -> str:
    if isinstance(error, AttendeeError) and error.http_status:
        return f"HTTP {error.http_status}"
    return type(error).__name__


def retry_policy(settings: ClientSettings, *, idempotent: bool, what: str) -> dict[str, Any]:
    """Keyword arguments for tenacity's Retrying / AsyncRetrying."""

    def log_retry(retry_state: tenacity.RetryCallState) -> None:
        error = retry_state.outcome.exception() if retry_state.outcome else None
        wait = retry_state.next_action.sleep if retry_state.next_action else 0.0
        log.warning(
            "Attendee %s failed (%s); retry %d of %d in %.2fs",
            what,
            _describe(error),
            retry_state.attempt_number,
            settings.max_retries,
            wait,
        )

    return {
        "retry": tenacity.retry_if_exception(lambda e: is_retryable(e, idempotent=idempotent)),
        "stop": tenacity.stop_after_attempt(settings.max_retries + 1)
        | tenacity.stop_after_delay(settings.max_retry_time),
        "wait": _WaitRetryAfterOrBackoff(settings),
        "before_sleep": log_retry,
        "reraise": True,
    }


def transport_error(
    error: httpx.TransportError, settings: ClientSettings, what: str
) -> AttendeeConnectionError:
    """Wrap an httpx transport error (after retries) into the provider's connection error."""
    kind = type(error).__name__
    detail = str(error).replace(settings.api_key, "***") or "no detail"
    tls = tls_failure(error)
    if tls is not None:
        if isinstance(tls, ssl.SSLCertVerificationError):
            fix = (
                "its certificate is not trusted: use the server's public name, or point SSL_CERT_FILE at the "
                "certificate authority that signed it"
            )
        else:
            plain = urlunsplit(("http", *urlsplit(settings.base_url)[1:]))
            fix = (
                "is the server plain http? Then write the scheme in the Attendee URL of "
                f"{settings.connection_name}: {plain}"
            )
        return AttendeeConnectionError(
            f"Attendee {what}: the TLS handshake with {settings.base_url} failed ({tls.reason or tls}); {fix}. "
            "Not retried: this cannot heal by itself.",
            method=what.split(" ", 1)[0],
        )
    times = "once" if settings.max_retries == 1 else f"up to {settings.max_retries} times"
    retried = f" (the request was retried {times})" if settings.max_retries else ""
    return AttendeeConnectionError(
        f"Attendee {what} could not reach {settings.base_url} ({kind}: {detail}){retried}. Check the Attendee "
        f"URL (scheme, host and port) of {settings.connection_name}, and that the server is up and reachable "
        "from Airflow.",
        method=what.split(" ", 1)[0],
    )
