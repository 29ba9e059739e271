"""A school to test chats in: an admin, a teacher, students, a parent, and outsiders (one
with no profile anywhere, one from another school), all real users over HTTP."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from tests.support.accounts import bearer, sign_up


@dataclass
class Person:
    name: str
    token: str
    profile: dict[str, Any] = field(default_factory=dict)


@dataclass
class School:
    base: str
    http: aiohttp.ClientSession
    org: str
    codes: dict[str, str]
    admin: Person
    teacher: Person
    students: list[Person]
    parent: Person
    outsider: Person  # logged in, no profile anywhere
    stranger: Person  # a teacher of another school

    async def call(
        self, who: Person, method: str, path: str, body: Any = None, *, tus: bool = False
    ) -> tuple[int, Any]:
        headers = {**bearer(who.token), **({"Tus-Resumable": "1.0.0"} if tus else {})}
        async with self.http.request(
            method, f"{self.base}{path.lstrip('/')}", json=body, headers=headers
        ) as response:
            text = await response.text()
            return response.status, json.loads(text) if text else None


async def _person(http: aiohttp.ClientSession, base: str, name: str) -> Person:
    token, _ = await sign_up(http, base, name)
    return Person(name, token)


async def _profile(school: School, person: Person, role: str, class_name: str | None) -> None:
    body = {"code": school.codes[role], "full_name": person.name, "class_name": class_name}
    status, person.profile = await school.call(person, "POST", "api/profiles", body)
    assert status == 201, person.profile


async def make_school(http: aiohttp.ClientSession, base: str, students: int = 2) -> School:
    admin = await _person(http, base, "Director")
    async with http.post(
        f"{base}api/orgs", json={"name": "School 5"}, headers=bearer(admin.token)
    ) as response:
        created = await response.json()
    people = await asyncio.gather(
        _person(http, base, "Irina Teacher"),
        *(_person(http, base, f"Student {i}") for i in range(students)),
        _person(http, base, "Parent"),
        _person(http, base, "Outsider"),
        _person(http, base, "Stranger"),
    )
    teacher, *pupils, parent, outsider, stranger = people
    school = School(
        base,
        http,
        created["id"],
        created["invite_codes"],
        admin,
        teacher,
        pupils,
        parent,
        outsider,
        stranger,
    )
    await _profile(school, teacher, "teacher", None)
    for pupil in pupils:
        await _profile(school, pupil, "student", "7b")
    await _profile(school, parent, "parent", None)
    status, other = await school.call(stranger, "POST", "api/orgs", {"name": "School 9"})
    assert status == 201
    body = {"code": other["invite_codes"]["teacher"], "full_name": "Stranger"}
    status, stranger.profile = await school.call(stranger, "POST", "api/profiles", body)
    assert status == 201
    return school


class Events:
    """One client's live chat events."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.received: list[dict[str, Any]] = []
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for message in self.ws:
            if message.type == aiohttp.WSMsgType.TEXT:
                self.received.append(json.loads(message.data))

    async def wait_for(self, kind: str, count: int = 1, timeout: float = 5) -> list[dict[str, Any]]:
        async def enough() -> list[dict[str, Any]]:
            while True:
                found = [e for e in self.received if e["type"] == kind]
                if len(found) >= count:
                    return found
                await asyncio.sleep(0.02)

        return await asyncio.wait_for(enough(), timeout)

    async def posts(self, count: int = 1, timeout: float = 5) -> list[dict[str, Any]]:
        """The first `count` messages people posted (not system notices) this client
        received. Across nodes a notice from just before the client connected (such as
        its own joining) may still arrive after: the bus delivers what it carries."""

        async def enough() -> list[dict[str, Any]]:
            while True:
                found = [
                    e["message"]
                    for e in self.received
                    if e["type"] == "message" and e["message"]["kind"] != "system"
                ]
                if len(found) >= count:
                    return found
                await asyncio.sleep(0.02)

        return await asyncio.wait_for(enough(), timeout)

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.received if e["type"] == kind]

    async def send(self, data: dict[str, Any]) -> None:
        await self.ws.send_json(data)

    async def close(self) -> None:
        await self.ws.close()
        self._reader.cancel()


async def events(school: School, who: Person) -> Events:
    ws = await school.http.ws_connect(f"{school.base}api/events", headers=bearer(who.token))
    return Events(ws)


async def lesson_for(school: School, chat: str, title: str) -> tuple[str, str, str]:
    """A lesson the teacher schedules for `chat` (no waiting room): its call, the host
    key, and the token of its invite link."""
    lesson = {
        "title": title,
        "start": "2030-03-18T09:00",
        "time_zone": "Europe/Moscow",
        "duration": "45m",
        "waiting_room": False,
        "chat_id": chat,
    }
    status, created = await school.call(school.teacher, "POST", "api/schedule", lesson)
    assert status == 201, created
    host_key = created["host_link"].split("?host=")[1]
    return created["call"], host_key, created["link"].rsplit("/", 1)[1]


async def new_chat(school: School, owner: Person, **extra: Any) -> str:
    """A chat of the school that `owner` creates; its id."""
    body = {"org_id": school.org, "title": "7b class", "kind": "group", **extra}
    status, created = await school.call(owner, "POST", "api/chats", body)
    assert status == 201, created
    return str(created["id"])
