"""Passwords in headless Chromium: a school's admin makes a reset link for a student who
forgot theirs, the student uses it (once), and a teacher changes their own password.

Run by tests/browser/test_password_pages.py inside a private network namespace (only
loopback exists there). Starts parta in-process, prints one JSON object, and leaves
screenshots of the school page with a reset link shown, the reset page, the page of a
used link, and the change-password form, at 1280 and 390 px.

The admin opens the school's page and presses "Reset password" by a student: the link
appears, with whom it is for and until when. The student (a browser with no cookies)
opens it, reads whose password it sets, is refused a short one, sets a new one and lands
on /chats, logged in: their old password no longer logs in, and opening the link again
says it was used. A teacher opens Settings, "Change password": a wrong current password
is refused next to its field; the right one changes it, their other session ends, and
after logging out the new password logs in.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from playwright.async_api import Browser, BrowserContext, Page

from accounts.sessions import COOKIE
from tests.browser.chromium import wait_for_js
from tests.browser.people import PASSWORD
from tests.browser.stage import driver_main, parta_and_chromium
from tests.chat.school import Person, School, make_school

NEW_PASSWORD = "a brand new passphrase"
TEACHER_PASSWORD = "my own new password"
DESKTOP = {"viewport": {"width": 1280, "height": 800}}
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}

OVERFLOW = (
    "[...document.querySelectorAll('body *')].some((n) => {"
    " const r = n.getBoundingClientRect();"
    " return r.width > 0 && r.right > window.innerWidth + 0.5; })"
)


async def http_log_in(base: str, login: str, password: str) -> int:
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{base}/api/auth/login", json={"login": login, "password": password}
        ) as response,
    ):
        return response.status


async def http_me(base: str, token: str) -> int:
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{base}/api/me", headers={"Authorization": f"Bearer {token}"}) as response,
    ):
        return response.status


async def login_of(school: School, who: Person) -> str:
    status, me = await school.call(who, "GET", "api/me")
    assert status == 200, me
    return str(me["user"]["login"])


async def logged_in_as(
    browser: Browser, base: str, who: Person, errors: list[str], **options: Any
) -> Page:
    """A browser context with `who`'s session cookie (as if they had logged in)."""
    context = await browser.new_context(**options)
    await context.add_cookies([{"name": COOKIE, "value": who.token, "url": base}])
    page = await context.new_page()
    page.on("pageerror", lambda exc: errors.append(f"{who.name}: {exc}"))
    return page


async def fresh(browser: Browser, name: str, errors: list[str], **options: Any) -> Page:
    context: BrowserContext = await browser.new_context(**options)
    page = await context.new_page()
    page.on("pageerror", lambda exc: errors.append(f"{name}: {exc}"))
    return page


async def open_school(page: Page, base: str, org: str, timeout: float) -> None:
    await page.goto(f"{base}/school/{org}")
    await wait_for_js(
        page,
        "document.getElementById('pane-school')?.dataset.loaded === 'true'",
        timeout=timeout * 1000,
    )


async def make_link(page: Page, name: str, timeout: float) -> dict[str, str]:
    """On the school's page: "Reset password" by `name`; what the dialog then shows."""
    row = page.get_by_test_id("school-person").filter(has_text=name)
    await row.get_by_test_id("btn-reset-password").click()
    dialog = page.get_by_test_id("reset-link-dialog")
    await dialog.get_by_test_id("reset-link").wait_for(state="visible", timeout=timeout * 1000)
    await page.evaluate("document.getElementById('toasts').replaceChildren()")
    return {
        "link": await dialog.get_by_test_id("reset-link").input_value(),
        "for": await dialog.get_by_test_id("reset-link-for").inner_text(),
        "note": await dialog.get_by_test_id("reset-link-note").inner_text(),
        "title": await page.locator("#dialog-title").inner_text(),
        "copy_focused": await page.evaluate(
            "document.activeElement?.dataset.testid === 'btn-copy-reset-link'"
        ),
    }


