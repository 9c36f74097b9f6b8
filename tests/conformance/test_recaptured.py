"""The recordings recaptured from the real Attendee server (tests/fixtures/recaptured, ``make
recapture-recordings``, scripts/recapture_recordings.py): each original recording's scenario played again on
today's server, in a fresh project, with the seed steps done by the driver as machine-readable actions.

(a) Every recaptured file is there (or the script says why the recording cannot be made again) and every
answer in it parses with the client's models. (b) Each recaptured exchange agrees with the original
recording: status, keys, JSON types, nullability, list order and length, error bodies word for word, and the
values that do not depend on the run (states, event types, URLs, names...), ids and times aside: a drift of
the real server shows up here, and the differences already known are listed with their reasons in
``KNOWN_DRIFT``. (c) The simulator, set up as the recapture's seed steps say, answers the recaptured requests
as the recaptured server did (the machinery of test_simulator_matches_recordings.py, values compared too),
with its deliberate differences in ``SIMULATOR_DIFFERENCES``.
"""

from __future__ import annotations

import importlib.util
import json
import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conformance.recordings import (
    ID,
    Exchange,
    Recording,
    Replayer,
    _json_type,
    all_names,
    is_deliberate,
    load,
)
from tests.conformance.test_recorded_responses import model_for
from tests.conformance.test_simulator_matches_recordings import EVENT_LEADS_TO, Setup, assert_same, at

pytestmark = pytest.mark.contract_exempt  # the recordings send bad requests on purpose

ROOT = Path(__file__).resolve().parents[2]
RECAPTURED = ROOT / "tests" / "fixtures" / "recaptured"
SCRIPT = ROOT / "scripts" / "recapture_recordings.py"
PREFIX = "recaptured/"  # names of recaptured recordings in differences (apart from the originals')

#: What the recapture's server answers differently from the original recording, and why. Keys are
#: ("<file>#<exchange index>", JSON path) or ("<file>#*", JSON path); a list path ending in ":order" or
#: ":length" stands for the order or length of that list.
KNOWN_DRIFT: dict[tuple[str, str], str] = {
    ("lifecycle.json#10", "$.recording_state"): "the original attached a fake recording file before "
    "left_meeting; the driver attaches none, so at post_processing_completed the server's "
    "RecordingManager.terminate_recording marks the recording `failed` (a file was intended, none came) "
    "where the original had `complete`",
    ("lifecycle.json#11", "$.results[<id>].recording_state"): "as lifecycle.json#10",
    **{
        (name, "$.recording_state"): "seeded through the ORM with the Recording set `complete`; a bot that "
        "ends without a recording file (no object storage, and a format other than 'none') is `failed` "
        "(RecordingManager.terminate_recording); format 'none' is `complete` on both"
        for name in ("null_names.json#0", "speech_events_off.json#0")
    },
    **{
        ("null_names.json#3", f"$[{i}].transcription"): "seeded through the ORM with `words: null`; a live "
        'closed-caption utterance (the driver\'s, as bot_controller.py stores it) is `{"transcript": ...}` only'
        for i in (0, 1)
    },
    ("speech_events_off.json#6", "$.results:order"): "the original was seeded through the ORM, all joins "
    "and leaves first, then the speech events; the recapture stores each event as it happens, as a live bot",
}

#: Where the simulator answers the recaptured requests differently on purpose, and why. Keys: ("*", key)
#: for a key anywhere, or ("<file>#<index>", JSON path) with ids written <id>.
SIMULATOR_DIFFERENCES: dict[tuple[str, str], str] = {
    ("*", "raw"): "a calendar event's `raw` is the calendar provider's own JSON; the simulator serves a "
    "placeholder",
    ("*", "platform_uuid"): "a calendar event's id in Google (the simulator's scenario names its own)",
    ("*", "ical_uid"): "as platform_uuid",
    ("*", "client_id"): "the calendar's OAuth client id, set up by the driver (the simulator's is its own)",
    (
        "calendar_changes.json#29",
        "$.results:order",
    ): "ordering=start_time with a tie (A moved onto C's start): "
    "the real server orders by start_time alone, so PostgreSQL returns tied rows in its plan's order (the "
    "later-updated C first, in the original and in the recapture); the simulator breaks ties by creation. "
    "No client may rely on the order of ties",
}

