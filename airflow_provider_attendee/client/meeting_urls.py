"""Meeting URLs in the form the Attendee server stores them (pure, no Airflow).

The server normalises every meeting URL it is given (bots/meeting_url_utils.py, normalize_meeting_url)
and ``GET /bots?meeting_url=`` is an exact match on that stored form: a Meet URL loses its query string, a
percent-encoded Teams meetup-join link is stored decoded and rebuilt, and a Zoom URL keeps only ``pwd``
and ``tk`` (zoom.com becomes zoom.us). :func:`normalize_meeting_url` repeats those rules client-side, so
that a URL copied from an invite finds its bots. Host names are matched case-sensitively, as the server
does (``https://MEET.GOOGLE.COM/...`` is not a meeting URL for it).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import re
from urllib.parse import parse_qs, unquote, urlparse, urlunparse

_HTTP_URL = re.compile(r"https?://[^\s<>\"']+")
_TEAMS_MEETUP = re.compile(
    r"teams\.(?:microsoft\.com|live\.com)(?:/[^/]*)*?/l/meetup-join/([^/]+)/([^?]+)\?context=.*?"
    r"\"Tid\":\"([^\"]+)\".*?\"Oid\":\"([^\"]+)\""
)
_TEAMS_LAUNCHER = re.compile(
    r"teams\.microsoft\.com/dl/launcher/launcher\.html\?url=/_#/l/meetup-join/([^/]+)/([^?]+)\?context=.*?"
    r"\"Tid\":\"([^\"]+)\".*?\"Oid\":\"([^\"]+)\""
)
_TEAMS_LIGHT = re.compile(r"teams\.microsoft\.com/light-meetings/launch\?.*coords=([^&]+)")
_TEAMS_MEET = re.compile(r"teams\.([^.]+\.com)(?:/[^/]*)*?/meet/([^?]+)\?p=([^&\s]+)")
_TEAMS_LAUNCHER_MEET = re.compile(
    r"teams\.([^.]+\.com)/dl/launcher/launcher\.html\?url=/_#/meet/([^?]+)\?p=([^&\s]+)"
)


def normalize_meeting_url(url: str | None) -> str | None:
    """The URL as the server would store it, or None when the server would reject it as no meeting URL."""
    if not url:
        return None
    url = url.strip().rstrip(">")
    for _ in range(3):
        normalised = _normalise_once(url)
        if normalised is not None and not _contains_several_urls(normalised):
            return normalised
        url = unquote(url)
    return None


def stored_form(url: str) -> str:
    """The server's stored form of ``url`` for exact-match filters; the URL unchanged if not recognised."""
    return normalize_meeting_url(url) or url


def _host(url: str) -> str:
    """The host as written (case kept, as tldextract does), without user info or port."""
    netloc = urlparse(url if "//" in url else f"//{url}").netloc
    return netloc.rpartition("@")[2].split(":")[0].rstrip(".")


def _registered_domain(host: str) -> str:
    """The last two labels: enough for zoom.us / zoom.com / google.com / microsoft.com / live.com."""
    labels = host.split(".")
    return ".".join(labels[-2:]) if len(labels) >= 2 else ""


def _teams(conversation: str, message: str, tenant: str, organizer: str) -> str:
    return (
        f"https://teams.microsoft.com/l/meetup-join/{conversation}/{message}"
        f'?context={{"Tid":"{tenant}","Oid":"{organizer}"}}'
    )


def _normalise_once(url: str) -> str | None:
    host = _host(url)
    if _registered_domain(host) in ("zoom.us", "zoom.com"):
        return _zoom(url)
    if host == "meet.google.com":
        match = re.search(r"meet\.google\.com/([a-zA-Z0-9-]+)", url)
        return f"https://meet.google.com/{match.group(1)}" if match else None
    if host in ("teams.microsoft.com", "teams.live.com"):
        return _teams_url(url)
    return None


def _zoom(url: str) -> str | None:
    parsed = urlparse(url)
    if not parsed.scheme:
        parsed = urlparse(f"https://{url}")
    query = parse_qs(parsed.query)
    netloc = parsed.netloc.lower()
    if netloc == "zoom.com":
        netloc = "zoom.us"
    elif netloc.endswith(".zoom.com"):
        netloc = netloc.removesuffix(".zoom.com") + ".zoom.us"
    path_match = re.match(r"^([a-zA-Z0-9/_-]*)", parsed.path)
    path = path_match.group(1) if path_match else parsed.path
    if not path.startswith("/"):
        path = "/" + path
    path = re.sub(r"/+", "/", path)
    kept: dict[str, str] = {}
    if "pwd" in query:
        pwd = re.match(r"^([a-zA-Z0-9]+(?:\.\d+)?)", query["pwd"][0])
        if pwd:
            kept["pwd"] = pwd.group(1)
    if "tk" in query and query["tk"][0].strip():
        kept["tk"] = query["tk"][0].strip()
    if not re.search(r"\d+", path):
        return None
    return urlunparse(("https", netloc, path, "", "&".join(f"{k}={v}" for k, v in kept.items()), ""))


def _teams_url(url: str) -> str | None:
    for pattern in (_TEAMS_MEETUP, _TEAMS_LAUNCHER):
        match = pattern.search(url)
        if match:
            return _teams(*match.groups())
    light = _TEAMS_LIGHT.search(url)
    if light:
        try:
            coords = json.loads(base64.b64decode(unquote(light.group(1))).decode("utf-8"))
            conversation, tenant = coords.get("conversationId"), coords.get("tenantId")
            organizer, message = coords.get("organizerId"), coords.get("messageId", "0")
            if conversation and tenant and organizer:
                return _teams(conversation, message, tenant, organizer)
        except (ValueError, binascii.Error, AttributeError):
            pass
    for pattern in (_TEAMS_MEET, _TEAMS_LAUNCHER_MEET):
        match = pattern.search(url)
        if match and match.group(1) in ("live.com", "microsoft.com"):
            domain, meeting_id, passcode = match.groups()
            return f"https://teams.{domain}/meet/{meeting_id}?p={passcode}"
    return None


def _contains_several_urls(url: str) -> bool:
    """The server refuses a URL that hides another URL (plain, percent-encoded or base64)."""
    found = 0
    for i in range(len(url)):
        suffix = url[i:]
        candidates = [suffix, unquote(suffix), unquote(unquote(suffix))]
        with contextlib.suppress(ValueError, binascii.Error):
            candidates.append(base64.b64decode(suffix).decode("utf-8"))
        if any(_HTTP_URL.match(candidate) for candidate in candidates):
            found += 1
            if found > 1:
                return True
    return False
