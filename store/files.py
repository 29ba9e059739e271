"""Uploaded files' records: the bytes live on disk (see web/http/uploads.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import case, delete, func, insert, select, update
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncEngine

from store.ids import new_id
from store.tables import files, profiles


@dataclass(frozen=True)
class StoredFile:
    id: str
    org_id: str
    chat_id: str
    uploader_id: str
    filename: str
    content_type: str  # what the uploader declared: information only, never served
    length: int
    offset: int
    sha256: str | None
    complete: bool
    # what the bytes are, when they are a type shown inline ("" when they are not; None
    # for files finished before the server looked)
    inline_type: str | None = None
    touched_at: datetime | None = None  # when bytes last came (or the upload was made)


@dataclass(frozen=True)
class OpenUploads:
    """A user's unfinished uploads: how many, and the bytes they announced in all."""

    count: int
    declared: int


def _file(row: Row[Any]) -> StoredFile:
    m = row._mapping
    return StoredFile(
        id=m["id"],
        org_id=m["org_id"],
        chat_id=m["chat_id"],
        uploader_id=m["uploader_id"],
        filename=m["filename"],
        content_type=m["content_type"],
        length=int(m["length"]),
        offset=int(m["offset"]),
        sha256=m["sha256"],
        complete=bool(m["complete"]),
        inline_type=m["inline_type"],
        touched_at=_aware(m["touched_at"]),
    )


def _aware(moment: datetime | None) -> datetime | None:
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)  # SQLite keeps no offset: the store writes UTC


class FileStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def create(
        self,
        *,
        org_id: str,
        chat_id: str,
        uploader_id: str,
        filename: str,
        content_type: str,
        length: int,
        now: datetime,
    ) -> StoredFile:
        stored = StoredFile(
            new_id(),
            org_id,
            chat_id,
            uploader_id,
            filename,
            content_type,
            length,
            0,
            None,
            False,
            None,
            now,
        )
        async with self._engine.begin() as connection:
            await connection.execute(
                insert(files).values(
                    id=stored.id,
                    org_id=org_id,
                    chat_id=chat_id,
                    uploader_id=uploader_id,
                    filename=filename,
                    content_type=content_type,
                    length=length,
                    offset=0,
                    complete=False,
                    created_at=now,
                    touched_at=now,
                )
            )
        return stored

    async def get(self, file_id: str) -> StoredFile | None:
        async with self._engine.connect() as connection:
            row = (await connection.execute(select(files).where(files.c.id == file_id))).first()
        return None if row is None else _file(row)

    async def set_offset(self, file_id: str, offset: int, now: datetime) -> None:
        """Bytes up to `offset` have arrived (the last of them at `now`)."""
        async with self._engine.begin() as connection:
            await connection.execute(
                update(files).where(files.c.id == file_id).values(offset=offset, touched_at=now)
            )

    async def complete(
        self, file_id: str, sha256: str, now: datetime, *, inline_type: str | None
    ) -> None:
        """All bytes are in; `inline_type` is what they were found to be (None: not a
        type shown inline)."""
        async with self._engine.begin() as connection:
            await connection.execute(
                update(files)
                .where(files.c.id == file_id)
                .values(
                    offset=files.c.length,
                    sha256=sha256,
                    complete=True,
                    completed_at=now,
                    touched_at=now,
                    inline_type=inline_type or "",
                )
            )

    async def set_inline_type(self, file_id: str, inline_type: str | None) -> None:
        async with self._engine.begin() as connection:
            await connection.execute(
                update(files).where(files.c.id == file_id).values(inline_type=inline_type or "")
            )

    async def delete(self, file_id: str) -> None:
        async with self._engine.begin() as connection:
            await connection.execute(delete(files).where(files.c.id == file_id))

    async def used(self, org_id: str) -> int:
        """Bytes the organisation's files take: finished files at their length, and
        unfinished uploads at the bytes received so far (not the length announced)."""
        taken = case((files.c.complete, files.c.length), else_=files.c.offset)
        async with self._engine.connect() as connection:
            total = (
                await connection.execute(
                    select(func.coalesce(func.sum(taken), 0)).where(files.c.org_id == org_id)
                )
            ).scalar_one()
        return int(total)

    async def open_uploads(self, user_id: str) -> OpenUploads:
        """The user's unfinished uploads, in every school they belong to."""
        async with self._engine.connect() as connection:
            row = (
                await connection.execute(
                    select(func.count(), func.coalesce(func.sum(files.c.length), 0))
                    .select_from(files.join(profiles, profiles.c.id == files.c.uploader_id))
                    .where(profiles.c.user_id == user_id, files.c.complete.is_(False))
                )
            ).one()
        return OpenUploads(int(row[0]), int(row[1]))

    async def abandoned(self, before: datetime, limit: int = 100) -> list[StoredFile]:
        """Unfinished uploads that got no bytes since `before`, oldest first."""
        async with self._engine.connect() as connection:
            rows = await connection.execute(
                select(files)
                .where(files.c.complete.is_(False), files.c.touched_at < before)
                .order_by(files.c.touched_at)
                .limit(limit)
            )
        return [_file(row) for row in rows]
