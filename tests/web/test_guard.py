"""The front door's checks (web/guard.py), as the issue-15 probes made them: a
forged Host, pages of another origin acting with a user's cookie, headers on pages."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from tests.chat.school import School, make_school, new_chat
from tests.support.accounts import PASSWORD, bearer
from tests.support.server import start_server

LESSON = {
    "title": "Алгебра 7б",
    "start": "2030-03-18T09:00",
    "time_zone": "Europe/Moscow",
    "duration": "45m",
}


@pytest.fixture
async def public_server(tmp_path: Path) -> AsyncIterator[TestServer]:
    server = await start_server(tmp_path / "data", public_url="https://parta.school.example")
    yield server
    await server.close()


async def cookie_of(http: aiohttp.ClientSession, base: str, token: str) -> dict[str, str]:
    """A browser's cookie for the user of `token`: logged in again by password."""
    async with http.get(f"{base}api/me", headers=bearer(token)) as response:
        login = (await response.json())["user"]["login"]
    async with http.post(
        f"{base}api/auth/login", json={"login": login, "password": PASSWORD}
    ) as response:
        assert response.status == 200
        ((name, morsel),) = response.cookies.items()
    return {"Cookie": f"{name}={morsel.value}"}


async def test_a_forged_host_is_refused_and_links_come_from_the_public_url(
    public_server: TestServer,
) -> None:
    base = str(public_server.make_url("/"))
    async with aiohttp.ClientSession() as http:
        school = await make_school(http, base, students=1)
        chat = {"id": await new_chat(school, school.teacher)}
        lesson = {**LESSON, "chat_id": chat["id"]}
        forged = {**bearer(school.teacher.token), "Host": "evil.example"}
        async with http.post(f"{base}api/schedule", json=lesson, headers=forged) as response:
            assert response.status == 421
            assert (await response.json())["error"] == "unknown_host"
        async with http.get(f"{base}healthz", headers={"Host": "evil.example:80"}) as response:
            assert response.status == 421
        # a request by the server's own name (or loopback) builds links from the public URL
        named = {**bearer(school.teacher.token), "Host": "parta.school.example"}
        async with http.post(f"{base}api/schedule", json=lesson, headers=named) as response:
            assert response.status == 201, await response.text()
            created = await response.json()
        assert created["link"].startswith("https://parta.school.example/join/")
        assert created["host_link"].startswith("https://parta.school.example/call/")
        _status, page = await school.call(school.teacher, "GET", f"api/chats/{chat['id']}/messages")
        notices = [m for m in page["messages"] if (m.get("meta") or {}).get("link")]
        assert notices and all(
            m["meta"]["link"].startswith("https://parta.school.example/") for m in notices
        )
        _, invite = await school.call(school.teacher, "GET", f"api/chats/{chat['id']}/invite")
        assert invite["url"].startswith("https://parta.school.example/invite/")


async def pages_of_another_origin(school: School, chat_id: str, cookie: dict[str, str]) -> None:
    """What the probe's page on another port and on a sibling host name did."""
    for origin, fetch_site in (
        ("http://127.0.0.1:1", "same-site"),  # another port of this host
        ("https://blog.school.example", "same-site"),  # a sibling host name
        ("https://evil.example", "cross-site"),
        ("null", "cross-site"),
    ):
        for content_type in ("text/plain", "application/json"):
            headers = {**cookie, "Origin": origin, "Content-Type": content_type}
            async with school.http.post(
                f"{school.base}api/chats/{chat_id}/messages",
                data=json.dumps({"text": "posted by another page"}),
                headers=headers,
            ) as response:
                assert response.status == 403, (origin, await response.text())
                assert (await response.json())["error"] == "cross_origin"
        # Origin dropped (an old browser, a privacy extension): the fetch metadata decides
        headers = {**cookie, "Sec-Fetch-Site": fetch_site}
        async with school.http.post(
            f"{school.base}api/chats/{chat_id}/messages", json={"text": "x"}, headers=headers
        ) as response:
            assert response.status == 403
        for path in ("api/events", "ws"):
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await school.http.ws_connect(
                    f"{school.base}{path}", headers={**cookie, "Origin": origin}
                )
            assert refused.value.status == 403


