"""HTTP endpoints for scheduled lessons (create, list, one, edit, delete, "add to
calendar" as .ics) and for the history of past calls.

Only a lesson's organiser edits or deletes it; the members of its chat, who see it, are
told 403, and everybody else 404, as if there were none. Finding a lesson's next
occurrence takes a few steps however long ago it began (schedule.py); a listing of many
lessons lets other requests in after each one (evaluations_of).
"""

from __future__ import annotations

import secrets
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Annotated, Any
from urllib.parse import quote

import aiosmtplib
from aiohttp import web
from pydantic import Field, StringConstraints

from lessons.invites import InviteError, build_invite, check_recipients, send
from lessons.service import (
    MayNotPost,
    NoSuchChat,
    NotOrganiser,
    evaluations_of,
)
from model.access import join_path
from model.schedule import (
    DEFAULT_REMINDERS,
    LONGEST_REMINDER,
    MAX_REMINDERS,
    Evaluation,
    Schedule,
    ScheduleError,
    check_schedule,
    check_time_zone,
    next_occurrence,
    to_ics,
    when_in,
)
from model.schema import Id, Schema
from store.schedules import Invitee, StoredSchedule
from web import keys
from web.auth import user_of
from web.errors import Refused, json_error
from web.guard import link
from web.validation import body

routes = web.RouteTableDef()

TEXT_MAX = 1024  # characters of any text field, before its own check



def _link(request: web.Request, stored: StoredSchedule) -> str | None:
    """The share link: the call's join link, or None while a host has it revoked."""
    access = request.app[keys.CALLS].access.get(stored.call_id)
    path = None if access is None else join_path(access.link)
    return None if path is None else link(request, path)


def _describe(
    request: web.Request, stored: StoredSchedule, evaluation: Evaluation
) -> dict[str, Any]:
    schedule = stored.schedule
    found = evaluation.occurrences
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
        "mine": stored.created_by == user_of(request).id,  # may edit and delete it
        "problem": stored.problem,  # why it has no next lesson although it may
        "next": None
        if not found
        else {"start": found[0].start.isoformat(), "end": found[0].end.isoformat()},
    }


async def _described(
    request: web.Request, lessons: list[StoredSchedule], now: datetime
) -> list[dict[str, Any]]:
    """Each lesson as the API shows it, with its next occurrence (see evaluations)."""
    evaluations = await evaluations_of([s.schedule for s in lessons], now)
    request.app[keys.METRICS].schedule_steps.inc(sum(e.steps for e in evaluations))
    return [_describe(request, s, e) for s, e in zip(lessons, evaluations, strict=True)]


# -- what a user entered ----------------------------------------------------------------


def _bad(message: str) -> Refused:
    return Refused(400, "bad_schedule", message)


