"""WebRtcTransport's send path: the written drop policy for a congested subscriber."""

from __future__ import annotations

from typing import Any

from sfu.transport import TransportSettings, WebRtcTransport


class Session:
    def protect(self, packet: bytes) -> bytes:
        return b"S" + packet


class KernelSocket:
    """Stands in for the kernel's answer to sendto: accepts, or refuses when full."""

    def __init__(self) -> None:
        self.full = False
        self.sent: list[tuple[bytes, Any]] = []

    def sendto(self, data: bytes, addr: Any) -> int:
        if self.full:
            raise BlockingIOError
        self.sent.append((data, addr))
        return len(data)


async def test_a_full_socket_drops_instead_of_queueing() -> None:
    transport = WebRtcTransport("t", TransportSettings())
    assert not transport.send_rtp(b"before keying")
    assert transport.refusal == "not_connected"
    kernel = KernelSocket()
    transport._sendto, transport._protect = kernel.sendto, Session().protect
    transport._remote = ("127.0.0.1", 9)
    assert transport.send_rtp(b"one")
    kernel.full = True
    assert not transport.send_rtp(b"two")
    assert transport.refusal == "send_buffer_full"
    kernel.full = False
    assert transport.send_rtp(b"three")
    assert [d for d, _ in kernel.sent] == [b"Sone", b"Sthree"]
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
