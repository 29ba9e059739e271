"""Contract test: the aiortc and aioice internals that sfu/aiortc_seam.py relies on.

When an upgrade moves any of these, this test names what moved. Upgrade aiortc/av
only together with this test passing (see the pins in pyproject.toml).
"""

from __future__ import annotations

import inspect
from importlib.metadata import version

import aioice.ice
import pylibsrtp
from aiortc import RTCConfiguration, RTCPeerConnection, RTCRtpReceiver, RTCRtpSender
from aiortc.rtcdtlstransport import (
    SRTP_AEAD_AES_128_GCM,
    SRTP_PROFILES,
    RTCCertificate,
    RTCDtlsTransport,
)
from aiortc.rtcicetransport import RTCIceGatherer, RTCIceTransport

from sfu import aiortc_seam as seam
from sfu.transport import TransportSettings, WebRtcTransport


def test_pinned_versions_are_installed() -> None:
    assert version("aiortc") == "1.16.0"
    assert version("aioice") == "0.13.0"
    assert version("av") == "18.1.0"
    assert version("pylibsrtp") == "1.0.0"


def test_dtls_transport_members() -> None:
    gatherer = RTCIceGatherer()
    dtls = RTCDtlsTransport(RTCIceTransport(gatherer), [RTCCertificate.generateCertificate()])
    for name in ("_rx_srtp", "_tx_srtp", "_srtp_profiles", "_ssl", "_role"):
        assert hasattr(dtls, name), f"RTCDtlsTransport.{name} moved"
    assert SRTP_AEAD_AES_128_GCM in SRTP_PROFILES, "libsrtp lacks AES-128-GCM"
    assert "srtp_profiles" in inspect.signature(RTCCertificate._create_ssl_context).parameters
    connection = dtls.transport._connection
    assert isinstance(connection, aioice.ice.Connection)
    for name in ("_nominated", "_protocols", "_local_candidates_start"):
        assert hasattr(connection, name), f"aioice Connection.{name} moved"
    params = inspect.signature(connection.get_component_candidates).parameters
    assert list(params)[:2] == ["component", "addresses"]
    assert "datagram_received" in vars(aioice.ice.StunProtocol)


def test_session_has_the_calls_the_forwarder_makes() -> None:
    for name in ("protect", "unprotect", "protect_rtcp", "unprotect_rtcp"):
        assert callable(getattr(pylibsrtp.Session, name))


async def test_sender_and_receiver_members() -> None:
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    transceiver = pc.addTransceiver("video", direction="sendonly")
    sender, receiver = transceiver.sender, transceiver.receiver
    assert isinstance(sender, RTCRtpSender) and isinstance(receiver, RTCRtpReceiver)
    for name in ("_ssrc", "_stream_id", "_track_id", "_RTCRtpSender__encoder"):
        assert hasattr(sender, name), f"RTCRtpSender.{name} moved"
    assert hasattr(receiver, "_RTCRtpReceiver__decoder_thread")
    assert hasattr(transceiver, "_codecs")
    # the instance attributes the seam replaces are looked up per call
    assert inspect.iscoroutinefunction(sender.send)
    assert inspect.iscoroutinefunction(receiver.receive)
    await pc.close()


async def test_two_transports_connect_over_loopback_with_aes128_gcm() -> None:
    """The seams working together: gathering on 127.0.0.1, intercept, SRTP sessions."""
    from sfu.codecs import RtpCodec

    settings = TransportSettings()
    a = WebRtcTransport("a", settings)
    b = WebRtcTransport("b", settings)
    opus = RtpCodec("audio/opus", 48000, 111, 2)
    a.add_outgoing("audio", stream_id="s", track_id="t", codec=opus)
    offer = await a.create_offer()
    assert "127.0.0.1" in offer and "typ host" in offer
    answer = await b.accept_offer(offer)
    await a.accept_answer(answer)
    import asyncio

    await asyncio.wait_for(asyncio.gather(a.connected.wait(), b.connected.wait()), 10)
    assert a.srtp_profile == b.srtp_profile == "SRTP_AEAD_AES_128_GCM"
    assert seam.selected_pair(a._dtls) is not None
    assert a.codecs_opened() == b.codecs_opened() == 0
    await a.close()
    await b.close()