#: Keys whose values belong to the run (times), never compared as values.
RUN_KEYS = {
    "created_at",
    "updated_at",
    "join_at",
    "start_time",
    "end_time",
    "timestamp_ms",
    "timestamp",
    "last_successful_sync_at",
    "last_attempted_sync_at",
    "dateTime",
    "created",
    "updated",
    "next",
    "previous",
}


def _script() -> Any:
    spec = importlib.util.spec_from_file_location("recapture_recordings", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


SCRIPT_MODULE = _script()
NAMES = sorted(SCRIPT_MODULE.SCENARIOS)


def load_recaptured(name: str) -> Recording:
    data = json.loads((RECAPTURED / name).read_text(encoding="utf-8"))
    exchanges = [Exchange(index=i, **e) for i, e in enumerate(data["exchanges"])]
    return Recording(PREFIX + name, data["description"], data["seed_steps"], exchanges)


def start_of(recording: Recording) -> dict[str, Any]:
    """The run's clock and the times its scenario made up (the ``start`` seed step's result)."""
    first = recording.seed_steps[0]
    assert first["action"]["kind"] == "start", first
    return dict(first["result"])


def is_time(value: Any) -> bool:
    if not isinstance(value, str) or not re.match(r"^\d{4}-\d\d-\d\dT", value):
        return False
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


# ----------------------------------------------------------------------------------------- (a)
def test_every_recording_is_recaptured_or_explained():
    assert {p.name for p in RECAPTURED.glob("*.json")} == set(NAMES)
    assert set(NAMES) | set(SCRIPT_MODULE.NOT_REPRODUCIBLE) == set(all_names())
    assert not set(NAMES) & set(SCRIPT_MODULE.NOT_REPRODUCIBLE)
    assert {"lifecycle.json", "errors.json", "speech_events_off.json", "null_names.json"} <= set(NAMES)


def recaptured_answers() -> list[tuple[str, Exchange]]:
    return [
        (f"{name}#{e.index} {e.method} {e.path}", e)
        for name in NAMES
        for e in load_recaptured(name).responses()
    ]


@pytest.mark.parametrize(
    ("where", "exchange"), recaptured_answers(), ids=[w for w, _ in recaptured_answers()]
)
def test_every_recaptured_answer_parses(where, exchange):
    model = model_for(exchange.path)
    body = exchange.response_body
    items = body["results"] if isinstance(body, dict) and "results" in body else body
    items = items if isinstance(items, list) else [items]
    for item in items:  # every field the server sent is kept, none invented
        parsed = model.model_validate(item)
        assert set(parsed.model_dump(exclude_unset=True)) == set(item), where


@pytest.mark.parametrize("name", NAMES)
def test_recaptured_file_format(name):
    """The recordings' format; seed actions machine-readable; links as the server gave them; no key."""
    text = (RECAPTURED / name).read_text(encoding="utf-8")
    data = json.loads(text)
    assert set(data) == {"description", "seed_steps", "exchanges"}
    assert not re.search(r"Token [A-Za-z0-9]{20,}", text)  # no key (the fake one of errors.json has dashes)
    assert not re.search(r'"(api_key|webhook_secret|Authorization|headers)":', text)
    for step in data["seed_steps"]:
        assert set(step) == {"before_exchange", "action", "result"}
        assert 0 <= step["before_exchange"] <= len(data["exchanges"])
        action = step["action"]
        assert action["kind"] in {"start", "driver", "request"}, action
        if action["kind"] == "driver":
            assert isinstance(action["command"], str) and isinstance(action["args"], dict)
    for exchange in data["exchanges"]:
        assert set(exchange) == {"method", "path", "query", "request_body", "status", "response_body"}
        body = exchange["response_body"]
        if isinstance(body, dict) and "results" in body:
            for link in (body["next"], body["previous"]):
                assert link is None or link.startswith("http"), link


# ----------------------------------------------------------------------------------------- (b)
def occurrence_keys(items: list[Any]) -> dict[tuple[Any, ...], dict[str, Any]]:
    """What identifies a listed item across two runs whose ids and times differ: the n-th event of that
    kind of that participant, the n-th message of that sender, a participant's uuid, an event's Google id."""
    keys: dict[tuple[Any, ...], dict[str, Any]] = {}
    seen: dict[tuple[Any, ...], int] = {}
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("id"), str):
            continue
        kind = item["id"].split("_", 1)[0]
        if kind == "pe":
            base: tuple[Any, ...] = (kind, item["participant_uuid"], item["event_type"])
        elif kind == "par":
            base = (kind, item["uuid"])
        elif kind == "msg":
            base = (kind, item["sender_uuid"])
        elif kind == "evt":
            base = (kind, item["platform_uuid"])
        elif kind == "bot":
            base = (kind, item["meeting_url"], json.dumps(item["metadata"], sort_keys=True))
        else:
            continue
        seen[base] = seen.get(base, 0) + 1
        keys[(*base, seen[base])] = item
    return keys


