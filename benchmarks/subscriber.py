"""Subscriber worker process: many WHEP viewers that receive RTP below the codec layer.

Run as `python -m benchmarks.subscriber`; the benchmark drives it with one JSON
command per line on stdin and reads one JSON reply per line on stdout (logs go to
stderr). It exits when stdin closes, so it cannot outlive the benchmark.

Each viewer is an aiortc RTCPeerConnection with a recvonly audio and video m-line, used
only for ICE, DTLS and SRTP keying: its receive pipeline is switched off (no decoder),
and SRTP datagrams are taken from the socket through the SFU's own seam, decrypted
here and reduced to (kind, send time, counter, arrival time).

Two arrival times are kept per packet. The *socket* time is the kernel's receive
timestamp (SO_TIMESTAMPNS; on loopback it is taken when the server's `sendto` hands
the packet to the stack), so it measures what the server adds and not how long this
process, which serves many viewers on a shared CPU, took to get round to the packet.
The *application* time is when the handler ran. To get the kernel timestamp, the
viewer's socket is read here with `recvmsg` (draining it on each wake-up) instead of
asyncio's one-`recvfrom`-per-wake-up reader; datagrams then go to the same protocol
object as before, so ICE consent checks and DTLS are untouched.

Commands (every reply carries the request's "id"):

    {"cmd": "add", "count": k, "base_url": ..., "call": ..., "srtp": "parta"}
    {"cmd": "status"}
    {"cmd": "mode", "sample_every": k}       decrypt 1 datagram in k (1: all)
    {"cmd": "start"}                         forget records, start recording and counting
    {"cmd": "mark_end"}                      stop counting datagrams (records go on)
    {"cmd": "report", "t0": ns, "t1": ns, "expected": {"audio": a, "video": v}}
    {"cmd": "stop"}                          WHEP DELETE every session and exit
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import struct
import sys
import time
from array import array
from typing import Any

import aiohttp
import aioice.ice
import numpy as np
from aiortc import RTCBundlePolicy, RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.rtcdtlstransport import (
    SRTP_AEAD_AES_128_GCM,
    SRTP_AEAD_AES_256_GCM,
    SRTP_AES128_CM_SHA1_80,
)

from sfu import aiortc_seam as seam
from sfu import sdp

from . import procstat, stats
from .media import STAMP, VIDEO_STAMP_OFFSET, payload_start

logger = logging.getLogger("benchmarks.subscriber")

KINDS = ("audio", "video")
SRTP_CHOICES = {
    # "parta": the order parta itself prefers (sfu.aiortc_seam.prefer_cheap_srtp)
    "aes128gcm": [SRTP_AEAD_AES_128_GCM],
    "aes256gcm": [SRTP_AEAD_AES_256_GCM],
    "aes128cm": [SRTP_AES128_CM_SHA1_80],
}
CONNECT_TIMEOUT = 20.0
CONCURRENCY = 8
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)
TIMESPEC = struct.Struct("@qq")
READ_BATCH = 64


def _loopback_only(use_ipv4: bool = True, use_ipv6: bool = True) -> list[str]:
    return ["127.0.0.1"]


class Viewer:
    """One WHEP session; counts and timestamps what arrives."""

    def __init__(self, index: int, *, timestamps: bool = True) -> None:
        self.index = index
        self.timestamps = timestamps
        self.pc = RTCPeerConnection(
            RTCConfiguration(iceServers=[], bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)
        )
        self.location: str | None = None
        self.dtls: Any = None
        self.rx: seam.SrtpSession | None = None
        self.srtp_profile: str | None = None
        self.pts: dict[int, int] = {}  # payload type -> 0 audio, 1 video
        self.connect_ms: float | None = None
        self.first_video_ns: int | None = None
        # counters since start
        self.datagrams = 0
        self.rtcp = 0
        self.srtp_errors = 0
        self.unknown = 0
        # recording
        self.recording = False
        self.counting = False  # datagrams counted by arrival, between "start" and "mark_end"
        self.sample_every = 1
        self._skip = 0
        self.window_datagrams = 0
        self.kinds = array("b")
        self.sent = array("q")
        self.recv = array("q")
        self.arrived = array("q")
        self.counters = array("q")
        # kernel receive time of the datagram being handled (monotonic ns), if known
        self._kernel_ns = 0
        self._socket: socket.socket | None = None
        self._socket_fd = -1
        self._buffer = bytearray(4096)

    def on_datagram(self, data: bytes, addr: tuple[Any, ...]) -> None:
        now = time.monotonic_ns()
        arrived = self._kernel_ns or now
        if 191 < data[1] < 224:  # RTCP (sender reports translated by the SFU)
            self.rtcp += 1
            return
        self.datagrams += 1
        if self.counting:
            self.window_datagrams += 1
        self._skip += 1
        if self._skip < self.sample_every:
            return
        self._skip = 0
        rx = self.rx
        if rx is None:
            sessions = seam.srtp_sessions(self.dtls)
            if sessions is None:
                return
            rx = self.rx = sessions[0]
        try:
            packet = rx.unprotect(data)
        except Exception:
            self.srtp_errors += 1
            return
        kind = self.pts.get(packet[1] & 0x7F)
        if kind is None:
            self.unknown += 1
            return
        offset = payload_start(packet) + (VIDEO_STAMP_OFFSET if kind else 0)
        sent, counter = STAMP.unpack_from(packet, offset)
        if kind and self.first_video_ns is None:
            self.first_video_ns = now
        if self.recording:
            self.kinds.append(kind)
            self.sent.append(sent)
            self.recv.append(now)
            self.arrived.append(arrived)
            self.counters.append(counter)

    def read_with_timestamps(self) -> None:
        """Take over reading the viewer's socket: recvmsg with kernel receive timestamps."""
        pair = seam.selected_pair(self.dtls)
        if pair is None:
            return
        udp = pair[0]
        sock = udp.get_extra_info("socket")
        protocol = udp.get_protocol()
        if sock is None or protocol is None:
            return
        raw: socket.socket = sock.dup()
        raw.setblocking(False)
        raw.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        self._socket = raw
        # asyncio stops reading the original descriptor; this one reads the duplicate
        selector_transport: Any = udp  # a _SelectorTransport: it has pause_reading()
        selector_transport.pause_reading()
        self._socket_fd = raw.fileno()
        asyncio.get_running_loop().add_reader(self._socket_fd, self._read_ready, raw, protocol)

    def _read_ready(self, raw: socket.socket, protocol: Any) -> None:
        if self.sample_every > 1:
            self._drain_sampled(raw, protocol)
            return
        # realtime -> monotonic, read once per wake-up (tracks any clock slewing)
        offset = time.time_ns() - time.monotonic_ns()
        for _ in range(READ_BATCH):
            try:
                data, ancillary, _flags, addr = raw.recvmsg(4096, 64)
            except (BlockingIOError, InterruptedError):
                break
            except OSError as exc:
                protocol.error_received(exc)
                break
            kernel_ns = 0
            for level, kind, payload in ancillary:
                if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
                    sec, nsec = TIMESPEC.unpack_from(payload)
                    kernel_ns = sec * 1_000_000_000 + nsec - offset
            self._kernel_ns = kernel_ns
            try:
                protocol.datagram_received(data, addr)
            finally:
                self._kernel_ns = 0

    def _drain_sampled(self, raw: socket.socket, protocol: Any) -> None:
        """The cheap reader for saturation runs: count most RTP datagrams, decode 1 in k.

        Unsampled RTP is only counted; sampled RTP, RTCP, STUN and DTLS go to the
        protocol as usual (without a kernel timestamp: latency is taken on arrival in
        this process).
        """
        buffer = self._buffer
        for _ in range(READ_BATCH):
            try:
                size, addr = raw.recvfrom_into(buffer)
            except (BlockingIOError, InterruptedError):
                break
            except OSError as exc:
                protocol.error_received(exc)
                break
            if size > 1 and 127 < buffer[0] < 192 and not 191 < buffer[1] < 224:
                self._skip += 1
                if self._skip < self.sample_every:
                    self.datagrams += 1
                    if self.counting:
                        self.window_datagrams += 1
                    continue
            protocol.datagram_received(bytes(buffer[:size]), addr)

    async def connect(
        self, http: aiohttp.ClientSession, base_url: str, call: str, srtp: str
    ) -> None:
        started = time.monotonic()
        for kind in KINDS:
            seam.disable_media_pipeline(self.pc.addTransceiver(kind, direction="recvonly"))
        self.dtls = seam.dtls_transport_of(self.pc)
        if srtp in SRTP_CHOICES:
            # the viewer is the DTLS server (the SFU answers a=setup:active), so its
            # profile list decides what is negotiated
            self.dtls._srtp_profiles = SRTP_CHOICES[srtp]
        else:
            seam.prefer_cheap_srtp(self.dtls)
        seam.restrict_gathering(self.pc, seam.IcePolicy())
        await self.pc.setLocalDescription(await self.pc.createOffer())
        seam.intercept_datagrams(self.dtls, self.on_datagram)
        async with http.post(
            f"{base_url}/whep/{call}",
            data=self.pc.localDescription.sdp.encode(),
            headers={"Content-Type": "application/sdp", **procstat.operator_headers()},
        ) as response:
            answer = await response.text()
            if response.status != 201:
                raise RuntimeError(f"WHEP answered {response.status}: {answer[:200]}")
            self.location = response.headers.get("Location")
        for media in sdp.parse(answer).media:
            if media.kind in KINDS and media.port != 0:
                for codec in media.rtp.codecs:
                    self.pts[int(str(codec.payloadType))] = KINDS.index(media.kind)
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
        deadline = time.monotonic() + CONNECT_TIMEOUT
        while seam.srtp_sessions(self.dtls) is None:
            if time.monotonic() > deadline or self.pc.connectionState == "failed":
                raise RuntimeError(f"viewer {self.index} did not connect")
            await asyncio.sleep(0.02)
        self.rx = seam.srtp_sessions(self.dtls)[0]  # type: ignore[index]
        self.srtp_profile = seam.negotiated_srtp_profile(self.dtls)
        if self.timestamps:
            self.read_with_timestamps()
        self.connect_ms = (time.monotonic() - started) * 1000

    def _clear(self) -> None:
        self.kinds = array("b")
        self.sent = array("q")
        self.recv = array("q")
        self.arrived = array("q")
        self.counters = array("q")

    def start(self) -> None:
        self._clear()
        self.counting = True
        self.window_datagrams = 0
        self.recording = True

    def report(
        self, t0: int, t1: int, expected: dict[str, int]
    ) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
        """Per-viewer numbers, plus raw latencies {clock: {kind: ns array}} for histograms.

        clock "socket": kernel receive timestamp; "app": when the handler ran.
        """
        self.recording = False
        kinds = np.frombuffer(self.kinds, dtype=np.int8)
        sent = np.frombuffer(self.sent, dtype=np.int64)
        arrivals = {
            "socket": np.frombuffer(self.arrived, dtype=np.int64),
            "app": np.frombuffer(self.recv, dtype=np.int64),
        }
        counters = np.frombuffer(self.counters, dtype=np.int64)
        inside = (sent >= t0) & (sent <= t1)
        out: dict[str, Any] = {
            "index": self.index,
            "datagrams_in_window": self.window_datagrams,
            "srtp_errors": self.srtp_errors,
            "sampled_packets": int(inside.sum()),
        }
        received = duplicates = 0
        raw: dict[str, dict[str, Any]] = {clock: {} for clock in arrivals}
        for k, kind in enumerate(KINDS):
            mask = inside & (kinds == k)
            unique = int(np.unique(counters[mask]).size)
            received += unique
            duplicates += int(mask.sum()) - unique
            for clock, arrived in arrivals.items():
                raw[clock][kind] = arrived[mask] - sent[mask]
        want = sum(int(expected.get(kind, 0)) for kind in KINDS)
        out["received"] = received
        out["expected"] = want
        out["duplicates"] = duplicates
        out["loss_percent"] = (
            round(100.0 * max(0, want - received) / want, 4)
            if want and self.sample_every == 1
            else None
        )
        out["latency_ms"] = {}
        for clock, arrived in arrivals.items():
            latency = arrived[inside] - sent[inside]
            if latency.size:
                p50, p99 = np.percentile(latency, [50, 99])
                out["latency_ms"][clock] = {
                    "p50": round(float(p50) / 1e6, 3),
                    "p99": round(float(p99) / 1e6, 3),
                    "max": round(float(latency.max()) / 1e6, 3),
                }
        self._clear()
        return out, raw

    async def close(self, http: aiohttp.ClientSession, base_url: str) -> None:
        if self._socket is not None:
            with contextlib.suppress(Exception):
                asyncio.get_running_loop().remove_reader(self._socket_fd)
            self._socket.close()
            self._socket = None
        if self.location:
            with contextlib.suppress(Exception):
                async with http.delete(base_url + self.location) as response:
                    await response.read()
        with contextlib.suppress(Exception):
            await self.pc.close()


