"""Calendar reconciliation, transcript, recording and participant report operators against the simulator."""

from __future__ import annotations

import csv
import io
import json
import os
import wave
from datetime import datetime, timedelta
from pathlib import Path
from unittest.mock import patch

import pytest

from airflow_provider_attendee._compat import AirflowFailException
from airflow_provider_attendee.exceptions import (
    AttendeeCalendarSyncError,
    AttendeeConfigurationError,
    AttendeeDestinationError,
    AttendeeRecordingMissingError,
    AttendeeTranscriptNotReadyError,
)
from airflow_provider_attendee.hooks.attendee import AttendeeHook
from airflow_provider_attendee.operators.bots import AttendeeCreateBotOperator
from airflow_provider_attendee.operators.calendar import AttendeeScheduleCalendarBotsOperator
from airflow_provider_attendee.operators.outputs import (
    AttendeeParticipantReportOperator,
    AttendeeRecordingOperator,
    AttendeeTranscriptOperator,
)
from tests.operators.conftest import DEMO_MEETING

EVENTS = [
    {
        "name": "Planning",
        "meeting_url": "https://zoom.us/j/101",
        "start_in_minutes": 30,
        "attendees": [{"email": "a@example.com"}, {"email": "b@example.com"}],
    },
    {
        "name": "Review",
        "meeting_url": "https://zoom.us/j/102",
        "start_in_minutes": 90,
        "attendees": [{"email": "a@example.com"}, {"email": "c@partner.org"}],
    },
    {
        "name": "Lunch",
        "meeting_url": "https://zoom.us/j/103",
        "start_in_minutes": 120,
        "attendees": [{"email": "a@example.com"}, {"email": "b@example.com"}],
    },
    {"name": "Focus", "meeting_url": None, "start_in_minutes": 150},
    {
        "name": "Solo",
        "meeting_url": "https://zoom.us/j/104",
        "start_in_minutes": 160,
        "attendees": [{"email": "a@example.com"}],
    },
    {"name": "Next week", "meeting_url": "https://zoom.us/j/105", "start_in_minutes": 60 * 24 * 7},
]


def sync(**kwargs):
    options = {
        "task_id": "sync",
        "lookahead": timedelta(hours=12),
        "skip_name_regex": "lunch",
        "min_attendees": 2,
        "bot_name": "Notes: {event_name}",
        "metadata": {"event_id": "{event_id}", "source": "calendar"},
    }
    options.update(kwargs)
    return AttendeeScheduleCalendarBotsOperator(**options)


