"""Measure parta's broadcasts: WebRTC (WHEP) viewers of a call's stage, HLS viewers
through nginx and through parta, and the delay from a camera frame to its HLS part.

    python -m benchmarks.broadcast                  # WHEP N = 10, 100, 300, 400, 500, +100
                                                    # while it holds; HLS K = 100 .. 4000
                                                    # until viewers fall behind
    python -m benchmarks.broadcast --quick          # small N, short windows: a smoke test

Part 1, WHEP (benchmarks/forwarding.py's pieces): `parta serve` in its own process, the
synthetic WHIP publisher (pre-built VP8-shaped RTP, ~1.5 Mbit/s at 30 fps, and
Opus-shaped RTP, every packet stamped with its send time), a host who joins over the
call protocol and starts a public broadcast (`POST /api/calls/{call}/broadcast`), and N
viewers POSTing offers to `/watch/{token}/whep`, spread over subscriber worker
processes (benchmarks/subscriber.py: real ICE, DTLS and SRTP, no decoding; each viewer
sends an RTCP receiver report every second, as players do, or the stage would cut it).
Per N: the server's CPU per forwarded packet, latency publisher -> viewer socket (kernel
receive timestamps) on the stage's video (its audio is the broadcast encoder's Opus mix:
no stamps), and loss by RTP sequence numbers of what each viewer received. At larger N
the viewers decrypt only a sample of the datagrams (every datagram is still counted, and
its sequence number read). The CPU of the viewers' processes and of the broadcast
encoder (a child of the server) is reported apart: on two cores they all compete with
the server. The publisher's VP8 is not decodable, so the encoder composes an empty
picture and a silent mix here.

Part 2, HLS: a second `parta serve` and a real publisher joined over the call protocol
(aiortc's VP8 and Opus encoders: a picture holding the frame index as blocks, with noise
below so that the rendition spends its bitrate, and a tone). The host starts a public
broadcast; the encoder writes Low-Latency HLS (1 s segments, 1/3 s parts).
- Delay: the broadcast directory is watched; each new part is decoded (with init.mp4 and
  the segment's earlier parts), its newest frame's index read back, and the time since
  that frame was captured in the call taken; the same for each new complete segment.
- Load: K HLS viewers in fetcher processes (`python -m benchmarks.broadcast
  --hls-fetcher`, aiohttp), each doing what a segment-by-segment LL-HLS player does: a
  blocking playlist reload for the next segment (`live.m3u8?_HLS_msn=M`), then the
  segment `sM.m4s`; once through nginx with the shipped deploy/nginx/parta.conf (segments
  from disk, live.m3u8 from parta through nginx's cache), once from parta itself. Per K:
  segment fetch times, the lag from a segment's appearance on disk to a viewer having
  it, the share of segments viewers had within one segment duration, the bytes they got
  against the rendition's bitrate, and the CPU of parta, nginx, the encoder and the
  fetchers. K grows until viewers fall behind.

The machine may be shared: before each window the benchmark waits (bounded) until other
processes use less than --quiet-threshold cores and reports the other load it saw. Only
JSON goes to stdout; progress goes to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fractions
import importlib
import io
import json
import logging
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import aiohttp
import av
import numpy as np
import numpy.typing as npt
from aiortc import MediaStreamTrack

from benchmarks import forwarding, recording
from benchmarks.forwarding import SubscriberProcess
from benchmarks.publisher import Publisher
from harness import procstat
from harness.nginx import nginx_start
from harness.server import REPO, Server, child_env

logger = logging.getLogger("benchmarks.broadcast")

CALL = "bench-broadcast"
HLS_CALL = "bench-broadcast-hls"
DEFAULT_NS = (10, 100, 300, 400, 500)
DEFAULT_HLS = (100, 500, 1000, 1500, 2000, 3000, 4000)
SEGMENT_FILE = re.compile(r"^s(\d+)\.m4s$")
PART_FILE = re.compile(r"^s(\d+)\.(\d+)\.m4s$")
PLAYLIST_SEGMENT = re.compile(r"^s(\d+)\.m4s$", re.M)

DEFINITIONS = {
    "whep.us_per_forwarded_packet": "server CPU (utime+stime of the parta process, not its "
    "children) in the window divided by the growth of parta_rtp_packets_out_total (stage "
    "video and mix audio to every viewer)",
    "whep.latency_ms": "publisher send (stamped in the payload) to the kernel's receive "
    "timestamp on the viewer's socket, stage video only (the audio is the encoder's mix); "
    "at large N from a sample of the datagrams of every viewer",
    "whep.sequence_loss_percent": "per viewer, 1 - packets received / span of RTP sequence "
    "numbers received in the window, audio and video; every datagram counts; a viewer that "
    "received nothing in the window counts as 100%",
    "whep.sustained": "sequence loss mean and worst < 1%, p99 latency < 50 ms, no viewer cut "
    "by the slow-viewer policy, every viewer receiving video within 20 s of connecting",
    "hls.fetch_ms": "GET of a segment until its last byte, per viewer and segment",
    "hls.lag_ms": "segment file appeared on disk (seen by polling every 10 ms) until a viewer "
    "had its last byte (includes the blocking playlist reload before it)",
    "hls.in_time_percent": "segments appearing in the window that a viewer had within one "
    "segment duration of their appearance, over all viewers",
    "hls.sustained": "in_time_percent >= 99, p99 fetch time < segment duration, errors < 1%",
    "hls.delay_ms": "newest frame of a part (segment) when its file appeared on disk, minus "
    "the time that frame was captured by the publisher in the call",
}


# -- processes -----------------------------------------------------------------------------


def _cmdline(pid: int) -> str:
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    return ""


def _cpu(pid: int | None) -> float:
    if pid is None:
        return 0.0
    with contextlib.suppress(OSError, ValueError):
        return procstat.process_cpu_seconds(pid)
    return 0.0


async def find_encoder(server_pid: int, timeout: float = 15.0) -> int | None:
    """The broadcast encoder process, a child of the server."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for pid in recording.child_pids(server_pid):
            if "broadcast_worker" in _cmdline(pid):
                return pid
        await asyncio.sleep(0.1)
    return None


async def start_broadcast(
    http: aiohttp.ClientSession, base_url: str, call: str, session: str, host_token: str
) -> str:
    headers = {"Authorization": f"Bearer {session}", "X-Parta-Host-Token": host_token}
    async with http.post(
        f"{base_url}/api/calls/{call}/broadcast", json={"public": True}, headers=headers
    ) as response:
        body = await response.json()
        if response.status not in (200, 201):
            raise RuntimeError(f"starting the broadcast: {response.status} {body}")
    return str(body["watch_link"])


