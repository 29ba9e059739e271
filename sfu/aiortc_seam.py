"""The one module that touches aiortc's and aioice's private members.

aiortc's public API decodes every received track and encodes every sent one. The SFU
uses aiortc only for ICE, DTLS, SRTP keying and SDP, and moves RTP itself, below the
codec layer. Everything below reaches into internals that may move between releases;
`tests/sfu/test_aiortc_seam.py` is the contract test that fails loudly when they do,
and `pyproject.toml` pins the versions it was run against.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import aioice.ice
import aiortc.sdp
from aioice.candidate import Candidate, candidate_foundation, candidate_priority
from aiortc import RTCPeerConnection, RTCRtpTransceiver
from aiortc.rtcdtlstransport import (
    SRTP_AEAD_AES_128_GCM,
    SRTP_AEAD_AES_256_GCM,
    SRTP_AES128_CM_SHA1_80,
    RTCDtlsTransport,
)

# Cheapest per packet first: AES-128-GCM needs no separate HMAC and a shorter key
# schedule than AES-256-GCM. OpenSSL as DTLS server picks by its own order, as
# client it offers in this order.
SRTP_PROFILE_PREFERENCE = (SRTP_AEAD_AES_128_GCM, SRTP_AEAD_AES_256_GCM, SRTP_AES128_CM_SHA1_80)


class SrtpSession(Protocol):
    """The part of pylibsrtp's Session the forwarder uses."""

    def protect(self, packet: bytes) -> bytes: ...
    def unprotect(self, packet: bytes) -> bytes: ...
    def protect_rtcp(self, packet: bytes) -> bytes: ...
    def unprotect_rtcp(self, packet: bytes) -> bytes: ...


@dataclass(frozen=True)
class IcePolicy:
    """Which local addresses and ports the server's ICE agents gather on.

    `addresses` are bound; `announced` (same length, or empty) replaces each bound
    address in the candidate announced to the peer, for a server behind 1:1 NAT.
    """

    addresses: tuple[str, ...] = ("127.0.0.1",)
    announced: tuple[str, ...] = ()
    port_min: int = 0
    port_max: int = 0


DatagramHandler = Callable[[bytes, tuple[Any, ...]], None]


def dtls_transport_of(pc: RTCPeerConnection) -> RTCDtlsTransport | None:
    """The single (bundled) DTLS transport of a peer connection, if it has one yet."""
    transceivers = pc.getTransceivers()
    if not transceivers:
        return None
    return transceivers[0].receiver.transport


def prefer_cheap_srtp(dtls: RTCDtlsTransport) -> None:
    """Negotiate AEAD_AES_128_GCM where the peer supports it."""
    available = [p for p in SRTP_PROFILE_PREFERENCE if p in _srtp_profiles_supported()]
    dtls._srtp_profiles = available


# aiortc's own list (ECDSA only) and the ECDHE-RSA suites: as DTLS client we can then
# shake hands with a server whose certificate is RSA (GStreamer's webrtcbin, some
# encoders); as server, with our ECDSA certificate, the RSA suites are never chosen.
CIPHERS = (
    b"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-CHACHA20-POLY1305:"
    b"ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA:"
    b"ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384:"
    b"ECDHE-RSA-CHACHA20-POLY1305:ECDHE-RSA-AES128-SHA:ECDHE-RSA-AES256-SHA"
)


def accept_rsa_peers(dtls: RTCDtlsTransport) -> None:
    """Offer the ECDHE-RSA cipher suites too, for a DTLS server with an RSA certificate."""
    certificate: Any = dtls._RTCDtlsTransport__local_certificate  # type: ignore[attr-defined]
    if getattr(certificate, "_parta_ciphers", False):
        return
    original = certificate._create_ssl_context

    def create_ssl_context(srtp_profiles: list[Any]) -> Any:
        context = original(srtp_profiles=srtp_profiles)
        context.set_cipher_list(CIPHERS)
        return context

    certificate._create_ssl_context = create_ssl_context
    certificate._parta_ciphers = True


