"""Exceptions raised by the Attendee provider in Airflow: one family under ``AirflowException``.

Each class is the Airflow twin of the error of the same name in ``airflow_provider_attendee.client.errors``
(the meaning of each is written there): a subclass of it, of the twin of its parent, and of
``AirflowException``; the permanent ones (a retry cannot help) are also ``AirflowFailException``, so
Airflow fails the task without retries. The client and the meeting logic import no Airflow, so they raise
the plain errors; importing this module (the hook, operators, sensors, triggers and plugin all do) registers
the twins, and from then on every error they raise is created as its twin. ``except`` clauses here and in
DAGs may use either family: a twin is an instance of both.
"""

from __future__ import annotations

from airflow_provider_attendee._compat import AirflowException, AirflowFailException
from airflow_provider_attendee.client import errors
from airflow_provider_attendee.client.errors import as_sentence, describe_error_body, error_for_status


class AttendeeError(errors.AttendeeError, AirflowException):
    """Base class of every error raised by this provider."""


class AttendeeConfigurationError(errors.AttendeeConfigurationError, AttendeeError):
    """The Airflow connection or an argument is unusable (bad URL, missing key, invalid value)."""


class AttendeeConnectionError(errors.AttendeeConnectionError, AttendeeError):
    """The Attendee server could not be reached (DNS, refused, reset, timeout) after all retries."""


class AttendeeUnexpectedResponseError(errors.AttendeeUnexpectedResponseError, AttendeeError):
    """The server answered with something that is not the Attendee API (wrong host, proxy page)."""


class AttendeeAPIError(errors.AttendeeAPIError, AttendeeError):
    """The Attendee API answered with an HTTP error status."""


class AttendeeAuthenticationError(errors.AttendeeAuthenticationError, AttendeeAPIError):
    """401/403: the API key is missing, wrong or disabled."""


class AttendeeNotFoundError(errors.AttendeeNotFoundError, AttendeeAPIError):
    """404: the bot, calendar or path does not exist (or belongs to another project)."""


class AttendeeRecordingMissingError(
    errors.AttendeeRecordingMissingError, AttendeeNotFoundError, AirflowFailException
):
    """404 on ``/recording`` for a bot that exists but has no recording file (never retried)."""


class AttendeeInvalidRequestError(errors.AttendeeInvalidRequestError, AttendeeAPIError):
    """400: the server rejected the request's fields (see ``field_errors``)."""


class AttendeeInvalidStateError(errors.AttendeeInvalidStateError, AttendeeInvalidRequestError):
    """400: the call is not allowed in the bot's current state."""


class AttendeeDeduplicationKeyInUseError(
    errors.AttendeeDeduplicationKeyInUseError, AttendeeInvalidRequestError
):
    """400: a bot with this deduplication key is still live."""


class AttendeeRateLimitError(errors.AttendeeRateLimitError, AttendeeAPIError):
    """429: too many requests; ``retry_after`` holds the seconds the server asked to wait, if given."""


class AttendeeServerError(errors.AttendeeServerError, AttendeeAPIError):
    """5xx: the Attendee server failed; usually transient."""


class AttendeeBotFailedError(errors.AttendeeBotFailedError, AttendeeError, AirflowFailException):
    """The bot reached a state where the awaited condition can never be met (never retried)."""


class AttendeeTranscriptNotReadyError(errors.AttendeeTranscriptNotReadyError, AttendeeError):
    """The transcript is not complete yet (retry later, or allow an incomplete transcript)."""


class AttendeeDestinationError(errors.AttendeeDestinationError, AttendeeError):
    """A result could not be written to the destination (not writable, unknown scheme, size mismatch)."""


class AttendeeCalendarSyncError(errors.AttendeeCalendarSyncError, AttendeeError):
    """Some calendar events could not be reconciled; the others were."""


class AttendeeTablesError(errors.AttendeeTablesError, AttendeeError):
    """Writing or reading the meeting tables failed in the database (retried: usually transient)."""


class AttendeeTablesConfigurationError(
    errors.AttendeeTablesConfigurationError, AttendeeConfigurationError, AirflowFailException
):
    """The meeting tables cannot be used as configured (never retried)."""


errors.register_twins({error: globals()[error.__name__] for error in errors.ERRORS})

__all__ = [
    "AttendeeAPIError",
    "AttendeeAuthenticationError",
    "AttendeeBotFailedError",
    "AttendeeCalendarSyncError",
    "AttendeeConfigurationError",
    "AttendeeConnectionError",
    "AttendeeDeduplicationKeyInUseError",
    "AttendeeDestinationError",
    "AttendeeError",
    "AttendeeInvalidRequestError",
    "AttendeeInvalidStateError",
    "AttendeeNotFoundError",
    "AttendeeRateLimitError",
    "AttendeeRecordingMissingError",
    "AttendeeServerError",
    "AttendeeTablesConfigurationError",
    "AttendeeTablesError",
    "AttendeeTranscriptNotReadyError",
    "AttendeeUnexpectedResponseError",
    "as_sentence",
    "describe_error_body",
    "error_for_status",
]
