"""RTP codec descriptions as negotiated in SDP, and how they match across peers."""

from __future__ import annotations

from dataclasses import dataclass

SUPPORTED_MIME_TYPES = ("audio/opus", "video/vp8", "video/h264")


@dataclass(frozen=True)
class RtpCodec:
    """One negotiated codec: what the payload type means on one connection."""

    mime_type: str
    clock_rate: int
    payload_type: int
    channels: int | None = None
    parameters: tuple[tuple[str, str], ...] = ()

    @property
    def kind(self) -> str:
        return self.mime_type.split("/", 1)[0].lower()

    @property
    def name(self) -> str:
        return self.mime_type.split("/", 1)[1].upper()

    def param(self, key: str) -> str | None:
        for k, v in self.parameters:
            if k == key:
                return v
        return None

    def matches(self, other: RtpCodec) -> bool:
        """Whether packets of this codec can be forwarded as `other` unchanged."""
        if self.mime_type.lower() != other.mime_type.lower() or self.clock_rate != other.clock_rate:
            return False
        if self.name == "H264":
            if (self.param("packetization-mode") or "0") != (
                other.param("packetization-mode") or "0"
            ):
                return False
            # profile_idc and constraint flags must agree; the level may differ.
            return _h264_profile(self) == _h264_profile(other)
        return True


def _h264_profile(codec: RtpCodec) -> str:
    level_id = (codec.param("profile-level-id") or "42001f").lower()
    return level_id[:4]
