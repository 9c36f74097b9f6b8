"""Typed models of the Attendee API's JSON (pydantic v2).

Unknown fields are kept (the API grows), fields the real server returns as null are optional even where
openapi.yml says otherwise, and every timestamp becomes a timezone-aware UTC datetime.
"""

from __future__ import annotations

from datetime import datetime, timezone
from enum import Enum
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from airflow_provider_attendee.client import states
from airflow_provider_attendee.client.names import display_name


def _as_utc(value: datetime) -> datetime:
    """Naive timestamps are UTC on the Attendee server; make them aware."""
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value


UtcDatetime = Annotated[datetime, AfterValidator(_as_utc)]


class _StrEnum(str, Enum):
    """A str enum whose str() is its value (enum.StrEnum needs Python 3.11)."""

    def __str__(self) -> str:
        return str(self.value)


class BotState(_StrEnum):
    """The states the server knows (:data:`~airflow_provider_attendee.client.states.BOT_STATES`)."""

    READY = "ready"
    JOINING = "joining"
    JOINED_NOT_RECORDING = "joined_not_recording"
    JOINED_RECORDING = "joined_recording"
    LEAVING = "leaving"
    POST_PROCESSING = "post_processing"
    FATAL_ERROR = "fatal_error"
    WAITING_ROOM = "waiting_room"
    ENDED = "ended"
    DATA_DELETED = "data_deleted"
    SCHEDULED = "scheduled"
    STAGED = "staged"
    JOINED_RECORDING_PAUSED = "joined_recording_paused"
    JOINING_BREAKOUT_ROOM = "joining_breakout_room"
    LEAVING_BREAKOUT_ROOM = "leaving_breakout_room"
    JOINED_RECORDING_PERMISSION_DENIED = "joined_recording_permission_denied"
    CONNECTING = "connecting"
    CONNECTED = "connected"
    DISCONNECTING = "disconnecting"

    @classmethod
    def parse(cls, value: str | BotState) -> BotState:
        """Turn a user-given state name into a BotState, with an error that lists the valid names."""
        return cls(states.parse_state(value))


class TranscriptionState(_StrEnum):
    """Values of a bot's ``transcription_state`` (null for a bot without a default recording)."""

    NOT_STARTED = "not_started"
    IN_PROGRESS = "in_progress"
    COMPLETE = "complete"
    FAILED = "failed"


class RecordingState(_StrEnum):
    """Values of a bot's ``recording_state`` (null for a bot without a default recording)."""

    NOT_STARTED = "not_started"
    IN_PROGRESS = "in_progress"
    COMPLETE = "complete"
    FAILED = "failed"
    PAUSED = "paused"


class ParticipantEventType(_StrEnum):
    """The participant event types the docs list; the server may send others (e.g. ``update``)."""

    JOIN = "join"
    LEAVE = "leave"
    SPEECH_START = "speech_start"
    SPEECH_STOP = "speech_stop"
    UPDATE = "update"


class AttendeeModel(BaseModel):
    """Base of every model: tolerant of new fields, compared by value."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)


class BotEvent(AttendeeModel):
    """One entry of a bot's ``events`` history: ``type`` is an API code such as ``joined_meeting`` (see
    :data:`airflow_provider_attendee.client.states.EVENT_TYPES`); unknown codes are kept as they come."""

    type: str
    sub_type: str | None = None
    created_at: UtcDatetime


class Bot(AttendeeModel):
    """A bot as the API serves it.

    States are kept as the server's strings (a state, or a transcription or recording state, that a newer
    server adds never breaks parsing); compare them with :class:`BotState` members or the groups in
    :mod:`airflow_provider_attendee.client.states`. ``transcription_state`` and ``recording_state`` are null for
    a bot without a default recording.
    """

    id: str
    meeting_url: str
    state: str
    events: list[BotEvent] = Field(default_factory=list)
    transcription_state: str | None = None
    recording_state: str | None = None
    join_at: UtcDatetime | None = None
    metadata: dict[str, Any] | None = None
    deduplication_key: str | None = None

    @property
    def last_event(self) -> BotEvent | None:
        return self.events[-1] if self.events else None

    @property
    def is_terminal(self) -> bool:
        """True once the bot is finished and will never change state again (but data deletion)."""
        return self.state in states.TERMINAL

    @property
    def is_in_meeting(self) -> bool:
        """True while the bot is in (or entering) the meeting, i.e. while ``leave`` is allowed."""
        return self.state in states.IN_MEETING


class Participant(AttendeeModel):
    """A person the bot saw; ``name`` is null when the meeting gave no display name."""

    id: str
    name: str | None = None
    uuid: str
    user_uuid: str | None = None
    is_host: bool = False

    @property
    def display_name(self) -> str:
        return display_name(self.name, self.uuid)


class ParticipantEvent(AttendeeModel):
    """A join, leave, speech_start or speech_stop (unknown types are kept as plain strings)."""

    id: str
    participant_name: str | None = None
    participant_uuid: str
    participant_user_uuid: str | None = None
    participant_is_host: bool = False
    event_type: str
    event_data: Any = None
    timestamp_ms: int

    @property
    def display_name(self) -> str:
        return display_name(self.participant_name, self.participant_uuid)


class TranscriptionText(AttendeeModel):
    transcript: str = ""
    words: list[dict[str, Any]] | None = None


class TranscriptUtterance(AttendeeModel):
    """One utterance; ``speaker_name`` is null for a speaker without a display name."""

    speaker_name: str | None = None
    speaker_uuid: str
    speaker_user_uuid: str | None = None
    speaker_is_host: bool = False
    timestamp_ms: int
    duration_ms: int
    transcription: TranscriptionText | None = None

    @property
    def display_name(self) -> str:
        return display_name(self.speaker_name, self.speaker_uuid)

    @property
    def text(self) -> str:
        return self.transcription.transcript if self.transcription else ""


class Recording(AttendeeModel):
    url: str
    start_timestamp_ms: int | None = None


class Calendar(AttendeeModel):
    id: str
    platform: str
    client_id: str | None = None
    platform_uuid: str | None = None
    state: str
    metadata: dict[str, Any] | None = None
    deduplication_key: str | None = None
    connection_failure_data: Any = None
    created_at: UtcDatetime
    updated_at: UtcDatetime
    last_successful_sync_at: UtcDatetime | None = None
    last_attempted_sync_at: UtcDatetime | None = None


class CalendarAttendee(AttendeeModel):
    email: str | None = None
    name: str | None = None


class CalendarEvent(AttendeeModel):
    id: str
    calendar_id: str
    platform_uuid: str | None = None
    meeting_url: str | None = None
    start_time: UtcDatetime
    end_time: UtcDatetime
    is_deleted: bool = False
    attendees: list[CalendarAttendee] | None = None
    ical_uid: str | None = None
    name: str | None = None
    raw: Any = None
    bots: list[Bot] = Field(default_factory=list)
    created_at: UtcDatetime | None = None
    updated_at: UtcDatetime | None = None


class ChatMessage(AttendeeModel):
    id: str
    text: str
    timestamp_ms: int
    timestamp: int | None = None
    to: str | None = None
    sender_name: str | None = None
    sender_uuid: str
    sender_user_uuid: str | None = None
    additional_data: Any = None

    @property
    def display_name(self) -> str:
        return display_name(self.sender_name, self.sender_uuid)
