"""A seeded calendar that changes over simulated days, and an independent reference for what the calendar
sync must leave behind. Airflow-free: it changes and reads the simulator's world only; the harness that
runs the sync against it is ``airflow_provider_attendee.testing.calendar_model``.

Each step changes the calendar at random (create far ahead or soon, reschedule into / within / out of the
window or sooner than the lead time, cancel, change the link, add or remove attendees, rename to a
skipped name). ``check`` tests the invariants against the simulator's own state, with eligibility written
here, not taken from the operator's planning code.
"""

from __future__ import annotations

import random
import re
from datetime import datetime, timedelta
from typing import Any

from airflow_provider_attendee.testing.simulator.core import AttendeeSimulator
from airflow_provider_attendee.testing.simulator.scenario import EventSpec

LOOKAHEAD = timedelta(hours=24)
LEAD = timedelta(minutes=1)
MIN_ATTENDEES = 2
SKIP = r"\blunch\b"
ZOOM_WITHOUT_CREDENTIALS = "https://zoom.us/j/{n}?pwd=abc"


def eligible(event: Any, now: datetime) -> bool:
    """The reference rule: not cancelled, a link, 2+ attendees, not a lunch, starting in the window."""
    return (
        not event.is_deleted
        and bool(event.meeting_url)
        and len(event.attendees) >= MIN_ATTENDEES
        and re.search(SKIP, event.name or "", re.IGNORECASE) is None
        and now + LEAD <= event.start_time < now + LOOKAHEAD
    )


class CalendarChurn:
    """One seeded calendar on the simulator, kept at ``events`` upcoming events, changed at random."""

    def __init__(self, simulator: AttendeeSimulator, seed: int, *, events: int = 60) -> None:
        self.world = simulator.world
        self.rng = random.Random(seed)
        self.target_events = events
        #: Events created and changes made so far.
        self.events_created = 0
        self.changes = 0
        self.world.zoom_credentials = False  # Zoom events are refused permanently (400), as on a real project
        self.calendar = self.world.add_calendar(
            platform="google", client_id="model", deduplication_key=f"model-{seed}", metadata=None
        )
        self.counter = 0
        for _ in range(events):
            self.create_event()
        for hours in (2, 30):  # two Zoom meetings the server will refuse, one now and one entering later
            self.world.add_calendar_event(
                self.calendar,
                EventSpec(
                    name=f"Zoom call in {hours} h",
                    meeting_url=ZOOM_WITHOUT_CREDENTIALS.format(n=9000000000 + hours),
                    start_in_minutes=hours * 60,
                    attendees=[{"email": f"z{i}@example.com"} for i in range(3)],
                ),
            )

    def now(self) -> datetime:
        return self.world.sync()

    def live_events(self) -> list[Any]:
        now = self.now()
        return [
            e
            for e in self.world.calendar_events.values()
            if e.calendar is self.calendar and not e.is_deleted and e.start_time > now
        ]

    def create_event(self) -> None:
        self.counter += 1
        n = self.counter
        url = (
            ZOOM_WITHOUT_CREDENTIALS.format(n=8000000000 + n)
            if self.rng.random() < 0.05
            else f"https://meet.google.com/{self._code(n)}?authuser=0"
        )
        spec = EventSpec(
            name=self.rng.choice(["Sync", "Review", "1:1", "Team lunch", "Planning"]) + f" {n}",
            meeting_url=url if self.rng.random() > 0.05 else None,
            start_in_minutes=self.rng.uniform(2, 72 * 60),
            duration_minutes=30,
            attendees=[{"email": f"p{i}@example.com"} for i in range(self.rng.randint(1, 4))],
        )
        self.world.add_calendar_event(self.calendar, spec)
        self.events_created += 1

    @staticmethod
    def _code(n: int) -> str:
        letters = "abcdefghijklmnopqrstuvwxyz"
        digits = f"{n:010d}"
        code = "".join(letters[int(d) + (i % 3) * 7] for i, d in enumerate(digits))
        return f"{code[:3]}-{code[3:7]}-{code[7:10]}"

    def change_something(self) -> None:
        events = self.live_events()
        if not events:
            return
        event = self.rng.choice(events)
        now = self.now()
        kind = self.rng.choice(
            [
                "reschedule_in",
                "reschedule_within",
                "reschedule_out",
                "too_soon",
                "cancel",
                "link",
                "attendees",
                "rename",
            ]
        )
        self.changes += 1
        if kind.startswith("reschedule") or kind == "too_soon":
            minutes = {
                "reschedule_in": self.rng.uniform(5, 23 * 60),
                "reschedule_within": self.rng.uniform(5, 23 * 60),
                "reschedule_out": self.rng.uniform(25 * 60, 96 * 60),
                "too_soon": self.rng.uniform(0.1, 0.9),
            }[kind]
            start = now + timedelta(minutes=minutes)
            self.world.reschedule_calendar_event(event.id, start, start + timedelta(minutes=30))
        elif kind == "cancel":
            self.world.cancel_calendar_event(event.id)
        elif kind == "link":
            self.counter += 1
            self.world.change_calendar_event(
                event.id, meeting_url=f"https://meet.google.com/{self._code(self.counter)}?hs=1"
            )
        elif kind == "attendees":
            count = self.rng.randint(1, 4)
            self.world.change_calendar_event(
                event.id, attendees=[{"email": f"q{i}@example.com"} for i in range(count)]
            )
        else:
            name = event.name or ""
            self.world.change_calendar_event(
                event.id, name=f"Lunch {name}" if "unch" not in name else f"Sync {name}"
            )

    def step(self, changes_per_step: float) -> None:
        """One step's changes (``changes_per_step`` on average), then new events up to the target count."""
        for _ in range(int(changes_per_step) + (self.rng.random() < changes_per_step % 1)):
            self.change_something()
        while len(self.live_events()) < self.target_events:
            self.create_event()

    def check(self, rejected_seen: set[str]) -> list[str]:
        """Invariants after a successful run: every eligible event in the window has exactly one live bot
        that serves it (joins at the event's current start), except Zoom events, refused by the server,
        which have none and are among ``rejected_seen`` (reported); no event has two bots that would join
        it."""
        now = self.now()
        problems = []
        for event in self.world.calendar_events.values():
            if event.calendar is not self.calendar:
                continue
            serving = [
                b
                for b in (self.world.bots.get(i) for i in event.bot_ids)
                if b is not None
                and b.state not in ("ended", "fatal_error", "data_deleted")
                and b.join_at == event.start_time  # it will join at the event's (current) start
            ]
            if len(serving) > 1:
                problems.append(f"{now} {event.id} double-booked: {[b.id for b in serving]}")
            if not eligible(event, now):
                continue
            if "zoom.us" in (event.meeting_url or ""):
                if serving or event.id not in rejected_seen:
                    problems.append(f"{now} {event.id} (Zoom) should be rejected and reported")
            elif len(serving) != 1:
                problems.append(
                    f"{now} {event.id} '{event.name}' at {event.start_time} has {len(serving)} bots"
                )
        return problems
