"""Accounts over HTTP: sign-up, log-in, sessions, log-out; every endpoint but a few
needs a session; organisations, invite codes and profiles inside the closed contour."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
from aiohttp import web

from accounts.sessions import COOKIE, Sessions
from tests.support.accounts import PASSWORD, bearer, sign_up
from web import keys


async def test_sign_up_log_in_and_out(app: web.Application, base_url: str) -> None:
    jar = aiohttp.CookieJar(unsafe=True)  # cookies for 127.0.0.1, as a browser keeps them
    async with aiohttp.ClientSession(cookie_jar=jar) as browser:
        account = {"login": "Anna.P", "password": PASSWORD, "display_name": "Anna Petrova"}
        async with browser.post(f"{base_url}api/auth/signup", json=account) as response:
            assert response.status == 201
            cookie = response.cookies[COOKIE]
            assert cookie["httponly"] and cookie["samesite"] == "Lax"
            assert (await response.json())["user"]["login"] == "anna.p"
        async with browser.get(f"{base_url}api/me") as response:
            me = await response.json()
        assert me == {
            "user": {"id": me["user"]["id"], "login": "anna.p", "display_name": "Anna Petrova"},
            "profiles": [],
            "admin_of": [],
        }
        async with browser.post(f"{base_url}api/auth/logout") as response:
            assert response.status == 204
        async with browser.get(f"{base_url}api/me") as response:
            assert response.status == 401
        # the same login again is taken; the password is kept as an Argon2id hash
        async with browser.post(f"{base_url}api/auth/signup", json=account) as response:
            assert response.status == 409 and (await response.json())["error"] == "login_taken"
        stored = await app[keys.ACCOUNTS].user_by_login("anna.p")
        assert stored is not None and stored.password_hash.startswith("$argon2id$")
        assert PASSWORD not in stored.password_hash
        for attempt in (
            {"login": "anna.p", "password": "wrong password"},
            {"login": "ghost", "password": PASSWORD},
        ):
            async with browser.post(f"{base_url}api/auth/login", json=attempt) as response:
                assert response.status == 401
                assert await response.json() == {
                    "error": "bad_credentials",
                    "message": "wrong login or password",
                }
        async with browser.post(
            f"{base_url}api/auth/login", json={"login": "ANNA.P", "password": PASSWORD}
        ) as response:
            assert response.status == 200
        async with browser.get(f"{base_url}api/me") as response:
            assert response.status == 200


async def test_bad_sign_ups_get_clear_errors(base_url: str) -> None:
    async with aiohttp.ClientSession() as client:
        for body, code in (
            ({"login": "a", "password": PASSWORD}, "bad_login"),
            ({"login": "has space", "password": PASSWORD}, "bad_login"),
            ({"login": "shorty", "password": "short"}, "bad_password"),
            ({"login": "nameless", "password": PASSWORD, "display_name": ""}, "bad_field"),
        ):
            async with client.post(f"{base_url}api/auth/signup", json=body) as response:
                assert response.status == 400
                error = await response.json()
                assert error["error"] == code and error["message"]
        json_type = {"Content-Type": "application/json"}
        async with client.post(
            f"{base_url}api/auth/signup", data="[", headers=json_type
        ) as response:
            assert response.status == 400 and (await response.json())["error"] == "bad_json"
        # a form from another site cannot sign anyone up or in
        form = {"login": "forged", "password": PASSWORD}
        for path in ("api/auth/signup", "api/auth/login"):
            async with client.post(f"{base_url}{path}", data=form) as response:
                assert response.status == 415
        # the name is optional: the login stands in
        async with client.post(
            f"{base_url}api/auth/signup", json={"login": "no.name", "password": PASSWORD}
        ) as response:
            assert response.status == 201
            assert (await response.json())["user"]["display_name"] == "no.name"


async def test_password_guessing_is_slowed_down(base_url: str) -> None:
    async with aiohttp.ClientSession() as client:
        await sign_up(client, base_url, "Target")
        async with client.post(
            f"{base_url}api/auth/signup", json={"login": "target2", "password": PASSWORD}
        ) as response:
            assert response.status == 201
        for attempt in range(11):
            async with client.post(
                f"{base_url}api/auth/login",
                json={"login": "target2", "password": f"guess{attempt:04}"},
            ) as response:
                assert response.status == (401 if attempt < 10 else 429)
        async with client.post(
            f"{base_url}api/auth/login", json={"login": "target2", "password": PASSWORD}
        ) as response:
            assert response.status == 429  # even the right password waits
            body = await response.json()
            assert body["error"] == "too_many_attempts" and "try again" in body["message"]


async def test_every_endpoint_but_a_few_needs_a_session(base_url: str) -> None:
    async with aiohttp.ClientSession() as stranger:
        for path in ("", "call/lesson-1", "login?x=1"):
            async with stranger.get(f"{base_url}{path}", allow_redirects=False) as response:
                if path.startswith("login"):
                    assert response.status == 200
                else:
                    assert response.status == 302
                    assert response.headers["Location"].startswith("/login?next=/")
        for method, path in (
            ("GET", "api/me"),
            ("GET", "api/schedule"),
            ("POST", "api/schedule"),
            ("GET", "api/calls/history"),
            ("POST", "api/orgs"),
            ("GET", "ws"),
        ):
            async with stranger.request(method, f"{base_url}{path}") as response:
                assert response.status == 401, path
                assert (await response.json())["error"] == "unauthorized"
        async with stranger.get(f"{base_url}api/me", headers=bearer("not-a-session")) as response:
            assert response.status == 401
        for path in (
            "healthz", "readyz", "metrics", "static/shared/style.css", "static/pages/login.js",
        ):
            async with stranger.get(f"{base_url}{path}") as response:
                assert response.status == 200, path
        async with stranger.get(f"{base_url}metrics") as response:
            assert (
                'parta_http_errors_total{endpoint="/api/me",status="401"}' in await response.text()
            )


async def test_sessions_expire_and_are_renewed_while_used(app: web.Application) -> None:
    accounts = app[keys.ACCOUNTS]
    now = [datetime(2030, 1, 1, tzinfo=UTC)]
    sessions = Sessions(accounts, ttl=timedelta(days=30), clock=lambda: now[0])
    user = await accounts.add_user("clocked", "h", "Clocked", now[0])
    token = await sessions.start(user)
    now[0] += timedelta(days=20)  # used with 10 days left: renewed for 30 more
    assert await sessions.user_for(token) == user
    now[0] += timedelta(days=25)
    assert await sessions.user_for(token) == user
    now[0] += timedelta(days=31)  # unused for longer than it lives
    assert await sessions.user_for(token) is None


async def post(http: aiohttp.ClientSession, url: str, token: str, body: Any) -> tuple[int, Any]:
    async with http.post(url, json=body, headers=bearer(token)) as response:
        return response.status, await response.json()


async def get(http: aiohttp.ClientSession, url: str, token: str) -> tuple[int, Any]:
    async with http.get(url, headers=bearer(token)) as response:
        return response.status, await response.json()


async def test_a_school_its_codes_and_profiles_stay_inside(base_url: str) -> None:
    async with aiohttp.ClientSession() as http:
        director, _ = await sign_up(http, base_url, "Director")
        teacher, _ = await sign_up(http, base_url, "Teacher")
        outsider, _ = await sign_up(http, base_url, "Outsider")
        status, school = await post(http, f"{base_url}api/orgs", director, {"name": "School 5"})
        assert status == 201 and set(school["invite_codes"]) == {"teacher", "student", "parent"}
        org = school["id"]
        codes = school["invite_codes"]
        status, profile = await post(
            http,
            f"{base_url}api/profiles",
            teacher,
            {"code": codes["teacher"], "full_name": "Ivan Ivanov"},
        )
        assert status == 201 and profile["role"] == "teacher"
        assert profile["org"] == {"id": org, "name": "School 5"}
        status, again = await post(
            http,
            f"{base_url}api/profiles",
            teacher,
            {"code": codes["student"], "full_name": "Ivan again", "class_name": "5a"},
        )
        assert status == 409 and again["error"] == "profile_exists"
        status, bad = await post(
            http, f"{base_url}api/profiles", outsider, {"code": "nope", "full_name": "X"}
        )
        assert status == 404 and bad["error"] == "bad_code"
        # members see each other; the admin sees the codes; outsiders see nothing at all
        status, members = await get(http, f"{base_url}api/orgs/{org}/members?q=ivan", teacher)
        assert status == 200 and [m["full_name"] for m in members["members"]] == ["Ivan Ivanov"]
        assert (await get(http, f"{base_url}api/orgs/{org}/codes", director))[0] == 200
        assert (await get(http, f"{base_url}api/orgs/{org}/codes", teacher))[0] == 403
        for path in (
            f"api/orgs/{org}/members",
            f"api/orgs/{org}/members?q=ivan",
            f"api/orgs/{org}/codes",
            f"api/profiles/{profile['id']}",
            "api/orgs/does-not-exist/members",
            "api/profiles/does-not-exist",
        ):
            status, body = await get(http, f"{base_url}{path}", outsider)
            assert status == 404 and body["error"] == "not_found", path
        assert (await get(http, f"{base_url}api/profiles/{profile['id']}", director))[0] == 200
        # a renewed code replaces the old one
        status, renewed = await post(http, f"{base_url}api/orgs/{org}/codes/student", director, {})
        assert status == 200
        status, _ = await post(
            http, f"{base_url}api/profiles", outsider, {"code": codes["student"], "full_name": "O"}
        )
        assert status == 404
        status, student = await post(
            http,
            f"{base_url}api/profiles",
            outsider,
            {"code": renewed["code"], "full_name": "Olga", "class_name": "5a"},
        )
        assert status == 201 and student["role"] == "student" and student["class_name"] == "5a"
