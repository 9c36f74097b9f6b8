"""The API's bodies of a bot's content (participant events, participants, utterances, chat messages): one
shape for the list routes (``app``) and the webhooks that announce each item (``core``)."""

from __future__ import annotations

from typing import Any

from airflow_provider_attendee.testing.simulator.state import (
    ChatLine,
    ObservedEvent,
    Participant,
    Utterance,
    epoch_ms,
)


def participant_event_body(event: ObservedEvent) -> dict[str, Any]:
    """A participant event as ``GET /bots/{id}/participant_events`` lists it."""
    return {
        "id": event.id,
        "participant_name": event.participant.name,
        "participant_uuid": event.participant.uuid,
        "participant_user_uuid": event.participant.user_uuid,
        "participant_is_host": event.participant.is_host,
        "event_type": event.event_type,
        "event_data": event.event_data,
        "timestamp_ms": epoch_ms(event.timestamp),
    }


def participant_body(person: Participant) -> dict[str, Any]:
    """A participant as ``GET /bots/{id}/participants`` lists it."""
    return {
        "id": person.id,
        "name": person.name,
        "uuid": person.uuid,
        "user_uuid": person.user_uuid,
        "is_host": person.is_host,
    }


def utterance_body(utterance: Utterance) -> dict[str, Any]:
    """An utterance as ``GET /bots/{id}/transcript`` lists it."""
    return {
        "speaker_name": utterance.participant.name,
        "speaker_uuid": utterance.participant.uuid,
        "speaker_user_uuid": utterance.participant.user_uuid,
        "speaker_is_host": utterance.participant.is_host,
        "timestamp_ms": epoch_ms(utterance.start),
        "duration_ms": utterance.duration_ms,
        "transcription": utterance.transcription,
    }


def chat_body(line: ChatLine) -> dict[str, Any]:
    """A chat message as ``GET /bots/{id}/chat_messages`` lists it."""
    return {
        "id": line.id,
        "text": line.text,
        "timestamp_ms": epoch_ms(line.at),
        "timestamp": int(line.at.timestamp()),
        "to": line.to,
        "sender_name": line.participant.name,
        "sender_uuid": line.participant.uuid,
        "sender_user_uuid": line.participant.user_uuid,
        "additional_data": {},
    }
