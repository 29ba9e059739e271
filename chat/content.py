"""What a user's file is, decided from its bytes, and how it may be served.

User files never run: an uploader's declared type is kept only as information and never
decides how a browser treats the file. A file is shown inline only when its first bytes
are one of a few image, audio, video or PDF formats a browser displays without running
anything (not SVG, not HTML, not XML: they can carry script); everything else is an
attachment. Every answer with a user's file also carries `USER_CONTENT_HEADERS`.
"""

from __future__ import annotations

import re
from urllib.parse import quote

SNIFF_BYTES = 64  # enough for every signature below

# On every answer that carries (or is about) a user's file: no type guessing by the
# browser, and were a file ever rendered as a document, it is a sandboxed one (an opaque
# origin: no script, no cookies, no requests) that other sites cannot embed either.
USER_CONTENT_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "sandbox; default-src 'none'",
    "Cross-Origin-Resource-Policy": "same-origin",
}

OCTET_STREAM = "application/octet-stream"

_TCHAR = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
_QUOTED = r'"(?:[\t !#-\[\]-~]|\\[\t -~])*"'
_MEDIA_TYPE = re.compile(
    rf"(?P<type>{_TCHAR})/(?P<subtype>{_TCHAR})"
    rf"(?P<params>(?:[ \t]*;[ \t]*{_TCHAR}=(?:{_TCHAR}|{_QUOTED}))*)[ \t]*"
)
MAX_TYPE_LENGTH = 128

# ISO base media ("ftyp") brands that browsers play: audio-only ones, and the rest
_MP4_AUDIO_BRANDS = {b"M4A ", b"M4B "}
_MP4_BRANDS = _MP4_AUDIO_BRANDS | {
    b"isom", b"iso2", b"iso3", b"iso4", b"iso5", b"iso6", b"mp41", b"mp42", b"avc1",
    b"dash", b"M4V ", b"MSNV", b"mmp4",
}  # fmt: skip


def check_declared_type(declared: str) -> str | None:
    """The uploader's `filetype`, normalised, or None if it is not a media type
    (`type/subtype; name=value`, RFC 9110) of at most MAX_TYPE_LENGTH characters."""
    if not declared:
        return OCTET_STREAM
    found = _MEDIA_TYPE.fullmatch(declared)
    if found is None or len(declared) > MAX_TYPE_LENGTH:
        return None
    head = f"{found['type']}/{found['subtype']}".lower()
    return head + found["params"]


def sniff(head: bytes, declared: str = "") -> str | None:
    """The type to show the file inline as, from its first SNIFF_BYTES bytes; None when
    it is none of the formats shown inline. `declared` only chooses between the audio
    and the video name of a container the bytes already proved (WebM, MP4)."""
    audio = declared.lower().startswith("audio/")
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "audio/wav"
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    if head[:4] == b"OggS":
        # an Ogg stream, whatever it carries, is only ever played as media; a voice
        # message whose sound cannot be read is posted, and its transcript says why
        return "audio/ogg"
    if head[:4] == b"\x1a\x45\xdf\xa3" and b"webm" in head:  # EBML, DocType "webm"
        return "audio/webm" if audio else "video/webm"
    if head[4:8] == b"ftyp" and head[8:12] in _MP4_BRANDS:
        return "audio/mp4" if audio or head[8:12] in _MP4_AUDIO_BRANDS else "video/mp4"
    if head.startswith(b"ID3") or _mp3_frame(head):
        return "audio/mpeg"
    return None


def _mp3_frame(head: bytes) -> bool:
    """An MPEG audio layer III frame header: 11 sync bits, a known version, layer III."""
    if len(head) < 4 or head[0] != 0xFF or head[1] & 0xE0 != 0xE0:
        return False
    version, layer = (head[1] >> 3) & 0b11, (head[1] >> 1) & 0b11
    bitrate, rate = head[2] >> 4, (head[2] >> 2) & 0b11
    return version != 0b01 and layer == 0b01 and bitrate not in (0, 0xF) and rate != 0b11


def disposition(kind: str, filename: str) -> str:
    """`Content-Disposition` (RFC 6266): `kind` is "inline" or "attachment"; the name in
    UTF-8 (`filename*`, RFC 8187), with a plain ASCII fallback for old clients."""
    fallback = "".join(c if " " <= c <= "~" and c not in '"\\%;' else "_" for c in filename)
    return f"{kind}; filename=\"{fallback or 'file'}\"; filename*=UTF-8''{quote(filename, safe='')}"


def clean_filename(name: str) -> str:
    """The last path part of an uploader's file name, without control characters, at
    most 255 characters; "file" when nothing is left."""
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c for c in name if c >= " " and c != "\x7f").strip()
    return name[:255] or "file"
