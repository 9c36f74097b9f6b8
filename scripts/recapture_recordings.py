"""Recapture the conformance recordings from the real Attendee server (``make recapture-recordings``).

    .venv/bin/python scripts/recapture_recordings.py                 # every reproducible recording
    .venv/bin/python scripts/recapture_recordings.py lifecycle.json  # some of them

tests/fixtures/attendee/recordings/*.json are exchanges with a real Attendee server, copied from ../shared and
never edited here. This script plays each of them again, as a scenario written in code: in a fresh project of
the real server that scripts/attendee_server.py runs (``up`` is idempotent: a running server is reused), it
does the recording's seed steps with tests/system/driver/attendee_driver.py (the server's own state machine,
participant events, utterances, chat and calendar sync; no code of the server is copied here, it is Elastic
License 2.0) and sends the recording's requests over HTTP (httpx), with the ids and times of the new run in
place of the recorded ones. It writes the result to tests/fixtures/recaptured/<name>.json in the recordings'
format (``description``, ``seed_steps``, ``exchanges``; next/previous links as the server gives them; no API
key), which tests/conformance/test_recaptured.py compares with the original recording and replays on the
simulator: a drift of the real server shows up as a failing test.

``seed_steps[].action`` is machine-readable here (the originals' is prose):

- ``{"kind": "start", "now": ...}``: the run's clock (a whole second); request times are relative to it.
- ``{"kind": "driver", "command": ..., "args": {...}}``: a driver command; ``result`` is its answer.
- ``{"kind": "request", "method": ..., "path": ..., "query": ..., "body": ...}``: an HTTP request made to set
  up (not one of the exchanges); ``result`` is ``{"status", "body"}``.

An optional ``note`` says in words what a step stands for. Times the scenarios make up (a meeting's ``T``,
back-dated or forward-dated events) are in the ``start`` step's result.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.system.server import AttendeeServer, Driver, ServerUnavailable, bring_up  # noqa: E402

ORIGINALS = ROOT / "tests" / "fixtures" / "attendee" / "recordings"
OUT = ROOT / "tests" / "fixtures" / "recaptured"

#: Recordings that cannot be made again with the driver and the API, and why.
NOT_REPRODUCIBLE = {
    "no_recording.json": "its two bots have no default Recording row at all, made with Bot.objects.create "
    "through the ORM; the API's create_bot always makes one, and the driver (which uses the server's own "
    "managers, never raw rows) has no command for a bot without it, so transcription_state and "
    "recording_state null cannot be produced",
    "calendar.json": "its events were made as rows (event E already is_deleted, event F in the past, event D "
    "without a link) and exchange 23 shows event A flagged is_deleted by a bare model save that leaves its "
    "bots scheduled; the driver changes calendars only through the server's own sync, which deletes the "
    "scheduled bots of a cancelled event (calendar_changes.json recaptures that path)",
}


def iso(moment: datetime) -> str:
    """UTC ISO 8601 with Z, as the API writes it (whole seconds without a fraction)."""
    moment = moment.astimezone(timezone.utc)
    if moment.microsecond:
        return moment.isoformat(timespec="microseconds").replace("+00:00", "Z")
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


class Capture:
    """One recording made again: a fresh project, its seed steps and its exchanges."""

    def __init__(self, name: str, server: AttendeeServer, driver: Driver) -> None:
        self.name = name
        self.server = server
        self.driver = driver
        self.project = driver.create_project(server.url, name=f"recapture {name.removesuffix('.json')}")
        self.client = httpx.Client(
            base_url=server.url, headers={"Authorization": f"Token {self.project.api_key}"}, timeout=60
        )
        self.anonymous = httpx.Client(base_url=server.url, timeout=60)
        self.secrets = [s for s in (self.project.api_key, server.api_key) if s]
        self.secrets += [s for s in (self.project.webhook_secret, server.webhook_secret) if s]
        self.start = datetime.fromtimestamp(int(time.time()), tz=timezone.utc)
        self.seed_steps: list[dict[str, Any]] = []
        self.exchanges: list[dict[str, Any]] = []
        self._step({"kind": "start", "now": iso(self.start)}, {"now": iso(self.start)})

    def at(self, seconds: float = 0, *, minutes: float = 0, hours: float = 0, days: float = 0) -> datetime:
        return self.start + timedelta(seconds=seconds, minutes=minutes, hours=hours, days=days)

    def set_times(self, **times: datetime | int | str) -> None:
        """Times the scenario made up, kept in the start step's result (what the tests line up with)."""
        self.seed_steps[0]["result"].update(
            {k: iso(v) if isinstance(v, datetime) else v for k, v in times.items()}
        )

    def _step(self, action: dict[str, Any], result: Any, note: str | None = None) -> None:
        if note:
            action = {**action, "note": note}
        self.seed_steps.append({"before_exchange": len(self.exchanges), "action": action, "result": result})

    def drive(self, command: str, note: str | None = None, **args: Any) -> Any:
        """A driver command, as a seed step."""
        result = self.driver.call(command, **args)
        self._step({"kind": "driver", "command": command, "args": args}, result, note)
        return result

    def setup(
        self,
        method: str,
        path: str,
        body: Any = None,
        query: dict[str, Any] | None = None,
        note: str | None = None,
    ) -> Any:
        """An HTTP request made to set up, as a seed step (not an exchange); it must succeed."""
        response = self.client.request(method, path, params=query or None, json=body)
        if response.is_error:
            raise RuntimeError(
                f"{self.name}: set-up {method} {path} -> {response.status_code} {response.text}"
            )
        data = response.json() if response.content else None
        self._step(
            {"kind": "request", "method": method, "path": path, "query": query or {}, "body": body},
            {"status": response.status_code, "body": data},
            note,
        )
        return data

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        query: dict[str, Any] | None = None,
        *,
        client: httpx.Client | None = None,
        headers: dict[str, str] | None = None,
        expect: int | None = None,
    ) -> Any:
        """One exchange, recorded as sent and answered (never its headers)."""
        response = (client or self.client).request(
            method, path, params=query or None, json=body, headers=headers
        )
        data = response.json() if response.content else None
        self.exchanges.append(
            {
                "method": method,
                "path": path,
                "query": dict(query or {}),
                "request_body": body,
                "status": response.status_code,
                "response_body": data,
            }
        )
        if expect is not None and response.status_code != expect:
            print(
                f"  note: {self.name}#{len(self.exchanges) - 1} {method} {path}: {response.status_code} "
                f"(the original recording had {expect}) {response.text[:300]}",
                file=sys.stderr,
            )
        return data

    def write(self, description: str) -> Path:
        data = {"description": description, "seed_steps": self.seed_steps, "exchanges": self.exchanges}
        text = json.dumps(data, indent=1, ensure_ascii=False) + "\n"
        for secret in self.secrets:  # the key and webhook secrets are never written
            if secret in text:
                raise RuntimeError(f"{self.name}: a secret of the project would be written; not writing it")
        OUT.mkdir(parents=True, exist_ok=True)
        path = OUT / self.name
        path.write_text(text, encoding="utf-8")
        self.client.close()
        self.anonymous.close()
        return path