class ValueReplayer(Replayer):
    """The replayer's comparison, and the values too where they do not belong to the run (ids, times)."""

    def exempt(self, where: str, path: str) -> bool:
        return False

    def compare(self, where: str, recorded: Any, simulated: Any, path: str) -> None:
        if is_deliberate(where, path) or self.exempt(where, path):
            return
        super().compare(where, recorded, simulated, path)
        if isinstance(recorded, dict | list) or _json_type(recorded) != _json_type(simulated):
            return
        key = re.sub(r"^.*\.", "", re.sub(r"\[[^\]]*\]$", "", path))
        if key in RUN_KEYS or (is_time(recorded) and is_time(simulated)):
            return
        expected = self.swap_ids(recorded)
        if isinstance(expected, str):
            for pattern, replacement in self.message_rewrites:
                expected = pattern.sub(replacement, expected)
                simulated = pattern.sub(replacement, simulated)
        if expected != simulated:
            self.differences.append(f"{where} {path}: {simulated!r:.100}, real server {expected!r:.100}")

    def compare_list(self, where: str, recorded: list[Any], simulated: list[Any], path: str) -> None:
        by_id = recorded and all(isinstance(item, dict) and "id" in item for item in recorded)
        if by_id and len(recorded) != len(simulated) and not self.exempt(where, f"{path}:length"):
            self.differences.append(f"{where} {path}: {len(simulated)} items, real server {len(recorded)}")
        before = len(self.differences)
        super().compare_list(where, recorded, simulated, path)
        if self.exempt(where, f"{path}:order"):  # the base class knows only the originals' exemptions
            order = f"{where} {path}: order "
            self.differences[before:] = [d for d in self.differences[before:] if not d.startswith(order)]


