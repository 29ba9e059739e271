"""WebRtcTransport's send path: the written drop policy for a congested subscriber."""

from __future__ import annotations

from typing import Any

from sfu.transport import TransportSettings, WebRtcTransport


class Session:
    def protect(self, packet: bytes) -> bytes:
        return b"S" + packet

    def protect_rtcp(self, packet: bytes) -> bytes:
        return b"C" + packet


class Socket:
    """Stands in for asyncio's datagram transport (not ours) with a given backlog."""

    def __init__(self) -> None:
        self.backlog = 0
        self.sent: list[tuple[bytes, Any]] = []

    def get_write_buffer_size(self) -> int:
        return self.backlog

    def sendto(self, data: bytes, addr: Any) -> None:
        self.sent.append((data, addr))


async def test_a_full_socket_drops_instead_of_queueing() -> None:
    transport = WebRtcTransport("t", TransportSettings(max_write_buffer=1000))
    socket = Socket()
    transport._udp, transport._remote, transport._tx = socket, ("127.0.0.1", 9), Session()
    assert transport.send_rtp(b"one")
    socket.backlog = 1001
    assert not transport.send_rtp(b"two")
    socket.backlog = 0
    assert transport.send_rtp(b"three")
    assert [d for d, _ in socket.sent] == [b"Sone", b"Sthree"]
    assert transport.dropped_congestion == 1
    await transport.close()
    assert not transport.send_rtp(b"after close")


async def test_close_is_idempotent_and_tells_owners_once() -> None:
    transport = WebRtcTransport("t", TransportSettings())
    closed: list[str] = []
    transport.on_closed.append(lambda t: closed.append(t.id))
    await transport.close()
    await transport.close()
    assert closed == ["t"]