class _Load:
    """Other processes' load on the machine, and waiting for it to settle."""

    def __init__(self, threshold: float, wait: float) -> None:
        self.threshold = threshold
        self.wait = wait

    async def foreign(self, ours: Sequence[int], seconds: float = 1.0) -> float:
        def cpu() -> float:
            return sum(_cpu(p) for p in ours)

        s0, c0 = procstat.SystemCpu.read(), cpu()
        await asyncio.sleep(seconds)
        s1, c1 = procstat.SystemCpu.read(), cpu()
        busy = (s1.busy - s0.busy) - (s1.softirq - s0.softirq)
        return max(0.0, (busy - (c1 - c0)) / seconds)

    async def quiet(self, ours: Sequence[int], progress: Any) -> tuple[float, float]:
        started = time.monotonic()
        load = await self.foreign(ours)
        while load > self.threshold and time.monotonic() - started < self.wait:
            progress("waiting for other processes to settle (%.2f cores busy)", load)
            load = await self.foreign(ours)
        return time.monotonic() - started, load


# -- part 1: WHEP viewers ------------------------------------------------------------------


class VideoCounted(Publisher):
    """The stage's audio is the encoder's mix, not our stamped Opus: viewers can only
    match our video against what we sent."""

    def sent_between(self, t0: int, t1: int) -> dict[str, int]:
        return {"video": super().sent_between(t0, t1).get("video", 0)}


class BroadcastSubscribers(SubscriberProcess):
    """A subscriber process whose viewers watch the broadcast; `mode` commands carry the
    sampling chosen for the current N, with kernel timestamps kept."""

    sample_every = 1

    async def request(self, message: dict[str, Any], timeout: float = 120.0) -> dict[str, Any]:
        if message.get("cmd") == "mode":
            message = {**message, "sample_every": self.sample_every, "sample_timestamps": True}
        return await super().request(message, timeout)