class Drift(ValueReplayer):
    """Compares the recapture (as "simulated") with the original recording (as "recorded")."""

    def exempt(self, where: str, path: str) -> bool:
        name, index = where.removeprefix(PREFIX).split(" ", 1)[0].split("#")
        path = ID.sub("<id>", path)
        return (f"{name}#{index}", path) in KNOWN_DRIFT or (f"{name}#*", path) in KNOWN_DRIFT

    def learn_ids(self, recorded: Any, simulated: Any) -> None:
        if isinstance(recorded, list) and isinstance(simulated, list):
            twins = occurrence_keys(simulated)
            for key, item in occurrence_keys(recorded).items():
                if key in twins:
                    self.learn(item["id"], twins[key]["id"])
            for a, b in zip(recorded, simulated, strict=False):  # nested objects (an event's bots)
                if isinstance(a, dict) and isinstance(b, dict):
                    for k, v in a.items():
                        if isinstance(v, list):
                            self.learn_ids(v, b.get(k))
            return
        super().learn_ids(recorded, simulated)

    def pair_requests(self, original: Exchange, recaptured: Exchange) -> None:
        """The ids a request names (path, query, body), in the order they appear."""
        ours = ID.findall(json.dumps([original.path, original.query, original.request_body]))
        theirs = ID.findall(json.dumps([recaptured.path, recaptured.query, recaptured.request_body]))
        if len(ours) == len(theirs):
            for a, b in zip(ours, theirs, strict=True):
                self.learn(a, b)

    def check(self, original: Recording, recaptured: Recording) -> None:
        name = recaptured.name
        if len(original.exchanges) != len(recaptured.exchanges):
            self.differences.append(
                f"{name}: {len(recaptured.exchanges)} exchanges, original {len(original.exchanges)}"
            )
        for old, new in zip(original.exchanges, recaptured.exchanges, strict=False):
            where = f"{name}#{old.index} {old.method} {old.path}"
            self.pair_requests(old, new)
            if (old.method, self.swap_ids(old.path)) != (new.method, new.path):
                self.differences.append(f"{where}: request {new.method} {new.path}, not the original's")
                continue
            request = {k: v for k, v in self.swap_ids(old.query).items() if not is_time(v)}
            if request != {k: v for k, v in new.query.items() if not is_time(v)}:
                self.differences.append(f"{where}: query {new.query}, original {old.query}")
            self.compare(f"{where} request", old.request_body, new.request_body, "$")
            if old.status != new.status:
                self.differences.append(
                    f"{where}: status {new.status} {new.response_body!r:.300}, original {old.status} "
                    f"{old.response_body!r:.300}"
                )
                continue
            self.learn_ids(old.response_body, new.response_body)
            self.exchanges_compared += 1
            if old.status >= 400:
                self.compare_error(where, old.response_body, new.response_body)
            else:
                self.compare(where, old.response_body, new.response_body, "$")


def drift(name: str, original: Recording | None = None) -> Drift:
    checker = Drift(httpx.Client())
    checker.client.close()
    checker.check(original or load(name), load_recaptured(name))
    return checker


@pytest.mark.parametrize("name", NAMES)
def test_recapture_agrees_with_the_original(name):
    checker = drift(name)
    assert not checker.differences, (
        f"Today's real server answers {name} differently from the original recording (if the server "
        "changed on purpose, list the difference in KNOWN_DRIFT with the reason):\n"
        + "\n".join(checker.differences)
    )
    assert checker.exchanges_compared == len(load(name).exchanges)


def test_every_known_drift_is_seen():
    """Each listed difference is still there: when the server (or the script) stops differing, the entry goes."""
    for (where, path), _reason in KNOWN_DRIFT.items():
        name, index = where.split("#")
        original = load(name)
        if index != "*":  # the exchange really differs at that path once the exemption is lifted
            saved = dict(KNOWN_DRIFT)
            KNOWN_DRIFT.pop((where, path))
            try:
                differences = drift(name, original).differences
            finally:
                KNOWN_DRIFT.clear()
                KNOWN_DRIFT.update(saved)
            seen = [ID.sub("<id>", d) for d in differences if d.startswith(f"{PREFIX}{where} ")]
            assert any(path.split(":")[0] in d for d in seen), (
                where,
                path,
                differences,
            )