async def test_pages_of_another_origin_cannot_act_with_the_cookie(
    server: TestServer,
) -> None:
    base = str(server.make_url("/"))
    async with aiohttp.ClientSession() as http:
        school = await make_school(http, base, students=1)
        chat = {"id": await new_chat(school, school.teacher)}
        cookie = await cookie_of(http, base, school.teacher.token)
        await pages_of_another_origin(school, chat["id"], cookie)
        _status, page = await school.call(school.teacher, "GET", f"api/chats/{chat['id']}/messages")
        assert not [m for m in page["messages"] if m["kind"] == "text"]
        # parta's own page (its own origin) still posts, and opens its sockets
        own = {**cookie, "Origin": base.rstrip("/"), "Sec-Fetch-Site": "same-origin"}
        async with http.post(
            f"{base}api/chats/{chat['id']}/messages", json={"text": "привет"}, headers=own
        ) as response:
            assert response.status == 201
        events = await http.ws_connect(f"{base}api/events", headers=own)
        await events.send_json({"type": "ping"})
        assert (await events.receive_json(timeout=5))["type"] == "pong"
        await events.close()
        async with http.get(f"{base}metrics") as response:
            metrics = await response.text()
        assert 'parta_cross_origin_refused_total{kind="write"}' in metrics
        assert 'parta_cross_origin_refused_total{kind="websocket"}' in metrics


async def test_an_https_site_names_its_cookie_with_the_host_prefix(
    public_server: TestServer,
) -> None:
    base = str(public_server.make_url("/"))
    async with aiohttp.ClientSession() as http:
        async with http.post(
            f"{base}api/auth/signup",
            json={"login": "irina", "password": PASSWORD, "display_name": "Ирина"},
        ) as response:
            assert response.status == 201
            morsel = response.cookies["__Host-parta_session"]
        assert morsel["secure"] and morsel["path"] == "/" and not morsel["domain"]
        token = morsel.value
        # a cookie without the prefix (planted by a sibling host name) is no session here
        async with http.get(f"{base}api/me", headers={"Cookie": f"parta_session={token}"}) as r:
            assert r.status == 401
        async with http.get(
            f"{base}api/me", headers={"Cookie": f"__Host-parta_session={token}"}
        ) as r:
            assert r.status == 200


@pytest.mark.parametrize("path", ["/", "/login", "/chats", "/call/maths", "/invite/x", "/reset/x"])
async def test_every_page_carries_the_security_headers(server: TestServer, path: str) -> None:
    async with (
        aiohttp.ClientSession() as http,
        http.get(server.make_url(path), allow_redirects=False) as response,
    ):
        headers = response.headers
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Referrer-Policy"] == "no-referrer"
    if response.status == 200:
        policy = headers["Content-Security-Policy"]
        assert "script-src 'self';" in policy and "frame-ancestors 'none'" in policy
        assert "unsafe-inline" not in policy and "object-src 'none'" in policy


async def test_answers_that_are_no_page_run_nothing(server: TestServer) -> None:
    async with aiohttp.ClientSession() as http:
        for path in ("/api/me", "/healthz", "/api/files/nope"):
            async with http.get(server.make_url(path)) as response:
                policy = response.headers["Content-Security-Policy"]
            assert "default-src 'none'" in policy and "sandbox" in policy


def test_a_server_for_other_machines_needs_its_public_url() -> None:
    from web.cli import config_from_args, parse_args

    with pytest.raises(SystemExit, match="--public-url"):
        config_from_args(parse_args(["serve", "--host", "0.0.0.0", "--speech-model", "off"]))
    config = config_from_args(
        parse_args(
            [
                "serve",
                "--host",
                "0.0.0.0",
                "--public-url",
                "https://parta.school.example",
                "--allowed-origin",
                "https://lb.school.example",
                "--speech-model",
                "off",
            ]
        )
    )
    assert config.allowed_origins == ("https://lb.school.example",)
    with pytest.raises(SystemExit, match="not an http"):
        config_from_args(
            parse_args(["serve", "--public-url", "parta.example", "--speech-model", "off"])
        )


async def test_a_revalidated_page_keeps_its_policy(server: TestServer) -> None:
    """A 304's headers replace the cached page's: it must not bring the policy of what
    is no page (sandbox), or the browser's copy of the page stops running."""
    async with aiohttp.ClientSession() as http:
        async with http.get(server.make_url("/login")) as response:
            modified = response.headers["Last-Modified"]
        async with http.get(
            server.make_url("/login"), headers={"If-Modified-Since": modified}
        ) as response:
            assert response.status == 304
            assert "Content-Security-Policy" not in response.headers
            assert response.headers["X-Content-Type-Options"] == "nosniff"
