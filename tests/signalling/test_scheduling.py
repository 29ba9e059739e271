"""Scheduling lessons over HTTP: create, list, .ics, and the schedule outlives a restart."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import icalendar
from aiohttp.test_utils import TestServer

from tests.signalling.conftest import start_server
from tests.support.accounts import bearer
from tests.support.client import CallClient

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
        async with http.post(f"{base}api/schedule", data="[") as response:
            assert response.status == 400
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