def test_the_drift_check_sees_a_difference():
    """A recapture altered in each compared aspect is caught."""
    original = load("lifecycle.json")
    recaptured = load_recaptured("lifecycle.json")
    recaptured.exchanges[1].response_body["state"] = "staged"  # a value
    recaptured.exchanges[2].response_body["events"].append({"type": "staged", "created_at": "x"})  # length
    recaptured.exchanges[3].response_body["join_at"] = None  # nullability
    recaptured.exchanges[20].response_body = {"error": "Bot gone"}  # error text
    recaptured.exchanges[21].status = 400  # status
    checker = Drift(httpx.Client())
    checker.check(original, recaptured)
    assert [d.split(" ")[0] for d in checker.differences] == [
        f"{PREFIX}lifecycle.json#1",
        f"{PREFIX}lifecycle.json#2",
        f"{PREFIX}lifecycle.json#3",
        f"{PREFIX}lifecycle.json#20",
        f"{PREFIX}lifecycle.json#21",
    ], checker.differences


# ----------------------------------------------------------------------------------------- (c)
class SimReplayer(ValueReplayer):
    def exempt(self, where: str, path: str) -> bool:
        key = re.sub(r"^.*\.", "", path)
        exchange = where.removeprefix(PREFIX).split(" ", 1)[0]
        return ("*", key) in SIMULATOR_DIFFERENCES or (
            exchange,
            ID.sub("<id>", path),
        ) in SIMULATOR_DIFFERENCES


class RecapturedSetup(Setup):
    """A recaptured recording's world on the simulator: its clock starts at the recapture's ``start``."""

    def __init__(self, sim: Any, name: str, origin: datetime | None = None, **reset: Any) -> None:
        recording = load_recaptured(name)
        self.start = start_of(recording)
        super().__init__(sim, recording, (origin or at(self.start["now"])).isoformat(), **reset)
        self.replayer = SimReplayer(self.client)

    def seed_step(self, step: dict[str, Any]) -> bool:
        """A bot-creating request or a bot event of the recapture, repeated; False when it is neither."""
        action = step["action"]
        if action["kind"] == "start":
            return True
        if action["kind"] == "request" and (action["method"], action["path"]) == ("POST", "/api/v1/bots"):
            self.create_bot(step["result"]["body"]["id"], **action["body"])
            return True
        if action["kind"] == "driver" and action["command"] in ("bot_event", "stage_bot"):
            args = action["args"]
            event = "staged" if action["command"] == "stage_bot" else args["event_type"]
            bot_id = self.replayer.ids[args["bot_id"]]
            # The simulator's scheduler may have got there already (a bot due within 5 minutes is staged).
            if self.client.get(f"/api/v1/bots/{bot_id}").json()["state"] != EVENT_LEADS_TO[event]:
                self.sim.admin.fire_event(bot_id, event, args.get("sub_type"))
            return True
        return False

    def run_steps(self, **kwargs: Any) -> list[str]:
        def seed(step: dict[str, Any]) -> None:
            assert self.seed_step(step), f"no simulator set-up for {step['action']}"

        return self.run(kwargs.pop("seed", seed), **kwargs)


def test_simulator_lifecycle(attendee_simulator):
    # No recording file reaches the recapture's server (the driver attaches none).
    setup = RecapturedSetup(attendee_simulator, "lifecycle.json", recording_storage=False)
    assert_same(setup.run_steps())


def test_simulator_errors(attendee_simulator):
    setup = RecapturedSetup(attendee_simulator, "errors.json")

    def headers_for(exchange: Exchange) -> dict[str, str] | None:
        if exchange.index == 0:  # no Authorization header, then an unknown key (the recording says)
            return {"Authorization": ""}
        if exchange.index == 1:
            return {"Authorization": "Token not-a-real-api-key-000000000"}
        return None

    assert_same(setup.run_steps(headers_for=headers_for))


def test_simulator_url_normalisation(attendee_simulator):
    setup = RecapturedSetup(attendee_simulator, "url_normalisation.json", zoom_credentials=False)
    assert_same(setup.run_steps())