class WhepBench(forwarding.Bench):
    def __init__(self, args: argparse.Namespace, workdir: Path) -> None:
        super().__init__(args, workdir)
        self.whep_path = ""
        self.encoder_pid: int | None = None
        self.host_ws: aiohttp.ClientWebSocketResponse | None = None
        self._host_reader: asyncio.Task[None] | None = None
        self.host_messages: list[str] = []
        self.not_receiving = 0

    async def setup(self) -> None:
        self.http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60))
        self.progress("WHEP: starting the server: parta serve on port %d", self.server.port)
        await self.server.start(self.http)
        base = self.server.base_url
        # the host opens the call (the first participant), then the WHIP publisher joins
        session, host_token, ws = await recording.join_as_host(self.http, base, CALL)
        self.host_ws = ws
        self._host_reader = asyncio.create_task(self._read_host())
        self.publisher = VideoCounted(base, CALL, self.profile, pacing=self.args.pacing)
        await self.publisher.connect(self.http)
        self.publisher.start()
        if self.publisher.transport.srtp_profile:
            self.srtp_profiles.add(f"publisher: {self.publisher.transport.srtp_profile}")
        watch_link = await start_broadcast(self.http, base, CALL, session, host_token)
        self.whep_path = watch_link.rstrip("/") + "/whep"
        self.encoder_pid = await find_encoder(self.server.pid)
        self.progress("broadcast on air (%s), encoder pid %s", watch_link, self.encoder_pid)
        for index in range(max(1, self.args.client_procs)):
            worker = BroadcastSubscribers(index)
            await worker.start()
            self.workers.append(worker)

    async def _read_host(self) -> None:
        assert self.host_ws is not None
        with contextlib.suppress(Exception):
            async for message in self.host_ws:
                if message.type == aiohttp.WSMsgType.TEXT:
                    kind = json.loads(message.data).get("type")
                    if kind not in self.host_messages:
                        self.host_messages.append(str(kind))

    async def close(self) -> dict[str, Any]:
        if self._host_reader is not None:
            self._host_reader.cancel()
        if self.host_ws is not None:
            with contextlib.suppress(Exception):
                await self.host_ws.close()
        return await super().close()

    async def wait_receiving(self, timeout: float = 20.0) -> None:
        """As forwarding's, but a viewer that gets no video in time is a result (the
        step is not sustained), not an error."""
        try:
            await super().wait_receiving(timeout)
            self.not_receiving = 0
        except RuntimeError as exc:
            if "receive video" not in str(exc):
                raise
            replies = await asyncio.gather(*(w.request({"cmd": "status"}) for w in self.workers))
            viewers = sum(int(r["viewers"]) for r in replies)
            self.not_receiving = viewers - sum(int(r["receiving_video"]) for r in replies)
            self.progress("%s after %.0fs: measuring anyway", exc, timeout)

    def _clients(self) -> dict[str, float]:
        out = super()._clients()
        if self.encoder_pid is not None:
            out["broadcast_encoder"] = _cpu(self.encoder_pid)
        return out

    add_timeout = 600.0
    viewer_kind = "broadcast viewers"

    def add_request(self, count: int) -> dict[str, Any]:
        return {
            **super().add_request(count),
            "whep_path": self.whep_path,
            "stamped": ["video"],
            "receiver_reports": True,
        }

    def _result(
        self,
        before: forwarding.Snapshot,
        after: forwarding.Snapshot,
        expected: dict[str, int],
        replies: Sequence[dict[str, Any]],
        *,
        exact: bool,
    ) -> dict[str, Any]:
        result = super()._result(before, after, expected, replies, exact=exact)
        viewers = [v for r in replies for v in r["viewers"]]
        # parta_rtp_packets_out leaves out what the stage sends to broadcast viewers:
        # count the RTP datagrams the viewers' sockets got in the window instead (every
        # one is counted, decrypted or not; loopback loses next to none, see the loss)
        server = result["server"]
        window = result["window_s"]
        server["parta_rtp_packets_out_per_s"] = server["forwarded_pps"]
        out_packets = sum(int(v["datagrams_in_window"]) for v in viewers)
        cpu, run_s = server["cpu_s"], server["cpu_s_schedstat"]
        server["forwarded_pps"] = round(out_packets / window, 1)
        server["forwarded_packets_source"] = "RTP datagrams received by the viewers"
        server["us_per_forwarded_packet"] = (
            round(cpu * 1e6 / out_packets, 2) if out_packets else None
        )
        server["us_per_forwarded_packet_schedstat"] = (
            round(run_s * 1e6 / out_packets, 2) if out_packets else None
        )
        server["pps_per_core_estimate"] = round(out_packets / cpu) if out_packets and cpu else None
        for name in ("parta_broadcast_bytes_served", "parta_broadcast_bytes_served_total"):
            key = f'{name}{{tier="webrtc"}}'
            if key in after.metrics:
                served = after.metrics[key] - before.metrics.get(key, 0.0)
                server["webrtc_mbit_s_served_metric"] = round(served * 8 / window / 1e6, 2)
        # a viewer that got no RTP at all in the window lost everything
        losses = [
            100.0 if v.get("sequence_loss_percent") is None else float(v["sequence_loss_percent"])
            for v in viewers
        ]
        result["sequence_loss_percent"] = {
            "mean": round(sum(losses) / len(losses), 4) if losses else None,
            "worst": round(max(losses), 4) if losses else None,
            "viewers_with_loss": sum(1 for x in losses if x > 0),
            "viewers_measured": len(losses),
            "viewers_without_packets_in_window": sum(
                1 for v in viewers if v.get("sequence_loss_percent") is None
            ),
        }
        cuts = {}
        for reason in ("stalled", "too_slow"):
            key = f'parta_viewer_drops_total{{reason="{reason}"}}'
            cuts[reason] = after.metrics.get(key, 0.0) - before.metrics.get(key, 0.0)
        result["viewers_cut"] = cuts
        result["viewers_on_server"] = after.metrics.get(
            'parta_broadcast_viewers{tier="webrtc"}', None
        )
        result["sample_every"] = max(
            (w.sample_every for w in self.workers if isinstance(w, BroadcastSubscribers)),
            default=1,
        )
        result["publisher_pps_note"] = "publisher_pps counts the stamped video only"
        return result

    async def broadcast_step(self, n: int) -> dict[str, Any]:
        every = max(1, n // self.args.decrypt_viewers)
        for worker in self.workers:
            assert isinstance(worker, BroadcastSubscribers)
            worker.sample_every = every
        result = await self.run_step(n)
        status = await asyncio.gather(*(w.request({"cmd": "status"}) for w in self.workers))
        result["receiver_reports_sent"] = sum(int(s.get("rr_sent", 0)) for s in status)
        result["viewers_connected"] = sum(int(s["viewers"]) for s in status)
        result["viewers_without_video"] = self.not_receiving
        lat = result["latency_ms"]
        loss = result["sequence_loss_percent"]
        cut = sum(result["viewers_cut"].values())
        ok = (
            loss["mean"] is not None
            and loss["mean"] < 1.0
            and (loss["worst"] or 0.0) < 1.0
            and lat["p99"] is not None
            and lat["p99"] < self.args.p99_limit_ms
            and cut == 0
            and self.not_receiving == 0
        )
        result["sustained"] = ok
        self.progress(
            "N=%d: sustained=%s: loss mean/worst %s/%s%%, p99 %s ms, cut %d, server CPU %.0f%%, "
            "clients %s",
            n,
            ok,
            loss["mean"],
            loss["worst"],
            lat["p99"],
            cut,
            100 * result["server"]["cpu_utilisation"],
            result["clients_cpu_utilisation"],
        )
        return result


async def run_whep(args: argparse.Namespace, report: dict[str, Any], workdir: Path) -> None:
    out: dict[str, Any] = {"steps": []}
    report["whep"] = out
    bench = WhepBench(args, workdir)
    try:
        await bench.setup()
        out["server_command"] = bench.server.command
        ns = list(args.n)
        index = 0
        while index < len(ns):
            n = ns[index]
            step = await bench.broadcast_step(n)
            out["steps"].append(step)
            index += 1
            if not step["sustained"]:
                out["stop_reason"] = f"N={n} was not sustained"
                break
            if index == len(ns) and args.extend_step > 0 and n + args.extend_step <= args.max_n:
                ns.append(n + args.extend_step)
        else:
            out.setdefault("stop_reason", "the last N of the list (or --max-n) was sustained")
    except BaseException as exc:
        bench.failed(out, exc)
        if not isinstance(exc, Exception):
            raise
    finally:
        out["host_messages"] = bench.host_messages
        await bench.finish(out, "viewer_connect_ms")


# -- part 2: HLS ---------------------------------------------------------------------------

PATTERN_WIDTH, PATTERN_HEIGHT, BLOCK = 320, 240, 40
VIDEO_CLOCK = 90_000


def pattern_frame(publisher: int, index: int) -> npt.NDArray[np.uint8]:
    """tests/support/media.py's picture: row 0 the publisher number (8 bits), rows 1-2 the
    frame index (16 bits), as black and white 40-pixel blocks; the rest grey."""
    image = np.full((PATTERN_HEIGHT, PATTERN_WIDTH, 3), 128, dtype=np.uint8)
    bits = [(publisher >> (7 - i)) & 1 for i in range(8)]
    bits += [(index >> (15 - i)) & 1 for i in range(16)]
    for n, bit in enumerate(bits):
        row, col = divmod(n, 8)
        image[row * BLOCK : (row + 1) * BLOCK, col * BLOCK : (col + 1) * BLOCK] = 255 * bit
    return image


def read_pattern(image: npt.NDArray[np.uint8]) -> tuple[int, int] | None:
    """(publisher, frame index) read back from a 320x240 picture (tests/support/media.py)."""
    bits = []
    for n in range(24):
        row, col = divmod(n, 8)
        cell = image[
            row * BLOCK + 8 : (row + 1) * BLOCK - 8, col * BLOCK + 8 : (col + 1) * BLOCK - 8
        ]
        mean = float(cell.mean())
        if 60 < mean < 196:
            return None
        bits.append(1 if mean >= 196 else 0)
    return int("".join(map(str, bits[:8])), 2), int("".join(map(str, bits[8:])), 2)


class CapturedPattern(MediaStreamTrack):
    """tests/support/media.py's pattern (publisher number, frame index as blocks in the top
    three rows) with fresh noise below it; remembers when each frame was captured."""

    kind = "video"

    def __init__(self, publisher: int, fps: int, seed: int = 1) -> None:
        super().__init__()
        self.publisher = publisher
        self.fps = fps
        self.index = 0
        self.captured: dict[int, int] = {}  # frame index (16 bits) -> monotonic ns
        self._start: float | None = None
        self._rng = np.random.default_rng(seed)

    async def recv(self) -> av.VideoFrame:
        if self._start is None:
            self._start = time.monotonic()
        delay = self._start + self.index / self.fps - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        image = pattern_frame(self.publisher, self.index & 0xFFFF)
        noise = self._rng.integers(60, 196, size=(PATTERN_HEIGHT - 3 * BLOCK, PATTERN_WIDTH, 1))
        image[3 * BLOCK :] = noise.astype(np.uint8)
        frame = av.VideoFrame.from_ndarray(image, format="rgb24")
        frame.pts = int(self.index * VIDEO_CLOCK / self.fps)
        frame.time_base = fractions.Fraction(1, VIDEO_CLOCK)
        self.captured[self.index & 0xFFFF] = time.monotonic_ns()
        self.index += 1
        return frame


def newest_index(init: bytes, media: bytes) -> int | None:
    """The frame index in the newest decodable frame of init + media (the HLS picture is
    the camera, 4:3, fitted into 640x360: crop its centre and scale back to 320x240)."""
    last: Any = None
    with contextlib.suppress(Exception), av.open(io.BytesIO(init + media)) as container:
        opened: Any = container
        for frame in opened.decode(video=0):
            last = frame
    if last is None:
        return None
    image = last.to_ndarray(format="rgb24")
    height, width = image.shape[:2]
    crop_w = height * 4 // 3
    left = (width - crop_w) // 2
    image = image[:, left : left + crop_w]
    rows = (np.arange(PATTERN_HEIGHT) * height // PATTERN_HEIGHT).astype(int)
    cols = (np.arange(PATTERN_WIDTH) * crop_w // PATTERN_WIDTH).astype(int)
    found = read_pattern(image[rows][:, cols])
    return None if found is None else found[1]


class DirectoryWatch:
    """Polls the broadcast directory: when each part and segment file appeared."""

    def __init__(self, directory: Path, interval: float = 0.01) -> None:
        self.directory = directory
        self.interval = interval
        self.seen: dict[str, int] = {}
        self.segments: dict[int, int] = {}  # msn -> appeared (monotonic ns)
        self.new: asyncio.Queue[tuple[str, int]] = asyncio.Queue()
        self.queueing = False
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(OSError):
                names = os.listdir(self.directory)
                now = time.monotonic_ns()
                for name in names:
                    if name in self.seen or not name.endswith(".m4s"):
                        continue
                    self.seen[name] = now
                    match = SEGMENT_FILE.match(name)
                    if match:
                        self.segments[int(match.group(1))] = now
                    if self.queueing:
                        self.new.put_nowait((name, now))
            await asyncio.sleep(self.interval)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def segment_bytes(self, first: int, last: int) -> tuple[int, int]:
        """(bytes, count) of the complete segments first..last still on disk."""
        total = count = 0
        for msn in range(first, last + 1):
            with contextlib.suppress(OSError):
                total += (self.directory / f"s{msn}.m4s").stat().st_size
                count += 1
        return total, count






class FetcherProcess:
    """One `--hls-fetcher` process, driven by JSON lines."""

    def __init__(self, index: int) -> None:
        self.index = index
        self.process: asyncio.subprocess.Process | None = None

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    async def start(self) -> None:
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "benchmarks.broadcast",
            "--hls-fetcher",
            cwd=REPO,
            env=child_env(),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=None,
            limit=1 << 28,
            preexec_fn=procstat.die_with_parent,
        )

    async def request(self, message: dict[str, Any], timeout: float) -> dict[str, Any]:
        process = self.process
        assert process is not None and process.stdin is not None and process.stdout is not None
        process.stdin.write((json.dumps(message) + "\n").encode())
        await process.stdin.drain()
        line = await asyncio.wait_for(process.stdout.readline(), timeout)
        if not line:
            raise RuntimeError(f"fetcher process {self.index} exited")
        reply: dict[str, Any] = json.loads(line)
        return reply

    async def stop(self) -> None:
        process = self.process
        if process is None:
            return
        with contextlib.suppress(Exception):
            assert process.stdin is not None
            process.stdin.close()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(process.wait(), 5)
        await procstat.terminate(process)


class HlsBench:
    def __init__(self, args: argparse.Namespace, workdir: Path) -> None:
        self.args = args
        self.workdir = workdir
        self.data_dir = workdir / "hls-data"
        self.server = Server(self.data_dir, workdir / "hls-server.log")
        self.http: aiohttp.ClientSession | None = None
        self.client: Any = None
        self.track: CapturedPattern | None = None
        self.encoder_pid: int | None = None
        self.live_path = ""
        self.hls_dir = Path()
        self.watch: DirectoryWatch | None = None
        self.nginx: subprocess.Popen[bytes] | None = None
        self.nginx_port = 0
        self.fetchers: list[FetcherProcess] = []
        self.quiet_load = _Load(args.quiet_threshold, args.quiet_wait)
        self.started = time.monotonic()

    def progress(self, message: str, *args: object) -> None:
        logger.info("[%6.1fs] HLS: " + message, time.monotonic() - self.started, *args)

    async def setup(self) -> dict[str, Any]:
        # the tests' call-protocol participant and tone, imported at run time (the tests
        # are not among the type-checked packages)
        client_module: Any = importlib.import_module("tests.support.client")
        media_module: Any = importlib.import_module("tests.support.media")
        CallClient, ToneAudioTrack = client_module.CallClient, media_module.ToneAudioTrack

        self.http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60))
        self.progress("starting the server: parta serve on port %d", self.server.port)
        await self.server.start(self.http)
        base = self.server.base_url
        self.client = CallClient(self.http, base, HLS_CALL, "bench speaker")
        await self.client.join()
        self.track = CapturedPattern(1, self.args.camera_fps)
        await self.client.publish(
            [(self.track, "camera"), (ToneAudioTrack(440.0, 0.3), "microphone")]
        )
        host_token = str(self.client.joined["host_token"])
        watch_link = await start_broadcast(
            self.http, base, HLS_CALL, str(self.client.session_token), host_token
        )
        token = watch_link.rsplit("/", 1)[1]
        async with self.http.get(f"{base}/api/watch/{token}") as response:
            info = await response.json()
        self.live_path = str(info["hls"])
        broadcast_id = self.live_path.split("/")[3]
        self.hls_dir = self.data_dir / "broadcasts" / "public" / broadcast_id
        self.encoder_pid = await find_encoder(self.server.pid)
        self.watch = DirectoryWatch(self.hls_dir)
        self.watch.start()
        self.progress("broadcast on air: %s (encoder pid %s)", self.live_path, self.encoder_pid)
        deadline = time.monotonic() + 30
        while len(self.watch.segments) < 2:
            if time.monotonic() > deadline:
                raise RuntimeError(f"no HLS segments in 30 s: {self.server.log_tail()}")
            await asyncio.sleep(0.1)
        for index in range(max(1, self.args.fetcher_procs)):
            fetcher = FetcherProcess(index)
            await fetcher.start()
            self.fetchers.append(fetcher)
        return {"live_playlist": self.live_path, "encoder_pid_found": self.encoder_pid is not None}

    async def close(self) -> None:
        for fetcher in self.fetchers:
            with contextlib.suppress(Exception):
                await fetcher.stop()
        if self.watch is not None:
            await self.watch.stop()
        self.stop_nginx()
        if self.client is not None:
            with contextlib.suppress(Exception):
                await self.client.close()
        with contextlib.suppress(Exception):
            await self.server.stop()
        if self.http is not None:
            await self.http.close()

    def stop_nginx(self) -> None:
        if self.nginx is not None:
            self.nginx.terminate()
            try:
                self.nginx.wait(5)
            except subprocess.TimeoutExpired:
                self.nginx.kill()
                self.nginx.wait(5)
            self.nginx = None

    def nginx_pids(self) -> list[int]:
        if self.nginx is None or self.nginx.poll() is not None:
            return []
        return [self.nginx.pid, *recording.child_pids(self.nginx.pid)]

    def _ours(self) -> dict[str, list[int]]:
        return {
            "parta": [self.server.pid],
            "broadcast_encoder": [self.encoder_pid] if self.encoder_pid else [],
            "nginx": self.nginx_pids(),
            "fetchers": [f.pid for f in self.fetchers],
            "publisher_and_driver": [os.getpid()],
        }

    def _cpu_by_role(self) -> dict[str, float]:
        return {role: sum(_cpu(p) for p in pids) for role, pids in self._ours().items()}

    # -- delay --------------------------------------------------------------------------

    async def measure_delay(self) -> dict[str, Any]:
        watch, track = self.watch, self.track
        assert watch is not None and track is not None
        init = (self.hls_dir / "init.mp4").read_bytes()
        while not watch.new.empty():
            watch.new.get_nowait()
        watch.queueing = True
        part_delays: list[float] = []
        segment_delays: list[float] = []
        unreadable = 0
        end = time.monotonic() + self.args.delay_window
        self.progress("delay: watching new parts and segments for %.0fs", self.args.delay_window)
        cpu0 = self._cpu_by_role()
        t0 = time.monotonic()
        try:
            while (left := end - time.monotonic()) > 0:
                try:
                    name, appeared = await asyncio.wait_for(watch.new.get(), left)
                except TimeoutError:
                    break
                part = PART_FILE.match(name)
                segment = SEGMENT_FILE.match(name)
                try:
                    if part:
                        msn, n = int(part.group(1)), int(part.group(2))
                        media = b"".join(
                            (self.hls_dir / f"s{msn}.{i}.m4s").read_bytes() for i in range(n + 1)
                        )
                    elif segment:
                        media = (self.hls_dir / name).read_bytes()
                    else:
                        continue
                except OSError:
                    unreadable += 1
                    continue
                index = await asyncio.to_thread(newest_index, init, media)
                captured = track.captured.get(index) if index is not None else None
                if captured is None:
                    unreadable += 1
                    continue
                delay = (appeared - captured) / 1e6
                (part_delays if part else segment_delays).append(delay)
        finally:
            watch.queueing = False
        window = time.monotonic() - t0
        cpu1 = self._cpu_by_role()

        def spread(values: list[float]) -> dict[str, Any]:
            if not values:
                return {"count": 0}
            array = np.array(values)
            return {
                "count": len(values),
                "p50": round(float(np.percentile(array, 50)), 1),
                "p90": round(float(np.percentile(array, 90)), 1),
                "p99": round(float(np.percentile(array, 99)), 1),
                "min": round(float(array.min()), 1),
                "max": round(float(array.max()), 1),
            }

        result: dict[str, Any] = {
            "window_s": round(window, 1),
            "part_delay_ms": spread(part_delays),
            "segment_delay_ms": spread(segment_delays),
            "unreadable": unreadable,
            "cpu_utilisation": {
                k: round((cpu1[k] - cpu0[k]) / window, 3) for k in cpu1 if k in cpu0
            },
            "note": "driver CPU includes the publisher's VP8/Opus encoding and decoding the "
            "parts for this measurement",
        }
        self.progress(
            "delay: part p50/p99 %s/%s ms, segment p50/p99 %s/%s ms (%d unreadable)",
            result["part_delay_ms"].get("p50"),
            result["part_delay_ms"].get("p99"),
            result["segment_delay_ms"].get("p50"),
            result["segment_delay_ms"].get("p99"),
            unreadable,
        )
        return result

    # -- load -----------------------------------------------------------------------------

    async def load_step(self, target: str, base: str, viewers: int) -> dict[str, Any]:
        watch = self.watch
        assert watch is not None
        ours = [p for pids in self._ours().values() for p in pids]
        waited, before_load = await self.quiet_load.quiet(ours, self.progress)
        warmup, window = self.args.hls_warmup, self.args.hls_window
        duration = warmup + window + 1.5
        self.progress(
            "%s: %d viewers for %.0fs (%.0fs measured)", target, viewers, duration, window
        )
        share = [viewers // len(self.fetchers)] * len(self.fetchers)
        for i in range(viewers % len(self.fetchers)):
            share[i] += 1
        start_ns = time.monotonic_ns() + 300_000_000
        requests = [
            f.request(
                {
                    "cmd": "run",
                    "base": base,
                    "live": self.live_path,
                    "viewers": count,
                    "start_ns": start_ns,
                    "duration": duration,
                    "ramp": self.args.hls_ramp,
                },
                timeout=duration + 120,
            )
            for f, count in zip(self.fetchers, share, strict=True)
            if count
        ]
        gather = asyncio.gather(*requests)
        await asyncio.sleep(0.3 + warmup)
        cpu0, sys0, t0 = self._cpu_by_role(), procstat.SystemCpu.read(), time.monotonic_ns()
        first_msn = max(watch.segments) + 1 if watch.segments else 0
        await asyncio.sleep(window)
        cpu1, sys1, t1 = self._cpu_by_role(), procstat.SystemCpu.read(), time.monotonic_ns()
        replies = await gather
        seconds = (t1 - t0) / 1e9
        # the segments that appeared inside the window, and every viewer's take of them
        in_window = {m: at for m, at in watch.segments.items() if t0 <= at <= t1 - 1.0e9}
        last_msn = max(in_window) if in_window else first_msn
        fetch_ns: list[int] = []
        lag_ns: list[int] = []
        playlist_ns: list[int] = []
        in_time = expected = errors = requests_done = 0
        bytes_got = 0
        segment_ns = int(self.args.segment_seconds * 1e9)
        per_viewer_fetched: list[int] = []
        for reply in replies:
            errors += int(reply["errors"])
            requests_done += int(reply["requests"])
            playlist_ns += [int(x) for x in reply["playlist_ns"]]
            for got in reply["viewers"]:
                expected += len(in_window)
                fetched = 0
                for msn, done, took, size in got:
                    appeared = in_window.get(int(msn))
                    if appeared is None:
                        continue
                    fetched += 1
                    fetch_ns.append(int(took))
                    lag = int(done) - appeared
                    lag_ns.append(lag)
                    bytes_got += int(size)
                    if lag <= segment_ns:
                        in_time += 1
                per_viewer_fetched.append(fetched)
        media_seconds = max(1, len(in_window)) * self.args.segment_seconds
        rendition_bytes, count = watch.segment_bytes(min(in_window, default=0), last_msn)
        rendition_kbit = (
            rendition_bytes * 8 / count / self.args.segment_seconds / 1000 if count else None
        )

        def pct(values: list[int], q: float) -> float | None:
            return round(float(np.percentile(np.array(values), q)) / 1e6, 1) if values else None

        cpu = {k: round((cpu1[k] - cpu0[k]) / seconds, 3) for k in cpu1 if k in cpu0}
        busy = (sys1.busy - sys0.busy) / seconds
        softirq = (sys1.softirq - sys0.softirq) / seconds
        in_time_pct = round(100.0 * in_time / expected, 2) if expected else None
        error_pct = round(100.0 * errors / max(1, requests_done + errors), 3)
        p99_fetch = pct(fetch_ns, 99)
        result: dict[str, Any] = {
            "target": target,
            "viewers": viewers,
            "window_s": round(seconds, 2),
            "segments_in_window": len(in_window),
            "in_time_percent": in_time_pct,
            "fetch_ms": {
                "p50": pct(fetch_ns, 50),
                "p90": pct(fetch_ns, 90),
                "p99": p99_fetch,
                "max": pct(fetch_ns, 100),
            },
            "lag_ms": {"p50": pct(lag_ns, 50), "p99": pct(lag_ns, 99), "max": pct(lag_ns, 100)},
            "playlist_reload_ms": {"p50": pct(playlist_ns, 50), "p99": pct(playlist_ns, 99)},
            "errors": errors,
            "error_percent": error_pct,
            "requests": requests_done,
            "rendition_kbit_s": round(rendition_kbit, 1) if rendition_kbit else None,
            # bytes of the window's segments that viewers got, per second of media
            "delivered_kbit_s_per_viewer": round(
                bytes_got * 8 / max(1, viewers) / media_seconds / 1000, 1
            ),
            "delivered_mbit_s_total": round(bytes_got * 8 / media_seconds / 1e6, 1),
            "viewers_missing_segments": sum(1 for f in per_viewer_fetched if f < len(in_window)),
            "cpu_utilisation": cpu,
            "system": {
                "busy_cores": round(busy, 3),
                "softirq_cores": round(softirq, 3),
                "other_processes_cores": round(max(0.0, busy - softirq - sum(cpu.values())), 3),
            },
            "other_processes_cores_before": round(before_load, 3),
            "quiet_wait_s": round(waited, 1),
        }
        result["sustained"] = bool(
            in_time_pct is not None
            and in_time_pct >= 99.0
            and p99_fetch is not None
            and p99_fetch < self.args.segment_seconds * 1000
            and error_pct < 1.0
        )
        self.progress(
            "%s %d: sustained=%s in time %s%%, fetch p50/p99 %s/%s ms, lag p99 %s ms, "
            "errors %d, %s kbit/s per viewer (rendition %s), CPU %s",
            target,
            viewers,
            result["sustained"],
            in_time_pct,
            result["fetch_ms"]["p50"],
            p99_fetch,
            result["lag_ms"]["p99"],
            errors,
            result["delivered_kbit_s_per_viewer"],
            result["rendition_kbit_s"],
            cpu,
        )
        return result

    async def load(self, target: str) -> dict[str, Any]:
        if target == "nginx":
            self.nginx, self.nginx_port = nginx_start(self.workdir, self.data_dir, self.server.port)
            base = f"http://127.0.0.1:{self.nginx_port}"
        else:
            base = self.server.base_url
        steps: list[dict[str, Any]] = []
        out: dict[str, Any] = {"base": base, "steps": steps}
        try:
            for viewers in self.args.hls:
                step = await self.load_step(target, base, viewers)
                steps.append(step)
                if not step["sustained"]:
                    out["stop_reason"] = f"{viewers} viewers were not sustained"
                    break
            else:
                out["stop_reason"] = "the largest K of the list was sustained"
        finally:
            if target == "nginx":
                self.stop_nginx()
        sustained = [s["viewers"] for s in steps if s["sustained"]]
        out["largest_sustained"] = max(sustained) if sustained else 0
        return out


async def run_hls(args: argparse.Namespace, report: dict[str, Any], workdir: Path) -> None:
    out: dict[str, Any] = {}
    report["hls"] = out
    bench = HlsBench(args, workdir)
    try:
        out.update(await bench.setup())
        out["delay"] = await bench.measure_delay()
        for target in args.hls_targets:
            out[target] = await bench.load(target)
    except BaseException as exc:
        out["error"] = f"{type(exc).__name__}: {exc}"
        out["server_log_tail"] = bench.server.log_tail()
        if not isinstance(exc, Exception):
            raise
    finally:
        with contextlib.suppress(Exception):
            await asyncio.shield(bench.close())


# -- the fetcher process -------------------------------------------------------------------


async def fetch_viewers(request: dict[str, Any]) -> dict[str, Any]:
    """K segment-by-segment LL-HLS viewers for `duration` seconds from `start_ns`."""
    base = str(request["base"]).rstrip("/")
    live = str(request["live"])
    folder = base + live.rsplit("/", 1)[0] + "/"
    count = int(request["viewers"])
    end_ns = int(request["start_ns"]) + int(float(request["duration"]) * 1e9)
    ramp = float(request.get("ramp", 1.0))
    got: list[list[tuple[int, int, int, int]]] = [[] for _ in range(count)]
    playlist_ns: list[int] = []
    counters = {"errors": 0, "requests": 0}
    connector = aiohttp.TCPConnector(limit=0, ttl_dns_cache=None)
    timeout = aiohttp.ClientTimeout(total=30)

    async def viewer(i: int, http: aiohttp.ClientSession) -> None:
        delay = (int(request["start_ns"]) - time.monotonic_ns()) / 1e9 + ramp * i / max(1, count)
        if delay > 0:
            await asyncio.sleep(delay)
        nxt: int | None = None
        while time.monotonic_ns() < end_ns:
            try:
                if nxt is None:
                    async with http.get(base + live) as response:
                        text = await response.text()
                    counters["requests"] += 1
                    numbers = [int(m) for m in PLAYLIST_SEGMENT.findall(text)]
                    if not numbers:
                        await asyncio.sleep(0.2)
                        continue
                    nxt = max(numbers) + 1
                asked = time.monotonic_ns()
                async with http.get(base + live, params={"_HLS_msn": str(nxt)}) as response:
                    await response.read()
                    status = response.status
                counters["requests"] += 1
                if status != 200:
                    counters["errors"] += 1
                    if status == 400:  # too far ahead: start again from the playlist
                        nxt = None
                    await asyncio.sleep(0.1)
                    continue
                started = time.monotonic_ns()
                playlist_ns.append(started - asked)
                async with http.get(f"{folder}s{nxt}.m4s") as response:
                    body = await response.read()
                    status = response.status
                done = time.monotonic_ns()
                counters["requests"] += 1
                if status == 200:
                    got[i].append((nxt, done, done - started, len(body)))
                else:
                    counters["errors"] += 1
                nxt += 1
            except (aiohttp.ClientError, OSError, TimeoutError):
                counters["errors"] += 1
                await asyncio.sleep(0.1)

    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:
        await asyncio.gather(*(viewer(i, http) for i in range(count)))
    return {"viewers": got, "playlist_ns": playlist_ns, **counters}


async def fetcher_serve() -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=1 << 24)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := await reader.readline():
        request = json.loads(line)
        try:
            reply = await fetch_viewers(request)
        except Exception as exc:
            logger.exception("fetcher")
            reply = {
                "error": f"{type(exc).__name__}: {exc}",
                "viewers": [],
                "playlist_ns": [],
                "errors": 1,
                "requests": 0,
            }
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


