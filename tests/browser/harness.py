"""Running a browser driver in a private network namespace, and serving parta inside it.

Each browser test runs a driver module (`python -m tests.browser.<driver>`) inside
`unshare --net` with only loopback up, so Chromium's media path is 127.0.0.1 on both
ends and no packet can leave the machine. The driver prints one JSON object.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from signalling.app import create_app
from signalling.config import Config
from tests.browser.chromium import CHROMIUM_PATH, chromium_available

ROOT = Path(__file__).resolve().parents[2]


def in_private_network(command: list[str]) -> list[str]:
    script = "ip link set lo up && exec " + " ".join(f"'{c}'" for c in command)
    return ["unshare", "--net", "sh", "-c", script]


def run_driver(module: str, out: Path, *, timeout: float) -> dict[str, Any]:
    """Run `tests.browser.<module>` in a loopback-only namespace; return its JSON."""
    assert chromium_available(), f"{CHROMIUM_PATH} is missing: ./run test installs it"
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("needs root and unshare for a loopback-only network namespace")
    command = in_private_network(
        [
            sys.executable,
            "-m",
            f"tests.browser.{module}",
            "--out",
            str(out),
            "--timeout",
            str(timeout),
        ]
    )
    completed = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=170)
    lines = completed.stdout.strip().splitlines()
    assert lines, f"driver printed nothing; stderr:\n{completed.stderr[-3000:]}"
    result: dict[str, Any] = json.loads(lines[-1])
    assert completed.returncode == 0, f"{result}\n{completed.stderr[-3000:]}"
    return result


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@asynccontextmanager
async def serving(out_dir: Path) -> AsyncIterator[tuple[web.Application, str]]:
    """parta in this process on a free loopback port: (app, base URL)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    app = create_app(Config(data_dir=out_dir / "data"))
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield app, f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()
