"""Registration with Airflow: entry point, provider info and the connection form metadata."""

from __future__ import annotations

import os
import subprocess
import sys
from importlib.metadata import entry_points

from airflow_provider_attendee import __version__
from airflow_provider_attendee.get_provider_info import get_provider_info


def test_entry_point_is_registered():
    (point,) = [
        p
        for p in entry_points(group="apache_airflow_provider")
        if p.value.startswith("airflow_provider_attendee")
    ]
    assert point.load() is get_provider_info


def test_provider_info_describes_the_connection_form():
    info = get_provider_info()
    assert info["package-name"] == "airflow-provider-attendee"
    assert info["versions"] == [__version__]
    (conn,) = info["connection-types"]
    assert conn["connection-type"] == "attendee"
    assert conn["hook-class-name"] == "airflow_provider_attendee.hooks.attendee.AttendeeHook"
    behaviour = conn["ui-field-behaviour"]
    assert behaviour["relabeling"] == {
        "host": "Attendee URL",
        "password": "API key",
        "port": "Port (optional)",
    }
    # Standard fields take no help text in Airflow's form: their placeholders say what to enter.
    assert behaviour["placeholders"]["host"].startswith("https://app.attendee.dev (https:// may be left out")
    assert "plain http needs http://" in behaviour["placeholders"]["host"]
    assert "API Keys" in behaviour["placeholders"]["password"]
    assert {"schema", "login"} <= set(behaviour["hidden-fields"])
    assert "port" not in behaviour["hidden-fields"]  # a stored port makes Airflow 3.3's row Test button work
    assert set(conn["conn-fields"]) == {
        "timeout",
        "max_retries",
        "retry_backoff",
        "max_retry_time",
        "max_concurrency",
        "project_id",
        "webhook_secret",
    }
    assert conn["conn-fields"]["webhook_secret"]["schema"]["format"] == "password"  # masked in the form
    for name, field in conn["conn-fields"].items():
        assert field["label"] and len(field["description"]) > 30, name  # every field has a help text
        # A schema default would be saved into every new connection's extra (Airflow's form writes it).
        assert "default" not in field["schema"], name
    assert info["extra-links"] == ["airflow_provider_attendee.links.AttendeeBotLink"]


def test_provider_info_module_imports_nothing_heavy():
    code = "import sys, airflow_provider_attendee.get_provider_info as m; m.get_provider_info(); print('airflow' in sys.modules, 'httpx' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    assert out == ["False", "False"]


def test_airflow_cli_lists_provider_and_connection_type():
    env = {**os.environ, "AIRFLOW__LOGGING__LOGGING_LEVEL": "ERROR"}
    airflow = [sys.executable, "-m", "airflow"]
    providers = subprocess.run(
        [*airflow, "providers", "list", "-o", "plain"], capture_output=True, text=True, env=env
    )
    assert "airflow-provider-attendee" in providers.stdout, providers.stderr[-2000:]
    hooks = subprocess.run(
        [*airflow, "providers", "hooks", "-o", "plain"], capture_output=True, text=True, env=env
    )
    assert "attendee" in hooks.stdout and "AttendeeHook" in hooks.stdout, hooks.stderr[-2000:]


def test_pytest_plugin_and_simulator_do_not_import_airflow():
    """The plugin loads before any conftest configures Airflow (AIRFLOW_HOME...): it must not import it."""
    code = (
        "import sys, airflow_provider_attendee.testing.pytest_plugin;"
        "from airflow_provider_attendee.testing import start_simulator;"
        "import airflow_provider_attendee.testing.simulator.app;"
        "print('airflow' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    assert out == ["False"]
