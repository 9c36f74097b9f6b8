"""The participant report against a hand-computed meeting, and its messy cases."""

from __future__ import annotations

import random

import pytest

from airflow_provider_attendee.meetings.report import SPEECH_EVENTS_SETTING, ReportBuilder, build_report
from airflow_provider_attendee.meetings.report_render import to_csv, to_json, to_markdown
from tests.unit.events import Ev, Utt

T0 = 1_700_000_000_000  # ms


def ev(n: int, who: str, kind: str, seconds: float, name: str | None = None, host: bool = False) -> Ev:
    return Ev(f"pe_{n}", who, name or who.title(), kind, T0 + int(seconds * 1000), host)


# Meeting from 0 s to 600 s (bot joined at 0, left at 600).
# ann (host): joins 0, speaks 10-40 and 100-130, leaves 500.        present 500, spoke 60, turns 2
# bob: joins 60, leaves 120, joins 200 (rejoin), speaks 210-300, never leaves.  present 60+400=460, spoke 90
# cat and cat2: same display name "Cat", different uuids; cat joins 300 leaves 400; cat2 joins 350 stays.
#   cat present 100, cat2 present 250; cat2 speaks 360 and never stops -> closed at 600: spoke 240
# dan: leave at 50 without any join -> present since 0: 50 s.
MEETING = [
    ev(1, "ann", "join", 0, host=True),
    ev(2, "ann", "speech_start", 10, host=True),
    ev(3, "ann", "speech_stop", 40, host=True),
    ev(4, "dan", "leave", 50),
    ev(5, "bob", "join", 60),
    ev(6, "ann", "speech_start", 100, host=True),
    ev(7, "bob", "leave", 120),
    ev(8, "ann", "speech_stop", 130, host=True),
    ev(9, "bob", "join", 200),
    ev(10, "bob", "join", 205),  # repeated join: ignored
    ev(11, "bob", "speech_start", 210),
    ev(12, "bob", "speech_stop", 300),
    ev(13, "cat", "join", 300, name="Cat"),
    ev(14, "cat2", "join", 350, name="Cat"),
    ev(15, "cat2", "speech_start", 360, name="Cat"),
    ev(16, "cat", "leave", 400, name="Cat"),
    ev(17, "ann", "leave", 500, host=True),
]
EXPECTED = {  # uuid: (present s, spoke s, turns, joins)
    "ann": (500, 60, 2, 1),
    "bob": (460, 90, 1, 2),
    "cat": (100, 0, 0, 1),
    "cat2": (250, 240, 1, 1),
    "dan": (50, 0, 0, 1),
}


def test_hand_computed_meeting():
    report = build_report(MEETING, T0, T0 + 600_000)
    shares = {p.uuid: p.talk_share for p in report.participants}
    assert shares["cat2"] == pytest.approx(240 / 390, abs=1e-4)
    assert [p.uuid for p in report.participants][:2] == ["cat2", "bob"]  # by talk time
    assert sum(p.talk_share for p in report.participants) == pytest.approx(1.0, abs=1e-3)
    got = {
        p.uuid: (p.present_seconds, p.speaking_seconds, p.speaking_turns, p.joins)
        for p in report.participants
    }
    assert got == EXPECTED
    assert report.duration_seconds == 600 and report.total_speaking_seconds == 390
    # ann, bob, cat, cat2 together from 350 s to 400 s (dan left at 50 s)
    assert report.peak_concurrent == 4
    assert report.peak_at == "2023-11-14T22:19:10Z"
    assert report.anomalies == {
        "join_without_leave": 2,
        "leave_without_join": 1,
        "repeated_join": 1,
        "speech_without_stop": 1,
    }
    assert report.timeline[0] == ("2023-11-14T22:13:20Z", 1)
    assert report.timeline[-1][1] == 0  # everyone closed at the end