class TestCalendarSync:
    def test_creates_then_is_idempotent_then_follows_cancellations(self, attendee_simulator, context):
        admin = attendee_simulator.admin
        _, ids = admin.add_calendar(deduplication_key="user-a", events=EVENTS)
        first = sync(calendar_deduplication_key="user-a").execute(context)
        assert first["counts"] == {
            "created": 2,
            "skipped": 3,
            "cancelled": 0,
            "failed": 0,
            "rejected": 0,
            "unremovable": 0,
        }
        assert sorted(c["event_id"] for c in first["created"]) == sorted(ids[:2])
        bots = {b["calendar_event_id"]: b for b in admin.bots()}
        assert bots[ids[0]]["bot_name"] == "Notes: Planning"
        assert bots[ids[0]]["metadata"] == {"event_id": ids[0], "source": "calendar"}
        # One key per event and start time (so two overlapping runs cannot both book it).
        assert bots[ids[0]]["deduplication_key"].startswith(f"airflow-calendar-{ids[0]}@")
        json.dumps(first)  # a usable XCom

        admin.reset_counters()
        second = sync(calendar_deduplication_key="user-a").execute(context)
        requests = admin.counters()["requests"]
        assert second["counts"] == {
            "created": 0,
            "skipped": 5,
            "cancelled": 0,
            "failed": 0,
            "rejected": 0,
            "unremovable": 0,
        }
        assert set(requests) == {"GET /api/v1/calendar_events"}  # no POST, no DELETE, no per-event GET

        # The server deletes scheduled bots of cancelled events itself; a deselected event's bot is ours to delete.
        admin.cancel_event(ids[0])
        third = sync(
            calendar_deduplication_key="user-a",
            attendee_domains=["example.com"],
            event_filter=lambda e: e.name != "Review",
        ).execute(context)
        assert third["counts"]["cancelled"] == 1
        assert third["cancelled"][0]["event_id"] == ids[1]
        assert third["cancelled"][0]["reason"] == "event_filter returned False"
        assert admin.bots() == []

    @pytest.mark.parametrize(
        ("kwargs", "sent"),
        [
            (
                {"bot_settings": {"recording_settings": {"view": "gallery_view"}}},
                {"view": "gallery_view", "record_participant_speech_start_stop_events": True},
            ),
            ({"record_speech_events": False}, None),
        ],
    )
    def test_bots_ask_for_speech_events(self, attendee_simulator, context, kwargs, sent):
        attendee_simulator.admin.add_calendar(deduplication_key="user-a", events=EVENTS)
        assert sync(**kwargs).execute(context)["counts"]["created"] == 2
        bots = attendee_simulator.simulator.world.bots.values()
        assert [b.settings.get("recording_settings") for b in bots] == [sent, sent]

    def test_failures_do_not_stop_the_others(self, attendee_simulator, context, monkeypatch):
        admin = attendee_simulator.admin
        # No client retries, so that the injected 5xx reach the operator (they are retried otherwise).
        monkeypatch.setenv("AIRFLOW_CONN_ATTENDEE_DEFAULT", attendee_simulator.connection_json(max_retries=0))
        _, ids = admin.add_calendar(events=EVENTS[:3])
        admin.set_faults(routes=[{"method": "POST", "path": "/bots$", "body": ids[0], "rate_5xx": 1.0}])
        with pytest.raises(
            AttendeeCalendarSyncError, match=r"1 of 3 calendar events could not be reconciled"
        ) as info:
            sync().execute(context)
        failed = [i for i in ids[:2] if i in str(info.value)]
        created = {b["calendar_event_id"] for b in admin.bots()}
        assert failed == [ids[0]] and created == {ids[1]}  # the failure did not stop the other event
        assert "HTTP 50" in str(info.value)
        admin.set_faults()
        retry = sync().execute(context)  # the task's retry finishes the job
        assert retry["counts"]["created"] == len(failed)
        assert {b["calendar_event_id"] for b in admin.bots()} == set(ids[:2])

    def test_an_event_that_started_meanwhile_is_skipped(self, attendee_simulator, context):
        admin = attendee_simulator.admin
        _, ids = admin.add_calendar(
            events=[
                {
                    "name": "Past",
                    "meeting_url": "https://zoom.us/j/1",
                    "start_in_minutes": 5,
                    "attendees": [{"email": "a@x.org"}, {"email": "b@x.org"}],
                },
                *EVENTS[:2],
            ]
        )
        admin.advance(minutes=10)  # "Past" has started: the server refuses a bot for it
        start = (
            datetime.fromisoformat(admin.now().replace("Z", "+00:00")) - timedelta(minutes=30)
        ).isoformat()
        operator = sync(window_start=start)
        with patch.object(operator.log, "info") as info:
            result = operator.execute(context)
        assert result["skipped"][ids[0]] == "started before its bot could be scheduled"
        # The reasons are counted in the log too, not only in the XCom (one line, at INFO).
        (skipped,) = [c.args for c in info.call_args_list if c.args[0].startswith("Skipped")]
        assert skipped[1] == 1 and skipped[2] == "1 started before its bot could be scheduled"
        assert {b["calendar_event_id"] for b in admin.bots()} == set(ids[1:])

    def test_window_from_the_data_interval_and_incremental(self, attendee_simulator, context):
        admin = attendee_simulator.admin
        admin.add_calendar(events=EVENTS)
        now = datetime.fromisoformat(admin.now().replace("Z", "+00:00"))
        context.update(data_interval_start=now, data_interval_end=now + timedelta(minutes=60))
        result = sync(use_data_interval=True).execute(context)
        assert (
            result["counts"]["created"] == 1 and result["events_seen"] == 1
        )  # Planning; Review starts after
        # A previous success after the events were last changed (beyond the 2-minute clock-skew margin).
        context["prev_start_date_success"] = now + timedelta(minutes=3)
        admin.reset_counters()
        incremental = sync(incremental=True).execute(context)
        assert incremental["events_seen"] == 0
        # One listing (changed since); nothing entered the window since the previous run: no other request.
        assert admin.counters()["requests"] == {"GET /api/v1/calendar_events": 1}

    @pytest.mark.attendee_simulator(page_size=7)
    def test_creates_run_concurrently(self, attendee_simulator, context):
        admin = attendee_simulator.admin
        events = [
            {"name": f"E{i}", "meeting_url": f"https://zoom.us/j/{500 + i}", "start_in_minutes": 30 + i}
            for i in range(32)
        ]
        admin.add_calendar(events=events)
        admin.set_faults(routes=[{"method": "POST", "path": "/bots$", "latency_ms": 100}])
        admin.reset_counters()
        result = sync(min_attendees=0, max_concurrency=8).execute(context)
        assert result["counts"]["created"] == 32
        # Concurrency as the server saw it (overlapping requests), not timed: creates overlapped, and never
        # more than max_concurrency of them at once.
        peak = admin.counters()["peak_in_flight"]["POST /api/v1/bots"]
        assert 1 < peak <= 8, peak

    def test_bad_arguments(self, attendee_simulator, context):
        from airflow_provider_attendee.exceptions import AttendeeConfigurationError

        with pytest.raises(AttendeeConfigurationError, match="ends"):
            sync(window_start="2030-01-02T00:00:00Z", window_end="2030-01-01T00:00:00Z").execute(context)
        with pytest.raises(AttendeeConfigurationError, match="max_concurrency"):
            sync(max_concurrency=0)
        with pytest.raises(AttendeeConfigurationError, match="not an ISO 8601"):
            sync(window_start="soon").execute(context)


