"""The README's three nodes on one machine, run as its shell snippet is written: only
Redis's and PostgreSQL's addresses, the HTTP ports and the data directory are this
test's own (a redis-server on a free port, a fresh database, free ports, a temporary
directory); and speech is off (three nodes' transcribers are not what it is about)."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from harness.server import fetch_metrics, wait_ready
from tests.store.conftest import postgres_url
from tests.support.accounts import bearer, sign_up
from tests.support.redis import free_port, redis_server

__all__ = ["postgres_url"]

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
async def redis_url(tmp_path: Path) -> AsyncIterator[str]:
    with redis_server(tmp_path) as url:
        yield url


def readme_snippet() -> str:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("### Three nodes on one machine", 1)[1]
    return section.split("```sh\n", 1)[1].split("```", 1)[0]


def three_free_ports() -> int:
    """A base B with B+1, B+2 and B+3 free (the snippet's ports are `808$n`)."""
    for _ in range(50):
        base = free_port() // 10 * 10
        if base + 3 < 65536 and all(_free(base + n) for n in (1, 2, 3)):
            return base
    raise AssertionError("no three free ports in a row")


def _free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@pytest.mark.timeout(240)
async def test_the_readmes_three_nodes_form_a_cluster(
    tmp_path: Path, redis_url: str, postgres_url: str
) -> None:
    snippet = readme_snippet()
    assert "export PARTA_REDIS_URL=redis://127.0.0.1:6379/0" in snippet
    assert "export PARTA_DATABASE_URL=postgresql+asyncpg://parta@127.0.0.1:5432/parta" in snippet
    base = three_free_ports()
    script = (
        snippet.replace("redis://127.0.0.1:6379/0", redis_url)
        .replace("postgresql+asyncpg://parta@127.0.0.1:5432/parta", postgres_url)
        .replace("808$n", f"{base // 10}$n")
        .replace("/srv/parta", str(tmp_path / "shared"))
        .replace(".venv/bin/parta", str(Path(sys.executable).parent / "parta"))
    )
    # the speech model is not what this test is about: three nodes' workers would load it
    script = "export PARTA_SPEECH_MODEL=off\n" + script + "\nwait\n"
    log = (tmp_path / "nodes.log").open("w")
    process = subprocess.Popen(
        ["bash", "-c", script],
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    urls = [f"http://127.0.0.1:{base + n}" for n in (1, 2, 3)]
    try:
        async with aiohttp.ClientSession() as http:
            for url in urls:
                await wait_ready(http, url, lambda: None if process.poll() is None else "ended", 60)
            for _ in range(50):  # every node sees the other two
                seen = [(await fetch_metrics(http, url))["parta_cluster_nodes"] for url in urls]
                if seen == [3.0, 3.0, 3.0]:
                    break
                await asyncio.sleep(0.2)
            assert seen == [3.0, 3.0, 3.0]
            # a call asked of node 3 is placed on one of them, named by its --public-url
            token, _ = await sign_up(http, f"{urls[2]}/", "Anna")
            ws_url = f"{urls[2].replace('http', 'ws', 1)}/ws"
            async with http.ws_connect(ws_url, headers=bearer(token)) as ws:
                await ws.send_json({"type": "join", "version": 1, "call": "r1", "name": "Anna"})
                reply = await ws.receive_json(timeout=15)
            assert reply["type"] in ("joined", "redirect"), reply
            if reply["type"] == "redirect":
                assert reply["node"].rstrip("/") in urls[:2]
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.close()
    text = (tmp_path / "nodes.log").read_text()
    assert not re.search(r"Traceback|ERROR", text), text[-4000:]