async def reset_page_ready(page: Page, timeout: float) -> str:
    await wait_for_js(
        page,
        "['ready', 'dead'].includes(document.getElementById('reset-form')?.dataset.state)",
        timeout=timeout * 1000,
    )
    state: str = await page.get_by_test_id("reset-form").get_attribute("data-state") or ""
    return state


async def admin_and_student(
    browser: Browser,
    base: str,
    school: School,
    out_dir: Path,
    timeout: float,
    result: dict[str, Any],
    errors: list[str],
) -> None:
    pupil, other_pupil = school.students
    pupil_login = await login_of(school, pupil)

    # a member who is not an admin sees no reset buttons
    teacher = await logged_in_as(browser, base, school.teacher, errors, **DESKTOP)
    await open_school(teacher, base, school.org, timeout)
    result["teacher_sees_reset_buttons"] = await teacher.get_by_test_id(
        "btn-reset-password"
    ).count()
    await teacher.context.close()

    # the admin, on a computer: "Reset password" by the student, the link appears
    admin = await logged_in_as(browser, base, school.admin, errors, **DESKTOP)
    await open_school(admin, base, school.org, timeout)
    result["reset_buttons"] = await admin.get_by_test_id("btn-reset-password").count()
    result["reset_button_label"] = (
        await admin.get_by_test_id("school-person")
        .filter(has_text=pupil.name)
        .get_by_test_id("btn-reset-password")
        .get_attribute("aria-label")
    )
    made = await make_link(admin, pupil.name, timeout)
    result["admin_dialog"] = made
    await admin.screenshot(path=str(out_dir / "school-reset-link-1280.png"))
    await admin.keyboard.press("Escape")
    result["dialog_closed_by_escape"] = not await admin.get_by_test_id(
        "reset-link-dialog"
    ).is_visible()

    # the admin on a phone makes one for the other student
    phone_admin = await logged_in_as(browser, base, school.admin, errors, **PHONE)
    await open_school(phone_admin, base, school.org, timeout)
    await phone_admin.get_by_test_id("people-student").scroll_into_view_if_needed()
    await phone_admin.screenshot(path=str(out_dir / "school-people-390.png"))
    result["phone_overflow_school"] = await phone_admin.evaluate(OVERFLOW)
    phone_made = await make_link(phone_admin, other_pupil.name, timeout)
    await phone_admin.screenshot(path=str(out_dir / "school-reset-link-390.png"))
    result["phone_overflow_dialog"] = await phone_admin.evaluate(OVERFLOW)
    await phone_admin.context.close()

    # the student, in a browser that knows nobody: whose password, a new one, logged in
    student = await fresh(browser, pupil.name, errors, **DESKTOP)
    await student.goto(made["link"])
    result["reset_state"] = await reset_page_ready(student, timeout)
    result["reset_intro"] = await student.get_by_test_id("reset-intro").inner_text()
    result["reset_expires"] = await student.get_by_test_id("reset-expires").inner_text()
    result["reset_autocomplete"] = await student.get_by_test_id("input-new-password").get_attribute(
        "autocomplete"
    )
    result["reset_focused"] = await student.evaluate(
        "document.activeElement?.dataset.testid === 'input-new-password'"
    )
    await student.screenshot(path=str(out_dir / "reset-1280.png"))
    await student.get_by_test_id("input-new-password").fill("short")
    await student.get_by_test_id("btn-reset").click()
    result["reset_short_text"] = await student.get_by_test_id("reset-password-error").inner_text()
    await student.screenshot(path=str(out_dir / "reset-error-1280.png"))
    await student.get_by_test_id("input-new-password").fill(NEW_PASSWORD)
    await student.get_by_test_id("btn-reset").click()
    await student.wait_for_url(lambda url: urlsplit(url).path == "/chats", timeout=timeout * 1000)
    await student.get_by_test_id("chats-app").wait_for(state="visible", timeout=timeout * 1000)
    me = await student.evaluate(
        "fetch('/api/me').then(async (r) => ({status: r.status, body: await r.json()}))"
    )
    result["student_me_status"] = me["status"]
    result["student_me_login_ok"] = me["body"]["user"]["login"] == pupil_login

    # over HTTP: the old password no longer logs in, the new one does; the old session ended
    result["old_password_status"] = await http_log_in(base, pupil_login, PASSWORD)
    result["new_password_status"] = await http_log_in(base, pupil_login, NEW_PASSWORD)
    result["old_session_status"] = await http_me(base, pupil.token)

    # the link again: used
    again = await fresh(browser, "again", errors, **DESKTOP)
    await again.goto(made["link"])
    result["used_state"] = await reset_page_ready(again, timeout)
    result["used_title"] = await again.get_by_test_id("reset-title").inner_text()
    result["used_notice"] = await again.get_by_test_id("reset-notice").inner_text()
    result["used_to_login"] = await again.get_by_test_id("reset-to-login").get_attribute("href")
    result["used_fields_hidden"] = not await again.get_by_test_id("input-new-password").is_visible()
    await again.screenshot(path=str(out_dir / "reset-used-1280.png"))
    # the log-in page says what to do about a forgotten password
    await again.get_by_test_id("reset-to-login").click()
    await again.wait_for_url(lambda url: urlsplit(url).path == "/login", timeout=timeout * 1000)
    result["login_forgot_text"] = await again.locator(".login-only").inner_text()
    await again.context.close()

    # on a phone: the other student's link, and the used one
    phone = await fresh(browser, other_pupil.name, errors, **PHONE)
    await phone.goto(phone_made["link"])
    result["phone_reset_state"] = await reset_page_ready(phone, timeout)
    await phone.screenshot(path=str(out_dir / "reset-390.png"))
    result["phone_overflow_reset"] = await phone.evaluate(OVERFLOW)
    await phone.goto(made["link"])
    result["phone_used_state"] = await reset_page_ready(phone, timeout)
    await phone.screenshot(path=str(out_dir / "reset-used-390.png"))
    result["phone_overflow_used"] = await phone.evaluate(OVERFLOW)
    await phone.context.close()
    await student.context.close()
    await admin.context.close()