@pytest.fixture
def finished_bot(attendee_simulator):
    attendee_simulator.admin.reset("demo", time_scale=0)
    bot = AttendeeHook().create_bot(DEMO_MEETING, bot_name="Notes")
    attendee_simulator.admin.advance(800)  # the demo's product sync ends 720 s after the bot is admitted
    assert AttendeeHook().get_bot(bot.id).state == "ended"
    return bot.id


def local(path: str) -> Path:
    return Path(path.removeprefix("file://"))


class TestTranscript:
    def test_writes_every_format(self, finished_bot, context, tmp_path):
        result = AttendeeTranscriptOperator(
            task_id="t",
            bot_id=finished_bot,
            destination=str(tmp_path / "out"),
            formats=["json", "txt", "vtt", "srt"],
        ).execute(context)
        assert result["utterances"] == 10
        assert result["speakers"] == ["Lukas Berg", "Maya Chen", "Priya Raman", "Sofia Alvarez", "Tom Okafor"]
        rows = json.loads(local(result["paths"]["json"]).read_text())
        assert (
            rows[0]["speaker_name"] == "Maya Chen" and rows[0]["offset_ms"] == 9000
        )  # recording starts 1 s in
        assert "Tickets are down twelve percent" in local(result["paths"]["txt"]).read_text()
        assert local(result["paths"]["vtt"]).read_text().startswith("WEBVTT")
        assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
            "transcript.json",
            "transcript.srt",
            "transcript.txt",
            "transcript.vtt",
        ]

    def test_not_ready(self, attendee_simulator, context, tmp_path):
        bot = AttendeeHook().create_bot(DEMO_MEETING, bot_name="Notes")
        attendee_simulator.admin.advance(60)
        with pytest.raises(AttendeeTranscriptNotReadyError, match="is in_progress"):
            AttendeeTranscriptOperator(task_id="t", bot_id=bot.id, destination=str(tmp_path)).execute(context)
        partial = AttendeeTranscriptOperator(
            task_id="t", bot_id=bot.id, destination=str(tmp_path), allow_incomplete=True
        ).execute(context)
        assert partial["utterances"] >= 1

    def test_unwritable_destination_leaves_nothing(self, finished_bot, context, tmp_path):
        blocker = tmp_path / "file"
        blocker.write_text("not a folder")
        with pytest.raises(AttendeeDestinationError, match="Cannot write"):
            AttendeeTranscriptOperator(
                task_id="t", bot_id=finished_bot, destination=str(blocker / "sub")
            ).execute(context)
        assert blocker.read_text() == "not a folder"

    @pytest.mark.parametrize(
        ("executor", "warned"),
        [("LocalExecutor", False), ("CeleryExecutor", True), ("LocalExecutor,KubernetesExecutor", True)],
    )
    def test_default_destination(self, finished_bot, context, monkeypatch, tmp_path, executor, warned):
        """Local disk by default; with an executor that runs tasks on other machines, a warning says so."""
        monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path))
        monkeypatch.setenv("AIRFLOW__CORE__EXECUTOR", executor)
        operator = AttendeeTranscriptOperator(task_id="t", bot_id=finished_bot)
        with patch.object(operator.log, "warning") as warning:
            result = operator.execute(context)
        assert local(result["paths"]["json"]).is_relative_to(tmp_path / "attendee" / "test_dag")
        assert warning.called is warned
        if warned:
            assert "shared storage" in warning.call_args.args[0] and executor in warning.call_args.args

    def test_bad_format(self):
        from airflow_provider_attendee.exceptions import AttendeeConfigurationError

        with pytest.raises(AttendeeConfigurationError, match="Unknown transcript format"):
            AttendeeTranscriptOperator(task_id="t", bot_id="b", formats=["docx"])


