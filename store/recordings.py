"""Recordings of calls in the store."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncEngine

from store.ids import new_id
from store.tables import recordings


@dataclass(frozen=True)
class StoredRecording:
    id: str
    call_id: str
    title: str
    filename: str
    started_at: datetime
    duration_seconds: float
    size: int
    user_ids: tuple[str, ...]
    chat_id: str | None
    file_id: str | None
    message_id: str | None
    captions_status: str | None = None  # pending, done, failed
    captions_reason: str | None = None
    captions_language: str | None = None

    @property
    def captions_filename(self) -> str:
        return self.filename.rsplit(".", 1)[0] + ".vtt"


def _recording(row: Row[Any]) -> StoredRecording:
    m = row._mapping
    started = m["started_at"]
    return StoredRecording(
        id=m["id"],
        call_id=m["call_id"],
        title=m["title"],
        filename=m["filename"],
        started_at=started if started.tzinfo else started.replace(tzinfo=UTC),
        duration_seconds=float(m["duration_seconds"]),
        size=int(m["size"]),
        user_ids=tuple(m["user_ids"] or ()),
        chat_id=m["chat_id"],
        file_id=m["file_id"],
        message_id=m["message_id"],
        captions_status=m["captions_status"],
        captions_reason=m["captions_reason"],
        captions_language=m["captions_language"],
    )


class RecordingStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def add(
        self,
        *,
        call_id: str,
        title: str,
        filename: str,
        started_at: datetime,
        duration_seconds: float,
        size: int,
        user_ids: list[str],
        chat_id: str | None = None,
        file_id: str | None = None,
        message_id: str | None = None,
        captions_status: str | None = None,
    ) -> StoredRecording:
        recording_id = new_id()
        values = {
            "id": recording_id,
            "call_id": call_id,
            "title": title,
            "filename": filename,
            "started_at": started_at,
            "duration_seconds": duration_seconds,
            "size": size,
            "user_ids": list(user_ids),
            "chat_id": chat_id,
            "file_id": file_id,
            "message_id": message_id,
            "captions_status": captions_status,
        }
        async with self._engine.begin() as connection:
            await connection.execute(insert(recordings).values(**values))
        found = await self.get(recording_id)
        assert found is not None
        return found

    async def set_captions(
        self,
        recording_id: str,
        *,
        status: str,
        language: str | None = None,
        reason: str | None = None,
    ) -> None:
        async with self._engine.begin() as connection:
            await connection.execute(
                update(recordings)
                .where(recordings.c.id == recording_id)
                .values(captions_status=status, captions_language=language, captions_reason=reason)
            )

    async def get(self, recording_id: str) -> StoredRecording | None:
        async with self._engine.connect() as connection:
            row = (
                await connection.execute(select(recordings).where(recordings.c.id == recording_id))
            ).first()
        return None if row is None else _recording(row)

    async def of_call(self, call_id: str) -> list[StoredRecording]:
        query = (
            select(recordings)
            .where(recordings.c.call_id == call_id)
            .order_by(recordings.c.started_at.desc())
        )
        async with self._engine.connect() as connection:
            return [_recording(r) for r in (await connection.execute(query)).all()]
