"""The store's tests run on SQLite and on PostgreSQL: a fresh database each, migrated.

PostgreSQL is the server on 127.0.0.1:5432 (user postgres, as on these machines; set
PARTA_TEST_POSTGRES to another URL). Where none answers, its runs are skipped with the
reason in pytest's summary."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from harness import services
from store.database import default_url, migrate, open_engine

POSTGRES = os.environ.get("PARTA_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")


@asynccontextmanager
async def fresh_postgres() -> AsyncIterator[str]:
    """A new, migrated PostgreSQL database for one test, dropped afterwards; the test is
    skipped, with the reason, where no PostgreSQL answers."""
    try:
        async with services.fresh_postgres(POSTGRES, "parta_test") as url:
            yield url
    except services.ServiceMissing as exc:
        pytest.skip(str(exc))


@pytest.fixture(params=["sqlite", "postgresql"])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    if request.param == "sqlite":
        url = default_url(tmp_path)
        await asyncio.to_thread(migrate, url)
        yield url
        return
    async with fresh_postgres() as url:
        yield url


@pytest.fixture
async def postgres_url() -> AsyncIterator[str]:
    async with fresh_postgres() as url:
        yield url


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = open_engine(database_url)
    yield engine
    await engine.dispose()
