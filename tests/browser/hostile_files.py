"""A pupil's files that would run as the app, opened by the teacher every way the chat
offers: part of chats_driver.py (it shares that server and browser).

The student uploads, through the page's file picker, an HTML page, an SVG drawing and an
HTML page named `.png`, each with a script that would mark its run three ways (the tab's
title, localStorage on parta's origin, and a message posted in the chat as whoever opens
it), and a real PNG. The teacher clicks each card's links and opens each file's address
directly (as it is and with `?inline=1`). None may run: each is a download, or at most a
sandboxed document; the real picture still shows in the chat.
"""

from __future__ import annotations

import struct
import zlib
from contextlib import suppress
from pathlib import Path
from typing import Any

from playwright.async_api import BrowserContext, Page
from playwright.async_api import Error as PlaywrightError
from playwright.async_api import TimeoutError as PlaywrightTimeout

from tests.browser.chromium import wait_for_js

MARK = "PWNED"


def script(chat_id: str) -> str:
    return (
        "document.title = '" + MARK + "';"
        "try { localStorage.setItem('pwned', location.href); } catch (e) {}"
        f"fetch('/api/chats/{chat_id}/messages', {{method: 'POST', credentials: 'include',"
        " headers: {'Content-Type': 'application/json'},"
        " body: JSON.stringify({text: '" + MARK + " ' + location.href})});"
    )


def png(width: int = 24, height: int = 16) -> bytes:
    """A real picture: a red rectangle."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\x00" + b"\xd0\x30\x30" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def hostile(out_dir: Path, chat_id: str) -> dict[str, Path]:
    code = script(chat_id)
    page = f"<!doctype html><title>homework</title><h1>Homework</h1><script>{code}</script>"
    svg = (
        f'<svg xmlns="http://www.w3.org/2000/svg" onload="{code.replace(chr(34), "&quot;")}">'
        f"<script>{code}</script><circle r='9'/></svg>"
    )
    made = {
        "homework.html": page.encode(),
        "drawing.svg": svg.encode(),
        "photo.png": page.encode(),  # HTML named .png (the browser says image/png)
    }
    paths = {}
    for name, data in made.items():
        path = out_dir / "hostile" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        paths[name] = path
    return paths


async def open_directly(context: BrowserContext, url: str, timeout: float) -> dict[str, Any]:
    """Navigate a new tab to `url`: did it become a download, or what document is it?"""
    tab = await context.new_page()
    try:
        try:
            async with tab.expect_download(timeout=timeout * 1000) as info:
                with suppress(PlaywrightError):  # "Download is starting"
                    await tab.goto(url)
            await (await info.value).cancel()
            return {"download": True}
        except PlaywrightTimeout:
            return {"download": False, "title": await tab.title()}
    finally:
        await tab.close()


async def run_hostile_files(
    student: Page, teacher: Page, base: str, out_dir: Path, timeout: float, result: dict[str, Any]
) -> None:
    chat_id = student.url.split("chat=", 1)[1].split("&", 1)[0]
    files = hostile(out_dir, chat_id)
    picture = out_dir / "hostile" / "real.png"
    picture.write_bytes(png())
    before = await teacher.get_by_test_id("file-card").count()
    await student.get_by_test_id("file-input").set_input_files([*files.values(), picture])
    await wait_for_js(
        teacher,
        f"document.querySelectorAll(\"[data-testid='file-card']\").length >= {before + 4}",
        timeout=timeout * 1000,
    )
    title = await teacher.title()
    opened: dict[str, Any] = {}
    for name in files:
        card = teacher.get_by_test_id("file-card").filter(has_text=name).last
        href = await card.get_by_test_id("file-download").get_attribute("href")
        assert href is not None
        seen: dict[str, Any] = {"previews": await card.locator("a.file-preview").count()}
        # the card's links: "Download", and a preview where the client offers one
        async with teacher.expect_download(timeout=timeout * 1000) as info:
            await card.get_by_test_id("file-download").click()
        await (await info.value).cancel()
        seen["download_link"] = "download"
        if seen["previews"]:
            async with teacher.context.expect_page(timeout=timeout * 1000) as popup:
                await card.locator("a.file-preview").click()
            tab = await popup.value
            await tab.wait_for_load_state()
            seen["preview_title"] = await tab.title()
            await tab.close()
        # typed in the address bar, or sent as a link
        for query in ("", "?inline=1"):
            seen[f"direct{query}"] = await open_directly(teacher.context, base + href + query, 3)
        opened[name] = seen
    result["hostile_opened"] = opened

    # the real picture still shows in the chat, and opens as a picture
    card = teacher.get_by_test_id("file-card").filter(has_text="real.png").last
    image = card.locator("a.file-preview img")
    await image.wait_for(timeout=timeout * 1000)
    result["picture_width"] = await image.evaluate(
        "(img) => img.complete ? img.naturalWidth : new Promise((ok) => "
        "{ img.onload = () => ok(img.naturalWidth); img.onerror = () => ok(0); })"
    )
    async with teacher.context.expect_page(timeout=timeout * 1000) as popup:
        await card.locator("a.file-preview").click()
    tab = await popup.value
    await tab.wait_for_load_state()
    result["picture_tab"] = {
        "type": await tab.evaluate("document.contentType"),
        "width": await tab.evaluate("document.images[0]?.naturalWidth ?? 0"),
    }
    await tab.close()

    # nothing ran: no title, no mark on parta's origin, no message posted as the teacher
    await teacher.wait_for_timeout(300)  # what a script would have sent is in by now
    result["hostile_teacher_title_kept"] = await teacher.title() == title
    result["hostile_local_storage"] = await teacher.evaluate("localStorage.getItem('pwned')")
    posted = await teacher.evaluate(
        """async (chat) => {
            const r = await fetch(`/api/chats/${chat}/messages?limit=100`);
            const data = await r.json();
            return data.messages.map((m) => m.text || '');
        }""",
        chat_id,
    )
    result["hostile_messages"] = [text for text in posted if MARK in text]
