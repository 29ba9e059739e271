"""Resumable uploads (tus 1.0: core, creation, termination) and downloads with Range.

A file is uploaded into a chat (`Upload-Metadata: chat_id ...`) by one of its members;
it counts against the organisation's quota from its creation, at its full length.
Bytes go to disk as they arrive, in blocks of at most BLOCK bytes written off the event
loop, so a file of any size takes constant memory. The SHA-256 is computed as the bytes
arrive (and recomputed from the file on disk if the server restarted meanwhile).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import logging
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from aiohttp import web

from accounts.sessions import user_of
from signalling import keys
from signalling.errors import Refused
from store.files import StoredFile

from .service import NotFound

logger = logging.getLogger(__name__)

TUS_VERSION = "1.0.0"
EXTENSIONS = "creation,termination"
BLOCK = 4 * 1024 * 1024
TUS = {"Tus-Resumable": TUS_VERSION, "Cache-Control": "no-store"}


@dataclass
class _Hashing:
    """The running SHA-256 of an upload, valid up to `offset`."""

    digest: Any
    offset: int


class Uploads:
    """Where uploaded bytes live: `<data_dir>/files/<id>`."""

    def __init__(self, directory: Path, *, max_size: int, org_quota: int) -> None:
        self.directory = directory
        self.max_size = max_size
        self.org_quota = org_quota
        self._hashing: dict[str, _Hashing] = {}
        self._busy: set[str] = set()  # uploads a PATCH is writing to
        directory.mkdir(parents=True, exist_ok=True)

    def path(self, file_id: str) -> Path:
        return self.directory / file_id


def _headers(**extra: str) -> dict[str, str]:
    return {**TUS, **extra}


def _refuse(status: int, code: str, message: str) -> Refused:
    return Refused(status, code, message)


def _metadata(header: str) -> dict[str, str]:
    """`Upload-Metadata: key base64value,key2 base64value2`."""
    found = {}
    for item in filter(None, (part.strip() for part in header.split(","))):
        key, _, value = item.partition(" ")
        try:
            found[key] = base64.b64decode(value, validate=True).decode() if value else ""
        except (binascii.Error, UnicodeDecodeError):
            raise _refuse(400, "bad_metadata", f"Upload-Metadata {key!r} is not base64") from None
    return found


def _check_version(request: web.Request) -> None:
    if request.headers.get("Tus-Resumable") != TUS_VERSION:
        raise Refused(412, "tus_version", f"send Tus-Resumable: {TUS_VERSION}")


async def options(request: web.Request) -> web.Response:
    uploads = request.app[keys.UPLOADS]
    return web.Response(
        status=204,
        headers=_headers(
            **{
                "Tus-Version": TUS_VERSION,
                "Tus-Extension": EXTENSIONS,
                "Tus-Max-Size": str(uploads.max_size),
            }
        ),
    )


async def create(request: web.Request) -> web.Response:
    """POST: a new upload of `Upload-Length` bytes into the chat named in the metadata."""
    _check_version(request)
    uploads = request.app[keys.UPLOADS]
    try:
        length = int(request.headers["Upload-Length"])
    except (KeyError, ValueError):
        raise _refuse(400, "bad_length", "send Upload-Length: the size in bytes") from None
    if length < 0:
        raise _refuse(400, "bad_length", "Upload-Length is a size in bytes")
    if length > uploads.max_size:
        raise _refuse(
            413, "too_large", f"files may be at most {uploads.max_size} bytes on this server"
        )
    meta = _metadata(request.headers.get("Upload-Metadata", ""))
    service = request.app[keys.CHAT_SERVICE]
    try:
        seat = await service.seat(user_of(request), meta.get("chat_id", ""))
    except NotFound:
        raise _refuse(404, "not_found", "no such chat") from None
    if not seat.can_post:
        raise _refuse(403, "forbidden", "only the channel's admins post in it")
    files = request.app[keys.FILES]
    used = await files.used(seat.chat.org_id)
    if used + length > uploads.org_quota:
        raise _refuse(
            413,
            "quota_exceeded",
            f"the school's files would take {used + length} bytes, above its quota of "
            f"{uploads.org_quota}",
        )
    filename = os.path.basename(meta.get("filename", "").replace("\\", "/"))[:255] or "file"
    content_type = meta.get("filetype") or "application/octet-stream"
    stored = await files.create(
        org_id=seat.chat.org_id,
        chat_id=seat.chat.id,
        uploader_id=seat.profile.id,
        filename=filename,
        content_type=content_type[:128],
        length=length,
        now=datetime.now(UTC),
    )
    await asyncio.to_thread(uploads.path(stored.id).touch)
    uploads._hashing[stored.id] = _Hashing(hashlib.sha256(), 0)
    if length == 0:
        await files.complete(stored.id, hashlib.sha256().hexdigest(), datetime.now(UTC))
    return web.Response(
        status=201, headers=_headers(Location=f"/api/uploads/{stored.id}", **{"Upload-Offset": "0"})
    )


async def _own_upload(request: web.Request) -> StoredFile:
    """The upload, if the caller made it; 404 otherwise."""
    stored = await request.app[keys.FILES].get(request.match_info["upload"])
    if stored is None:
        raise _refuse(404, "not_found", "no such upload")
    me = await request.app[keys.CHAT_SERVICE].profile_in(user_of(request), stored.org_id)
    if me is None or me.id != stored.uploader_id:
        raise _refuse(404, "not_found", "no such upload")
    return stored


async def head(request: web.Request) -> web.Response:
    """HEAD: how much has arrived, to resume from there."""
    _check_version(request)
    stored = await _own_upload(request)
    return web.Response(
        status=200,
        headers=_headers(
            **{"Upload-Offset": str(stored.offset), "Upload-Length": str(stored.length)}
        ),
    )


async def patch(request: web.Request) -> web.Response:
    """PATCH: bytes from `Upload-Offset` on. What arrives before a broken connection is
    kept, and the client resumes after a HEAD."""
    _check_version(request)
    stored = await _own_upload(request)
    if request.content_type != "application/offset+octet-stream":
        raise _refuse(415, "bad_content_type", "send Content-Type: application/offset+octet-stream")
    uploads = request.app[keys.UPLOADS]
    files = request.app[keys.FILES]
    try:
        offset = int(request.headers["Upload-Offset"])
    except (KeyError, ValueError):
        raise _refuse(400, "bad_offset", "send Upload-Offset") from None
    if stored.id in uploads._busy:
        raise _refuse(423, "locked", "another request is writing this upload")
    if offset != stored.offset or stored.complete:
        raise Refused(409, "offset_mismatch", f"the upload is at offset {stored.offset}")
    uploads._busy.add(stored.id)
    try:
        offset = await _receive(request, uploads, stored.id, offset, stored.length)
    finally:
        uploads._busy.discard(stored.id)
    if offset == stored.length:
        digest = await _finish_digest(uploads, stored.id, offset)
        await files.complete(stored.id, digest, datetime.now(UTC))
        request.app[keys.METRICS].uploads.labels("complete").inc()
    return web.Response(status=204, headers=_headers(**{"Upload-Offset": str(offset)}))


async def _receive(
    request: web.Request, uploads: Uploads, file_id: str, offset: int, length: int
) -> int:
    """Write the body to the file from `offset`; returns the new offset. What arrived
    before a client went away is written and its offset saved, so the client resumes."""
    files = request.app[keys.FILES]
    hashing = uploads._hashing.get(file_id)
    if hashing is not None and hashing.offset != offset:
        hashing = None  # after a restart: recomputed from disk at the end
    handle: BinaryIO = await asyncio.to_thread(open, uploads.path(file_id), "r+b")
    written = offset
    pending = bytearray()

    def write(block: bytes, at: int) -> None:
        handle.seek(at)
        handle.write(block)
        if hashing is not None:
            hashing.digest.update(block)

    async def settle() -> None:
        nonlocal written
        if pending:
            await asyncio.to_thread(write, bytes(pending), written)
            written += len(pending)
            pending.clear()
        await asyncio.to_thread(handle.close)
        if hashing is not None:
            hashing.offset = written
            uploads._hashing[file_id] = hashing
        else:
            uploads._hashing.pop(file_id, None)
        await files.set_offset(file_id, written)

    try:
        async for chunk in request.content.iter_chunked(256 * 1024):
            if written + len(pending) + len(chunk) > length:
                raise _refuse(413, "too_large", "more bytes than Upload-Length")
            pending += chunk
            if len(pending) >= BLOCK:
                await asyncio.to_thread(write, bytes(pending), written)
                written += len(pending)
                pending.clear()
    except Refused:
        await asyncio.shield(settle())
        raise
    except asyncio.CancelledError:
        await asyncio.shield(settle())
        raise
    except Exception as exc:  # the connection broke: keep what came
        logger.info("upload %s interrupted at %d: %r", file_id, written + len(pending), exc)
        request.app[keys.METRICS].uploads.labels("interrupted").inc()
        await asyncio.shield(settle())
        return written
    await settle()
    return written


async def _finish_digest(uploads: Uploads, file_id: str, offset: int) -> str:
    hashing = uploads._hashing.pop(file_id, None)
    if hashing is not None and hashing.offset == offset:
        return str(hashing.digest.hexdigest())

    def from_disk() -> str:
        digest = hashlib.sha256()
        with open(uploads.path(file_id), "rb") as handle:
            while block := handle.read(BLOCK):
                digest.update(block)
        return digest.hexdigest()

    return await asyncio.to_thread(from_disk)


async def terminate(request: web.Request) -> web.Response:
    """DELETE: the upload and its bytes are gone (tus termination)."""
    _check_version(request)
    stored = await _own_upload(request)
    uploads = request.app[keys.UPLOADS]
    if stored.id in uploads._busy:
        raise _refuse(423, "locked", "another request is writing this upload")
    await request.app[keys.FILES].delete(stored.id)
    uploads._hashing.pop(stored.id, None)
    await asyncio.to_thread(uploads.path(stored.id).unlink, True)
    return web.Response(status=204, headers=_headers())


async def download(request: web.Request) -> web.StreamResponse:
    """GET a complete file, for the members of its chat; `Range` requests are served
    as 206 partial content."""
    stored = await request.app[keys.FILES].get(request.match_info["file"])
    if stored is None or not stored.complete:
        raise _refuse(404, "not_found", "no such file")
    try:
        await request.app[keys.CHAT_SERVICE].seat(user_of(request), stored.chat_id)
    except NotFound:
        raise _refuse(404, "not_found", "no such file") from None
    path = request.app[keys.UPLOADS].path(stored.id)
    disposition = "inline" if request.query.get("inline") == "1" else "attachment"
    return web.FileResponse(
        path,
        headers={
            "Content-Type": stored.content_type,
            "Content-Disposition": f"{disposition}; filename*=UTF-8''{_quote(stored.filename)}",
            "Cache-Control": "private, max-age=3600",
            "ETag": f'"{stored.sha256}"',
            "X-Content-Type-Options": "nosniff",
        },
    )


def _quote(name: str) -> str:
    from urllib.parse import quote

    return quote(name, safe="")
