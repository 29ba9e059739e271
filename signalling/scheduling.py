"""HTTP endpoints for scheduled lessons (create, list, one, "add to calendar" as .ics)
and for the history of past calls."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any
from urllib.parse import quote

import aiosmtplib
from aiohttp import web

from accounts.sessions import user_of
from chat.service import NotFound
from store.chats import MessageDraft
from store.schedules import Invitee, StoredSchedule

from . import keys
from .access import CallAccess, join_path, new_token, token_hash
from .guard import link_base
from .invites import InviteError, build_invite, check_recipients, send
from .schedule import (
    ScheduleError,
    check_schedule,
    check_time_zone,
    next_occurrence,
    to_ics,
    when_in,
)


def _error(request: web.Request, status: int, code: str, message: str) -> web.Response:
    request.app[keys.METRICS].http_errors.labels("/api/schedule", str(status)).inc()
    return web.json_response({"error": code, "message": message}, status=status)


def _url(request: web.Request, path: str) -> str:
    return link_base(request) + path


def _link(request: web.Request, stored: StoredSchedule) -> str | None:
    """The share link: the call's join link, or None while a host has it revoked."""
    access = request.app[keys.CALLS].access.get(stored.call_id)
    path = None if access is None else join_path(access.link)
    return None if path is None else _url(request, path)