def intro(c: Capture, what: str) -> str:
    source = Path(str(c.server.state.get("source", ""))).name
    commit = source.removeprefix("attendee-").split(".")[0] if source else "unknown"
    return (
        f"Recaptured by scripts/recapture_recordings.py from a real Attendee server (commit {commit}) at "
        f"{iso(c.start)}, in a fresh project, the scenario of tests/fixtures/attendee/recordings/{c.name} "
        f"(same requests, same seed steps through tests/system/driver/attendee_driver.py; ids and times are "
        f"this run's). {what}"
    )


# ------------------------------------------------------------------------------------- lifecycle
BOTS = "/api/v1/bots"


def lifecycle(c: Capture) -> str:
    join_at = c.at(minutes=10)
    bot = c.call(
        "POST",
        BOTS,
        {
            "meeting_url": "https://meet.google.com/abc-defg-hij",
            "bot_name": "Sales Notetaker",
            "join_at": iso(join_at),
            "metadata": {"team": "sales"},
            "deduplication_key": "lifecycle-0112a7",
        },
        expect=201,
    )["id"]
    path = f"{BOTS}/{bot}"
    c.call("GET", path)
    c.drive("stage_bot", bot_id=bot, note="what the scheduler does about 5 minutes before join_at")
    c.call("GET", path)
    c.drive(
        "bot_event", bot_id=bot, event_type="join_requested", note="the scheduler launches the bot at join_at"
    )
    c.call("GET", path)
    for event in ("put_in_waiting_room", "joined_meeting", "recording_permission_granted"):
        c.drive("bot_event", bot_id=bot, event_type=event)
        c.call("GET", path)
    c.call("POST", f"{path}/leave", expect=200)
    c.call("GET", path)
    c.drive(
        "bot_event",
        bot_id=bot,
        event_type="left_meeting",
        note="the original attached a fake recording file first; the driver attaches none",
    )
    c.call("GET", path)
    c.drive("bot_event", bot_id=bot, event_type="post_processing_completed")
    c.call("GET", path)
    c.call("GET", BOTS, query={"deduplication_key": "lifecycle-0112a7"})

    adhoc = c.call(
        "POST",
        BOTS,
        {
            "meeting_url": "https://meet.google.com/xyz-wxyz-xyz",
            "bot_name": "Sales Notetaker",
            "metadata": {"team": "sales"},
        },
        expect=201,
    )["id"]
    c.call("GET", f"{BOTS}/{adhoc}")
    c.drive("bot_event", bot_id=adhoc, event_type="put_in_waiting_room")
    c.call("GET", f"{BOTS}/{adhoc}")
    c.drive(
        "bot_event",
        bot_id=adhoc,
        event_type="could_not_join_meeting",
        sub_type="waiting_room_timeout_exceeded",
    )
    c.call("GET", f"{BOTS}/{adhoc}")
    c.call("GET", f"{BOTS}/{adhoc}/recording", expect=404)

    doomed = c.call(
        "POST",
        BOTS,
        {
            "meeting_url": "https://meet.google.com/del-etes-che",
            "bot_name": "Sales Notetaker",
            "join_at": iso(c.at(minutes=30, seconds=31)),
            "metadata": {"team": "sales"},
        },
        expect=201,
    )["id"]
    c.call("GET", f"{BOTS}/{doomed}")
    c.call("DELETE", f"{BOTS}/{doomed}", expect=200)
    c.call("GET", f"{BOTS}/{doomed}", expect=404)
    c.call("DELETE", f"{BOTS}/{doomed}", expect=404)
    return intro(
        c,
        f"Bot 1 ({bot}): scheduled (join_at +10 min, deduplication_key lifecycle-0112a7) -> staged (stage_bot) -> "
        f"joining -> waiting_room -> joined_not_recording -> joined_recording -> POST /leave -> leaving -> "
        f"post_processing -> ended, GET after every step, then GET /bots?deduplication_key. Bot 2 ({adhoc}): "
        f"ad-hoc -> waiting_room -> fatal_error (could_not_join_meeting, waiting_room_timeout_exceeded), GET "
        f"/recording 404. Bot 3 ({doomed}): scheduled, DELETE 200 (empty body), GET 404, DELETE 404. Unlike the "
        f"original, no recording file is attached before left_meeting (the driver has no such command).",
    )


