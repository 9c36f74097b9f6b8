"""``python -m airflow_provider_attendee.testing serve ...``: the simulator's CLI (see ``simulator.cli``)."""

from __future__ import annotations

import sys

from airflow_provider_attendee.testing.simulator.cli import main

if __name__ == "__main__":
    sys.exit(main())
