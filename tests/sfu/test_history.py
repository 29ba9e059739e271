from __future__ import annotations

import pytest

from sfu.history import PacketHistory
from sfu.keyframe import KeyframeLimiter


def test_history_keeps_the_last_packets() -> None:
    history = PacketHistory(4)
    for seq in range(65533, 65536 + 3):
        history.put(seq & 0xFFFF, seq, 0x8000, bytes([seq & 0xFF]))
    assert history.get(0) == (0, 65536, 0x8000, b"\x00")
    assert history.get(65533) is None  # overwritten by seq 1
    assert history.get(65535) is not None
    with pytest.raises(ValueError):
        PacketHistory(6)


def test_keyframe_limiter_defers_instead_of_dropping() -> None:
    limiter = KeyframeLimiter(0.3)
    assert limiter.request(10.0) == 0.0
    wait = limiter.request(10.1)
    assert wait == pytest.approx(0.2)
    assert limiter.request(10.2) is None  # folded into the deferred one
    limiter.deferred_sent(10.3)
    assert limiter.request(10.4) == pytest.approx(0.2)
    limiter.deferred_sent(10.6)
    assert limiter.request(11.0) == 0.0