def answer_as_dtls_server(pc: RTCPeerConnection) -> None:
    """After a remote offer of `a=setup:actpass`: answer `a=setup:passive`, so that the
    offerer is the DTLS client and we the server, whatever its certificate.

    aiortc answers `active` by default and becomes the client, offering only ECDSA
    suites; an RSA-certificate server (GStreamer's webrtcbin) then finds no shared
    cipher. As server we also choose the SRTP profile, by our own preference. An offer
    that says `active` or `passive` already fixed the role; it is kept.
    """
    remote = pc.remoteDescription
    if remote is None or remote.type != "offer":
        return
    offered = {
        m.rtp.muxId: m.dtls.role
        for m in aiortc.sdp.SessionDescription.parse(remote.sdp).media
        if m.dtls
    }
    for transceiver in pc.getTransceivers():
        dtls: Any = transceiver.receiver.transport
        if (
            dtls is not None
            and dtls._role == "auto"
            and offered.get(str(transceiver.mid)) == "auto"
        ):
            dtls._set_role("server")


def _srtp_profiles_supported() -> list[Any]:
    from aiortc.rtcdtlstransport import SRTP_PROFILES

    return list(SRTP_PROFILES)


def negotiated_srtp_profile(dtls: RTCDtlsTransport) -> str | None:
    """The SRTP profile the DTLS handshake settled on, e.g. 'SRTP_AEAD_AES_128_GCM'."""
    ssl = dtls._ssl
    if ssl is None:
        return None
    profile = ssl.get_selected_srtp_profile()
    return profile.decode() if profile else None


def srtp_sessions(dtls: RTCDtlsTransport) -> tuple[SrtpSession, SrtpSession] | None:
    """(receive, transmit) SRTP sessions, once the DTLS handshake is done."""
    rx, tx = dtls._rx_srtp, dtls._tx_srtp
    if rx is None or tx is None:
        return None
    return rx, tx


def selected_pair(
    dtls: RTCDtlsTransport,
) -> tuple[asyncio.DatagramTransport, tuple[Any, ...]] | None:
    """The UDP transport and remote address of the nominated ICE pair (component 1).

    The pair can change without an event (a nomination after a better check), so
    callers re-read it periodically.
    """
    connection = dtls.transport._connection
    pair = connection._nominated.get(1)
    if pair is None:
        return None
    transport = getattr(pair.protocol, "transport", None)
    if transport is None:
        return None
    return transport, pair.remote_addr


def sending_socket(udp: asyncio.DatagramTransport) -> socket.socket | None:
    """Our own handle (a dup of the descriptor) on a datagram transport's socket.

    Sending through it skips asyncio's per-call checks and its unbounded buffer; the
    descriptor shares the non-blocking mode of asyncio's, so `sendto` raises
    BlockingIOError instead of waiting. Public API only (`get_extra_info`). None for
    a TURN relay, which has no socket of its own.
    """
    sock = udp.get_extra_info("socket")
    if sock is None:
        return None
    return socket.socket(sock.family, sock.type, sock.proto, fileno=os.dup(sock.fileno()))


def restrict_gathering(pc: RTCPeerConnection, policy: IcePolicy) -> None:
    """Make every not-yet-gathered ICE agent of `pc` gather only on the policy's addresses.

    aioice by default binds every interface except loopback, which on a server would
    announce the LAN address and on a loopback-only machine gather nothing. Must be
    called after the transceivers exist and before setLocalDescription.
    """
    for transceiver in pc.getTransceivers():
        connection: Any = transceiver.receiver.transport.transport.iceGatherer._connection
        if getattr(connection, "_parta_gathering", False) or connection._local_candidates_start:
            continue
        original = connection.get_component_candidates
        connection._parta_gathering = True
        connection.get_component_candidates = _make_gatherer(connection, original, policy)


def _make_gatherer(
    connection: Any, original: Callable[..., Any], policy: IcePolicy
) -> Callable[..., Any]:
    async def get_component_candidates(
        component: int, addresses: list[str], timeout: int = 5
    ) -> list[Candidate]:
        loop = asyncio.get_running_loop()
        candidates: list[Candidate] = []
        for index, address in enumerate(policy.addresses):
            try:
                transport, protocol = await _bind_in_range(
                    loop, lambda: aioice.ice.StunProtocol(connection), address, policy
                )
            except OSError:
                continue
            sock = transport.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 * 1024 * 1024)
            bound = transport.get_extra_info("sockname")
            host = policy.announced[index] if index < len(policy.announced) else bound[0]
            protocol.local_candidate = Candidate(
                foundation=candidate_foundation("host", "udp", host),
                component=component,
                transport="udp",
                priority=candidate_priority(component, "host"),
                host=host,
                port=bound[1],
                type="host",
            )
            connection._protocols.append(protocol)
            candidates.append(protocol.local_candidate)
        # TURN relays (when the operator configured ICE servers) still come from aioice.
        candidates += await original(component=component, addresses=[], timeout=timeout)
        return candidates

    return get_component_candidates


