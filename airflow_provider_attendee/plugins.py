"""The Airflow plugin (entry point ``airflow.plugins``) that serves the Attendee webhook receiver on the API
server under ``/attendee`` (see ``webhook_receiver``)."""

from __future__ import annotations

from typing import Any

from airflow.plugins_manager import AirflowPlugin


class AttendeeWebhooksPlugin(AirflowPlugin):
    """``POST /attendee/webhooks`` on the Airflow API server: Attendee webhooks become asset events."""

    name = "attendee_webhooks"

    @classmethod
    def on_load(cls, *args: Any, **kwargs: Any) -> None:
        """Build the FastAPI app when Airflow loads the plugin, not when this module is imported."""
        from airflow_provider_attendee.webhook_receiver import URL_PREFIX, create_app

        cls.fastapi_apps = [{"app": create_app(), "url_prefix": URL_PREFIX, "name": "Attendee webhooks"}]
