"""Invite by e-mail: through a real SMTP server on loopback, or as an .eml download."""

from __future__ import annotations

import email
import socket
from email.message import Message
from pathlib import Path
from typing import Any

import aiohttp
import icalendar
import pytest
from aiohttp.test_utils import TestServer
from aiosmtpd.controller import Controller

from lessons.invites import InviteError, SmtpSettings
from tests.lessons.test_scheduling import LESSON
from web.app import create_app
from web.config import Config


class Inbox:
    """An aiosmtpd handler that keeps what it is given."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], Message]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((list(envelope.rcpt_tos), email.message_from_bytes(envelope.content)))
        return "250 OK"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def calendar_part(message: Message) -> icalendar.Calendar:
    for part in message.walk():
        if part.get_content_type() == "text/calendar":
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            return icalendar.Calendar.from_ical(payload)
    raise AssertionError("no text/calendar attachment")


async def schedule(http: aiohttp.ClientSession, base: str) -> dict[str, Any]:
    async with http.post(f"{base}api/schedule", json=LESSON) as response:
        assert response.status == 201
        created: dict[str, Any] = await response.json()
    return created


async def test_invitations_go_out_through_smtp(tmp_path: Path, http: aiohttp.ClientSession) -> None:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    smtp = SmtpSettings.parse(f"smtp://127.0.0.1:{port}?from=school@example.org")
    server = TestServer(create_app(Config(data_dir=tmp_path, smtp=smtp)), host="127.0.0.1")
    await server.start_server()
    base = str(server.make_url("/"))
    try:
        lesson = await schedule(http, base)
        async with http.post(
            f"{base}api/schedule/{lesson['id']}/invite",
            json={"emails": ["parent@example.org", "pupil@example.org"]},
        ) as response:
            assert response.status == 200
            assert (await response.json()) == {"sent": 2}
        ((recipients, message),) = inbox.messages
        assert sorted(recipients) == ["parent@example.org", "pupil@example.org"]
        assert message["From"] == "school@example.org"
        assert "Maths 7b" in message["Subject"]
        event = calendar_part(message).walk("VEVENT")[0]
        assert str(event["summary"]) == "Maths 7b"
        async with http.post(
            f"{base}api/schedule/{lesson['id']}/invite", json={"emails": ["not an address"]}
        ) as response:
            assert response.status == 400
            assert "not an e-mail address" in (await response.json())["message"]
    finally:
        await server.close()
        controller.stop()


async def test_without_smtp_the_invitation_is_offered_as_a_file(
    tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    server = TestServer(create_app(Config(data_dir=tmp_path)), host="127.0.0.1")
    await server.start_server()
    base = str(server.make_url("/"))
    try:
        lesson = await schedule(http, base)
        async with http.post(
            f"{base}api/schedule/{lesson['id']}/invite", json={"emails": ["parent@example.org"]}
        ) as response:
            reply = await response.json()
        assert reply["sent"] == 0
        async with http.get(base.rstrip("/") + reply["download"]) as response:
            assert response.status == 200
            message = email.message_from_bytes(await response.read())
        assert message["To"] == "parent@example.org"
        assert calendar_part(message).walk("VEVENT")[0]["rrule"]
    finally:
        await server.close()


def test_smtp_urls_are_checked() -> None:
    settings = SmtpSettings.parse("smtps://u%40x:p%3Aw@mail.example.org?from=a@example.org")
    assert (settings.host, settings.port, settings.tls) == ("mail.example.org", 465, True)
    assert (settings.username, settings.password) == ("u@x", "p:w")
    with pytest.raises(InviteError):
        SmtpSettings.parse("smtp://mail.example.org")