# -- the program -----------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.broadcast",
        description=__doc__.split("\n\n", 1)[0] if __doc__ else None,
        epilog="Writes JSON to stdout (and to --output); progress to stderr.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    add = parser.add_argument
    add("--quick", action="store_true", help="smoke test: small N, short windows (< 90 s)")
    add("--output", "-o", type=Path, help="also write the JSON to this file")
    add("--parts", default="whep,hls", help="which parts to run: whep, hls or both")
    add("--timeout", type=float, default=3000.0, help="hard limit for the whole run, seconds")
    add(
        "--quiet-threshold",
        type=float,
        default=0.25,
        help="cores other processes may use during a window before it counts as noisy",
    )
    add(
        "--quiet-wait",
        type=float,
        default=20.0,
        help="seconds to wait, before each window, for other processes to settle",
    )
    whep = parser.add_argument_group("WHEP viewers")
    whep.add_argument(
        "--n",
        type=forwarding._int_list,
        default=list(DEFAULT_NS),
        metavar="N[,N...]",
        help="viewer counts, in increasing order",
    )
    whep.add_argument(
        "--extend-step",
        type=int,
        default=100,
        help="after the last N, add this many viewers while it holds (0: no)",
    )
    whep.add_argument("--max-n", type=int, default=1100, help="never more viewers than this")
    whep.add_argument("--duration", type=float, default=10.0, help="window per N, seconds")
    whep.add_argument("--warmup", type=float, default=3.0, help="seconds before measuring")
    whep.add_argument("--grace", type=float, default=0.5, help="seconds for late packets")
    whep.add_argument("--repeat", type=int, default=1, help="windows per N (median reported)")
    whep.add_argument("--retries", type=int, default=1, help="extra attempts at a noisy window")
    whep.add_argument(
        "--idle-window",
        type=float,
        default=2.0,
        help="per N, server CPU with the publisher paused, seconds (0: skip)",
    )
    whep.add_argument("--client-procs", type=int, default=2, help="viewer worker processes")
    whep.add_argument(
        "--decrypt-viewers",
        type=int,
        default=25,
        help="viewers decrypt 1 datagram in max(1, N / this) (the rest are only "
        "counted and their sequence numbers read)",
    )
    whep.add_argument("--p99-limit-ms", type=float, default=50.0, help="sustained: p99 below")
    whep.add_argument(
        "--srtp", default="parta", choices=["parta", "aes128gcm", "aes256gcm", "aes128cm"]
    )
    whep.add_argument("--video-bitrate", type=float, default=1_500_000)
    whep.add_argument("--fps", type=float, default=30.0)
    whep.add_argument("--keyframe-interval", type=float, default=2.0)
    whep.add_argument("--pacing", type=float, default=0.0)
    hls = parser.add_argument_group("HLS")
    hls.add_argument(
        "--hls",
        type=forwarding._int_list,
        default=list(DEFAULT_HLS),
        metavar="K[,K...]",
        help="HLS viewer counts, in increasing order",
    )
    hls.add_argument(
        "--hls-targets",
        type=lambda s: [x for x in s.split(",") if x],
        default=["nginx", "parta"],
        help="serve through nginx, parta, or both",
    )
    hls.add_argument("--hls-window", type=float, default=10.0, help="window per K, seconds")
    hls.add_argument("--hls-warmup", type=float, default=3.0, help="seconds before measuring")
    hls.add_argument(
        "--hls-ramp", type=float, default=1.0, help="viewers start spread over this many seconds"
    )
    hls.add_argument("--fetcher-procs", type=int, default=2, help="HLS fetcher processes")
    hls.add_argument(
        "--delay-window",
        type=float,
        default=20.0,
        help="seconds of parts and segments decoded for the delay",
    )
    hls.add_argument("--camera-fps", type=int, default=30, help="the publisher's frame rate")
    hls.add_argument(
        "--segment-seconds",
        type=float,
        default=1.0,
        help="the encoder's segment duration (recorder/hls.py)",
    )
    parser.add_argument("--hls-fetcher", action="store_true", help=argparse.SUPPRESS)
    parser.set_defaults(py_spy=None, dump_dir=None, native=False)  # forwarding.Bench's
    return parser


