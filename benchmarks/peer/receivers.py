"""N subscribers in one process, counting what reaches their sockets.

    python -m benchmarks.peer.receivers --signal whep --url URL --token T --count 50
    python -m benchmarks.peer.receivers --signal janus --url URL --room R --feed F ...

Each is a full aiortc RTCPeerConnection (real ICE, DTLS, SRTP keys). Once it is set
up, its socket's datagrams are taken before aiortc: every SRTP packet is decrypted
(libsrtp's authentication is the check), counted per SSRC with extended sequence
numbers, and dropped; RTCP, STUN and DTLS go on to aiortc. Nothing is decoded, and
no receiver reports are sent (as in ../shared/peer-bench, for Janus's figures).
An RTP packet that comes before the receiver's SRTP keys exist is counted as early
and dropped too: given to aiortc, it would sit in aiortc's statistics for ever, and
aiortc's receiver reports would then say the stream stands still.

Commands on stdin, answers as JSON lines on stdout: `mark LABEL` (counters now),
`quit`. Adapted from ../shared/peer-bench/receivers.py.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from typing import Any

import aiohttp
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

from benchmarks.peer.signaling import (
    JanusSession,
    SignalingError,
    WhipResource,
    is_jsep,
    is_webrtcup,
    plugin_data,
)


def say(**message: Any) -> None:
    print(json.dumps(message), flush=True)


class Sub:
    """One subscriber's counters (touched per packet: kept flat)."""

    __slots__ = (
        "audio",
        "bad",
        "bytes",
        "early",
        "error",
        "idx",
        "kinds",
        "packets",
        "pc",
        "profile",
        "ssrcs",
        "state",
        "video",
        "whep",
    )

    def __init__(self, idx: int) -> None:
        self.idx = idx
        self.pc: RTCPeerConnection | None = None
        self.whep: WhipResource | None = None
        self.packets = self.bytes = self.audio = self.video = self.bad = self.early = 0
        self.ssrcs: dict[int, list[int]] = {}  # ssrc: [first, highest, received] (extended)
        self.kinds: dict[int, str] = {}  # payload type: kind
        self.state = "new"
        self.error: str | None = None
        self.profile: str | None = None

    def lost(self) -> tuple[int, int]:
        """(missing, expected) over every SSRC, by sequence numbers."""
        missing = expected = 0
        for first, highest, received in self.ssrcs.values():
            expected += highest - first + 1
            missing += max(0, highest - first + 1 - received)
        return missing, expected


def payload_kinds(sdp: str) -> dict[int, str]:
    kinds: dict[int, str] = {}
    for line in sdp.splitlines():
        if line.startswith("m="):
            parts = line[2:].split()
            kinds.update((int(pt), parts[0]) for pt in parts[3:] if pt.isdigit())
    return kinds


def count_at_socket(sub: Sub) -> None:
    """Wrap the datagram handler of every local socket of the subscriber's connection."""
    assert sub.pc is not None
    dtls: Any = sub.pc.getTransceivers()[0].receiver.transport
    for protocol in dtls.transport._connection._protocols:
        protocol.datagram_received = _counter(protocol.datagram_received, dtls, sub)


def _counter(original: Any, dtls: Any, sub: Sub) -> Any:
    ssrcs, kinds = sub.ssrcs, sub.kinds

    def datagram_received(data: bytes, addr: Any) -> None:
        if not (127 < data[0] < 192) or 191 < data[1] < 224:
            original(data, addr)  # STUN, DTLS, RTCP
            return
        rx = dtls._rx_srtp
        if rx is None:
            sub.early += 1
            return
        try:
            rx.unprotect(data)
        except Exception:
            sub.bad += 1
            return
        sub.packets += 1
        sub.bytes += len(data)
        if kinds.get(data[1] & 0x7F) == "audio":
            sub.audio += 1
        else:
            sub.video += 1
        seq = (data[2] << 8) | data[3]
        ssrc = int.from_bytes(data[8:12], "big")
        stream = ssrcs.get(ssrc)
        if stream is None:
            ssrcs[ssrc] = [seq, seq, 1]
        else:
            delta = (seq - stream[1]) & 0xFFFF
            if 0 < delta < 0x8000:
                stream[1] += delta
            stream[2] += 1

    return datagram_received


