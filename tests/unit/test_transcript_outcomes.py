"""The transcript operator on each finished bot's transcript state (HTTP mocked with respx): what is an
outcome (an empty transcript), what is retried, what fails at once."""

from __future__ import annotations

import json

import pytest
import respx

from airflow_provider_attendee._compat import AirflowFailException
from airflow_provider_attendee.exceptions import AttendeeBotFailedError, AttendeeTranscriptNotReadyError
from airflow_provider_attendee.operators.outputs import AttendeeTranscriptOperator
from tests.operators.conftest import FakeTaskInstance
from tests.unit.conftest import API, bot

EVENTS = [
    {"type": "join_requested", "created_at": "2026-01-01T10:00:00Z"},
    {"type": "joined_meeting", "created_at": "2026-01-01T10:00:05Z"},
    {"type": "meeting_ended", "created_at": "2026-01-01T10:30:00Z"},
    {"type": "post_processing_completed", "created_at": "2026-01-01T10:30:05Z"},
]
UTTERANCE = {
    "speaker_name": "Ana",
    "speaker_uuid": "u-ana",
    "speaker_user_uuid": None,
    "speaker_is_host": False,
    "timestamp_ms": 1767261610000,
    "duration_ms": 2000,
    "transcription": {"transcript": "Hello"},
}


def run(tmp_path, state: str, transcription: str | None, **options):
    with respx.mock(assert_all_called=False) as api:
        api.get(f"{API}/bots/bot_1").respond(
            json=bot(state=state, transcription_state=transcription, recording_state="failed", events=EVENTS)
        )
        transcript = api.get(f"{API}/bots/bot_1/transcript").respond(json=[UTTERANCE])
        api.get(f"{API}/bots/bot_1/recording").respond(404, json={"error": "No recording file found for bot"})
        operator = AttendeeTranscriptOperator(
            task_id="t", bot_id="bot_1", destination=str(tmp_path), formats=["json", "vtt"], **options
        )
        try:
            return operator.execute({"ti": FakeTaskInstance()}), transcript.call_count
        except Exception as err:
            err.transcript_reads = transcript.call_count  # type: ignore[attr-defined]
            raise


@pytest.mark.parametrize(
    ("state", "transcription"), [("ended", "not_started"), ("fatal_error", "not_started"), ("ended", None)]
)
def test_nothing_transcribed_is_an_empty_transcript(attendee_conn, tmp_path, state, transcription):
    result, reads = run(tmp_path, state, transcription)
    assert (result["note"], result["utterances"], result["transcription_state"], reads) == (
        "nothing_transcribed",
        0,
        transcription,
        0,  # the transcript is not read: it is final and empty
    )
    assert json.loads((tmp_path / "transcript.json").read_text()) == []
    assert (tmp_path / "transcript.vtt").read_text() == "WEBVTT\n\n"


@pytest.mark.parametrize(
    ("state", "transcription"), [("ended", "failed"), ("fatal_error", "failed"), ("data_deleted", "complete")]
)
def test_a_transcript_that_will_never_come_fails_without_retries(
    attendee_conn, tmp_path, state, transcription
):
    with pytest.raises(AttendeeBotFailedError, match="will never be complete") as raised:
        run(tmp_path, state, transcription)
    assert isinstance(raised.value, AirflowFailException)
    assert list(tmp_path.iterdir()) == []


def test_a_failed_transcription_can_be_taken_as_it_is(attendee_conn, tmp_path):
    result, reads = run(tmp_path, "ended", "failed", allow_incomplete=True)
    assert (result["note"], result["utterances"], reads) == ("incomplete", 1, 1)


@pytest.mark.parametrize(
    ("state", "transcription"),
    [("post_processing", "in_progress"), ("ended", "in_progress"), ("joined_recording", "not_started")],
)
def test_a_transcript_that_may_still_come_is_retried(attendee_conn, tmp_path, state, transcription):
    with pytest.raises(AttendeeTranscriptNotReadyError) as raised:
        run(tmp_path, state, transcription)
    assert not isinstance(raised.value, AirflowFailException)


def test_complete(attendee_conn, tmp_path):
    result, reads = run(tmp_path, "ended", "complete")
    assert (result["note"], result["utterances"], result["speakers"], reads) == (None, 1, ["Ana"], 1)
    assert (
        json.loads((tmp_path / "transcript.json").read_text())[0]["offset_ms"]
        == 1767261610000 - 1767261605000
    )
