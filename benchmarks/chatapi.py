"""Shared by the chat benchmarks (`upload`, `chat_fanout`): a `parta serve` in a temporary
data directory, a JSON client of its HTTP API, and memory readings from /proc."""

from __future__ import annotations

import contextlib
import json
import logging
import secrets
import shutil
import sys
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from harness.server import Server

logger = logging.getLogger("benchmarks.chatapi")

PASSWORD = "benchmark password"


def setup_logging(verbose: bool = False) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(name)s %(message)s",
    )


def memory_kib(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak RSS) of a process, in KiB, from /proc/<pid>/status."""
    found: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            found[name] = int(value.split()[0])
    return found


def reset_peak_rss(pid: int) -> bool:
    """Reset VmHWM to the current RSS (`echo 5 > /proc/<pid>/clear_refs`, Linux >= 4.0),
    so that a later VmHWM is the peak of what came after; False if not allowed."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def mib(kib: int) -> float:
    return round(kib / 1024, 1)


@contextlib.asynccontextmanager
async def running_server(
    http: aiohttp.ClientSession, extra_args: list[str] | None = None
) -> AsyncIterator[Server]:
    """`parta serve` on a free port with its own temporary --data-dir, which is removed
    (uploaded files with it) when the server has stopped."""
    data = Path(tempfile.mkdtemp(prefix="parta-bench-"))
    server = Server(data / "data", data / "server.log", extra_args=extra_args)
    try:
        await server.start(http)
        logger.info("server pid %d on %s", server.pid, server.base_url)
        yield server
    except BaseException:
        tail = server.log_tail()
        if tail:
            logger.error("server log:\n%s", tail)
        raise
    finally:
        code = await server.stop()
        if code not in (0, None):
            logger.warning("the server exited with %s:\n%s", code, server.log_tail())
        shutil.rmtree(data, ignore_errors=True)


class ApiError(RuntimeError):
    pass


@dataclass
class Api:
    """JSON requests to the server as one user (or anonymously)."""

    http: aiohttp.ClientSession
    base_url: str
    token: str | None = None

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    async def call(
        self, method: str, path: str, body: Any = None, *, expect: int = 200
    ) -> dict[str, Any]:
        async with self.http.request(
            method, self.base_url + path, json=body, headers=self.headers
        ) as response:
            text = await response.text()
            if response.status != expect:
                raise ApiError(f"{method} {path}: {response.status} {text[:500]}")
        result: dict[str, Any] = json.loads(text) if text else {}
        return result

    async def sign_up(self, name: str) -> Api:
        """A new user; returns an Api logged in as them."""
        login = f"b{secrets.token_hex(6)}"
        body = {"login": login, "password": PASSWORD, "display_name": name}
        created = await Api(self.http, self.base_url).call(
            "POST", "/api/auth/signup", body, expect=201
        )
        return Api(self.http, self.base_url, str(created["token"]))


@dataclass
class School:
    org_id: str
    codes: dict[str, str]


async def make_school(owner: Api, name: str = "Benchmark school") -> School:
    org = await owner.call("POST", "/api/orgs", {"name": name}, expect=201)
    school = School(str(org["id"]), {k: str(v) for k, v in org["invite_codes"].items()})
    await owner.call(
        "POST",
        "/api/profiles",
        {"code": school.codes["teacher"], "full_name": "Bench Teacher"},
        expect=201,
    )
    return school


async def create_chat(owner: Api, school: School, title: str, kind: str, public: bool) -> str:
    """A chat (or channel) in the school, owned by `owner`: its id."""
    chat = await owner.call(
        "POST",
        "/api/chats",
        {"org_id": school.org_id, "title": title, "kind": kind, "public": public},
        expect=201,
    )
    return str(chat["id"])
