"""A WebRTC publisher nobody here wrote the media stack of: GStreamer's webrtcbin.

VP8 video and Opus audio (20 ms), with webrtcbin's own RSA DTLS certificate and its
offer exactly as it makes it (`--setup` edits it, for tests of the other DTLS role).
Its ICE agent gathers only `--address` (libnice skips loopback unless told), with no
STUN, TURN, UPnP or ICE-TCP. It counts the RTP packets it really sends, by kind, on
the way into webrtcbin's own `nicesink` (SRTP leaves the header readable).

Needs Debian's `gi` (python3-gi, GStreamer's bad and nice plugins): run it with
`/usr/bin/python3`, or a venv made with --system-site-packages. Signalling:

- `--signal stdio` (the tests): it prints {"offer": sdp} and reads {"answer": sdp};
- `--signal whip --url URL [--token T]`: RFC 9725, DELETE at the end (needs aiohttp);
- `--signal janus --url http://host:8088/janus --room R --feed F`: VideoRoom.

Then it prints {"connected": true} and answers JSON lines on stdin:
{"stats": true} -> {"stats": {"audio": n, "video": n, "other": n}, "t": unix time};
{"finish": true} stops the media, then answers the same with the final counts;
{"quit": true} or the end of input stops it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from typing import Any

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstSdp", "1.0")
gi.require_version("GstWebRTC", "1.0")
gi.require_version("Nice", "0.1")
from gi.repository import Gst, GstSdp, GstWebRTC, Nice  # noqa: E402

_KEEP: list[Any] = []


def say(**message: Any) -> None:
    print(json.dumps(message), flush=True)


def pipeline(args: argparse.Namespace) -> Any:
    if args.pattern == "solid":
        video = f"videotestsrc is-live=true pattern=solid-color foreground-color=0xff{args.colour}"
    else:  # moving bars: the encoder really works for its bit rate
        video = f"videotestsrc is-live=true pattern={args.pattern} horizontal-speed=4"
    return Gst.parse_launch(
        "webrtcbin name=wb bundle-policy=max-bundle "
        f"{video} ! video/x-raw,width={args.width},height={args.height},"
        f"framerate={args.fps}/1 ! videoconvert ! "
        f"vp8enc deadline=1 cpu-used=16 end-usage=cbr target-bitrate={args.bitrate} "
        "keyframe-max-dist=3000 error-resilient=1 threads=1 ! "
        f"rtpvp8pay pt=96 mtu={args.mtu} picture-id-mode=15-bit ! "
        "application/x-rtp,media=video,encoding-name=VP8,payload=96,clock-rate=90000 ! "
        "queue ! wb. "
        f"audiotestsrc is-live=true wave=sine freq={args.tone} volume=0.3 ! audioconvert ! "
        "audioresample ! audio/x-raw,rate=48000,channels=1 ! "
        "opusenc bitrate=32000 frame-size=20 ! rtpopuspay pt=111 ! "
        "application/x-rtp,media=audio,encoding-name=OPUS,payload=111,clock-rate=48000 ! "
        "queue ! wb. "
    )


def promise(wb: Any, signal: str, *args: Any) -> Any:
    p = Gst.Promise.new()
    wb.emit(signal, *args, p)
    p.wait()
    return p.get_reply()


def with_candidates(sdp: str, candidates: list[tuple[int, str]]) -> str:
    """The offer with its gathered candidates in it (a complete offer: WHIP has no
    trickle here)."""
    if "a=candidate:" in sdp:
        return sdp
    out: list[str] = []
    section = -1

    def close(index: int) -> None:
        out.extend("a=" + c.removeprefix("a=") for i, c in candidates if i == index)
        out.append("a=end-of-candidates")

    for line in sdp.replace("\r\n", "\n").rstrip("\n").split("\n"):
        if line.startswith("m="):
            if section >= 0:
                close(section)
            section += 1
        out.append(line)
    if section >= 0:
        close(section)
    return "\r\n".join(out) + "\r\n"


class Sent:
    """RTP packets as they leave for the network, counted on the way into webrtcbin's
    own `nicesink` (SRTP keeps the header readable), by payload type: what was really
    sent, not what the encoder made before the connection was up."""

    KINDS = {96: "video", 111: "audio"}

    def __init__(self) -> None:
        self.counts: dict[str, int] = {"audio": 0, "video": 0, "other": 0}

    def attach(self, wb: Any) -> None:
        found = False
        elements = wb.iterate_recurse()
        while True:
            result, element = elements.next()
            if result != Gst.IteratorResult.OK:
                break
            factory = element.get_factory()
            if factory is not None and factory.get_name() == "nicesink":
                pad = element.get_static_pad("sink")
                pad.add_probe(Gst.PadProbeType.BUFFER | Gst.PadProbeType.BUFFER_LIST, self._probe)
                found = True
        if not found:
            raise RuntimeError("webrtcbin has no nicesink")

    def _probe(self, _pad: Any, info: Any) -> Any:
        if info.type & Gst.PadProbeType.BUFFER_LIST:
            buffers = info.get_buffer_list()
            for i in range(buffers.length()):
                self._count(buffers.get(i))
        else:
            self._count(info.get_buffer())
        return Gst.PadProbeReturn.OK

    def _count(self, buffer: Any) -> None:
        head = buffer.extract_dup(0, min(2, buffer.get_size()))
        if len(head) == 2 and 127 < head[0] < 192 and not 191 < head[1] < 224:
            kind = self.KINDS.get(head[1] & 0x7F, "other")
            self.counts[kind] += 1


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--signal", choices=["stdio", "whip", "janus"], default="stdio")
    parser.add_argument("--url")
    parser.add_argument("--token")
    parser.add_argument("--room", type=int, default=4242)
    parser.add_argument("--feed", type=int, default=1)
    parser.add_argument("--setup", help="put a=setup:<this> in the offer (default: as made)")
    parser.add_argument("--address", default="127.0.0.1", help="the one ICE address")
    parser.add_argument("--pattern", default="solid", help="solid, or a videotestsrc pattern")
    parser.add_argument("--colour", default="dc2828", help="RGB hex, for --pattern solid")
    parser.add_argument("--tone", type=float, default=660.0)
    parser.add_argument("--width", type=int, default=320)
    parser.add_argument("--height", type=int, default=240)
    parser.add_argument("--fps", type=int, default=15)
    parser.add_argument("--bitrate", type=int, default=400_000)
    parser.add_argument("--mtu", type=int, default=1200)
    parser.add_argument("--timeout", type=float, default=30.0)
    return parser.parse_args()


def make_offer(args: argparse.Namespace, wb: Any, pipe: Any) -> str:
    """Start the pipeline and make the complete offer (candidates inside)."""
    candidates: list[tuple[int, str]] = []
    wb.connect("on-ice-candidate", lambda _wb, index, c: candidates.append((index, c)))
    ice = wb.get_property("ice-agent")
    ice.set_property("ice-tcp", False)
    agent = ice.get_property("agent")
    agent.set_property("upnp", False)
    address = Nice.Address()
    address.set_from_string(args.address)
    agent.add_local_address(address)
    # these wrappers must live as long as webrtcbin: PyGObject drops a reference it
    # never took when they are collected, and the ICE agent is freed under webrtcbin
    _KEEP.extend((ice, agent))
    for index in range(2):
        transceiver = wb.emit("get-transceiver", index)
        transceiver.set_property("direction", GstWebRTC.WebRTCRTPTransceiverDirection.SENDONLY)
    pipe.set_state(Gst.State.PLAYING)
    # an offer made before caps reach every sink pad can lack payload types and SSRCs
    deadline = time.monotonic() + args.timeout
    while len(wb.sinkpads) < 2 or any(p.get_current_caps() is None for p in wb.sinkpads):
        if time.monotonic() > deadline:
            raise RuntimeError("no caps on webrtcbin's pads")
        time.sleep(0.02)
    reply = promise(wb, "create-offer", None)
    offer = reply.get_value("offer") if reply is not None and reply.has_field("offer") else None
    if offer is None:
        raise RuntimeError(f"no offer: {reply.to_string() if reply is not None else 'no reply'}")
    promise(wb, "set-local-description", offer)
    while wb.get_property("ice-gathering-state") != GstWebRTC.WebRTCICEGatheringState.COMPLETE:
        if time.monotonic() > deadline:
            raise RuntimeError("ICE gathering did not complete")
        time.sleep(0.02)
    sdp = with_candidates(wb.get_property("local-description").sdp.as_text(), candidates)
    if args.setup:
        sdp = sdp.replace("a=setup:actpass", f"a=setup:{args.setup}")
    return sdp


async def read_line() -> str:
    return await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)


async def run(args: argparse.Namespace, wb: Any, offer: str) -> None:
    """Signal, wait until connected, then answer commands until told to stop."""
    closing: list[Any] = []
    http: Any = None
    if args.signal == "stdio":
        say(offer=offer)
        line = await read_line()
        if not line:
            return
        answer_sdp = json.loads(line)["answer"]
    else:
        import aiohttp

        from benchmarks.peer.signaling import JanusSession, WhipResource, janus_publish

        http = aiohttp.ClientSession()
        if args.signal == "whip":
            whip = WhipResource(args.url, http, args.token)
            closing.append(whip.delete)
            answer_sdp = await whip.exchange(offer)
        else:
            janus = JanusSession(args.url, http)
            await janus.create()
            closing.append(janus.destroy)
            answer_sdp = await janus_publish(janus, args.room, args.feed, offer)
    try:
        _, message = GstSdp.SDPMessage.new_from_text(answer_sdp)
        answer = GstWebRTC.WebRTCSessionDescription.new(GstWebRTC.WebRTCSDPType.ANSWER, message)
        promise(wb, "set-remote-description", answer)
        sent = Sent()
        sent.attach(wb)  # its transport exists once the answer is set
        deadline = time.monotonic() + args.timeout
        while wb.get_property("connection-state") != GstWebRTC.WebRTCPeerConnectionState.CONNECTED:
            if time.monotonic() > deadline:
                raise RuntimeError(f"not connected: {wb.get_property('connection-state')}")
            await asyncio.sleep(0.02)
        say(
            connected=True,
            answer_setup=[
                line.strip() for line in answer_sdp.splitlines() if line.startswith("a=setup:")
            ][:1],
        )
        while line := await read_line():
            request = json.loads(line)
            if request.get("quit"):
                break
            if request.get("stats"):
                say(stats=dict(sent.counts), t=time.time())
            if request.get("finish"):
                # no more media: every packet counted has been sent, and no more will be
                wb.get_parent().set_state(Gst.State.PAUSED)
                await asyncio.sleep(0.5)
                say(stats=dict(sent.counts), t=time.time(), finished=True)
    finally:
        for close in closing:
            await close()
        if http is not None:
            await http.close()


def main() -> int:
    args = parse_args()
    Gst.init(None)
    pipe = pipeline(args)
    wb = pipe.get_by_name("wb")
    try:
        asyncio.run(run(args, wb, make_offer(args, wb, pipe)))
    except Exception as exc:
        say(error=repr(exc))
        return 2
    finally:
        pipe.set_state(Gst.State.NULL)
    return 0


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    # skip the interpreter's teardown: it would unref the GObject wrappers kept in
    # _KEEP after GStreamer has freed what they wrap (GLib-CRITICAL noise, no harm)
    os._exit(code)
