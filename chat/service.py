"""The chat service: the rules, the store and live delivery together.

Closed contour: a chat belongs to one organisation. Only its members see it, except a
public chat or channel, which every member of the organisation may see and join. For
anyone else a chat does not exist: every call here raises NotFound, never Forbidden,
for a chat the caller may not see.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from chat.bus import Bus
from chat.focus import LocalFocus
from chat.quiet import is_quiet
from store.accounts import AccountStore, Profile, User
from store.chats import Chat, ChatStore, MemberState, Message, MessageDraft

MAX_TEXT = 4000
NOTIFYING = ("call_reminder",)  # notices that notify like messages do
KINDS = ("group", "channel")


class NotFound(Exception):
    """Not there, or not for the caller to see: the same answer either way."""


class Forbidden(Exception):
    """Seen, but not the caller's to do; the message says why."""


class Invalid(ValueError):
    """Bad input; the message says what."""


@dataclass(frozen=True)
class Seat:
    """The caller in a chat: the chat, their profile in its organisation, and their
    membership (None for a public chat they have not joined)."""

    chat: Chat
    profile: Profile
    state: MemberState | None

    @property
    def can_manage(self) -> bool:
        return self.state is not None and self.state.role in ("owner", "admin")

    @property
    def can_post(self) -> bool:
        return self.state is not None and (self.chat.kind == "group" or self.can_manage)


def now() -> datetime:
    return datetime.now(UTC)


def system(event: str, profile: Profile | None = None, **extra: Any) -> MessageDraft:
    meta: dict[str, Any] = {"event": event, **extra}
    if profile is not None:
        meta["profile_id"] = profile.id
        meta["full_name"] = profile.full_name
    return MessageDraft(kind="system", body="", sender_id=None, meta=meta)


