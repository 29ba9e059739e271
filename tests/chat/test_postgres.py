"""The whole server on PostgreSQL instead of SQLite: a school, a chat, live messages."""

from __future__ import annotations

from pathlib import Path

import aiohttp
from aiohttp.test_utils import TestServer

from tests.chat.school import events, make_school
from tests.chat.test_http import class_chat
from tests.store.conftest import database_url  # a fresh PostgreSQL (or SQLite) database
from web.app import create_app
from web.config import Config

__all__ = ["database_url"]


async def test_a_school_chats_on_either_database(database_url: str, tmp_path: Path) -> None:
    config = Config(data_dir=tmp_path, database_url=database_url)
    server = TestServer(create_app(config), host="127.0.0.1")
    await server.start_server()
    base = str(server.make_url("/"))
    try:
        async with aiohttp.ClientSession() as http:
            school = await make_school(http, base)
            chat = await class_chat(school)
            live = await events(school, school.students[0])
            status, _ = await school.call(
                school.teacher, "POST", f"api/chats/{chat}/messages", {"text": "Привет, 7б!"}
            )
            assert status == 201
            got = await live.wait_for("message")
            assert got[-1]["message"]["text"] == "Привет, 7б!"
            status, listing = await school.call(school.students[0], "GET", "api/chats")
            assert listing["chats"][0]["unread"] == 1
            await live.close()
    finally:
        await server.close()
