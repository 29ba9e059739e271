"""`parta serve` in a process of its own, on a free port of 127.0.0.1, for tests and
benchmarks: started, waited for until ready, its metrics read, always stopped."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import aiohttp

from harness import procstat

REPO = Path(__file__).resolve().parents[1]


class Server:
    """`parta serve` on a free port, in its own process; always stopped by `stop`."""

    def __init__(
        self, data_dir: Path, log_path: Path, extra_args: Sequence[str] | None = None
    ) -> None:
        self.extra_args = list(extra_args or ())
        self.port = procstat.free_tcp_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.data_dir = data_dir
        self.log_path = log_path
        self.process: asyncio.subprocess.Process | None = None
        self.command: list[str] = []
        self._log: Any = None

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    async def start(self, http: aiohttp.ClientSession, timeout: float = 30.0) -> None:
        args = [
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--data-dir",
            str(self.data_dir),
            "--log-level",
            "warning",
            # one argument with "=": a random token may begin with "-"
            f"--bearer-token={child_env()[procstat.TOKEN_VARIABLE]}",
            *self.extra_args,
        ]
        script = Path(sys.executable).with_name("parta")
        if script.exists():
            self.command = [str(script), *args]
        else:
            # no console script installed; web.cli has no __main__ guard
            self.command = [sys.executable, "-c", "from web.cli import main; main()", *args]
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.process = await asyncio.create_subprocess_exec(
            *self.command,
            cwd=REPO,
            env=child_env(),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=self._log,
            stderr=self._log,
            preexec_fn=procstat.die_with_parent,
        )
        process = self.process

        def exited() -> str | None:
            code = process.returncode
            return None if code is None else f"the server exited with {code}"

        try:
            await wait_ready(http, self.base_url, exited, timeout)
        except RuntimeError as exc:
            raise RuntimeError(f"{exc}: {self.log_tail()}") from None

    async def metrics(self, http: aiohttp.ClientSession) -> dict[str, float]:
        return await fetch_metrics(http, self.base_url)

    def log_tail(self, lines: int = 20) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""

    async def stop(self) -> int | None:
        code = None
        if self.process is not None:
            code = await procstat.terminate(self.process)
        if self._log is not None:
            self._log.close()
            self._log = None
        return code


async def wait_ready(
    http: aiohttp.ClientSession,
    base_url: str,
    exited: Callable[[], str | None],
    timeout: float,
) -> None:
    """Wait until a server's /readyz answers 200; `exited()` says why it is gone (None
    while it runs)."""
    deadline = time.monotonic() + timeout
    while True:
        gone = exited()
        if gone is not None:
            raise RuntimeError(gone)
        with contextlib.suppress(aiohttp.ClientError, OSError):
            async with http.get(f"{base_url.rstrip('/')}/readyz") as response:
                if response.status == 200:
                    return
        if time.monotonic() > deadline:
            raise RuntimeError(f"{base_url} did not become ready")
        await asyncio.sleep(0.1)


async def fetch_metrics(http: aiohttp.ClientSession, base_url: str) -> dict[str, float]:
    """A server's /metrics: each sample by its name with its labels."""
    async with http.get(f"{base_url.rstrip('/')}/metrics") as response:
        response.raise_for_status()
        text = await response.text()
    values: dict[str, float] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        name, _, value = line.rpartition(" ")
        with contextlib.suppress(ValueError):
            values[name] = float(value)
    return values


def child_env() -> dict[str, str]:
    os.environ.setdefault(procstat.TOKEN_VARIABLE, secrets.token_urlsafe(16))
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)
    env["PYTHONUNBUFFERED"] = "1"
    return env
