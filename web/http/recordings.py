"""Where a finished recording lands, and recordings over HTTP.

A recording of a call scheduled on behalf of a chat becomes one of the chat's files and
a "call recording" message in it, with its duration and a thumbnail; every recording is
listed under its call (`GET /api/calls/{call}/recordings`) for those who may see it: who
took part while it was recorded, the chat's members, and whoever may see the lesson.
Downloads support Range; like every user's file (chat/content.py) they are attachments
unless `?inline=1` asks, and carry USER_CONTENT_HEADERS. Hosts start and stop recording
by HTTP too, with their host token in X-Parta-Host-Token.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiohttp import web

from calls.recordings import Finished, duration_of, sha256_of, thumbnail
from chat.content import USER_CONTENT_HEADERS, disposition
from chat.service import NotFound
from chat.uploads import sniff_file
from store.chats import MessageDraft
from store.recordings import StoredRecording
from transcription.landing import captions_url
from web import keys
from web.auth import user_of
from web.errors import Refused
from web.http.links import HOST_TOKEN_HEADER

routes = web.RouteTableDef()

logger = logging.getLogger(__name__)


def lander(app: web.Application) -> Callable[[Finished], Awaitable[None]]:
    async def land(finished: Finished) -> None:
        recorded = finished.recorded
        if recorded.bytes == 0:
            logger.warning("recording %s is empty: nothing to keep", recorded.path)
            return
        duration = await duration_of(recorded.path)
        scheduled = await app[keys.SCHEDULES].by_call(finished.room_id)
        chat_id = scheduled.chat_id if scheduled is not None else None
        file_id = message_id = None
        if chat_id is not None:
            file_id, message_id = await _into_chat(app, finished, chat_id, duration)
        transcription = app.get(keys.TRANSCRIPTION)
        stored = await app[keys.RECORDING_STORE].add(
            call_id=finished.room_id,
            title=finished.title,
            filename=recorded.path.name,
            started_at=finished.started_at,
            duration_seconds=duration,
            size=recorded.bytes,
            user_ids=finished.user_ids,
            chat_id=chat_id,
            file_id=file_id,
            message_id=message_id,
            captions_status=None if transcription is None else "pending",
        )
        if transcription is not None:
            await transcription.submit("recording", stored.id, recorded.path)

    return land


async def _into_chat(
    app: web.Application, finished: Finished, chat_id: str, duration: float
) -> tuple[str | None, str | None]:
    service = app[keys.CHAT_SERVICE]
    chat = await service.chats.chat(chat_id)
    if chat is None:
        return None, None
    uploader = chat.created_by
    if finished.by_user is not None:
        for profile in await service.accounts.profiles_of(finished.by_user):
            if profile.org_id == chat.org_id:
                uploader = profile.id
    files, uploads = app[keys.FILES], app[keys.UPLOADS]
    path = finished.recorded.path
    when = finished.started_at.strftime("%Y-%m-%d %H-%M")
    now = datetime.now(UTC)
    stored = await files.create(
        org_id=chat.org_id,
        chat_id=chat.id,
        uploader_id=uploader,
        filename=f"{finished.title} {when}.mp4",
        content_type="video/mp4",
        length=finished.recorded.bytes,
        now=now,
    )
    await asyncio.to_thread(_link, path, uploads.path(stored.id))
    await files.complete(
        stored.id,
        await asyncio.to_thread(sha256_of, path),
        now,
        inline_type=await sniff_file(uploads.path(stored.id), "video/mp4"),
    )
    meta: dict[str, Any] = {
        "file": {
            "id": stored.id,
            "filename": stored.filename,
            "size": stored.length,
            "content_type": "video/mp4",
            "url": f"/api/files/{stored.id}",
        },
        "duration": round(duration, 2),
        "call_id": finished.room_id,
        "title": finished.title,
    }
    if keys.TRANSCRIPTION in app:
        meta["captions_status"] = "pending"
    picture = await asyncio.to_thread(thumbnail, path, duration / 2)
    if picture is not None:
        thumb = await files.create(
            org_id=chat.org_id,
            chat_id=chat.id,
            uploader_id=uploader,
            filename="thumbnail.png",
            content_type="image/png",
            length=len(picture),
            now=now,
        )
        await asyncio.to_thread(uploads.path(thumb.id).write_bytes, picture)
        found = await sniff_file(uploads.path(thumb.id))
        await files.complete(thumb.id, "", now, inline_type=found)
        meta["thumbnail"] = f"/api/files/{thumb.id}"
    draft = MessageDraft(
        kind="recording", body="", sender_id=uploader, meta=meta, file_id=stored.id
    )
    message = await service.notice(chat.id, draft)
    return stored.id, None if message is None else message.id


def _link(source: Path, target: Path) -> None:
    """The chat's copy of the file: a hard link where the disk allows, else a copy."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


