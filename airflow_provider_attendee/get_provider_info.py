"""Provider metadata read by Airflow's ProvidersManager (entry point ``apache_airflow_provider``).

Kept free of imports so the UI can render the connection form without importing the hook.
"""

from __future__ import annotations

from typing import Any

from airflow_provider_attendee import __version__

DEFAULT_BASE_URL = "https://app.attendee.dev"


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
                "conn-fields": {
                    "timeout": {
                        "label": "Request timeout (seconds)",
                        "schema": {"type": ["number", "null"], "default": 30},
                    },
                    "max_retries": {
                        "label": "Max retries",
                        "description": "Retries for connect errors, timeouts, 429 and 500/502/503/504 (POSTs only when safe).",
                        "schema": {"type": ["integer", "null"], "default": 5, "minimum": 0},
                    },
                    "retry_backoff": {
                        "label": "Retry backoff (seconds)",
                        "description": "First wait between retries; doubles each time, with jitter.",
                        "schema": {"type": ["number", "null"], "default": 1.0, "minimum": 0},
                    },
                    "max_retry_time": {
                        "label": "Max total retry time (seconds)",
                        "schema": {"type": ["number", "null"], "default": 120, "minimum": 0},
                    },
                    "project_id": {
                        "label": "Project id",
                        "description": "Attendee project (proj_...), for links to bots in the dashboard.",
                        "schema": {"type": ["string", "null"]},
                    },
                    "webhook_secret": {
                        "label": "Webhook secret",
                        "description": "The project's webhook secret (Attendee: Settings > Webhooks), to verify "
                        "deliveries to /attendee/webhooks on the Airflow API server.",
                        "schema": {"type": ["string", "null"], "format": "password"},
                    },
                    "max_concurrency": {
                        "label": "Max concurrent requests",
                        "description": "Connection pool size and concurrency limit of the async client.",
                        "schema": {"type": ["integer", "null"], "default": 8, "minimum": 1},
                    },
                },
                "ui-field-behaviour": {
                    # One place for the port: in the URL (a separate Port field still works in URIs).
                    "hidden-fields": ["schema", "login", "extra", "port"],
                    "relabeling": {"host": "Attendee URL", "password": "API key"},
                    "placeholders": {
                        "host": DEFAULT_BASE_URL,
                        "password": "Attendee API key (Settings > API Keys)",
                    },
                },
            }
        ],
    }
