"""Apache Airflow provider for Attendee, the open-source meeting-bot API."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
