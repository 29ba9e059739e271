"""Property-based fuzzing of every HTTP route, from the server's own OpenAPI description
(schemathesis: valid and invalid bodies, queries and ids), against a real `parta serve`
process. Bounded in count: a few examples per operation.

What must hold, for every request: no 5xx, every error is JSON with a message; and when
it is all over, no traceback in the server's log, its memory about where it was, and
another school's chat and a live call of theirs just as they were.
"""

from __future__ import annotations

import asyncio
import base64
import os
import re
import socket
import subprocess
import sys
import threading
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings

from web.app import create_app
from web.config import Config
from web.openapi import describe

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = int(os.environ.get("PARTA_FUZZ_EXAMPLES", "12"))
PASSWORD = "correct horse battery"
# the fuzzing user's own session would end, and every later case be a 401
EXCLUDED = ["/api/auth/logout"]


def _document() -> dict[str, Any]:
    app = create_app(Config(data_dir=Path("/nonexistent-not-started"), speech_model=None))
    return describe(app)


# SDP offers and a file's bytes are text to the fuzzer
schemathesis.serializer.alias(["application/sdp", "application/offset+octet-stream"], "text/plain")
schema = schemathesis.openapi.from_dict(_document())
schema.config.generation.update(
    modes=[schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE],
    max_examples=EXAMPLES,
    deterministic=True,
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _rss_kib(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+)", status).group(1))  # type: ignore[union-attr]


@dataclass
class Served:
    base: str
    process: subprocess.Popen[bytes]
    log: Path
    headers: dict[str, str]
    ids: dict[str, str]
    victim: Victim
    rss_before: int = 0
    requests: int = 0
    failures: list[str] = field(default_factory=list)


class Victim:
    """Another school's teacher: a chat with two messages, and a live call held open
    over the call WebSocket (in its own thread and loop)."""

    def __init__(self, base: str, token: str, chat: str) -> None:
        self.base, self.token, self.chat = base, token, chat
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.session: aiohttp.ClientSession | None = None
        self.joined = self._run(self._join())

    def _run(self, coroutine: Any, timeout: float = 20) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    async def _join(self) -> dict[str, Any]:
        self.session = aiohttp.ClientSession(headers={"Authorization": f"Bearer {self.token}"})
        self.ws = await self.session.ws_connect(f"{self.base}/ws", heartbeat=10)
        await self.ws.send_json(
            {"type": "join", "version": 1, "call": "victim-lesson", "name": "T"}
        )
        while True:
            message = await self.ws.receive_json(timeout=10)
            if message["type"] == "joined":
                return dict(message)

    async def _ping(self) -> str:
        assert self.ws is not None
        await self.ws.send_json({"type": "ping"})
        while True:
            message = await self.ws.receive_json(timeout=10)
            if message["type"] in ("pong", "error", "call_ended", "removed"):
                return str(message["type"])

    def still_in_call(self) -> bool:
        return self._run(self._ping()) == "pong"

    def close(self) -> None:
        async def closing() -> None:
            if self.ws is not None:
                await self.ws.close()
            if self.session is not None:
                await self.session.close()

        self._run(closing())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


def _sign_up(base: str, login: str) -> str:
    response = requests.post(
        f"{base}/api/auth/signup",
        json={"login": login, "password": PASSWORD, "display_name": login},
        timeout=10,
    )
    assert response.status_code == 201, response.text
    return str(response.json()["token"])


def _school(base: str, token: str, name: str) -> dict[str, str]:
    """A school of the user's own, a teacher's profile in it, a chat with two messages,
    a folder and a finished upload: ids for the fuzzed paths."""
    auth = {"Authorization": f"Bearer {token}"}
    org = requests.post(f"{base}/api/orgs", json={"name": name}, headers=auth, timeout=10).json()
    profile = requests.post(
        f"{base}/api/profiles",
        json={"code": org["invite_codes"]["teacher"], "full_name": f"{name} teacher"},
        headers=auth,
        timeout=10,
    ).json()
    chat = requests.post(
        f"{base}/api/chats", json={"org_id": org["id"], "title": "7б"}, headers=auth, timeout=10
    ).json()
    message = {}
    for text in ("Домашнее задание: с. 12", "Контрольная в пятницу"):
        message = requests.post(
            f"{base}/api/chats/{chat['id']}/messages", json={"text": text}, headers=auth, timeout=10
        ).json()
    folder = requests.post(
        f"{base}/api/folders", json={"name": "Уроки"}, headers=auth, timeout=10
    ).json()
    meta = ",".join(
        f"{k} {base64.b64encode(v.encode()).decode()}"
        for k, v in {
            "chat_id": chat["id"],
            "filename": "notes.txt",
            "filetype": "text/plain",
        }.items()
    )
    tus = {**auth, "Tus-Resumable": "1.0.0"}
    created = requests.post(
        f"{base}/api/uploads",
        headers={**tus, "Upload-Length": "5", "Upload-Metadata": meta},
        timeout=10,
    )
    upload = created.headers["Location"].rsplit("/", 1)[1]
    requests.patch(
        f"{base}/api/uploads/{upload}",
        data=b"notes",
        headers={**tus, "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"},
        timeout=10,
    )
    return {
        "org": org["id"],
        "profile": profile["id"],
        "chat": chat["id"],
        "message": message["id"],
        "folder": folder["id"],
        "upload": upload,
        "file": upload,
        "call": "fuzz-lesson",
        "role": "teacher",
        "format": "png",
    }


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    directory = tmp_path_factory.mktemp("fuzz")
    port = _free_port()
    log = directory / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "web.cli",
                "serve",
                "--port",
                str(port),
                "--data-dir",
                str(directory / "data"),
                "--speech-model",
                "off",
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if requests.get(f"{base}/readyz", timeout=1).status_code == 200:
                break
        except requests.ConnectionError:
            pass
        assert process.poll() is None and time.monotonic() < deadline, log.read_text()
        time.sleep(0.2)
    try:
        token = _sign_up(base, "fuzzer")
        ids = _school(base, token, "Школа фаззинга")
        victim_token = _sign_up(base, "victim")
        victim_ids = _school(base, victim_token, "Соседняя школа")
        victim = Victim(base, victim_token, victim_ids["chat"])
        served = Served(base, process, log, {"Authorization": f"Bearer {token}"}, ids, victim)
        served.rss_before = _rss_kib(process.pid)
        yield served
        victim.close()
    finally:
        process.terminate()
        process.wait(10)


@schema.exclude(path=EXCLUDED).parametrize()
@settings(
    deadline=None,
    suppress_health_check=list(HealthCheck),
    max_examples=EXAMPLES,
    derandomize=True,
    database=None,
)
def test_no_input_reaches_a_server_error(case: schemathesis.Case, served: Served) -> None:
    # the fuzzed ids are mostly nonsense (404); half the time a real one of the user's
    # own, so bodies and queries reach the handlers behind the lookups
    if case.path_parameters and zlib.crc32(repr(case.body).encode()) % 2 == 0:
        case.path_parameters = {
            name: served.ids.get(name, value) for name, value in case.path_parameters.items()
        }
    response = case.call(base_url=served.base, headers=served.headers, timeout=30)
    served.requests += 1
    text = response.content.decode("utf-8", "replace")
    assert response.status_code < 500, (case.method, case.path, text[:500])
    assert "Traceback" not in text and "object is not" not in text
    content_type = (response.headers.get("content-type") or [""])[0]
    if response.status_code >= 400 and case.method != "HEAD":
        if content_type.startswith("text/html"):
            # a page for a person (a join link that does not work): says so in HTML
            assert not case.path.startswith("/api/"), case.path
            return
        what = (case.method, case.path, response.status_code, content_type, text[:300])
        assert content_type.startswith("application/json"), what
        error = response.json()
        assert error["error"] and error["message"], what


def test_after_the_fuzzing_nothing_is_broken(served: Served) -> None:
    assert served.requests > 0, "the fuzzing ran no request"
    log = served.log.read_text(errors="replace")
    assert "Traceback" not in log and " ERROR " not in log, log[-3000:]
    grown = _rss_kib(served.process.pid) - served.rss_before
    # flat: a few thousand requests leave the server within 64 MiB of where it was
    assert grown < 64 * 1024, f"the server grew by {grown} KiB"
    victim = served.victim
    assert victim.still_in_call()
    page = requests.get(
        f"{served.base}/api/chats/{victim.chat}/messages",
        headers={"Authorization": f"Bearer {victim.token}"},
        timeout=10,
    ).json()
    texts = [m["text"] for m in page["messages"] if m["kind"] == "text"]
    assert texts == ["Контрольная в пятницу", "Домашнее задание: с. 12"]
