from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from tests.support.accounts import logged_in_client
from web import keys
from web.app import create_app
from web.config import Config


async def start_server(data_dir: Path, *, port: int = 0, **settings: Any) -> TestServer:
    """A server on its own; `port` of an earlier one restarts it where clients (and the
    logged-in `http` client's session) expect it."""
    server = TestServer(
        create_app(Config(data_dir=data_dir, **settings)), host="127.0.0.1", port=port
    )
    await server.start_server()
    return server


class Restartable:
    """One server on one data directory and port, started again as often as a test
    needs (a restart)."""

    def __init__(self, data_dir: Path, **settings: Any) -> None:
        self.data_dir, self.settings, self.port = data_dir, settings, 0

    async def start(self) -> tuple[TestServer, str]:
        server = await start_server(self.data_dir, port=self.port, **self.settings)
        self.port = server.port or 0
        return server, str(server.make_url("/"))


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[TestServer]:
    app = create_app(Config(data_dir=tmp_path / "data"))
    test_server = TestServer(app, host="127.0.0.1")
    await test_server.start_server()
    yield test_server
    await test_server.close()


@pytest.fixture
def app(server: TestServer) -> web.Application:
    return server.app


@pytest.fixture
def base_url(server: TestServer) -> str:
    return str(server.make_url("/"))


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """A logged-in user's client (see tests/support/accounts.py)."""
    async with logged_in_client() as session:
        yield session


__all__ = ["keys"]
