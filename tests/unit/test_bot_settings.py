"""The bot settings the operators ask for: merged under the user's, never over a value the user set."""

from __future__ import annotations

import pytest

from airflow_provider_attendee.client.bot_settings import (
    REPORT_SETTINGS,
    merge_defaults,
    with_report_settings,
)

SPEECH = "record_participant_speech_start_stop_events"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (None, {"recording_settings": {SPEECH: True}}),
        ({}, {"recording_settings": {SPEECH: True}}),
        ({"recording_settings": None}, {"recording_settings": {SPEECH: True}}),  # None: not set
        (
            {"recording_settings": {"format": "mp3"}, "webhooks": [{"url": "https://x"}]},
            {"recording_settings": {"format": "mp3", SPEECH: True}, "webhooks": [{"url": "https://x"}]},
        ),
        ({"recording_settings": {SPEECH: False}}, {"recording_settings": {SPEECH: False}}),  # the user's
        ({"recording_settings": "{{ not rendered }}"}, {"recording_settings": "{{ not rendered }}"}),
    ],
)
def test_speech_events_are_merged_under_the_users_settings(given, expected):
    before = repr(given)
    assert with_report_settings(given) == expected
    assert repr(given) == before  # the operator's own argument is never changed


def test_opt_out_sends_the_settings_as_given():
    assert with_report_settings(None, enabled=False) == {}
    assert with_report_settings({"recording_settings": {"format": "none"}}, enabled=False) == {
        "recording_settings": {"format": "none"}
    }


def test_merge_is_recursive_and_never_shares_the_defaults():
    merged = merge_defaults({"a": {"b": {"c": 1, "d": 2}}}, {"a": {"b": {"c": 5}}})
    assert merged == {"a": {"b": {"c": 5, "d": 2}}}
    with_report_settings(None)["recording_settings"]["format"] = "none"
    assert REPORT_SETTINGS == {"recording_settings": {SPEECH: True}}
