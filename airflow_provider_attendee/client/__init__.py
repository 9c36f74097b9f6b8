"""The Attendee client, free of Airflow: HTTP, models, states, errors, meeting URLs, webhook signatures.

Nothing here imports ``airflow`` (``tests/unit/test_layers.py`` proves it), so the simulator, the meeting
logic and scripts use it without loading Airflow.
"""
