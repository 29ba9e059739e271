"""The web client in a cluster of two parta nodes: someone who opens a call's page on node
B, for a call that lives on node A, is sent to A by the `redirect` B answers their `join`
with, and meets the participant who is already there (an aiortc client on A).

Unlike the other browser tests this one runs in pytest's own process, not in a private
network namespace: the nodes need the Redis and PostgreSQL fixtures of the cluster tests.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from urllib.parse import quote

import aiohttp
import pytest

from tests.browser.chromium import launch_chromium, wait_for_js
from tests.browser.cluster_driver import two_nodes
from tests.browser.driver import wait_for_remote_media
from tests.browser.people import person
from tests.calls.test_call import wait_for
from tests.cluster.test_nodes import redis_url
from tests.store.conftest import postgres_url
from web import keys

__all__ = ["postgres_url", "redis_url"]

CALL = "assembly"
TIMEOUT = 30.0


@pytest.mark.browser
@pytest.mark.timeout(180)
async def test_a_page_opened_on_the_other_node_joins_the_call_on_its_node(
    tmp_path: Path, redis_url: str, postgres_url: str
) -> None:
    async with (
        aiohttp.ClientSession() as http,
        two_nodes(tmp_path, redis_url, postgres_url) as nodes,
    ):
        a, b, base_b = nodes.a, nodes.b, nodes.base_b
        scratch = nodes.scratch
        first = await nodes.host_on_a(http, CALL, "Anna on a", 1)
        link = first.invite_token
        assert link

        errors: list[str] = []
        async with launch_chromium(scratch) as browser:
            # Ben has an account made on b (the nodes share PostgreSQL) and opens the
            # call's page there, with the invite link's token
            page = await person(
                browser,
                base_b,
                "Ben",
                errors=errors,
                viewport={"width": 1280, "height": 720},
            )
            await page.goto(f"{base_b}/call/{CALL}?link={quote(link)}")
            field = page.get_by_test_id("prejoin-input-name")
            await field.wait_for(state="visible", timeout=TIMEOUT * 1000)
            await field.fill("Ben")
            await page.get_by_test_id("prejoin-btn-join").click()

            await wait_for_js(
                page,
                "window.parta?.state().connected"
                f" && window.parta.state().peers.some(p => p.id === '{first.peer_id}')",
                timeout=TIMEOUT * 1000,
            )
            state = await page.evaluate("window.parta.state()")
            # the page is in the call on a: a holds both people, b holds no room
            room = a.app[keys.CALLS].rooms[CALL]
            assert set(room.peers) == {first.peer_id, state["peerId"]}
            assert CALL not in b.app[keys.CALLS].rooms
            assert page.url == f"{base_b}/call/{CALL}"  # the page itself stays on b

            # Ben sees and hears Anna; Anna's client decodes Ben's fake camera
            stats = await wait_for_remote_media(page, first.peer_id or "", TIMEOUT)
            inbound = [s for s in stats["inbound"] if s["peerId"] == first.peer_id]
            assert any(s["kind"] == "video" and s["frameWidth"] > 0 for s in inbound)
            assert any(s["kind"] == "audio" for s in inbound)
            await wait_for(lambda: any(r.frames > 10 for r in first.recorders.values()), TIMEOUT)

            # the call's grid: Ben's own tile and Anna's
            tiles = page.locator("[data-testid^='tile-']:not([data-testid$='-screen'])")
            assert await tiles.count() == 2
            assert await page.get_by_test_id(f"tile-{first.peer_id}").is_visible()
            await asyncio.sleep(2)  # let the grid settle for the screenshot
            await page.screenshot(path=str(tmp_path / "cluster-call.png"))
            assert errors == []