def test_recording_streams_a_real_file(finished_bot, context, tmp_path):
    result = AttendeeRecordingOperator(task_id="r", bot_id=finished_bot, destination=str(tmp_path)).execute(
        context
    )
    path = local(result["path"])
    assert path.name == "recording.wav" and path.stat().st_size == result["bytes"]
    with wave.open(str(path)) as audio:
        assert audio.getnframes() / audio.getframerate() == pytest.approx((720 - 1) / 60, abs=0.01)
    assert not list(tmp_path.glob("*.partial"))


def test_recording_missing_fails_without_retry_or_is_skipped(attendee_simulator, context, tmp_path):
    attendee_simulator.admin.reset("demo", time_scale=0)
    bot = AttendeeHook().create_bot(DEMO_MEETING, bot_name="Notes", recording_settings={"format": "none"})
    attendee_simulator.admin.advance(800)

    def recording(**kwargs):
        return AttendeeRecordingOperator(task_id="r", bot_id=bot.id, destination=str(tmp_path), **kwargs)

    with pytest.raises(AttendeeRecordingMissingError) as failed:
        recording().execute(context)
    assert isinstance(failed.value, AirflowFailException)  # Airflow never retries it
    skipped = recording(if_missing="skip").execute(context)
    assert skipped == {
        "bot_id": bot.id,
        "path": None,
        "bytes": 0,
        "missing": "No recording file found for bot",
    }
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(AttendeeConfigurationError, match="if_missing"):
        recording(if_missing="ignore").execute(context)
    # Without a recording file the transcript's offsets count from the bot's join (Maya spoke at 10 s).
    transcript = AttendeeTranscriptOperator(
        task_id="t", bot_id=bot.id, destination=str(tmp_path), formats=["txt"]
    ).execute(context)
    first_line = local(transcript["paths"]["txt"]).read_text().splitlines()[0]
    assert first_line.startswith("[00:00:10] Maya Chen:")