# ---------------------------------------------------------------------------------------- errors
def errors(c: Capture) -> str:
    url = "https://meet.google.com/err-orsa-bcd"
    c.call("GET", BOTS, client=c.anonymous, expect=401)
    c.call("GET", BOTS, client=c.anonymous, headers={"Authorization": "Token not-a-real-api-key-000000000"})
    c.call("GET", f"{BOTS}/bot_doesNotExist0000", expect=404)
    c.call("GET", f"{BOTS}/bot_doesNotExist0000/transcript", expect=404)
    c.call("DELETE", f"{BOTS}/bot_doesNotExist0000", expect=404)
    c.call("GET", f"{BOTS}/", expect=404)
    c.call(
        "POST", BOTS, {"meeting_url": "https://example.com/not-a-meeting", "bot_name": "Err Bot"}, expect=400
    )
    c.call(
        "POST", BOTS, {"meeting_url": url, "bot_name": "Err Bot", "join_at": iso(c.at(hours=-1))}, expect=400
    )
    c.call(
        "POST",
        BOTS,
        {"meeting_url": url, "bot_name": "Err Bot", "join_at": iso(c.at(hours=1)), "colour": "blue"},
        expect=400,
    )
    c.call("POST", BOTS, {"meeting_url": url}, expect=400)
    c.call("GET", BOTS, query={"states": "joining,ended"}, expect=400)
    c.call("GET", BOTS, query={"states": "bogus"}, expect=400)
    c.call("GET", "/api/v1/calendar_events", query={"ordering": "name"}, expect=400)
    c.call("GET", "/api/v1/calendar_events", query={"start_time_gte": "yesterday"}, expect=400)
    c.call("GET", BOTS, query={"join_at_after": "not-a-date"}, expect=400)
    c.call("GET", BOTS, query={"cursor": "not-a-valid-cursor"}, expect=404)
    key, key2 = "errors-dedup-b19459", "errors-dedup2-b19459"
    scheduled = c.call(
        "POST",
        BOTS,
        {"meeting_url": url, "bot_name": "Err Bot", "join_at": iso(c.at(hours=2)), "deduplication_key": key},
        expect=201,
    )["id"]
    c.call(
        "POST",
        BOTS,
        {"meeting_url": url, "bot_name": "Err Bot", "join_at": iso(c.at(hours=3)), "deduplication_key": key},
        expect=400,
    )
    adhoc = c.call(
        "POST", BOTS, {"meeting_url": url, "bot_name": "Err Bot", "deduplication_key": key2}, expect=201
    )
    c.call("POST", BOTS, {"meeting_url": url, "bot_name": "Err Bot", "deduplication_key": key2}, expect=400)
    c.drive(
        "bot_event", bot_id=adhoc["id"], event_type="could_not_join_meeting", note="the ad-hoc bot gives up"
    )
    c.call(
        "POST",
        BOTS,
        {
            "meeting_url": url,
            "bot_name": "Err Bot",
            "join_at": iso(c.at(hours=5, seconds=4)),
            "deduplication_key": key2,
        },
        expect=201,
    )
    c.call("POST", f"{BOTS}/{scheduled}/leave", expect=400)
    c.call("PATCH", f"{BOTS}/{scheduled}", {"join_at": iso(c.at(minutes=-5, seconds=4))}, expect=400)
    c.call("PATCH", f"{BOTS}/{scheduled}", {"colour": "blue"}, expect=200)
    joining = c.call("POST", BOTS, {"meeting_url": url, "bot_name": "Err Bot"}, expect=201)["id"]
    c.call("DELETE", f"{BOTS}/{joining}", expect=400)
    c.call("GET", f"{BOTS}/{joining}/participant_events", query={"cursor": "bad"}, expect=404)
    c.call("GET", f"{BOTS}/{joining}/participant_events", query={"after": "not-a-date"}, expect=400)
    c.call("GET", f"{BOTS}/{joining}/participants", query={"is_host": "maybe"}, expect=400)
    c.call("GET", f"{BOTS}/{joining}/transcript", query={"updated_after": "nope"}, expect=400)
    soon = c.call(
        "POST",
        BOTS,
        {"meeting_url": url, "bot_name": "Err Bot", "join_at": iso(c.at(minutes=4, seconds=4))},
        expect=201,
    )["id"]
    c.drive("stage_bot", bot_id=soon)
    c.call("PATCH", f"{BOTS}/{soon}", {"join_at": iso(c.at(minutes=30, seconds=7))}, expect=400)
    c.call("PATCH", f"{BOTS}/{soon}", {"metadata": {"team": "sales"}}, expect=200)
    c.call("DELETE", f"{BOTS}/{soon}", expect=400)
    calendar = {
        "platform": "google",
        "client_id": "dummy-client-id",
        "client_secret": "dummy-client-secret",
        "refresh_token": "dummy-refresh-token",
        "deduplication_key": "errors-cal-b19459",
    }
    c.call("POST", "/api/v1/calendars", calendar, expect=201)
    c.call("POST", "/api/v1/calendars", calendar, expect=400)
    c.call(
        "POST",
        "/api/v1/calendars",
        {"platform": "outlook", "client_id": "x", "client_secret": "y", "refresh_token": "z"},
        expect=400,
    )
    return intro(
        c,
        "Exchange 0: no Authorization header; exchange 1: 'Authorization: Token not-a-real-api-key-000000000'; "
        "all others use the project's key (headers are never recorded). 401s, 404 unknown bot and trailing "
        "slash, 400 validation (bad URL, join_at in the past, unknown field, missing bot_name), bad filters, "
        f"invalid cursors, deduplication conflicts (scheduled {scheduled}; ad-hoc {adhoc['id']}, whose key is "
        f"accepted again once it is fatal_error), leave/PATCH/DELETE state rules on a scheduled bot, a joining "
        f"bot ({joining}) and a staged one ({soon}, staged with stage_bot), calendar deduplication conflict "
        "and bad platform.",
    )


