"""Provider metadata read by Airflow's ProvidersManager (entry point ``apache_airflow_provider``).

Kept free of imports so the UI can render the connection form without importing the hook.
"""

from __future__ import annotations

from typing import Any

from airflow_provider_attendee import __version__
from airflow_provider_attendee.plugins.event_settings import provider_config

DEFAULT_BASE_URL = "https://app.attendee.dev"
HOST_PLACEHOLDER = f"{DEFAULT_BASE_URL} (https:// may be left out; plain http needs http://)"


def get_provider_info() -> dict[str, Any]:
    """Return the provider description: package, hooks, connection type and its UI form."""
    return {
        "package-name": "airflow-provider-attendee",
        "name": "Attendee",
        "description": "`Attendee <https://attendee.dev>`__: meeting bots for Zoom, Google Meet and "
        "Microsoft Teams that record, transcribe and report who joined and who spoke.",
        "versions": [__version__],
        "integrations": [
            {
                "integration-name": "Attendee",
                "external-doc-url": "https://docs.attendee.dev",
                "tags": ["service"],
            }
        ],
        "hooks": [
            {
                "integration-name": "Attendee",
                "python-modules": ["airflow_provider_attendee.hooks.attendee"],
            }
        ],
        "extra-links": ["airflow_provider_attendee.links.AttendeeBotLink"],
        # Airflow 3.2+ runs it on `airflow db migrate`; 3.1 when named in [database] external_db_managers.
        "db-managers": ["airflow_provider_attendee.db.manager.AttendeeDBManager"],
        "config": provider_config(),
        "operators": [
            {
                "integration-name": "Attendee",
                "python-modules": [
                    "airflow_provider_attendee.operators.bots",
                    "airflow_provider_attendee.operators.calendar",
                    "airflow_provider_attendee.operators.digest",
                    "airflow_provider_attendee.operators.outputs",
                ],
            }
        ],
        "sensors": [
            {"integration-name": "Attendee", "python-modules": ["airflow_provider_attendee.sensors.attendee"]}
        ],
        "triggers": [
            {
                "integration-name": "Attendee",
                "python-modules": ["airflow_provider_attendee.triggers.attendee"],
            }
        ],
        "connection-types": [
            {
                "connection-type": "attendee",
                "hook-class-name": "airflow_provider_attendee.hooks.attendee.AttendeeHook",
                "hook-name": "Attendee",
                # No "default" in the schemas: Airflow's form would save it into the extra, and a later change
                # of a default would never reach that connection. An empty field means the hook's default.
                "conn-fields": {
                    "timeout": {
                        "label": "Request timeout (seconds)",
                        "description": "How long one request to Attendee may take before it fails (and is retried). "
                        "Empty: 30.",
                        "schema": {"type": ["number", "null"], "minimum": 0.001},
                    },
                    "max_retries": {
                        "label": "Max retries",
                        "description": "Retries of connect errors, timeouts, 429 and 500/502/503/504 (a POST only "
                        "when it is safe). Empty: 5.",
                        "schema": {"type": ["integer", "null"], "minimum": 0},
                    },
                    "retry_backoff": {
                        "label": "Retry backoff (seconds)",
                        "description": "First wait between retries; doubles each time, with jitter. Empty: 1.",
                        "schema": {"type": ["number", "null"], "minimum": 0},
                    },
                    "max_retry_time": {
                        "label": "Max total retry time (seconds)",
                        "description": "Upper bound on the time one request spends on retries, waits included. "
                        "Empty: 120.",
                        "schema": {"type": ["number", "null"], "minimum": 0},
                    },
                    "project_id": {
                        "label": "Project id",
                        "description": "Your Attendee project's id (proj_..., in the dashboard's address: "
                        "/projects/proj_.../). With it, a task's \"Attendee bot\" link opens the bot's page in "
                        "the dashboard; without it, no link is shown.",
                        "schema": {"type": ["string", "null"]},
                    },
                    "webhook_secret": {
                        "label": "Webhook secret",
                        "description": "Only for webhooks (push): the project's webhook secret (Attendee "
                        "dashboard: Settings > Webhooks), which verifies deliveries to /attendee/webhooks on "
                        "the Airflow API server.",
                        "schema": {"type": ["string", "null"], "format": "password"},
                    },
                    "max_concurrency": {
                        "label": "Max concurrent requests",
                        "description": "Connection pool size and limit of concurrent requests of the async "
                        "client (all triggers of a triggerer share it). Empty: 8.",
                        "schema": {"type": ["integer", "null"], "minimum": 1},
                    },
                },
                "ui-field-behaviour": {
                    # Standard fields take no help text in Airflow's form, so their placeholders carry it.
                    "hidden-fields": ["schema", "login", "extra"],
                    "relabeling": {"host": "Attendee URL", "password": "API key", "port": "Port (optional)"},
                    "placeholders": {
                        "host": HOST_PLACEHOLDER,
                        "password": "Attendee dashboard: your project > API Keys > Create API Key",
                        "port": "e.g. 443: the connection list's Test button needs it (Airflow 3.3)",
                    },
                },
            }
        ],
    }
