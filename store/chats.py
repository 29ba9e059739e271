"""Chats, their members (with each member's own view of the chat), folders and messages.

Messages are numbered per chat (`seq` 1, 2, ...): the number orders them, pages history
(cursor = a seq) and marks what a member has read. A chat's `last_seq` is taken with an
UPDATE ... RETURNING in the same transaction as the insert, so numbers never repeat
even with several writers (SQLite serialises writers; PostgreSQL locks the chat row).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, delete, func, insert, select, update
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from store.accounts import QuietHours
from store.ids import new_code, new_id
from store.tables import chat_members, chats, folders, messages, profiles, quiet_hours

CHAT_ROLES = ("owner", "admin", "member")


@dataclass(frozen=True)
class Chat:
    id: str
    org_id: str
    kind: str  # group, channel
    title: str
    public: bool
    invite_code: str | None
    created_by: str
    last_seq: int


@dataclass(frozen=True)
class Member:
    profile_id: str
    user_id: str
    full_name: str
    profile_role: str  # teacher, student, parent
    role: str  # owner, admin, member
    last_read_seq: int


@dataclass(frozen=True)
class Audience:
    """A member as a new message's delivery sees them."""

    user_id: str
    profile_id: str
    muted_until: datetime | None
    quiet_hours: QuietHours | None


@dataclass(frozen=True)
class MemberState:
    """One member's own view of a chat."""

    role: str
    last_read_seq: int
    marked_unread: bool
    archived: bool
    pinned_order: int | None
    folder_id: str | None
    muted_until: datetime | None
    cleared_seq: int


@dataclass(frozen=True)
class Message:
    id: str
    chat_id: str
    seq: int
    sender_id: str | None
    kind: str
    body: str
    meta: dict[str, Any]
    file_id: str | None
    created_at: datetime
    edited_at: datetime | None
    deleted_at: datetime | None
    transcript: str | None = None
    transcript_status: str | None = None  # pending, done, failed
    transcript_language: str | None = None
    transcript_reason: str | None = None  # why it failed


@dataclass(frozen=True)
class Folder:
    id: str
    name: str
    position: int


@dataclass(frozen=True)
class ChatListing:
    chat: Chat
    state: MemberState
    last: Message | None
    unread: int


@dataclass
class MessageDraft:
    kind: str
    body: str
    sender_id: str | None
    meta: dict[str, Any] = field(default_factory=dict)
    file_id: str | None = None
    transcript_status: str | None = None


def _chat(row: Row[Any]) -> Chat:
    m = row._mapping
    return Chat(
        id=m["id"],
        org_id=m["org_id"],
        kind=m["kind"],
        title=m["title"],
        public=bool(m["public"]),
        invite_code=m["invite_code"],
        created_by=m["created_by"],
        last_seq=int(m["last_seq"]),
    )


def _message(row: Row[Any]) -> Message:
    m = row._mapping
    return Message(
        id=m["id"],
        chat_id=m["chat_id"],
        seq=int(m["seq"]),
        sender_id=m["sender_id"],
        kind=m["kind"],
        body=m["body"],
        meta=dict(m["meta"] or {}),
        file_id=m["file_id"],
        created_at=m["created_at"],
        edited_at=m["edited_at"],
        deleted_at=m["deleted_at"],
        transcript=m["transcript"],
        transcript_status=m["transcript_status"],
        transcript_language=m["transcript_language"],
        transcript_reason=m["transcript_reason"],
    )


def _state(row: Row[Any]) -> MemberState:
    m = row._mapping
    return MemberState(
        role=m["role"],
        last_read_seq=int(m["last_read_seq"]),
        marked_unread=bool(m["marked_unread"]),
        archived=bool(m["archived"]),
        pinned_order=m["pinned_order"],
        folder_id=m["folder_id"],
        muted_until=m["muted_until"],
        cleared_seq=int(m["cleared_seq"]),
    )


class ChatStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    # -- chats ------------------------------------------------------------------------------

    async def create(
        self,
        *,
        org_id: str,
        kind: str,
        title: str,
        public: bool,
        owner_id: str,
        now: datetime,
        first: MessageDraft,
    ) -> tuple[Chat, Message]:
        chat = Chat(new_id(), org_id, kind, title, public, new_code(), owner_id, 0)
        async with self._engine.begin() as connection:
            await connection.execute(
                insert(chats).values(
                    id=chat.id,
                    org_id=org_id,
                    kind=kind,
                    title=title,
                    public=public,
                    invite_code=chat.invite_code,
                    created_by=owner_id,
                    created_at=now,
                    last_seq=0,
                )
            )
            await self._add_member(connection, chat.id, owner_id, "owner", now, 1)
            message = await self._append(connection, chat.id, first, now)  # seq 1, read
        return chat, message

    async def chat(self, chat_id: str) -> Chat | None:
        async with self._engine.connect() as connection:
            row = (await connection.execute(select(chats).where(chats.c.id == chat_id))).first()
        return None if row is None else _chat(row)

    async def chat_by_invite(self, code: str) -> Chat | None:
        async with self._engine.connect() as connection:
            row = (
                await connection.execute(select(chats).where(chats.c.invite_code == code))
            ).first()
        return None if row is None else _chat(row)

    async def renew_invite(self, chat_id: str) -> str:
        code = new_code()
        async with self._engine.begin() as connection:
            await connection.execute(
                update(chats).where(chats.c.id == chat_id).values(invite_code=code)
            )
        return code

    async def public_chats(self, org_id: str) -> list[Chat]:
        query = (
            select(chats).where((chats.c.org_id == org_id) & chats.c.public).order_by(chats.c.title)
        )
        async with self._engine.connect() as connection:
            return [_chat(r) for r in (await connection.execute(query)).all()]

    # -- members ------------------------------------------------------------------------------

    async def _add_member(
        self,
        connection: AsyncConnection,
        chat_id: str,
        profile_id: str,
        role: str,
        now: datetime,
        read_seq: int,
    ) -> None:
        await connection.execute(
            insert(chat_members).values(
                chat_id=chat_id,
                profile_id=profile_id,
                role=role,
                joined_at=now,
                last_read_seq=read_seq,
                marked_unread=False,
                archived=False,
                pinned_order=None,
                folder_id=None,
                muted_until=None,
                cleared_seq=0,
            )
        )

    async def join(
        self, chat_id: str, profile_id: str, now: datetime, notice: MessageDraft
    ) -> Message | None:
        """Add a member (and the "joined" notice); None if they were one already."""
        async with self._engine.begin() as connection:
            if await self._state(connection, chat_id, profile_id) is not None:
                return None
            chat = (
                await connection.execute(select(chats.c.last_seq).where(chats.c.id == chat_id))
            ).scalar_one()
            await self._add_member(connection, chat_id, profile_id, "member", now, int(chat))
            return await self._append(connection, chat_id, notice, now)

    async def leave(
        self,
        chat_id: str,
        profile_id: str,
        now: datetime,
        notice: MessageDraft,
        *,
        delete_messages: bool,
    ) -> tuple[Message, list[int]]:
        """Remove a member; with `delete_messages`, their messages are deleted for
        everyone. Returns the "left" notice and the seqs of the messages deleted."""
        async with self._engine.begin() as connection:
            await connection.execute(
                delete(chat_members).where(
                    (chat_members.c.chat_id == chat_id) & (chat_members.c.profile_id == profile_id)
                )
            )
            deleted: list[int] = []
            if delete_messages:
                mine = (messages.c.chat_id == chat_id) & (messages.c.sender_id == profile_id)
                deleted = [
                    int(s)
                    for s in (
                        await connection.execute(
                            select(messages.c.seq).where(mine & messages.c.deleted_at.is_(None))
                        )
                    ).scalars()
                ]
                await connection.execute(
                    update(messages)
                    .where(mine)
                    .values(body="", meta={}, file_id=None, transcript=None, deleted_at=now)
                )
            notice_message = await self._append(connection, chat_id, notice, now)
        return notice_message, deleted

    async def members(self, chat_id: str) -> list[Member]:
        query = (
            select(
                chat_members.c.profile_id,
                profiles.c.user_id,
                profiles.c.full_name,
                profiles.c.role.label("profile_role"),
                chat_members.c.role,
                chat_members.c.last_read_seq,
            )
            .join(profiles, profiles.c.id == chat_members.c.profile_id)
            .where(chat_members.c.chat_id == chat_id)
            .order_by(chat_members.c.joined_at)
        )
        async with self._engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        return [
            Member(
                r.profile_id, r.user_id, r.full_name, r.profile_role, r.role, int(r.last_read_seq)
            )
            for r in rows
        ]

    async def member_user_ids(self, chat_id: str) -> list[tuple[str, str]]:
        """(user id, profile id) of every member: who a new message goes to."""
        query = (
            select(profiles.c.user_id, chat_members.c.profile_id)
            .join(profiles, profiles.c.id == chat_members.c.profile_id)
            .where(chat_members.c.chat_id == chat_id)
        )
        async with self._engine.connect() as connection:
            return [(r.user_id, r.profile_id) for r in (await connection.execute(query)).all()]

    async def audience(self, chat_id: str) -> list[Audience]:
        """Every member with what deciding their notification takes: one query, so a
        post to a channel of thousands costs the same few queries as any other."""
        query = (
            select(
                profiles.c.user_id,
                chat_members.c.profile_id,
                chat_members.c.muted_until,
                quiet_hours.c.days,
                quiet_hours.c.start_minute,
                quiet_hours.c.end_minute,
                quiet_hours.c.time_zone,
            )
            .select_from(
                chat_members.join(profiles, profiles.c.id == chat_members.c.profile_id).outerjoin(
                    quiet_hours, quiet_hours.c.profile_id == chat_members.c.profile_id
                )
            )
            .where(chat_members.c.chat_id == chat_id)
        )
        async with self._engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        return [
            Audience(
                user_id=r.user_id,
                profile_id=r.profile_id,
                muted_until=r.muted_until,
                quiet_hours=None
                if r.days is None
                else QuietHours(
                    tuple(int(d) for d in r.days), r.start_minute, r.end_minute, r.time_zone
                ),
            )
            for r in rows
        ]

    async def _state(
        self, connection: AsyncConnection, chat_id: str, profile_id: str
    ) -> MemberState | None:
        row = (
            await connection.execute(
                select(chat_members).where(
                    (chat_members.c.chat_id == chat_id) & (chat_members.c.profile_id == profile_id)
                )
            )
        ).first()
        return None if row is None else _state(row)

    async def state(self, chat_id: str, profile_id: str) -> MemberState | None:
        """A member's view of the chat; None when they are not a member."""
        async with self._engine.connect() as connection:
            return await self._state(connection, chat_id, profile_id)

    async def set_role(self, chat_id: str, profile_id: str, role: str) -> None:
        await self.update_state(chat_id, profile_id, role=role)

    async def update_state(self, chat_id: str, profile_id: str, **values: Any) -> None:
        """Change a member's own view: archived, pinned_order, folder_id, muted_until,
        marked_unread, cleared_seq, last_read_seq (never backwards), role."""
        if "last_read_seq" in values:
            seq = values["last_read_seq"]
            # GREATEST in PostgreSQL, max() in SQLite: CASE works in both
            values["last_read_seq"] = case(
                (chat_members.c.last_read_seq < seq, seq), else_=chat_members.c.last_read_seq
            )
        async with self._engine.begin() as connection:
            await connection.execute(
                update(chat_members)
                .where(
                    (chat_members.c.chat_id == chat_id) & (chat_members.c.profile_id == profile_id)
                )
                .values(**values)
            )

    async def listing(self, profile_ids: list[str]) -> list[ChatListing]:
        """Every chat of these profiles with the member's state, the last message and
        the number unread."""
        if not profile_ids:
            return []
        async with self._engine.connect() as connection:
            rows = (
                await connection.execute(
                    select(chats, chat_members)
                    .join(chat_members, chat_members.c.chat_id == chats.c.id)
                    .where(chat_members.c.profile_id.in_(profile_ids))
                )
            ).all()
            found = []
            for row in rows:
                chat = _chat(row)
                state = _state(row)
                last_row = (
                    await connection.execute(
                        select(messages).where(
                            (messages.c.chat_id == chat.id)
                            & (messages.c.seq == chat.last_seq)
                            & (messages.c.seq > state.cleared_seq)
                        )
                    )
                ).first()
                unread = (
                    await connection.execute(
                        select(func.count())
                        .select_from(messages)
                        .where(
                            (messages.c.chat_id == chat.id)
                            & (messages.c.seq > state.last_read_seq)
                            & (messages.c.seq > state.cleared_seq)
                            & messages.c.deleted_at.is_(None)
                            & (messages.c.kind != "system")  # notices are not "unread"
                            & messages.c.sender_id.is_distinct_from(row._mapping["profile_id"])
                        )
                    )
                ).scalar_one()
                found.append(
                    ChatListing(
                        chat, state, None if last_row is None else _message(last_row), int(unread)
                    )
                )
        return found

    # -- messages -------------------------------------------------------------------------------

    async def _append(
        self, connection: AsyncConnection, chat_id: str, draft: MessageDraft, now: datetime
    ) -> Message:
        seq = int(
            (
                await connection.execute(
                    update(chats)
                    .where(chats.c.id == chat_id)
                    .values(last_seq=chats.c.last_seq + 1)
                    .returning(chats.c.last_seq)
                )
            ).scalar_one()
        )
        message = Message(
            id=new_id(),
            chat_id=chat_id,
            seq=seq,
            sender_id=draft.sender_id,
            kind=draft.kind,
            body=draft.body,
            meta=dict(draft.meta),
            file_id=draft.file_id,
            created_at=now,
            edited_at=None,
            deleted_at=None,
            transcript_status=draft.transcript_status,
        )
        await connection.execute(
            insert(messages).values(
                id=message.id,
                chat_id=chat_id,
                seq=seq,
                sender_id=draft.sender_id,
                kind=draft.kind,
                body=draft.body,
                meta=message.meta,
                file_id=draft.file_id,
                created_at=now,
                transcript_status=draft.transcript_status,
            )
        )
        return message

    async def post(self, chat_id: str, draft: MessageDraft, now: datetime) -> Message:
        async with self._engine.begin() as connection:
            message = await self._append(connection, chat_id, draft, now)
            if draft.sender_id is not None:  # one's own message is read
                await connection.execute(
                    update(chat_members)
                    .where(
                        (chat_members.c.chat_id == chat_id)
                        & (chat_members.c.profile_id == draft.sender_id)
                    )
                    .values(last_read_seq=message.seq, marked_unread=False)
                )
        return message

    async def message(self, chat_id: str, message_id: str) -> Message | None:
        async with self._engine.connect() as connection:
            row = (
                await connection.execute(
                    select(messages).where(
                        (messages.c.chat_id == chat_id) & (messages.c.id == message_id)
                    )
                )
            ).first()
        return None if row is None else _message(row)

    async def edit(self, message_id: str, body: str, now: datetime) -> None:
        async with self._engine.begin() as connection:
            await connection.execute(
                update(messages).where(messages.c.id == message_id).values(body=body, edited_at=now)
            )

    async def set_transcript(
        self,
        message_id: str,
        *,
        status: str,
        text: str | None = None,
        language: str | None = None,
        reason: str | None = None,
    ) -> bool:
        """A voice message's transcript, or why there is none; False when the message
        was deleted meanwhile."""
        async with self._engine.begin() as connection:
            result = await connection.execute(
                update(messages)
                .where((messages.c.id == message_id) & messages.c.deleted_at.is_(None))
                .values(
                    transcript=text,
                    transcript_status=status,
                    transcript_language=language,
                    transcript_reason=reason,
                )
            )
        return bool(result.rowcount)

    async def message_by_id(self, message_id: str) -> Message | None:
        async with self._engine.connect() as connection:
            row = (
                await connection.execute(select(messages).where(messages.c.id == message_id))
            ).first()
        return None if row is None else _message(row)

    async def set_meta(self, message_id: str, meta: dict[str, Any]) -> None:
        async with self._engine.begin() as connection:
            await connection.execute(
                update(messages).where(messages.c.id == message_id).values(meta=meta)
            )

    async def delete_message(self, message_id: str, now: datetime) -> None:
        async with self._engine.begin() as connection:
            await connection.execute(
                update(messages)
                .where(messages.c.id == message_id)
                .values(body="", meta={}, file_id=None, transcript=None, deleted_at=now)
            )

    async def history(
        self, chat_id: str, *, before: int | None, limit: int, after_seq: int
    ) -> list[Message]:
        """Newest first: up to `limit` messages with seq < `before` and > `after_seq`
        (the member's cleared history)."""
        where = and_(messages.c.chat_id == chat_id, messages.c.seq > after_seq)
        if before is not None:
            where = and_(where, messages.c.seq < before)
        query = select(messages).where(where).order_by(messages.c.seq.desc()).limit(limit)
        async with self._engine.connect() as connection:
            return [_message(r) for r in (await connection.execute(query)).all()]

    # -- folders --------------------------------------------------------------------------------

    async def folders(self, user_id: str) -> list[Folder]:
        query = (
            select(folders)
            .where(folders.c.user_id == user_id)
            .order_by(folders.c.position, folders.c.created_at)
        )
        async with self._engine.connect() as connection:
            return [
                Folder(r.id, r.name, int(r.position))
                for r in (await connection.execute(query)).all()
            ]

    async def add_folder(self, user_id: str, name: str, now: datetime) -> Folder:
        async with self._engine.begin() as connection:
            count = (
                await connection.execute(
                    select(func.count()).select_from(folders).where(folders.c.user_id == user_id)
                )
            ).scalar_one()
            folder = Folder(new_id(), name, int(count))
            await connection.execute(
                insert(folders).values(
                    id=folder.id,
                    user_id=user_id,
                    name=name,
                    position=folder.position,
                    created_at=now,
                )
            )
        return folder

    async def rename_folder(self, user_id: str, folder_id: str, name: str) -> bool:
        async with self._engine.begin() as connection:
            done = await connection.execute(
                update(folders)
                .where((folders.c.id == folder_id) & (folders.c.user_id == user_id))
                .values(name=name)
            )
        return bool(done.rowcount)

    async def delete_folder(self, user_id: str, folder_id: str) -> bool:
        """The chats in it stay, in no folder."""
        async with self._engine.begin() as connection:
            await connection.execute(
                update(chat_members)
                .where(chat_members.c.folder_id == folder_id)
                .values(folder_id=None)
            )
            done = await connection.execute(
                delete(folders).where((folders.c.id == folder_id) & (folders.c.user_id == user_id))
            )
        return bool(done.rowcount)

    async def folder_owner(self, folder_id: str) -> str | None:
        async with self._engine.connect() as connection:
            return (
                await connection.execute(select(folders.c.user_id).where(folders.c.id == folder_id))
            ).scalar_one_or_none()
