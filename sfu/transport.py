"""WebRtcTransport: one peer connection's ICE, DTLS and SRTP, with RTP moved by the SFU.

The design: sfu/DESIGN.md, *transport.py*."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import socket
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiortc import (
    RTCBundlePolicy,
    RTCConfiguration,
    RTCIceServer,
    RTCPeerConnection,
    RTCRtpCodecCapability,
    RTCRtpReceiver,
    RTCRtpSender,
    RTCRtpTransceiver,
    RTCSessionDescription,
)
from aiortc.rtp import (
    RTCP_PSFB_APP,
    RTCP_PSFB_FIR,
    RTCP_PSFB_PLI,
    RTCP_RTPFB_NACK,
    RtcpPacket,
    RtcpPsfbPacket,
    RtcpReceiverInfo,
    RtcpRrPacket,
    RtcpRtpfbPacket,
    RtcpSdesPacket,
    RtcpSenderInfo,
    RtcpSourceInfo,
    RtcpSrPacket,
    pack_remb_fci,
)

from sfu import aiortc_seam as seam
from sfu import sdp
from sfu.codecs import RtpCodec
from sfu.drops import NOT_CONNECTED, SEND_BUFFER_FULL, SEND_ERROR
from sfu.rtp import RtpError, audio_level, extension_element, payload_offset

if TYPE_CHECKING:
    from sfu.consumer import Outgoing
    from sfu.producer import Producer

logger = logging.getLogger(__name__)

_SSRC = struct.Struct("!I")
_FIR_ENTRY = struct.Struct("!IB3x")


def _not_keyed(packet: bytes) -> bytes:
    raise ConnectionError("SRTP is not keyed yet")


def _with_pt(capability: RTCRtpCodecCapability) -> object:
    # capabilities carry no payload type; RtpCodec wants one
    class _Codec:
        mimeType = capability.mimeType
        clockRate = capability.clockRate
        payloadType = 0
        channels = capability.channels
        parameters = capability.parameters

    return _Codec


@dataclass(frozen=True)
class TransportSettings:
    """Operator settings that shape every transport."""

    ice: seam.IcePolicy = field(default_factory=seam.IcePolicy)
    ice_servers: tuple[RTCIceServer, ...] = ()
    max_incoming_bitrate: int = 3_000_000
    rtcp_interval: float = 1.0
    keyframe_interval: float = 0.3
    connect_timeout: float = 15.0


class WebRtcTransport:
    """A bundled WebRTC connection whose media bypasses aiortc's codecs."""

    def __init__(
        self,
        transport_id: str,
        settings: TransportSettings,
        *,
        cname: str = "parta",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.id = transport_id
        self.settings = settings
        self.cname = cname
        self.pc = RTCPeerConnection(
            RTCConfiguration(
                iceServers=list(settings.ice_servers), bundlePolicy=RTCBundlePolicy.MAX_BUNDLE
            )
        )
        self.connected = asyncio.Event()
        self.closed = False
        self.srtp_profile: str | None = None
        self.on_closed: list[Callable[[WebRtcTransport], None]] = []
        self.on_first_media: Callable[[], None] | None = None
        self.connected_callbacks: list[Callable[[], None]] = []
        self._clock = clock
        self._dtls: Any = None
        self._rx: seam.SrtpSession | None = None
        self._tx: seam.SrtpSession | None = None
        # the nominated pair: asyncio's transport, and our own handle on its socket
        self._udp: Any = None
        self._socket: socket.socket | None = None
        self._sendto: Callable[[bytes, Any], object] | None = None
        self._protect: Callable[[bytes], bytes] = _not_keyed
        self._remote: tuple[Any, ...] | None = None
        self._rtcp_ssrc = random.getrandbits(32)
        self._rtcp_task: asyncio.Task[None] | None = None
        self._watch_task: asyncio.Task[None] | None = None
        self._closing_task: asyncio.Future[None] | None = None
        self._producers_by_ssrc: dict[int, Producer] = {}
        self._producers_by_mid: dict[str, Producer] = {}
        self._ignored_ssrcs: set[int] = set()
        self._mid_ext_id = 0
        self._consumers_by_ssrc: dict[int, Outgoing] = {}
        self._first_media_pending = True
        self._sockets: list[socket.socket] = []  # our reading handles (drain_datagrams)
        # counters
        self.srtp_errors = 0
        self.rtcp_errors = 0
        self.malformed = 0
        self.unknown_ssrc = 0
        self.dropped_congestion = 0
        self.refusal = ""  # why the last send_rtp returned False
        self.send_errors = 0
        self.rtcp_in = 0
        self.rtcp_out = 0
        self.pc.on("connectionstatechange", self._on_connection_state)

    # -- negotiation --------------------------------------------------------------

    async def accept_offer(
        self, offer: str, *, send: bool = False, ssrcs: dict[str, int] | None = None
    ) -> str:
        """Answer a remote offer. With `send`, the remote's recvonly m-lines are ours to
        fill; `ssrcs` (per kind) are the SSRCs we announce for them (a broadcast's stage
        sends the same stream to every viewer)."""
        if self.closed:
            raise sdp.SdpError("transport is closed")
        sdp.require_bundle(sdp.parse(offer))
        try:
            await self.pc.setRemoteDescription(RTCSessionDescription(sdp=offer, type="offer"))
        except sdp.SdpError:
            raise
        except Exception as exc:
            # the library's words stay in our log: the client is told in ours
            logger.info("transport %s: offer rejected: %r", self.id, exc)
            raise sdp.SdpError(
                "the offer was rejected: its media sections, directions or ICE and DTLS "
                "attributes cannot be used"
            ) from exc
        seam.answer_as_dtls_server(self.pc)
        for transceiver in self.pc.getTransceivers():
            seam.disable_media_pipeline(transceiver)
            seam.restrict_codecs(transceiver)
            if send and transceiver.direction == "recvonly":
                transceiver.direction = "sendonly"
                if ssrcs and transceiver.kind in ssrcs:
                    seam.set_sender_ssrc(transceiver, ssrcs[transceiver.kind])
        answer = await self.pc.createAnswer()
        await self._set_local(answer)
        return str(self.pc.localDescription.sdp)

    def add_outgoing(
        self, kind: str, *, stream_id: str, track_id: str, codec: RtpCodec
    ) -> RTCRtpTransceiver:
        """Add a sendonly m-line for a consumer of `codec`; the next offer announces it.

        Only the producer's codec is offered (no RTX): the subscriber either accepts
        exactly what will be forwarded or rejects the m-line.
        """
        transceiver = self.pc.addTransceiver(kind, direction="sendonly")
        seam.disable_media_pipeline(transceiver)
        seam.set_sender_identity(transceiver, stream_id, track_id)
        preferred = [
            c
            for c in RTCRtpSender.getCapabilities(kind).codecs
            if codec.matches(sdp.to_codec(_with_pt(c)))
        ]
        if preferred:
            transceiver.setCodecPreferences(preferred)
        return transceiver

    def add_incoming(self, kind: str) -> RTCRtpTransceiver:
        """Add a recvonly m-line (we offer to receive: an edge pulling a broadcast); only
        codecs we forward, VP8 first, no RTX."""
        transceiver = self.pc.addTransceiver(kind, direction="recvonly")
        seam.disable_media_pipeline(transceiver)
        capabilities = RTCRtpReceiver.getCapabilities(kind)
        codecs = [
            c
            for c in (capabilities.codecs if capabilities else [])
            if c.mimeType.lower() in ("audio/opus", "video/vp8", "video/h264")
        ]
        codecs.sort(key=lambda c: c.mimeType.lower() != "video/vp8")
        transceiver.setCodecPreferences(codecs)
        return transceiver

    async def create_offer(self) -> str:
        offer = await self.pc.createOffer()
        await self._set_local(offer)
        return str(self.pc.localDescription.sdp)

    async def accept_answer(self, answer: str) -> dict[str, sdp.AcceptedMedia]:
        accepted = sdp.accepted_media(answer)
        try:
            await self.pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
        except Exception as exc:
            logger.info("transport %s: answer rejected: %r", self.id, exc)
            raise sdp.SdpError(
                "the answer was rejected: it does not match the offer, or its ICE and DTLS "
                "attributes cannot be used"
            ) from exc
        return accepted

    async def _set_local(self, description: RTCSessionDescription) -> None:
        dtls = seam.dtls_transport_of(self.pc)
        if dtls is not None and dtls is not self._dtls:
            self._dtls = dtls
            seam.prefer_cheap_srtp(dtls)
            seam.accept_rsa_peers(dtls)
            dtls.on("statechange", self._on_dtls_state)
        seam.restrict_gathering(self.pc, self.settings.ice)
        await self.pc.setLocalDescription(description)
        if self._dtls is not None:
            self._sockets += seam.drain_datagrams(self._dtls, self._on_media)
        if self._watch_task is None:
            self._watch_task = asyncio.create_task(self._watch_connect())

    def when_connected(self, callback: Callable[[], None]) -> None:
        """Call `callback` once the connection is up: now, if it is."""
        if self.connected.is_set():
            callback()
        else:
            self.connected_callbacks.append(callback)

    def sender_ssrc(self, transceiver: RTCRtpTransceiver) -> int:
        return seam.sender_ssrc(transceiver)

    # -- producers and consumers on this transport ---------------------------------

    def attach_producer(self, producer: Producer, track: sdp.IncomingTrack) -> None:
        if track.ssrc is not None:
            self._producers_by_ssrc[track.ssrc] = producer
        if track.rtx_ssrc is not None:
            self._ignored_ssrcs.add(track.rtx_ssrc)
        self._producers_by_mid[track.mid] = producer
        if track.mid_id:
            self._mid_ext_id = track.mid_id

    def detach_producer(self, producer: Producer) -> None:
        for ssrc in [k for k, p in self._producers_by_ssrc.items() if p is producer]:
            del self._producers_by_ssrc[ssrc]
        for mid in [k for k, p in self._producers_by_mid.items() if p is producer]:
            del self._producers_by_mid[mid]

    def attach_consumer(self, consumer: Outgoing) -> None:
        self._consumers_by_ssrc[consumer.ssrc] = consumer

    def detach_consumer(self, consumer: Outgoing) -> None:
        if self._consumers_by_ssrc.get(consumer.ssrc) is consumer:
            del self._consumers_by_ssrc[consumer.ssrc]

    @property
    def producers(self) -> list[Producer]:
        return list({id(p): p for p in self._producers_by_mid.values()}.values())

    @property
    def consumers(self) -> list[Outgoing]:
        return list(self._consumers_by_ssrc.values())

    # -- the receive path (synchronous) ---------------------------------------------

    def _on_media(self, batch: list[bytes]) -> None:
        """SRTP/SRTCP datagrams read in one wake-up. Audio is forwarded before the
        batch's video, so a voice packet never waits behind a whole video frame's
        fan-out."""
        video: list[tuple[Producer, bytes, int]] = []
        for data in batch:
            if 191 < data[1] < 224:
                self._on_rtcp(data)
                continue
            try:
                packet = self._rx.unprotect(data)  # type: ignore[union-attr]
            except Exception:
                self.srtp_errors += 1
                continue
            if len(packet) < 12:
                self.malformed += 1
                continue
            ssrc = _SSRC.unpack_from(packet, 8)[0]
            producer = self._producers_by_ssrc.get(ssrc)
            if producer is None:
                producer = self._learn_ssrc(packet, ssrc)
                if producer is None:
                    continue
            if packet[1] & 0x7F != producer.codec.payload_type:
                producer.dropped += 1
                continue
            try:
                offset = payload_offset(packet)
            except RtpError:
                self.malformed += 1
                continue
            if self._first_media_pending:
                self._note_first_media()
            if producer.audio_level_id:
                producer.on_rtp(packet, offset, audio_level(packet, producer.audio_level_id))
            elif producer.kind == "video":
                video.append((producer, packet, offset))
            else:
                producer.on_rtp(packet, offset, None)
        for producer, packet, offset in video:
            producer.on_rtp(packet, offset, None)

    def _learn_ssrc(self, packet: bytes, ssrc: int) -> Producer | None:
        """A stream the SDP did not announce: match it by its mid header extension."""
        if ssrc in self._ignored_ssrcs:
            return None
        mid = extension_element(packet, self._mid_ext_id) if self._mid_ext_id else None
        producer = self._producers_by_mid.get(mid.decode(errors="replace")) if mid else None
        if producer is None and len(self._producers_by_mid) == 1:
            only = next(iter(self._producers_by_mid.values()))
            if only.ssrc is None:
                producer = only
        if producer is None or (producer.ssrc is not None and producer.ssrc != ssrc):
            # a second SSRC on a known m-line is RTX or padding: not forwarded
            self._ignored_ssrcs.add(ssrc)
            self.unknown_ssrc += 1
            return None
        producer.ssrc = ssrc
        self._producers_by_ssrc[ssrc] = producer
        return producer

    def _on_rtcp(self, data: bytes) -> None:
        self.rtcp_in += 1
        try:
            packets = RtcpPacket.parse(self._rx.unprotect_rtcp(data))  # type: ignore[union-attr]
        except Exception:
            self.rtcp_errors += 1
            return
        for packet in packets:
            if isinstance(packet, RtcpSrPacket):
                producer = self._producers_by_ssrc.get(packet.ssrc)
                if producer is not None:
                    info = packet.sender_info
                    producer.on_sender_report(info.ntp_timestamp, info.rtp_timestamp)
                self._on_reports(packet.reports)
            elif isinstance(packet, RtcpRrPacket):
                self._on_reports(packet.reports)
            elif isinstance(packet, RtcpRtpfbPacket):
                if packet.fmt == RTCP_RTPFB_NACK:
                    consumer = self._consumers_by_ssrc.get(packet.media_ssrc)
                    if consumer is not None:
                        consumer.on_nack(packet.lost)
            elif isinstance(packet, RtcpPsfbPacket):
                if packet.fmt == RTCP_PSFB_PLI:
                    consumer = self._consumers_by_ssrc.get(packet.media_ssrc)
                    if consumer is not None:
                        consumer.request_keyframe()
                elif packet.fmt == RTCP_PSFB_FIR:
                    for i in range(0, len(packet.fci) - 7, 8):
                        media_ssrc = _FIR_ENTRY.unpack_from(packet.fci, i)[0]
                        consumer = self._consumers_by_ssrc.get(media_ssrc)
                        if consumer is not None:
                            consumer.request_keyframe()

    def _on_reports(self, reports: list[RtcpReceiverInfo]) -> None:
        for report in reports:
            consumer = self._consumers_by_ssrc.get(report.ssrc)
            if consumer is not None:
                consumer.on_receiver_report(
                    report.fraction_lost, report.jitter, report.highest_sequence
                )

    def _note_first_media(self) -> None:
        self._first_media_pending = False
        if self.on_first_media is not None:
            self.on_first_media()

    # -- the send path (synchronous) -------------------------------------------------

    def send_rtp(self, packet: bytes) -> bool:
        """Encrypt and send one RTP packet; False when dropped, the reason in `refusal`
        (not connected, the send buffer full, a send error)."""
        sendto = self._sendto
        if sendto is None:
            self.refusal = NOT_CONNECTED
            return False
        try:
            sendto(self._protect(packet), self._remote)
        except (BlockingIOError, InterruptedError):
            # the kernel's send buffer is full: drop, never queue (see module doc)
            self.dropped_congestion += 1
            self.refusal = SEND_BUFFER_FULL
            return False
        except Exception:
            self.send_errors += 1
            self.refusal = SEND_ERROR
            return False
        if self._first_media_pending:
            self._note_first_media()
        return True

    def send_rtcp(self, packet: bytes) -> None:
        sendto = self._sendto
        if sendto is None or self._tx is None:
            return
        try:
            sendto(self._tx.protect_rtcp(packet), self._remote)
            self.rtcp_out += 1
        except Exception:
            self.send_errors += 1

    def send_nack(self, media_ssrc: int, lost: list[int]) -> None:
        """Ask the publisher of `media_ssrc` to resend the `lost` sequence numbers."""
        self.send_rtcp(
            bytes(
                RtcpRtpfbPacket(
                    fmt=RTCP_RTPFB_NACK, ssrc=self._rtcp_ssrc, media_ssrc=media_ssrc, lost=lost
                )
            )
        )

    def send_keyframe_request(self, media_ssrc: int) -> None:
        """Send a PLI to the publisher of `media_ssrc` on this transport."""
        self.send_rtcp(
            bytes(RtcpPsfbPacket(fmt=RTCP_PSFB_PLI, ssrc=self._rtcp_ssrc, media_ssrc=media_ssrc))
        )

    # -- state -------------------------------------------------------------------------

    def _on_dtls_state(self) -> None:
        dtls = self._dtls
        if dtls is None or dtls.state != "connected" or self._tx is not None:
            return
        sessions = seam.srtp_sessions(dtls)
        if sessions is None:
            return
        self._rx, self._tx = sessions
        self._protect = self._tx.protect
        self.srtp_profile = seam.negotiated_srtp_profile(dtls)
        self._refresh_pair()
        self.connected.set()
        for callback in self.connected_callbacks:
            try:
                callback()
            except Exception:
                logger.exception("connected callback of transport %s", self.id)
        if self._rtcp_task is None:
            self._rtcp_task = asyncio.create_task(self._run_rtcp())

    def _refresh_pair(self) -> None:
        if self._dtls is None:
            return
        pair = seam.selected_pair(self._dtls)
        if pair is None or self.closed:
            return
        udp, self._remote = pair
        if udp is not self._udp:
            self._udp = udp
            self._close_socket()
            self._socket = seam.sending_socket(udp)
            # a TURN relay has no socket: its own sendto wraps each packet for the relay
            self._sendto = self._socket.sendto if self._socket is not None else udp.sendto

    def _close_socket(self) -> None:
        self._sendto = None
        if self._socket is not None:
            self._socket.close()
            self._socket = None

    def _on_connection_state(self) -> None:
        if self.pc.connectionState in ("failed", "closed") and not self.closed:
            self._closing_task = asyncio.ensure_future(self.close())

    async def _watch_connect(self) -> None:
        try:
            await asyncio.wait_for(self.connected.wait(), self.settings.connect_timeout)
        except TimeoutError:
            logger.info(
                "transport %s did not connect in %.0f s", self.id, self.settings.connect_timeout
            )
            await self.close()

    async def _run_rtcp(self) -> None:
        interval = self.settings.rtcp_interval
        while True:
            await asyncio.sleep(interval * (0.5 + random.random()))
            self._refresh_pair()
            report = self.build_rtcp()
            if report:
                self.send_rtcp(report)

    def build_rtcp(self) -> bytes:
        """One compound RTCP packet: SRs for our consumers, RRs and REMB for our producers."""
        parts: list[bytes] = []
        sdes: list[RtcpSourceInfo] = []
        cname = self.cname.encode()
        for consumer in self.consumers:
            mapping = consumer.sender_report()
            if mapping is None:
                continue
            ntp, rtp_ts = mapping
            parts.append(
                bytes(
                    RtcpSrPacket(
                        ssrc=consumer.ssrc,
                        sender_info=RtcpSenderInfo(
                            ntp_timestamp=ntp,
                            rtp_timestamp=rtp_ts,
                            packet_count=consumer.packets & 0xFFFFFFFF,
                            octet_count=consumer.bytes & 0xFFFFFFFF,
                        ),
                    )
                )
            )
            sdes.append(RtcpSourceInfo(ssrc=consumer.ssrc, items=[(1, cname)]))
        reports = []
        video_ssrcs = []
        for producer in self.producers:
            block = producer.receiver_report()
            if block is None or producer.ssrc is None:
                continue
            fraction, lost, highest, jitter, lsr, dlsr = block
            reports.append(
                RtcpReceiverInfo(
                    ssrc=producer.ssrc,
                    fraction_lost=fraction,
                    packets_lost=lost,
                    highest_sequence=highest,
                    jitter=jitter,
                    lsr=lsr,
                    dlsr=dlsr,
                )
            )
            if producer.kind == "video":
                video_ssrcs.append(producer.ssrc)
        for i in range(0, len(reports), 31):
            parts.append(bytes(RtcpRrPacket(ssrc=self._rtcp_ssrc, reports=reports[i : i + 31])))
        if not parts:
            return b""
        if reports or not sdes:
            sdes.append(RtcpSourceInfo(ssrc=self._rtcp_ssrc, items=[(1, cname)]))
        parts.append(bytes(RtcpSdesPacket(chunks=sdes)))
        if video_ssrcs:
            parts.append(
                bytes(
                    RtcpPsfbPacket(
                        fmt=RTCP_PSFB_APP,
                        ssrc=self._rtcp_ssrc,
                        media_ssrc=0,
                        fci=pack_remb_fci(self.settings.max_incoming_bitrate, video_ssrcs),
                    )
                )
            )
        return b"".join(parts)

    def codecs_opened(self) -> int:
        return seam.codecs_opened([self.pc])

    async def close(self) -> None:
        """Close the connection; idempotent. Owners hear of it through `on_closed`."""
        if self.closed:
            return
        self.closed = True
        self._udp = None
        self._close_socket()
        seam.release_sockets(self._sockets)
        for task in (self._rtcp_task, self._watch_task):
            if task is not None and task is not asyncio.current_task():
                task.cancel()
        for task in (self._rtcp_task, self._watch_task):
            if task is not None and task is not asyncio.current_task():
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        self._rtcp_task = self._watch_task = None
        try:
            await self.pc.close()
        except Exception:
            logger.exception("closing transport %s", self.id)
        for callback in list(self.on_closed):
            try:
                callback(self)
            except Exception:
                logger.exception("on_closed callback of transport %s", self.id)
        self.on_closed.clear()

    def dump(self) -> dict[str, object]:
        return {
            "id": self.id,
            "connected": self.connected.is_set(),
            "srtp_profile": self.srtp_profile,
            "producers": [p.id for p in self.producers],
            "consumers": [c.id for c in self.consumers],
        }