def _summary(report: dict[str, Any]) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    whep = report.get("whep", {})
    rows = {}
    for step in whep.get("steps", []):
        server = step["server"]
        rows[str(step["subscribers"])] = {
            "sustained": step["sustained"],
            "us_per_forwarded_packet": server["us_per_forwarded_packet"],
            "us_per_packet_above_idle": server.get("us_per_forwarded_packet_above_idle"),
            "forwarded_pps": server["forwarded_pps"],
            "server_cpu": server["cpu_utilisation"],
            "p50_ms": step["latency_ms"]["p50"],
            "p99_ms": step["latency_ms"]["p99"],
            "loss_mean_pct": step["sequence_loss_percent"]["mean"],
            "loss_worst_pct": step["sequence_loss_percent"]["worst"],
            "viewers_cut": sum(step["viewers_cut"].values()),
            "viewers_without_video": step.get("viewers_without_video"),
            "viewer_processes_cpu": round(
                sum(
                    v
                    for k, v in step["clients_cpu_utilisation"].items()
                    if k.startswith("subscribers")
                ),
                3,
            ),
            "encoder_cpu": step["clients_cpu_utilisation"].get("broadcast_encoder"),
            "driver_publisher_cpu": step["clients_cpu_utilisation"].get("publisher_and_driver"),
            "other_processes_cores": step["system"]["other_processes_cores"],
        }
    if rows:
        ok = [int(n) for n, r in rows.items() if r["sustained"]]
        summary["whep"] = {
            "by_n": rows,
            "largest_sustained": max(ok) if ok else 0,
            "stop_reason": whep.get("stop_reason"),
        }
    hls = report.get("hls", {})
    if "delay" in hls:
        delay = hls["delay"]
        summary["hls_delay_ms"] = {
            "part_p50": delay["part_delay_ms"].get("p50"),
            "part_p99": delay["part_delay_ms"].get("p99"),
            "segment_p50": delay["segment_delay_ms"].get("p50"),
            "segment_p99": delay["segment_delay_ms"].get("p99"),
        }
    for target in ("nginx", "parta"):
        load = hls.get(target)
        if not load:
            continue
        summary[f"hls_{target}"] = {
            "largest_sustained": load["largest_sustained"],
            "stop_reason": load.get("stop_reason"),
            "by_k": {
                str(s["viewers"]): {
                    "sustained": s["sustained"],
                    "in_time_pct": s["in_time_percent"],
                    "fetch_p50_ms": s["fetch_ms"]["p50"],
                    "fetch_p99_ms": s["fetch_ms"]["p99"],
                    "lag_p99_ms": s["lag_ms"]["p99"],
                    "delivered_mbit_s": s["delivered_mbit_s_total"],
                    "rendition_kbit_s": s["rendition_kbit_s"],
                    "cpu": s["cpu_utilisation"],
                    "other_processes_cores": s["system"]["other_processes_cores"],
                }
                for s in load["steps"]
            },
        }
    return summary


