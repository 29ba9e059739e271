"""Two parta nodes on one Redis and one PostgreSQL, in pytest's own process, for browser
tests of the web client in a cluster, and the host of a call on the first node."""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from tests.browser.chromium import chromium_available
from tests.cluster.test_nodes import start_node
from tests.support.client import CallClient
from tests.support.media import PatternVideoTrack, ToneAudioTrack
from web import keys


@dataclass
class TwoNodes:
    a: TestServer
    b: TestServer
    scratch: Path  # Chromium's profile: short, its singleton socket path must fit 108 bytes
    clients: list[CallClient] = field(default_factory=list)

    @property
    def base_a(self) -> str:
        return str(self.a.make_url("")).rstrip("/")

    @property
    def base_b(self) -> str:
        return str(self.b.make_url("")).rstrip("/")

    async def host_on_a(
        self, http: aiohttp.ClientSession, call: str, name: str, pattern: int
    ) -> CallClient:
        """Someone who starts `call` on a (a tie in load: a sorts first) and publishes
        a camera (`pattern`) and a microphone."""
        host = CallClient(http, self.base_a, call, name)
        self.clients.append(host)
        await host.join()
        assert await self.b.app[keys.CLUSTER].owner(call) == "a"
        await host.publish(
            [(PatternVideoTrack(pattern), "camera"), (ToneAudioTrack(440.0), "microphone")]
        )
        return host


@contextlib.asynccontextmanager
async def two_nodes(tmp_path: Path, redis_url: str, postgres_url: str) -> AsyncIterator[TwoNodes]:
    if not chromium_available():
        pytest.skip("no /usr/bin/chromium: ./run test installs it")
    a = await start_node(tmp_path, "a", redis_url, postgres_url)
    b = await start_node(tmp_path, "b", redis_url, postgres_url)
    nodes = TwoNodes(a, b, Path(tempfile.mkdtemp(prefix="parta-chromium-")))
    try:
        yield nodes
    finally:
        for client in nodes.clients:
            await client.close()
        await a.close()
        await b.close()
        shutil.rmtree(nodes.scratch, ignore_errors=True)
