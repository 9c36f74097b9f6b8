"""The client's errors and their Airflow twins: inside Airflow every error the client and the meeting logic
raise is an ``AirflowException`` (an ``AirflowFailException`` when permanent), and survives pickling."""

from __future__ import annotations

import pickle

import pytest

from airflow_provider_attendee import exceptions
from airflow_provider_attendee._compat import AirflowException, AirflowFailException
from airflow_provider_attendee.client import errors, states
from airflow_provider_attendee.meetings.arguments import validate_threshold

#: The errors a retry cannot fix: Airflow fails the task at once.
PERMANENT = {"AttendeeRecordingMissingError", "AttendeeBotFailedError", "AttendeeTablesConfigurationError"}


@pytest.mark.parametrize("error", errors.ERRORS, ids=lambda e: e.__name__)
def test_every_error_has_its_airflow_twin(error: type[errors.AttendeeError]) -> None:
    twin = getattr(exceptions, error.__name__)
    assert twin is not error and issubclass(twin, error) and issubclass(twin, AirflowException)
    assert issubclass(twin, AirflowFailException) == (error.__name__ in PERMANENT)
    for parent in error.__mro__[1:]:  # the twin family has the same shape as the client's
        if issubclass(parent, errors.AttendeeError):
            assert issubclass(twin, getattr(exceptions, parent.__name__))
    created = error("message", http_status=400)
    assert type(created) is twin and str(created) == "message" and created.http_status == 400


def test_the_list_of_errors_is_complete() -> None:
    defined = {
        value
        for value in vars(errors).values()
        if isinstance(value, type) and issubclass(value, errors.AttendeeError)
    }
    assert defined == set(errors.ERRORS)


def test_errors_raised_by_airflow_free_code_are_airflow_exceptions() -> None:
    with pytest.raises(exceptions.AttendeeConfigurationError) as info:
        states.parse_state("joined_recordin")
    assert isinstance(info.value, AirflowException) and isinstance(info.value, ValueError)
    assert "Did you mean 'joined_recording'?" in str(info.value)
    with pytest.raises(AirflowException):
        validate_threshold("two", ">=")


@pytest.mark.parametrize(
    ("status", "path", "body", "twin"),
    [
        (
            404,
            "/api/v1/bots/bot_x/recording",
            b'{"error": "No recording file found"}',
            "AttendeeRecordingMissingError",
        ),
        (400, "/api/v1/bots", b'{"join_at": ["must be in the future"]}', "AttendeeInvalidRequestError"),
        (429, "/api/v1/bots", b"", "AttendeeRateLimitError"),
    ],
)
def test_errors_round_trip_through_pickle(status: int, path: str, body: bytes, twin: str) -> None:
    """A trigger's errors cross process boundaries pickled: the class, message and fields come back."""
    error = errors.error_for_status(
        status_code=status,
        method="POST",
        path=path,
        body=body,
        content_type="application/json",
        conn_id="attendee_default",
        retry_after=3.0,
    )
    again = pickle.loads(pickle.dumps(error))
    assert type(again) is type(error) is getattr(exceptions, twin)
    assert str(again) == str(error) and again.args == error.args
    assert vars(again) == vars(error) and again.http_status == status and again.path == path
    if status == 400:
        assert again.field_errors == {"join_at": ["must be in the future"]}
    if status == 429:
        assert again.retry_after == 3.0
