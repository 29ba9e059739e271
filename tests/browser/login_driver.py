"""The log-in page and log-out, in headless Chromium: a teacher on a computer and a parent
on a phone find their way in without a manual.

Run by tests/browser/test_login_page.py inside a private network namespace (only
loopback exists there). Starts parta in-process, prints one JSON object, and leaves
screenshots of both modes (log in, create an account), with and without an error, at
1280 and 390 px.

The teacher opens / without a session and is sent to the log-in page; a wrong password
is refused in plain words; "Create an account" with a login someone has is refused
too; then the account is made and the page goes on to /, which shows who is logged in.
"Log out" ends the session: / leads to the log-in page again, and logging in leads back.
The parent opens a call's address on a phone, reads which call it is about, makes an
account and lands on that call's page.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from playwright.async_api import Page

from tests.browser.chromium import wait_for_js
from tests.browser.people import (
    PASSWORD,
    log_in_on_login_page,
    person,
    sign_up_on_login_page,
)
from tests.browser.stage import driver_main, parta_and_chromium


def login_next(url: str) -> str | None:
    """The ?next= of the log-in page, or None when `url` is not the log-in page."""
    parts = urlsplit(url)
    return parse_qs(parts.query).get("next", [""])[0] if parts.path == "/login" else None


OVERFLOW = (
    "[...document.querySelectorAll('body *')].some("
    "(n) => n.getBoundingClientRect().right > window.innerWidth + 0.5)"
)


async def notice_text(page: Page, timeout: float) -> str:
    notice = page.get_by_test_id("login-notice")
    await notice.wait_for(state="visible", timeout=timeout * 1000)
    return await notice.inner_text()


async def api_status(page: Page, path: str) -> int:
    status: int = await page.evaluate("(p) => fetch(p).then((r) => r.status)", path)
    return status


async def teacher_on_a_computer(
    page: Page, base: str, out_dir: Path, timeout: float, result: dict[str, Any]
) -> None:
    await page.goto(f"{base}/")
    result["sent_to_login"] = login_next(page.url)
    result["login_title"] = await page.get_by_test_id("login-title").inner_text()
    result["login_focused"] = await page.evaluate(
        "document.activeElement?.dataset.testid === 'input-login'"
    )
    result["login_autocomplete"] = [
        await page.get_by_test_id("input-login").get_attribute("autocomplete"),
        await page.evaluate("document.getElementById('login-password').autocomplete"),
    ]
    await page.screenshot(path=str(out_dir / "login-1280.png"))

    # no such account: the notice says so, and the password is ready to be typed again
    await page.get_by_test_id("input-login").fill("anna.petrova")
    await page.get_by_test_id("input-password").fill("not my password")
    await page.get_by_test_id("btn-login").click()
    result["wrong_password_text"] = await notice_text(page, timeout)
    result["password_focused_after_error"] = await page.evaluate(
        "document.activeElement?.dataset.testid === 'input-password'"
    )
    await page.screenshot(path=str(out_dir / "login-error-1280.png"))

    # "Create an account": the name field, the rules, a new password for the manager
    await page.get_by_test_id("link-switch").click()
    result["signup_title"] = await page.get_by_test_id("login-title").inner_text()
    result["notice_hidden_after_switch"] = not await page.get_by_test_id(
        "login-notice"
    ).is_visible()
    result["signup_password_autocomplete"] = await page.evaluate(
        "document.getElementById('login-password').autocomplete"
    )
    await page.get_by_test_id("input-display-name").fill("Anna Petrova")
    await page.get_by_test_id("input-password").fill("")
    await page.screenshot(path=str(out_dir / "signup-1280.png"))
    # checked before asking the server: a short password
    await page.get_by_test_id("input-password").fill("short")
    await page.get_by_test_id("btn-login").click()
    result["short_password_text"] = await page.locator("#login-password-error").inner_text()
    # the server's refusal: somebody has that login
    await page.get_by_test_id("input-login").fill("taken.login")
    await page.get_by_test_id("input-password").fill(PASSWORD)
    await page.get_by_test_id("btn-login").click()
    result["login_taken_text"] = await notice_text(page, timeout)
    await page.screenshot(path=str(out_dir / "signup-error-1280.png"))

    await page.get_by_test_id("input-login").fill("Anna.Petrova")  # the server lower-cases
    await page.get_by_test_id("btn-login").click()
    await page.wait_for_url(f"{base}/", timeout=timeout * 1000)
    result["landed_home"] = True
    user = page.get_by_test_id("current-user")
    await user.wait_for(state="visible", timeout=timeout * 1000)
    result["current_user"] = await user.inner_text()
    result["current_login"] = await page.get_by_test_id("current-login").inner_text()
    result["home_name_from_account"] = await page.get_by_test_id("input-name").input_value()
    await page.screenshot(path=str(out_dir / "home-logged-in-1280.png"))

    # log out: the session is gone, / leads to the log-in page, logging in leads back
    await page.get_by_test_id("btn-logout").click()
    await page.wait_for_url(lambda url: urlsplit(url).path == "/login", timeout=timeout * 1000)
    result["logged_out_text"] = await notice_text(page, timeout)
    result["me_after_logout"] = await api_status(page, "/api/me")
    await page.screenshot(path=str(out_dir / "logged-out-1280.png"))
    await page.goto(f"{base}/")
    result["home_after_logout_next"] = login_next(page.url)
    await log_in_on_login_page(page, "anna.petrova", timeout)
    result["url_after_login"] = page.url
    await page.get_by_test_id("current-user").wait_for(state="visible", timeout=timeout * 1000)
    result["me_after_login"] = await api_status(page, "/api/me")

    # ?next= only leads to paths of this site
    await page.goto(f"{base}/login?next=//example.org/")
    await log_in_on_login_page(page, "anna.petrova", timeout)
    result["no_open_redirect"] = page.url == f"{base}/"


async def parent_on_a_phone(
    page: Page, base: str, out_dir: Path, timeout: float, result: dict[str, Any]
) -> None:
    await page.goto(f"{base}/call/maths-7b")
    result["phone_sent_to_login"] = login_next(page.url)
    result["phone_intro"] = await page.get_by_test_id("login-intro").inner_text()
    await page.screenshot(path=str(out_dir / "login-390.png"))
    result["phone_overflow_login"] = await page.evaluate(OVERFLOW)
    await page.get_by_test_id("link-switch").click()
    await page.screenshot(path=str(out_dir / "signup-390.png"))
    await page.get_by_test_id("input-login").fill("Ben Meier")
    await page.get_by_test_id("btn-login").click()
    result["phone_login_spaces_text"] = await page.locator("#login-login-error").inner_text()
    await page.get_by_test_id("input-login").fill("ben.meier")
    await page.get_by_test_id("input-password").fill(PASSWORD)
    await page.get_by_test_id("btn-login").click()
    result["phone_no_name_text"] = await page.locator("#login-name-error").inner_text()
    await page.screenshot(path=str(out_dir / "signup-error-390.png"))
    result["phone_overflow_signup"] = await page.evaluate(OVERFLOW)
    await sign_up_on_login_page(page, "Ben Meier", timeout, login="ben.meier")
    result["phone_url_after_signup"] = page.url
    field = page.get_by_test_id("prejoin-input-name")
    await field.wait_for(state="visible", timeout=timeout * 1000)
    await wait_for_js(
        page,
        "document.querySelector(\"[data-testid='prejoin-input-name']\").value !== ''",
        timeout=timeout * 1000,
    )
    result["phone_prejoin_name"] = await field.input_value()
    await page.goto(f"{base}/")
    await page.get_by_test_id("current-user").wait_for(state="visible", timeout=timeout * 1000)
    result["phone_overflow_home"] = await page.evaluate(
        "[...document.querySelectorAll('#screen-home *')].some("
        "(n) => n.getBoundingClientRect().right > window.innerWidth + 0.5)"
    )
    await page.screenshot(path=str(out_dir / "home-logged-in-390.png"))


async def run(out_dir: Path, timeout: float, result: dict[str, Any]) -> None:
    errors: list[str] = []
    result["page_errors"] = errors
    async with parta_and_chromium(out_dir) as (_app, base, browser):
        # someone already has the login "taken.login"
        other = await person(browser, base, "Somebody Else", errors=errors)
        await other.evaluate(
            """(password) => fetch('/api/auth/signup', {method: 'POST',
                headers: {'Content-Type': 'application/json'},
                body: JSON.stringify({login: 'taken.login', password,
                                      display_name: 'Taken'})})""",
            PASSWORD,
        )
        await other.context.close()

        context = await browser.new_context(viewport={"width": 1280, "height": 800})
        teacher = await context.new_page()
        teacher.on("pageerror", lambda exc: errors.append(f"teacher: {exc}"))
        await teacher_on_a_computer(teacher, base, out_dir, timeout, result)

        phone = await browser.new_context(
            viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
        )
        parent = await phone.new_page()
        parent.on("pageerror", lambda exc: errors.append(f"parent: {exc}"))
        await parent_on_a_phone(parent, base, out_dir, timeout, result)


def main() -> None:
    driver_main(run, default_timeout=20)


if __name__ == "__main__":
    main()
