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

    {"cmd": "add", "count": k, "base_url": ..., "call": ..., "srtp": "parta",
     "whep_path": "/watch/<token>/whep",    optional: POST offers here, not /whep/<call>
     "stamped": ["video"],                  optional: kinds whose payload carries the
                                            publisher's stamp (default both); others
                                            are only counted
     "receiver_reports": true}              send an RTCP receiver report about every
                                            stream each second, as players do (default;
                                            a stage viewer is judged by them)
    {"cmd": "status"}
    {"cmd": "mode", "sample_every": k,       decrypt 1 datagram in k (1: all)
     "sample_timestamps": true}             optional: sampled reads keep the kernel's
                                            receive timestamp (recvmsg)
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
import secrets
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
from aiortc.rtp import RtcpReceiverInfo, RtcpRrPacket

from benchmarks import stats
from benchmarks.media import STAMP, VIDEO_STAMP_OFFSET, payload_start
from harness import procstat
from sfu import aiortc_seam as seam
from sfu import sdp

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
RTP_SEQ_SSRC = struct.Struct("!H4xI")  # from byte 2 of an RTP header: sequence, SSRC
RR_INTERVAL = 1.0


def _loopback_only(use_ipv4: bool = True, use_ipv6: bool = True) -> list[str]:
    return ["127.0.0.1"]


