"""Where transcripts land: a voice message's text, a recording's WebVTT captions.

Each lands in the store, then the chat's members are told (`message_updated`) so that
the text appears under the voice message, or the captions under the recording's player,
without a reload. Captions are a `.vtt` file beside the recording, served at
`/api/recordings/{id}/captions.vtt` to whoever may see the recording.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from chat.service import ChatService
from store.recordings import RecordingStore
from store.transcriptions import Job
from transcriber.engine import Transcript, webvtt
from transcription.queue import Handler


def captions_url(recording_id: str) -> str:
    return f"/api/recordings/{recording_id}/captions.vtt"


def voice(service: ChatService) -> Handler:
    """A voice message's text, under the message."""

    async def done(job: Job, transcript: Transcript) -> None:
        if await service.chats.set_transcript(
            job.target_id, status="done", text=transcript.text, language=transcript.language
        ):
            await service.updated(job.target_id)

    async def failed(job: Job, reason: str) -> None:
        if await service.chats.set_transcript(job.target_id, status="failed", reason=reason):
            await service.updated(job.target_id)

    return Handler(done, failed)


def recording(service: ChatService, store: RecordingStore, directory: Path) -> Handler:
    """A recording's captions, a `.vtt` file in `directory` beside the recording."""

    async def done(job: Job, transcript: Transcript) -> None:
        found = await store.get(job.target_id)
        if found is None:
            return
        target = directory / found.captions_filename
        await asyncio.to_thread(_write, target, webvtt(transcript))
        await store.set_captions(found.id, status="done", language=transcript.language)
        await _tell_chat(
            service,
            found.message_id,
            status="done",
            url=captions_url(found.id),
            language=transcript.language,
        )

    async def failed(job: Job, reason: str) -> None:
        found = await store.get(job.target_id)
        if found is None:
            return
        await store.set_captions(found.id, status="failed", reason=reason)
        await _tell_chat(service, found.message_id, status="failed", reason=reason)

    return Handler(done, failed)


async def _tell_chat(
    service: ChatService,
    message_id: str | None,
    *,
    status: str,
    url: str | None = None,
    reason: str | None = None,
    language: str | None = None,
) -> None:
    if message_id is None:
        return
    message = await service.chats.message_by_id(message_id)
    if message is None or message.deleted_at is not None:
        return
    meta = dict(message.meta)
    meta["captions_status"] = status
    if url is not None:
        meta["captions"] = url
    if reason is not None:
        meta["captions_reason"] = reason
    if language is not None:
        meta["captions_language"] = language
    await service.chats.set_meta(message_id, meta)
    await service.updated(message_id)


def _write(target: Path, text: str) -> None:
    partial = target.with_suffix(".vtt.partial")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, target)