async def _visible(request: web.Request, recording: StoredRecording) -> bool:
    user = user_of(request)
    if user.id in recording.user_ids:
        return True
    if recording.chat_id is not None:
        try:
            await request.app[keys.CHAT_SERVICE].seat(user, recording.chat_id)
            return True
        except NotFound:
            pass
    lesson = await request.app[keys.SCHEDULES].by_call(recording.call_id)
    return lesson is not None and await request.app[keys.LESSONS].visible(user, lesson)


def _describe(recording: StoredRecording) -> dict[str, Any]:
    return {
        "id": recording.id,
        "call": recording.call_id,
        "title": recording.title,
        "started_at": recording.started_at.isoformat(),
        "duration_seconds": round(recording.duration_seconds, 2),
        "size": recording.size,
        "url": f"/api/recordings/{recording.id}",
        "chat_id": recording.chat_id,
        "file_id": recording.file_id,
        "message_id": recording.message_id,
        "captions": {
            "status": recording.captions_status,
            "language": recording.captions_language,
            "reason": recording.captions_reason,
            "url": captions_url(recording.id) if recording.captions_status == "done" else None,
        },
    }


@routes.get("/calls/{call}/recordings")
@routes.get("/api/calls/{call}/recordings")
async def listing(request: web.Request) -> web.Response:
    found = await request.app[keys.RECORDING_STORE].of_call(request.match_info["call"])
    shown = [_describe(r) for r in found if await _visible(request, r)]
    return web.json_response({"recordings": shown})


@routes.get("/api/recordings/{recording}")
async def download(request: web.Request) -> web.StreamResponse:
    recording = await request.app[keys.RECORDING_STORE].get(request.match_info["recording"])
    if recording is None or not await _visible(request, recording):
        raise Refused(404, "not_found", "no such recording")
    path = request.app[keys.RECORDINGS].directory / recording.filename
    if not path.exists():
        raise Refused(404, "not_found", "the recording's file is gone")
    when = recording.started_at.strftime("%Y-%m-%d %H-%M")
    return web.FileResponse(
        path,
        headers={
            "Content-Type": "video/mp4",
            "Content-Disposition": disposition(_shown(request), f"{recording.title} {when}.mp4"),
            "Cache-Control": "private, max-age=3600",
            **USER_CONTENT_HEADERS,
        },
    )


def _shown(request: web.Request) -> str:
    """Recordings and captions are made by the server, so `?inline=1` may show them."""
    return "inline" if request.query.get("inline") == "1" else "attachment"


@routes.get("/api/recordings/{recording}/captions.vtt")
async def captions(request: web.Request) -> web.StreamResponse:
    """A recording's captions (WebVTT), once transcribed."""
    recording = await request.app[keys.RECORDING_STORE].get(request.match_info["recording"])
    if recording is None or not await _visible(request, recording):
        raise Refused(404, "not_found", "no such recording")
    path = request.app[keys.RECORDINGS].directory / recording.captions_filename
    if recording.captions_status != "done" or not path.exists():
        status = recording.captions_status or "off"
        raise Refused(404, "no_captions", f"the recording has no captions (they are {status})")
    return web.FileResponse(
        path,
        headers={
            "Content-Type": "text/vtt; charset=utf-8",
            "Content-Disposition": disposition(_shown(request), f"{recording.title}.vtt"),
            "Cache-Control": "private, max-age=3600",
            **USER_CONTENT_HEADERS,
        },
    )


@routes.delete("/api/calls/{call}/recording")
@routes.post("/api/calls/{call}/recording")
async def control(request: web.Request) -> web.Response:
    """POST starts recording, DELETE stops it: for a host (X-Parta-Host-Token)."""
    calls = request.app[keys.CALLS]
    call_id = request.match_info["call"]
    token = request.headers.get(HOST_TOKEN_HEADER, "").strip() or None
    if token is None:
        raise Refused(401, "unauthorized", f"send a host token in {HOST_TOKEN_HEADER}")
    room = calls.hosted_room(call_id, token)
    if room is None:
        raise Refused(404, "not_found", "no live call of which you are a host")
    recordings = request.app[keys.RECORDINGS]
    if request.method == "POST":
        if recordings.is_recording(room):
            raise Refused(409, "already_recording", "the call is being recorded already")
        await recordings.start(room, None, user_id=user_of(request).id)
        return web.json_response({"recording": True}, status=201)
    if not recordings.is_recording(room):
        raise Refused(409, "not_recording", "the call is not being recorded")
    await recordings.stop(room, None)
    return web.json_response({"recording": False})
