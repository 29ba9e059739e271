"""Resumable uploads (tus 1.0: core, creation, termination, expiration) and downloads
with Range.

The design: web/DESIGN.md, *uploads.py*."""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import hashlib
import logging
from collections.abc import AsyncIterator
from datetime import UTC
from email.utils import format_datetime
from typing import BinaryIO

from aiohttp import web

from chat.content import (
    OCTET_STREAM,
    USER_CONTENT_HEADERS,
    check_declared_type,
    clean_filename,
    disposition,
)
from chat.service import NotFound
from chat.uploads import BLOCK, Hashing, Uploads, finish_digest, sniff_file
from store.files import FileStore, StoredFile
from web import keys
from web.auth import user_of
from web.errors import Refused
from web.validation import media

routes = web.RouteTableDef()

logger = logging.getLogger(__name__)

TUS_VERSION = "1.0.0"
EXTENSIONS = "creation,termination,expiration"
TUS = {"Tus-Resumable": TUS_VERSION, "Cache-Control": "no-store"}

SWEEP_EVERY = 15 * 60.0  # seconds between looks for abandoned uploads

# The routes whose answers carry (or are about) a user's file: every answer on them,
# errors, HEAD, 206 and 304 included, gets USER_CONTENT_HEADERS.
FILE_ROUTES = frozenset(
    {
        "/api/uploads",
        "/api/uploads/{upload}",
        "/api/files/{file}",
        "/api/recordings/{recording}",
        "/api/recordings/{recording}/captions.vtt",
    }
)


class _QuotaFull(Exception):
    """The next block would take the school past its quota."""








async def sweeping(app: web.Application) -> AsyncIterator[None]:
    """cleanup_ctx: abandoned uploads expire every SWEEP_EVERY seconds (and at start)."""

    async def loop() -> None:
        uploads, files, metrics = app[keys.UPLOADS], app[keys.FILES], app[keys.METRICS]
        while True:
            try:
                gone = await uploads.sweep(files)
            except Exception:  # the store failed us: say so, and look again later
                logger.exception("sweeping abandoned uploads failed")
                metrics.uploads.labels("sweep_failed").inc()
            else:
                if gone:
                    logger.info("%d abandoned uploads expired", len(gone))
                    metrics.uploads.labels("expired").inc(len(gone))
            await asyncio.sleep(SWEEP_EVERY)

    task = asyncio.create_task(loop(), name="upload-sweeper")
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def user_content_headers(request: web.Request, response: web.StreamResponse) -> None:
    """on_response_prepare: USER_CONTENT_HEADERS on every answer of FILE_ROUTES."""
    resource = request.match_info.route.resource
    if resource is not None and resource.canonical in FILE_ROUTES:
        response.headers.update(USER_CONTENT_HEADERS)


def _headers(**extra: str) -> dict[str, str]:
    return {**TUS, **extra}


def _expiry(uploads: Uploads, stored: StoredFile) -> dict[str, str]:
    if stored.complete:
        return {}
    expires = uploads.expires(stored).astimezone(UTC)
    return {"Upload-Expires": format_datetime(expires, usegmt=True)}



def _refused(request: web.Request, event: str, status: int, code: str, message: str) -> Refused:
    """A refusal the uploads counter shows by its reason, beside the HTTP error count."""
    request.app[keys.METRICS].uploads.labels(event).inc()
    return Refused(status, code, message)


def _metadata(header: str) -> dict[str, str]:
    """`Upload-Metadata: key base64value,key2 base64value2`."""
    found = {}
    for item in filter(None, (part.strip() for part in header.split(","))):
        key, _, value = item.partition(" ")
        try:
            found[key] = base64.b64decode(value, validate=True).decode() if value else ""
        except (binascii.Error, UnicodeDecodeError):
            raise Refused(400, "bad_metadata", f"Upload-Metadata {key!r} is not base64") from None
    return found


def _check_version(request: web.Request) -> None:
    if request.headers.get("Tus-Resumable") != TUS_VERSION:
        raise Refused(412, "tus_version", f"send Tus-Resumable: {TUS_VERSION}")


def _size(header: str | None, code: str, message: str) -> int:
    """A header holding a number of bytes (digits only, at most 20 of them)."""
    if header is None or not (header.isascii() and header.isdigit()) or len(header) > 20:
        raise Refused(400, code, message)
    return int(header)


@routes.route("OPTIONS", "/api/uploads")
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


