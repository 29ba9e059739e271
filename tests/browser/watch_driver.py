"""A broadcast watched in headless Chromium: a host (aiortc) joins a call, sends a pattern
video and a tone, and starts a public broadcast; the watch link is opened twice, once
forced onto WebRTC (`?mode=whep`) and once onto HLS (`?mode=hls`). Each page must decode
the picture and say it is live; both are photographed at 1280 and 390 px wide. A bogus
link is a 404, and when the host stops the broadcast an open page says it ended.

Run by tests/browser/test_watch_page.py inside a private network namespace (only
loopback exists there). Starts parta in-process and prints one JSON object.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import aiohttp
import aioice.ice
from playwright.async_api import Browser, Page

from tests.browser.chromium import wait_for_js
from tests.browser.stage import driver_main, parta_and_chromium
from tests.support.client import CallClient
from tests.support.media import PatternVideoTrack, ToneAudioTrack

CALL = "assembly-hall"
PUBLISHER = 7  # the pattern's publisher number, read back from the WebRTC picture
# How each page is opened, and how long it has to decode more than 10 frames. This
# Chromium plays HLS itself (canPlayType says "maybe"), so hls.js is also tried, forced.
PAGES = {
    "whep": ("?mode=whep", 20.0),
    "hls": ("?mode=hls", 40.0),
    "hlsjs": ("?mode=hls&player=hlsjs", 40.0),
    # no mode: WebRTC first; its WHEP request is answered 503 (no room), so HLS
    "fallback": ("", 40.0),
}
DESK = {"width": 1280, "height": 720}
PHONE = {"width": 390, "height": 844}

# What the player shows: its size, how varied the picture is, and the mean of each of
# the pattern's 24 blocks (tests/support/media.py) when it is the pattern's 320x240.
PICTURE = """() => {
    const v = document.getElementById('watch-video');
    const w = v.videoWidth, h = v.videoHeight;
    if (!w || !h) return {width: w, height: h};
    const c = document.createElement('canvas');
    c.width = w; c.height = h;
    const g = c.getContext('2d', {willReadFrequently: true});
    g.drawImage(v, 0, 0, w, h);
    const data = g.getImageData(0, 0, w, h).data;
    let sum = 0, sq = 0, n = 0;
    for (let i = 0; i < data.length; i += 16) {
        const y = (data[i] + data[i + 1] + data[i + 2]) / 3;
        sum += y; sq += y * y; n += 1;
    }
    const mean = sum / n;
    const cells = [];
    if (w === 320 && h === 240) {
        for (let k = 0; k < 24; k++) {
            const row = Math.floor(k / 8), col = k % 8;
            const cell = g.getImageData(col * 40 + 8, row * 40 + 8, 24, 24).data;
            let s = 0;
            for (let i = 0; i < cell.length; i += 4) s += (cell[i] + cell[i + 1] + cell[i + 2]) / 3;
            cells.push(s / (cell.length / 4));
        }
    }
    return {width: w, height: h, mean, std: Math.sqrt(Math.max(0, sq / n - mean * mean)), cells};
}"""

SHOWN = """() => {
    const text = (id) => document.getElementById(id)?.textContent.trim() ?? null;
    const shown = (id) => {
        const node = document.getElementById(id);
        return !!node && !node.hidden && node.getClientRects().length > 0;
    };
    return {
        title: text('watch-title'),
        live_badge: shown('watch-live'),
        viewers: shown('watch-viewers') ? text('watch-viewers') : null,
        mode_label: shown('watch-mode') ? text('watch-mode') : null,
        notice: shown('watch-notice') ? text('watch-notice') : null,
        ended_shown: shown('watch-ended'),
        unmute: shown('btn-unmute'),
        play_overlay: shown('btn-play'),
        page_width: document.documentElement.scrollWidth,
    };
}"""


def gather_on_loopback() -> None:
    """The host here is aiortc, whose ICE (aioice) leaves loopback out: in this
    loopback-only namespace it would gather no candidate at all."""
    aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: ["127.0.0.1"] if use_ipv4 else []


def read_publisher(cells: list[float]) -> int | None:
    """The publisher number in the pattern's first row of blocks."""
    if len(cells) != 24 or any(60 < c < 196 for c in cells[:8]):
        return None
    return int("".join("1" if c >= 196 else "0" for c in cells[:8]), 2)


