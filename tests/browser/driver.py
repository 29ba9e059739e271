"""Two headless Chromium pages meet in one call through the web client.

Run by tests/browser/test_web_client.py inside a private network namespace (only
loopback exists there, so Chromium's media path cannot use the LAN address). Starts
parta in-process, drives the pages with Playwright, and prints one JSON object.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

from playwright.async_api import Page

from tests.browser.chromium import wait_for_js
from tests.browser.people import on_login_page, sign_up_on_login_page
from tests.browser.stage import driver_main, parta_and_chromium
from web import keys


async def wait_for_remote_media(page: Page, other: str, timeout: float) -> dict[str, Any]:
    """Poll getStats until this page decodes `other`'s video and audio."""
    deadline = time.monotonic() + timeout
    stats: dict[str, Any] = {}
    while time.monotonic() < deadline:
        stats = await page.evaluate("window.parta.stats()")
        inbound = [s for s in stats["inbound"] if s["peerId"] == other]
        frames = sum(s["framesDecoded"] for s in inbound if s["kind"] == "video")
        samples = sum(s["totalSamplesReceived"] for s in inbound if s["kind"] == "audio")
        if frames >= 30 and samples >= 48000:
            return stats
        await asyncio.sleep(0.25)
    raise TimeoutError(f"no media from {other} in {timeout} s: {json.dumps(stats)}")


async def wait_until(page: Page, expression: str, timeout: float) -> bool:
    try:
        await wait_for_js(page, expression, timeout=timeout * 1000)
        return True
    except Exception:
        return False


async def invite_link(host: Page, timeout: float) -> str:
    """The invite link (full URL) a host's page shows, once it is connected as host."""
    # `window.parta?.`: the page may still be on its way from the home page to the call
    await wait_for_js(host, "!!window.parta?.inviteLink()", timeout=timeout * 1000)
    link: str = await host.evaluate("window.parta.inviteLink()")
    return link


async def join_by_invite(page: Page, link: str, name: str, timeout: float) -> None:
    """What a student does with the link: open it (without an account yet, the log-in
    page comes first: "Create an account", and on to the call), type a name, press Join."""
    await page.goto(link)
    if on_login_page(page):
        await sign_up_on_login_page(page, name, timeout)
    field = page.get_by_test_id("prejoin-input-name")
    await field.wait_for(state="visible", timeout=timeout * 1000)
    await field.fill(name)
    await page.get_by_test_id("prejoin-btn-join").click()


async def exercise_controls(
    pages: dict[str, Page], ids: dict[str, str], out_dir: Path, timeout: float
) -> dict[str, bool]:
    """Alice presses each control; Bob's page must show the effect."""
    alice, bob = pages["Alice"], pages["Bob"]
    tile = f"[data-testid='tile-{ids['Alice']}']"
    seen: dict[str, bool] = {}
    await alice.get_by_test_id("btn-mic").click()
    seen["mic_muted"] = await wait_until(
        bob, f"document.querySelector(\"{tile}\")?.dataset.micMuted === 'true'", timeout
    )
    await alice.get_by_test_id("btn-mic").click()
    seen["mic_unmuted"] = await wait_until(
        bob, f"document.querySelector(\"{tile}\")?.dataset.micMuted === 'false'", timeout
    )
    await alice.get_by_test_id("btn-camera").click()
    seen["camera_off"] = await wait_until(
        bob, f"document.querySelector(\"{tile}\")?.dataset.video === 'off'", timeout
    )
    await alice.get_by_test_id("btn-camera").click()
    seen["camera_on"] = await wait_until(
        bob, f"document.querySelector(\"{tile}\")?.dataset.video === 'on'", timeout
    )
    await alice.get_by_test_id("btn-screen").click()
    screen_frames = (
        "window.parta.stats().then(s => s.inbound.some("
        f"i => i.peerId === '{ids['Alice']}' && i.source === 'screen' && i.framesDecoded > 10))"
    )
    deadline = time.monotonic() + timeout
    seen["screen_decoded"] = False
    while time.monotonic() < deadline and not seen["screen_decoded"]:
        seen["screen_decoded"] = bool(await bob.evaluate(screen_frames))
        await asyncio.sleep(0.25)
    seen["screen_tile"] = await wait_until(
        bob, f"!!document.querySelector(\"[data-testid='tile-{ids['Alice']}-screen']\")", timeout
    )
    await asyncio.sleep(1)
    await bob.screenshot(path=str(out_dir / "bob-sees-screen.png"))
    await alice.get_by_test_id("btn-screen").click()
    seen["screen_stopped"] = await wait_until(
        bob, f"!document.querySelector(\"[data-testid='tile-{ids['Alice']}-screen']\")", timeout
    )
    return seen