class ChatService:
    def __init__(
        self,
        accounts: AccountStore,
        chats: ChatStore,
        bus: Bus,
        focus: LocalFocus | None = None,
        *,
        transcribes: bool = False,
    ) -> None:
        """`bus`: this node's hub, and in a cluster every other node's; `focus`: in a
        cluster, who reads which chat on other nodes; `transcribes`: voice messages are
        transcribed, each starts "pending" and is handed to every listener once posted
        (the server's transcription queue)."""
        self.accounts = accounts
        self.chats = chats
        self.bus = bus
        self.focus = focus or LocalFocus()
        self.transcribes = transcribes
        self.posted_listeners: list[Callable[[Message], Awaitable[None]]] = []

    # -- who sees what ---------------------------------------------------------------------

    async def profile_in(self, user: User, org_id: str) -> Profile | None:
        for profile in await self.accounts.profiles_of(user.id):
            if profile.org_id == org_id:
                return profile
        return None

    async def seat(self, user: User, chat_id: str, *, member: bool = True) -> Seat:
        """The caller's seat in a chat they may see; NotFound otherwise. With
        `member`, they must have joined it."""
        chat = await self.chats.chat(chat_id)
        if chat is None:
            raise NotFound
        profile = await self.profile_in(user, chat.org_id)
        if profile is None:
            raise NotFound
        state = await self.chats.state(chat.id, profile.id)
        if state is None and (member or not chat.public):
            raise NotFound
        return Seat(chat, profile, state)

    # -- chats -------------------------------------------------------------------------------

    async def create(
        self, user: User, org_id: str, title: str, kind: str, public: bool
    ) -> tuple[Chat, Message]:
        profile = await self.profile_in(user, org_id)
        if profile is None:
            raise NotFound
        if kind not in KINDS:
            raise Invalid("kind is group or channel")
        teacher = profile.role == "teacher"
        if kind == "channel" and not teacher and not await self.accounts.is_admin(org_id, user.id):
            raise Forbidden("channels are made by teachers and the school's admins")
        return await self.chats.create(
            org_id=org_id,
            kind=kind,
            title=title,
            public=public,
            owner_id=profile.id,
            now=now(),
            first=system("created", profile, title=title),
        )

    async def join(self, user: User, chat: Chat) -> Message | None:
        """Join a chat one may see (public in one's school, or by its invite)."""
        profile = await self.profile_in(user, chat.org_id)
        if profile is None:
            raise NotFound
        notice = await self.chats.join(chat.id, profile.id, now(), system("joined", profile))
        if notice is not None:
            await self.deliver(chat, notice)
        return notice

    async def leave(self, seat: Seat, *, delete_messages: bool) -> None:
        notice, deleted = await self.chats.leave(
            seat.chat.id,
            seat.profile.id,
            now(),
            system("left", seat.profile),
            delete_messages=delete_messages,
        )
        for seq in deleted:
            await self._tell_members(
                seat.chat, {"type": "message_deleted", "chat_id": seat.chat.id, "seq": seq}
            )
        await self.deliver(seat.chat, notice)
        # the one who left learns it on their other devices
        self.bus.publish([seat.profile.user_id], {"type": "chat_left", "chat_id": seat.chat.id})

    # -- messages ------------------------------------------------------------------------------

    async def post(self, seat: Seat, draft: MessageDraft) -> Message:
        if not seat.can_post:
            raise Forbidden("only the channel's admins post in it")
        if draft.kind == "text" and not 1 <= len(draft.body.strip()) <= MAX_TEXT:
            raise Invalid(f"a message is 1 to {MAX_TEXT} characters")
        if len(draft.body) > MAX_TEXT:
            raise Invalid(f"a message is 1 to {MAX_TEXT} characters")
        message = await self.chats.post(seat.chat.id, draft, now())
        await self.deliver(seat.chat, message, sender=seat.profile)
        for listener in self.posted_listeners:
            await listener(message)
        return message

    async def edit(self, seat: Seat, message_id: str, text: str) -> Message:
        message = await self.chats.message(seat.chat.id, message_id)
        if message is None or message.deleted_at is not None:
            raise NotFound
        if message.sender_id != seat.profile.id or message.kind == "system":
            raise Forbidden("only its author edits a message")
        if not 1 <= len(text.strip()) <= MAX_TEXT:
            raise Invalid(f"a message is 1 to {MAX_TEXT} characters")
        await self.chats.edit(message.id, text, now())
        edited = await self.chats.message(seat.chat.id, message_id)
        assert edited is not None
        await self._tell_members(
            seat.chat,
            {
                "type": "message_edited",
                "message": self.describe(edited, {seat.profile.id: seat.profile.full_name}),
            },
        )
        return edited

    async def delete(self, seat: Seat, message_id: str) -> None:
        message = await self.chats.message(seat.chat.id, message_id)
        if message is None or message.deleted_at is not None:
            raise NotFound
        if message.sender_id != seat.profile.id and not seat.can_manage:
            raise Forbidden("only its author or the chat's admins delete a message")
        await self.chats.delete_message(message.id, now())
        await self._tell_members(
            seat.chat, {"type": "message_deleted", "chat_id": seat.chat.id, "seq": message.seq}
        )

    async def read(self, seat: Seat, seq: int) -> None:
        assert seat.state is not None
        seq = max(0, min(seq, seat.chat.last_seq))
        await self.chats.update_state(
            seat.chat.id, seat.profile.id, last_read_seq=seq, marked_unread=False
        )
        await self._tell_members(
            seat.chat,
            {"type": "read", "chat_id": seat.chat.id, "profile_id": seat.profile.id, "seq": seq},
        )

    async def notice(self, chat_id: str, draft: MessageDraft) -> Message | None:
        """A notice from parta itself into a chat (a lesson about to start)."""
        chat = await self.chats.chat(chat_id)
        if chat is None:
            return None
        message = await self.chats.post(chat.id, draft, now())
        await self.deliver(chat, message)
        return message

    async def updated(self, message_id: str) -> Message | None:
        """Tell the chat's members that a message changed without being edited by its
        author (its transcript arrived, a recording got its captions)."""
        message = await self.chats.message_by_id(message_id)
        if message is None:
            return None
        chat = await self.chats.chat(message.chat_id)
        if chat is None:
            return None
        names: dict[str, str] = {}
        if message.sender_id is not None:
            sender = await self.accounts.profile(message.sender_id)
            if sender is not None:
                names[sender.id] = sender.full_name
        await self._tell_members(
            chat,
            {
                "type": "message_updated",
                "chat_id": chat.id,
                "message": self.describe(message, names),
            },
        )
        return message

    # -- delivery ---------------------------------------------------------------------------------

    async def _tell_members(self, chat: Chat, event: dict[str, Any]) -> None:
        members = await self.chats.member_user_ids(chat.id)
        self.bus.publish({user_id for user_id, _ in members}, event)

    async def deliver(self, chat: Chat, message: Message, sender: Profile | None = None) -> None:
        """A new message to every member online, and a notification to those not
        looking at the chat: none for a muted chat, a silent one outside the
        recipient's working hours. One query and three envelopes, whatever the number
        of members: no await per member. Whether someone is online and what they are
        looking at is each node's to judge, for the connections it has; in a cluster,
        those reading the chat on another node are left out first (one Redis round
        trip, `focus.py`)."""
        audience = await self.chats.audience(chat.id)
        names = {sender.id: sender.full_name} if sender is not None else {}
        described = self.describe(message, names)
        self.bus.publish(
            {member.user_id for member in audience},
            {"type": "message", "chat_id": chat.id, "message": described},
        )
        if message.kind == "system" and message.meta.get("event") not in NOTIFYING:
            return
        at = now()
        loud: set[str] = set()
        silent: set[str] = set()
        for member in audience:
            if member.profile_id == message.sender_id:
                continue
            if member.muted_until is not None and _aware(member.muted_until) > at:
                continue
            quiet = member.quiet_hours is not None and is_quiet(member.quiet_hours, at)
            (silent if quiet else loud).add(member.user_id)
        reading = await self.focus.reading(loud | silent, chat.id)
        loud, silent = loud - reading, silent - reading
        for users, is_silent in ((loud, False), (silent, True)):
            if users:
                self.bus.publish(
                    users,
                    {
                        "type": "notification",
                        "chat_id": chat.id,
                        "title": chat.title,
                        "message": described,
                        "silent": is_silent,
                    },
                    unless_focused=chat.id,
                )

    @staticmethod
    def describe(message: Message, names: dict[str, str]) -> dict[str, Any]:
        return describe_message(message, names)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def describe_message(message: Message, names: dict[str, str]) -> dict[str, Any]:
    deleted = message.deleted_at is not None
    return {
        "id": message.id,
        "chat_id": message.chat_id,
        "seq": message.seq,
        "sender": None
        if message.sender_id is None
        else {"id": message.sender_id, "full_name": names.get(message.sender_id)},
        "kind": message.kind,
        "text": message.body,
        "meta": message.meta,
        "file_id": message.file_id,
        "created_at": _aware(message.created_at).isoformat(),
        "edited_at": None if message.edited_at is None else _aware(message.edited_at).isoformat(),
        "deleted": deleted,
        "transcript": message.transcript,
        "transcript_status": message.transcript_status,
        "transcript_language": message.transcript_language,
        "transcript_reason": message.transcript_reason,
    }
