"""The log-in limits over HTTP, with clients on different loopback addresses: a
guesser's failures never keep the owner out from elsewhere, a school sharing one
address is not locked out by one pupil, and behind a trusted proxy the clients it
forwards are told apart by X-Forwarded-For (which nobody else can forge)."""

from __future__ import annotations

import asyncio
import ipaddress
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import aiohttp

from tests.support.accounts import PASSWORD, bearer, sign_up
from tests.support.server import start_server


def from_address(address: str) -> aiohttp.ClientSession:
    """A client whose connections come from `address` (any of 127.0.0.0/8)."""
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(local_addr=(address, 0)))


async def log_in(
    http: aiohttp.ClientSession,
    base: str,
    login: str,
    password: str,
    headers: Mapping[str, str] | None = None,
) -> tuple[int, Any, Mapping[str, str]]:
    async with http.post(
        f"{base}api/auth/login", json={"login": login, "password": password}, headers=headers
    ) as response:
        return response.status, await response.json(), response.headers


async def guess(
    http: aiohttp.ClientSession,
    base: str,
    login: str,
    times: int,
    headers: Mapping[str, str] | None = None,
) -> list[int]:
    """`times` wrong passwords for `login`, one after another: their statuses."""
    return [(await log_in(http, base, login, f"guess {n:04}", headers))[0] for n in range(times)]


def throttled(metrics: str, reason: str) -> float:
    found = re.search(rf'^parta_login_throttled_total{{reason="{reason}"}} (\S+)$', metrics, re.M)
    assert found is not None, metrics
    return float(found.group(1))


async def test_the_owner_logs_in_after_a_guessers_failures_from_elsewhere(base_url: str) -> None:
    async with from_address("127.0.0.1") as owner, from_address("127.0.0.2") as guesser:
        token, user = await sign_up(owner, base_url, "Anna")
        login = str(user["login"])
        assert await guess(guesser, base_url, login, 12) == [401] * 10 + [429] * 2
        # the guesser is refused, even with the right password, and told when to retry
        status, error, headers = await log_in(guesser, base_url, login, PASSWORD)
        assert status == 429 and error["error"] == "too_many_attempts"
        assert "try again in" in error["message"] and error["retry_after"] >= 1
        assert int(headers["Retry-After"]) == error["retry_after"]
        # the owner, from another address, gets in (a moment later) and may change the
        # password, which is checked by the same limiter
        status, _, _ = await log_in(owner, base_url, login, PASSWORD)
        assert status == 200
        change = {"current": PASSWORD, "password": "a brand new passphrase"}
        async with owner.put(
            f"{base_url}api/me/password", json=change, headers=bearer(token)
        ) as response:
            assert response.status == 200
        async with owner.get(f"{base_url}metrics") as response:
            metrics = await response.text()
        assert throttled(metrics, "refused") == 3
        assert throttled(metrics, "delayed_login") == 2  # the owner's two tries
        assert throttled(metrics, "delayed_address") == 0


async def test_one_pupil_guessing_does_not_lock_out_a_school_on_one_address(
    base_url: str,
) -> None:
    # a school behind one NAT address: one pupil tries five passwords on each of ten
    # logins; a teacher there who never failed logs in all the same
    async with from_address("127.0.0.3") as pupil, from_address("127.0.0.3") as teacher:
        _, user = await sign_up(teacher, base_url, "Teacher")
        tries = await asyncio.gather(
            *(guess(pupil, base_url, f"classmate{n}", 5) for n in range(10))
        )
        assert [status for statuses in tries for status in statuses] == [401] * 50
        status, _, _ = await log_in(teacher, base_url, str(user["login"]), PASSWORD)
        assert status == 200


async def test_behind_a_trusted_proxy_forwarded_clients_are_limited_apart(
    tmp_path: Path,
) -> None:
    server = await start_server(
        tmp_path / "data", trusted_proxies=(ipaddress.ip_network("127.0.0.0/30"),)
    )
    base = str(server.make_url("/"))
    try:
        async with from_address("127.0.0.1") as proxy:
            _, user = await sign_up(proxy, base, "Anna")
            login = str(user["login"])
            # as nginx forwards them: whatever the client sent, then the client's address
            guesser = {"X-Forwarded-For": "192.0.2.1, 203.0.113.9"}
            assert await guess(proxy, base, login, 11, guesser) == [401] * 10 + [429]
            # what the client wrote itself does not get it out
            forged = {"X-Forwarded-For": "192.0.2.2, 203.0.113.9"}
            assert (await log_in(proxy, base, login, PASSWORD, forged))[0] == 429
            # nor does a second trusted proxy in the chain (127.0.0.2 is one too)
            chain = {"X-Forwarded-For": "203.0.113.9, 127.0.0.2"}
            assert (await log_in(proxy, base, login, PASSWORD, chain))[0] == 429
            owner = {"X-Forwarded-For": "198.51.100.4"}
            assert (await log_in(proxy, base, login, PASSWORD, owner))[0] == 200
    finally:
        await server.close()


async def test_without_a_trusted_proxy_x_forwarded_for_is_ignored(base_url: str) -> None:
    async with from_address("127.0.0.1") as guesser, from_address("127.0.0.2") as owner:
        _, user = await sign_up(owner, base_url, "Anna")
        login = str(user["login"])
        statuses = []
        for n in range(11):
            claimed = {"X-Forwarded-For": f"192.0.2.{n}"}
            statuses.append((await log_in(guesser, base_url, login, "wrong", claimed))[0])
        assert statuses == [401] * 10 + [429]  # one address, whatever it claims
        assert (await log_in(owner, base_url, login, PASSWORD))[0] == 200
