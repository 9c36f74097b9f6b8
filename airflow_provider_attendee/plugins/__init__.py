"""The Airflow plugin and what it runs in the API server: the webhook receiver, the asset events it
records (``_asset_events``, the one module that touches Airflow internals), the event sweeper, the
catch-up and their ``[attendee]`` settings. The plugin class is in ``webhooks``; importing this package
imports nothing (the provider info reads ``event_settings`` in every Airflow process)."""