def meeting_from_steps(recording: Recording, bot_id: str, t_ms: int) -> dict[str, Any]:
    """The simulator's meeting for what the recapture's driver steps made happen to ``bot_id``: people
    (presence, speech from the utterances) and chat, in seconds after T (the bot's joined_meeting)."""
    people: dict[str, dict[str, Any]] = {}
    chat: list[dict[str, Any]] = []
    for step in recording.seed_steps:
        action = step["action"]
        args = action.get("args", {})
        if action["kind"] != "driver" or args.get("bot_id") != bot_id:
            continue
        if action["command"] == "participant_event":
            person = people.setdefault(
                args["uuid"],
                {
                    "name": args["name"],
                    "uuid": args["uuid"],
                    "user_uuid": args["user_uuid"],
                    "is_host": args["is_host"],
                    "presence": [],
                    "speech": [],
                },
            )
            moment = (args["timestamp_ms"] - t_ms) / 1000
            if args["event_type"] == "join":
                person["presence"].append({"join": moment})
            elif args["event_type"] == "leave":
                person["presence"][-1]["leave"] = moment
        elif action["command"] == "utterance":
            people[args["speaker_uuid"]]["speech"].append(
                {
                    "at": (args["timestamp_ms"] - t_ms) / 1000,
                    "duration": args["duration_ms"] / 1000,
                    "text": args["text"],
                }
            )
        elif action["command"] == "chat_message":
            chat.append(
                {
                    "at": args["timestamp"] - t_ms / 1000,
                    "sender": args["sender_uuid"],
                    "text": args["text"],
                    "to": "only_bot" if args["to_bot"] else "everyone",
                }
            )
        else:
            assert action["command"] == "bot_event", action
    return {"participants": list(people.values()), "chat": chat}


def bots_made(recording: Recording) -> list[tuple[str, dict[str, Any]]]:
    """The bots the recapture's set-up requests made: (id, request body)."""
    return [
        (step["result"]["body"]["id"], step["action"]["body"])
        for step in recording.seed_steps
        if step["action"]["kind"] == "request" and step["action"]["path"] == "/api/v1/bots"
    ]


def test_simulator_null_names(attendee_simulator):
    setup = RecapturedSetup(attendee_simulator, "null_names.json", recording_storage=False)
    t = at(setup.start["T"])
    ((bot, body),) = bots_made(setup.recording)
    meeting = meeting_from_steps(setup.recording, bot, setup.start["T_ms"])
    join_delay = (t - at(setup.start["now"])).total_seconds()
    setup.sim.admin.add_scenario(
        {
            "meetings": [
                {
                    "meeting_url": setup.recording.exchanges[0].response_body["meeting_url"],
                    "join_delay_seconds": join_delay,
                    "ends_after_seconds": 601,
                    **meeting,
                }
            ]
        }
    )

    def seed(step: dict[str, Any]) -> None:
        if step["action"]["kind"] == "request":
            setup.create_bot(bot, **body)
            setup.advance_to(t + timedelta(seconds=700))

    assert_same(setup.run(seed))


def test_simulator_speech_events_off(attendee_simulator):
    setup = RecapturedSetup(attendee_simulator, "speech_events_off.json", recording_storage=False)
    t = at(setup.start["T"])
    bots = bots_made(setup.recording)
    join_delay = (t - at(setup.start["now"])).total_seconds()
    meetings = [
        {
            "meeting_url": body["meeting_url"],
            "join_delay_seconds": join_delay,
            **meeting_from_steps(setup.recording, bot, setup.start["T_ms"]),
        }
        for bot, body in bots
    ]
    setup.sim.admin.add_scenario({"meetings": meetings})
    created: list[str] = []

    def seed(step: dict[str, Any]) -> None:
        if step["action"]["kind"] != "request":
            return
        bot, body = bots[len(created)]
        created.append(setup.create_bot(bot, **body))
        if len(created) == len(bots):
            setup.advance_to(t + timedelta(seconds=905))
            for bot_id in created:  # the recapture's leave_requested (user_requested) at T+905
                assert setup.client.post(f"/api/v1/bots/{bot_id}/leave").status_code == 200
            setup.advance_to(t + timedelta(seconds=1000))

    assert_same(setup.run(seed))


