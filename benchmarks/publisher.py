"""The benchmark's publisher: a WHIP client that sends pre-built RTP, no encoder.

The connection is the SFU's own `WebRtcTransport` used as a client: it offers two
sendonly m-lines (VP8 only, Opus only), runs ICE on 127.0.0.1, DTLS and SRTP, and
`send_rtp` encrypts and sends each packet synchronously. A stand-in for a consumer
on that transport answers the server's keyframe requests (PLI/FIR) and supplies the
RTP/NTP mapping for the transport's periodic sender reports, as a browser would.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import logging
import time
from array import array
from typing import TYPE_CHECKING, cast

import aiohttp

from benchmarks.media import (
    AUDIO_CLOCK,
    VIDEO_CLOCK,
    AudioPacketizer,
    MediaProfile,
    VideoPacketizer,
)
from harness import procstat
from sfu import sdp
from sfu.codecs import RtpCodec
from sfu.rtp import AUDIO_LEVEL_URI
from sfu.transport import TransportSettings, WebRtcTransport

if TYPE_CHECKING:
    from sfu.consumer import Consumer

logger = logging.getLogger("benchmarks.publisher")

NTP_EPOCH_OFFSET = 2208988800
KEYFRAME_MIN_GAP = 0.25


class _StreamHook:
    """Sits in the transport's consumer table under the publisher's own SSRC.

    The transport routes RTCP about that SSRC here: PLI/FIR from the SFU (answered
    with a keyframe), receiver reports (the SFU's view of our loss), NACKs.
    """

    def __init__(self, publisher: Publisher, kind: str, ssrc: int, clock_rate: int) -> None:
        self.id = f"publisher-{kind}"
        self.kind = kind
        self.ssrc = ssrc
        self.packets = 0
        self.bytes = 0
        self.nacks = 0
        self.keyframe_requests = 0
        self.fraction_lost = 0
        self.remote_jitter = 0
        self._publisher = publisher
        self._clock_rate = clock_rate

    def on_nack(self, lost: object) -> int:
        self.nacks += 1
        return 0

    def request_keyframe(self) -> None:
        self.keyframe_requests += 1
        self._publisher.keyframe_requested()

    def on_receiver_report(self, fraction_lost: int, jitter: int, highest: int = 0) -> None:
        self.fraction_lost = fraction_lost
        self.remote_jitter = jitter

    def sender_report(self) -> tuple[int, int] | None:
        return self._publisher.rtp_ntp_mapping(self.kind)

    def on_producer_closed(self, producer: object) -> None:
        pass

    def dump(self) -> dict[str, object]:
        return {"id": self.id, "ssrc": self.ssrc}


class Publisher:
    def __init__(
        self, base_url: str, call: str, profile: MediaProfile, *, pacing: float = 0.0
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.call = call
        self.profile = profile
        self.rate = 1.0  # multiplier of the packet rate; 0 pauses sending
        self.pacing = pacing  # 0: a frame's packets back to back; else x video bitrate
        self.transport = WebRtcTransport("bench-publisher", TransportSettings(), cname="bench")
        self.location: str | None = None
        self.video: VideoPacketizer | None = None
        self.audio: AudioPacketizer | None = None
        self.hooks: dict[str, _StreamHook] = {}
        self.sent_ns: dict[str, array[int]] = {"audio": array("q"), "video": array("q")}
        self.send_failures = 0
        self.keyframes = 0
        self.late_frames = 0
        self._start = 0.0
        self._force_keyframe = False
        self._last_keyframe = float("-inf")
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    # -- setup ------------------------------------------------------------------------

    async def connect(self, http: aiohttp.ClientSession, timeout: float = 20.0) -> None:
        video_t = self.transport.add_outgoing(
            "video",
            stream_id="bench",
            track_id="bench-camera",
            codec=RtpCodec("video/VP8", VIDEO_CLOCK, 0),
        )
        audio_t = self.transport.add_outgoing(
            "audio",
            stream_id="bench",
            track_id="bench-microphone",
            codec=RtpCodec("audio/opus", AUDIO_CLOCK, 0, channels=2),
        )
        offer = await self.transport.create_offer()
        async with http.post(
            f"{self.base_url}/whip/{self.call}",
            data=offer.encode(),
            headers={
                "Content-Type": "application/sdp",
                "X-Parta-Name": "bench-publisher",
                **procstat.operator_headers(),
            },
        ) as response:
            answer = await response.text()
            if response.status != 201:
                raise RuntimeError(f"WHIP answered {response.status}: {answer[:300]}")
            self.location = response.headers.get("Location")
        accepted = await self.transport.accept_answer(answer)
        video_pt = _payload_type(accepted, str(video_t.mid), "video/vp8")
        audio_pt = _payload_type(accepted, str(audio_t.mid), "audio/opus")
        level_id = 0
        for media in sdp.parse(answer).media:
            if media.rtp.muxId == audio_t.mid:
                level_id = next(
                    (int(e.id) for e in media.rtp.headerExtensions if e.uri == AUDIO_LEVEL_URI), 0
                )
        await asyncio.wait_for(self.transport.connected.wait(), timeout)
        video_ssrc = self.transport.sender_ssrc(video_t)
        audio_ssrc = self.transport.sender_ssrc(audio_t)
        self.video = VideoPacketizer(
            ssrc=video_ssrc, payload_type=video_pt, profile=self.profile, seq=1000, ts=12345
        )
        self.audio = AudioPacketizer(
            ssrc=audio_ssrc,
            payload_type=audio_pt,
            profile=self.profile,
            seq=2000,
            ts=54321,
            level_id=level_id,
        )
        for kind, ssrc, rate in (
            ("video", video_ssrc, VIDEO_CLOCK),
            ("audio", audio_ssrc, AUDIO_CLOCK),
        ):
            hook = _StreamHook(self, kind, ssrc, rate)
            self.hooks[kind] = hook
            self.transport.attach_consumer(cast("Consumer", hook))
        logger.info(
            "publisher connected: VP8 pt %d ssrc %d, Opus pt %d ssrc %d, audio level id %d, %s",
            video_pt,
            video_ssrc,
            audio_pt,
            audio_ssrc,
            level_id,
            self.transport.srtp_profile,
        )

    # -- sending ------------------------------------------------------------------------

    def start(self) -> None:
        self._start = time.monotonic()
        self._task = asyncio.create_task(self._run())

    def check(self) -> None:
        """Raise if the sending task has died."""
        task = self._task
        if task is not None and task.done() and not task.cancelled():
            error = task.exception()
            if error is not None:
                raise RuntimeError(f"the publisher stopped: {error!r}") from error

    def keyframe_requested(self) -> None:
        self._force_keyframe = True

    def rtp_ntp_mapping(self, kind: str) -> tuple[int, int] | None:
        packetizer = self.video if kind == "video" else self.audio
        if packetizer is None or not self._start:
            return None
        wall = time.time()
        media_time = time.monotonic() - self._start
        ntp = int((wall + NTP_EPOCH_OFFSET) * (1 << 32))
        return ntp, packetizer.timestamp(media_time)

    async def _run(self) -> None:
        start = self._start
        next_video = next_audio = next_packet = start
        next_keyframe = start
        # the frame being paced out: (next packet index, keyframe, RTP timestamp)
        pending: tuple[int, bool, int] | None = None
        paused = False
        while not self._stopping:
            if self.rate <= 0:
                paused = True
                await asyncio.sleep(0.02)
                continue
            now = time.monotonic()
            if paused:
                paused = False
                next_video = next_audio = now
                pending = None
            due = min(next_video, next_audio, next_packet if pending else next_video)
            if due > now:
                await asyncio.sleep(due - now)
                now = time.monotonic()
            rate = self.rate
            if rate <= 0:
                continue
            if pending is not None and now >= next_packet:
                pending = self._send_video(pending, now)
                next_packet += self._packet_gap(rate)
            if now >= next_video:
                while pending is not None:  # the previous frame is late: finish it
                    pending = self._send_video(pending, now)
                keyframe = now >= next_keyframe or (
                    self._force_keyframe and now - self._last_keyframe >= KEYFRAME_MIN_GAP
                )
                if keyframe:
                    self._force_keyframe = False
                    self._last_keyframe = now
                    next_keyframe = now + self.profile.keyframe_interval
                    self.keyframes += 1
                assert self.video is not None
                pending = (0, keyframe, self.video.timestamp(now - start))
                pending = self._send_video(pending, now)
                if self.pacing > 0:
                    next_packet = now + self._packet_gap(rate)
                else:
                    while pending is not None:
                        pending = self._send_video(pending, now)
                next_video += 1.0 / (self.profile.fps * rate)
                if now - next_video > 0.1:  # the loop stalled: do not burst to catch up
                    self.late_frames += 1
                    next_video = now
            if now >= next_audio:
                self._send_audio(now - start)
                next_audio += 1.0 / (self.profile.audio_packets_per_second * rate)
                if now - next_audio > 0.1:
                    next_audio = now

    def _packet_gap(self, rate: float) -> float:
        """Seconds between a paced frame's packets: `pacing` times the video bitrate."""
        bits = 8 * self.profile.frame_bytes / self.profile.packets_per_frame
        return bits / (self.pacing * self.profile.video_bitrate * rate)

    def _send_video(
        self, pending: tuple[int, bool, int], now: float
    ) -> tuple[int, bool, int] | None:
        """Send the next packet of the current frame; the new pending state, None when done."""
        index, keyframe, timestamp = pending
        video = self.video
        assert video is not None
        sent = self.sent_ns["video"]
        stamp = time.monotonic_ns()
        packet = video.packet(
            index, keyframe=keyframe, timestamp=timestamp, sent_ns=stamp, counter=len(sent)
        )
        if self.transport.send_rtp(packet):
            sent.append(stamp)
            hook = self.hooks["video"]
            hook.packets += 1
            hook.bytes += len(packet)
        else:
            self.send_failures += 1
        index += 1
        return (index, keyframe, timestamp) if index < len(video.sizes) else None

    def _send_audio(self, media_time: float) -> None:
        audio = self.audio
        assert audio is not None
        sent = self.sent_ns["audio"]
        stamp = time.monotonic_ns()
        packet = audio.packet(
            timestamp=audio.timestamp(media_time), sent_ns=stamp, counter=len(sent)
        )
        if self.transport.send_rtp(packet):
            sent.append(stamp)
            hook = self.hooks["audio"]
            hook.packets += 1
            hook.bytes += len(packet)
        else:
            self.send_failures += 1

    # -- accounting -----------------------------------------------------------------------

    def sent_between(self, t0: int, t1: int) -> dict[str, int]:
        """Packets per kind whose send time lies in [t0, t1] (monotonic ns)."""
        return {
            kind: bisect.bisect_right(times, t1) - bisect.bisect_left(times, t0)
            for kind, times in self.sent_ns.items()
        }

    def counters(self) -> dict[str, object]:
        return {
            "keyframes_sent": self.keyframes,
            "keyframe_requests_received": sum(h.keyframe_requests for h in self.hooks.values()),
            "nacks_received": sum(h.nacks for h in self.hooks.values()),
            "send_failures": self.send_failures,
            "late_frames": self.late_frames,
            "server_reported_fraction_lost": {k: h.fraction_lost for k, h in self.hooks.items()},
            "rtcp_in": self.transport.rtcp_in,
        }

    async def close(self, http: aiohttp.ClientSession | None) -> None:
        self._stopping = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        if http is not None and self.location:
            with contextlib.suppress(Exception):
                async with http.delete(
                    self.base_url + self.location, headers=procstat.operator_headers()
                ) as response:
                    await response.read()
        with contextlib.suppress(Exception):
            await self.transport.close()


def _payload_type(accepted: dict[str, sdp.AcceptedMedia], mid: str, mime: str) -> int:
    media = accepted.get(mid)
    if media is None or not media.receiving:
        raise RuntimeError(f"the server did not accept the {mime} m-line")
    for codec in media.codecs:
        if codec.mime_type.lower() == mime:
            return codec.payload_type
    raise RuntimeError(f"the server's answer has no {mime}")
