"""The watch page in a cluster of two parta nodes: a broadcast goes on air on node A (its
origin), and a viewer opens its watch link on node B (an edge), which pulls the
broadcast once from A and serves the page's WebRTC (WHEP) from its own relay. The viewer
sees the picture, the call's title as A reports it, and the count of viewers (the edge
reports its own to the origin, the page polls).

Like test_cluster_page.py this runs in pytest's own process, not in a private network
namespace: the nodes need the Redis and PostgreSQL fixtures of the cluster tests.
Screenshot: edge-watch.png in the test's directory (1280 px wide).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from harness.server import fetch_metrics
from tests.browser.chromium import launch_chromium, wait_for_js
from tests.browser.cluster_driver import two_nodes
from tests.browser.watch_driver import PICTURE, PUBLISHER, SHOWN, read_publisher
from tests.cluster.test_nodes import redis_url
from tests.store.conftest import postgres_url
from web import keys

__all__ = ["postgres_url", "redis_url"]

# an ad hoc call's title is its name (calls/room.py), which the watch page shows
CALL = "assembly-hall"
TIMEOUT = 30.0
VIEWERS_TIMEOUT = 15.0  # the edge reports every 2 s, the page polls


@pytest.mark.browser
@pytest.mark.timeout(180)
async def test_a_broadcast_is_watched_in_the_browser_on_an_edge_node(
    tmp_path: Path, redis_url: str, postgres_url: str
) -> None:
    async with (
        aiohttp.ClientSession() as http,
        two_nodes(tmp_path, redis_url, postgres_url) as nodes,
    ):
        b, base_a, base_b = nodes.b, nodes.base_a, nodes.base_b
        scratch = nodes.scratch
        host = await nodes.host_on_a(http, CALL, "Olga on a", PUBLISHER)
        link = host.expect("broadcast_link")
        await host.send({"type": "start_broadcast", "public": True})
        watch_link = (await asyncio.wait_for(link, TIMEOUT))["watch_link"]
        token = watch_link.rsplit("/", 1)[-1]
        async with http.get(f"{base_a}/api/watch/{token}") as response:
            assert response.status == 200
            at_origin: dict[str, Any] = await response.json()
        assert at_origin["title"] == CALL, at_origin

        errors: list[str] = []
        async with launch_chromium(scratch) as browser:
            context = await browser.new_context(viewport={"width": 1280, "height": 720})
            page = await context.new_page()
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            # the link opened on b, with no mode: the page tries WebRTC first
            loaded = await page.goto(f"{base_b}{watch_link}")
            assert loaded is not None and loaded.status == 200
            await wait_for_js(
                page, "(window.partaWatch?.framesDecoded() ?? 0) > 10", timeout=TIMEOUT * 1000
            )
            watching = await page.evaluate(
                "({mode: window.partaWatch.mode, live: window.partaWatch.live,"
                " frames: window.partaWatch.framesDecoded()})"
            )
            assert watching["mode"] == "whep" and watching["live"] is True, watching
            # served by b's relay of a's broadcast: one pipe from a to b, and a has
            # no WHEP viewer of its own
            assert b.app[keys.EDGES].relays, "b serves the page from no relay"
            on_a, on_b = await fetch_metrics(http, base_a), await fetch_metrics(http, base_b)
            assert on_a["parta_edge_pipes"] == 1.0
            assert on_a['parta_broadcast_viewers{tier="webrtc"}'] == 0.0
            assert on_b['parta_edge_viewers{tier="webrtc"}'] == 1.0
            assert on_b["parta_edge_relays"] == 1.0

            # the count: b tells a, a adds it up, the page on b reads it back
            deadline = time.monotonic() + VIEWERS_TIMEOUT
            while (shown := await page.evaluate(SHOWN))["viewers"] != "1 watching":
                assert time.monotonic() < deadline, shown
                await asyncio.sleep(0.5)
            assert shown["title"] == at_origin["title"], shown
            assert shown["live_badge"] and shown["mode_label"] == "WebRTC", shown
            assert shown["notice"] is None and not shown["ended_shown"], shown
            assert await page.title() == f"{CALL} - parta"

            # the picture goes on: the host's pattern, frames still coming
            later = await page.evaluate("window.partaWatch.framesDecoded()")
            assert later > watching["frames"], (watching, later)
            picture = await page.evaluate(PICTURE)
            assert read_publisher(picture.get("cells") or []) == PUBLISHER, picture
            async with http.get(f"{base_b}/api/watch/{token}") as response:
                at_edge = await response.json()
            for field in ("title", "started_at", "whep"):
                assert at_edge[field] == at_origin[field], field
            assert at_edge["viewers"] == {"webrtc": 1, "hls": 0}, at_edge

            await asyncio.sleep(1)  # a few more frames for the screenshot
            await page.screenshot(path=str(tmp_path / "edge-watch.png"))
            assert errors == [], errors
