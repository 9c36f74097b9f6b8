"""The bot settings the provider's operators ask for, merged under the user's own (pure, no Airflow).

A real Attendee bot records speech_start/speech_stop participant events only when it is created with
``recording_settings.record_participant_speech_start_stop_events: true`` (the server's default is false;
``recording_settings`` rejects unknown keys with a 400). The create and calendar operators ask for them by
default, so the participant report measures speaking time from the platform's speech events.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

SPEECH_EVENTS_KEY = "record_participant_speech_start_stop_events"
#: What the report needs from a bot, as bot settings.
REPORT_SETTINGS: dict[str, Any] = {"recording_settings": {SPEECH_EVENTS_KEY: True}}


def merge_defaults(defaults: Mapping[str, Any], given: Mapping[str, Any] | None) -> dict[str, Any]:
    """``given`` with ``defaults`` filled in, recursively into objects: a value given (not None) always wins."""
    merged = dict(given or {})
    for key, default in defaults.items():
        value = merged.get(key)
        if value is None:
            merged[key] = copy.deepcopy(default)
        elif isinstance(value, Mapping) and isinstance(default, Mapping):
            merged[key] = merge_defaults(default, value)
    return merged


def with_report_settings(bot_settings: Mapping[str, Any] | None, enabled: bool = True) -> dict[str, Any]:
    """The user's ``bot_settings`` plus speech events (unless ``enabled`` is False or the user set the key)."""
    return merge_defaults(REPORT_SETTINGS, bot_settings) if enabled else dict(bot_settings or {})
