"""Chats, members, per-member state, folders and messages in the store, on SQLite and
PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from store.accounts import AccountStore, Profile
from store.chats import ChatStore, MessageDraft

NOW = datetime(2030, 1, 1, 12, tzinfo=UTC)


async def people(engine: AsyncEngine) -> tuple[str, list[Profile]]:
    accounts = AccountStore(engine)
    admin = await accounts.add_user("admin", "h", "Admin", NOW)
    school, _ = await accounts.add_organisation("School", admin.id, NOW)
    found = []
    for name, role in (("teacher", "teacher"), ("ann", "student"), ("bob", "student")):
        user = await accounts.add_user(name, "h", name.title(), NOW)
        found.append(await accounts.add_profile(school.id, user.id, role, name.title(), None, NOW))
    return school.id, found


def text(sender: str, body: str) -> MessageDraft:
    return MessageDraft(kind="text", body=body, sender_id=sender)


async def test_messages_are_numbered_paged_edited_and_deleted(engine: AsyncEngine) -> None:
    org, (teacher, ann, bob) = await people(engine)
    store = ChatStore(engine)
    created = MessageDraft(kind="system", body="", sender_id=None, meta={"event": "created"})
    chat, first = await store.create(
        org_id=org,
        kind="group",
        title="7b",
        public=False,
        owner_id=teacher.id,
        now=NOW,
        first=created,
    )
    assert first.seq == 1 and chat.invite_code
    joined = MessageDraft(kind="system", body="", sender_id=None, meta={"event": "joined"})
    assert (await store.join(chat.id, ann.id, NOW, joined)) is not None
    assert await store.join(chat.id, ann.id, NOW, joined) is None  # already in
    # concurrent posts never share a number
    posted = await asyncio.gather(
        *(store.post(chat.id, text(ann.id, f"m{i}"), NOW) for i in range(20))
    )
    assert sorted(m.seq for m in posted) == list(range(3, 23))
    page = await store.history(chat.id, before=None, limit=5, after_seq=0)
    assert [m.seq for m in page] == [22, 21, 20, 19, 18]
    older = await store.history(chat.id, before=page[-1].seq, limit=100, after_seq=0)
    assert older[0].seq == 17 and older[-1].seq == 1
    await store.edit(posted[0].id, "changed", NOW + timedelta(minutes=1))
    edited = await store.message(chat.id, posted[0].id)
    assert edited is not None and edited.body == "changed" and edited.edited_at is not None
    await store.delete_message(posted[1].id, NOW)
    gone = await store.message(chat.id, posted[1].id)
    assert gone is not None and gone.deleted_at is not None and gone.body == ""

    # unread counts others' messages after what was read; reading never goes backwards
    listing = {entry.chat.id: entry for entry in await store.listing([teacher.id])}
    assert listing[chat.id].unread == 19  # ann's 20, one deleted; notices do not count
    await store.update_state(chat.id, teacher.id, last_read_seq=22)
    await store.update_state(chat.id, teacher.id, last_read_seq=5)
    state = await store.state(chat.id, teacher.id)
    assert state is not None and state.last_read_seq == 22
    assert (await store.listing([teacher.id]))[0].unread == 0

    # leaving with "delete my messages": they are gone for everyone, the chat stays
    left = MessageDraft(kind="system", body="", sender_id=None, meta={"event": "left"})
    notice, deleted = await store.leave(chat.id, ann.id, NOW, left, delete_messages=True)
    assert len(deleted) == 19 and notice.seq == 23
    assert await store.state(chat.id, ann.id) is None
    remaining = await store.history(chat.id, before=None, limit=100, after_seq=0)
    assert all(m.deleted_at is not None for m in remaining if m.sender_id == ann.id)
    assert [m.profile_id for m in await store.members(chat.id)] == [teacher.id]
    assert bob.id not in {m.profile_id for m in await store.members(chat.id)}


async def test_each_members_own_view_and_folders(engine: AsyncEngine) -> None:
    org, (teacher, ann, _) = await people(engine)
    store = ChatStore(engine)
    created = MessageDraft(kind="system", body="", sender_id=None, meta={"event": "created"})
    chat, _ = await store.create(
        org_id=org,
        kind="group",
        title="7b",
        public=True,
        owner_id=teacher.id,
        now=NOW,
        first=created,
    )
    assert [c.id for c in await store.public_chats(org)] == [chat.id]
    folder = await store.add_folder(teacher.user_id, "Classes", NOW)
    await store.update_state(
        chat.id,
        teacher.id,
        folder_id=folder.id,
        archived=True,
        pinned_order=1,
        muted_until=NOW + timedelta(hours=1),
        marked_unread=True,
        cleared_seq=1,
    )
    state = await store.state(chat.id, teacher.id)
    assert state is not None
    assert (state.folder_id, state.archived, state.pinned_order, state.marked_unread) == (
        folder.id,
        True,
        1,
        True,
    )
    assert state.muted_until is not None and state.cleared_seq == 1
    assert await store.history(chat.id, before=None, limit=10, after_seq=state.cleared_seq) == []
    assert await store.rename_folder(teacher.user_id, folder.id, "My classes")
    assert not await store.rename_folder(ann.user_id, folder.id, "Stolen")
    assert [f.name for f in await store.folders(teacher.user_id)] == ["My classes"]
    assert await store.delete_folder(teacher.user_id, folder.id)
    state = await store.state(chat.id, teacher.id)
    assert state is not None and state.folder_id is None
    code = await store.renew_invite(chat.id)
    found = await store.chat_by_invite(code)
    assert found is not None and found.id == chat.id
