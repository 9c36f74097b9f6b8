"""Meeting logic, free of Airflow: reports, presence, calendar plans, transcript formats, verdicts, checks.

Built on the client layer only (``tests/unit/test_layers.py`` proves it imports no ``airflow``), so it can
be used and tested outside Airflow.
"""