# ------------------------------------------------------------------------------ speech_events_off
#: The meeting of speech_events_off.json (seconds after the bot joined at T): who, when, what was said.
SPEECH_OFF_PEOPLE: list[dict[str, Any]] = [
    {
        "uuid": "so-maria",
        "name": "Maria Santos",
        "user_uuid": "u-maria",
        "is_host": True,
        "join": 2,
        "leave": 900,
        "speech": [
            (20, 12.0, "Good morning, let's review the launch checklist."),
            (120, 8.0, "Great. Any blockers on the rollout?"),
        ],
    },
    {
        "uuid": "so-kenji",
        "name": "Kenji Watanabe",
        "user_uuid": "u-kenji",
        "is_host": False,
        "join": 40,
        "leave": 880,
        "speech": [
            (60, 30.5, "The migration finished overnight and all checks are green."),
            (700, 20.0, "I will send the runbook after the call."),
        ],
    },
    {
        "uuid": "so-guest",
        "name": None,
        "user_uuid": None,
        "is_host": False,
        "join": 300,
        "leave": 600,
        "speech": [(320, 15.0, "Joining from the partner side, we are ready on our end.")],
    },
]


def play_meeting(
    c: Capture,
    bot: str,
    start: datetime,
    people: list[dict[str, Any]],
    chat: Sequence[tuple[int, str, str, bool]] = (),
) -> None:
    """Everything people do in the meeting, in the order it happens (as a live bot stores it): joins, leaves,
    speech start/stop (kept only if the bot records speech events), utterances (the platform's captions, at
    the end of each turn) and chat messages; times are seconds after ``start``."""
    t0 = ms(start)
    moments: list[tuple[float, int, str, dict[str, Any]]] = []  # (seconds, tie-break, command, args)
    for order, p in enumerate(people):
        who = {"uuid": p["uuid"], "name": p["name"], "user_uuid": p["user_uuid"], "is_host": p["is_host"]}
        for kind in ("join", "leave"):
            event = {"event_type": kind, "timestamp_ms": t0 + int(p[kind] * 1000), **who}
            moments.append((p[kind], order, "participant_event", event))
        for begin, seconds, text in p["speech"]:
            for kind, moment in (("speech_start", begin), ("speech_stop", begin + seconds)):
                event = {"event_type": kind, "timestamp_ms": t0 + int(moment * 1000), **who}
                moments.append((moment, order, "participant_event", event))
            line = {
                "speaker_uuid": p["uuid"],
                "speaker_name": p["name"],
                "speaker_user_uuid": p["user_uuid"],
                "is_host": p["is_host"],
                "text": text,
                "timestamp_ms": t0 + int(begin * 1000),
                "duration_ms": int(seconds * 1000),
            }
            moments.append((begin + seconds, order, "utterance", line))
    names = {p["uuid"]: p["name"] for p in people}
    for moment, sender, text, to_bot in chat:
        message = {
            "sender_uuid": sender,
            "sender_name": names[sender],
            "text": text,
            "to_bot": to_bot,
            "timestamp": int(start.timestamp()) + moment,
        }
        moments.append((moment, len(people), "chat_message", message))
    for _moment, _order, command, args in sorted(moments, key=lambda m: (m[0], m[1])):
        c.drive(command, bot_id=bot, **args)


