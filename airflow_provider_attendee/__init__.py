"""Apache Airflow provider for Attendee, the open-source meeting-bot API."""

from __future__ import annotations

__version__ = "0.2.0.dev0"

#: The bot name used when none is given (the API requires one).
DEFAULT_BOT_NAME = "Airflow Notetaker"
#: The Airflow connection id used when none is given.
DEFAULT_CONN_ID = "attendee_default"
#: The SQL connection id of the meeting tables; when no such connection exists, an embedded SQLite file.
DEFAULT_TABLES_CONN_ID = "attendee_meetings"

__all__ = ["DEFAULT_BOT_NAME", "DEFAULT_CONN_ID", "DEFAULT_TABLES_CONN_ID", "__version__"]