async def run(out_dir: Path, timeout: float, result: dict[str, Any]) -> None:
    errors: list[str] = []
    async with parta_and_chromium(out_dir) as (app, base, browser):
        pages = {}
        for name in ("Alice", "Bob"):
            context = await browser.new_context(viewport={"width": 1280, "height": 720})
            page = await context.new_page()
            page.on("pageerror", lambda exc, n=name: errors.append(f"{n}: {exc}"))
            pages[name] = page
        # Alice comes in through the home page's form, Bob through a call link; neither
        # has an account yet, so the log-in page comes first and leads on to the page
        alice = pages["Alice"]
        await alice.goto(f"{base}/")
        result["alice_sent_to_login"] = alice.url.startswith(f"{base}/login?next=")
        await sign_up_on_login_page(alice, "Alice", timeout)
        result["alice_url_after_signup"] = alice.url
        await alice.get_by_test_id("current-user").wait_for(state="visible")
        result["alice_current_user"] = await alice.get_by_test_id("current-user").inner_text()
        await alice.get_by_test_id("input-name").fill("Alice")
        await alice.get_by_test_id("input-call").fill("browser-test")
        await alice.screenshot(path=str(out_dir / "home.png"))
        await alice.get_by_test_id("btn-join").click()
        await alice.wait_for_url("**/call/browser-test", timeout=timeout * 1000)
        # the call is new, so Alice is its host; Bob comes in through her invite link
        invite = await invite_link(alice, timeout)
        result["invite_link"] = invite
        await join_by_invite(pages["Bob"], invite, "Bob", timeout)
        result["bob_url_after_join"] = pages["Bob"].url
        ids: dict[str, str] = {}
        deadline = time.monotonic() + timeout
        while len(ids) < 2 and time.monotonic() < deadline:
            for name, page in pages.items():
                state = await page.evaluate("window.parta.state()")
                if state.get("peerId") and len(state.get("peers", [])) >= 1:
                    ids[name] = state["peerId"]
            await asyncio.sleep(0.2)
        if len(ids) < 2:
            raise TimeoutError(f"pages did not both join: {ids}")
        stats = {
            "Alice": await wait_for_remote_media(pages["Alice"], ids["Bob"], timeout),
            "Bob": await wait_for_remote_media(pages["Bob"], ids["Alice"], timeout),
        }
        await asyncio.sleep(2)  # let the grid settle for the screenshot
        for name, page in pages.items():
            await page.screenshot(path=str(out_dir / f"call-{name}.png"))
        worker = app[keys.WORKER]
        router = worker.routers["browser-test"]
        result.update(
            {
                "ids": ids,
                "stats": stats,
                "codecs_opened": worker.codecs_opened(),
                "producers": len(router.producers),
                "consumers": len(router.consumers),
                "srtp_profiles": sorted({t.srtp_profile or "" for t in router.transports.values()}),
                "page_errors": errors,
            }
        )
        result["controls"] = await exercise_controls(pages, ids, out_dir, timeout)
        # leaving through the button ends the call for that page; the other is told
        await pages["Bob"].get_by_test_id("btn-leave").click()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            state = await pages["Alice"].evaluate("window.parta.state()")
            if not state.get("peers"):
                break
            await asyncio.sleep(0.2)
        result["alice_peers_after_bob_left"] = len(state.get("peers", []))
        result["bob_left_screen"] = await pages["Bob"].get_by_test_id("left-title").is_visible()


def main() -> None:
    driver_main(run, default_timeout=30)


if __name__ == "__main__":
    main()
