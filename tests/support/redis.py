"""A real redis-server for a test, on a free loopback port, keeping nothing on disk; the
test is skipped, with the reason, where redis-server is not installed."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from harness import services


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RedisProcess(services.RedisProcess):
    """A redis-server a test may stop and start again (a restarted one is empty)."""

    def __init__(self, directory: Path) -> None:
        try:
            super().__init__(directory)
        except services.ServiceMissing as exc:
            pytest.skip(str(exc))


@contextmanager
def redis_server(directory: Path) -> Iterator[str]:
    """Start redis-server; yield its URL; stop it."""
    try:
        server = services.RedisProcess(directory)
    except services.ServiceMissing as exc:
        pytest.skip(str(exc))
    server.start()
    try:
        yield server.url
    finally:
        server.stop()