def speech_events_off(c: Capture) -> str:
    # The join_requested event of an ad-hoc bot is dated when it is created, now, and a bot's events are
    # listed by date: so the meeting is dated ahead, T = now + 30 s, as the original's T-30 s join request.
    start = c.at(30)
    c.set_times(T=start, T_ms=ms(start))
    bots = []
    for url, settings in (
        ("https://meet.google.com/spk-offx-dfl", None),
        (
            "https://meet.google.com/spk-onxx-nrc",
            {"record_participant_speech_start_stop_events": True, "format": "none"},
        ),
    ):
        body: dict[str, Any] = {"meeting_url": url, "bot_name": "Bot"}
        if settings:
            body["recording_settings"] = settings
        bots.append(c.setup("POST", BOTS, body)["id"])
    for bot in bots:
        c.drive("bot_event", bot_id=bot, event_type="joined_meeting", at=iso(start))
        c.drive(
            "bot_event",
            bot_id=bot,
            event_type="recording_permission_granted",
            at=iso(start + timedelta(seconds=1)),
        )
        play_meeting(c, bot, start, SPEECH_OFF_PEOPLE)
        c.drive(
            "bot_event",
            bot_id=bot,
            event_type="leave_requested",
            sub_type="user_requested",
            at=iso(start + timedelta(seconds=905)),
        )
        c.drive("bot_event", bot_id=bot, event_type="left_meeting", at=iso(start + timedelta(seconds=906)))
        c.drive(
            "bot_event",
            bot_id=bot,
            event_type="post_processing_completed",
            at=iso(start + timedelta(seconds=960)),
        )
    for bot in bots:
        for tail in ("", "/participant_events", "/participants", "/transcript", "/recording"):
            c.call("GET", f"{BOTS}/{bot}{tail}")
    return intro(
        c,
        f"Two Google Meet bots in the same scripted meeting, T = {iso(start)} (joined_meeting; the bots were "
        f"created at T-30 s, so their later events are dated ahead of the recapture): {bots[0]} created "
        f"without recording_settings (the server's default: no speech start/stop events; the driver's "
        f"participant_event answers recorded: false for them, as a live bot's adapters skip them) and {bots[1]} "
        "with {record_participant_speech_start_stop_events: true, format: 'none'}. Participants (join/leave s "
        "after T): so-maria 'Maria Santos' host 2/900; so-kenji 'Kenji Watanabe' 40/880; so-guest name null "
        "300/600; utterances maria 20 (12 s), kenji 60 (30.5 s), maria 120 (8 s), guest 320 (15 s), kenji 700 "
        "(20 s). Every participant event is stored in the order it happens (the original seeded joins and "
        "leaves first, then speech events). GET /recording: 404 for both.",
    )


# ------------------------------------------------------------------------------------- null_names
NULL_NAMES_PEOPLE: list[dict[str, Any]] = [
    {
        "uuid": "nn-dana",
        "name": "Dana Lee",
        "user_uuid": "u-dana",
        "is_host": True,
        "join": 0,
        "leave": 600,
        "speech": [(10, 30.0, "Welcome everyone, can the guest hear us?")],
    },
    {
        "uuid": "nn-anon",
        "name": None,
        "user_uuid": None,
        "is_host": False,
        "join": 30,
        "leave": 300,
        "speech": [(60, 30.0, "Yes, joining from the lobby link as a guest.")],
    },
    {
        "uuid": "nn-blank",
        "name": "",
        "user_uuid": None,
        "is_host": False,
        "join": 200,
        "leave": 400,
        "speech": [],
    },
]
NULL_NAMES_CHAT = [
    (100, "nn-anon", "Could you share the deck?", False),
    (120, "nn-dana", "Sure - link coming.", False),
    (130, "nn-anon", "thanks (to the notetaker)", True),
]


