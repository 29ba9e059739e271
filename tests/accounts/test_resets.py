"""Passwords: a user changes their own (the current one needed; their other sessions
end), and a school's admin makes a one-time reset link for a member who forgot theirs
(only the newest works, once, until it expires; using it logs everyone else out); the
operator makes one from the shell for a member of several schools."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from accounts.sessions import COOKIE, token_hash
from tests.chat.school import make_school
from tests.support.accounts import PASSWORD, bearer, sign_up
from web import keys

NEW = "a brand new passphrase"


async def call(
    http: aiohttp.ClientSession,
    base: str,
    method: str,
    path: str,
    token: str | None = None,
    body: Any = None,
) -> tuple[int, Any]:
    headers = bearer(token) if token else {}
    async with http.request(method, f"{base}{path}", json=body, headers=headers) as response:
        data = await response.json() if response.content_type == "application/json" else None
        return response.status, data


async def log_in(http: aiohttp.ClientSession, base: str, login: str, password: str) -> int:
    body = {"login": login, "password": password}
    status, _ = await call(http, base, "POST", "api/auth/login", body=body)
    return status


async def test_a_user_changes_their_password_and_their_other_sessions_end(
    base_url: str, http: aiohttp.ClientSession
) -> None:
    token, user = await sign_up(http, base_url, "Anna")
    login = str(user["login"])
    body = {"login": login, "password": PASSWORD}
    status, other = await call(http, base_url, "POST", "api/auth/login", body=body)
    assert status == 200
    change = {"current": "not my password", "password": NEW}
    status, error = await call(http, base_url, "PUT", "api/me/password", token, change)
    assert (status, error["error"]) == (403, "bad_credentials")
    change = {"current": PASSWORD, "password": "short"}
    status, error = await call(http, base_url, "PUT", "api/me/password", token, change)
    assert (status, error["error"]) == (400, "bad_password")
    async with http.put(
        f"{base_url}api/me/password", data="current=x", headers=bearer(token)
    ) as response:  # a form from another site cannot change it
        assert response.status == 415
    change = {"current": PASSWORD, "password": NEW}
    status, done = await call(http, base_url, "PUT", "api/me/password", token, change)
    assert (status, done) == (200, {"changed": True, "other_sessions_ended": 1})
    assert (await call(http, base_url, "GET", "api/me", other["token"]))[0] == 401
    assert (await call(http, base_url, "GET", "api/me", token))[0] == 200  # this one stays
    assert await log_in(http, base_url, login, PASSWORD) == 401
    assert await log_in(http, base_url, login, NEW) == 200


async def test_an_admin_makes_a_reset_link_that_works_once(
    app: web.Application, base_url: str, http: aiohttp.ClientSession
) -> None:
    school = await make_school(http, base_url, students=1)
    pupil = school.students[0]
    _, me = await call(http, base_url, "GET", "api/me", pupil.token)
    login = me["user"]["login"]
    path = f"api/orgs/{school.org}/members/{pupil.profile['id']}/password-reset"

    # only the school's admins make one; to others the member is not there
    status, error = await school.call(school.teacher, "POST", path)
    assert (status, error["error"]) == (403, "forbidden")
    for outsider in (school.outsider, school.stranger):
        assert (await school.call(outsider, "POST", path))[0] == 404
    stranger_in_school = f"api/orgs/{school.org}/members/{school.stranger.profile['id']}"
    status, _ = await school.call(school.admin, "POST", f"{stranger_in_school}/password-reset")
    assert status == 404  # a profile of another school

    status, first = await school.call(school.admin, "POST", path)
    assert status == 201 and first["for"] == pupil.name
    status, made = await school.call(school.admin, "POST", path)
    assert status == 201 and made["link"].endswith(made["path"])
    assert made["link"].startswith(base_url.rstrip("/"))
    token = made["path"].rsplit("/", 1)[1]

    async with aiohttp.ClientSession() as browser:  # nobody logged in
        async with browser.get(f"{base_url}reset/{token}") as response:
            assert response.status == 200 and "<html" in (await response.text()).lower()
            assert response.headers["Referrer-Policy"] == "no-referrer"
        status, info = await call(browser, base_url, "GET", f"api/password-resets/{token}")
        assert status == 200 and info["login"] == login
        old = first["path"].rsplit("/", 1)[1]  # the newer link replaced it
        status, error = await call(browser, base_url, "GET", f"api/password-resets/{old}")
        assert (status, error["error"]) == (404, "bad_reset")
        status, error = await call(
            browser, base_url, "POST", f"api/password-resets/{token}", body={"password": "x"}
        )
        assert (status, error["error"]) == (400, "bad_password")
        async with browser.post(
            f"{base_url}api/password-resets/{token}", json={"password": NEW}
        ) as response:
            assert response.status == 200
            assert COOKIE in response.cookies  # logged in
            assert (await response.json())["user"]["login"] == login
        status, _ = await call(
            browser, base_url, "POST", f"api/password-resets/{token}", body={"password": NEW}
        )
        assert status == 404  # once only

    assert (await call(http, base_url, "GET", "api/me", pupil.token))[0] == 401  # logged out
    assert await log_in(http, base_url, login, PASSWORD) == 401
    assert await log_in(http, base_url, login, NEW) == 200


async def test_an_expired_reset_link_does_nothing(
    app: web.Application, base_url: str, http: aiohttp.ClientSession
) -> None:
    _, user = await sign_up(http, base_url, "Boris")
    accounts = app[keys.ACCOUNTS]
    then = datetime.now(UTC) - timedelta(days=4)
    user_id = str(user["id"])
    await accounts.add_reset(token_hash("old-link"), user_id, user_id, then, then + timedelta(1))
    status, error = await call(http, base_url, "GET", "api/password-resets/old-link")
    assert (status, error["error"]) == (404, "bad_reset")
    body = {"password": NEW}
    status, _ = await call(http, base_url, "POST", "api/password-resets/old-link", body=body)
    assert status == 404
    assert await log_in(http, base_url, str(user["login"]), PASSWORD) == 200


async def test_a_member_of_two_schools_is_reset_only_by_the_operator(
    tmp_path: Path, base_url: str, http: aiohttp.ClientSession
) -> None:
    """The admin of School 5 cannot take over the account of School 9's admin, who is a
    parent in School 5 too: their reset link is the operator's (`parta reset-link`)."""
    school = await make_school(http, base_url, students=1)
    stranger = school.stranger
    _, me = await call(http, base_url, "GET", "api/me", stranger.token)
    login = me["user"]["login"]
    # a link School 9's admin made before stops working when they join another school
    other_school = stranger.profile["org_id"]
    own = f"api/orgs/{other_school}/members/{stranger.profile['id']}/password-reset"
    status, early = await school.call(stranger, "POST", own)
    assert status == 201
    body = {"code": school.codes["parent"], "full_name": "Stranger as a parent"}
    status, parent = await school.call(stranger, "POST", "api/profiles", body)
    assert status == 201
    early_token = early["path"].rsplit("/", 1)[1]
    status, _ = await call(http, base_url, "GET", f"api/password-resets/{early_token}")
    assert status == 404
    path = f"api/orgs/{school.org}/members/{parent['id']}/password-reset"
    status, error = await school.call(school.admin, "POST", path)
    assert (status, error["error"]) == (409, "member_elsewhere")
    assert "parta reset-link" in error["message"]

    # so is a member who creates a school of their own (an admin there, with no profile);
    # a link made for them before stops working then
    pupil = school.students[0]
    pupil_path = f"api/orgs/{school.org}/members/{pupil.profile['id']}/password-reset"
    status, made = await school.call(school.admin, "POST", pupil_path)
    assert status == 201
    status, _ = await school.call(pupil, "POST", "api/orgs", {"name": "Pupil's own school"})
    assert status == 201
    pupil_token = made["path"].rsplit("/", 1)[1]
    for method in ("GET", "POST"):
        body = {"password": NEW} if method == "POST" else None
        status, _ = await call(
            http, base_url, method, f"api/password-resets/{pupil_token}", body=body
        )
        assert status == 404
    status, error = await school.call(school.admin, "POST", pupil_path)
    assert (status, error["error"]) == (409, "member_elsewhere")

    def reset_link(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "web.cli", "reset-link", *args],
            capture_output=True,
            text=True,
            timeout=60,
        )

    # the operator, from the shell, with the options the server runs with
    data = ("--data-dir", str(tmp_path / "data"))
    unknown = reset_link("nobody-here", *data)
    assert unknown.returncode != 0 and "no user has the login 'nobody-here'" in unknown.stderr
    made = reset_link(login.upper(), *data, "--public-url", "https://parta.school.example")
    assert made.returncode == 0, made.stderr
    link = made.stdout.strip()
    assert link.startswith("https://parta.school.example/reset/") and "works once" in made.stderr
    token = link.rsplit("/", 1)[1]
    status, info = await call(http, base_url, "GET", f"api/password-resets/{token}")
    assert (status, info["login"]) == (200, login)
    status, _ = await call(
        http, base_url, "POST", f"api/password-resets/{token}", body={"password": NEW}
    )
    assert status == 200
    assert (await call(http, base_url, "GET", "api/me", stranger.token))[0] == 401  # logged out
    assert await log_in(http, base_url, login, NEW) == 200