async def watch(
    browser: Browser,
    url: str,
    mode: str,
    out_dir: Path,
    errors: list[str],
    consoles: list[str],
) -> tuple[Page, dict[str, Any]]:
    """Open the watch page as PAGES[mode] says and wait for its picture; photograph it."""
    query, wait = PAGES[mode]
    context = await browser.new_context(viewport=DESK)
    page = await context.new_page()
    page.on("pageerror", lambda exc: errors.append(f"{mode}: {exc}"))
    page.on("console", lambda msg: consoles.append(f"{mode} {msg.type}: {msg.text}"))
    found: dict[str, Any] = {"mode": mode}
    if mode == "fallback":
        await page.route("**/whep", lambda route: route.fulfill(status=503, body="no room"))
    response = await page.goto(f"{url}{query}")
    found["status"] = response.status if response else None
    deadline = time.monotonic() + wait
    frames = 0
    while time.monotonic() < deadline:
        state = await page.evaluate(
            "({frames: window.partaWatch?.framesDecoded() ?? 0, at: performance.now(),"
            " mode: window.partaWatch?.mode, live: window.partaWatch?.live})"
        )
        frames = state["frames"]
        if frames > 0 and "first_frame_s" not in found:
            found["first_frame_s"] = round(state["at"] / 1000, 2)
        if frames > 10:
            found["ten_frames_s"] = round(state["at"] / 1000, 2)
            break
        await asyncio.sleep(0.1)
    found["frames"] = frames
    found["mode_reported"] = await page.evaluate("window.partaWatch?.mode ?? null")
    found["player_reported"] = await page.evaluate("window.partaWatch?.player ?? null")
    found["live"] = await page.evaluate("window.partaWatch?.live ?? null")
    await asyncio.sleep(3.5)  # a poll of the viewer count, and a few more frames
    found["frames_later"] = await page.evaluate("window.partaWatch.framesDecoded()")
    found["audio"] = await page.evaluate("window.partaWatch.audioHeard()")
    found["latency_s"] = await page.evaluate("window.partaWatch.latency()")
    found["stalls"] = await page.evaluate("window.partaWatch.stalls")
    found["picture"] = await page.evaluate(PICTURE)
    found["publisher_seen"] = read_publisher(found["picture"].get("cells") or [])
    found["shown"] = await page.evaluate(SHOWN)
    found["player"] = await page.evaluate(
        "(() => { const v = document.getElementById('watch-video');"
        " return {paused: v.paused, muted: v.muted, time: v.currentTime,"
        " canPlayHls: v.canPlayType('application/vnd.apple.mpegurl'),"
        " hlsJs: typeof window.Hls}; })()"
    )
    await page.screenshot(path=str(out_dir / f"watch-{mode}-1280.png"))
    await page.set_viewport_size(PHONE)
    await asyncio.sleep(1.0)
    found["shown_phone"] = await page.evaluate(SHOWN)
    await page.screenshot(path=str(out_dir / f"watch-{mode}-390.png"))
    await page.set_viewport_size(DESK)
    return page, found


async def run(out_dir: Path, timeout: float, result: dict[str, Any]) -> None:
    errors: list[str] = []
    consoles: list[str] = []
    result["page_errors"] = errors
    result["console"] = consoles
    gather_on_loopback()
    async with (
        parta_and_chromium(out_dir, sound=True) as (_app, base, browser),
        aiohttp.ClientSession() as http,
    ):
        host = CallClient(http, base, CALL, "Olga Ivanova")
        try:
            await host.join()
            await host.publish(
                [(PatternVideoTrack(PUBLISHER), "camera"), (ToneAudioTrack(440.0), "microphone")]
            )
            link = host.expect("broadcast_link")
            await host.send({"type": "start_broadcast", "public": True})
            watch_link = (await asyncio.wait_for(link, timeout))["watch_link"]
            result["watch_link"] = watch_link
            token = watch_link.rsplit("/", 1)[-1]

            # what the page is built from, without a browser
            async with http.get(f"{base}/api/watch/{token}") as response:
                result["info_status"] = response.status
                result["info"] = await response.json()
            async with http.get(f"{base}/vendor/hls.js") as response:
                body = await response.read()
                result["hls_js"] = {
                    "status": response.status,
                    "type": response.content_type,
                    "size": len(body),
                }

            pages: dict[str, Page] = {}
            # each page is left open, so that it is counted and sees the end
            for mode in PAGES:
                try:
                    pages[mode], result[mode] = await watch(
                        browser, f"{base}{watch_link}", mode, out_dir, errors, consoles
                    )
                except Exception as exc:
                    result[mode] = {"error": f"{type(exc).__name__}: {exc}"}
            async with http.get(f"{base}/api/watch/{token}") as response:
                result["viewers_while_watched"] = (await response.json())["viewers"]

            # a link that never was: the page itself is a 404
            context = await browser.new_context(viewport=DESK)
            bogus = await context.new_page()
            response = await bogus.goto(f"{base}/watch/not-a-real-token")
            result["bogus_status"] = response.status if response else None
            async with http.get(f"{base}/api/watch/not-a-real-token") as response:
                result["bogus_info_status"] = response.status

            # the host stops the broadcast: an open page says it ended
            if "whep" in pages:
                stopped = time.monotonic()
                await host.send({"type": "stop_broadcast"})
                page = pages["whep"]
                try:
                    await wait_for_js(page, "window.partaWatch.ended === true", timeout=10_000)
                    result["ended_after_s"] = round(time.monotonic() - stopped, 1)
                except Exception:
                    result["ended_after_s"] = None
                result["ended"] = {
                    "live": await page.evaluate("window.partaWatch.live"),
                    "shown": await page.evaluate(SHOWN),
                }
                await page.screenshot(path=str(out_dir / "watch-ended-1280.png"))
                await page.set_viewport_size(PHONE)
                await page.screenshot(path=str(out_dir / "watch-ended-390.png"))
        finally:
            await host.close()


def main() -> None:
    driver_main(run, default_timeout=20)


if __name__ == "__main__":
    main()