@routes.post("/api/uploads")
async def create(request: web.Request) -> web.Response:
    """POST: a new upload of `Upload-Length` bytes into the chat named in the metadata."""
    _check_version(request)
    uploads = request.app[keys.UPLOADS]
    length = _size(
        request.headers.get("Upload-Length"), "bad_length", "send Upload-Length: the size in bytes"
    )
    if length > uploads.max_size:
        raise Refused(
            413, "too_large", f"files may be at most {uploads.max_size} bytes on this server"
        )
    meta = _metadata(request.headers.get("Upload-Metadata", ""))
    content_type = check_declared_type(meta.get("filetype", ""))
    if content_type is None:
        raise Refused(
            400, "bad_metadata", "Upload-Metadata 'filetype' must be a media type such as image/png"
        )
    service = request.app[keys.CHAT_SERVICE]
    user = user_of(request)
    try:
        seat = await service.seat(user, meta.get("chat_id", ""))
    except NotFound:
        raise Refused(404, "not_found", "no such chat") from None
    if not seat.can_post:
        raise Refused(403, "forbidden", "only the channel's admins post in it")
    files = request.app[keys.FILES]
    async with uploads.creating:
        await _check_room(request, uploads, files, user.id, seat.chat.org_id, length)
        stored = await files.create(
            org_id=seat.chat.org_id,
            chat_id=seat.chat.id,
            uploader_id=seat.profile.id,
            filename=clean_filename(meta.get("filename", "")),
            content_type=content_type,
            length=length,
            now=uploads.clock(),
        )
    await asyncio.to_thread(uploads.path(stored.id).touch)
    uploads.hashing[stored.id] = Hashing(hashlib.sha256(), 0)
    extra = _expiry(uploads, stored)
    if length == 0:
        await files.complete(
            stored.id, hashlib.sha256().hexdigest(), uploads.clock(), inline_type=None
        )
        extra = {}
    return web.Response(
        status=201,
        headers=_headers(Location=f"/api/uploads/{stored.id}", **{"Upload-Offset": "0"}, **extra),
    )


