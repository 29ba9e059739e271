"""Alembic environment: runs migrations on the connection URL given in the config."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from store.tables import metadata

url = context.config.get_main_option("sqlalchemy.url")
engine = create_engine(str(url))
with engine.connect() as connection:
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
engine.dispose()
