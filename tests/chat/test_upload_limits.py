"""Quotas count bytes received (web/http/uploads.py): announcing a huge upload takes none of
the school's quota; one user may have only so many unfinished uploads, announcing only
so much together; a PATCH that would pass the quota stops there and resumes once there
is room; an upload that gets no bytes for a day expires (tus `Upload-Expires`), its
bytes deleted."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path

import aiohttp
from aiohttp.test_utils import TestServer

from tests.chat.school import make_school
from tests.chat.test_http import class_chat
from tests.chat.test_uploads import started
from tests.support.server import Restartable
from tests.support.tus import TusClient, metadata
from web import keys

FULL = 17179869184  # 16 GiB, the largest file by default


def refusals(server: TestServer, event: str) -> float:
    value = server.app[keys.METRICS].registry.get_sample_value(
        "parta_uploads_total", {"event": event}
    )
    return value or 0.0


async def test_huge_empty_uploads_leave_the_school_its_quota(tmp_path: Path) -> None:
    """The probe: 32 creations of 16 GiB with no bytes, then a teacher's 1-byte file."""
    # 16 GiB files (the default), and a quota the 32 would fill if announcing counted
    server, base = await started(tmp_path, org_quota_bytes=32 * FULL)
    try:
        async with aiohttp.ClientSession() as http:
            school = await make_school(http, base, students=1)
            chat = await class_chat(school)
            pupil = TusClient(http, base, school.students[0].token)
            statuses = [(await pupil.create(FULL, chat, "x.bin", ""))[0] for _ in range(32)]
            teacher = TusClient(http, base, school.teacher.token)
            status, location, body = await teacher.create(1, chat, "note.txt", "text/plain")
            assert status == 201 and location is not None, body
            assert (await teacher.patch(location, 0, b"!")).status == 204
            assert await server.app[keys.FILES].used(school.org) == 1
            # and the pupil got no more than twice the largest file under way
            assert statuses.count(201) == 2 and set(statuses) == {201, 413}
            assert refusals(server, "refused_open_bytes") == statuses.count(413)
    finally:
        await server.close()


async def test_a_user_has_a_few_unfinished_uploads_announcing_a_bounded_total(
    tmp_path: Path,
) -> None:
    server, base = await started(tmp_path, max_upload_bytes=1000)
    try:
        async with aiohttp.ClientSession() as http:
            school = await make_school(http, base, students=2)
            chat = await class_chat(school)
            pupil = TusClient(http, base, school.students[0].token)
            open_ = []
            for _ in range(8):
                status, location, _ = await pupil.create(10, chat, "a.txt", "text/plain")
                assert status == 201 and location is not None
                open_.append(location)
            status, location, body = await pupil.create(10, chat, "a.txt", "text/plain")
            assert status == 429 and body["error"] == "too_many_uploads" and location is None
            assert "8 unfinished uploads" in body["message"]
            assert refusals(server, "refused_open_count") == 1
            # an empty file is finished at once: it takes no place
            status, _, _ = await pupil.create(0, chat, "empty.txt", "text/plain")
            assert status == 201
            # someone else is not held up
            other = TusClient(http, base, school.students[1].token)
            await other.upload(chat, b"x" * 10, "b.txt", "text/plain")
            # finishing one, or cancelling one, makes room
            assert (await pupil.patch(open_[0], 0, b"y" * 10)).status == 204
            status, location, _ = await pupil.create(10, chat, "a.txt", "text/plain")
            assert status == 201 and location is not None
            async with http.delete(base + open_[1].lstrip("/"), headers=pupil.headers) as response:
                assert response.status == 204
            status, _, _ = await pupil.create(10, chat, "a.txt", "text/plain")
            assert status == 201

            # what unfinished uploads announce together: at most twice the largest file
            teacher = TusClient(http, base, school.teacher.token)
            for _ in range(2):
                status, _, _ = await teacher.create(1000, chat, "big.bin", "")
                assert status == 201
            status, _, body = await teacher.create(1, chat, "one.bin", "")
            assert status == 413 and body["error"] == "uploads_too_large"
            assert "2000" in body["message"]
            assert refusals(server, "refused_open_bytes") == 1
    finally:
        await server.close()


