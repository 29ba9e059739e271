"""Accounts in tests: signing up users over the real HTTP API, and an HTTP client that is
logged in on every server it talks to."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp
from yarl import URL

from web.auth import is_public

PASSWORD = "correct horse battery"


async def sign_up(
    http: aiohttp.ClientSession, base_url: str, name: str | None = None
) -> tuple[str, dict[str, object]]:
    """A new user on that server: (session token, user)."""
    login = f"u{secrets.token_hex(6)}"
    async with http.post(
        base_url.rstrip("/") + "/api/auth/signup",
        json={"login": login, "password": PASSWORD, "display_name": name or login},
    ) as response:
        assert response.status == 201, await response.text()
        body = await response.json()
    return str(body["token"]), dict(body["user"])


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@asynccontextmanager
async def logged_in_client() -> AsyncIterator[aiohttp.ClientSession]:
    """A client like a logged-in browser: its first request to a server signs a user up
    there, and every request to a non-public path carries that user's session (unless
    it brings its own Authorization)."""
    tokens: dict[str, str] = {}
    async with aiohttp.ClientSession() as plain:

        async def with_session(
            request: aiohttp.ClientRequest, handler: aiohttp.ClientHandlerType
        ) -> aiohttp.ClientResponse:
            url = URL(request.url)
            if not is_public(url.path) and "Authorization" not in request.headers:
                origin = str(url.origin())
                if origin not in tokens:
                    tokens[origin], _ = await sign_up(plain, origin)
                request.headers["Authorization"] = f"Bearer {tokens[origin]}"
            return await handler(request)

        async with aiohttp.ClientSession(middlewares=(with_session,)) as session:
            yield session
