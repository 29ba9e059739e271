"""A WHIP publisher nobody here wrote the media stack of: GStreamer's webrtcbin.

Run by Debian's own Python (`/usr/bin/python3`, which has `gi`), not the project's
venv; the test does the HTTP. Protocol on stdin/stdout, one JSON object per line:

    -> {"offer": sdp}                      webrtcbin's complete offer, exactly as made
    <- {"answer": sdp}                     the server's answer
    -> {"connected": true}                 webrtcbin's connection state is CONNECTED
    <- {"stats": true}                     (any time after) ...
    -> {"stats": {"audio": n, "video": n}} ... RTP packets sent so far, by kind
    <- {"quit": true}  or end of input     stop

Video: a solid colour (`--colour`, RGB hex) 320x240, VP8; audio: a sine (`--tone` Hz),
Opus 20 ms. Its ICE agent gathers only 127.0.0.1 (libnice skips loopback unless told),
with no STUN, TURN, UPnP or ICE-TCP. Its DTLS certificate is webrtcbin's own (RSA).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstSdp", "1.0")
gi.require_version("GstWebRTC", "1.0")
gi.require_version("Nice", "0.1")
from gi.repository import Gst, GstSdp, GstWebRTC, Nice  # noqa: E402


def say(**message: Any) -> None:
    print(json.dumps(message), flush=True)


def pipeline(colour: str, tone: float, fps: int) -> Any:
    argb = "0xff" + colour.lstrip("#")
    return Gst.parse_launch(
        "webrtcbin name=wb bundle-policy=max-bundle "
        f"videotestsrc is-live=true pattern=solid-color foreground-color={argb} ! "
        f"video/x-raw,width=320,height=240,framerate={fps}/1 ! videoconvert ! "
        "vp8enc deadline=1 cpu-used=16 end-usage=cbr target-bitrate=400000 "
        "keyframe-max-dist=3000 error-resilient=1 threads=1 ! "
        "rtpvp8pay pt=96 mtu=1200 picture-id-mode=15-bit ! "
        "application/x-rtp,media=video,encoding-name=VP8,payload=96,clock-rate=90000 ! "
        "queue ! wb. "
        f"audiotestsrc is-live=true wave=sine freq={tone} volume=0.3 ! audioconvert ! "
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


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--colour", default="dc2828")
    parser.add_argument("--tone", type=float, default=660.0)
    parser.add_argument("--fps", type=int, default=15)
    parser.add_argument("--timeout", type=float, default=20.0)
    args = parser.parse_args()
    Gst.init(None)
    pipe = pipeline(args.colour, args.tone, args.fps)
    wb = pipe.get_by_name("wb")
    candidates: list[tuple[int, str]] = []
    wb.connect("on-ice-candidate", lambda _wb, index, c: candidates.append((index, c)))
    ice = wb.get_property("ice-agent")
    ice.set_property("ice-tcp", False)
    agent = ice.get_property("agent")
    agent.set_property("upnp", False)
    loopback = Nice.Address()
    loopback.set_from_string("127.0.0.1")
    agent.add_local_address(loopback)
    for index in range(2):
        transceiver = wb.emit("get-transceiver", index)
        transceiver.set_property("direction", GstWebRTC.WebRTCRTPTransceiverDirection.SENDONLY)
    sent = Sent()
    pipe.set_state(Gst.State.PLAYING)
    # an offer made before caps reach every sink pad can lack payload types and SSRCs
    deadline = time.monotonic() + args.timeout
    while len(wb.sinkpads) < 2 or any(p.get_current_caps() is None for p in wb.sinkpads):
        if time.monotonic() > deadline:
            say(error="no caps on webrtcbin's pads")
            return 2
        time.sleep(0.02)
    reply = promise(wb, "create-offer", None)
    offer = reply.get_value("offer") if reply is not None and reply.has_field("offer") else None
    if offer is None:
        say(error=f"no offer: {reply.to_string() if reply is not None else 'no reply'}")
        return 2
    promise(wb, "set-local-description", offer)
    while wb.get_property("ice-gathering-state") != GstWebRTC.WebRTCICEGatheringState.COMPLETE:
        if time.monotonic() > deadline:
            say(error="ICE gathering did not complete")
            return 2
        time.sleep(0.02)
    say(offer=with_candidates(wb.get_property("local-description").sdp.as_text(), candidates))
    line = sys.stdin.readline()
    if not line:
        return 0
    _, message = GstSdp.SDPMessage.new_from_text(json.loads(line)["answer"])
    answer = GstWebRTC.WebRTCSessionDescription.new(GstWebRTC.WebRTCSDPType.ANSWER, message)
    promise(wb, "set-remote-description", answer)
    sent.attach(wb)  # its transport exists once the answer is set
    connected = GstWebRTC.WebRTCPeerConnectionState.CONNECTED
    while wb.get_property("connection-state") != connected:
        if time.monotonic() > deadline:
            say(error=f"not connected: {wb.get_property('connection-state')}")
            return 3
        time.sleep(0.02)
    say(connected=True)
    for line in sys.stdin:
        request = json.loads(line)
        if request.get("quit"):
            break
        if request.get("stats"):
            say(stats=dict(sent.counts))
    pipe.set_state(Gst.State.NULL)
    return 0


if __name__ == "__main__":
    sys.exit(main())
