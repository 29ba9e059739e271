"""User files never run (web/http/uploads.py's downloads, chat/content.py): a pupil's HTML,
SVG, or HTML named .png comes down as an attachment of no type a browser renders, and
every answer on every file route (downloads, Range, HEAD, 304, errors, the tus routes)
carries nosniff and a sandboxing CSP. A declared type with CR/LF is refused, and one
already stored never reaches a header."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
from aiohttp.multipart import content_disposition_filename, parse_content_disposition
from sqlalchemy import update

from store.tables import files as files_table
from tests.chat.school import School, make_school
from tests.chat.test_http import class_chat
from tests.chat.test_uploads import opus_in_ogg, started
from tests.support.accounts import bearer
from tests.support.tus import TusClient
from web import keys

CSP = "sandbox; default-src 'none'"
SCRIPT = b"<script>fetch('/api/me').then(r => r.text()).then(t => document.title = t)</script>"
HTML = b"<!doctype html><title>homework</title>" + SCRIPT
SVG = b'<svg xmlns="http://www.w3.org/2000/svg">' + SCRIPT + b"</svg>"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(64))
PDF = b"%PDF-1.4\n% a worksheet\n"
RUSSIAN_NAME = "Домашнее задание №5 (алгебра).pdf"


def user_content(response: aiohttp.ClientResponse) -> bool:
    """The headers every answer on a file route carries."""
    h = response.headers
    return (
        h.get("X-Content-Type-Options") == "nosniff"
        and h.get("Content-Security-Policy") == CSP
        and h.get("Cross-Origin-Resource-Policy") == "same-origin"
    )


def shown(response: aiohttp.ClientResponse) -> tuple[str, str, str | None]:
    """(disposition, content type, file name) of a download."""
    kind, params = parse_content_disposition(response.headers.get("Content-Disposition"))
    name = content_disposition_filename(params, "filename")
    return kind or "", response.headers.get("Content-Type", ""), name


async def get(
    http: aiohttp.ClientSession, method: str, url: str, **headers: str
) -> tuple[aiohttp.ClientResponse, bytes]:
    async with http.request(method, url, headers=headers) as response:
        return response, await response.read()


async def test_hostile_files_are_attachments_and_every_file_answer_is_sandboxed(
    tmp_path: Path,
) -> None:
    server, base = await started(tmp_path)
    try:
        async with aiohttp.ClientSession() as http:
            school: School = await make_school(http, base, students=1)
            chat = await class_chat(school)
            pupil = school.students[0]
            tus = TusClient(http, base, pupil.token)
            teacher = bearer(school.teacher.token)
            uploaded = {
                "page": await tus.upload(chat, HTML, "homework.html", "text/html"),
                "svg": await tus.upload(chat, SVG, "drawing.svg", "image/svg+xml"),
                "fake_png": await tus.upload(chat, HTML, "photo.png", "image/png"),
                "png": await tus.upload(chat, PNG, "photo.png", "image/png"),
                "pdf": await tus.upload(chat, PDF, RUSSIAN_NAME, "application/pdf"),
                "voice": await tus.upload(chat, opus_in_ogg(0.3), "v.ogg", "audio/ogg"),
            }
            inline = {"png": "image/png", "pdf": "application/pdf", "voice": "audio/ogg"}
            for name, file_id in uploaded.items():
                url = f"{base}api/files/{file_id}"
                for query in ("", "?inline=1"):
                    expected_kind = "inline" if query and name in inline else "attachment"
                    expected_type = inline.get(name, "application/octet-stream")
                    for method in ("GET", "HEAD"):
                        response, body = await get(http, method, url + query, **teacher)
                        assert response.status == 200, (name, method, query)
                        assert user_content(response), (name, method, query)
                        kind, content_type, _ = shown(response)
                        assert (kind, content_type) == (expected_kind, expected_type), name
                    response, body = await get(
                        http, "GET", url + query, Range="bytes=0-4", **teacher
                    )
                    assert response.status == 206 and len(body) == 5 and user_content(response)
                    assert shown(response)[:2] == (expected_kind, expected_type)
                    response, _ = await get(
                        http, "GET", url + query, Range="bytes=9999-", **teacher
                    )
                    assert response.status == 416 and user_content(response)
                    response, _ = await get(http, "GET", url + query, **teacher)
                    etag = response.headers["ETag"]
                    response, _ = await get(
                        http, "GET", url + query, **{"If-None-Match": etag}, **teacher
                    )
                    assert response.status == 304 and user_content(response)
            # a Russian name comes down whole
            response, _ = await get(http, "GET", f"{base}api/files/{uploaded['pdf']}", **teacher)
            assert shown(response)[2] == RUSSIAN_NAME
            assert response.headers["Content-Disposition"].isascii()

            # errors on the file routes: not a member, no session, no such file
            url = f"{base}api/files/{uploaded['page']}?inline=1"
            for headers, status in (
                (bearer(school.outsider.token), 404),
                (bearer(school.stranger.token), 404),
                ({}, 401),
            ):
                response, _ = await get(http, "GET", url, **headers)
                assert response.status == status and user_content(response), status
            response, _ = await get(http, "GET", f"{base}api/files/nothing", **teacher)
            assert response.status == 404 and user_content(response)

            # the tus routes too
            answers = []
            async with http.options(f"{base}api/uploads") as response:
                answers.append(response)
            status, location, _ = await tus.create(3, chat, "a.txt", "text/plain")
            assert status == 201 and location is not None
            async with http.post(f"{base}api/uploads", headers=tus.headers) as response:
                answers.append(response)  # 400: no length
            async with http.head(base + location.lstrip("/"), headers=tus.headers) as response:
                answers.append(response)
            answers.append(await tus.patch(location, 0, b"abc"))
            async with http.delete(base + location.lstrip("/"), headers=tus.headers) as response:
                answers.append(response)
            assert [r.status for r in answers] == [204, 400, 200, 204, 204]
            assert all(user_content(r) for r in answers)

            # the chat says what the server serves, so the client previews only real images
            async def attached(file_id: str) -> dict[str, Any]:
                status, message = await school.call(
                    pupil, "POST", f"api/chats/{chat}/messages", {"file_id": file_id}
                )
                assert status == 201, message
                return dict(message["meta"]["file"])

            assert (await attached(uploaded["fake_png"]))["content_type"] == (
                "application/octet-stream"
            )
            assert (await attached(uploaded["svg"]))["content_type"] == "application/octet-stream"
            assert (await attached(uploaded["png"]))["content_type"] == "image/png"
            # a voice message must be Opus by its bytes, whatever it says it is
            fake_voice = await tus.upload(chat, HTML, "v.ogg", "audio/ogg")
            status, error = await school.call(
                pupil,
                "POST",
                f"api/chats/{chat}/messages",
                {"kind": "voice", "file_id": fake_voice, "duration": 2},
            )
            assert status == 400 and "Opus" in error["message"]
            status, _ = await school.call(
                pupil,
                "POST",
                f"api/chats/{chat}/messages",
                {"kind": "voice", "file_id": uploaded["voice"], "duration": 0.3},
            )
            assert status == 201
    finally:
        await server.close()


async def test_a_declared_type_with_cr_lf_is_refused_and_a_stored_one_is_harmless(
    tmp_path: Path,
) -> None:
    server, base = await started(tmp_path)
    try:
        async with aiohttp.ClientSession() as http:
            school = await make_school(http, base, students=1)
            chat = await class_chat(school)
            tus = TusClient(http, base, school.students[0].token)
            for bad in ("text/plain\r\nX-Injected: yes", "text/html\n", "text/plain\x00", "html"):
                status, location, body = await tus.create(5, chat, "a.txt", bad)
                assert status == 400 and body["error"] == "bad_metadata", bad
                assert "media type" in body["message"] and location is None
            # a row stored before types were checked, never looked at by the server
            file_id = await tus.upload(chat, HTML, "old\r\nname.html", "text/html")
            app = server.app
            async with app[keys.ENGINE].begin() as connection:
                await connection.execute(
                    update(files_table)
                    .where(files_table.c.id == file_id)
                    .values(
                        content_type="text/html\r\nX-Injected: yes",
                        filename="old\r\nname.html",
                        inline_type=None,
                    )
                )
            url = f"{base}api/files/{file_id}?inline=1"
            response, body = await get(http, "GET", url, **bearer(school.teacher.token))
            assert response.status == 200 and body == HTML
            assert "X-Injected" not in response.headers and user_content(response)
            assert shown(response) == ("attachment", "application/octet-stream", "old\r\nname.html")
            stored = await app[keys.FILES].get(file_id)
            assert stored is not None and stored.inline_type == ""  # looked at, once
    finally:
        await server.close()
