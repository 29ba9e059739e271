"""Files: resumable tus uploads (one larger than 2^31 bytes, broken off and resumed, in
constant memory), downloads with Range, limits and quotas, attachments and voice
messages."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import io
import resource
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import av
import numpy as np
from aiohttp.test_utils import TestServer

from tests.chat.school import School, make_school
from tests.chat.test_http import class_chat
from tests.support.accounts import bearer
from tests.support.tus import TusClient
from web import keys
from web.app import create_app
from web.config import Config

MIB = 1024 * 1024


def block(i: int) -> bytes:
    """1 MiB number i of a large file: cheap to make, different for every i."""
    return hashlib.sha256(i.to_bytes(8, "big")).digest() * (MIB // 32)


def rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize()


async def started(tmp_path: Path, **config: int) -> tuple[TestServer, str]:
    server = TestServer(create_app(Config(data_dir=tmp_path / "data", **config)), host="127.0.0.1")
    await server.start_server()
    return server, str(server.make_url("/"))


async def test_a_file_over_2_gib_resumes_after_a_break_in_constant_memory(
    tmp_path: Path,
) -> None:
    server, base = await started(tmp_path)
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=900)) as http:
            school = await make_school(http, base, students=1)
            chat = await class_chat(school)
            tus = TusClient(http, base, school.teacher.token)
            blocks = 2048 + 3  # 2 GiB and 3 MiB: past 2^31
            length = blocks * MIB
            status, location, _ = await tus.create(length, chat, "lesson.mkv", "video/x-matroska")
            assert status == 201 and location is not None
            expected = hashlib.sha256()
            before = rss_bytes()
            peak = before

            async def body(start: int, stop: int, break_after: int | None) -> AsyncIterator[bytes]:
                nonlocal peak
                for i in range(start, stop):
                    if break_after is not None and i == break_after:
                        raise ConnectionResetError("the train went into a tunnel")
                    yield block(i)
                    if i % 64 == 0:
                        peak = max(peak, rss_bytes())

            # the connection breaks after 1,100 MiB
            with contextlib.suppress(aiohttp.ClientError, ConnectionResetError):
                await tus.patch(location, 0, body(0, blocks, 1100))
            await asyncio.sleep(0.5)
            offset = await tus.offset(location)
            assert 0 < offset <= 1100 * MIB
            # what the server says it has is what it wrote: the file on disk holds
            # exactly `offset` bytes, and they are the ones sent (any offset resumes,
            # a block boundary or not)
            partial = server.app[keys.UPLOADS].path(location.rsplit("/", 1)[1])
            assert partial.stat().st_size == offset
            with partial.open("rb") as f:
                f.seek(offset - 1)
                last = f.read(1)
            index, at = divmod(offset - 1, MIB)
            assert last == block(index)[at : at + 1]
            # resume from the server's offset (partway into a block, perhaps)
            first, skip = divmod(offset, MIB)

            async def rest() -> AsyncIterator[bytes]:
                yield block(first)[skip:]
                async for chunk in body(first + 1, blocks, None):
                    yield chunk

            response = await tus.patch(location, offset, rest())
            assert response.status == 204
            assert int(response.headers["Upload-Offset"]) == length
            for i in range(blocks):
                expected.update(block(i))
            file_id = location.rsplit("/", 1)[1]
            stored = await server.app[keys.FILES].get(file_id)
            assert stored is not None and stored.complete
            assert stored.sha256 == expected.hexdigest()
            path = server.app[keys.UPLOADS].path(file_id)
            assert path.stat().st_size == length
            # the test process holds client and server: together they stayed flat
            assert peak - before < 200 * MIB, f"memory grew by {(peak - before) / MIB:.0f} MiB"
            # a Range read from past 2^31
            start = 2**31 + 5
            async with http.get(
                f"{base}api/files/{file_id}",
                headers={**bearer(school.teacher.token), "Range": f"bytes={start}-{start + 99}"},
            ) as response:
                assert response.status == 206
                got = await response.read()
            i, at = divmod(start, MIB)
            assert got == (block(i) + block(i + 1))[at : at + 100]
            path.unlink()
    finally:
        await server.close()


async def test_range_downloads_limits_quota_and_termination(
    tmp_path: Path,
) -> None:
    server, base = await started(tmp_path, max_upload_bytes=300_000, org_quota_bytes=500_000)
    try:
        async with aiohttp.ClientSession() as http:
            school = await make_school(http, base, students=1)
            chat = await class_chat(school)
            tus = TusClient(http, base, school.teacher.token)
            async with http.options(f"{base}api/uploads") as response:
                assert response.status == 204
                assert response.headers["Tus-Version"] == "1.0.0"
                assert response.headers["Tus-Max-Size"] == "300000"
            content = bytes(range(256)) * 1000  # 256,000 bytes
            file_id = await tus.upload(chat, content, "worksheet.pdf", "application/pdf")
            url = f"{base}api/files/{file_id}"
            teacher = bearer(school.teacher.token)
            for header, status, expected in (
                ("bytes=100-199", 206, content[100:200]),
                ("bytes=-10", 206, content[-10:]),
                ("bytes=255990-", 206, content[255990:]),
            ):
                async with http.get(url, headers={**teacher, "Range": header}) as response:
                    assert response.status == status
                    assert await response.read() == expected
            async with http.get(url, headers={**teacher, "Range": "bytes=999999-"}) as response:
                assert response.status == 416
            async with http.get(url, headers=teacher) as response:
                assert response.status == 200 and await response.read() == content
                assert "worksheet.pdf" in response.headers["Content-Disposition"]
            # outsiders see no file
            for who in (school.outsider, school.stranger, school.parent):
                async with http.get(url, headers=bearer(who.token)) as response:
                    assert response.status == 404
            # too large for one file; then over the school's quota
            status, _, body = await tus.create(300_001, chat, "big.bin", "application/zip")
            assert status == 413 and body["error"] == "too_large"
            status, _, body = await tus.create(250_000, chat, "more.bin", "application/zip")
            assert status == 413 and body["error"] == "quota_exceeded"
            # protocol errors
            status, location, _ = await tus.create(1000, chat, "a.txt", "text/plain")
            assert location is not None
            response = await tus.patch(location, 10, b"x" * 10)
            assert response.status == 409
            response = await tus.patch(location, 0, b"x" * 1001)
            assert response.status == 413
            async with http.post(
                f"{base}api/uploads", headers={**teacher, "Upload-Length": "5"}
            ) as response:
                assert response.status == 412
            # termination
            async with http.delete(
                base + location.lstrip("/"), headers={**tus.headers}
            ) as response:
                assert response.status == 204
            async with http.head(base + location.lstrip("/"), headers=tus.headers) as response:
                assert response.status == 404
    finally:
        await server.close()


def opus_in_ogg(seconds: float = 1.0) -> bytes:
    """A real voice message: a tone, Opus in Ogg, as a browser's MediaRecorder makes."""
    out = io.BytesIO()
    with av.open(out, "w", format="ogg") as container:
        stream = container.add_stream("libopus", rate=48000)
        samples = int(48000 * seconds)
        tone = (np.sin(2 * np.pi * 440 * np.arange(samples) / 48000) * 8000).astype(np.int16)
        for start in range(0, samples, 960):
            frame = av.AudioFrame.from_ndarray(
                tone[start : start + 960].reshape(1, -1), format="s16", layout="mono"
            )
            frame.sample_rate = 48000
            frame.pts = start
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return out.getvalue()