def google_changes(before: dict[str, dict[str, Any]], after: dict[str, dict[str, Any]]) -> list[tuple]:
    """What changed between two of Google's listings given to the server's sync, as simulator edits."""
    changes: list[tuple[Any, ...]] = []
    for uid, old in before.items():
        new = after.get(uid)
        if new is None or new["status"] == "cancelled":
            changes.append(("cancel", uid))
        elif new["start"] != old["start"] or new["end"] != old["end"]:
            changes.append(("reschedule", uid, at(new["start"]["dateTime"]), at(new["end"]["dateTime"])))
        elif new.get("hangoutLink") != old.get("hangoutLink"):
            changes.append(("link", uid, new["hangoutLink"]))
    return changes


def test_simulator_calendar_changes(attendee_simulator):
    setup = RecapturedSetup(attendee_simulator, "calendar_changes.json")
    steps = setup.recording.seed_steps
    (calendar_step,) = [s for s in steps if s["action"].get("command") == "create_calendar"]
    syncs = [s for s in steps if s["action"].get("command") == "sync_calendar"]
    (listing,) = [s["result"]["body"]["results"] for s in steps if s["action"]["kind"] == "request"]
    by_google_id = {e["platform_uuid"]: e for e in listing}
    origin = at(setup.start["now"])
    previous: dict[str, dict[str, Any]] = {}

    def seed(step: dict[str, Any]) -> None:
        action = step["action"]
        if action.get("command") != "sync_calendar":
            return
        listed = {e["id"]: e for e in action["args"]["events"]}
        if step is syncs[0]:
            args = calendar_step["action"]["args"]
            specs = [
                {
                    "id": e["id"],
                    "name": e["name"],
                    "meeting_url": e["meeting_url"],
                    "start_in_minutes": (at(e["start_time"]) - origin).total_seconds() / 60,
                    "duration_minutes": (at(e["end_time"]) - at(e["start_time"])).total_seconds() / 60,
                    "attendees": e["attendees"],
                }
                for e in listing
            ]
            setup.sim.admin.add_calendar(
                id=calendar_step["result"]["id"],
                deduplication_key=args["deduplication_key"],
                metadata=args["metadata"],
                events=specs,
            )
            for event in listing:  # the same ids on both: compared as such
                setup.replayer.learn(event["id"], event["id"])
        else:
            # The recapture took the updated_at_gte of the next exchange just before this sync.
            query_time = at(setup.recording.exchanges[step["before_exchange"]].query["updated_at_gte"])
            setup.advance_to(query_time + timedelta(milliseconds=5))
            for change in google_changes(previous, listed):
                event_id = by_google_id[change[1]]["id"]
                if change[0] == "cancel":
                    setup.sim.admin.cancel_event(event_id)
                elif change[0] == "reschedule":
                    now = at(setup.sim.admin.now())
                    setup.sim.admin.reschedule_event(
                        event_id,
                        (change[2] - now).total_seconds() / 60,
                        (change[3] - change[2]).total_seconds() / 60,
                    )
                else:
                    setup.sim.admin.change_event(event_id, meeting_url=change[2])
        previous.clear()
        previous.update(listed)

    assert_same(setup.run(seed))


def test_the_simulator_check_sees_a_difference(attendee_simulator):
    """The value comparison of (c) can fail: a recapture altered in a value is caught."""
    setup = RecapturedSetup(attendee_simulator, "lifecycle.json", recording_storage=False)
    setup.recording.exchanges[10].response_body["state"] = "post_processing"
    differences = setup.run_steps()
    assert [d.split(" ")[0] for d in differences] == [f"{PREFIX}lifecycle.json#10"], differences