def test_participant_report_is_the_same_from_speech_events_or_transcript(
    attendee_simulator, context, tmp_path
):
    """A bot the create operator made (speech events asked for by default) and one with the server's default
    settings (no speech events): the same figures, from the two sources."""
    attendee_simulator.admin.reset("demo", time_scale=0)
    with_events = AttendeeCreateBotOperator(task_id="c", meeting_url=DEMO_MEETING, bot_name="Notes").execute(
        context
    )
    default = AttendeeHook().create_bot(DEMO_MEETING, bot_name="Notes").id
    attendee_simulator.admin.advance(800)
    reports = {}
    for bot_id in (with_events, default):
        result = AttendeeParticipantReportOperator(
            task_id="p", bot_id=bot_id, destination=str(tmp_path / bot_id), chart=False
        ).execute(context)
        reports[bot_id] = json.loads(local(result["paths"]["json"]).read_text())
    assert [reports[b]["speaking_source"] for b in (with_events, default)] == ["speech_events", "transcript"]

    def figures(report):
        return {
            p["name"]: (p["present_seconds"], p["speaking_seconds"], p["speaking_turns"])
            for p in report["participants"]
        }

    assert figures(reports[with_events]) == figures(reports[default])
    assert figures(reports[default])["Maya Chen"] == (660, 72, 4)


