"""Where uploaded files' bytes live (`<data_dir>/files/<id>`), and the limits on them.

Quotas count bytes received: a school's files take their bytes on disk (an unfinished
upload only what has arrived, never the length it announced). Announcing is bounded per
user instead: at most `max_open` unfinished uploads, announcing at most `max_open_bytes`
together. An upload that gets no bytes for `expire_after` expires: a sweep deletes it and
its bytes. The SHA-256 is computed as the bytes arrive (and recomputed from the file on
disk if the server restarted meanwhile). The tus protocol over HTTP is web/http/uploads.py.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from chat.content import (
    SNIFF_BYTES,
    sniff,
)
from store.files import FileStore, StoredFile

BLOCK = 4 * 1024 * 1024


# Per user, across their schools. Eight is more than anyone sends at once from the web
# client (it uploads one file at a time; a few tabs or devices resuming still fit), and
# twice the largest file lets one full-size upload be resumed while another starts. They
# bound what one account can announce; the school's quota bounds what it can store.
MAX_OPEN_UPLOADS = 8


OPEN_BYTES_PER_MAX_FILE = 2


EXPIRE_AFTER = timedelta(hours=24)  # an unfinished upload with no bytes for this long goes


@dataclass
class Hashing:
    """The running SHA-256 of an upload, valid up to `offset`."""

    digest: Any
    offset: int


def _utcnow() -> datetime:
    return datetime.now(UTC)


class Uploads:
    """Where uploaded bytes live (`<data_dir>/files/<id>`), and the limits on them."""

    def __init__(
        self,
        directory: Path,
        *,
        max_size: int,
        org_quota: int,
        max_open: int = MAX_OPEN_UPLOADS,
        max_open_bytes: int | None = None,
        expire_after: timedelta = EXPIRE_AFTER,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self.directory = directory
        self.max_size = max_size
        self.org_quota = org_quota
        self.max_open = max_open
        self.max_open_bytes = (
            OPEN_BYTES_PER_MAX_FILE * max_size if max_open_bytes is None else max_open_bytes
        )
        self.expire_after = expire_after
        self.clock = clock
        self.hashing: dict[str, Hashing] = {}
        self.busy: set[str] = set()  # uploads a PATCH is writing to
        # creations one at a time, so that two at once cannot both pass the per-user caps
        self.creating = asyncio.Lock()
        directory.mkdir(parents=True, exist_ok=True)

    def path(self, file_id: str) -> Path:
        return self.directory / file_id

    def expires(self, stored: StoredFile) -> datetime:
        return (stored.touched_at or self.clock()) + self.expire_after

    async def sweep(self, files: FileStore) -> list[str]:
        """Delete the unfinished uploads that got no bytes for `expire_after`, and their
        bytes; the ids deleted. One being written to is left for the next sweep."""
        gone = []
        while True:
            found = await files.abandoned(self.clock() - self.expire_after)
            skipped = False
            for stored in found:
                if stored.id in self.busy:  # bytes are coming after all
                    skipped = True
                    continue
                await files.delete(stored.id)
                self.hashing.pop(stored.id, None)
                await asyncio.to_thread(self.path(stored.id).unlink, True)
                gone.append(stored.id)
            if skipped or not found:
                return gone


async def finish_digest(uploads: Uploads, file_id: str, offset: int) -> str:
    hashing = uploads.hashing.pop(file_id, None)
    if hashing is not None and hashing.offset == offset:
        return str(hashing.digest.hexdigest())

    def from_disk() -> str:
        digest = hashlib.sha256()
        with open(uploads.path(file_id), "rb") as handle:
            while block := handle.read(BLOCK):
                digest.update(block)
        return digest.hexdigest()

    return await asyncio.to_thread(from_disk)


async def sniff_file(path: Path, declared: str = "") -> str | None:
    """What the file at `path` is, if a type shown inline (see content.sniff)."""

    def head() -> bytes:
        with open(path, "rb") as handle:
            return handle.read(SNIFF_BYTES)

    return sniff(await asyncio.to_thread(head), declared)
