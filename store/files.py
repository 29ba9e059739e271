"""Uploaded files' records: the bytes live on disk (see chat/uploads.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncEngine

from .ids import new_id
from .tables import files


@dataclass(frozen=True)
class StoredFile:
    id: str
    org_id: str
    chat_id: str
    uploader_id: str
    filename: str
    content_type: str
    length: int
    offset: int
    sha256: str | None
    complete: bool


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
    )


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
            new_id(), org_id, chat_id, uploader_id, filename, content_type, length, 0, None, False
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
                )
            )
        return stored

    async def get(self, file_id: str) -> StoredFile | None:
        async with self._engine.connect() as connection:
            row = (await connection.execute(select(files).where(files.c.id == file_id))).first()
        return None if row is None else _file(row)

    async def set_offset(self, file_id: str, offset: int) -> None:
        async with self._engine.begin() as connection:
            await connection.execute(
                update(files).where(files.c.id == file_id).values(offset=offset)
            )

    async def complete(self, file_id: str, sha256: str, now: datetime) -> None:
        async with self._engine.begin() as connection:
            await connection.execute(
                update(files)
                .where(files.c.id == file_id)
                .values(offset=files.c.length, sha256=sha256, complete=True, completed_at=now)
            )

    async def delete(self, file_id: str) -> None:
        async with self._engine.begin() as connection:
            await connection.execute(delete(files).where(files.c.id == file_id))

    async def used(self, org_id: str) -> int:
        """Bytes the organisation's files take or have reserved (their full lengths)."""
        async with self._engine.connect() as connection:
            total = (
                await connection.execute(
                    select(func.coalesce(func.sum(files.c.length), 0)).where(
                        files.c.org_id == org_id
                    )
                )
            ).scalar_one()
        return int(total)