async def _check_room(
    request: web.Request,
    uploads: Uploads,
    files: FileStore,
    user_id: str,
    org_id: str,
    length: int,
) -> None:
    """Refused: a user with too many unfinished uploads, or announcing too much in all,
    or a file that would not fit in what the school has left."""
    hours = int(uploads.expire_after.total_seconds() // 3600)
    if length > 0:
        mine = await files.open_uploads(user_id)
        if mine.count >= uploads.max_open:
            raise _refused(
                request,
                "refused_open_count",
                429,
                "too_many_uploads",
                f"you have {mine.count} unfinished uploads, the most one may have: finish or "
                f"cancel one first (an upload that gets no bytes for {hours} hours is dropped)",
            )
        if mine.declared + length > uploads.max_open_bytes:
            raise _refused(
                request,
                "refused_open_bytes",
                413,
                "uploads_too_large",
                f"your unfinished uploads would come to {mine.declared + length} bytes, above "
                f"the {uploads.max_open_bytes} one may have under way: finish or cancel one first",
            )
    used = await files.used(org_id)
    if used + length > uploads.org_quota:
        raise _refused(
            request,
            "refused_quota",
            413,
            "quota_exceeded",
            f"the school's files would take {used + length} bytes, above its quota of "
            f"{uploads.org_quota}",
        )


async def _own_upload(request: web.Request) -> StoredFile:
    """The upload, if the caller made it; 404 otherwise."""
    stored = await request.app[keys.FILES].get(request.match_info["upload"])
    if stored is None:
        raise Refused(404, "not_found", "no such upload")
    me = await request.app[keys.CHAT_SERVICE].profile_in(user_of(request), stored.org_id)
    if me is None or me.id != stored.uploader_id:
        raise Refused(404, "not_found", "no such upload")
    return stored


@routes.head("/api/uploads/{upload}")
async def head(request: web.Request) -> web.Response:
    """HEAD: how much has arrived, to resume from there."""
    _check_version(request)
    stored = await _own_upload(request)
    uploads = request.app[keys.UPLOADS]
    return web.Response(
        status=200,
        headers=_headers(
            **{"Upload-Offset": str(stored.offset), "Upload-Length": str(stored.length)},
            **_expiry(uploads, stored),
        ),
    )


@routes.patch("/api/uploads/{upload}")
@media("application/offset+octet-stream")
async def patch(request: web.Request) -> web.Response:
    """PATCH: bytes from `Upload-Offset` on. What arrives before a broken connection is
    kept, and the client resumes after a HEAD."""
    _check_version(request)
    stored = await _own_upload(request)
    if request.content_type != "application/offset+octet-stream":
        raise Refused(415, "bad_content_type", "send Content-Type: application/offset+octet-stream")
    uploads = request.app[keys.UPLOADS]
    files = request.app[keys.FILES]
    offset = _size(request.headers.get("Upload-Offset"), "bad_offset", "send Upload-Offset")
    if stored.id in uploads.busy:
        raise Refused(423, "locked", "another request is writing this upload")
    if offset != stored.offset or stored.complete:
        raise Refused(409, "offset_mismatch", f"the upload is at offset {stored.offset}")
    uploads.busy.add(stored.id)
    try:
        # bytes are coming: not abandoned (another node's sweep reads this, not _busy)
        await files.set_offset(stored.id, offset, uploads.clock())
        offset = await _receive(request, uploads, stored, offset)
    finally:
        uploads.busy.discard(stored.id)
    extra: dict[str, str] = {}
    if offset == stored.length:
        digest = await finish_digest(uploads, stored.id, offset)
        found = await sniff_file(uploads.path(stored.id), stored.content_type)
        await files.complete(stored.id, digest, uploads.clock(), inline_type=found)
        request.app[keys.METRICS].uploads.labels("complete").inc()
    else:
        expires = (uploads.clock() + uploads.expire_after).astimezone(UTC)
        extra = {"Upload-Expires": format_datetime(expires, usegmt=True)}
    return web.Response(status=204, headers=_headers(**{"Upload-Offset": str(offset)}, **extra))


async def _receive(request: web.Request, uploads: Uploads, stored: StoredFile, offset: int) -> int:
    """Write the body to the file from `offset`; returns the new offset. What arrived
    before a client went away is written and its offset saved, so the client resumes.

    Each block is let in only while the school's bytes with it stay within its quota
    (uploads into one school at the same moment may pass it by a block each)."""
    files = request.app[keys.FILES]
    file_id, length = stored.id, stored.length
    hashing = uploads.hashing.get(file_id)
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

    async def flush() -> None:
        """Write what is pending, if the school's quota lets it in (QuotaFull if not)."""
        nonlocal written
        if not pending:
            return
        if await files.used(stored.org_id) + len(pending) > uploads.org_quota:
            raise _QuotaFull
        await asyncio.to_thread(write, bytes(pending), written)
        written += len(pending)
        pending.clear()
        await files.set_offset(file_id, written, uploads.clock())

    async def settle() -> None:
        """Keep what came, if the quota lets it in; close; remember how far it got."""
        try:
            await flush()
        except _QuotaFull:
            pending.clear()  # the client sends it again from `written`
        finally:
            await asyncio.to_thread(handle.close)
        if hashing is not None:
            hashing.offset = written
            uploads.hashing[file_id] = hashing
        else:
            uploads.hashing.pop(file_id, None)
        await files.set_offset(file_id, written, uploads.clock())

    try:
        async for chunk in request.content.iter_chunked(256 * 1024):
            if written + len(pending) + len(chunk) > length:
                raise Refused(413, "too_large", "more bytes than Upload-Length")
            pending += chunk
            if len(pending) >= BLOCK:
                await flush()
        await flush()
    except _QuotaFull:
        await asyncio.shield(settle())
        raise _refused(
            request,
            "refused_quota",
            413,
            "quota_exceeded",
            f"the school's files have reached its quota of {uploads.org_quota} bytes: the "
            f"upload stopped at {written} bytes, and resumes from there once there is room",
        ) from None
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






@routes.delete("/api/uploads/{upload}")
async def terminate(request: web.Request) -> web.Response:
    """DELETE: the upload and its bytes are gone (tus termination)."""
    _check_version(request)
    stored = await _own_upload(request)
    uploads = request.app[keys.UPLOADS]
    if stored.id in uploads.busy:
        raise Refused(423, "locked", "another request is writing this upload")
    await request.app[keys.FILES].delete(stored.id)
    uploads.hashing.pop(stored.id, None)
    await asyncio.to_thread(uploads.path(stored.id).unlink, True)
    return web.Response(status=204, headers=_headers())


@routes.get("/api/files/{file}")
async def download(request: web.Request) -> web.StreamResponse:
    """GET a complete file, for the members of its chat; `Range` requests are served
    as 206 partial content. An attachment, unless `?inline=1` asks and the bytes are a
    type shown inline."""
    files = request.app[keys.FILES]
    stored = await files.get(request.match_info["file"])
    if stored is None or not stored.complete:
        raise Refused(404, "not_found", "no such file")
    try:
        await request.app[keys.CHAT_SERVICE].seat(user_of(request), stored.chat_id)
    except NotFound:
        raise Refused(404, "not_found", "no such file") from None
    path = request.app[keys.UPLOADS].path(stored.id)
    inline_type = stored.inline_type
    if inline_type is None:  # finished before the server looked at files' bytes
        inline_type = await sniff_file(path, stored.content_type) or ""
        await files.set_inline_type(stored.id, inline_type)
    shown = "inline" if request.query.get("inline") == "1" and inline_type else "attachment"
    return web.FileResponse(
        path,
        headers={
            "Content-Type": inline_type or OCTET_STREAM,
            "Content-Disposition": disposition(shown, stored.filename),
            "Cache-Control": "private, max-age=3600",
            "ETag": f'"{stored.sha256}"',
            **USER_CONTENT_HEADERS,
        },
    )
