"""Extra link: the Attendee bot a task created or worked on."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperatorLink

if TYPE_CHECKING:
    from airflow.sdk.types import TaskInstanceKey  # type: ignore[attr-defined, unused-ignore]

BOT_URL_XCOM_KEY = "attendee_bot_url"


class AttendeeBotLink(BaseOperatorLink):
    """Links a task to its bot's page in the Attendee dashboard; the URL is pushed to XCom as soon as the
    bot is known (before deferring). Without the connection's ``project_id`` the link is empty, which the
    Airflow UI does not show."""

    name = "Attendee bot"

    def get_link(self, operator: Any, *, ti_key: TaskInstanceKey) -> str:
        from airflow.sdk.execution_time.xcom import XCom

        value = XCom.get_value(key=BOT_URL_XCOM_KEY, ti_key=ti_key)
        return str(value) if value else ""