class Receivers:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.subs = [Sub(i) for i in range(args.count)]
        self.http: aiohttp.ClientSession | None = None
        self.janus: JanusSession | None = None

    async def start_one(self, sub: Sub) -> None:
        args = self.args
        sub.pc = pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        try:
            if self.janus is not None:
                handle = await self.janus.attach()
                await handle.message(
                    {
                        "request": "join",
                        "ptype": "subscriber",
                        "room": args.room,
                        "streams": [{"feed": args.feed}],
                    }
                )
                event = await handle.wait_event(lambda e: is_jsep(e) or "error" in plugin_data(e))
                if "jsep" not in event:
                    raise SignalingError(f"Janus join: {plugin_data(event)}")
                sub.kinds.update(payload_kinds(event["jsep"]["sdp"]))
                await pc.setRemoteDescription(
                    RTCSessionDescription(sdp=event["jsep"]["sdp"], type="offer")
                )
                await pc.setLocalDescription(await pc.createAnswer())
                count_at_socket(sub)
                await handle.message(
                    {"request": "start"}, jsep={"type": "answer", "sdp": pc.localDescription.sdp}
                )
                await handle.wait_event(is_webrtcup, args.timeout)
            else:
                assert self.http is not None
                pc.addTransceiver("audio", direction="recvonly")
                pc.addTransceiver("video", direction="recvonly")
                await pc.setLocalDescription(await pc.createOffer())
                sub.whep = WhipResource(args.url, self.http, args.token)
                answer = await sub.whep.exchange(pc.localDescription.sdp)
                sub.kinds.update(payload_kinds(answer))
                count_at_socket(sub)
                await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
            deadline = time.monotonic() + args.timeout
            while pc.connectionState != "connected":
                if pc.connectionState == "failed" or time.monotonic() > deadline:
                    raise SignalingError(f"connection {pc.connectionState}")
                await asyncio.sleep(0.05)
            sub.state = "connected"
        except Exception as exc:
            sub.state, sub.error = "failed", repr(exc)[:300]

    async def start_all(self) -> None:
        self.http = aiohttp.ClientSession()
        if self.args.signal == "janus":
            self.janus = JanusSession(self.args.url, self.http)
            await self.janus.create()
        gate = asyncio.Semaphore(self.args.concurrency)

        async def one(sub: Sub) -> None:
            async with gate:
                await self.start_one(sub)

        await asyncio.gather(*(one(s) for s in self.subs))
        deadline = time.monotonic() + self.args.timeout
        while time.monotonic() < deadline and any(
            s.state == "connected" and (s.video < 10 or s.audio < 5) for s in self.subs
        ):
            await asyncio.sleep(0.1)
        for sub in self.subs:
            dtls: Any = sub.pc.getTransceivers()[0].receiver.transport if sub.pc else None
            if dtls is not None and dtls._ssl is not None:
                profile = dtls._ssl.get_selected_srtp_profile()
                sub.profile = profile.decode() if profile else None
        flowing = [s for s in self.subs if s.state == "connected" and s.video >= 10]
        say(
            event="up",
            flowing=len(flowing),
            failed=sum(s.state == "failed" for s in self.subs),
            srtp_profiles=sorted({s.profile for s in flowing if s.profile}),
            errors=[s.error for s in self.subs if s.error][:3],
        )

    def mark(self, label: str) -> None:
        missing = expected = 0
        for sub in self.subs:
            m, e = sub.lost()
            missing, expected = missing + m, expected + e
        say(
            event="mark",
            label=label,
            t=time.time(),
            packets=sum(s.packets for s in self.subs),
            bytes=sum(s.bytes for s in self.subs),
            audio=sum(s.audio for s in self.subs),
            video=sum(s.video for s in self.subs),
            bad_srtp=sum(s.bad for s in self.subs),
            early=sum(s.early for s in self.subs),
            lost=missing,
            expected=expected,
            per_sub=[s.packets for s in self.subs],
        )

    async def close(self) -> None:
        async def one(sub: Sub) -> None:
            try:
                if sub.whep is not None:
                    await sub.whep.delete()
                if sub.pc is not None:
                    await asyncio.wait_for(sub.pc.close(), 5)
            except Exception:
                pass

        await asyncio.gather(*(one(s) for s in self.subs))
        if self.janus is not None:
            await self.janus.destroy()
        if self.http is not None:
            await self.http.close()


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--signal", choices=["whep", "janus"], required=True)
    parser.add_argument("--url", required=True)
    parser.add_argument("--token")
    parser.add_argument("--room", type=int, default=4242)
    parser.add_argument("--feed", type=int, default=1)
    parser.add_argument("--count", type=int, default=1)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--timeout", type=float, default=40.0)
    args = parser.parse_args()
    receivers = Receivers(args)
    loop = asyncio.get_running_loop()
    try:
        await receivers.start_all()
        while line := await loop.run_in_executor(None, sys.stdin.readline):
            words = line.split()
            if words and words[0] == "mark":
                receivers.mark(words[1] if len(words) > 1 else "")
            elif words and words[0] == "quit":
                break
    finally:
        await receivers.close()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
