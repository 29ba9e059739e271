"""What a user's file is, from its bytes; the uploader's declared type checked; the
download's name in Content-Disposition (RFC 6266, UTF-8)."""

from __future__ import annotations

import io

import av
import numpy as np
import pytest
from aiohttp.multipart import content_disposition_filename, parse_content_disposition

from chat.content import check_declared_type, clean_filename, disposition, sniff
from tests.chat.test_uploads import opus_in_ogg

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"
HTML = b"<!doctype html><script>alert(1)</script>"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'


def media(container: str, codec: str, *, video: bool = False) -> bytes:
    """A second of real media, as PyAV (FFmpeg) writes it."""
    out = io.BytesIO()
    with av.open(out, "w", format=container) as box:
        if video:
            stream = box.add_stream(codec, rate=10)
            stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
            for i in range(3):
                frame = av.VideoFrame.from_ndarray(np.zeros((48, 64, 3), np.uint8), format="rgb24")
                frame.pts = i
                for packet in stream.encode(frame):
                    box.mux(packet)
        else:
            stream = box.add_stream(codec, rate=48000)
            samples = np.zeros((1, 48000), np.int16)
            frame = av.AudioFrame.from_ndarray(samples, format="s16", layout="mono")
            frame.sample_rate = 48000
            frame.pts = 0
            for packet in stream.encode(frame):
                box.mux(packet)
        for packet in stream.encode(None):
            box.mux(packet)
    return out.getvalue()


@pytest.mark.parametrize(
    ("head", "declared", "expected"),
    [
        (PNG, "", "image/png"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", "", "image/jpeg"),
        (b"GIF89a\x01\x00", "", "image/gif"),
        (b"RIFF\x10\x00\x00\x00WEBPVP8 ", "", "image/webp"),
        (b"RIFF\x10\x00\x00\x00WAVEfmt ", "", "audio/wav"),
        (b"%PDF-1.7\n", "", "application/pdf"),
        (b"ID3\x04\x00", "", "audio/mpeg"),
        (b"\xff\xfb\x90\x64", "", "audio/mpeg"),  # an MP3 frame, no tag
        (b"\x00\x00\x00\x20ftypM4A \x00\x00\x00\x00", "", "audio/mp4"),
        (b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00", "", "video/mp4"),
        (b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00", "audio/mp4", "audio/mp4"),
        # what the bytes are not is never taken from the declared type
        (HTML, "text/html", None),
        (HTML, "image/png", None),
        (SVG, "image/svg+xml", None),
        (b"<?xml version='1.0'?><svg/>", "image/svg+xml", None),
        (b"PK\x03\x04", "application/zip", None),
        (b"\x00\x00\x00\x20ftypqt  ", "video/quicktime", None),
        (b"", "image/png", None),
        (b"\xff\xd9", "image/jpeg", None),
    ],
)
def test_the_bytes_decide(head: bytes, declared: str, expected: str | None) -> None:
    assert sniff(head, declared) == expected


def test_real_media_is_recognised() -> None:
    assert sniff(opus_in_ogg(0.2)[:64]) == "audio/ogg"
    webm = media("webm", "libopus")[:64]
    assert sniff(webm, "audio/webm;codecs=opus") == "audio/webm"
    assert sniff(media("webm", "libvpx", video=True)[:64]) == "video/webm"
    assert sniff(media("mp4", "aac")[:64]) == "video/mp4"  # a container that may hold video
    assert sniff(media("mp3", "libmp3lame")[:64]) == "audio/mpeg"
    assert sniff(media("wav", "pcm_s16le")[:64]) == "audio/wav"


@pytest.mark.parametrize(
    ("declared", "expected"),
    [
        ("", "application/octet-stream"),
        ("image/PNG", "image/png"),
        ("audio/webm;codecs=opus", "audio/webm;codecs=opus"),
        ('text/plain; charset="utf-8"', 'text/plain; charset="utf-8"'),
        (
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        ),
        ("text/plain\r\nSet-Cookie: a=b", None),
        ("text/html\n", None),
        ("text/plain\x00", None),
        ('image/png; x="a\r\nb"', None),
        ("png", None),
        ("image/ png", None),
        ("картинка/png", None),
        ("a/" + "b" * 200, None),
    ],
)
def test_declared_types_are_media_types_or_refused(declared: str, expected: str | None) -> None:
    assert check_declared_type(declared) == expected


@pytest.mark.parametrize(
    "name",
    ["Домашнее задание №5.pdf", 'a "quoted"; name.txt', "100% done.png", "naïve café.jpg", "x"],
)
def test_a_download_keeps_its_name(name: str) -> None:
    header = disposition("attachment", name)
    assert header.isascii() and "\r" not in header and "\n" not in header
    kind, params = parse_content_disposition(header)
    assert kind == "attachment"
    assert content_disposition_filename(params, "filename") == name  # filename*, UTF-8
    assert params["filename"].isascii()  # the fallback for clients without filename*


def test_uploaders_file_names_are_cleaned() -> None:
    assert clean_filename("C:\\Users\\pupil\\hw.html") == "hw.html"
    assert clean_filename("../../etc/passwd") == "passwd"
    assert clean_filename("evil\r\nname.txt") == "evilname.txt"
    assert clean_filename("") == "file"
    assert clean_filename("я" * 300) == "я" * 255
