"""Pure logic: presence tracking, calendar reconciliation plans, transcript formats."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from airflow_provider_attendee.client.models import CalendarEvent, TranscriptUtterance
from airflow_provider_attendee.exceptions import AttendeeConfigurationError
from airflow_provider_attendee.meetings.calendar_plan import (
    Outcome,
    Selection,
    plan,
    render_template,
    summarise,
)
from airflow_provider_attendee.meetings.presence import (
    PresenceTracker,
    compile_name_pattern,
    validate_threshold,
)
from airflow_provider_attendee.meetings.transcript_formats import records, render
from tests.unit.events import Ev


class TestPresence:
    def test_counts_with_filters_and_out_of_order_batches(self):
        tracker = PresenceTracker(exclude_host=True, name_pattern="^(Ann|Bob|Cy)")
        tracker.apply([Ev("2", "b", "Bob", "join", 2000), Ev("1", "h", "Host", "join", 1000, True)])
        tracker.apply([Ev("3", "a", "Ann", "join", 3000), Ev("4", "z", "Zed", "join", 3500)])
        assert tracker.count == 2 and tracker.present_names == ["Ann", "Bob"]
        # A late-arriving older leave does not undo a newer join; a repeated read changes nothing.
        tracker.apply([Ev("5", "b", "Bob", "leave", 1500), Ev("3", "a", "Ann", "join", 3000)])
        assert tracker.count == 2
        tracker.apply([Ev("6", "b", "Bob", "leave", 4000), Ev("7", "b", "Bob", "speech_start", 3900)])
        assert tracker.present_names == ["Ann"]

    def test_survives_serialisation(self):
        tracker = PresenceTracker()
        tracker.apply([Ev("1", "a", "Ann", "join", 1000), Ev("2", "b", "Bob", "join", 2000)])
        copy = PresenceTracker.from_dict(json.loads(json.dumps(tracker.to_dict())))
        copy.apply([Ev("2", "b", "Bob", "join", 2000), Ev("3", "a", "Ann", "leave", 3000)])
        assert copy.count == 1 and copy.present_names == ["Bob"]

    def test_read_after_is_the_newest_minus_the_margin_and_ids_are_pruned(self):
        tracker = PresenceTracker(margin_ms=60_000)
        assert tracker.read_after() is None
        base = 1_700_000_000_000
        tracker.apply([Ev("1", "a", "Ann", "join", base), Ev("2", "a", "Ann", "leave", base + 600_000)])
        assert tracker.read_after() == datetime.fromtimestamp((base + 540_000) / 1000, tz=timezone.utc)
        assert set(tracker.recent_ids) == {"2"}  # memory bounded: old ids forgotten

    @pytest.mark.parametrize(
        ("threshold", "comparison"), [(-1, ">="), ("3.5", ">="), (True, ">="), (2, "=>"), (2, "!=")]
    )
    def test_bad_conditions(self, threshold, comparison):
        with pytest.raises(AttendeeConfigurationError):
            validate_threshold(threshold, comparison)

    def test_good_conditions_and_patterns(self):
        assert validate_threshold("3", ">=") == (3, ">=")
        assert validate_threshold(0, "<=") == (0, "<=")
        with pytest.raises(AttendeeConfigurationError, match="not a valid regular expression"):
            compile_name_pattern("([")


def event(
    eid: str, *, name="Sync", url="https://zoom.us/j/1", deleted=False, attendees=(), bots=(), start=None
) -> CalendarEvent:
    start = start or datetime(2030, 1, 1, 10, tzinfo=timezone.utc)
    return CalendarEvent.model_validate(
        {
            "id": eid,
            "calendar_id": "cal_1",
            "meeting_url": url,
            "name": name,
            "is_deleted": deleted,
            "start_time": start,
            "end_time": start + timedelta(minutes=30),
            "attendees": [{"email": e} for e in attendees],
            "bots": [{"id": b, "meeting_url": url or "", "state": s, "events": []} for b, s in bots],
        }
    )


class TestCalendarPlan:
    def test_plan_decisions(self):
        selection = Selection(
            skip_name_regex=r"personal|lunch", min_attendees=2, attendee_domains=("example.com",)
        )
        events = [
            event("new", attendees=["a@example.com", "b@x.org"]),
            event("has_bot", attendees=["a@example.com", "b@x.org"], bots=[("bot_1", "scheduled")]),
            event("old_bot_ended", attendees=["a@example.com", "b@x.org"], bots=[("bot_0", "ended")]),
            event("cancelled", deleted=True, bots=[("bot_2", "scheduled")]),
            event("cancelled_staged", deleted=True, bots=[("bot_3", "staged")]),
            event("no_url", url=None, attendees=["a@example.com", "b@x.org"]),
            event("personal", name="Personal: dentist", attendees=["a@example.com", "b@x.org"]),
            event("small", attendees=["a@example.com"], bots=[("bot_4", "scheduled")]),
            event("outsiders", attendees=["a@x.org", "b@y.org"]),
        ]
        result = plan(events, selection)
        assert [e.id for e in result.create] == ["new", "old_bot_ended"]
        assert [(e.id, b.id) for e, b, _ in result.delete] == [("cancelled", "bot_2"), ("small", "bot_4")]
        assert result.unremovable == {
            "cancelled_staged": "cancelled, but bot bot_3 is staged and cannot be deleted"
        }
        assert result.skipped == {
            "has_bot": "has live bot bot_1",
            "cancelled_staged": "cancelled",
            "no_url": "no meeting URL",
            "personal": "name matches skip_name_regex",
            "outsiders": "no attendee from attendee_domains",
        }
        assert result.events_seen == 9

    def test_event_filter_callable(self):
        result = plan(
            [event("a", name="Keep"), event("b", name="Drop")],
            Selection(event_filter=lambda e: e.name == "Keep"),
        )
        assert [e.id for e in result.create] == ["a"] and result.skipped == {
            "b": "event_filter returned False"
        }

    def test_templates_and_summary(self):
        e = event("evt_9", name="Board prep")
        assert (
            render_template("Notes: {event_name} ({event_id}) {unknown}", e)
            == "Notes: Board prep (evt_9) {unknown}"
        )
        summary = summarise(
            plan([e], Selection()), Outcome(created=[{"event_id": "evt_9", "bot_id": "bot_1"}]), ["a", "b"]
        )
        assert summary["counts"] == {
            "created": 1,
            "skipped": 0,
            "cancelled": 0,
            "failed": 0,
            "rejected": 0,
            "unremovable": 0,
        }
        json.dumps(summary)

    def test_bad_selection(self):
        with pytest.raises(AttendeeConfigurationError, match="skip_name_regex"):
            Selection(skip_name_regex="(")
        with pytest.raises(AttendeeConfigurationError, match="min_attendees"):
            Selection(min_attendees=-1)


def utterance(name: str, at_ms: int, duration_ms: int, text: str) -> TranscriptUtterance:
    return TranscriptUtterance(
        speaker_name=name,
        speaker_uuid=name.lower(),
        timestamp_ms=at_ms,
        duration_ms=duration_ms,
        transcription={"transcript": text},
    )


def test_transcript_formats():
    rows = records(
        [utterance("Bo", 1_000_065_500, 2_000, "Second 🎉"), utterance("Ann", 1_000_001_000, 1_500, "First")],
        origin_ms=1_000_000_000,
    )
    assert [r["speaker_name"] for r in rows] == ["Ann", "Bo"] and rows[0]["offset_ms"] == 1_000
    assert json.loads(render("json", rows))[1]["text"] == "Second 🎉"
    assert render("txt", rows) == "[00:00:01] Ann: First\n[00:01:05] Bo: Second 🎉\n"
    assert render("vtt", rows).startswith("WEBVTT\n\n00:00:01.000 --> 00:00:02.500\n<v Ann>First\n")
    assert render("srt", rows).splitlines()[:3] == ["1", "00:00:01,000 --> 00:00:02,500", "Ann: First"]
    with pytest.raises(ValueError, match="unknown transcript format"):
        render("docx", rows)
    assert records([]) == []


def test_distinct_labels_only_mark_shared_names():
    from airflow_provider_attendee.client.names import distinct_labels

    labels = distinct_labels([("u-1234567890", "Alex Kim"), ("v-0987654321", "Alex Kim"), ("w-1", "Maya")])
    assert labels == {
        "u-1234567890": "Alex Kim (uuid u-123456)",
        "v-0987654321": "Alex Kim (uuid v-098765)",
        "w-1": "Maya",
    }
    assert distinct_labels([]) == {}
    # The demo's two "Alex Kim" share their uuid's first 8 characters: the label takes as many as it needs.
    assert distinct_labels([("alex-kim-design", "Alex Kim"), ("alex-kim-backend", "Alex Kim")]) == {
        "alex-kim-design": "Alex Kim (uuid alex-kim-d)",
        "alex-kim-backend": "Alex Kim (uuid alex-kim-b)",
    }
