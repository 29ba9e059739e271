"""Headless Debian Chromium for browser tests, driven by Playwright's async API.

The flags are the ones `WEBRTC-ON-THIS-MACHINE.md` found to work for a loopback call with
fake camera and microphone. Playwright never downloads a browser here: it drives
`/usr/bin/chromium` from the Debian `chromium` package.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from playwright.async_api import Browser, BrowserContext, ConsoleMessage, Page, async_playwright

CHROMIUM_PATH = "/usr/bin/chromium"

# One flag per entry, no shell quoting: Playwright passes them to the process as argv.
# `--user-data-dir` is deliberately absent: Playwright refuses it in `launch()` and makes
# (and deletes) a fresh profile directory for every browser it launches.
CHROMIUM_FLAGS: tuple[str, ...] = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # Fake camera (moving pattern) and microphone (beep); permission prompts auto-accepted.
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    # Offer 127.0.0.1 candidates, with real addresses rather than mDNS `.local` names.
    "--allow-loopback-in-peer-connection",
    "--disable-features=WebRtcHideLocalIpsWithMdns",
    # No name resolves except 127.0.0.1: Chromium's update and component hosts are never
    # looked up, and the page itself (an IP literal) still loads.
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
)


# a page may play sound without a click first (a viewer's player unmuted)
SOUND_FLAGS: tuple[str, ...] = ("--autoplay-policy=no-user-gesture-required",)


def chromium_available() -> bool:
    """Whether the Debian Chromium binary is installed (tests fail without it: ./run test
    installs it)."""
    return os.access(CHROMIUM_PATH, os.X_OK)


@asynccontextmanager
async def launch_chromium(
    tmp_path: Path, *, extra_flags: tuple[str, ...] = (), sound: bool = False
) -> AsyncIterator[Browser]:
    """Start headless Chromium with fake media devices and yield the Browser.

    `tmp_path` receives Chromium's downloads and its temporary files (its TMPDIR), so
    nothing is left outside the test's directory. Contexts made from the browser need
    no permission grants: `--use-fake-ui-for-media-stream` accepts camera and microphone.
    """
    if not chromium_available():
        raise FileNotFoundError(f"{CHROMIUM_PATH} not found: apt-get install chromium")
    browser_tmp = tmp_path / "chromium-tmp"
    browser_tmp.mkdir(parents=True, exist_ok=True)
    env: dict[str, str | float | bool] = {**os.environ, "TMPDIR": str(browser_tmp)}
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM_PATH,
            headless=True,
            args=[*CHROMIUM_FLAGS, *extra_flags, *(SOUND_FLAGS if sound else ())],
            # Playwright mutes Chromium; a test that checks what is heard does not
            ignore_default_args=["--mute-audio"] if sound else None,
            downloads_path=tmp_path / "chromium-downloads",
            env=env,
        )
        violations = watch_content_policy(browser)
        try:
            yield browser
        finally:
            await browser.close()
        # after the test's own checks: a page the policy broke fails its test
        if violations:
            raise AssertionError(f"pages broke their Content-Security-Policy: {violations[:5]}")


def watch_content_policy(browser: Browser) -> list[str]:
    """Every console report of a Content-Security-Policy violation, on any page of any
    context the browser makes from now on: the pages must run under their strict policy."""
    violations: list[str] = []

    def seen(message: ConsoleMessage) -> None:
        text = message.text
        # not a page of ours breaking its policy: another page tried to frame one of ours
        # ("Framing ..."), or the browser's own viewer of a user's file, under the file
        # policy (default-src 'none'), was refused an inline style: both as they should
        if "Content Security Policy" in text and not (
            text.startswith("Framing") or "directive 'default-src 'none''" in text
        ):
            violations.append(text)

    make_context, make_page = browser.new_context, browser.new_page

    async def new_context(*args: Any, **kwargs: Any) -> BrowserContext:
        context = await make_context(*args, **kwargs)
        context.on("console", seen)
        return context

    async def new_page(*args: Any, **kwargs: Any) -> Page:
        page = await make_page(*args, **kwargs)
        page.on("console", seen)
        return page

    browser.new_context = new_context  # type: ignore[method-assign]
    browser.new_page = new_page  # type: ignore[method-assign]
    return violations


async def wait_for_js(page: Page, expression: str, *, timeout: float = 30_000) -> Any:
    """Page.wait_for_function for pages under a strict Content-Security-Policy: that one
    compiles its predicate in the page, which the policy (no 'unsafe-eval') forbids;
    this asks it again and again through the debugger, which the policy does not see.
    `timeout` in milliseconds, as Playwright's."""
    deadline = time.monotonic() + timeout / 1000
    while True:
        value = await page.evaluate(expression)
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"{expression!r} still false after {timeout / 1000:.0f} s")
        await asyncio.sleep(0.05)