def test_order_of_arrival_does_not_matter_within_the_window():
    expected = build_report(MEETING, T0, T0 + 600_000)
    for seed in range(10):
        shuffled = MEETING[:]
        random.Random(seed).shuffle(shuffled)  # fully shuffled: a window covering the whole meeting
        whole = ReportBuilder(T0, T0 + 600_000, reorder_window_ms=600_000).add_all(shuffled).finish()
        assert whole == expected
        # Storage order as on the server: each event displaced by less than the (default) window.
        jittered = sorted(
            MEETING,
            key=lambda e: e.timestamp_ms + random.Random(seed * 100 + int(e.id[3:])).randint(0, 120_000),
        )
        assert build_report(jittered, T0, T0 + 600_000) == expected


def test_same_time_events_in_any_order():
    same = [
        ev(1, "a", "join", 0),
        ev(2, "a", "speech_start", 0),
        ev(3, "a", "speech_stop", 5),
        ev(4, "a", "speech_start", 5),
        ev(5, "a", "speech_stop", 9),
        ev(6, "a", "leave", 9),
    ]
    expected = build_report(same, T0, T0 + 10_000)
    assert expected.participants[0].speaking_turns == 2 and expected.participants[0].speaking_seconds == 9
    assert expected.anomalies == {}
    assert build_report(list(reversed(same)), T0, T0 + 10_000) == expected


def test_defaults_to_first_and_last_event():
    report = build_report(MEETING)
    assert report.start == "2023-11-14T22:13:20Z" and report.duration_seconds == 500


def test_events_outside_the_meeting_are_clamped():
    events = [ev(1, "a", "join", -30), ev(2, "b", "join", -10), ev(3, "a", "leave", 700)]
    report = build_report(events, T0, T0 + 600_000)
    assert [p.present_seconds for p in report.participants] == [600, 600]
    # Both joins were before the bot joined (they were "late_event" once): named for what happened.
    assert report.anomalies == {"after_meeting_end": 1, "before_bot_joined": 2, "join_without_leave": 1}


def test_late_events_beyond_the_window_are_clamped_not_lost():
    builder = ReportBuilder(T0, T0 + 3_600_000, reorder_window_ms=1000, flush_batch=1)
    builder.add(ev(1, "a", "join", 0))
    builder.add(ev(2, "a", "leave", 1000))
    builder.add(ev(3, "c", "join", 2000))  # moves the window past 1000 s: the leave is processed
    builder.add(ev(4, "b", "join", 10))  # 990 s older than what was processed: beyond the 1 s window
    report = builder.finish()
    assert report.anomalies["late_event"] == 1
    assert {p.uuid for p in report.participants} == {"a", "b", "c"}


def test_speech_stop_without_start_and_speech_while_absent():
    report = build_report(
        [ev(1, "a", "speech_stop", 5), ev(2, "b", "speech_start", 10), ev(3, "b", "speech_stop", 20)]
    )
    b = next(p for p in report.participants if p.uuid == "b")
    assert b.speaking_seconds == 10 and b.joins == 1
    assert report.anomalies["speech_stop_without_start"] == 1 and report.anomalies["speech_while_absent"] == 1


def test_renderers():
    report = build_report(MEETING, T0, T0 + 600_000)
    csv_text = to_csv(report)
    assert csv_text.splitlines()[0].startswith("name,uuid,is_host")
    assert len(csv_text.splitlines()) == 6
    markdown = to_markdown(report, "Weekly sync")
    assert markdown.startswith("# Weekly sync") and "| Ann (host) | 8:20 | 1:00 | 15% | 2 |" in markdown
    # Two people named "Cat": the table tells them apart by uuid; a name nobody shares stays as it is.
    assert "| Cat (uuid cat2) | 4:10 | 4:00 |" in markdown and "| Cat (uuid cat) | 1:40 | 0:00 |" in markdown
    assert "| Bob |" in markdown and csv_text.count("\nCat,") == 2  # the CSV keeps the name and the uuid
    assert report.headline() == {
        "duration_seconds": 600.0,
        "participants": 5,
        "peak_concurrent": 4,
        "total_speaking_seconds": 390.0,
        "top_speaker": "Cat",
        "speaking_source": "speech_events",
    }