def new_report(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "benchmark": "parta broadcast",
        "machine": procstat.machine_info(),
        "command": ["python", "-m", "benchmarks.broadcast", *sys.argv[1:]],
        "config": {
            "parts": args.parts,
            "whep": {
                "viewers": args.n,
                "extend_step": args.extend_step,
                "max_n": args.max_n,
                "window_s": args.duration,
                "warmup_s": args.warmup,
                "client_processes": args.client_procs,
                "decrypt_viewers": args.decrypt_viewers,
                "p99_limit_ms": args.p99_limit_ms,
                "video": f"VP8 (synthetic) {args.video_bitrate:.0f} bit/s, {args.fps} fps",
                "audio_to_viewers": "the broadcast encoder's Opus mix (20 ms frames)",
                "receiver_reports": "one RTCP RR per viewer per second, via SRTCP",
            },
            "hls": {
                "viewers": args.hls,
                "targets": args.hls_targets,
                "window_s": args.hls_window,
                "warmup_s": args.hls_warmup,
                "fetcher_processes": args.fetcher_procs,
                "publisher": f"aiortc VP8 320x240 @ {args.camera_fps} fps (pattern + noise), "
                "Opus tone",
                "rendition": "recorder/broadcast_worker.py defaults: 640x360 15 fps H.264 "
                "400 kbit/s + AAC 64 kbit/s, 1 s segments, 1/3 s parts",
                "viewer_model": "blocking reload live.m3u8?_HLS_msn=M, then GET sM.m4s, per "
                "segment; keep-alive connections",
                "nginx": "deploy/nginx/parta.conf, worker_processes auto, 10000 connections",
            },
            "quiet_threshold_cores": args.quiet_threshold,
        },
        "definitions": DEFINITIONS,
    }