def _describe(request: web.Request, stored: StoredSchedule, now: datetime) -> dict[str, Any]:
    schedule = stored.schedule
    upcoming = next_occurrence(schedule, now)
    return {
        "id": schedule.uid,
        "title": schedule.title,
        "call": stored.call_id,
        "link": _link(request, stored),
        "calendar": f"/api/schedule/{schedule.uid}/calendar.ics",
        "start": schedule.start.isoformat(timespec="minutes"),
        "time_zone": schedule.time_zone,
        "duration_minutes": (
            None if schedule.duration is None else int(schedule.duration.total_seconds() // 60)
        ),
        "repeat": schedule.rrule,
        "reminders_minutes": [int(r.total_seconds() // 60) for r in schedule.reminders],
        "waiting_room": schedule.waiting_room,
        "next": None
        if upcoming is None
        else {"start": upcoming.start.isoformat(), "end": upcoming.end.isoformat()},
    }


async def create(request: web.Request) -> web.Response:
    try:
        body = await request.json()
    except ValueError:
        return _error(request, 400, "bad_json", "send a JSON object")
    if not isinstance(body, dict):
        return _error(request, 400, "bad_json", "send a JSON object")
    try:
        start = datetime.fromisoformat(str(body.get("start", "")))
        end = datetime.fromisoformat(str(body["end"])) if body.get("end") else None
        reminders = tuple(timedelta(minutes=int(m)) for m in body.get("reminders_minutes", [15, 0]))
        schedule = check_schedule(
            title=str(body.get("title", "")),
            start=start,
            end=end,
            time_zone=str(body.get("time_zone", "")),
            duration=body.get("duration"),
            repeat=str(body.get("repeat", "never")),
            reminders=reminders,
            waiting_room=bool(body.get("waiting_room", True)),
            uid=f"{secrets.token_hex(8)}@parta",
        )
    except (ValueError, TypeError) as exc:  # ScheduleError is a ValueError
        message = str(exc) if isinstance(exc, ScheduleError) else f"bad field: {exc}"
        return _error(request, 400, "bad_schedule", message)
    user = user_of(request)
    chat_id = body.get("chat_id")
    seat = None
    if chat_id is not None:  # on behalf of a chat: its members see it and are reminded
        try:
            seat = await request.app[keys.CHAT_SERVICE].seat(user, str(chat_id))
        except NotFound:
            return _error(request, 404, "not_found", "no such chat")
        if not seat.can_post:
            return _error(request, 403, "forbidden", "only those who may post schedule here")
    call_id = "lesson-" + secrets.token_urlsafe(9).replace("_", "-")
    now = datetime.now(UTC)
    stored = await request.app[keys.SCHEDULES].add(
        schedule,
        call_id=call_id,
        now=now,
        created_by=user.id,
        chat_id=None if seat is None else seat.chat.id,
    )
    host_key = new_token()
    calls = request.app[keys.CALLS]
    calls.add_access(
        call_id,
        CallAccess(
            title=schedule.title,
            waiting_room=schedule.waiting_room,
            link=new_token(),
            scheduled=True,
            host_tokens={token_hash(host_key): "host"},
        ),
    )
    await calls.flush()
    request.app[keys.REMINDERS].wake()
    described = _describe(request, stored, now)
    if seat is not None:
        await request.app[keys.CHAT_SERVICE].post(
            seat, announcement("call_scheduled", described, seat.profile.id)
        )
    # only the organiser sees this, once: it makes whoever opens it the call's host
    described["host_link"] = _url(request, f"/call/{call_id}?host={host_key}")
    return web.json_response(described, status=201)


def announcement(event: str, described: dict[str, Any], sender: str | None) -> MessageDraft:
    """A lesson's notice in its chat: scheduled, or a reminder (see reminders.py)."""
    meta = {
        "event": event,
        "schedule_id": described["id"],
        "title": described["title"],
        "link": described["link"],
        "start": described["next"]["start"] if described["next"] else None,
        "time_zone": described["time_zone"],
    }
    return MessageDraft(kind="system", body="", sender_id=sender, meta=meta)


async def visible(request: web.Request, stored: StoredSchedule) -> bool:
    """A lesson is seen by whoever scheduled it and by the members of its chat."""
    user = user_of(request)
    if stored.created_by == user.id:
        return True
    if stored.chat_id is None:
        return False
    try:
        await request.app[keys.CHAT_SERVICE].seat(user, stored.chat_id)
    except NotFound:
        return False
    return True


async def listing(request: web.Request) -> web.Response:
    now = datetime.now(UTC)
    described = [
        _describe(request, s, now)
        for s in await request.app[keys.SCHEDULES].all()
        if await visible(request, s)
    ]
    if request.query.get("upcoming") in ("1", "true", "yes"):
        described = [d for d in described if d["next"] is not None]
        described.sort(key=lambda d: d["next"]["start"])
    return web.json_response({"calls": described})


async def _find(request: web.Request) -> StoredSchedule | None:
    """The lesson, if the caller may see it (else None: 404, as if there were none)."""
    stored: StoredSchedule | None = await request.app[keys.SCHEDULES].get(request.match_info["id"])
    if stored is None or not await visible(request, stored):
        return None
    return stored


async def one(request: web.Request) -> web.Response:
    stored = await _find(request)
    if stored is None:
        return _error(request, 404, "not_found", "no such scheduled call")
    return web.json_response(_describe(request, stored, datetime.now(UTC)))


async def calendar(request: web.Request) -> web.Response:
    stored = await _find(request)
    if stored is None:
        return _error(request, 404, "not_found", "no such scheduled call")
    body = to_ics(stored.schedule, url=_link(request, stored) or "", now=stored.created_at)
    return web.Response(
        body=body,
        content_type="text/calendar",
        charset="utf-8",
        headers={"Content-Disposition": 'attachment; filename="lesson.ics"'},
    )


async def history(request: web.Request) -> web.Response:
    """Past calls, newest first: start, end, duration and participants."""
    call_id = request.query.get("call")
    user = user_of(request)
    schedules = {s.call_id: s for s in await request.app[keys.SCHEDULES].all()}
    past = []
    for p in await request.app[keys.HISTORY].recent(call_id=call_id, limit=500):
        scheduled = schedules.get(p.call_id)
        if user.id in p.user_ids or (scheduled is not None and await visible(request, scheduled)):
            past.append(p)  # one took part, or may see the lesson
    past = past[:100]
    return web.json_response(
        {
            "calls": [
                {
                    "call": p.call_id,
                    "title": p.title,
                    "started_at": p.started_at.isoformat(),
                    "ended_at": p.ended_at.isoformat(),
                    "duration_seconds": p.duration_seconds,
                    "participants": list(p.participants),
                    "ended_by_host": p.ended_by_host,
                }
                for p in past
            ]
        }
    )


async def invite(request: web.Request) -> web.Response:
    """Invite by e-mail: sent through SMTP when configured, else offered as an .eml file."""
    stored = await _find(request)
    if stored is None:
        return _error(request, 404, "not_found", "no such scheduled call")
    try:
        body = await request.json()
        if not isinstance(body, dict):
            raise InviteError("send a JSON object")
        recipients = check_recipients(body.get("emails"))
        zone = check_time_zone(str(body.get("time_zone") or stored.schedule.time_zone))
    except ValueError as exc:  # bad JSON, InviteError or ScheduleError
        message = str(exc) if isinstance(exc, InviteError | ScheduleError) else "send JSON"
        return _error(request, 400, "bad_invite", message)
    # invitees are reminded before each lesson, in their own time zone (reminders.py)
    await request.app[keys.SCHEDULES].invite(
        stored.schedule.uid,
        [Invitee(email=r, time_zone=zone) for r in recipients],
        datetime.now(UTC),
    )
    smtp = request.app[keys.CONFIG].smtp
    if smtp is None:
        query = "&".join(f"to={quote(r)}" for r in recipients) + f"&tz={quote(zone)}"
        return web.json_response(
            {"sent": 0, "download": f"/api/schedule/{stored.schedule.uid}/invite.eml?{query}"}
        )
    try:
        await send(_invite_message(request, stored, recipients, smtp.sender, zone), smtp)
    except (OSError, aiosmtplib.SMTPException) as exc:
        return _error(request, 502, "smtp_failed", f"the mail server refused: {exc}")
    return web.json_response({"sent": len(recipients)})


async def invite_file(request: web.Request) -> web.Response:
    stored = await _find(request)
    if stored is None:
        return _error(request, 404, "not_found", "no such scheduled call")
    try:
        recipients = check_recipients(request.query.getall("to", []))
        zone = check_time_zone(request.query.get("tz") or stored.schedule.time_zone)
    except ValueError as exc:  # InviteError or ScheduleError
        return _error(request, 400, "bad_invite", str(exc))
    message = _invite_message(request, stored, recipients, "", zone)
    return web.Response(
        body=message.as_bytes(),
        content_type="message/rfc822",
        headers={"Content-Disposition": 'attachment; filename="invitation.eml"'},
    )


def _invite_message(
    request: web.Request, stored: StoredSchedule, recipients: list[str], sender: str, zone: str
) -> EmailMessage:
    schedule = stored.schedule
    link = _link(request, stored) or _url(request, "/")
    upcoming = next_occurrence(schedule, datetime.now(UTC))
    return build_invite(
        title=schedule.title,
        when=when_in(schedule, upcoming, zone),
        link=link,
        ics=to_ics(schedule, url=link, now=stored.created_at),
        sender=sender,
        recipients=recipients,
    )