def test_memory_is_bounded_by_participants_not_events():
    builder = ReportBuilder(T0, None, reorder_window_ms=10_000)
    for i in range(50_000):
        builder.add_raw(
            T0 + i * 100, f"e{i}", "speech_start" if i % 2 else "speech_stop", f"p{i % 20}", "x", False
        )
    from airflow_provider_attendee.meetings.report import FLUSH_BATCH

    assert len(builder._buffer) <= FLUSH_BATCH + 101  # one batch plus the window's ~10 s of events
    assert len(builder._people) == 20
    assert builder.finish().events_processed == 50_000


def utt(who: str, seconds: float, duration: float, name: str | None = None) -> Utt:
    return Utt(who, name or who.title(), T0 + int(seconds * 1000), int(duration * 1000))


# The same meeting as a default real bot records it: joins and leaves only, who spoke in the transcript.
PRESENCE_ONLY = [e for e in MEETING if not e.event_type.startswith("speech")]
TRANSCRIPT = [
    utt("ann", 10, 30),
    utt("ann", 100, 20),
    utt("ann", 110, 20),  # overlaps the previous one (110-120): counted once, one turn
    utt("bob", 210, 90),
    utt("cat2", 360, 300, name="Cat"),  # runs past the bot's departure at 600 s: clamped
    utt("eve", 700, 5),  # after the bot left: outside the meeting
]


def test_speaking_time_from_the_transcript_without_speech_events():
    report = build_report(PRESENCE_ONLY, T0, T0 + 600_000, utterances=TRANSCRIPT)
    got = {p.uuid: (p.present_seconds, p.speaking_seconds, p.speaking_turns) for p in report.participants}
    assert got == {u: (present, spoke, turns) for u, (present, spoke, turns, _) in EXPECTED.items()}
    assert report.speaking_source == "transcript" and report.total_speaking_seconds == 390
    assert report.headline()["top_speaker"] == "Cat"
    assert report.anomalies["utterance_outside_meeting"] == 1
    assert len(report.notes) == 1 and SPEECH_EVENTS_SETTING in report.notes[0]
    # Each output carries where speaking time came from, and the note naming the setting.
    assert {row.split(",")[-1] for row in to_csv(report).splitlines()[1:]} == {"transcript"}
    assert to_csv(report).splitlines()[0].endswith(",speaking_source")
    markdown = to_markdown(report)
    assert "(from the transcript)" in markdown and SPEECH_EVENTS_SETTING in markdown
    assert '"speaking_source": "transcript"' in to_json(report)


def test_speech_events_win_over_the_transcript():
    """The one rule when both exist: speech events (the platform's voice activity), transcript unread."""
    report = build_report(MEETING, T0, T0 + 600_000, utterances=[utt("ann", 0, 500), utt("dan", 0, 40)])
    got = {p.uuid: (p.speaking_seconds, p.speaking_turns) for p in report.participants}
    assert got == {u: (spoke, turns) for u, (_, spoke, turns, _) in EXPECTED.items()}
    assert report.speaking_source == "speech_events" and report.notes == []


def test_neither_speech_events_nor_transcript():
    report = build_report(PRESENCE_ONLY, T0, T0 + 600_000)
    assert report.speaking_source == "none" and report.total_speaking_seconds == 0
    assert report.headline()["top_speaker"] is None
    assert SPEECH_EVENTS_SETTING in report.notes[0] and "Deepgram" in report.notes[0]
    assert "(unknown: no speech events, no transcript)" in to_markdown(report)


def test_a_transcript_speaker_without_participant_events_is_reported():
    report = build_report([ev(1, "a", "join", 0)], T0, T0 + 60_000, utterances=[utt("z", 5, 10)])
    z = next(p for p in report.participants if p.uuid == "z")
    assert (z.present_seconds, z.speaking_seconds, z.speaking_turns, z.talk_share) == (0, 10, 1, 1.0)
    assert report.anomalies["speaker_without_events"] == 1


def test_the_chart_draws_transcript_speech():
    builder = ReportBuilder(T0, T0 + 600_000, keep_intervals=True).add_all(PRESENCE_ONLY)
    builder.add_utterances(TRANSCRIPT).finish()
    assert builder.intervals is not None
    assert builder.intervals["ann"]["speaking"] == [
        (T0 + 10_000, T0 + 40_000),
        (T0 + 100_000, T0 + 120_000),
        (T0 + 120_000, T0 + 130_000),
    ]