class ReceiveStats:
    """One incoming RTP stream's numbers for receiver reports (RFC 3550, A.1 and A.3),
    from the sequence numbers in the clear RTP header: no decryption needed."""

    __slots__ = ("base", "cycles", "expected_prior", "max_seq", "received", "received_prior")

    def __init__(self, seq: int) -> None:
        self.base = seq
        self.max_seq = seq
        self.cycles = 0
        self.received = 0
        self.expected_prior = 0
        self.received_prior = 0

    def update(self, seq: int) -> None:
        self.received += 1
        delta = (seq - self.max_seq) & 0xFFFF
        if 0 < delta < 0x8000:
            if seq < self.max_seq:
                self.cycles += 0x10000
            self.max_seq = seq

    def report_block(self, ssrc: int) -> RtcpReceiverInfo:
        highest = self.cycles + self.max_seq
        expected = highest - self.base + 1
        lost = max(-0x800000, min(0x7FFFFF, expected - self.received))
        expected_interval = expected - self.expected_prior
        lost_interval = expected_interval - (self.received - self.received_prior)
        self.expected_prior, self.received_prior = expected, self.received
        fraction = 0
        if expected_interval > 0 and lost_interval > 0:
            fraction = min(255, (lost_interval << 8) // expected_interval)
        return RtcpReceiverInfo(
            ssrc=ssrc,
            fraction_lost=fraction,
            packets_lost=lost,
            highest_sequence=highest & 0xFFFFFFFF,
            jitter=0,
            lsr=0,
            dlsr=0,
        )


class Viewer:
    """One WHEP session; counts and timestamps what arrives."""

    def __init__(
        self,
        index: int,
        *,
        timestamps: bool = True,
        stamped: tuple[int, ...] = (0, 1),
        receiver_reports: bool = False,
    ) -> None:
        self.index = index
        self.timestamps = timestamps
        self.stamped = stamped  # kinds (0 audio, 1 video) whose payload carries a stamp
        self.receiver_reports = receiver_reports
        self.streams: dict[int, ReceiveStats] = {}  # by SSRC
        self.rr_sent = 0
        self.rr_errors = 0
        self.unstamped = [0, 0]  # packets of kinds without a stamp, by kind
        # (extended highest sequence, received) per SSRC at "start" and at "mark_end"
        self._window_marks: list[dict[int, tuple[int, int]]] = []
        self.sample_timestamps = False
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
        if self.receiver_reports:
            self._note_seq(data)
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
        if kind not in self.stamped:
            self.unstamped[kind] += 1
            return
        offset = payload_start(packet) + (VIDEO_STAMP_OFFSET if kind else 0)
        try:
            sent, counter = STAMP.unpack_from(packet, offset)
        except struct.error:
            self.unknown += 1
            return
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
        timestamps = self.sample_timestamps
        offset = time.time_ns() - time.monotonic_ns() if timestamps else 0
        ancillary: list[tuple[int, int, bytes]] = []
        for _ in range(READ_BATCH):
            try:
                if timestamps:
                    size, ancillary, _flags, addr = raw.recvmsg_into([buffer], 64)
                else:
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
                    if self.receiver_reports and size >= 12:
                        self._note_seq(buffer)
                    continue
            kernel_ns = 0
            for level, kind, payload in ancillary:
                if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
                    sec, nsec = TIMESPEC.unpack_from(payload)
                    kernel_ns = sec * 1_000_000_000 + nsec - offset
            self._kernel_ns = kernel_ns
            try:
                protocol.datagram_received(bytes(buffer[:size]), addr)
            finally:
                self._kernel_ns = 0

    def _note_seq(self, data: bytes | bytearray) -> None:
        seq, ssrc = RTP_SEQ_SSRC.unpack_from(data, 2)
        stream = self.streams.get(ssrc)
        if stream is None:
            stream = self.streams[ssrc] = ReceiveStats(seq)
        stream.update(seq)

    def send_receiver_report(self) -> None:
        """One RTCP receiver report with a block per stream received, through SRTCP."""
        if not self.streams or self.dtls is None:
            return
        sessions = seam.srtp_sessions(self.dtls)
        pair = seam.selected_pair(self.dtls)
        if sessions is None or pair is None:
            return
        report = RtcpRrPacket(
            ssrc=self.own_ssrc,
            reports=[stats.report_block(ssrc) for ssrc, stats in self.streams.items()],
        )
        try:
            pair[0].sendto(sessions[1].protect_rtcp(bytes(report)), pair[1])
        except Exception:
            self.rr_errors += 1
            return
        self.rr_sent += 1

    own_ssrc = 1

    async def connect(
        self,
        http: aiohttp.ClientSession,
        base_url: str,
        call: str,
        srtp: str,
        whep_path: str | None = None,
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
            base_url + (whep_path or f"/whep/{call}"),
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
        self.own_ssrc = secrets.randbits(31) | 1
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

    def mark_streams(self, first: bool) -> None:
        marks = {ssrc: (s.cycles + s.max_seq, s.received) for ssrc, s in self.streams.items()}
        self._window_marks = [marks] if first else [*self._window_marks[:1], marks]

    def sequence_loss(self) -> float | None:
        """Loss by RTP sequence numbers over the window, all streams together (percent):
        what a player would count, every datagram seen (also those not decrypted)."""
        if len(self._window_marks) != 2:
            return None
        before, after = self._window_marks
        expected = received = 0
        for ssrc, (highest, count) in after.items():
            start = before.get(ssrc)
            if start is None:
                continue
            expected += highest - start[0]
            received += count - start[1]
        if expected <= 0:
            return None
        return round(100.0 * max(0, expected - received) / expected, 4)

    def start(self) -> None:
        self._clear()
        self.mark_streams(True)
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
            "sequence_loss_percent": self.sequence_loss(),
            "unstamped": list(self.unstamped),
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
                async with http.delete(
                    base_url + self.location, headers=procstat.operator_headers()
                ) as response:
                    await response.read()
        with contextlib.suppress(Exception):
            await self.pc.close()


class Worker:
    def __init__(self) -> None:
        self.viewers: list[Viewer] = []
        self.http: aiohttp.ClientSession | None = None
        self.base_url = ""
        self.sample_every = 1
        self.sample_timestamps = False
        self._reporter: asyncio.Task[None] | None = None

    async def handle(self, request: dict[str, Any]) -> dict[str, Any]:
        cmd = request.get("cmd")
        if cmd == "add":
            return await self.add(request)
        if cmd == "status":
            return self.status()
        if cmd == "mode":
            self.sample_every = max(1, int(request.get("sample_every", 1)))
            self.sample_timestamps = bool(request.get("sample_timestamps", False))
            for viewer in self.viewers:
                viewer.sample_every = self.sample_every
                viewer.sample_timestamps = self.sample_timestamps
            return {"ok": True}
        if cmd == "start":
            for viewer in self.viewers:
                viewer.start()
            return {"ok": True, "at": time.monotonic_ns()}
        if cmd == "mark_end":
            for viewer in self.viewers:
                viewer.counting = False
                viewer.mark_streams(False)
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
        whep_path = request.get("whep_path")
        stamped = tuple(KINDS.index(k) for k in request.get("stamped", KINDS))
        receiver_reports = bool(request.get("receiver_reports", True))
        semaphore = asyncio.Semaphore(CONCURRENCY)
        new = [
            Viewer(first + i, stamped=stamped, receiver_reports=receiver_reports)
            for i in range(count)
        ]
        if receiver_reports and self._reporter is None:
            self._reporter = asyncio.create_task(self._report_every_second())

        async def connect(viewer: Viewer) -> str | None:
            async with semaphore:
                try:
                    assert self.http is not None
                    await viewer.connect(
                        self.http, self.base_url, call, srtp, str(whep_path) if whep_path else None
                    )
                except Exception as exc:
                    logger.warning("viewer %d: %s", viewer.index, exc)
                    await viewer.close(self.http, self.base_url)  # type: ignore[arg-type]
                    return f"viewer {viewer.index}: {exc}"
            return None

        errors = [e for e in await asyncio.gather(*(connect(v) for v in new)) if e]
        for viewer in new:
            if viewer.connect_ms is not None:
                viewer.sample_every = self.sample_every
                viewer.sample_timestamps = self.sample_timestamps
                self.viewers.append(viewer)
        return {
            "ok": not errors,
            "errors": errors[:5],
            "viewers": len(self.viewers),
            "connect_ms": [round(v.connect_ms, 1) for v in new if v.connect_ms is not None],
            "srtp_profiles": sorted({str(v.srtp_profile) for v in self.viewers}),
        }

    async def _report_every_second(self) -> None:
        """Receiver reports, spread over the second so that they do not come in bursts."""
        while True:
            viewers = [v for v in self.viewers if v.receiver_reports]
            if not viewers:
                await asyncio.sleep(RR_INTERVAL)
                continue
            step = RR_INTERVAL / len(viewers)
            for viewer in viewers:
                viewer.send_receiver_report()
                await asyncio.sleep(step)

    def status(self) -> dict[str, Any]:
        return {
            "ok": True,
            "rr_sent": sum(v.rr_sent for v in self.viewers),
            "rr_errors": sum(v.rr_errors for v in self.viewers),
            "unstamped": [sum(v.unstamped[k] for v in self.viewers) for k in (0, 1)],
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
        if self._reporter is not None:
            self._reporter.cancel()
            self._reporter = None
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