def null_names(c: Capture) -> str:
    start = c.at(15)  # the bot's join_requested (now) is T-15 s, as in the original
    c.set_times(T=start, T_ms=ms(start))
    bot = c.setup(
        "POST",
        BOTS,
        {
            "meeting_url": "https://teams.microsoft.com/l/meetup-join/19%3ameeting_NULLNAME1%40thread.v2/0"
            "?context=%7b%22Tid%22%3a%22t-9%22%2c%22Oid%22%3a%22o-9%22%7d",
            "bot_name": "Notetaker",
            "metadata": {"seed": "null-names"},
            "recording_settings": {"record_participant_speech_start_stop_events": True},
        },
    )["id"]
    c.drive("bot_event", bot_id=bot, event_type="joined_meeting", at=iso(start))
    c.drive(
        "bot_event",
        bot_id=bot,
        event_type="recording_permission_granted",
        at=iso(start + timedelta(seconds=2)),
    )
    play_meeting(c, bot, start, NULL_NAMES_PEOPLE, NULL_NAMES_CHAT)
    c.drive("bot_event", bot_id=bot, event_type="meeting_ended", at=iso(start + timedelta(seconds=600)))
    c.drive(
        "bot_event",
        bot_id=bot,
        event_type="post_processing_completed",
        at=iso(start + timedelta(seconds=620)),
    )
    for tail in ("", "/participant_events", "/participants", "/transcript", "/chat_messages"):
        c.call("GET", f"{BOTS}/{bot}{tail}")
    return intro(
        c,
        f"An ended Teams bot {bot} (ad-hoc, speech events on) whose meeting has a participant without a display "
        f"name. T = {iso(start)} = {ms(start)} ms (joined_meeting; the bot was created at T-15 s, so its later "
        "events are dated ahead of the recapture); meeting_ended T+600. nn-dana 'Dana Lee' host u-dana (join 0, "
        "speech 10-40, leave 600); nn-anon name null, user_uuid null (join 30, speech 60-90, leave 300); "
        "nn-blank name '' (join 200, leave 400, silent); chat at T+100 (nn-anon), T+120 (nn-dana), T+130 "
        "(nn-anon, only_bot). Ground truth: present seconds {nn-dana: 600, nn-anon: 270, nn-blank: 200}; "
        "speaking seconds {nn-dana: 30, nn-anon: 30, nn-blank: 0}. Utterances are stored as a live bot's "
        "captions are ({transcript} only; the original's rows had words: null too).",
    )


# -------------------------------------------------------------------------------- calendar_changes
ATTENDEES = [
    {
        "email": "maya@example.com",
        "organizer": True,
        "displayName": "Maya Chen",
        "responseStatus": "accepted",
    },
    {"email": "tom@example.com", "displayName": "Tom Okafor", "responseStatus": "needsAction"},
]
TEAMS_D = (
    "https://teams.microsoft.com/l/meetup-join/19%3ameeting_CALCHGD%40thread.v2/0"
    "?context=%7b%22Tid%22%3a%22t-d%22%2c%22Oid%22%3a%22o-d%22%7d"
)


def google_event(
    uid: str,
    summary: str,
    start: datetime,
    minutes: int,
    created: datetime,
    *,
    meet: str | None = None,
    teams: str | None = None,
) -> dict[str, Any]:
    """An event as Google Calendar's events.list returns it."""
    event: dict[str, Any] = {
        "id": uid,
        "end": {"dateTime": iso(start + timedelta(minutes=minutes)), "timeZone": "UTC"},
        "kind": "calendar#event",
        "start": {"dateTime": iso(start), "timeZone": "UTC"},
        "status": "confirmed",
        "created": iso(created.replace(microsecond=0)),
        "iCalUID": f"{uid}@google.com",
        "summary": summary,
        "updated": iso(created),
        "sequence": 0,
        "attendees": copy.deepcopy(ATTENDEES),
        "organizer": {"self": True, "email": "maya@example.com"},
    }
    if meet:
        set_meet_link(event, meet)
    if teams:
        event["location"] = "Microsoft Teams Meeting"
        event["description"] = f"Microsoft Teams meeting\nJoin: {teams}\nMeeting ID: 123"
    return event


def set_meet_link(event: dict[str, Any], link: str) -> None:
    event["hangoutLink"] = link
    event["conferenceData"] = {
        "entryPoints": [{"uri": link, "label": link.removeprefix("https://"), "entryPointType": "video"}],
        "conferenceSolution": {"key": {"type": "hangoutsMeet"}, "name": "Google Meet"},
    }


def edited(event: dict[str, Any]) -> dict[str, Any]:
    """The event after an edit in Google: a new sequence and `updated`."""
    event = copy.deepcopy(event)
    event["sequence"] += 1
    event["updated"] = iso(datetime.now(timezone.utc))
    return event


