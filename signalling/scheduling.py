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

from . import keys
from .invites import InviteError, build_invite, check_recipients, send
from .schedule import ScheduleError, check_schedule, next_occurrence, to_ics
from .schedule_store import StoredSchedule


def _error(request: web.Request, status: int, code: str, message: str) -> web.Response:
    request.app[keys.METRICS].http_errors.labels("/api/schedule", str(status)).inc()
    return web.json_response({"error": code, "message": message}, status=status)


def _link(request: web.Request, call_id: str) -> str:
    return f"{request.scheme}://{request.host}/call/{call_id}"


def _describe(request: web.Request, stored: StoredSchedule, now: datetime) -> dict[str, Any]:
    schedule = stored.schedule
    upcoming = next_occurrence(schedule, now)
    return {
        "id": schedule.uid,
        "title": schedule.title,
        "call": stored.call_id,
        "link": _link(request, stored.call_id),
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
    call_id = "lesson-" + secrets.token_urlsafe(9).replace("_", "-")
    now = datetime.now(UTC)
    stored = await request.app[keys.SCHEDULES].add(schedule, call_id=call_id, now=now)
    request.app[keys.CALLS].defaults[call_id] = (schedule.title, schedule.waiting_room)
    return web.json_response(_describe(request, stored, now), status=201)


async def listing(request: web.Request) -> web.Response:
    now = datetime.now(UTC)
    described = [_describe(request, s, now) for s in await request.app[keys.SCHEDULES].all()]
    if request.query.get("upcoming") in ("1", "true", "yes"):
        described = [d for d in described if d["next"] is not None]
        described.sort(key=lambda d: d["next"]["start"])
    return web.json_response({"calls": described})


async def _find(request: web.Request) -> StoredSchedule | None:
    stored: StoredSchedule | None = await request.app[keys.SCHEDULES].get(request.match_info["id"])
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
    body = to_ics(stored.schedule, url=_link(request, stored.call_id), now=stored.created_at)
    return web.Response(
        body=body,
        content_type="text/calendar",
        charset="utf-8",
        headers={"Content-Disposition": 'attachment; filename="lesson.ics"'},
    )


async def history(request: web.Request) -> web.Response:
    """Past calls, newest first: start, end, duration and participants."""
    call_id = request.query.get("call")
    past = await request.app[keys.HISTORY].recent(call_id=call_id)
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
        recipients = check_recipients(body.get("emails") if isinstance(body, dict) else None)
    except ValueError as exc:  # bad JSON or InviteError
        message = str(exc) if isinstance(exc, InviteError) else "send a JSON object"
        return _error(request, 400, "bad_invite", message)
    smtp = request.app[keys.CONFIG].smtp
    if smtp is None:
        query = "&".join(f"to={quote(r)}" for r in recipients)
        return web.json_response(
            {"sent": 0, "download": f"/api/schedule/{stored.schedule.uid}/invite.eml?{query}"}
        )
    try:
        await send(_invite_message(request, stored, recipients, smtp.sender), smtp)
    except (OSError, aiosmtplib.SMTPException) as exc:
        return _error(request, 502, "smtp_failed", f"the mail server refused: {exc}")
    return web.json_response({"sent": len(recipients)})


async def invite_file(request: web.Request) -> web.Response:
    stored = await _find(request)
    if stored is None:
        return _error(request, 404, "not_found", "no such scheduled call")
    try:
        recipients = check_recipients(request.query.getall("to", []))
    except InviteError as exc:
        return _error(request, 400, "bad_invite", str(exc))
    message = _invite_message(request, stored, recipients, "")
    return web.Response(
        body=message.as_bytes(),
        content_type="message/rfc822",
        headers={"Content-Disposition": 'attachment; filename="invitation.eml"'},
    )


def _invite_message(
    request: web.Request, stored: StoredSchedule, recipients: list[str], sender: str
) -> EmailMessage:
    schedule = stored.schedule
    link = _link(request, stored.call_id)
    upcoming = next_occurrence(schedule, datetime.now(UTC))
    when = (
        f"{schedule.start:%Y-%m-%d %H:%M} ({schedule.time_zone})"
        if upcoming is None
        else f"{upcoming.local_start:%Y-%m-%d %H:%M} ({schedule.time_zone})"
    )
    return build_invite(
        title=schedule.title,
        when=when + (f", repeating {schedule.rrule}" if schedule.rrule else ""),
        link=link,
        ics=to_ics(schedule, url=link, now=stored.created_at),
        sender=sender,
        recipients=recipients,
    )
