"""What every browser driver sets up: parta in this process and headless Chromium.

Drivers run inside a loopback-only network namespace (see harness.py) and print one
JSON object; `driver_main` gives them the same command line and error reporting.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import socket
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from aiohttp import web
from playwright.async_api import Browser

from tests.browser.chromium import launch_chromium
from web.app import create_app
from web.config import Config


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@asynccontextmanager
async def parta_and_chromium(
    out_dir: Path, *, sound: bool = False
) -> AsyncIterator[tuple[web.Application, str, Browser]]:
    """(app, base URL, browser): parta on a free loopback port, data under `out_dir`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    app = create_app(Config(data_dir=out_dir / "data"))
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    # a short directory: Chromium's singleton socket path must fit in 108 bytes
    scratch = Path(tempfile.mkdtemp(prefix="parta-chromium-"))
    try:
        async with launch_chromium(scratch, sound=sound) as browser:
            yield app, f"http://127.0.0.1:{port}", browser
    finally:
        await runner.cleanup()
        shutil.rmtree(scratch, ignore_errors=True)


Run = Callable[[Path, float, dict[str, Any]], Awaitable[None]]


def driver_main(run: Run, *, default_timeout: float) -> None:
    """`--out DIR --timeout S`; `run` fills the result as it goes, so a failure still
    shows how far it got."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--timeout", type=float, default=default_timeout)
    args = parser.parse_args()
    started = time.monotonic()
    result: dict[str, Any] = {}
    try:
        asyncio.run(run(args.out, args.timeout, result))
    except Exception as exc:
        result["error"] = f"{type(exc).__name__}: {exc}"
        print(json.dumps(result))
        sys.exit(1)
    result["seconds"] = round(time.monotonic() - started, 1)
    print(json.dumps(result))
