"""parta nodes as separate `parta serve` processes on 127.0.0.1, sharing one Redis, one
PostgreSQL and one data directory (as a deployment shares a network file system)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from harness.server import Server
from harness.services import cluster_node


@dataclass
class Node:
    name: str
    server: Server

    @property
    def url(self) -> str:
        """With a trailing slash, as tests join paths to it."""
        return self.server.base_url + "/"

    @property
    def pid(self) -> int:
        return self.server.pid

    def kill(self) -> None:
        """SIGKILL: no draining, no goodbye; its keys in Redis expire on their own."""
        os.kill(self.pid, signal.SIGKILL)

    async def metrics(self, http: aiohttp.ClientSession) -> dict[str, float]:
        return await self.server.metrics(http)


@contextlib.asynccontextmanager
async def running_nodes(
    directory: Path,
    http: aiohttp.ClientSession,
    redis_url: str,
    database_url: str,
    names: Sequence[str] = ("a", "b", "c"),
    extra: dict[str, list[str]] | None = None,
) -> AsyncIterator[dict[str, Node]]:
    """Start the nodes (speech off unless `extra` says otherwise), yield them by name,
    stop the ones still running."""
    shared = directory / "shared"
    nodes = {}
    for name in names:
        args = ("--log-level", "info", *(extra or {}).get(name, []))
        server = cluster_node(
            shared, directory / f"{name}.log", name, redis_url, database_url, *args
        )
        nodes[name] = Node(name, server)
    try:
        await asyncio.gather(*(n.server.start(http, timeout=90) for n in nodes.values()))
        yield nodes
    except BaseException:
        for node in nodes.values():
            print(f"--- node {node.name} log ---\n{node.server.log_tail(40)}")
        raise
    finally:
        await asyncio.gather(*(n.server.stop() for n in nodes.values()), return_exceptions=True)
