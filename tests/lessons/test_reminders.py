"""Lesson reminders e-mailed to invitees: in their time zone, across daylight-saving
changes, once only across a restart, through a real SMTP server on loopback."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from aiosmtpd.controller import Controller
from sqlalchemy.ext.asyncio import AsyncEngine

from lessons.invites import SmtpSettings
from lessons.reminders import Reminders
from model.schedule import check_schedule
from store.database import default_url, migrate, open_engine
from store.schedules import Invitee, ScheduleStore
from tests.lessons.test_invites import Inbox, free_port
from web.app import create_app
from web.config import Config

WEEKLY = check_schedule(
    title="Physics 8c",
    start=datetime(2030, 3, 25, 9, 0),  # Mondays 09:00 in Berlin
    time_zone="Europe/Berlin",
    duration="45m",
    repeat="weekly",
    uid="physics-8c@parta",
    now=datetime(2030, 1, 1, tzinfo=UTC),
)
# 2030: the USA moves its clocks on 10 March, the EU on 31 March. On 25 March Berlin is
# five hours ahead of New York, on 1 April (both on summer time) six.
INVITEES = [
    Invitee(email="parent@example.org", time_zone="America/New_York"),
    Invitee(email="pupil@example.org", time_zone="Europe/Berlin"),
]


@pytest.fixture
async def inbox() -> AsyncIterator[tuple[Inbox, SmtpSettings]]:
    box = Inbox()
    port = free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    yield box, SmtpSettings(host="127.0.0.1", port=port, sender="school@example.org")
    controller.stop()


async def open_store(data_dir: Path) -> tuple[ScheduleStore, AsyncEngine]:
    url = default_url(data_dir)
    await asyncio.to_thread(migrate, url)
    engine = open_engine(url)
    return ScheduleStore(engine), engine


def at(year: int, month: int, day: int, hour: int, minute: int, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def bodies(box: Inbox) -> dict[str, str]:
    """The latest message's text for each recipient."""
    found = {}
    for recipients, message in box.messages:
        assert len(recipients) == 1, "each invitee gets their own message"
        part = message.get_payload()
        text = part if isinstance(part, str) else ""
        found[recipients[0]] = f"{message['Subject']}\n{text}"
    return found


async def test_reminders_in_each_invitees_zone_across_dst_and_a_restart(
    tmp_path: Path, inbox: tuple[Inbox, SmtpSettings]
) -> None:
    box, smtp = inbox
    now = [at(2030, 3, 25, 7, 44, 59)]
    store, engine = await open_store(tmp_path)
    await store.add(WEEKLY, call_id="lesson-physics", now=now[0])
    await store.invite(WEEKLY.uid, INVITEES, now[0])

    def service(store: ScheduleStore) -> Reminders:
        return Reminders(
            store,
            smtp,
            "https://school.example",
            clock=lambda: now[0],
            link_of=lambda call_id: "L" * 24 if call_id == "lesson-physics" else None,
        )

    reminders = service(store)
    assert await reminders.run_once() == []  # a second before: nothing yet
    now[0] = at(2030, 3, 25, 7, 45)  # 08:45 in Berlin (UTC+1): 15 minutes before
    sent = await reminders.run_once()
    assert [(s.at, s.recipients) for s in sent] == [
        (now[0], ("parent@example.org", "pupil@example.org"))
    ]
    texts = bodies(box)
    assert texts["pupil@example.org"].startswith("Reminder: Physics 8c starts in 15 minutes")
    assert "2030-03-25 09:00 (Europe/Berlin)" in texts["pupil@example.org"]
    assert "2030-03-25 04:00 (America/New_York)" in texts["parent@example.org"]
    assert "https://school.example/join/" + "L" * 24 in texts["parent@example.org"]
    now[0] += timedelta(seconds=30)
    assert await reminders.run_once() == []  # once only

    # a restart: a new engine and service on the same database send nothing twice
    await engine.dispose()
    store, engine = await open_store(tmp_path)
    reminders = service(store)
    assert await reminders.run_once() == []
    # down over the start: the "starts now" reminder still goes out, late, within grace
    now[0] = at(2030, 3, 25, 8, 3)
    sent = await reminders.run_once()
    assert [s.at for s in sent] == [at(2030, 3, 25, 8, 0)]
    assert "starts now" in bodies(box)["pupil@example.org"]
    count = len(box.messages)

    # next week Berlin is on summer time: 08:45 local is 06:45 UTC, not 07:45
    now[0] = at(2030, 4, 1, 6, 44, 59)
    assert await reminders.run_once() == []
    now[0] = at(2030, 4, 1, 6, 45)
    assert [s.at for s in await reminders.run_once()] == [now[0]]
    texts = bodies(box)
    assert "2030-04-01 09:00 (Europe/Berlin)" in texts["pupil@example.org"]
    assert "2030-04-01 03:00 (America/New_York)" in texts["parent@example.org"]
    assert len(box.messages) == count + 2

    # down for longer than the grace: a lesson long begun is not announced late
    now[0] = at(2030, 4, 8, 7, 30)
    assert await reminders.run_once() == []
    await engine.dispose()


