"""A parta server in this process, on a free port of 127.0.0.1, for tests that reach into
its app; harness/server.py starts one in a process of its own."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestServer

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
