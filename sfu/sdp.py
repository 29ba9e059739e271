"""What the SFU needs to know from negotiated SDP: tracks, SSRCs, codecs, extension ids."""

from __future__ import annotations

from dataclasses import dataclass

from aiortc import sdp as aiortc_sdp

from sfu.codecs import SUPPORTED_MIME_TYPES, RtpCodec
from sfu.rtp import AUDIO_LEVEL_URI, MID_URI


class SdpError(ValueError):
    """The SDP cannot be used by the SFU; the message says why."""


@dataclass(frozen=True)
class IncomingTrack:
    """An m-line on which the remote side sends media to us."""

    mid: str
    kind: str
    ssrc: int | None
    rtx_ssrc: int | None
    codec: RtpCodec
    audio_level_id: int
    mid_id: int
    msid: str | None


@dataclass(frozen=True)
class AcceptedMedia:
    """An m-line of our offer as the remote answer accepted it."""

    mid: str
    kind: str
    receiving: bool
    codecs: tuple[RtpCodec, ...]


def parse(text: str) -> aiortc_sdp.SessionDescription:
    try:
        return aiortc_sdp.SessionDescription.parse(text)
    except Exception as exc:  # aiortc raises assorted errors on malformed input
        # its words (a Python exception's) are not for the client: say which line
        raise SdpError(f"malformed SDP{_where(text)}: a line could not be read") from exc


def _where(text: str) -> str:
    """The first line that is not `x=value` with a known letter, as ` (line N)`."""
    for number, line in enumerate(text.replace("\r\n", "\n").split("\n"), 1):
        if line and not (len(line) > 1 and line[1] == "=" and line[0] in "vosiuepcbtrzkam"):
            return f" (line {number})"
    return ""


def require_bundle(description: aiortc_sdp.SessionDescription) -> None:
    """Every m-line must be in one BUNDLE group (WHIP and WHEP require it too)."""
    mids = [m.rtp.muxId for m in description.media if m.port != 0]
    group = next((g for g in description.group if g.semantic == "BUNDLE"), None)
    if not mids:
        raise SdpError("the offer has no media")
    if group is None or any(mid not in group.items for mid in mids):
        raise SdpError("every m-line must be bundled (a=group:BUNDLE)")
    for media in description.media:
        if media.kind not in ("audio", "video"):
            raise SdpError(f"unsupported media kind {media.kind!r}")


def to_codec(codec: object) -> RtpCodec:
    params = getattr(codec, "parameters", {}) or {}
    return RtpCodec(
        mime_type=str(getattr(codec, "mimeType")),  # noqa: B009
        clock_rate=int(getattr(codec, "clockRate")),  # noqa: B009
        payload_type=int(getattr(codec, "payloadType")),  # noqa: B009
        channels=getattr(codec, "channels", None),
        parameters=tuple(sorted((str(k), str(v)) for k, v in params.items())),
    )


def _ext_id(media: aiortc_sdp.MediaDescription, uri: str) -> int:
    for ext in media.rtp.headerExtensions:
        if ext.uri == uri:
            return int(ext.id)
    return 0


def _usable_codecs(media: aiortc_sdp.MediaDescription) -> list[RtpCodec]:
    return [to_codec(c) for c in media.rtp.codecs if c.mimeType.lower() in SUPPORTED_MIME_TYPES]


def incoming_tracks(offer: str, answer: str) -> list[IncomingTrack]:
    """Tracks the remote offerer sends, with the codec and ids our answer agreed to."""
    remote = parse(offer)
    local = parse(answer)
    local_by_mid = {m.rtp.muxId: m for m in local.media}
    tracks = []
    for media in remote.media:
        mid = media.rtp.muxId
        ours = local_by_mid.get(mid)
        if ours is None or ours.port == 0 or media.direction not in ("sendonly", "sendrecv"):
            continue
        if ours.direction not in ("recvonly", "sendrecv"):
            continue
        track = _incoming(media, ours)
        if track is not None:
            tracks.append(track)
    return tracks


def _incoming(
    media: aiortc_sdp.MediaDescription, agreed: aiortc_sdp.MediaDescription
) -> IncomingTrack | None:
    """The track the sender describes in `media`, with the codec and header extension
    ids of `agreed` (the answer's m-line: ours, or the remote answerer's)."""
    codecs = _usable_codecs(agreed)
    if not codecs:
        return None
    ssrc = rtx_ssrc = None
    for group in media.ssrc_group:
        if group.semantic == "FID" and len(group.items) == 2:
            ssrc, rtx_ssrc = int(group.items[0]), int(group.items[1])
    if ssrc is None and media.ssrc:
        ssrc = int(media.ssrc[0].ssrc)
    return IncomingTrack(
        mid=media.rtp.muxId,
        kind=media.kind,
        ssrc=ssrc,
        rtx_ssrc=rtx_ssrc,
        codec=codecs[0],
        audio_level_id=_ext_id(agreed, AUDIO_LEVEL_URI),
        mid_id=_ext_id(agreed, MID_URI),
        msid=media.msid,
    )


def answered_tracks(answer: str) -> list[IncomingTrack]:
    """Tracks the remote answerer sends to our recvonly offer (an edge node pulling a
    broadcast from its origin), with the codec the answer chose."""
    tracks = []
    for media in parse(answer).media:
        if media.port == 0 or media.direction not in ("sendonly", "sendrecv"):
            continue
        track = _incoming(media, media)
        if track is not None:
            tracks.append(track)
    return tracks


def accepted_media(answer: str) -> dict[str, AcceptedMedia]:
    """What the remote answer accepted of each m-line we offered (or answered as sendonly)."""
    description = parse(answer)
    result = {}
    for media in description.media:
        receiving = media.port != 0 and media.direction in ("recvonly", "sendrecv")
        result[media.rtp.muxId] = AcceptedMedia(
            mid=media.rtp.muxId,
            kind=media.kind,
            receiving=receiving,
            codecs=tuple(_usable_codecs(media)),
        )
    return result


def offered_receive_media(offer: str) -> list[AcceptedMedia]:
    """The m-lines of a remote offer that want to receive from us (WHEP)."""
    description = parse(offer)
    return [
        AcceptedMedia(
            mid=media.rtp.muxId,
            kind=media.kind,
            receiving=media.port != 0 and media.direction in ("recvonly", "sendrecv"),
            codecs=tuple(_usable_codecs(media)),
        )
        for media in description.media
    ]
