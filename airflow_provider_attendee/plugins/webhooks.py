"""The Airflow plugin (entry point ``airflow.plugins``): on the API server, the Attendee webhook receiver under
``/attendee`` (see ``webhook_receiver``), and the event sweeper (see ``event_sweeper``: asset events left
behind, the catch-up, pruning). Each can be switched off in ``[attendee]`` (``webhook_receiver``,
``event_sweeper``)."""

from __future__ import annotations

import logging
from typing import Any

from airflow.plugins_manager import AirflowPlugin

log = logging.getLogger(__name__)


class StartSweeper:
    """A pass-through ASGI middleware of the API server's root app: building it (in the API server only,
    never in schedulers or workers, before it serves) readies the receiver, builds the Execution API's
    routes (``_compat.initialize_execution_api``: otherwise the first task run stalls the worker, webhooks
    included) and starts the sweeper (when it is on)."""

    def __init__(self, app: Any) -> None:
        from airflow_provider_attendee._compat import initialize_execution_api
        from airflow_provider_attendee.plugins import event_sweeper
        from airflow_provider_attendee.plugins.webhook_receiver import prepare

        self.app = app
        prepare()
        try:
            initialize_execution_api(app)
        except Exception:  # an optimisation only: the Execution API builds itself on first use anyway
            log.warning(
                "Could not build the Execution API's routes ahead of its first request", exc_info=True
            )
        event_sweeper.start()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)


class AttendeeWebhooksPlugin(AirflowPlugin):
    """``POST /attendee/webhooks`` on the Airflow API server: Attendee webhooks become asset events."""

    name = "attendee_webhooks"

    @classmethod
    def on_load(cls, *args: Any, **kwargs: Any) -> None:
        """Build the FastAPI app when Airflow loads the plugin, not when this module is imported; mount
        only what the administrator left on."""
        from airflow_provider_attendee.plugins.event_settings import read_settings

        settings = read_settings()
        cls.fastapi_apps = []
        cls.fastapi_root_middlewares = []
        if settings.webhook_receiver:
            from airflow_provider_attendee.plugins.webhook_receiver import URL_PREFIX, create_app

            cls.fastapi_apps = [{"app": create_app(), "url_prefix": URL_PREFIX, "name": "Attendee webhooks"}]
        if settings.webhook_receiver or settings.event_sweeper:
            cls.fastapi_root_middlewares = [
                {"middleware": StartSweeper, "args": [], "kwargs": {}, "name": "Attendee event sweeper"}
            ]