async def _bind_in_range(
    loop: asyncio.AbstractEventLoop,
    factory: Callable[[], Any],
    address: str,
    policy: IcePolicy,
) -> tuple[asyncio.DatagramTransport, Any]:
    if not policy.port_min:
        return await loop.create_datagram_endpoint(factory, local_addr=(address, 0))
    span = policy.port_max - policy.port_min + 1
    start = _next_port_hint(policy)
    for i in range(span):
        port = policy.port_min + (start + i) % span
        try:
            return await loop.create_datagram_endpoint(factory, local_addr=(address, port))
        except OSError:
            continue
    raise OSError(f"no free UDP port in {policy.port_min}-{policy.port_max} on {address}")


def _next_port_hint(policy: IcePolicy) -> int:
    # A random start so consecutive binds do not all probe the same taken ports.
    return secrets.randbelow(policy.port_max - policy.port_min + 1)


def intercept_datagrams(dtls: RTCDtlsTransport, handler: DatagramHandler) -> int:
    """Route SRTP and SRTCP datagrams of this transport to `handler`, synchronously.

    Each local socket's StunProtocol.datagram_received is wrapped: datagrams whose
    first byte is 128..191 (RTP/RTCP, RFC 7983) are given to `handler` once SRTP is
    keyed; STUN and DTLS go on to aioice/aiortc as before. This skips aioice's STUN
    parse attempt, its queue and aiortc's receive task for every media packet.
    Returns the number of sockets wrapped.
    """
    connection = dtls.transport._connection
    wrapped = 0
    for protocol in connection._protocols:
        if not getattr(protocol, "_parta_wrapped", False):
            _wrap_protocol(protocol, dtls, handler)
            wrapped += 1
    return wrapped


def _wrap_protocol(protocol: Any, dtls: RTCDtlsTransport, handler: DatagramHandler) -> None:
    original = protocol.datagram_received

    def datagram_received(
        data: bytes, addr: tuple[Any, ...], _orig: DatagramHandler = original
    ) -> None:
        first = data[0] if data else 0
        if 127 < first < 192 and dtls._rx_srtp is not None:
            handler(data, addr)
        else:
            _orig(data, addr)

    protocol.datagram_received = datagram_received
    protocol._parta_wrapped = True


RECEIVE_SIZE = 8192  # larger than any RTP, STUN or DTLS datagram WebRTC sends


def drain_datagrams(
    dtls: RTCDtlsTransport, on_media: Callable[[list[bytes]], None], *, max_batch: int = 64
) -> list[socket.socket]:
    """Read this transport's sockets ourselves, many datagrams per wake-up.

    asyncio reads one datagram per event-loop turn and protocol call. For each local
    socket, asyncio's reading is paused and a reader on our own handle (a dup of the
    descriptor) drains up to `max_batch` datagrams when the socket is readable: SRTP
    and SRTCP (first byte 128..191, RFC 7983, once SRTP is keyed) go to `on_media` as
    one list, so the caller can order the batch (audio before video); STUN and DTLS go
    on to aioice/aiortc exactly as before. Returns the handles, for `release_sockets`.
    """
    loop = asyncio.get_running_loop()
    connection = dtls.transport._connection
    taken: list[socket.socket] = []
    protocol: Any
    for protocol in connection._protocols:
        udp = getattr(protocol, "transport", None)
        if getattr(protocol, "_parta_wrapped", False) or udp is None or udp.is_closing():
            continue
        tsock = udp.get_extra_info("socket")
        if tsock is None:
            # a TURN relay has no socket of its own: take its datagrams one by one
            _wrap_protocol(protocol, dtls, lambda data, addr: on_media([data]))
            continue
        sock = socket.socket(tsock.family, tsock.type, tsock.proto, fileno=os.dup(tsock.fileno()))
        on_readable = _make_reader(
            dtls, sock.recvfrom, protocol.datagram_received, on_media, max_batch
        )
        udp.pause_reading()
        loop.add_reader(sock.fileno(), on_readable)
        protocol._parta_wrapped = True
        taken.append(sock)
    return taken