Text = Annotated[str, StringConstraints(max_length=TEXT_MAX)]
WallTime = Annotated[str, StringConstraints(max_length=32)]
MOST_MINUTES = int(LONGEST_REMINDER.total_seconds() // 60)


class LessonBody(Schema):
    """A lesson to schedule, or what changes in one (PATCH: only the fields sent)."""

    title: Text | None = None
    start: WallTime | None = None  # local wall time in `time_zone`, 2030-03-18T09:00
    end: WallTime | None = None
    duration: Text | None = None  # "45m", "1h30m", "all_day"
    time_zone: Text | None = None
    repeat: Text | None = None  # never, daily, weekdays, weekly, monthly or an RRULE
    reminders_minutes: (
        Annotated[
            list[Annotated[int, Field(ge=0, le=MOST_MINUTES)]], Field(max_length=MAX_REMINDERS)
        ]
        | None
    ) = None
    waiting_room: bool | None = None
    chat_id: Id | None = None  # on behalf of a chat (new lessons only)


class InviteBody(Schema):
    emails: Annotated[
        list[Annotated[str, StringConstraints(max_length=254)]], Field(max_length=200)
    ]
    time_zone: Text | None = None


def _wall_time(value: str | None, name: str) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise _bad(f"'{name}' must be a local date and time, such as 2030-03-18T09:00") from None


def _checked(asked: LessonBody, current: Schedule | None, *, uid: str, now: datetime) -> Schedule:
    """The schedule a body asks for: a new lesson's, or an edited one's, whose missing
    fields stay as they were. Everything is checked again, as for a new lesson."""
    start = _wall_time(asked.start, "start")
    end = _wall_time(asked.end, "end")
    duration = asked.duration or None
    if current is not None:
        start = start or current.start
        if end is None and duration is None:  # the length it had
            if current.duration is None:
                duration = "all_day"
            else:
                end = start + current.duration
    if start is None:
        raise _bad("'start' must be a local date and time, such as 2030-03-18T09:00")
    waiting_room = asked.waiting_room
    if waiting_room is None:
        waiting_room = True if current is None else current.waiting_room
    reminders = asked.reminders_minutes
    try:
        return check_schedule(
            title=asked.title if asked.title is not None else current.title if current else "",
            start=start,
            end=end,
            time_zone=(
                asked.time_zone
                if asked.time_zone is not None
                else current.time_zone
                if current
                else ""
            ),
            duration=duration,
            repeat=(
                asked.repeat
                if asked.repeat is not None
                else (current.rrule or "never")
                if current
                else "never"
            ),
            reminders=(
                tuple(timedelta(minutes=m) for m in reminders)
                if reminders is not None
                else current.reminders
                if current
                else DEFAULT_REMINDERS
            ),
            waiting_room=waiting_room,
            uid=uid,
            now=now,
            kept_start=None if current is None else current.start,
        )
    except ScheduleError as exc:
        raise _bad(str(exc)) from None


# -- the endpoints ----------------------------------------------------------------------


@routes.post("/api/schedule")
@body(LessonBody, code="bad_schedule")
async def create(request: web.Request, asked: LessonBody) -> web.Response:
    """A lesson: title, start, end or duration, time zone, repeat rule, reminders; its
    call's invite link, and (once) a host link for the organiser."""
    now = datetime.now(UTC)
    schedule = _checked(asked, None, uid=f"{secrets.token_hex(8)}@parta", now=now)
    lessons = request.app[keys.LESSONS]
    try:
        stored, host_key, seat = await lessons.schedule(
            user_of(request), schedule, asked.chat_id, now
        )
    except NoSuchChat:
        return json_error(request, 404, "not_found", "no such chat")
    except MayNotPost:
        return json_error(request, 403, "forbidden", "only those who may post schedule here")
    (described,) = await _described(request, [stored], now)
    if seat is not None:
        await lessons.announce(seat, described)
    # only the organiser sees this, once: it makes whoever opens it the call's host
    described["host_link"] = link(request, f"/call/{stored.call_id}?host={host_key}")
    return web.json_response(described, status=201)


@routes.get("/api/schedule")
async def listing(request: web.Request) -> web.Response:
    now = datetime.now(UTC)
    seen = await request.app[keys.LESSONS].visible_to(user_of(request))
    described = await _described(request, seen, now)
    if request.query.get("upcoming") in ("1", "true", "yes"):
        # and the organiser's own lessons with a problem, for them to mend or delete
        described = [d for d in described if d["next"] is not None or (d["problem"] and d["mine"])]
        described.sort(key=lambda d: (d["next"] is None, d["next"]["start"] if d["next"] else ""))
    return web.json_response({"calls": described})


async def _find(request: web.Request) -> StoredSchedule | None:
    """The lesson, if the caller may see it (else None: 404, as if there were none)."""
    lessons = request.app[keys.LESSONS]
    return await lessons.find(user_of(request), request.match_info["id"])


async def _own(request: web.Request) -> StoredSchedule:
    """The lesson, if the caller organised it; Refused 404 if they cannot see it, 403
    if they can (a member of its chat)."""
    try:
        stored = await request.app[keys.LESSONS].own(user_of(request), request.match_info["id"])
    except NotOrganiser:
        raise Refused(
            403, "forbidden", "only the lesson's organiser may change or delete it"
        ) from None
    if stored is None:
        raise Refused(404, "not_found", "no such scheduled call")
    return stored


@routes.get("/api/schedule/{id}")
async def one(request: web.Request) -> web.Response:
    stored = await _find(request)
    if stored is None:
        return json_error(request, 404, "not_found", "no such scheduled call")
    (described,) = await _described(request, [stored], datetime.now(UTC))
    return web.json_response(described)


@routes.patch("/api/schedule/{id}")
@body(LessonBody, code="bad_schedule")
async def edit(request: web.Request, asked: LessonBody) -> web.Response:
    """PATCH: the fields given change, the others stay; all are checked again."""
    stored = await _own(request)
    if "chat_id" in asked.model_fields_set:
        raise _bad("a lesson's chat cannot change: delete it and schedule it in the other chat")
    now = datetime.now(UTC)
    schedule = _checked(asked, stored.schedule, uid=stored.schedule.uid, now=now)
    if not await request.app[keys.LESSONS].change(stored, schedule):
        raise Refused(404, "not_found", "no such scheduled call")
    edited = replace(stored, schedule=schedule, problem=None)
    (described,) = await _described(request, [edited], now)
    await request.app[keys.LESSONS].tell_chat(user_of(request), edited, "call_changed", described)
    return web.json_response(described)


@routes.delete("/api/schedule/{id}")
async def remove(request: web.Request) -> web.Response:
    """DELETE: the lesson, its invitees and its reminders go; its join link stops
    working; its chat is told the lesson is cancelled."""
    stored = await _own(request)
    now = datetime.now(UTC)
    (described,) = await _described(request, [stored], now)
    lessons = request.app[keys.LESSONS]
    if not await lessons.cancel(stored):
        raise Refused(404, "not_found", "no such scheduled call")
    described["link"] = None
    await lessons.tell_chat(user_of(request), stored, "call_cancelled", described)
    return web.Response(status=204)


@routes.get("/api/schedule/{id}/calendar.ics")
async def calendar(request: web.Request) -> web.Response:
    stored = await _find(request)
    if stored is None:
        return json_error(request, 404, "not_found", "no such scheduled call")
    body = to_ics(stored.schedule, url=_link(request, stored) or "", now=stored.created_at)
    return web.Response(
        body=body,
        content_type="text/calendar",
        charset="utf-8",
        headers={"Content-Disposition": 'attachment; filename="lesson.ics"'},
    )


@routes.get("/api/calls/history")
async def history(request: web.Request) -> web.Response:
    """Past calls, newest first: start, end, duration and participants."""
    call_id = request.query.get("call")
    user = user_of(request)
    seen = {s.call_id for s in await request.app[keys.LESSONS].visible_to(user)}
    past = [
        p  # one took part, or may see the lesson
        for p in await request.app[keys.HISTORY].recent(call_id=call_id, limit=500)
        if user.id in p.user_ids or p.call_id in seen
    ]
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


@routes.post("/api/schedule/{id}/invite")
@body(InviteBody, code="bad_invite")
async def invite(request: web.Request, asked: InviteBody) -> web.Response:
    """Invite by e-mail: sent through SMTP when configured, else offered as an .eml file."""
    stored = await _find(request)
    if stored is None:
        return json_error(request, 404, "not_found", "no such scheduled call")
    try:
        recipients = check_recipients(asked.emails)
        zone = check_time_zone(asked.time_zone or stored.schedule.time_zone)
    except (InviteError, ScheduleError) as exc:
        return json_error(request, 400, "bad_invite", str(exc))
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
        return json_error(request, 502, "smtp_failed", f"the mail server refused: {exc}")
    return web.json_response({"sent": len(recipients)})


@routes.get("/api/schedule/{id}/invite.eml")
async def invite_file(request: web.Request) -> web.Response:
    stored = await _find(request)
    if stored is None:
        return json_error(request, 404, "not_found", "no such scheduled call")
    try:
        recipients = check_recipients(request.query.getall("to", []))
        zone = check_time_zone(request.query.get("tz") or stored.schedule.time_zone)
    except ValueError as exc:  # InviteError or ScheduleError
        return json_error(request, 400, "bad_invite", str(exc))
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
    url = _link(request, stored) or link(request, "/")
    upcoming = next_occurrence(schedule, datetime.now(UTC))
    return build_invite(
        title=schedule.title,
        when=when_in(schedule, upcoming, zone),
        link=url,
        ics=to_ics(schedule, url=url, now=stored.created_at),
        sender=sender,
        recipients=recipients,
    )
