"""Accounts for the people in browser tests: every page but the log-in page, the invite
landing pages and the client's files needs a session, so each person (teacher, student,
...) is a browser context of their own with an account of their own.

Two ways in, as real users have: the log-in page's "Create an account" form (what
someone does who opens a link before having an account), or the same request the form
makes, `POST /api/auth/signup` from a page of the site (the cookie lands in that
context).
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from playwright.async_api import Browser, Page

PASSWORD = "correct horse battery"


def login_for(name: str) -> str:
    """A login made from a display name: "Anna Petrova" -> "anna.petrova"."""
    login = re.sub(r"[^a-z0-9._-]+", ".", name.lower()).strip(".")
    return login if len(login) >= 3 else f"{login}.user"


def on_login_page(page: Page) -> bool:
    return urlsplit(page.url).path == "/login"


async def sign_up(page: Page, base: str, name: str, login: str | None = None) -> dict[str, Any]:
    """Create an account in this page's context by the request the log-in page makes;
    the page is left on the log-in page."""
    if not on_login_page(page) or not page.url.startswith(base):
        await page.goto(f"{base}/login")
    answer: dict[str, Any] = await page.evaluate(
        """async ([login, password, name]) => {
            const response = await fetch('/api/auth/signup', {
                method: 'POST',
                headers: {'Content-Type': 'application/json'},
                body: JSON.stringify({login, password, display_name: name}),
            });
            return {status: response.status, body: await response.json()};
        }""",
        [login or login_for(name), PASSWORD, name],
    )
    if answer["status"] != 201:
        raise RuntimeError(f"sign-up of {name!r} refused: {answer}")
    return answer


async def sign_up_on_login_page(
    page: Page, name: str, timeout: float, login: str | None = None
) -> None:
    """On the log-in page: "Create an account", fill it in, submit, and wait until the
    page has gone on to where the user was going."""
    await page.get_by_test_id("input-login").wait_for(state="visible", timeout=timeout * 1000)
    if not await page.get_by_test_id("input-display-name").is_visible():
        await page.get_by_test_id("link-switch").click()
    await page.get_by_test_id("input-login").fill(login or login_for(name))
    await page.get_by_test_id("input-display-name").fill(name)
    await page.get_by_test_id("input-password").fill(PASSWORD)
    await page.get_by_test_id("btn-login").click()
    await page.wait_for_url(lambda url: urlsplit(url).path != "/login", timeout=timeout * 1000)


async def log_in_on_login_page(page: Page, login: str, timeout: float) -> None:
    """On the log-in page: type the login and password, press "Log in", wait to leave."""
    await page.get_by_test_id("input-login").wait_for(state="visible", timeout=timeout * 1000)
    if await page.get_by_test_id("input-display-name").is_visible():
        await page.get_by_test_id("link-switch").click()
    await page.get_by_test_id("input-login").fill(login)
    await page.get_by_test_id("input-password").fill(PASSWORD)
    await page.get_by_test_id("btn-login").click()
    await page.wait_for_url(lambda url: urlsplit(url).path != "/login", timeout=timeout * 1000)


async def person(
    browser: Browser, base: str, name: str, *, errors: list[str] | None = None, **context: Any
) -> Page:
    """A new browser context for `name`, signed up (by the request) and on the log-in
    page; its page errors go to `errors`."""
    page = await (await browser.new_context(**context)).new_page()
    if errors is not None:
        page.on("pageerror", lambda exc: errors.append(f"{name}: {exc}"))
    await sign_up(page, base, name)
    return page
