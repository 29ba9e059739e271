"""Shared fixtures: every WebRTC peer in the tests talks over loopback only; a server in
this process (`server`, its `app` and `base_url`) and a logged-in user's client (`http`)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import aioice.ice
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from tests.support.accounts import logged_in_client
from web.app import create_app
from web.config import Config


@pytest.fixture(autouse=True)
def loopback_only_ice(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Test clients built on aiortc gather only 127.0.0.1 (aioice skips loopback)."""
    monkeypatch.setattr(aioice.ice, "get_host_addresses", lambda use_ipv4, use_ipv6: ["127.0.0.1"])
    yield


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
