"""The migrations build exactly the tables that store/tables.py describes, on SQLite and
PostgreSQL: a change to one without the other fails here."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

from store.database import sync_url
from store.tables import metadata


def test_migrations_match_the_table_definitions(database_url: str) -> None:
    engine = create_engine(sync_url(database_url))
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), metadata)
    engine.dispose()
    assert differences == []