def _make_reader(
    dtls: RTCDtlsTransport,
    recvfrom: Callable[[int], tuple[bytes, Any]],
    deliver: DatagramHandler,
    on_media: Callable[[list[bytes]], None],
    max_batch: int,
) -> Callable[[], None]:
    def on_readable() -> None:
        media: list[bytes] = []
        for _ in range(max_batch):
            try:
                data, addr = recvfrom(RECEIVE_SIZE)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                break  # e.g. an ICMP error queued on the socket; read on next wake-up
            if data and 127 < data[0] < 192 and dtls._rx_srtp is not None:
                media.append(data)
            else:
                deliver(data, addr)
        if media:
            on_media(media)

    return on_readable


def release_sockets(sockets: list[socket.socket]) -> None:
    """Stop reading the handles `drain_datagrams` took, and close them."""
    loop = asyncio.get_running_loop()
    for sock in sockets:
        if sock.fileno() >= 0:
            loop.remove_reader(sock.fileno())
            sock.close()
    sockets.clear()


async def _idle_forever(started: asyncio.Event, exited: asyncio.Event) -> None:
    started.set()
    try:
        await asyncio.get_running_loop().create_future()
    except asyncio.CancelledError:
        pass
    finally:
        exited.set()


def disable_media_pipeline(transceiver: RTCRtpTransceiver) -> None:
    """Stop aiortc from ever decoding, encoding or sending RTCP for this transceiver.

    The receiver would start a decoder thread and the sender an encode loop plus
    sender reports with zero counters; the SFU writes its own RTP and RTCP instead.
    """
    receiver: Any = transceiver.receiver
    sender: Any = transceiver.sender

    async def receive(parameters: Any) -> None:
        return None

    async def send(parameters: Any) -> None:
        return None

    receiver.receive = receive
    sender.send = send


def set_sender_identity(transceiver: RTCRtpTransceiver, stream_id: str, track_id: str) -> None:
    """Set the msid announced for a send transceiver without giving it a track."""
    sender = transceiver.sender
    sender._stream_id = stream_id
    sender._track_id = track_id


def set_sender_ssrc(transceiver: RTCRtpTransceiver, ssrc: int) -> None:
    """Announce `ssrc` for this transceiver's sender (before the answer is made)."""
    transceiver.sender._ssrc = ssrc


def sender_ssrc(transceiver: RTCRtpTransceiver) -> int:
    """The SSRC the SDP announces for this transceiver's sender."""
    return int(transceiver.sender._ssrc)


def codecs_opened(pcs: Sequence[RTCPeerConnection]) -> int:
    """How many decoders or encoders aiortc has created for these connections."""
    count = 0
    for pc in pcs:
        for transceiver in pc.getTransceivers():
            if getattr(transceiver.receiver, "_RTCRtpReceiver__decoder_thread", None) is not None:
                count += 1
            if getattr(transceiver.sender, "_RTCRtpSender__encoder", None) is not None:
                count += 1
    return count


def restrict_codecs(transceiver: RTCRtpTransceiver) -> None:
    """Keep only codecs the SFU forwards (Opus, VP8, H.264), VP8 first, and no RTX.

    Must run after setRemoteDescription and before createAnswer: that is when aiortc
    has negotiated `_codecs` for an m-line it did not create itself. Retransmissions
    are sent on the original SSRC, so RTX is not negotiated.
    """
    codecs = [c for c in transceiver._codecs if c.mimeType.lower() in _FORWARDED]
    codecs.sort(key=lambda c: c.mimeType.lower() != "video/vp8")
    transceiver._codecs = codecs


_FORWARDED = ("audio/opus", "video/vp8", "video/h264")


def filter_outgoing(dtls: RTCDtlsTransport, keep: Callable[[bytes], bool]) -> None:
    """Drop outgoing datagrams for which `keep` is false, as if the network lost them.

    For tests that need loss on the way from an aiortc peer to the server.
    """
    protocol: Any
    for protocol in dtls.transport._connection._protocols:
        original = protocol.send_data

        async def send_data(data: bytes, addr: tuple[Any, ...], _orig: Any = original) -> None:
            if keep(data):
                await _orig(data, addr)

        protocol.send_data = send_data


def filter_datagrams(dtls: RTCDtlsTransport, keep: Callable[[bytes], bool]) -> None:
    """Drop incoming datagrams for which `keep` is false, before aiortc sees them.

    For tests and benchmarks that need packet loss on a real connection.
    """
    connection = dtls.transport._connection
    protocol: Any
    for protocol in connection._protocols:
        original = protocol.datagram_received

        def datagram_received(
            data: bytes, addr: tuple[Any, ...], _orig: DatagramHandler = original
        ) -> None:
            if keep(data):
                _orig(data, addr)

        protocol.datagram_received = datagram_received
