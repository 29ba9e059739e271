"""Per-producer packet history, so NACKs are answered without asking the publisher."""

from __future__ import annotations


class PacketHistory:
    """A ring of the last `size` packets of one stream, indexed by sequence number.

    Each slot keeps what a consumer needs to rebuild the packet for its own
    subscriber: the incoming sequence number, timestamp, the header's first two
    bytes without payload type, and the payload.
    """

    __slots__ = ("_mask", "_slots")

    def __init__(self, size: int = 1024) -> None:
        if size <= 0 or size & (size - 1):
            raise ValueError("history size must be a power of two")
        self._mask = size - 1
        self._slots: list[tuple[int, int, int, bytes] | None] = [None] * size

    def put(self, seq: int, timestamp: int, head: int, payload: bytes) -> None:
        self._slots[seq & self._mask] = (seq, timestamp, head, payload)

    def get(self, seq: int) -> tuple[int, int, int, bytes] | None:
        entry = self._slots[seq & self._mask]
        if entry is None or entry[0] != seq:
            return None
        return entry

    def clear(self) -> None:
        self._slots = [None] * (self._mask + 1)