async def open_password_form(page: Page, base: str, timeout: float) -> None:
    await page.goto(f"{base}/chats")
    await page.get_by_test_id("btn-settings").click()
    await page.get_by_test_id("btn-change-password").click()
    await page.get_by_test_id("password-form").wait_for(state="visible", timeout=timeout * 1000)


async def teacher_changes_password(
    browser: Browser,
    base: str,
    school: School,
    out_dir: Path,
    timeout: float,
    result: dict[str, Any],
    errors: list[str],
) -> None:
    login = await login_of(school, school.teacher)
    page = await fresh(browser, school.teacher.name, errors, **DESKTOP)
    # logged in by the log-in page (the school's session token stays, another "device")
    await page.goto(f"{base}/login?next=/chats")
    await page.get_by_test_id("input-login").fill(login)
    await page.get_by_test_id("input-password").fill(PASSWORD)
    await page.get_by_test_id("btn-login").click()
    await page.wait_for_url(lambda url: urlsplit(url).path == "/chats", timeout=timeout * 1000)

    await open_password_form(page, base, timeout)
    result["change_toggle_expanded"] = await page.get_by_test_id(
        "btn-change-password"
    ).get_attribute("aria-expanded")
    result["change_focused"] = await page.evaluate(
        "document.activeElement?.dataset.testid === 'input-current-password'"
    )
    result["change_autocomplete"] = [
        await page.get_by_test_id("input-current-password").get_attribute("autocomplete"),
        await page.get_by_test_id("input-new-password").get_attribute("autocomplete"),
    ]
    await page.screenshot(path=str(out_dir / "change-password-1280.png"))
    # a wrong current password: refused next to that field
    await page.get_by_test_id("input-current-password").fill("not my password")
    await page.get_by_test_id("input-new-password").fill(TEACHER_PASSWORD)
    await page.get_by_test_id("btn-save-password").click()
    error = page.get_by_test_id("password-current-error")
    await wait_for_js(
        page,
        "document.querySelector(\"[data-testid='password-current-error']\")?.textContent",
        timeout=timeout * 1000,
    )
    result["wrong_current_text"] = await error.inner_text()
    result["wrong_current_invalid"] = await page.get_by_test_id(
        "input-current-password"
    ).get_attribute("aria-invalid")
    await page.screenshot(path=str(out_dir / "change-password-error-1280.png"))
    # the right one: changed, the other session ended
    await page.get_by_test_id("input-current-password").fill(PASSWORD)
    await page.get_by_test_id("btn-save-password").click()
    done = page.get_by_test_id("password-changed")
    await done.wait_for(state="visible", timeout=timeout * 1000)
    result["changed_text"] = await done.inner_text()
    result["form_hidden_after"] = not await page.get_by_test_id("password-form").is_visible()
    await page.screenshot(path=str(out_dir / "change-password-done-1280.png"))
    result["other_session_status"] = await http_me(base, school.teacher.token)

    # log out, and in again with the new password
    await page.get_by_test_id("btn-logout").click()
    await page.wait_for_url(lambda url: urlsplit(url).path == "/login", timeout=timeout * 1000)
    await page.get_by_test_id("input-login").fill(login)
    await page.get_by_test_id("input-password").fill(PASSWORD)
    await page.get_by_test_id("btn-login").click()
    notice = page.get_by_test_id("login-notice")
    await notice.wait_for(state="visible", timeout=timeout * 1000)
    result["old_password_refused"] = await notice.inner_text()
    await page.get_by_test_id("input-password").fill(TEACHER_PASSWORD)
    await page.get_by_test_id("btn-login").click()
    await page.wait_for_url(lambda url: urlsplit(url).path != "/login", timeout=timeout * 1000)
    result["after_new_login"] = urlsplit(page.url).path
    result["me_after_new_login"] = await page.evaluate("fetch('/api/me').then((r) => r.status)")
    await page.context.close()

    # a parent on a phone, from the home page's account bar: the form, and a new password
    # too short (checked before asking)
    phone = await logged_in_as(browser, base, school.parent, errors, **PHONE)
    await phone.goto(f"{base}/")
    change = phone.get_by_test_id("link-change-password")
    await change.wait_for(state="visible", timeout=timeout * 1000)
    result["home_change_label"] = (await change.inner_text()).strip()
    result["phone_overflow_home"] = await phone.evaluate(OVERFLOW)
    await phone.screenshot(path=str(out_dir / "home-account-390.png"))
    await change.click()
    await phone.get_by_test_id("password-form").wait_for(state="visible", timeout=timeout * 1000)
    result["home_change_path"] = urlsplit(phone.url).path + urlsplit(phone.url).fragment
    result["home_change_focused"] = await phone.evaluate(
        "document.activeElement?.dataset.testid === 'input-current-password'"
    )
    await phone.get_by_test_id("input-current-password").fill(PASSWORD)
    await phone.get_by_test_id("input-new-password").fill("short")
    await phone.get_by_test_id("btn-save-password").click()
    result["phone_short_text"] = await phone.get_by_test_id("password-new-error").inner_text()
    await phone.screenshot(path=str(out_dir / "change-password-390.png"))
    result["phone_overflow_change"] = await phone.evaluate(OVERFLOW)
    await phone.context.close()


async def run(out_dir: Path, timeout: float, result: dict[str, Any]) -> None:
    errors: list[str] = []
    result["page_errors"] = errors
    async with (
        parta_and_chromium(out_dir) as (_app, base, browser),
        aiohttp.ClientSession() as http,
    ):
        school = await make_school(http, f"{base}/", students=2)
        await admin_and_student(browser, base, school, out_dir, timeout, result, errors)
        await teacher_changes_password(browser, base, school, out_dir, timeout, result, errors)


def main() -> None:
    driver_main(run, default_timeout=20)


if __name__ == "__main__":
    main()
