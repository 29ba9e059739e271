"""The services a cluster needs, started for one run and gone after it: a redis-server
on a free loopback port (keeping nothing on disk) and a fresh, migrated PostgreSQL
database. The benchmarks and the tests both use these."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import shutil
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]

from harness import procstat
from harness.server import Server
from store.database import migrate


class ServiceMissing(RuntimeError):
    """redis-server is not installed, or PostgreSQL does not answer."""


class RedisProcess:
    """A redis-server on a fixed loopback port, which may be stopped and started again
    (a restarted one is empty)."""

    def __init__(self, directory: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise ServiceMissing("redis-server is not installed (./run test installs it)")
        self.binary = binary
        self.directory = directory
        self.port = procstat.free_tcp_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                *(self.binary, "--port", str(self.port), "--bind", "127.0.0.1"),
                *("--save", "", "--appendonly", "no", "--dir", str(self.directory)),
            ],
            stdout=subprocess.DEVNULL,
            preexec_fn=procstat.die_with_parent,
        )
        deadline = time.monotonic() + 10
        while True:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("redis-server did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
            self.process = None


@contextlib.contextmanager
def redis_server(directory: Path) -> Iterator[str]:
    """Start redis-server; yield its URL; stop it."""
    server = RedisProcess(directory)
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


@contextlib.asynccontextmanager
async def fresh_postgres(admin_url: str, prefix: str = "parta") -> AsyncIterator[str]:
    """A new database on the PostgreSQL server of `admin_url` (an asyncpg URL of a
    database to connect to for CREATE DATABASE), migrated; its SQLAlchemy URL; dropped
    afterwards."""
    try:
        admin = await asyncio.wait_for(asyncpg.connect(admin_url), 5)
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        raise ServiceMissing(f"PostgreSQL not reachable at {admin_url}: {exc}") from exc
    name = f"{prefix}_{secrets.token_hex(6)}"
    await admin.execute(f'CREATE DATABASE "{name}"')
    base = admin_url.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    url = f"{base}/{name}"
    try:
        await asyncio.to_thread(migrate, url)
        yield url
    finally:
        with contextlib.suppress(Exception):
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


def cluster_node(
    shared: Path, log: Path, name: str, redis_url: str, database_url: str, *args: str
) -> Server:
    """`parta serve` as node `name` of a cluster on this Redis and PostgreSQL, sharing
    the data directory `shared` (speech off unless `args` says otherwise); not started."""
    server = Server(shared, log)
    if "--speech-model" not in args:
        args = (*args, "--speech-model", "off")
    server.extra_args = [
        *("--redis-url", redis_url, "--database-url", database_url, "--node-id", name),
        *("--public-url", server.base_url),
        *args,
    ]
    return server
