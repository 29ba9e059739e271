"""Lessons scheduled on behalf of a chat: its members see them (nobody else does), the
chat is told, the school's page lists them, and reminders arrive in the chat."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import aiohttp
from aiohttp import web

from lessons.reminders import Reminders
from model.schedule import reminders_between
from tests.chat.school import events, make_school
from tests.chat.test_http import class_chat
from web import keys

LESSON = {
    "title": "Algebra 7b",
    "start": "2030-03-18T09:00",
    "time_zone": "Europe/Moscow",
    "duration": "45m",
    "repeat": "weekly",
}


async def test_a_lesson_on_behalf_of_a_chat(
    app: web.Application, base_url: str, http: aiohttp.ClientSession
) -> None:
    school = await make_school(http, base_url)
    chat = await class_chat(school)
    ann = school.students[0]
    live = await events(school, ann)
    status, lesson = await school.call(
        school.teacher, "POST", "api/schedule", {**LESSON, "chat_id": chat}
    )
    assert status == 201, lesson
    # the chat is told, with the link; only the teacher got the host link
    told = await live.wait_for("message")
    meta = told[-1]["message"]["meta"]
    assert meta["event"] == "call_scheduled" and meta["title"] == "Algebra 7b"
    assert meta["link"] == lesson["link"] and "host" not in str(meta)
    # the chat's members see it; others do not, anywhere
    status, listed = await school.call(ann, "GET", "api/schedule")
    assert [c["id"] for c in listed["calls"]] == [lesson["id"]]
    assert "host_link" not in listed["calls"][0]
    for who in (school.parent, school.outsider, school.stranger):
        status, listed = await school.call(who, "GET", "api/schedule")
        assert listed["calls"] == []
        for path in ("", "/calendar.ics", "/invite.eml?to=a@b.cd"):
            status, _ = await school.call(who, "GET", f"api/schedule/{lesson['id']}{path}")
            assert status == 404
    # a student may not schedule for a channel they cannot post in; nobody for a chat
    # they are not in
    status, _ = await school.call(
        school.stranger, "POST", "api/schedule", {**LESSON, "chat_id": chat}
    )
    assert status == 404
    # the school's page lists it for the chat's members
    status, page = await school.call(ann, "GET", f"api/orgs/{school.org}")
    assert [e["title"] for e in page["events"]] == ["Algebra 7b"]
    assert page["events"][0]["chat"] == {"id": chat, "title": "7b class"}
    status, page = await school.call(school.parent, "GET", f"api/orgs/{school.org}")
    assert page["events"] == []

    # at the reminder's instant, the chat gets a notice that notifies its members
    stored = await app[keys.SCHEDULES].get(lesson["id"])
    assert stored is not None
    now = datetime.now(UTC)
    first = reminders_between(stored.schedule, now, now + timedelta(days=3650))[0]
    reminders = Reminders(
        app[keys.SCHEDULES],
        None,
        "http://school",
        clock=lambda: first.at,
        in_chat=app[keys.REMINDERS].in_chat,
    )
    sent = await reminders.run_once()
    assert [s.at for s in sent] == [first.at]
    assert await reminders.run_once() == []  # once only
    notified = await live.wait_for("notification")
    reminder = notified[-1]["message"]["meta"]
    assert reminder["event"] == "call_reminder" and reminder["minutes_before"] == 15
    assert reminder["link"].endswith(lesson["link"].split("/join/")[1])
    await live.close()