async def test_a_reminder_the_mail_server_refused_is_tried_again(
    tmp_path: Path, inbox: tuple[Inbox, SmtpSettings]
) -> None:
    box, smtp = inbox
    now = at(2030, 3, 25, 7, 45)
    store, engine = await open_store(tmp_path)
    await store.add(WEEKLY, call_id="lesson-physics", now=now)
    await store.invite(WEEKLY.uid, INVITEES[:1], now)

    async def refuse(message: EmailMessage, settings: SmtpSettings) -> None:
        raise ConnectionRefusedError("mail server down")

    failing = Reminders(store, smtp, "http://x", clock=lambda: now, deliver=refuse)
    assert await failing.run_once() == []
    working = Reminders(store, smtp, "http://x", clock=lambda: now + timedelta(minutes=1))
    assert len(await working.run_once()) == 1
    assert [r for r, _ in box.messages] == [["parent@example.org"]]
    await engine.dispose()


async def test_the_running_server_sends_a_reminder_when_it_falls_due(
    tmp_path: Path, http: aiohttp.ClientSession, inbox: tuple[Inbox, SmtpSettings]
) -> None:
    box, smtp = inbox
    config = Config(data_dir=tmp_path, smtp=smtp, public_url="https://school.example")
    server = TestServer(create_app(config), host="127.0.0.1")
    await server.start_server()
    base = str(server.make_url("/"))
    try:
        zone = ZoneInfo("America/New_York")
        start = (datetime.now(zone) + timedelta(seconds=3)).replace(tzinfo=None, microsecond=0)
        lesson = {
            "title": "Drama club",
            "start": start.isoformat(),
            "time_zone": "America/New_York",
            "duration": "1h",
            "reminders_minutes": [0],
        }
        async with http.post(f"{base}api/schedule", json=lesson) as response:
            created = await response.json()
        async with http.post(
            f"{base}api/schedule/{created['id']}/invite",
            json={"emails": ["actor@example.org"], "time_zone": "Asia/Tokyo"},
        ) as response:
            assert response.status == 200
        invitation_count = len(box.messages)  # the invitation itself
        for _ in range(150):
            if len(box.messages) > invitation_count:
                break
            await asyncio.sleep(0.1)
        recipients, message = box.messages[-1]
        assert recipients == ["actor@example.org"]
        assert message["Subject"] == "Reminder: Drama club starts now"
        assert "(Asia/Tokyo)" in str(message.get_payload())
        async with http.get(f"{base}metrics") as response:
            assert 'parta_reminder_emails_total{outcome="sent"} 1.0' in await response.text()
    finally:
        await server.close()
