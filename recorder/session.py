"""One recording of a call, on the call's side: taps on the room's producers and a pump
that hands their packets to the recorder process (recorder/worker.py) over its stdin.

The recorder process decodes, mixes, composes and encodes; the call's event loop only
copies packets, and never waits for the recorder: when the pipe to it holds more than
PIPE_LIMIT bytes, packets are dropped (video then resumes at a keyframe; see tap.py).
A recorder that dies leaves the fragmented MP4 it wrote so far, which plays.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from recorder import ipc
from recorder.tap import PacketQueue, Tap
from sfu.producer import Producer
from sfu.router import Router

logger = logging.getLogger(__name__)

PUMP_INTERVAL = 0.02
PIPE_LIMIT = 8 * 1024 * 1024


@dataclass(frozen=True)
class Recorded:
    path: Path
    seconds: float  # from start to stop
    bytes: int
    packets: int
    dropped: int  # packets the recorder could not take in time
    exit_code: int | None
    decode_errors: int = 0  # coded frames the recorder could not decode (bad input)


class Recording:
    def __init__(
        self,
        router: Router,
        path: Path,
        describe: Callable[[Producer], tuple[str, str]],
        *,
        fps: int = 15,
        size: tuple[int, int] = (1280, 720),
        queue_limit: int = 4096,
        pipe_limit: int = PIPE_LIMIT,
        python: str = sys.executable,
    ) -> None:
        """`describe(producer)`: the name to show for its owner, and its source
        (microphone, camera, screen)."""
        self.router = router
        self.path = path
        self.describe = describe
        self.fps = fps
        self.size = size
        self.queue = PacketQueue(queue_limit)
        self.python = python
        self.pipe_limit = pipe_limit
        self.process: asyncio.subprocess.Process | None = None
        self._taps: dict[str, tuple[int, Tap]] = {}  # producer id -> (number, tap)
        self._numbers = iter(range(1, 65536))
        self._pump: asyncio.Task[None] | None = None
        self._started = 0.0
        self.packets = 0
        self.dropped = 0

    # -- lifetime --------------------------------------------------------------------

    def command(self) -> list[str]:
        """The recorder process to run."""
        width, height = self.size
        return [
            self.python,
            "-m",
            "recorder.worker",
            "--out",
            str(self.path),
            "--fps",
            str(self.fps),
            "--size",
            f"{width}x{height}",
        ]

    async def _spawn(self) -> asyncio.subprocess.Process:
        return await asyncio.create_subprocess_exec(
            *self.command(), stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE
        )

    async def start(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.process = await self._spawn()
        self._started = time.monotonic()
        for producer in list(self.router.producers.values()):
            self._add(producer)
        self.router.on_producer_added.append(self._add)
        self.router.on_producer_closed.append(self._remove)
        self._pump = asyncio.create_task(self._run(), name=f"recording {self.path.name}")

    async def stop(self) -> Recorded:
        """Finish: the recorder writes the end of the file and exits."""
        seconds = time.monotonic() - self._started
        if self._add in self.router.on_producer_added:
            self.router.on_producer_added.remove(self._add)
        if self._remove in self.router.on_producer_closed:
            self.router.on_producer_closed.remove(self._remove)
        for producer_id, (_, tap) in list(self._taps.items()):
            producer = self.router.producers.get(producer_id)
            if producer is not None:
                self.router.remove_tap(producer, tap)
        self._taps.clear()
        if self._pump is not None:
            self._pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pump
        self._send_packets()
        code: int | None = None
        if self.process is not None and self.process.stdin is not None:
            with contextlib.suppress(ConnectionError):
                self.process.stdin.write(ipc.END)
                await self.process.stdin.drain()
                self.process.stdin.close()
            try:
                code = await asyncio.wait_for(self.process.wait(), 60)
            except TimeoutError:
                logger.warning("recorder of %s did not finish in time: killed", self.path)
                self.process.kill()
                code = await self.process.wait()
        size = self.path.stat().st_size if self.path.exists() else 0
        errors = await self._decode_errors()
        return Recorded(self.path, seconds, size, self.packets, self.dropped, code, errors)

    async def _decode_errors(self) -> int:
        """What the recorder said at its end of the frames it could not decode (0 when
        it died first)."""
        if self.process is None or self.process.stdout is None:
            return 0
        try:
            said = io.BytesIO(await asyncio.wait_for(self.process.stdout.read(), 5))
        except (TimeoutError, OSError):
            return 0
        while (record := ipc.read_record(said)) is not None:
            if record[0] == b"D":
                return int(json.loads(record[1]).get("decode_errors", 0))
        return 0

    # -- producers ------------------------------------------------------------------------

    def _add(self, producer: Producer) -> None:
        if producer.id in self._taps:
            return
        number = next(self._numbers)
        tap = Tap(producer, self.queue)
        self._taps[producer.id] = (number, tap)
        name, source = self.describe(producer)
        self._write(
            ipc.json_record(
                b"A",
                {
                    "number": number,
                    "kind": producer.kind,
                    "codec": producer.codec.name,
                    "owner": producer.owner,
                    "name": name,
                    "source": source,
                },
            )
        )
        self.router.add_tap(producer, tap)

    def _remove(self, producer: Producer) -> None:
        found = self._taps.pop(producer.id, None)
        if found is not None:
            self._send_packets()  # what it sent before it went
            self._write(ipc.json_record(b"R", {"number": found[0]}))

    def speaker(self, owner: str | None) -> None:
        self._write(ipc.json_record(b"S", {"owner": owner}))

    # -- the pump ---------------------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(PUMP_INTERVAL)
            self._send_packets()
            self._pumped()

    def _pumped(self) -> None:
        """After each pump: a live encoder is told the time (see BroadcastEncoder)."""

    def arrival_us(self) -> int:
        """Now, as the recorder process counts time: microseconds since the start."""
        return max(0, int((time.monotonic() - self._started) * 1_000_000))

    def _send_packets(self) -> None:
        numbers = {pid: (number, tap) for pid, (number, tap) in self._taps.items()}
        for packet in self.queue.drain():
            found = numbers.get(packet.producer_id)
            if found is None:
                continue
            number, tap = found
            if self._backlog() > self.pipe_limit:
                # the recorder is behind: drop, and let video start again at a keyframe
                self.dropped += 1
                if tap.video and not tap.waiting_for_keyframe:
                    tap.waiting_for_keyframe = True
                    tap.producer.request_keyframe()
                continue
            arrival = int((packet.arrival - self._started) * 1_000_000)
            self._write(
                ipc.packet_record(
                    number,
                    packet.seq,
                    packet.ts,
                    packet.marker,
                    packet.keyframe,
                    max(0, arrival),
                    packet.payload,
                )
            )
            self.packets += 1
        self.dropped += self.queue.dropped
        self.queue.dropped = 0

    def _backlog(self) -> int:
        if self.process is None or self.process.stdin is None:
            return 0
        return self.process.stdin.transport.get_write_buffer_size()

    def _write(self, data: bytes) -> None:
        if self.process is None or self.process.stdin is None:
            return
        if self.process.stdin.is_closing():
            return
        try:
            self.process.stdin.write(data)
        except (ConnectionError, RuntimeError):
            logger.warning("the recorder of %s is gone", self.path)
