"""Scripted meetings played on the real Attendee server through its driver, and the figures they must give.

A script says who joined and left and who said what, in seconds after the bot joined; ``play`` moves a bot
through a whole meeting with the server's own code (bot events, participant events, utterances), back-dated
so the meeting already happened: ``T0`` (the bot's join) is ``minutes_ago`` minutes before now. The expected
report figures follow from the script alone (``expected_presence``, ``expected_speaking``), so a test that
compares them with the provider's report checks the provider against ground truth, not against itself.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from tests.system.server import Driver


@dataclass(frozen=True)
class Speech:
    at: int  # seconds after the bot joined
    seconds: int
    text: str


@dataclass(frozen=True)
class Person:
    name: str
    uuid: str
    join: int
    leave: int
    speech: tuple[Speech, ...] = ()
    is_host: bool = False


@dataclass(frozen=True)
class MeetingScript:
    people: tuple[Person, ...]
    #: when the bot is asked to leave (seconds after it joined); it has left a second later
    ends: int
    transcribed: bool = True  # utterances as the platform's captions; False: captions never came

    @property
    def expected_presence(self) -> dict[str, float]:
        return {p.name: float(p.leave - p.join) for p in self.people}

    @property
    def expected_speaking(self) -> dict[str, float]:
        return {p.name: float(sum(s.seconds for s in p.speech)) for p in self.people}

    @property
    def utterances(self) -> int:
        return sum(len(p.speech) for p in self.people) if self.transcribed else 0


#: A weekly sync: three people talk, one guest stays silent, everybody leaves before the bot.
WEEKLY_SYNC = MeetingScript(
    people=(
        Person(
            "Maya Chen",
            "u-maya",
            0,
            600,
            (Speech(10, 30, "Morning everyone, let's start."), Speech(200, 45, "The launch moves a week.")),
            is_host=True,
        ),
        Person(
            "Tom Okafor", "u-tom", 20, 580, (Speech(60, 20, "Tickets are down."), Speech(300, 25, "Agreed."))
        ),
        Person("Priya Raman", "u-priya", 40, 400, (Speech(120, 15, "I will send the notes."),)),
        Person("Guest", "u-guest", 100, 200),
    ),
    ends=610,
)

#: People came and went, nobody said a word: the transcript never starts.
SILENT = MeetingScript(
    people=(Person("Ana Ruiz", "u-ana", 5, 300), Person("Ben Cole", "u-ben", 30, 240)),
    ends=320,
    transcribed=False,
)

#: Nobody came.
EMPTY = MeetingScript(people=(), ends=300, transcribed=False)


@dataclass
class Played:
    bot_id: str
    t0: datetime
    events: list[dict[str, Any]] = field(default_factory=list)


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def t0(minutes_ago: float = 30) -> datetime:
    """A whole second ``minutes_ago`` minutes before now (UTC)."""
    return datetime.fromtimestamp(int(time.time() - minutes_ago * 60), tz=timezone.utc)


def join(driver: Driver, bot_id: str, start: datetime) -> None:
    """The bot gets in and records, at ``start``."""
    driver.call("bot_event", bot_id=bot_id, event_type="joined_meeting", at=_iso(start))
    driver.call("bot_event", bot_id=bot_id, event_type="recording_permission_granted", at=_iso(start))


def attend(
    driver: Driver, bot_id: str, script: MeetingScript, start: datetime, *, joins: bool = True
) -> None:
    """The people's joins (``joins``) or leaves, and, with the joins, everything they say."""
    ms = int(start.timestamp() * 1000)
    for person in script.people:
        moment = person.join if joins else person.leave
        driver.call(
            "participant_event",
            bot_id=bot_id,
            uuid=person.uuid,
            name=person.name,
            is_host=person.is_host,
            event_type="join" if joins else "leave",
            timestamp_ms=ms + moment * 1000,
        )
        if not joins:
            continue
        for speech in person.speech:
            for kind, offset in (("speech_start", speech.at), ("speech_stop", speech.at + speech.seconds)):
                driver.call(
                    "participant_event",
                    bot_id=bot_id,
                    uuid=person.uuid,
                    name=person.name,
                    event_type=kind,
                    timestamp_ms=ms + offset * 1000,
                )
            if script.transcribed:
                driver.call(
                    "utterance",
                    bot_id=bot_id,
                    speaker_uuid=person.uuid,
                    speaker_name=person.name,
                    is_host=person.is_host,
                    text=speech.text,
                    timestamp_ms=ms + speech.at * 1000,
                    duration_ms=speech.seconds * 1000,
                )


def finish(
    driver: Driver, bot_id: str, script: MeetingScript, start: datetime, *, asked: bool = True
) -> None:
    """The bot leaves (asked to, unless the DAG already asked) and its post-processing completes."""
    end = start + timedelta(seconds=script.ends)
    if asked:
        driver.call(
            "bot_event", bot_id=bot_id, event_type="leave_requested", sub_type="user_requested", at=_iso(end)
        )
    driver.call("bot_event", bot_id=bot_id, event_type="left_meeting", at=_iso(end + timedelta(seconds=1)))
    driver.call(
        "bot_event",
        bot_id=bot_id,
        event_type="post_processing_completed",
        at=_iso(end + timedelta(seconds=5)),
    )


def play(driver: Driver, bot_id: str, script: MeetingScript, minutes_ago: float = 30) -> Played:
    """A whole meeting, already over: joined ``minutes_ago`` minutes ago, ``ended`` now."""
    start = t0(minutes_ago)
    join(driver, bot_id, start)
    attend(driver, bot_id, script, start, joins=True)
    attend(driver, bot_id, script, start, joins=False)
    finish(driver, bot_id, script, start)
    return Played(bot_id, start)


def fail_to_join(driver: Driver, bot_id: str) -> None:
    """Left in the waiting room until the bot gave up: fatal_error, waiting_room_timeout_exceeded."""
    driver.call("bot_event", bot_id=bot_id, event_type="put_in_waiting_room")
    driver.call(
        "bot_event",
        bot_id=bot_id,
        event_type="could_not_join_meeting",
        sub_type="waiting_room_timeout_exceeded",
    )
