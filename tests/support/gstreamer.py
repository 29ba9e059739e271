"""A GStreamer webrtcbin publisher (`benchmarks/peer/publisher.py`, signalling on its
stdin and stdout) run by Debian's Python, which has `gi`. `./run test` installs what
it needs, so in CI these tests always run; on a machine without it they are skipped
with the reason."""

from __future__ import annotations

import asyncio
import functools
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

SYSTEM_PYTHON = "/usr/bin/python3"
ROOT = Path(__file__).resolve().parents[2]
_CHECK = (
    "import gi; gi.require_version('Gst', '1.0'); gi.require_version('GstWebRTC', '1.0');"
    "gi.require_version('Nice', '0.1'); from gi.repository import Gst; Gst.init(None);"
    "assert all(Gst.ElementFactory.find(e) for e in "
    "('webrtcbin', 'nicesrc', 'vp8enc', 'opusenc', 'rtpvp8pay', 'videotestsrc'))"
)


@functools.cache
def gstreamer_installed() -> bool:
    try:
        done = subprocess.run([SYSTEM_PYTHON, "-c", _CHECK], capture_output=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


needs_gstreamer = pytest.mark.skipif(
    not gstreamer_installed(),
    reason="GStreamer's webrtcbin for Debian's python3 is not installed (./run test installs it)",
)


class GstPublisher:
    """One webrtcbin publisher process: its offer, its answer, its packet counts."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process

    @classmethod
    async def start(cls, colour: str, tone: float, setup: str | None = None) -> GstPublisher:
        process = await asyncio.create_subprocess_exec(
            SYSTEM_PYTHON,
            "-m",
            "benchmarks.peer.publisher",
            "--colour",
            colour,
            "--tone",
            str(tone),
            *(["--setup", setup] if setup else []),
            cwd=ROOT,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=sys.stderr,
        )
        return cls(process)

    async def _read(self, key: str, timeout: float = 30) -> Any:
        assert self.process.stdout is not None
        line = await asyncio.wait_for(self.process.stdout.readline(), timeout)
        assert line, f"the GStreamer publisher exited (rc={self.process.returncode})"
        message = json.loads(line)
        assert key in message, message
        return message[key]

    async def _write(self, **message: Any) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write((json.dumps(message) + "\n").encode())
        await self.process.stdin.drain()

    async def offer(self) -> str:
        return str(await self._read("offer"))

    async def answer(self, sdp: str) -> None:
        await self._write(answer=sdp)
        await self._read("connected")

    async def finish(self) -> dict[str, int]:
        """Stop the media; every RTP packet webrtcbin sent, by kind (none will follow)."""
        await self._write(finish=True)
        return dict(await self._read("stats"))

    async def stop(self) -> None:
        if self.process.returncode is None:
            try:
                await self._write(quit=True)
                await asyncio.wait_for(self.process.wait(), 10)
            except (TimeoutError, ConnectionError):
                self.process.kill()
                await self.process.wait()