async def test_files_and_voice_messages_in_a_chat(
    tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    server, base = await started(tmp_path)
    try:
        school: School = await make_school(http, base, students=1)
        chat = await class_chat(school)
        pupil = school.students[0]
        tus = TusClient(http, base, pupil.token)
        voice = opus_in_ogg(1.5)
        file_id = await tus.upload(chat, voice, "voice.ogg", "audio/ogg; codecs=opus")
        status, message = await school.call(
            pupil,
            "POST",
            f"api/chats/{chat}/messages",
            {"kind": "voice", "file_id": file_id, "duration": 1.5},
        )
        assert status == 201, message
        assert message["kind"] == "voice" and message["meta"]["duration"] == 1.5
        assert message["transcript_status"] == "pending" and message["transcript"] is None
        assert message["meta"]["file"]["sha256"] == hashlib.sha256(voice).hexdigest()
        # the teacher plays it back
        async with http.get(
            f"{base}api/files/{file_id}", headers=bearer(school.teacher.token)
        ) as response:
            assert response.status == 200 and await response.read() == voice
        with av.open(io.BytesIO(voice)) as container:
            assert container.streams.audio[0].codec_context.name == "opus"
        # a document with a caption; someone else's upload may not be attached
        doc = await tus.upload(chat, b"%PDF-1.4 homework", "homework.pdf", "application/pdf")
        status, message = await school.call(
            pupil, "POST", f"api/chats/{chat}/messages", {"file_id": doc, "text": "done!"}
        )
        assert status == 201 and message["kind"] == "file" and message["text"] == "done!"
        status, error = await school.call(
            school.teacher, "POST", f"api/chats/{chat}/messages", {"file_id": doc}
        )
        assert status == 400 and error["error"] == "bad_field"
        status, error = await school.call(
            pupil,
            "POST",
            f"api/chats/{chat}/messages",
            {"kind": "voice", "file_id": doc, "duration": 3},
        )
        assert status == 400 and "Opus" in error["message"]
        status, error = await school.call(
            pupil,
            "POST",
            f"api/chats/{chat}/messages",
            {"kind": "voice", "file_id": file_id, "duration": -1},
        )
        assert status == 400
    finally:
        await server.close()
