"""Meeting analytics in SQL tables: rows from a bot and its report, the tables' DDL, idempotent writes,
and the weekly digest's queries and rendering. Pure Python on a DB-API connection: no Airflow here (the
operators in ``airflow_provider_attendee.operators`` resolve an Airflow connection and call these)."""
