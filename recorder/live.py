"""A broadcast's encoder, on the call's side: the recording's taps and pump feeding the
broadcast encoder process (recorder/broadcast_worker.py) instead of the recorder, plus
the clock (`T` records, so the live picture goes on when nobody sends anything) and a
reader of what the encoder says back: the mix as Opus frames, and each HLS part written.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from recorder import ipc
from recorder.session import Recording
from sfu.producer import Producer
from sfu.router import Router

logger = logging.getLogger(__name__)


class BroadcastEncoder(Recording):
    def __init__(
        self,
        router: Router,
        directory: Path,
        describe: Callable[[Producer], tuple[str, str]],
        *,
        on_opus: Callable[[int, bytes], None],
        on_part: Callable[[dict[str, Any]], None],
        fps: int = 15,
        size: tuple[int, int] = (640, 360),
        video_bitrate: int = 400_000,
        **options: Any,
    ) -> None:
        super().__init__(router, directory / "live.m3u8", describe, fps=fps, size=size, **options)
        self.directory = directory
        self.on_opus = on_opus
        self.on_part = on_part
        self.video_bitrate = video_bitrate
        self._reader: asyncio.Task[None] | None = None
        self.on_exit: Callable[[], None] | None = None  # the encoder ended (or died)
        self.opus_frames = 0
        self.parts = 0
        self.decode_errors = 0  # as the encoder said last

    def command(self) -> list[str]:
        width, height = self.size
        return [
            self.python,
            "-m",
            "recorder.broadcast_worker",
            "--dir",
            str(self.directory),
            "--fps",
            str(self.fps),
            "--size",
            f"{width}x{height}",
            "--video-bitrate",
            str(self.video_bitrate),
        ]

    async def _spawn(self) -> asyncio.subprocess.Process:
        self.directory.mkdir(parents=True, exist_ok=True)
        process = await asyncio.create_subprocess_exec(
            *self.command(), stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE
        )
        self._reader = asyncio.create_task(self._read(process), name="broadcast encoder output")
        return process

    def _pumped(self) -> None:
        self._write(ipc.tick_record(self.arrival_us()))

    async def _read(self, process: asyncio.subprocess.Process) -> None:
        stdout = process.stdout
        assert stdout is not None
        head = ipc.RECORD_HEAD
        try:
            while True:
                kind, length = head.unpack(await stdout.readexactly(head.size))
                body = await stdout.readexactly(length)
                if kind == b"O":
                    self.opus_frames += 1
                    ts = ipc.OPUS_HEAD.unpack_from(body)[0]
                    self.on_opus(ts, body[ipc.OPUS_HEAD.size :])
                elif kind == b"H":
                    self.parts += 1
                    self.on_part(json.loads(body))
                elif kind == b"D":  # its last word
                    self.decode_errors = int(json.loads(body).get("decode_errors", 0))
        except asyncio.IncompleteReadError:
            pass  # the encoder finished or died
        except Exception:
            logger.exception("reading the broadcast encoder of %s", self.directory)
        if self.on_exit is not None:
            self.on_exit()

    async def _decode_errors(self) -> int:
        """The reader of stdout has it (once the encoder has said its last)."""
        if self._reader is not None:
            with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(self._reader, 5)
        return self.decode_errors
