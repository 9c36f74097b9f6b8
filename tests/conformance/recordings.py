"""Recorded exchanges with a real Attendee server (tests/fixtures/attendee/recordings), and a replayer.

The replayer sends a recording's requests to the simulator, in order, with the recorded ids swapped for
the simulator's (learned from the responses as they come), and compares each answer with the real
server's: status, keys, JSON types, nullability, list order, and error bodies word for word.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

RECORDINGS = Path(__file__).resolve().parents[1] / "fixtures" / "attendee" / "recordings"
ID = re.compile(r"\b(?:bot|evt|cal|pe|par|msg)_[A-Za-z0-9]{16}\b")

#: Where the simulator deliberately answers differently, and why. Keys are ("<file>#<exchange index>",
#: JSON path) or ("*", JSON path); each difference found must be listed here to be accepted.
DELIBERATE: dict[tuple[str, Any], str] = {}


def is_deliberate(where: str, path: str) -> bool:
    """Whether the value at ``path`` of the exchange ``where`` ("<file>#<index> <method> <path>") is listed."""
    return ("*", path) in DELIBERATE or (where.split(" ", 1)[0], path) in DELIBERATE


@dataclass
class Exchange:
    index: int
    method: str
    path: str
    query: dict[str, Any]
    request_body: Any
    status: int
    response_body: Any


@dataclass
class Recording:
    name: str
    description: str
    seed_steps: list[dict[str, Any]]
    exchanges: list[Exchange]

    def seeds_before(self, index: int) -> list[dict[str, Any]]:
        return [step for step in self.seed_steps if step["before_exchange"] == index]

    def responses(self) -> Iterator[Exchange]:
        return (e for e in self.exchanges if e.status < 300 and e.response_body is not None)


def load(name: str) -> Recording:
    data = json.loads((RECORDINGS / name).read_text(encoding="utf-8"))
    exchanges = [Exchange(index=i, **e) for i, e in enumerate(data["exchanges"])]
    return Recording(name, data["description"], data["seed_steps"], exchanges)


def all_names() -> list[str]:
    return sorted(p.name for p in RECORDINGS.glob("*.json"))


def natural_key(item: Any) -> tuple[Any, ...] | None:
    """What identifies a listed item across servers whose ids differ (None: known by its id only)."""
    if not isinstance(item, dict) or not isinstance(item.get("id"), str):
        return None
    kind = item["id"].split("_", 1)[0]
    if kind == "pe":
        return (kind, item["participant_uuid"], item["event_type"], item["timestamp_ms"])
    if kind == "par":
        return (kind, item["uuid"])
    if kind == "msg":
        return (kind, item["sender_uuid"], item["timestamp_ms"])
    return None


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    return type(value).__name__


@dataclass
class Replayer:
    """Sends a recording's requests to the simulator and collects every difference from the real answers."""

    client: httpx.Client
    ids: dict[str, str] = field(default_factory=dict)
    differences: list[str] = field(default_factory=list)
    #: Exchanges whose answers were compared, and the JSON values compared in them.
    exchanges_compared: int = 0
    values_compared: int = 0
    #: Text that legitimately differs between the two servers inside error messages (host, project id).
    message_rewrites: list[tuple[re.Pattern[str], str]] = field(
        default_factory=lambda: [
            (re.compile(r"https?://[^/\s]+/projects/proj_\w+/"), "<site>/projects/<project>/")
        ]
    )

    def swap_ids(self, value: Any) -> Any:
        """The recorded value with every known recorded id replaced by the simulator's."""
        if isinstance(value, str):
            return ID.sub(lambda m: self.ids.get(m.group(0), m.group(0)), value)
        if isinstance(value, list):
            return [self.swap_ids(v) for v in value]
        if isinstance(value, dict):
            return {k: self.swap_ids(v) for k, v in value.items()}
        return value

    def send(self, exchange: Exchange, headers: dict[str, str] | None = None) -> httpx.Response:
        query = [(k, self.swap_ids(v)) for k, v in exchange.query.items()]
        body = self.swap_ids(exchange.request_body)
        return self.client.request(
            exchange.method,
            self.swap_ids(exchange.path),
            params=query,
            json=body if body is not None else None,
            headers=headers,
        )

    def replay(
        self,
        recording: Recording,
        seed: Callable[[dict[str, Any]], None],
        headers_for: Callable[[Exchange], dict[str, str] | None] = lambda e: None,
    ) -> None:
        for exchange in recording.exchanges:
            for step in recording.seeds_before(exchange.index):
                seed(step)
            response = self.send(exchange, headers_for(exchange))
            where = f"{recording.name}#{exchange.index} {exchange.method} {exchange.path}"
            body = response.json() if response.content else None
            if response.status_code != exchange.status:
                self.differences.append(
                    f"{where}: status {response.status_code} {body!r:.300}, real server {exchange.status} "
                    f"{exchange.response_body!r:.300}"
                )
                continue
            self.learn_ids(exchange.response_body, body)
            self.exchanges_compared += 1
            if exchange.status >= 400:
                self.compare_error(where, exchange.response_body, body)
            else:
                self.compare(where, exchange.response_body, body, "$")

    def learn(self, recorded_id: str, simulated_id: str) -> None:
        if recorded_id not in self.ids and simulated_id not in self.ids.values():
            self.ids[recorded_id] = simulated_id

    def learn_ids(self, recorded: Any, simulated: Any) -> None:
        """Pair recorded ids with the simulator's: an object's own id, and list items by what they are
        about (never by position: a real server's list may hold items seeded outside the recording)."""
        if isinstance(recorded, dict) and isinstance(simulated, dict):
            for key, value in recorded.items():
                other = simulated.get(key)
                if key == "id" and isinstance(value, str) and isinstance(other, str) and ID.fullmatch(value):
                    self.learn(value, other)
                elif isinstance(value, dict | list):
                    self.learn_ids(value, other)
        elif isinstance(recorded, list) and isinstance(simulated, list):
            by_key = {natural_key(item): item for item in simulated if natural_key(item) is not None}
            for item in recorded:
                twin = by_key.get(natural_key(item))
                if twin is not None:
                    self.learn(item["id"], twin["id"])

    def compare_error(self, where: str, recorded: Any, simulated: Any) -> None:
        expected = self.swap_ids(recorded)
        for pattern, replacement in self.message_rewrites:
            expected = json.loads(pattern.sub(replacement, json.dumps(expected)))
            simulated = json.loads(pattern.sub(replacement, json.dumps(simulated)))
        if expected != simulated:
            self.differences.append(f"{where}: error body {simulated!r}, real server {expected!r}")

    def compare(self, where: str, recorded: Any, simulated: Any, path: str) -> None:
        """Same keys, JSON types and nullability; lists: the recorded items the simulator also has, in the
        same order (items seeded outside the recording, e.g. other bots on that server, are skipped)."""
        if is_deliberate(where, path):
            return
        self.values_compared += 1
        kind, other = _json_type(recorded), _json_type(simulated)
        if kind != other:
            self.differences.append(
                f"{where} {path}: {other} {simulated!r:.80}, real server {kind} {recorded!r:.80}"
            )
            return
        if isinstance(recorded, dict):
            if set(recorded) != set(simulated):
                self.differences.append(
                    f"{where} {path}: keys {sorted(simulated)}, real server {sorted(recorded)}"
                )
            for key in recorded.keys() & simulated.keys():
                self.compare(where, recorded[key], simulated[key], f"{path}.{key}")
        elif isinstance(recorded, list):
            self.compare_list(where, recorded, simulated, path)

    def compare_list(self, where: str, recorded: list[Any], simulated: list[Any], path: str) -> None:
        by_id = {item.get("id"): item for item in simulated if isinstance(item, dict)}
        if recorded and all(isinstance(item, dict) and "id" in item for item in recorded):
            mapped = [(item, self.ids.get(item["id"])) for item in recorded]
            known = [(item, sim_id) for item, sim_id in mapped if sim_id in by_id]
            expected_order = [sim_id for _, sim_id in known]
            actual_order = [item["id"] for item in simulated if item.get("id") in set(expected_order)]
            if expected_order != actual_order and not is_deliberate(where, f"{path}:order"):
                self.differences.append(f"{where} {path}: order {actual_order}, real server {expected_order}")
            unpaired = [item["id"] for item, sim_id in mapped if sim_id is None and natural_key(item)]
            if unpaired:
                self.differences.append(f"{where} {path}: no simulator counterpart for {unpaired}")
            missing = [item["id"] for item, sim_id in mapped if sim_id is not None and sim_id not in by_id]
            if missing:
                self.differences.append(f"{where} {path}: missing {missing} (known to the simulator)")
            for item, sim_id in known:
                self.compare(where, item, by_id[sim_id], f"{path}[{item['id']}]")
            return
        if len(recorded) != len(simulated):
            self.differences.append(f"{where} {path}: {len(simulated)} items, real server {len(recorded)}")
        for i, (a, b) in enumerate(zip(recorded, simulated, strict=False)):
            self.compare(where, a, b, f"{path}[{i}]")
