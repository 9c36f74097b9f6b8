"""The provider's own tables in Airflow's metadata database, and the DB manager that versions them with
alembic (``airflow db migrate`` creates and upgrades them, as the edge3 provider's tables)."""
