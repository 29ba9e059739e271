"""Files in the store, on SQLite and PostgreSQL: a school's bytes are the bytes received,
a user's unfinished uploads are counted across their schools, and uploads that got no
bytes for long are found to expire."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from store.accounts import AccountStore
from store.chats import ChatStore, MessageDraft
from store.files import FileStore, OpenUploads
from tests.store.test_chats import NOW, people

HUGE = 16 * 1024**3
MADE = MessageDraft(kind="system", body="", sender_id=None, meta={"event": "created"})


async def test_quota_counts_bytes_received_and_open_uploads_per_user(engine: AsyncEngine) -> None:
    org, (teacher, ann, _bob) = await people(engine)
    chat, _ = await ChatStore(engine).create(
        org_id=org, kind="group", title="7b", public=False, owner_id=teacher.id, now=NOW, first=MADE
    )
    store = FileStore(engine)

    async def upload(uploader: str, length: int) -> str:
        made = await store.create(
            org_id=org,
            chat_id=chat.id,
            uploader_id=uploader,
            filename="f",
            content_type="application/octet-stream",
            length=length,
            now=NOW,
        )
        return made.id

    empty = [await upload(ann.id, HUGE) for _ in range(3)]  # announced, nothing sent
    assert await store.used(org) == 0
    assert await store.open_uploads(ann.user_id) == OpenUploads(3, 3 * HUGE)
    await store.set_offset(empty[0], 1000, NOW + timedelta(hours=1))
    assert await store.used(org) == 1000
    done = await upload(teacher.id, 500)
    await store.complete(done, "0" * 64, NOW, inline_type="image/png")
    assert await store.used(org) == 1500
    assert await store.open_uploads(teacher.user_id) == OpenUploads(0, 0)
    stored = await store.get(done)
    assert stored is not None and stored.inline_type == "image/png"

    # the same user in a second school: one count for both
    accounts = AccountStore(engine)
    other, _ = await accounts.add_organisation("Other school", teacher.user_id, NOW)
    there = await accounts.add_profile(other.id, ann.user_id, "student", "Ann", None, NOW)
    chat2, _ = await ChatStore(engine).create(
        org_id=other.id,
        kind="group",
        title="8a",
        public=False,
        owner_id=there.id,
        now=NOW,
        first=MADE,
    )
    elsewhere = await store.create(
        org_id=other.id,
        chat_id=chat2.id,
        uploader_id=there.id,
        filename="g",
        content_type="text/plain",
        length=7,
        now=NOW,
    )
    assert await store.open_uploads(ann.user_id) == OpenUploads(4, 3 * HUGE + 7)
    assert await store.used(org) == 1500  # schools apart

    # abandoned: unfinished and untouched since the moment asked about, oldest first
    assert await store.abandoned(NOW) == []
    found = [f.id for f in await store.abandoned(NOW + timedelta(minutes=30))]
    assert sorted(found) == sorted([empty[1], empty[2], elsewhere.id])
    found = [f.id for f in await store.abandoned(datetime(2100, 1, 1, tzinfo=UTC))]
    assert sorted(found[:3]) == sorted([empty[1], empty[2], elsewhere.id])
    assert found[3:] == [empty[0]]  # touched last; the finished file never
