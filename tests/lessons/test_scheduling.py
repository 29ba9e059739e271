"""Scheduling lessons over HTTP: create, list, .ics, and the schedule outlives a restart."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import icalendar
from aiohttp.test_utils import TestServer
from sqlalchemy import select, update

from model.schedule import reminders_between
from store.tables import reminders_sent, scheduled_calls
from tests.chat.school import events, make_school
from tests.chat.test_http import class_chat
from tests.support.accounts import bearer
from tests.support.client import CallClient
from tests.support.server import start_server
from web import keys

LESSON = {
    "title": "Maths 7b",
    "start": "2030-03-18T09:00",
    "time_zone": "Europe/Berlin",
    "duration": "45m",
    "repeat": "weekdays",
}


async def started(data_dir: Path, port: int = 0) -> TestServer:
    return await start_server(data_dir, port=port)


async def test_schedule_list_download_and_keep_across_a_restart(
    tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    server = await started(tmp_path)
    base = str(server.make_url("/"))
    async with http.post(f"{base}api/schedule", json=LESSON) as response:
        assert response.status == 201
        created = await response.json()
    assert created["title"] == "Maths 7b" and created["waiting_room"] is True
    link = created["link"].rsplit("/join/", 1)[1]
    host_key = created["host_link"].split("?host=", 1)[1]
    assert created["host_link"].split("?")[0].endswith(f"/call/{created['call']}")
    assert created["reminders_minutes"] == [15, 0]
    assert created["next"]["start"] == "2030-03-18T08:00:00+00:00"
    async with http.get(f"{base}{created['calendar'][1:]}") as response:
        assert response.status == 200
        assert response.content_type == "text/calendar"
        event = icalendar.Calendar.from_ical(await response.read()).walk("VEVENT")[0]
    assert str(event["summary"]) == "Maths 7b"
    assert event["rrule"].to_ical() == b"FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR"
    port = server.port or 0
    await server.close()

    # a new process on the same data directory still has the lesson
    server = await started(tmp_path, port)
    base = str(server.make_url("/"))
    try:
        async with http.get(f"{base}api/schedule?upcoming=1") as response:
            listed = (await response.json())["calls"]
        assert [c["id"] for c in listed] == [created["id"]]
        assert "host_link" not in listed[0]  # the organiser's key is shown once
        # the share link still leads to the lesson
        async with http.get(f"{base}join/{link}", allow_redirects=False) as response:
            assert response.status == 302
            assert response.headers["Location"] == f"/call/{created['call']}?link={link}"
        # a student who comes first does not become its host: they wait for the teacher
        student = CallClient(http, base, created["call"], "student")
        waiting = await student.join(expect="waiting", link=link)
        assert waiting["title"] == "Maths 7b"
        # its room opens with the waiting room on and the lesson's title
        teacher = CallClient(http, base, created["call"], "teacher")
        joined = await teacher.join(host_token=host_key, link=None)
        assert joined["waiting_room"] is True and joined["role"] == "host"
        assert joined["invite_link"] == f"/join/{link}"
        # without the link nobody else gets in
        stranger = CallClient(http, base, created["call"], "stranger")
        refused = await stranger.join(expect="error", link=None)
        assert refused["code"] == "bad_link"
        for client in (student, teacher, stranger):
            await client.close()
    finally:
        await server.close()


async def test_bad_schedules_get_a_clear_400(tmp_path: Path, http: aiohttp.ClientSession) -> None:
    server = await started(tmp_path)
    base = str(server.make_url("/"))
    try:
        for body, fragment in (
            ({**LESSON, "time_zone": "Nowhere/Town"}, "time zone"),
            ({**LESSON, "title": ""}, "title"),
            ({**LESSON, "start": "tomorrow"}, "'start' must be a local date"),
            ({**LESSON, "repeat": "FREQ=HOURLY;BYDAY=ZZ"}, "repeat"),
        ):
            async with http.post(f"{base}api/schedule", json=body) as response:
                assert response.status == 400
                error = await response.json()
                assert error["error"] == "bad_schedule" and fragment in error["message"]
        async with http.post(
            f"{base}api/schedule", data="[", headers={"Content-Type": "application/json"}
        ) as response:
            assert response.status == 400
        async with http.post(f"{base}api/schedule", data="{}") as response:
            assert response.status == 415  # JSON only: no form of another page's
        async with http.get(f"{base}api/schedule/nope/calendar.ics") as response:
            assert response.status == 404
    finally:
        await server.close()


async def test_call_history_records_start_end_and_participants(
    tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    server = await started(tmp_path)
    base = str(server.make_url("/"))
    try:
        teacher = CallClient(http, base, "history-1", "Anna Petrova")
        student = CallClient(http, base, "history-1", "Boris")
        await teacher.join()
        await student.join()
        await student.close()
        ended = teacher.expect("call_ended")
        await teacher.send({"type": "end_call"})
        await ended
        await teacher.close()
        assert teacher.session_token is not None
        for _ in range(50):  # as the teacher, who took part
            async with http.get(
                f"{base}api/calls/history?call=history-1", headers=bearer(teacher.session_token)
            ) as response:
                calls = (await response.json())["calls"]
            if calls:
                break
            await asyncio.sleep(0.1)
        (past,) = calls
        # someone who was not in the call does not see it
        async with http.get(f"{base}api/calls/history?call=history-1") as response:
            assert (await response.json())["calls"] == []
        assert past["participants"] == ["Anna Petrova", "Boris"]
        assert past["ended_by_host"] is True
        assert past["started_at"] <= past["ended_at"]
        assert 0 <= past["duration_seconds"] < 60
    finally:
        await server.close()


async def steps_taken(http: aiohttp.ClientSession, base: str) -> float:
    """parta_schedule_rule_steps_total: the recurrence work the server has done."""
    async with http.get(f"{base}metrics") as response:
        text = await response.text()
    found = [x for x in text.splitlines() if x.startswith("parta_schedule_rule_steps_total")]
    return float(found[0].split()[-1]) if found else 0.0


async def test_starts_years_away_are_refused_and_nothing_is_stored(
    tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    # year 1 daily was accepted after 9 s and froze every later evaluation; year 9999
    # answered 500 but was stored, and its creator's listing was a 500 from then on
    server = await started(tmp_path)
    base = str(server.make_url("/"))
    try:
        for start, repeat in (
            ("0001-01-01T00:00", "daily"),
            ("0001-01-01T00:00", "FREQ=HOURLY"),
            ("9999-01-01T09:00", "daily"),
            ("9999-12-31T23:59", "never"),
        ):
            body = {**LESSON, "start": start, "repeat": repeat}
            async with http.post(f"{base}api/schedule", json=body) as response:
                assert response.status == 400, (start, repeat)
                error = await response.json()
            assert error["error"] == "bad_schedule"
            assert error["message"].startswith("the start must lie between ")
        async with http.get(f"{base}api/schedule") as response:
            assert response.status == 200
            assert (await response.json())["calls"] == []
        assert await server.app[keys.SCHEDULES].all() == []
    finally:
        await server.close()


async def test_fields_of_the_wrong_kind_get_a_400_in_our_words(
    tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    server = await started(tmp_path)
    base = str(server.make_url("/"))
    lesson = json.dumps(LESSON)[1:-1]
    try:
        for extra, fragment in (
            ('"reminders_minutes": [1000000000000000000000000000000]', "reminders_minutes"),
            ('"reminders_minutes": [1e400]', "reminders_minutes"),
            ('"reminders_minutes": [Infinity]', "reminders_minutes"),
            ('"reminders_minutes": "15"', "reminders_minutes"),
            ('"reminders_minutes": [true]', "reminders_minutes"),
            ('"reminders_minutes": [20000]', "reminders_minutes"),
            ('"waiting_room": "no"', "waiting_room"),
            ('"title": ["Maths"]', "title"),
            ('"start": 20300318', "'start'"),
            ('"end": "2030-03-20T09:00"', "24 hours"),
            ('"repeat": {"freq": "daily"}', "repeat"),
            ('"repeat": "FREQ=SECONDLY"', "every hour"),
            ('"repeat": "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30"', "not supported"),
            ('"chat_id": {"id": 1}', "chat_id"),
        ):
            async with http.post(
                f"{base}api/schedule",
                data=f"{{{lesson}, {extra}}}",
                headers={"Content-Type": "application/json"},
            ) as response:
                assert response.status == 400, extra
                error = await response.json()
            assert error["error"] == "bad_schedule" and fragment in error["message"], extra
            assert "int()" not in error["message"] and "object" not in error["message"]
        # a lone surrogate is no Unicode: the JSON itself is refused
        async with http.post(
            f"{base}api/schedule",
            data=f'{{{lesson}, "title": "Maths \\ud800"}}',
            headers={"Content-Type": "application/json"},
        ) as response:
            assert response.status == 400
            error = await response.json()
        assert error["error"] == "bad_json" and "Unicode" in error["message"]
        assert await server.app[keys.SCHEDULES].all() == []
    finally:
        await server.close()


async def test_the_organiser_edits_and_deletes_a_lesson(
    tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    server = await started(tmp_path)
    base = str(server.make_url("/"))
    store = server.app[keys.SCHEDULES]
    try:
        async with http.post(f"{base}api/schedule", json=LESSON) as response:
            created = await response.json()
        url = f"{base}api/schedule/{created['id']}"
        async with http.post(f"{url}/invite", json={"emails": ["a@school.example"]}) as response:
            assert response.status == 200
        sent_at = datetime.fromisoformat(created["next"]["start"]) - timedelta(minutes=15)
        assert await store.claim_reminder(created["id"], sent_at, datetime.now(UTC), 1)

        # an edit changes what it gives and keeps the rest; reminders follow the lesson
        edit = {"title": "Maths 7b (room 12)", "start": "2030-03-19T10:30", "repeat": "weekly"}
        async with http.patch(url, json=edit) as response:
            assert response.status == 200
            edited = await response.json()
        assert edited["mine"] is True and edited["problem"] is None
        assert edited["title"] == "Maths 7b (room 12)" and edited["repeat"] == "FREQ=WEEKLY"
        assert edited["next"]["start"] == "2030-03-19T09:30:00+00:00"
        assert edited["duration_minutes"] == 45 and edited["link"] == created["link"]
        stored = await store.get(created["id"])
        assert stored is not None
        (first,) = reminders_between(
            replace(stored.schedule, reminders=(timedelta(minutes=15),)),
            datetime(2030, 3, 19, tzinfo=UTC),
            datetime(2030, 3, 20, tzinfo=UTC),
        )
        assert first.at == datetime(2030, 3, 19, 9, 15, tzinfo=UTC)
        assert server.app[keys.CALLS].access[created["call"]].title == "Maths 7b (room 12)"
        # a bad edit changes nothing
        async with http.patch(url, json={"start": "0001-01-01T00:00"}) as response:
            assert response.status == 400
        async with http.patch(url, json={"chat_id": "elsewhere"}) as response:
            assert response.status == 400
        async with http.get(url) as response:
            assert (await response.json())["start"] == "2030-03-19T10:30"

        # deleting takes its invitees and reminders along, and its link stops working
        async with http.delete(url) as response:
            assert response.status == 204
        async with http.get(url) as response:
            assert response.status == 404
        async with http.delete(url) as response:
            assert response.status == 404
        async with http.get(f"{base}api/schedule") as response:
            assert (await response.json())["calls"] == []
        assert await store.invitees(created["id"]) == []
        async with server.app[keys.ENGINE].connect() as connection:
            claimed = await connection.execute(
                select(reminders_sent).where(reminders_sent.c.schedule_id == created["id"])
            )
            assert claimed.all() == []
        token = created["link"].rsplit("/join/", 1)[1]
        async with http.get(f"{base}join/{token}", allow_redirects=False) as response:
            assert response.status == 404
        assert created["call"] not in server.app[keys.CALLS].access
    finally:
        await server.close()


async def test_only_the_organiser_changes_a_chats_lesson_and_the_chat_is_told(
    base_url: str, http: aiohttp.ClientSession
) -> None:
    school = await make_school(http, base_url)
    chat = await class_chat(school)
    ann = school.students[0]
    status, lesson = await school.call(
        school.teacher, "POST", "api/schedule", {**LESSON, "chat_id": chat}
    )
    assert status == 201, lesson
    path = f"api/schedule/{lesson['id']}"
    # a member of the chat sees the lesson but may not change it; others do not see it
    for who, expected in ((ann, 403), (school.stranger, 404), (school.outsider, 404)):
        status, _ = await school.call(who, "PATCH", path, {"title": "Mine now"})
        assert status == expected
        status, _ = await school.call(who, "DELETE", path)
        assert status == expected
    status, seen = await school.call(ann, "GET", path)
    assert status == 200 and seen["mine"] is False and seen["title"] == "Maths 7b"
    live = await events(school, ann)
    status, edited = await school.call(school.teacher, "PATCH", path, {"start": "2030-03-25T09:00"})
    assert status == 200, edited
    changed = (await live.wait_for("message"))[-1]["message"]["meta"]
    assert changed["event"] == "call_changed" and changed["start"] == edited["next"]["start"]
    status, _ = await school.call(school.teacher, "DELETE", path)
    assert status == 204
    cancelled = (await live.wait_for("message", 2))[-1]["message"]["meta"]
    assert cancelled["event"] == "call_cancelled" and cancelled["title"] == "Maths 7b"
    assert cancelled["link"] is None
    status, listed = await school.call(ann, "GET", "api/schedule")
    assert listed["calls"] == []
    await live.close()


async def test_rows_stored_before_the_checks_neither_stall_nor_break_the_listing(
    tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    server = await started(tmp_path)
    base = str(server.make_url("/"))
    engine = server.app[keys.ENGINE]
    try:
        ids = []
        for title in ("Garbled", "Year 9999", "Since year 1"):
            async with http.post(f"{base}api/schedule", json={**LESSON, "title": title}) as r:
                ids.append((await r.json())["id"])
        garbled, late, ancient = ids
        async with engine.begin() as connection:
            for schedule_id, values in (
                (garbled, {"start_local": "the first Monday"}),
                (late, {"start_local": "9999-01-01T09:00:00", "rrule": "FREQ=DAILY"}),
                (ancient, {"start_local": "0001-01-01T09:00:00", "rrule": "FREQ=HOURLY"}),
            ):
                await connection.execute(
                    update(scheduled_calls)
                    .where(scheduled_calls.c.id == schedule_id)
                    .values(**values)
                )
        before = await steps_taken(http, base)
        async with http.get(f"{base}api/schedule?upcoming=1") as response:
            assert response.status == 200
            listed = {c["id"]: c for c in (await response.json())["calls"]}
        # hourly since year 1: the next lesson within the hour, in a few steps
        assert await steps_taken(http, base) - before <= 10
        next_start = datetime.fromisoformat(listed[ancient]["next"]["start"])
        assert (
            timedelta(0) < next_start - datetime.now(UTC) + timedelta(hours=1) <= timedelta(hours=2)
        )
        # year 9999: shown to its organiser with the problem, to be changed or deleted
        assert listed[late]["next"] is None and listed[late]["problem"] == "it starts after 2100"
        assert garbled not in listed  # unreadable: skipped
        async with http.get(f"{base}metrics") as response:
            text = await response.text()
        assert 'parta_schedule_bad_rows_total{kind="unreadable"} 1.0' in text
        assert 'parta_schedule_bad_rows_total{kind="unusable"} 1.0' in text
        async with http.get(f"{base}api/schedule/{late}") as response:
            assert response.status == 200
        async with http.patch(
            f"{base}api/schedule/{late}", json={"start": "2030-03-18T09:00"}
        ) as response:
            assert response.status == 200
            assert (await response.json())["problem"] is None
        async with http.delete(f"{base}api/schedule/{ancient}") as response:
            assert response.status == 204
    finally:
        await server.close()
