"""Apache Airflow provider for Attendee, the open-source meeting-bot API."""

from __future__ import annotations

__version__ = "0.2.0.dev0"

#: The bot name used when none is given (the API requires one).
DEFAULT_BOT_NAME = "Airflow Notetaker"
#: The Airflow connection id used when none is given.
DEFAULT_CONN_ID = "attendee_default"

__all__ = ["DEFAULT_BOT_NAME", "DEFAULT_CONN_ID", "__version__"]
