"""The ``[attendee]`` options: parsed as documented, and every one of them in the event-driven page's table
with its default."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

from airflow_provider_attendee.plugins.event_settings import OPTIONS, read_settings

DOCS = Path(__file__).resolve().parents[2] / "docs" / "event-driven.md"


def test_every_option_is_in_the_docs_table_with_its_default():
    rows = {
        match.group(1): match.group(2)
        for match in re.finditer(r"^\| `(\w+)` \| (.*?) \|", DOCS.read_text(), flags=re.MULTILINE)
    }
    for name, (default, _) in OPTIONS.items():
        assert name in rows, name
        assert rows[name] == (f"`{default}`" if default else "empty"), (name, rows[name])


def test_the_lookback_defaults_to_an_hour_and_is_capped_at_the_retention(monkeypatch):
    assert read_settings().catch_up_lookback == timedelta(hours=1)
    monkeypatch.setenv("AIRFLOW__ATTENDEE__CATCH_UP_LOOKBACK", "0")
    assert read_settings().catch_up_lookback == timedelta(0)
    monkeypatch.setenv("AIRFLOW__ATTENDEE__CATCH_UP_LOOKBACK", "-5")
    assert read_settings().catch_up_lookback == timedelta(0)
    # Beyond the retention, a pushed meeting's record is pruned: it could be emitted a second time.
    monkeypatch.setenv("AIRFLOW__ATTENDEE__CATCH_UP_LOOKBACK", str(10 * 86400))
    monkeypatch.setenv("AIRFLOW__ATTENDEE__DELIVERY_RETENTION_DAYS", "3")
    assert read_settings().catch_up_lookback == timedelta(days=3)