def test_participant_report_matches_the_scenario(finished_bot, context, tmp_path):
    result = AttendeeParticipantReportOperator(
        task_id="p", bot_id=finished_bot, destination=str(tmp_path), title="Weekly product sync"
    ).execute(context)
    report = json.loads(local(result["paths"]["json"]).read_text())
    people = {p["name"]: p for p in report["participants"]}
    # Ground truth from the demo scenario (seconds after the bot was admitted).
    assert people["Maya Chen"]["present_seconds"] == 660 and people["Maya Chen"]["speaking_seconds"] == 72
    assert people["Tom Okafor"]["speaking_seconds"] == 58 and people["Tom Okafor"]["speaking_turns"] == 2
    assert people["Priya Raman"]["present_seconds"] == 620 and people["Priya Raman"]["speaking_seconds"] == 67
    assert people["Sofia Alvarez"]["present_seconds"] == 260 and people["Sofia Alvarez"]["first_join"]
    assert report["duration_seconds"] == 720 and report["peak_concurrent"] == 5
    assert report["total_speaking_seconds"] == 72 + 58 + 67 + 30 + 35
    assert result["headline"]["top_speaker"] == "Maya Chen"
    rows = list(csv.DictReader(io.StringIO(local(result["paths"]["csv"]).read_text())))
    assert len(rows) == 5
    assert "| Maya Chen (host) | 11:00 | 1:12 |" in local(result["paths"]["markdown"]).read_text()
    if "chart" in result["paths"]:
        assert local(result["paths"]["chart"]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    else:
        pytest.importorskip("matplotlib")
    assert os.path.exists(local(result["paths"]["json"]))


def test_report_without_matplotlib(finished_bot, context, tmp_path, monkeypatch, capfd):
    import builtins

    real_import = builtins.__import__

    def no_matplotlib(name, *args, **kwargs):
        if name.startswith("matplotlib"):
            raise ImportError("no matplotlib")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    result = AttendeeParticipantReportOperator(
        task_id="p", bot_id=finished_bot, destination=str(tmp_path)
    ).execute(context)
    output = "".join(capfd.readouterr())
    assert "chart" not in result["paths"] and "matplotlib is not installed" in output


SILENT_MEETING = "https://meet.google.com/sil-entm-eet"
EMPTY_MEETING = "https://meet.google.com/nob-odyc-ame"
QUIET_SCENARIO = {
    "name": "quiet",
    "meetings": [
        # Two people come and go, nobody says a word.
        {
            "meeting_url": SILENT_MEETING,
            "participants": [
                {"name": "Ana Ruiz", "presence": [{"join": 0, "leave": 300}]},
                {"name": "Ben Cole", "presence": [{"join": 30, "leave": 240}]},
            ],
        },
        # Nobody comes; the meeting ends after ten minutes.
        {"meeting_url": EMPTY_MEETING, "ends_after_seconds": 600},
    ],
}


class TestNothingTranscribed:
    """A bot that finished with nothing transcribed keeps ``transcription_state: not_started`` for good
    (BEHAVIOUR.md): the empty transcript is the outcome, written at once, never retried."""

    @pytest.fixture
    def quiet(self, attendee_simulator):
        attendee_simulator.admin.reset(QUIET_SCENARIO, time_scale=0)
        return attendee_simulator.admin

    @pytest.mark.parametrize("meeting", [SILENT_MEETING, EMPTY_MEETING])
    def test_empty_transcript_in_every_format(self, quiet, context, tmp_path, meeting):
        bot = AttendeeCreateBotOperator(task_id="c", meeting_url=meeting, bot_name="Notes").execute(context)
        quiet.advance(1200)
        finished = AttendeeHook().get_bot(bot)
        assert (finished.state, finished.transcription_state) == ("ended", "not_started")
        result = AttendeeTranscriptOperator(
            task_id="t", bot_id=bot, destination=str(tmp_path), formats="json, txt, vtt, srt"
        ).execute(context)
        assert result["note"] == "nothing_transcribed"
        assert (result["utterances"], result["speakers"], result["transcription_state"]) == (
            0,
            [],
            "not_started",
        )
        files = {kind: local(path).read_text() for kind, path in result["paths"].items()}
        assert files == {"json": "[]\n", "txt": "", "vtt": "WEBVTT\n\n", "srt": ""}

    def test_report_says_nothing_was_transcribed(self, quiet, context, tmp_path):
        bot = AttendeeCreateBotOperator(task_id="c", meeting_url=SILENT_MEETING, bot_name="Notes").execute(
            context
        )
        quiet.advance(1200)
        result = AttendeeParticipantReportOperator(
            task_id="p", bot_id=bot, destination=str(tmp_path), chart=False
        ).execute(context)
        report = json.loads(local(result["paths"]["json"]).read_text())
        assert {p["name"]: (p["present_seconds"], p["speaking_seconds"]) for p in report["participants"]} == {
            "Ana Ruiz": (300, 0),
            "Ben Cole": (210, 0),
        }
        assert report["speaking_source"] == "transcript"
        assert [note for note in report["notes"] if note.startswith("Nothing was transcribed")]
        assert "Nothing was transcribed" in local(result["paths"]["markdown"]).read_text()

    def test_transcript_sensor_ends_on_a_silent_meeting(self, quiet, context):
        from airflow_provider_attendee.sensors.attendee import AttendeeTranscriptReadySensor

        bot = AttendeeHook().create_bot(SILENT_MEETING, bot_name="Notes").id
        sensor = AttendeeTranscriptReadySensor(task_id="s", bot_id=bot)
        assert sensor.check(context) is None  # still in the meeting: wait
        quiet.advance(1200)
        assert sensor.check(context) == {
            "bot_id": bot,
            "state": "ended",
            "transcription_state": "not_started",
            "recording_state": "complete",
        }

    def test_a_bot_that_never_got_in_has_an_empty_transcript(self, attendee_simulator, context, tmp_path):
        attendee_simulator.admin.reset("demo", time_scale=0)
        bot = AttendeeHook().create_bot(DEMO_MEETING, bot_name="Notes").id
        attendee_simulator.admin.fail_bot(bot)  # before it joined: nothing transcribed
        result = AttendeeTranscriptOperator(task_id="t", bot_id=bot, destination=str(tmp_path)).execute(
            context
        )
        assert (result["note"], result["utterances"]) == ("nothing_transcribed", 0)
