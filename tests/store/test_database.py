"""Migrations bring a fresh or an existing database to the current schema."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import create_engine, inspect, text

from store.database import default_url, migrate, sync_url
from store.tables import metadata


def test_migrations_create_every_table_and_run_twice_safely(tmp_path: Path) -> None:
    url = default_url(tmp_path)
    migrate(url)
    migrate(url)  # already at head: nothing to do
    engine = create_engine(sync_url(url))
    tables = set(inspect(engine).get_table_names())
    engine.dispose()
    assert set(metadata.tables) <= tables
    assert "alembic_version" in tables
    assert (tmp_path / "parta.db").is_file()


def test_sync_url_maps_async_drivers() -> None:
    assert sync_url("sqlite+aiosqlite:////tmp/x.db") == "sqlite:////tmp/x.db"
    assert sync_url("postgresql+asyncpg://u:p@h/db") == "postgresql+psycopg://u:p@h/db"


def test_lessons_scheduled_before_invite_links_get_one(tmp_path: Path) -> None:
    url = default_url(tmp_path)
    migrate(url, "0002")
    engine = create_engine(sync_url(url))
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO scheduled_calls VALUES ('u1@parta', 'lesson-old', 'Maths', "
                "'2030-03-18T09:00:00', 'Europe/Berlin', 2700, NULL, '[900, 0]', 1, "
                "'2026-01-01 00:00:00')"
            )
        )
    migrate(url)
    with engine.connect() as connection:
        row = connection.execute(text("SELECT * FROM calls")).mappings().one()
    engine.dispose()
    assert row["call_id"] == "lesson-old" and row["title"] == "Maths"
    assert row["scheduled"] and row["waiting_room"]
    assert len(row["link_token"]) == 24 and row["host_tokens"] == "{}"