def calendar_changes(c: Capture) -> str:
    tag = "d8d6ec"
    base = (c.start + timedelta(days=1)).replace(hour=19, minute=0, second=0, microsecond=0)
    c.set_times(base=base)
    calendar = c.drive(
        "create_calendar",
        project_id=c.project.project_id,
        platform="google",
        client_id="dummy-client-id.apps.googleusercontent.com",
        platform_uuid=None,
        deduplication_key=f"calchg-{tag}",
        metadata={"owner": "maya", "probe": "calendar_changes"},
    )["id"]
    now = datetime.now(timezone.utc)
    google = {
        "A": google_event(
            f"calchg{tag}a", "Pipeline review", base, 30, now, meet="https://meet.google.com/cal-chga-aaa"
        ),
        "B": google_event(
            f"calchg{tag}b",
            "Customer onboarding",
            base + timedelta(hours=1),
            45,
            now,
            meet="https://meet.google.com/cal-chgb-bbb",
        ),
        "C": google_event(
            f"calchg{tag}c",
            "Vendor call",
            base + timedelta(hours=2),
            30,
            now,
            meet="https://meet.google.com/cal-chgc-ccc",
        ),
        "D": google_event(
            f"calchg{tag}d",
            "Partner sync (Teams link in description)",
            base + timedelta(hours=3),
            60,
            now,
            teams=TEAMS_D,
        ),
    }

    def sync(note: str) -> Any:
        return c.drive(
            "sync_calendar",
            note=note,
            calendar_id=calendar,
            events=[google[k] for k in "ABCD" if k in google],
        )

    sync("the initial sync: the server's GoogleCalendarSyncHandler.sync_events() with Google's answers given")
    events = c.setup(
        "GET",
        "/api/v1/calendar_events",
        query={"calendar_id": calendar, "ordering": "start_time"},
        note="the event ids the sync made",
    )["results"]
    ids = dict(zip("ABCD", (e["id"] for e in events), strict=True))
    cal_path = f"/api/v1/calendars/{calendar}"
    listing = {"calendar_id": calendar, "ordering": "start_time"}
    c.call("GET", cal_path)
    c.call("GET", "/api/v1/calendar_events", query=listing)
    bots = {}
    for k in "ABCD":
        bots[k] = c.call(
            "POST",
            BOTS,
            {
                "calendar_event_id": ids[k],
                "bot_name": "Calendar Notetaker",
                "deduplication_key": f"calchg-{tag}-{k}",
                "metadata": {"calendar_event": k},
            },
            expect=201,
        )["id"]
    c.call("GET", "/api/v1/calendar_events", query=listing)

    def step(note: str, extra: str | None) -> None:
        query_time = iso(datetime.now(timezone.utc))
        time.sleep(0.01)
        sync(note)
        c.call(
            "GET", "/api/v1/calendar_events", query={"calendar_id": calendar, "updated_at_gte": query_time}
        )
        for k in "ABCD":
            c.call("GET", f"{BOTS}/{bots[k]}")
        if extra:
            c.call("GET", BOTS, query={"deduplication_key": f"calchg-{tag}-{extra}"})

    a = edited(google["A"])
    a["start"]["dateTime"] = iso(base + timedelta(hours=2))
    a["end"]["dateTime"] = iso(base + timedelta(hours=2, minutes=30))
    google["A"] = a
    step("(a) A moved 2 h later in Google", "A")
    b = edited(google["B"])
    set_meet_link(b, "https://meet.google.com/cal-newb-bbb")
    google["B"] = b
    step("(b) B's Meet link changed", None)
    cancelled = edited(google["C"])
    cancelled["status"] = "cancelled"
    google["C"] = cancelled
    step("(c) C cancelled: Google lists it with status 'cancelled'", "C")
    del google["D"]
    step("(d) D deleted outright: gone from the listing, and 404 when looked up by id", None)
    c.call("GET", "/api/v1/calendar_events", query=listing)
    c.call("GET", cal_path)
    return intro(
        c,
        f"Calendar {calendar} (google, deduplication_key calchg-{tag}, driver create_calendar) synced by the "
        f"server's own GoogleCalendarSyncHandler (driver sync_calendar, Google's answers in its args): 4 events "
        f"from {iso(base)} + 0/1/2/3 h: A {ids['A']} 'Pipeline review' Meet cal-chga-aaa; B {ids['B']} "
        f"'Customer onboarding' Meet cal-chgb-bbb; C {ids['C']} 'Vendor call' Meet cal-chgc-ccc; D {ids['D']} "
        f"Teams link (percent-encoded) in the description. Bots bound with calendar_event_id: A {bots['A']}, B "
        f"{bots['B']}, C {bots['C']}, D {bots['D']}. Steps, each followed by GET /calendar_events?calendar_id&"
        "updated_at_gte=<just before the step> and GET /bots/{id} for the 4 bots: (a) A moved 2 h later (bot A's "
        "join_at follows; GET /bots?deduplication_key=...-A); (b) B's link changed (bot B's meeting_url "
        "follows); (c) C cancelled (is_deleted, bot C deleted: 404; ?deduplication_key=...-C empty); (d) D "
        "gone from Google (is_deleted, bot D deleted).",
    )