async def test_the_quota_counts_bytes_received_and_stops_a_patch_at_it(tmp_path: Path) -> None:
    server, base = await started(tmp_path, max_upload_bytes=8000, org_quota_bytes=10_000)
    try:
        async with aiohttp.ClientSession() as http:
            school = await make_school(http, base, students=1)
            chat = await class_chat(school)
            files = server.app[keys.FILES]
            pupil = TusClient(http, base, school.students[0].token)
            status, big, _ = await pupil.create(8000, chat, "big.bin", "")
            assert status == 201 and big is not None
            assert (await pupil.patch(big, 0, b"p" * 3000)).status == 204
            assert await files.used(school.org) == 3000  # received, not the 8000 announced
            teacher = TusClient(http, base, school.teacher.token)
            done = await teacher.upload(chat, b"t" * 6000, "lesson.bin", "")
            assert await files.used(school.org) == 9000
            # the rest of the pupil's file would pass the quota: refused there, kept resumable
            response = await pupil.patch(big, 3000, b"p" * 5000)
            assert response.status == 413
            async with http.patch(
                base + big.lstrip("/"),
                data=b"p" * 5000,
                headers={
                    **pupil.headers,
                    "Upload-Offset": "3000",
                    "Content-Type": "application/offset+octet-stream",
                },
            ) as answer:
                body = await answer.json()
            assert body["error"] == "quota_exceeded" and "resumes" in body["message"]
            assert await pupil.offset(big) == 3000
            assert await files.used(school.org) == 9000
            assert refusals(server, "refused_quota") == 2
            # a new file that cannot fit is refused before any byte is sent
            status, _, body = await pupil.create(1001, chat, "c.bin", "")
            assert status == 413 and body["error"] == "quota_exceeded"
            # room again: the upload goes on from where it stopped
            async with http.delete(
                f"{base}api/uploads/{done}", headers=teacher.headers
            ) as response:
                assert response.status == 204
            assert (await pupil.patch(big, 3000, b"p" * 5000)).status == 204
            stored = await files.get(big.rsplit("/", 1)[1])
            assert stored is not None and stored.complete
            assert await files.used(school.org) == 8000
    finally:
        await server.close()


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


async def test_abandoned_uploads_expire(tmp_path: Path) -> None:
    server, base = await started(tmp_path)
    try:
        uploads, files = server.app[keys.UPLOADS], server.app[keys.FILES]
        clock = Clock(datetime(2031, 3, 1, 9, tzinfo=UTC))
        uploads.clock = clock
        async with aiohttp.ClientSession() as http:
            school = await make_school(http, base, students=1)
            chat = await class_chat(school)
            tus = TusClient(http, base, school.students[0].token)
            async with http.options(f"{base}api/uploads") as response:
                assert "expiration" in response.headers["Tus-Extension"].split(",")
            async with http.post(
                f"{base}api/uploads",
                headers={
                    **tus.headers,
                    "Upload-Length": "100",
                    "Upload-Metadata": metadata(chat_id=chat, filename="a.bin"),
                },
            ) as response:
                assert response.status == 201
                location = response.headers["Location"]
                expires = parsedate_to_datetime(response.headers["Upload-Expires"])
            assert expires == clock.now + timedelta(hours=24)
            await tus.create(100, chat, "left.bin", "")
            _, kept, _ = await tus.create(100, chat, "kept.bin", "")
            assert kept is not None
            done = await tus.upload(chat, b"d" * 10, "done.bin", "")

            # bytes an hour later push the expiry on
            clock.now += timedelta(hours=1)
            response = await tus.patch(location, 0, b"x" * 40)
            assert response.status == 204
            assert parsedate_to_datetime(response.headers["Upload-Expires"]) == (
                clock.now + timedelta(hours=24)
            )
            async with http.head(base + location.lstrip("/"), headers=tus.headers) as response:
                assert parsedate_to_datetime(response.headers["Upload-Expires"]) == (
                    clock.now + timedelta(hours=24)
                )
            assert await files.used(school.org) == 50

            # a day after its creation "kept" expires; the one with bytes lives on
            clock.now += timedelta(hours=23, seconds=1)
            gone = await uploads.sweep(files)
            assert len(gone) == 2 and location.rsplit("/", 1)[1] not in gone
            assert kept.rsplit("/", 1)[1] in gone
            for expired in gone:
                assert not uploads.path(expired).exists()
                assert await files.get(expired) is None
            async with http.head(base + kept.lstrip("/"), headers=tus.headers) as response:
                assert response.status == 404
            assert await tus.offset(location) == 40
            clock.now += timedelta(hours=1)
            assert await uploads.sweep(files) == [location.rsplit("/", 1)[1]]
            assert await uploads.sweep(files) == []
            assert await files.get(done) is not None  # a finished file never expires
            assert uploads.path(done).exists()
            assert await files.used(school.org) == 10
    finally:
        await server.close()


async def test_the_server_sweeps_when_it_starts(tmp_path: Path) -> None:
    """The sweep runs in the app's cleanup_ctx: an upload abandoned while the server was
    down is gone once it is back."""
    node = Restartable(tmp_path / "data")
    server, base = await node.start()
    try:
        async with aiohttp.ClientSession() as http:
            school = await make_school(http, base, students=1)
            chat = await class_chat(school)
            tus = TusClient(http, base, school.students[0].token)
            _, location, _ = await tus.create(100, chat, "left.bin", "")
            assert location is not None
            assert (await tus.patch(location, 0, b"x" * 10)).status == 204
            file_id = location.rsplit("/", 1)[1]
            # as if the last bytes came two days ago
            await server.app[keys.FILES].set_offset(
                file_id, 10, datetime.now(UTC) - timedelta(days=2)
            )
            path = server.app[keys.UPLOADS].path(file_id)
            await server.close()
            server, base = await node.start()
            for _ in range(100):
                if await server.app[keys.FILES].get(file_id) is None:
                    break
                await asyncio.sleep(0.05)
            assert await server.app[keys.FILES].get(file_id) is None and not path.exists()
    finally:
        await server.close()
