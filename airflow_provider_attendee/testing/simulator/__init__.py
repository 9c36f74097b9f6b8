"""The fake Attendee server: the API routes (``app``), the simulated world (``core``, ``state``, ``clock``),
faults, media, pagination, scenarios, webhook delivery, the uvicorn server and its admin client.

Free of Airflow (``tests/unit/test_layers.py`` proves it): the pytest plugin and the CLI start it before
Airflow is configured. The public entry points are re-exported by ``airflow_provider_attendee.testing``.
"""