async def _main(args: argparse.Namespace) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, task.cancel)
    report = new_report(args)
    started = time.monotonic()

    async def run() -> None:
        with tempfile.TemporaryDirectory(prefix="parta-bench-broadcast-") as tmp:
            if "whep" in args.parts:
                await run_whep(args, report, Path(tmp))
            if "hls" in args.parts:
                await run_hls(args, report, Path(tmp))

    try:
        await asyncio.wait_for(run(), args.timeout)
    except (asyncio.CancelledError, TimeoutError) as exc:
        report["error"] = f"stopped: {type(exc).__name__} (timeout {args.timeout}s or a signal)"
    report["elapsed_s"] = round(time.monotonic() - started, 1)
    report["summary"] = _summary(report)
    return report


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    if args.hls_fetcher:
        logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="fetcher: %(message)s")
        asyncio.run(fetcher_serve())
        return
    if args.quick:
        if args.n == list(DEFAULT_NS):
            args.n = [3, 10]
        if args.hls == list(DEFAULT_HLS):
            args.hls = [10, 30]
        args.extend_step = 0
        args.duration = min(args.duration, 3.0)
        args.warmup = min(args.warmup, 1.5)
        args.repeat = 1
        args.retries = 0
        args.idle_window = min(args.idle_window, 0.5)
        args.quiet_wait = min(args.quiet_wait, 2.0)
        args.hls_window = min(args.hls_window, 3.0)
        args.hls_warmup = min(args.hls_warmup, 1.5)
        args.delay_window = min(args.delay_window, 4.0)
    report = procstat.run_and_report(_main(args), args.output)
    failed = "error" in report or any("error" in report.get(part, {}) for part in ("whep", "hls"))
    if failed:
        sys.exit(1)


if __name__ == "__main__":
    main()