# ------------------------------------------------------------------------------- url_normalisation
def url_normalisation(c: Capture) -> str:
    join_at = iso((c.start + timedelta(days=2)).replace(hour=19, minute=0, second=0, microsecond=0))
    c.set_times(join_at=join_at)
    teams = (
        "https://teams.microsoft.com/l/meetup-join/19%3ameeting_ABC123%40thread.v2/0"
        "?context=%7b%22Tid%22%3a%22t-1%22%2c%22Oid%22%3a%22o-1%22%7d"
    )
    cases = [
        (
            "meet_query",
            "https://meet.google.com/nrm-quer-yst?authuser=0&hs=122",
            "https://meet.google.com/nrm-quer-yst",
        ),
        ("meet_upper_code", "https://meet.google.com/NRM-Case-UPP", "https://meet.google.com/nrm-case-upp"),
        ("teams_percent_encoded", teams, None),
    ]
    made = []
    for case, raw, other in cases:
        for kind in ("adhoc", "scheduled"):
            body: dict[str, Any] = {"meeting_url": raw, "bot_name": "URL Probe"}
            if kind == "scheduled":
                body["join_at"] = join_at
            body["metadata"] = {"probe": "url-normalisation", "case": case, "kind": kind}
            made.append(c.call("POST", BOTS, body, expect=201))
        stored = made[-1]["meeting_url"]
        c.call("GET", BOTS, query={"meeting_url": raw})
        if case == "teams_percent_encoded":
            c.call("GET", BOTS, query={"meeting_url": stored})
        else:
            c.call("GET", BOTS, query={"meeting_url": other})
    c.call(
        "POST",
        BOTS,
        {"meeting_url": "https://MEET.GOOGLE.COM/nrm-host-upp", "bot_name": "URL Probe"},
        expect=400,
    )
    c.call(
        "POST",
        BOTS,
        {"meeting_url": "https://zoom.us/j/98765432100?pwd=abcDEF123", "bot_name": "URL Probe"},
        expect=400,
    )
    c.call(
        "POST",
        BOTS,
        {
            "meeting_url": "https://us02web.zoom.us/j/98765432100?pwd=abcDEF123&uname=x",
            "bot_name": "URL Probe",
            "join_at": join_at,
        },
        expect=400,
    )
    return intro(
        c,
        "Meeting-URL normalisation on POST /api/v1/bots and the exact-match GET /api/v1/bots?meeting_url= "
        f"filter (a project without Zoom credentials): for each raw URL an ad-hoc and a scheduled bot (join_at "
        f"{join_at}): Meet with a query string (stored without it), Meet with an upper-case code (stored as sent; "
        "the lower-cased form matches nothing), Teams percent-encoded (stored decoded); then an upper-case Meet "
        "host (400 Invalid meeting URL) and two Zoom URLs (400: Zoom App credentials required). Bots: "
        + ", ".join(b["id"] for b in made)
        + ".",
    )


SCENARIOS: dict[str, Callable[[Capture], str]] = {
    "lifecycle.json": lifecycle,
    "errors.json": errors,
    "speech_events_off.json": speech_events_off,
    "null_names.json": null_names,
    "calendar_changes.json": calendar_changes,
    "url_normalisation.json": url_normalisation,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("names", nargs="*", help="recording files (default: every reproducible one)")
    args = parser.parse_args(argv)
    names = args.names or sorted(SCENARIOS)
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        for name in unknown:
            reason = NOT_REPRODUCIBLE.get(name, "no such recording")
            print(f"{name}: not recaptured: {reason}", file=sys.stderr)
        return 2
    for name in sorted({p.name for p in ORIGINALS.glob("*.json")} - set(SCENARIOS)):
        print(f"{name}: not recaptured: {NOT_REPRODUCIBLE.get(name, 'no scenario yet')}")
    try:
        server = bring_up()
        driver = server.driver()
    except ServerUnavailable as reason:
        print(f"no real Attendee server here: {reason}", file=sys.stderr)
        return 3
    try:
        for name in names:
            capture = Capture(name, server, driver)
            description = SCENARIOS[name](capture)
            path = capture.write(description)
            original = json.loads((ORIGINALS / name).read_text(encoding="utf-8"))
            print(
                f"{name}: {len(capture.exchanges)} exchanges ({len(original['exchanges'])} in the original), "
                f"{len(capture.seed_steps)} seed steps -> {path.relative_to(ROOT)}"
            )
    finally:
        driver.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
