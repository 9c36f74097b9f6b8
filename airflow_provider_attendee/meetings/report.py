"""Attendance and speaking report from participant events (and the transcript): pure Python, no Airflow.

Events may arrive out of timestamp order (the server returns them in storage order): a reorder buffer,
sorted in batches and flushed up to ``reorder_window_ms`` behind the newest event, puts them back in order, so memory is bounded by
the participants and the window, never by the number of events. The messy real cases are handled:
a leave without a join (present since the meeting started), a join without a leave and a speech_start
without a stop (closed at the meeting's end or the participant's leave), repeated joins, two people with
the same display name (keyed by participant uuid), and events outside the meeting (clamped).

Speaking time comes from one source per meeting (:data:`SPEAKING_SOURCES`): the speech_start/speech_stop
events when the bot recorded any (the platform's voice activity), otherwise the transcript's utterances
(``speaker_uuid``, ``timestamp_ms``, ``duration_ms``), which a real bot records by default while speech
events are off by default (:data:`SPEECH_EVENTS_SETTING`). The report says which one it used.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Protocol

from airflow_provider_attendee.client.names import display_name
from airflow_provider_attendee.meetings.presence import ParticipantEventLike

DEFAULT_REORDER_WINDOW_MS = 5 * 60 * 1000
MAX_TIMELINE_POINTS = 2000
MAX_INTERVALS_PER_PERSON = 5000
FLUSH_BATCH = 8192
#: At the same millisecond: join first, then a speech stop before a new start, leave last.
KIND_ORDER = {"join": 0, "speech_stop": 1, "speech_start": 2, "leave": 3}
SPEECH_KINDS = frozenset({"speech_start", "speech_stop"})
#: The bot setting (inside ``recording_settings``) that makes a real bot record speech events.
SPEECH_EVENTS_SETTING = "recording_settings.record_participant_speech_start_stop_events"
#: Where speaking time came from: speech events, the transcript, or neither (unknown, shown as 0).
SPEAKING_SOURCES = ("speech_events", "transcript", "none")
TRANSCRIPT_NOTE = (
    "Speaking time, turns and talk share come from the transcript's utterances: the bot recorded no speech "
    f"events. Bots created with {SPEECH_EVENTS_SETTING}: true (the provider's operators set it by default) "
    "record them."
)
NO_SPEECH_NOTE = (
    "No speech events and no transcript: speaking time is unknown (shown as 0). Create bots with "
    f"{SPEECH_EVENTS_SETTING}: true, or with transcription (by default Deepgram for Zoom, which needs the "
    "project's Deepgram credentials; the platform's captions for Google Meet and Teams)."
)

NOTHING_TRANSCRIBED_NOTE = (
    "Nothing was transcribed: the bot finished with its transcription never started (a silent meeting, or "
    "nobody attended), so the transcript is empty."
)


class UtteranceLike(Protocol):
    """A transcript utterance as the report reads it (duck-typed like the API model)."""

    speaker_uuid: str
    speaker_name: str | None
    speaker_is_host: bool
    timestamp_ms: int
    duration_ms: int


def _iso(ms: int | None) -> str | None:
    if ms is None:
        return None
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).isoformat().replace("+00:00", "Z")


@dataclass
class _Person:
    uuid: str
    name: str
    is_host: bool
    first_join_ms: int | None = None
    last_leave_ms: int | None = None
    present_since: int | None = None
    present_ms: int = 0
    joins: int = 0
    speaking_since: int | None = None
    speaking_ms: int = 0
    turns: int = 0


@dataclass
class ParticipantStats:
    uuid: str
    name: str
    is_host: bool
    first_join: str | None
    last_leave: str | None
    present_seconds: float
    speaking_seconds: float
    talk_share: float
    speaking_turns: int
    joins: int


@dataclass
class MeetingReport:
    start: str | None
    end: str | None
    duration_seconds: float
    participants: list[ParticipantStats]
    peak_concurrent: int
    peak_at: str | None
    total_speaking_seconds: float
    #: (ISO time, people present) at every change, downsampled to at most MAX_TIMELINE_POINTS
    timeline: list[tuple[str, int]]
    events_processed: int
    anomalies: dict[str, int] = field(default_factory=dict)
    #: speech_events, transcript or none (see :data:`SPEAKING_SOURCES`)
    speaking_source: str = "speech_events"
    #: sentences for people: where a figure came from and how to get a better one
    notes: list[str] = field(default_factory=list)

    def headline(self) -> dict[str, Any]:
        """The few numbers worth an XCom: duration, attendance, peak, top speaker, speaking source."""
        top = max(self.participants, key=lambda p: p.speaking_seconds, default=None)
        return {
            "duration_seconds": self.duration_seconds,
            "participants": len(self.participants),
            "peak_concurrent": self.peak_concurrent,
            "total_speaking_seconds": self.total_speaking_seconds,
            "top_speaker": top.name if top and top.speaking_seconds else None,
            "speaking_source": self.speaking_source,
        }


class ReportBuilder:
    """Feed participant events in any order with :meth:`add` (and the transcript with
    :meth:`add_utterances`), then call :meth:`finish`.

    :param meeting_start_ms: when the bot joined (epoch ms); default: the first event.
    :param meeting_end_ms: when the bot left or the meeting ended; default: the last event.
    """

    def __init__(
        self,
        meeting_start_ms: int | None = None,
        meeting_end_ms: int | None = None,
        reorder_window_ms: int = DEFAULT_REORDER_WINDOW_MS,
        keep_intervals: bool = False,
        flush_batch: int = FLUSH_BATCH,
    ) -> None:
        self.start_ms = meeting_start_ms
        #: per participant uuid, the (start_ms, end_ms) of presence and speech, for charts (opt-in)
        self.intervals: dict[str, dict[str, list[tuple[int, int]]]] | None = {} if keep_intervals else None
        self.end_ms = meeting_end_ms
        self.window = reorder_window_ms
        self._buffer: list[tuple[int, int, str, str, str, str, bool]] = []  # (ts, rank, uuid, id, kind, ...)
        self._batch = max(1, flush_batch)
        self._flush_at = self._batch
        self._newest = 0
        self._clock: int | None = None  # timestamp of the last processed event
        self._people: dict[str, _Person] = {}
        self._present = 0
        self._peak = 0
        self._peak_at: int | None = None
        self._timeline: list[tuple[int, int]] = []
        self._processed = 0
        self._last_ms: int | None = None
        self._speech_events = 0
        #: (start_ms, end_ms, uuid, name, is_host) per utterance; used only without speech events
        self._utterances: list[tuple[int, int, str, str, bool]] = []
        self._nothing_transcribed = False
        self.anomalies: dict[str, int] = {}

    @property
    def has_speech_events(self) -> bool:
        """Whether any speech_start/speech_stop was added (then the transcript is not needed)."""
        return self._speech_events > 0

    def _note(self, kind: str) -> None:
        self.anomalies[kind] = self.anomalies.get(kind, 0) + 1

    def add(self, event: ParticipantEventLike) -> None:
        self.add_raw(
            event.timestamp_ms,
            event.id,
            event.event_type,
            event.participant_uuid,
            display_name(event.participant_name, event.participant_uuid),
            event.participant_is_host,
        )

    def add_raw(self, ts: int, event_id: str, kind: str, uuid: str, name: str, is_host: bool) -> None:
        """Add one event given as plain values (the fast path for large streams)."""
        # Same-time events are ordered by kind, then participant and id: the result never depends on
        # the order in which the server returned them.
        if kind in SPEECH_KINDS:
            self._speech_events += 1
        self._buffer.append((ts, KIND_ORDER.get(kind, 4), uuid, event_id, kind, name, is_host))
        if ts > self._newest:
            self._newest = ts
        if len(self._buffer) >= self._flush_at:
            self._flush(self._newest - self.window)

    def _flush(self, horizon: int | None) -> None:
        """Process, in order, the buffered events older than ``horizon`` (all of them when None).

        Sorting a mostly-ordered batch is far cheaper than a heap operation per event; the events
        within the reorder window stay buffered for later ones to slot in between.
        """
        buffer = self._buffer
        buffer.sort()
        cut = len(buffer) if horizon is None else bisect.bisect_right(buffer, (horizon, 99))
        process = self._process
        for item in buffer[:cut]:
            process(item)
        self._buffer = buffer[cut:]
        # Keep flushes rare but the buffer bounded: the window's events plus one batch.
        self._flush_at = max(self._batch, 2 * len(self._buffer))

    def add_all(self, events: Iterable[ParticipantEventLike]) -> ReportBuilder:
        for event in events:
            self.add(event)
        return self

    def add_utterances(self, utterances: Iterable[UtteranceLike]) -> ReportBuilder:
        """The transcript: speaking time comes from it when the bot recorded no speech events."""
        for u in utterances:
            self._utterances.append(
                (
                    u.timestamp_ms,
                    u.timestamp_ms + max(u.duration_ms, 0),
                    u.speaker_uuid,
                    display_name(u.speaker_name, u.speaker_uuid),
                    u.speaker_is_host,
                )
            )
        return self

    def set_nothing_transcribed(self) -> ReportBuilder:
        """The bot finished with nothing transcribed: the report says so, and, without speech events, that
        nobody was heard (speaking time 0) rather than that speaking time is unknown."""
        self._nothing_transcribed = True
        return self

    # ------------------------------------------------------------------------------- internals
    def _set_present(self, delta: int, ts: int) -> None:
        self._present += delta
        self._timeline.append((ts, self._present))
        if len(self._timeline) > 4 * MAX_TIMELINE_POINTS:  # keep memory bounded on very long meetings
            self._timeline = self._timeline[::2]
        if self._present > self._peak:
            self._peak, self._peak_at = self._present, ts

    def _start_presence(self, person: _Person, ts: int) -> None:
        person.present_since = ts
        person.joins += 1
        if person.first_join_ms is None:
            person.first_join_ms = ts
        self._set_present(+1, ts)

    def _keep(self, person: _Person, kind: str, start: int, end: int) -> None:
        if self.intervals is not None:
            spans = self.intervals.setdefault(person.uuid, {"present": [], "speaking": []})[kind]
            if len(spans) < MAX_INTERVALS_PER_PERSON:
                spans.append((start, end))

    def _stop_speaking(self, person: _Person, ts: int) -> None:
        if person.speaking_since is not None:
            person.speaking_ms += max(0, ts - person.speaking_since)
            self._keep(person, "speaking", person.speaking_since, ts)
            person.speaking_since = None

    def _stop_presence(self, person: _Person, ts: int) -> None:
        self._stop_speaking(person, ts)
        if person.present_since is not None:
            person.present_ms += max(0, ts - person.present_since)
            self._keep(person, "present", person.present_since, ts)
            person.present_since = None
            person.last_leave_ms = ts
            self._set_present(-1, ts)

    def _process(self, item: tuple[int, int, str, str, str, str, bool]) -> None:
        ts, _, uuid, _, kind, name, is_host = item
        if self.start_ms is None:
            self.start_ms = ts
        if ts < self.start_ms:
            self._note("before_bot_joined")  # e.g. people already there: counted from the bot's join
            ts = max(self.start_ms, self._clock or self.start_ms)
        elif self._clock is not None and ts < self._clock:
            self._note("late_event")  # older than the reorder window allowed: clamp to keep totals sane
            ts = self._clock
        if self.end_ms is not None and ts > self.end_ms:
            self._note("after_meeting_end")
            ts = self.end_ms
        self._clock = self._last_ms = ts
        self._processed += 1
        person = self._people.get(uuid)
        if person is None:
            person = self._people[uuid] = _Person(uuid, name, is_host)
        if kind == "join":
            if person.present_since is not None:
                self._note("repeated_join")
                return
            self._start_presence(person, ts)
        elif kind == "leave":
            if person.present_since is None:
                if person.joins:
                    self._note("repeated_leave")
                    return
                self._note("leave_without_join")  # was there before the bot: present since the start
                self._start_presence(person, self.start_ms)
            self._stop_presence(person, ts)
        elif kind == "speech_start":
            if person.present_since is None:
                self._note("speech_while_absent")
                self._start_presence(person, ts)
            if person.speaking_since is None:
                person.speaking_since = ts
                person.turns += 1
        elif kind == "speech_stop":
            if person.speaking_since is None:
                self._note("speech_stop_without_start")
            else:
                self._stop_speaking(person, ts)

    def finish(self) -> MeetingReport:
        """Flush the buffer, close open intervals at the meeting's end, and compute the report."""
        self._flush(None)
        end = self.end_ms if self.end_ms is not None else self._last_ms
        start = self.start_ms
        for person in self._people.values():
            if person.speaking_since is not None:
                self._note("speech_without_stop")
            if person.present_since is not None and end is not None:
                self._note("join_without_leave")
                self._stop_presence(person, max(end, person.present_since))
        source, notes = self._speaking_source()
        if source == "transcript":
            self._speaking_from_transcript(start, end)
        total_speaking = sum(p.speaking_ms for p in self._people.values())
        people = sorted(self._people.values(), key=lambda p: (-p.speaking_ms, p.first_join_ms or 0, p.name))
        stats = [
            ParticipantStats(
                uuid=p.uuid,
                name=p.name,
                is_host=p.is_host,
                first_join=_iso(p.first_join_ms),
                last_leave=_iso(p.last_leave_ms),
                present_seconds=round(p.present_ms / 1000, 3),
                speaking_seconds=round(p.speaking_ms / 1000, 3),
                talk_share=round(p.speaking_ms / total_speaking, 4) if total_speaking else 0.0,
                speaking_turns=p.turns,
                joins=p.joins,
            )
            for p in people
        ]
        timeline = self._timeline
        if len(timeline) > MAX_TIMELINE_POINTS:
            step = len(timeline) / MAX_TIMELINE_POINTS
            timeline = [timeline[int(i * step)] for i in range(MAX_TIMELINE_POINTS)] + [timeline[-1]]
        duration = (end - start) / 1000 if start is not None and end is not None else 0.0
        return MeetingReport(
            start=_iso(start),
            end=_iso(end),
            duration_seconds=round(max(duration, 0.0), 3),
            participants=stats,
            peak_concurrent=self._peak,
            peak_at=_iso(self._peak_at),
            total_speaking_seconds=round(total_speaking / 1000, 3),
            timeline=[(_iso(ts) or "", count) for ts, count in timeline],
            events_processed=self._processed,
            anomalies=dict(sorted(self.anomalies.items())),
            speaking_source=source,
            notes=notes,
        )

    def _speaking_source(self) -> tuple[str, list[str]]:
        """The one rule: speech events when the bot recorded any, else the transcript, else nothing."""
        transcribed = [NOTHING_TRANSCRIBED_NOTE] if self._nothing_transcribed else []
        if self._speech_events:
            return "speech_events", transcribed
        if self._utterances:
            return "transcript", [TRANSCRIPT_NOTE]
        if self._nothing_transcribed:
            return "transcript", [NOTHING_TRANSCRIBED_NOTE + " Nobody was heard: speaking time is 0."]
        return "none", [NO_SPEECH_NOTE]

    def _speaking_from_transcript(self, start: int | None, end: int | None) -> None:
        """Speaking time and turns from the utterances (clamped to the meeting): a speaker's overlapping
        utterances count once, as one turn."""
        speaking_until: dict[str, int] = {}
        for begin, stop, uuid, name, is_host in sorted(self._utterances):
            if start is not None:
                begin, stop = max(begin, start), max(stop, start)
            if end is not None:
                begin, stop = min(begin, end), min(stop, end)
            if stop <= begin:
                self._note("utterance_outside_meeting")
                continue
            person = self._people.get(uuid)
            if person is None:  # spoke, but no join or leave of theirs was recorded
                self._note("speaker_without_events")
                person = self._people[uuid] = _Person(uuid, name, is_host)
            until = speaking_until.get(uuid)
            if until is not None and begin < until:  # overlaps the speaker's previous utterance
                if stop > until:
                    person.speaking_ms += stop - until
                    self._keep(person, "speaking", until, stop)
                    speaking_until[uuid] = stop
                continue
            person.speaking_ms += stop - begin
            person.turns += 1
            self._keep(person, "speaking", begin, stop)
            speaking_until[uuid] = stop


def build_report(
    events: Iterable[ParticipantEventLike],
    meeting_start_ms: int | None = None,
    meeting_end_ms: int | None = None,
    utterances: Iterable[UtteranceLike] = (),
) -> MeetingReport:
    """One-call form of :class:`ReportBuilder`."""
    builder = ReportBuilder(meeting_start_ms, meeting_end_ms).add_all(events)
    return builder.add_utterances(utterances).finish()