class Worker:
    def __init__(self) -> None:
        self.viewers: list[Viewer] = []
        self.http: aiohttp.ClientSession | None = None
        self.base_url = ""
        self.sample_every = 1

    async def handle(self, request: dict[str, Any]) -> dict[str, Any]:
        cmd = request.get("cmd")
        if cmd == "add":
            return await self.add(request)
        if cmd == "status":
            return self.status()
        if cmd == "mode":
            self.sample_every = max(1, int(request.get("sample_every", 1)))
            for viewer in self.viewers:
                viewer.sample_every = self.sample_every
            return {"ok": True}
        if cmd == "start":
            for viewer in self.viewers:
                viewer.start()
            return {"ok": True, "at": time.monotonic_ns()}
        if cmd == "mark_end":
            for viewer in self.viewers:
                viewer.counting = False
            return {"ok": True}
        if cmd == "report":
            if request.get("dump"):
                self.dump(str(request["dump"]), int(request["t0"]), int(request["t1"]))
            return self.report(int(request["t0"]), int(request["t1"]), request.get("expected", {}))
        if cmd == "stop":
            await self.stop()
            return {"ok": True}
        return {"ok": False, "error": f"unknown command {cmd!r}"}

    async def add(self, request: dict[str, Any]) -> dict[str, Any]:
        if self.http is None:
            self.http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
        self.base_url = str(request["base_url"]).rstrip("/")
        call = str(request["call"])
        srtp = str(request.get("srtp", "parta"))
        count = int(request["count"])
        first = int(request.get("first_index", len(self.viewers)))
        semaphore = asyncio.Semaphore(CONCURRENCY)
        new = [Viewer(first + i) for i in range(count)]

        async def connect(viewer: Viewer) -> str | None:
            async with semaphore:
                try:
                    assert self.http is not None
                    await viewer.connect(self.http, self.base_url, call, srtp)
                except Exception as exc:
                    logger.warning("viewer %d: %s", viewer.index, exc)
                    await viewer.close(self.http, self.base_url)  # type: ignore[arg-type]
                    return f"viewer {viewer.index}: {exc}"
            return None

        errors = [e for e in await asyncio.gather(*(connect(v) for v in new)) if e]
        for viewer in new:
            if viewer.connect_ms is not None:
                viewer.sample_every = self.sample_every
                self.viewers.append(viewer)
        return {
            "ok": not errors,
            "errors": errors[:5],
            "viewers": len(self.viewers),
            "connect_ms": [round(v.connect_ms, 1) for v in new if v.connect_ms is not None],
            "srtp_profiles": sorted({str(v.srtp_profile) for v in self.viewers}),
        }

    def status(self) -> dict[str, Any]:
        return {
            "ok": True,
            "viewers": len(self.viewers),
            "receiving_video": sum(1 for v in self.viewers if v.first_video_ns is not None),
            "datagrams": sum(v.datagrams for v in self.viewers),
            "rtcp": sum(v.rtcp for v in self.viewers),
            "srtp_errors": sum(v.srtp_errors for v in self.viewers),
            "unknown": sum(v.unknown for v in self.viewers),
            "srtp_profiles": sorted({str(v.srtp_profile) for v in self.viewers}),
        }

    def report(self, t0: int, t1: int, expected: dict[str, int]) -> dict[str, Any]:
        viewers = []
        collected: dict[str, dict[str, list[Any]]] = {
            clock: {kind: [] for kind in KINDS} for clock in ("socket", "app")
        }
        for viewer in self.viewers:
            out, raw = viewer.report(t0, t1, expected)
            viewers.append(out)
            for clock, by_kind in raw.items():
                for kind, values in by_kind.items():
                    collected[clock][kind].append(values)
        histograms: dict[str, dict[str, dict[int, int]]] = {}
        maxima: dict[str, int] = {}
        for clock, by_kind in collected.items():
            histograms[clock] = {}
            maxima[clock] = 0
            for kind, parts in by_kind.items():
                values = np.concatenate(parts) if parts else np.zeros(0, np.int64)
                histograms[clock][kind] = stats.histogram(values.astype(np.int64))
                if values.size:
                    maxima[clock] = max(maxima[clock], int(values.max()))
        return {"ok": True, "viewers": viewers, "histograms": histograms, "max_ns": maxima}

    def dump(self, path: str, t0: int, t1: int) -> None:
        """Save every recorded packet of the window (for offline analysis) as .npz."""
        columns: dict[str, list[Any]] = {
            k: [] for k in ("viewer", "kind", "counter", "sent", "socket", "app")
        }
        for viewer in self.viewers:
            sent = np.frombuffer(viewer.sent, dtype=np.int64)
            inside = (sent >= t0) & (sent <= t1)
            columns["viewer"].append(np.full(int(inside.sum()), viewer.index, dtype=np.int32))
            columns["kind"].append(np.frombuffer(viewer.kinds, dtype=np.int8)[inside])
            columns["counter"].append(np.frombuffer(viewer.counters, dtype=np.int64)[inside])
            columns["sent"].append(sent[inside])
            columns["socket"].append(np.frombuffer(viewer.arrived, dtype=np.int64)[inside])
            columns["app"].append(np.frombuffer(viewer.recv, dtype=np.int64)[inside])
        arrays = {k: np.concatenate(v) if v else np.zeros(0) for k, v in columns.items()}
        np.savez_compressed(path, **arrays)  # type: ignore[arg-type]

    async def stop(self) -> None:
        if self.http is not None:
            await asyncio.gather(*(v.close(self.http, self.base_url) for v in self.viewers))
            await self.http.close()
            self.http = None
        self.viewers.clear()


async def serve() -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=1 << 24)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    worker = Worker()
    try:
        while True:
            line = await reader.readline()
            if not line:
                break
            try:
                request = json.loads(line)
            except ValueError:
                continue
            try:
                reply = await worker.handle(request)
            except Exception as exc:
                logger.exception("command %s", request.get("cmd"))
                reply = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
            reply["id"] = request.get("id")
            sys.stdout.write(json.dumps(reply) + "\n")
            sys.stdout.flush()
            if request.get("cmd") == "stop":
                break
    finally:
        await worker.stop()


def main() -> None:
    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr, format="subscriber %(process)d: %(message)s"
    )
    for name in ("aioice", "aiortc"):
        logging.getLogger(name).setLevel(logging.WARNING)
    # a safety net under restrict_gathering: aioice never looks beyond loopback here
    aioice.ice.get_host_addresses = _loopback_only
    asyncio.run(serve())


if __name__ == "__main__":
    main()
