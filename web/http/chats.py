"""Chats over HTTP: chats, members, invites with QR codes, messages, read state, each
member's own view (folders, archive, pins, unread mark, mute, cleared history), and
the school's page."""

from __future__ import annotations

import functools
import io
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import segno
from aiohttp import web

from chat.content import OCTET_STREAM
from chat.service import ChatService, Forbidden, Invalid, NotFound, Seat, describe_message
from store.accounts import QuietHours
from store.chats import ChatListing, MemberState, MessageDraft
from web import keys
from web.auth import USER, user_of
from web.bodies.chats import (
    MAX_VOICE_SECONDS,
    ChatsQuery,
    ChatState,
    EditedText,
    FolderName,
    HistoryQuery,
    Leaving,
    MemberRole,
    NewChat,
    NewMessage,
    QuietHoursBody,
    ReadMark,
)
from web.errors import Refused
from web.guard import link
from web.validation import body, query

routes = web.RouteTableDef()

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def answers(handler: Handler) -> Handler:
    """The service's refusals as JSON errors: 404, 403, 400."""

    @functools.wraps(handler)
    async def wrapped(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except NotFound:
            raise Refused(404, "not_found", "no such chat or message") from None
        except Forbidden as exc:
            raise Refused(403, "forbidden", str(exc)) from None
        except Invalid as exc:
            raise Refused(400, "bad_field", str(exc)) from None

    return wrapped


def _service(request: web.Request) -> ChatService:
    return request.app[keys.CHAT_SERVICE]


async def _seat(request: web.Request, *, member: bool = True) -> Seat:
    return await _service(request).seat(user_of(request), request.match_info["chat"], member=member)


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _state(state: MemberState) -> dict[str, Any]:
    """The caller's own view of a chat."""
    return {
        "marked_unread": state.marked_unread,
        "archived": state.archived,
        "pinned_order": state.pinned_order,
        "folder_id": state.folder_id,
        "muted_until": _iso(state.muted_until),
        "last_read_seq": state.last_read_seq,
    }


def _listing(entry: ChatListing) -> dict[str, Any]:
    chat, state = entry.chat, entry.state
    return {
        "id": chat.id,
        "org_id": chat.org_id,
        "kind": chat.kind,
        "title": chat.title,
        "public": chat.public,
        "role": state.role,
        "unread": entry.unread,
        "marked_unread": state.marked_unread,
        "archived": state.archived,
        "pinned_order": state.pinned_order,
        "folder_id": state.folder_id,
        "muted_until": _iso(state.muted_until),
        "last_read_seq": state.last_read_seq,
        "last_message": None if entry.last is None else describe_message(entry.last, {}),
    }


# -- chats ----------------------------------------------------------------------------------


@routes.post("/api/chats")
@answers
@body(NewChat)
async def create(request: web.Request, new: NewChat) -> web.Response:
    """A chat (or, for a teacher, a channel) in one of the caller's schools."""
    chat, _ = await _service(request).create(
        user_of(request), new.org_id, new.title, new.kind, new.public
    )
    return web.json_response({"id": chat.id, "title": chat.title, "kind": chat.kind}, status=201)


@routes.get("/api/chats")
@answers
@query(ChatsQuery)
async def listing(request: web.Request, asked: ChatsQuery) -> web.Response:
    """The caller's chats: pinned first (in their order), then by latest activity."""
    service = _service(request)
    profiles = await service.accounts.profiles_of(user_of(request).id)
    entries = await service.chats.listing([p.id for p in profiles])
    folder = asked.folder
    archived = asked.archived in ("1", "true")
    shown = [
        e
        for e in entries
        if e.state.archived == archived and (folder is None or e.state.folder_id == folder)
    ]
    shown.sort(
        key=lambda e: (e.state.pinned_order is None, e.state.pinned_order or 0, _activity(e))
    )
    return web.json_response({"chats": [_listing(e) for e in shown]})


def _activity(entry: ChatListing) -> float:
    return -(entry.last.created_at.timestamp() if entry.last is not None else 0.0)


@routes.get("/api/chats/{chat}")
@answers
async def one(request: web.Request) -> web.Response:
    seat = await _seat(request, member=False)
    members = await _service(request).chats.members(seat.chat.id)
    return web.json_response(
        {
            "id": seat.chat.id,
            "org_id": seat.chat.org_id,
            "kind": seat.chat.kind,
            "title": seat.chat.title,
            "public": seat.chat.public,
            "member": seat.state is not None,
            "role": None if seat.state is None else seat.state.role,
            "me": seat.profile.id,
            "state": None if seat.state is None else _state(seat.state),
            "members": [
                {
                    "profile_id": m.profile_id,
                    "full_name": m.full_name,
                    "profile_role": m.profile_role,
                    "role": m.role,
                    "last_read_seq": m.last_read_seq,
                }
                for m in members
            ],
        }
    )


@routes.post("/api/chats/{chat}/join")
@answers
async def join_public(request: web.Request) -> web.Response:
    seat = await _seat(request, member=False)
    await _service(request).join(user_of(request), seat.chat)
    return web.json_response({"id": seat.chat.id, "joined": True})


@routes.post("/api/chats/{chat}/leave")
@answers
@body(Leaving, optional=True)
async def leave(request: web.Request, leaving: Leaving) -> web.Response:
    """Leave the chat, optionally deleting one's messages for everyone."""
    seat = await _seat(request)
    await _service(request).leave(seat, delete_messages=leaving.delete_messages)
    return web.json_response({"left": True})


@routes.patch("/api/chats/{chat}/members/{profile}")
@answers
@body(MemberRole)
async def set_member_role(request: web.Request, asked: MemberRole) -> web.Response:
    """The chat's owner makes a member an admin, or a member again."""
    seat = await _seat(request)
    if seat.state is None or seat.state.role != "owner":
        raise Forbidden("only the chat's owner sets roles")
    role = asked.role
    target = request.match_info["profile"]
    if (
        target == seat.profile.id
        or await _service(request).chats.state(seat.chat.id, target) is None
    ):
        raise NotFound
    await _service(request).chats.set_role(seat.chat.id, target, role)
    return web.json_response({"profile_id": target, "role": role})


# -- invites ---------------------------------------------------------------------------------


@routes.post("/api/chats/{chat}/invite")
@routes.get("/api/chats/{chat}/invite")
@answers
async def invite(request: web.Request) -> web.Response:
    seat = await _seat(request)
    if request.method == "POST":
        if not seat.can_manage:
            raise Forbidden("only the chat's owner and admins renew its invite")
        code: str | None = await _service(request).chats.renew_invite(seat.chat.id)
    else:
        code = seat.chat.invite_code
    if code is None:
        raise NotFound
    base = f"/api/chats/{seat.chat.id}/invite"
    return web.json_response(
        {
            "code": code,
            "url": link(request, f"/invite/{code}"),
            "qr_png": f"{base}.png",
            "qr_svg": f"{base}.svg",
        }
    )


@routes.get(r"/api/chats/{chat}/invite.{format:png|svg}")
@answers
async def invite_qr(request: web.Request) -> web.Response:
    """The invite link as a QR code, PNG or SVG."""
    seat = await _seat(request)
    if seat.chat.invite_code is None:
        raise NotFound
    qr = segno.make(link(request, f"/invite/{seat.chat.invite_code}"), error="m")
    out = io.BytesIO()
    if request.match_info["format"] == "png":
        qr.save(out, kind="png", scale=8, border=4)
        content_type = "image/png"
    else:
        qr.save(out, kind="svg", scale=8, border=4, xmldecl=False)
        content_type = "image/svg+xml"
    return web.Response(
        body=out.getvalue(), content_type=content_type, headers={"Cache-Control": "no-store"}
    )


@routes.get("/api/invites/{code}")
async def invite_info(request: web.Request) -> web.Response:
    """What an invite leads to, and the steps still to take (a public path: the
    landing page asks it before the visitor has logged in)."""
    service = _service(request)
    chat = await service.chats.chat_by_invite(request.match_info["code"])
    if chat is None:
        raise Refused(404, "not_found", "this invite link does not work any more")
    org = await service.accounts.organisation(chat.org_id)
    user = request.get(USER)
    steps = []
    profile = None if user is None else await service.profile_in(user, chat.org_id)
    if user is None:
        steps.append({"step": "log_in", "text": "Log in, or create an account"})
    if profile is None:
        steps.append(
            {
                "step": "create_profile",
                "text": "Create your profile in this school with the invite code your "
                "school gave you (teacher, student or parent)",
            }
        )
    joined = profile is not None and await service.chats.state(chat.id, profile.id) is not None
    if not joined:
        steps.append({"step": "join", "text": f"Join {chat.title}"})
    return web.json_response(
        {
            "chat": {"id": chat.id if joined else None, "title": chat.title, "kind": chat.kind},
            "organisation": {"name": org.name if org else ""},
            "logged_in": user is not None,
            "has_profile": profile is not None,
            "member": joined,
            "steps": steps,
        }
    )


@routes.post("/api/invites/{code}/join")
@answers
async def invite_join(request: web.Request) -> web.Response:
    user = request.get(USER)
    if user is None:
        raise Refused(401, "unauthorized", "log in first")
    service = _service(request)
    chat = await service.chats.chat_by_invite(request.match_info["code"])
    if chat is None:
        raise Refused(404, "not_found", "this invite link does not work any more")
    if await service.profile_in(user, chat.org_id) is None:
        raise Refused(
            409, "profile_needed", "create your profile in this school first (POST /api/profiles)"
        )
    await service.join(user, chat)
    return web.json_response({"id": chat.id, "joined": True})


# -- messages ---------------------------------------------------------------------------------


VOICE_TYPES = ("audio/webm", "audio/ogg")


@routes.post("/api/chats/{chat}/messages")
@answers
@body(NewMessage)
async def post_message(request: web.Request, new: NewMessage) -> web.Response:
    """Text, or a file (`file_id` of one's own complete upload into this chat, with an
    optional caption), or a voice message (`kind: "voice"`, Opus in WebM or Ogg, with its
    `duration` in seconds; its transcript comes later)."""
    seat = await _seat(request)
    if new.file_id is None:
        draft = MessageDraft(kind="text", body=new.text, sender_id=seat.profile.id)
    else:
        draft = await _attachment(request, seat, new.file_id, new.kind)
        draft.body = new.text
        if draft.kind == "voice":
            if new.duration is None:
                raise Invalid(f"a voice message has a 'duration' of 0 to {MAX_VOICE_SECONDS} s")
            draft.meta["duration"] = round(new.duration, 2)
            if _service(request).transcribes:
                draft.transcript_status = "pending"
    message = await _service(request).post(seat, draft)
    return web.json_response(
        describe_message(message, {seat.profile.id: seat.profile.full_name}), status=201
    )


async def _attachment(request: web.Request, seat: Seat, file_id: str, kind: str) -> MessageDraft:
    stored = await request.app[keys.FILES].get(file_id)
    if stored is None or stored.chat_id != seat.chat.id or stored.uploader_id != seat.profile.id:
        raise Invalid("file_id is not a file you uploaded into this chat")
    if not stored.complete:
        raise Invalid("the upload is not complete yet")
    if kind == "voice" and stored.inline_type not in VOICE_TYPES:  # what its bytes are
        raise Invalid("a voice message is Opus audio in WebM or Ogg")
    meta = {
        "file": {
            "id": stored.id,
            "filename": stored.filename,
            "size": stored.length,
            # how the server serves it (from its bytes), not what the uploader declared
            "content_type": stored.inline_type or OCTET_STREAM,
            "sha256": stored.sha256,
            "url": f"/api/files/{stored.id}",
        }
    }
    return MessageDraft(kind=kind, body="", sender_id=seat.profile.id, meta=meta, file_id=stored.id)


@routes.get("/api/chats/{chat}/messages")
@answers
@query(HistoryQuery)
async def history(request: web.Request, asked: HistoryQuery) -> web.Response:
    """Newest first, `limit` at a time; `before` (a seq) pages back."""
    seat = await _seat(request)
    assert seat.state is not None
    before, limit = asked.before, asked.limit
    service = _service(request)
    page = await service.chats.history(
        seat.chat.id, before=before, limit=limit, after_seq=seat.state.cleared_seq
    )
    names = {m.profile_id: m.full_name for m in await service.chats.members(seat.chat.id)}
    missing = {m.sender_id for m in page if m.sender_id and m.sender_id not in names}
    for profile_id in missing:  # people who left
        profile = await service.accounts.profile(profile_id)
        if profile is not None:
            names[profile_id] = profile.full_name
    return web.json_response(
        {
            "messages": [describe_message(m, names) for m in page],
            "next_before": page[-1].seq if len(page) == limit and page[-1].seq > 1 else None,
        }
    )


@routes.patch("/api/chats/{chat}/messages/{message}")
@answers
@body(EditedText)
async def edit_message(request: web.Request, edit: EditedText) -> web.Response:
    """One's own message's new text."""
    seat = await _seat(request)
    edited = await _service(request).edit(seat, request.match_info["message"], edit.text)
    return web.json_response(describe_message(edited, {seat.profile.id: seat.profile.full_name}))


@routes.delete("/api/chats/{chat}/messages/{message}")
@answers
async def delete_message(request: web.Request) -> web.Response:
    seat = await _seat(request)
    await _service(request).delete(seat, request.match_info["message"])
    return web.Response(status=204)


@routes.post("/api/chats/{chat}/read")
@answers
@body(ReadMark)
async def read(request: web.Request, mark: ReadMark) -> web.Response:
    """Read up to `seq`, the number of the last message read."""
    seat = await _seat(request)
    await _service(request).read(seat, mark.seq)
    return web.json_response({"last_read_seq": min(mark.seq, seat.chat.last_seq)})


# -- each member's own view --------------------------------------------------------------------


@routes.patch("/api/chats/{chat}/state")
@answers
@body(ChatState)
async def set_state(request: web.Request, state: ChatState) -> web.Response:
    """Archive, pin (with order), mark unread, mute until, put in a folder."""
    seat = await _seat(request)
    values: dict[str, Any] = {name: getattr(state, name) for name in state.model_fields_set}
    for flag in ("archived", "marked_unread"):
        if flag in values and values[flag] is None:
            raise Invalid(f"{flag} is true or false")
    folder = values.get("folder_id")
    chats = _service(request).chats
    if folder is not None and await chats.folder_owner(folder) != user_of(request).id:
        raise NotFound
    if not values:
        raise Invalid("nothing to change")
    await _service(request).chats.update_state(seat.chat.id, seat.profile.id, **values)
    return web.json_response({"changed": sorted(values)})


@routes.post("/api/chats/{chat}/clear")
@answers
async def clear_history(request: web.Request) -> web.Response:
    """Clear the history for me: the others keep it."""
    seat = await _seat(request)
    await _service(request).chats.update_state(
        seat.chat.id, seat.profile.id, cleared_seq=seat.chat.last_seq
    )
    return web.json_response({"cleared_seq": seat.chat.last_seq})


@routes.post("/api/folders")
@body(FolderName)
async def add_folder(request: web.Request, asked: FolderName) -> web.Response:
    """A folder of one's own for chats."""
    chats = request.app[keys.CHAT_SERVICE].chats
    folder = await chats.add_folder(user_of(request).id, asked.name, datetime.now().astimezone())
    return web.json_response({"id": folder.id, "name": folder.name}, status=201)


@routes.get("/api/folders")
async def folders(request: web.Request) -> web.Response:
    """One's folders, in order."""
    chats = request.app[keys.CHAT_SERVICE].chats
    found = await chats.folders(user_of(request).id)
    return web.json_response(
        {"folders": [{"id": f.id, "name": f.name, "position": f.position} for f in found]}
    )


async def _own_folder(request: web.Request) -> str:
    folder_id = request.match_info["folder"]
    if await request.app[keys.CHAT_SERVICE].chats.folder_owner(folder_id) != user_of(request).id:
        raise Refused(404, "not_found", "no such folder")
    return folder_id


@routes.patch("/api/folders/{folder}")
@body(FolderName)
async def rename_folder(request: web.Request, asked: FolderName) -> web.Response:
    folder_id = await _own_folder(request)
    if not await request.app[keys.CHAT_SERVICE].chats.rename_folder(
        user_of(request).id, folder_id, asked.name
    ):
        raise Refused(404, "not_found", "no such folder")
    return web.Response(status=204)


@routes.delete("/api/folders/{folder}")
async def delete_folder(request: web.Request) -> web.Response:
    """The folder goes; its chats stay, in no folder."""
    folder_id = await _own_folder(request)
    if not await request.app[keys.CHAT_SERVICE].chats.delete_folder(user_of(request).id, folder_id):
        raise Refused(404, "not_found", "no such folder")
    return web.Response(status=204)


# -- quiet hours and the school's page -------------------------------------------------------------


@routes.put("/api/profiles/{profile}/quiet-hours")
@body(QuietHoursBody)
async def set_quiet_hours(request: web.Request, asked: QuietHoursBody) -> web.Response:
    """A member's working hours (their own profile only): `{"days": [1,2,3,4,5],
    "from": "08:00", "to": "17:00", "time_zone": "Europe/Moscow"}`, or `days: null` for
    none."""
    service = request.app[keys.CHAT_SERVICE]
    profile = await service.accounts.profile(request.match_info["profile"])
    if profile is None or profile.user_id != user_of(request).id:
        raise Refused(404, "not_found", "no such profile of yours")
    await service.accounts.set_quiet_hours(profile.id, _quiet_hours(asked))
    return web.Response(status=204)


def _quiet_hours(asked: QuietHoursBody) -> QuietHours | None:
    if asked.days is None:
        return None
    assert asked.from_ is not None and asked.to is not None and asked.time_zone is not None

    def minutes(text: str) -> int:
        hour, minute = (int(x) for x in text.split(":"))
        return min(hour * 60 + minute, 24 * 60)

    days = tuple(sorted(set(asked.days)))
    return QuietHours(days, minutes(asked.from_), minutes(asked.to), asked.time_zone)


@routes.get("/api/orgs/{org}")
async def school_page(request: web.Request) -> web.Response:
    """The organisation's page, for its members: teachers and students by role with
    counts, its public chats and channels, and its upcoming events."""
    from web.http.accounts import describe_profile, visible_organisation

    org, admin = await visible_organisation(request, request.match_info["org"])
    service = request.app[keys.CHAT_SERVICE]
    people = await service.accounts.members(org.id)
    by_role: dict[str, list[dict[str, Any]]] = {"teacher": [], "student": [], "parent": []}
    for person in people:
        by_role.setdefault(person.role, []).append(describe_profile(person))
    me = await service.profile_in(user_of(request), org.id)
    public = []
    seen: dict[str, str] = {}  # chats whose lessons the caller may see: id -> title
    for chat in await service.chats.public_chats(org.id):
        joined = me is not None and await service.chats.state(chat.id, me.id) is not None
        public.append({"id": chat.id, "title": chat.title, "kind": chat.kind, "member": joined})
        seen[chat.id] = chat.title
    if me is not None:
        for entry in await service.chats.listing([me.id]):
            seen[entry.chat.id] = entry.chat.title
    events = await _upcoming(request, seen)
    return web.json_response(
        {
            "id": org.id,
            "name": org.name,
            "admin": admin,
            "counts": {role: len(found) for role, found in by_role.items()},
            "people": by_role,
            "chats": [c for c in public if c["kind"] == "group"],
            "channels": [c for c in public if c["kind"] == "channel"],
            "events": events,
        }
    )


async def _upcoming(request: web.Request, chats: dict[str, str]) -> list[dict[str, Any]]:
    """Lessons scheduled on behalf of these chats that are still to come, soonest first."""
    from model.schedule import next_occurrence

    found = []
    at = datetime.now().astimezone()
    for stored in await request.app[keys.SCHEDULES].of_chats(list(chats)):
        assert stored.chat_id is not None
        upcoming = next_occurrence(stored.schedule, at)
        if upcoming is None:
            continue
        found.append(
            {
                "schedule_id": stored.schedule.uid,
                "title": stored.schedule.title,
                "chat": {"id": stored.chat_id, "title": chats[stored.chat_id]},
                "start": upcoming.start.isoformat(),
                "end": upcoming.end.isoformat(),
                "time_zone": stored.schedule.time_zone,
            }
        )
    return sorted(found, key=lambda e: str(e["start"]))
