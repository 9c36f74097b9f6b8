"""SimulatorAdmin: a small client of the simulator's ``/_sim/`` admin surface (works in and out of process)."""

from __future__ import annotations

from typing import Any

import httpx


class SimulatorAdmin:
    """Drive a running simulator: clock, scenarios, calendars, faults, counters, ground truth."""

    def __init__(self, url: str, timeout: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self._client = httpx.Client(base_url=self.url + "/_sim", timeout=timeout)

    def close(self) -> None:
        self._client.close()

    def _call(self, method: str, path: str, payload: Any = None) -> Any:
        response = self._client.request(method, path, json=payload)
        if response.is_error:  # the simulator's answer says what was wrong: keep it in the error
            raise RuntimeError(
                f"Simulator admin {method} {path}: HTTP {response.status_code} {response.text}"
            )
        return response.json()

    def health(self) -> dict[str, Any]:
        return dict(self._call("GET", "/health"))

    def now(self) -> str:
        return str(self._call("GET", "/clock")["now"])

    def advance(self, seconds: float = 0.0, *, minutes: float = 0.0) -> str:
        """Step the simulated clock forward and run everything that became due."""
        return str(self._call("POST", "/clock", {"advance_seconds": seconds + 60 * minutes})["now"])

    def set_time_scale(self, time_scale: float) -> None:
        self._call("POST", "/clock", {"time_scale": time_scale})

    def set_seconds_per_request(self, seconds: float) -> None:
        """Step the clock ``seconds`` on each API request (0: off): meetings move with the polls."""
        self._call("POST", "/clock", {"seconds_per_request": seconds})

    def counters(self) -> dict[str, Any]:
        return dict(self._call("GET", "/counters"))

    def reset_counters(self) -> None:
        self._call("DELETE", "/counters")

    def requests(self, route: str) -> int:
        """How many requests a route got, e.g. ``requests("POST /api/v1/bots")``."""
        return int(self.counters()["requests"].get(route, 0))

    def reset(
        self,
        scenario: str | dict[str, Any] | None = None,
        *,
        time_scale: float = 0.0,
        seed: int = 0,
        page_size: int | None = None,
        faults: dict[str, Any] | None = None,
        zoom_credentials: bool = True,
        recording_storage: bool = True,
        origin: str | None = None,
    ) -> None:
        """Start over: no bots, no calendars, a fresh clock, ``scenario`` loaded (a bundled name or a dict).

        ``zoom_credentials=False`` makes the project one without Zoom App credentials: every Zoom bot is
        then refused with the real server's 400. ``recording_storage=False`` makes a server without
        recording storage: ``GET /recording`` is 404 "No recording file found for bot" for every bot.
        """
        payload: dict[str, Any] = {
            "scenario": scenario,
            "time_scale": time_scale,
            "seed": seed,
            "faults": faults,
            "zoom_credentials": zoom_credentials,
            "recording_storage": recording_storage,
            "origin": origin,
        }
        if page_size is not None:
            payload["page_size"] = page_size
        self._call("POST", "/reset", payload)

    def add_scenario(self, scenario: dict[str, Any]) -> None:
        self._call("POST", "/scenario", scenario)

    def set_faults(self, **config: Any) -> dict[str, Any]:
        """Set fault injection, e.g. ``set_faults(default={"rate_5xx": 0.2}, seed=3)``; no args clears it."""
        return dict(self._call("PUT", "/faults", config))

    def add_calendar(self, **spec: Any) -> tuple[str, list[str]]:
        """Create a calendar (and its ``events``); returns the calendar id and the event ids."""
        data = self._call("POST", "/calendars", spec)
        return str(data["calendar"]["id"]), list(data["event_ids"])

    def add_event(self, calendar_id: str, **spec: Any) -> dict[str, Any]:
        return dict(self._call("POST", f"/calendars/{calendar_id}/events", spec))

    def cancel_event(self, event_id: str, *, sync_bots: bool = True) -> dict[str, Any]:
        """Cancel an event as the calendar sync does (its scheduled bots are deleted); ``sync_bots=False``
        only flags it, as an edit outside the sync does."""
        return dict(self._call("POST", f"/calendar_events/{event_id}/cancel", {"sync_bots": sync_bots}))

    def no_recording(self, bot_id: str) -> dict[str, Any]:
        """Make the bot one without a default recording (null transcription and recording states)."""
        return dict(self._call("POST", f"/bots/{bot_id}/no_recording"))

    def reschedule_event(
        self, event_id: str, start_in_minutes: float, duration_minutes: float = 30
    ) -> dict[str, Any]:
        payload = {"start_in_minutes": start_in_minutes, "duration_minutes": duration_minutes}
        return dict(self._call("POST", f"/calendar_events/{event_id}/reschedule", payload))

    def change_event(self, event_id: str, **changes: Any) -> dict[str, Any]:
        """Edit an event in the calendar (``name``, ``meeting_url``, ``attendees``) as a calendar sync would:
        ``updated_at`` moves, and its still-scheduled bots follow a new link."""
        return dict(self._call("PATCH", f"/calendar_events/{event_id}", changes))

    def fire_event(self, bot_id: str, event_type: str, sub_type: str | None = None) -> dict[str, Any]:
        """Apply one bot event now (e.g. ``joined_meeting``), to set a bot up in a given state."""
        return dict(self._call("POST", f"/bots/{bot_id}/events", {"type": event_type, "sub_type": sub_type}))

    def set_webhooks(self, subscriptions: list[dict[str, Any]], secret: str) -> None:
        """Project-level webhooks, e.g. ``[{"url": "http://127.0.0.1:8080/attendee/webhooks", "triggers":
        ["bot.state_change"]}]``, signed with ``secret`` (base64). The simulated world then moves on its own
        (no polling needed) and every state change is delivered as the real server does."""
        self._call("PUT", "/webhooks", {"subscriptions": subscriptions, "secret": secret})

    def webhook_deliveries(self) -> list[dict[str, Any]]:
        """Every webhook sent so far: url, idempotency_key, trigger, bot_id, attempts (statuses), delivered."""
        return list(self._call("GET", "/webhooks")["deliveries"])

    def bots(self) -> list[dict[str, Any]]:
        """Every live bot with ground truth (present participants), oldest first."""
        return list(self._call("GET", "/bots")["bots"])

    def deleted_bot_ids(self) -> list[str]:
        return list(self._call("GET", "/bots")["deleted_bot_ids"])

    def fail_bot(self, bot_id: str, sub_type: str = "process_terminated") -> dict[str, Any]:
        return dict(self._call("POST", f"/bots/{bot_id}/fail", {"sub_type": sub_type}))
