"""A teacher schedules a lesson on the home page, holds it, and finds it in past calls.

Run by tests/browser/test_schedule_page.py inside a private network namespace (only
loopback exists there). Starts parta in-process, drives headless Chromium pages with
Playwright, takes screenshots of the home page, and prints one JSON object.

The teacher's page schedules the lesson (so it keeps the lesson's host link and offers
"Start as host"); a student opens the share link first and waits until the teacher
arrives with the host link.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from playwright.async_api import Page

from tests.browser.driver import join_by_invite, wait_until
from tests.browser.people import log_in_on_login_page, login_for, sign_up
from tests.browser.stage import driver_main, parta_and_chromium

TITLE = "Maths 7b — fractions"


async def lists_loaded(page: Page, timeout: float) -> bool:
    return await wait_until(
        page,
        "document.querySelector(\"[data-testid='upcoming-list']\")?.dataset.loaded === 'true'"
        " && document.querySelector(\"[data-testid='history-list']\")?.dataset.loaded === 'true'",
        timeout,
    )


async def schedule_lesson(page: Page, result: dict[str, Any], out_dir: Path, timeout: float) -> str:
    """A too-long title first (the server's message is shown), then a weekly lesson."""
    await page.get_by_test_id("input-title").fill("x" * 129)
    await page.get_by_test_id("btn-schedule").click()
    error = page.get_by_test_id("schedule-error")
    await error.wait_for(state="visible", timeout=timeout * 1000)
    result["error_text"] = await error.inner_text()
    await page.get_by_test_id("form-schedule").screenshot(path=str(out_dir / "form-error.png"))
    result["result_hidden_after_error"] = not await page.get_by_test_id(
        "scheduled-result"
    ).is_visible()

    day = date.today() + timedelta(days=3)
    await page.get_by_test_id("input-title").fill(TITLE)
    await page.get_by_test_id("input-date").fill(day.isoformat())
    await page.get_by_test_id("input-time").fill("09:30")
    await page.get_by_test_id("select-tz").select_option("Europe/Berlin")
    await page.get_by_test_id("select-duration").select_option("45m")
    await page.get_by_test_id("select-repeat").select_option("weekly")
    result["defaults"] = {
        "reminder_15": await page.get_by_test_id("check-reminder-15").is_checked(),
        "reminder_0": await page.get_by_test_id("check-reminder-0").is_checked(),
        "waiting_room": await page.get_by_test_id("check-waiting-room").is_checked(),
    }
    await page.get_by_test_id("btn-schedule").click()
    created = page.get_by_test_id("scheduled-result")
    await created.wait_for(state="visible", timeout=timeout * 1000)
    result["error_hidden_after_success"] = not await error.is_visible()
    link = await page.get_by_test_id("result-link").input_value()
    ics_href = await page.get_by_test_id("link-ics").get_attribute("href") or ""
    result["link"] = link
    result["ics_href"] = ics_href
    result["ics_download"] = await page.get_by_test_id("link-ics").get_attribute("download")
    result["start_href"] = await page.get_by_test_id("btn-start-now").get_attribute("href")
    result["ics"] = await page.evaluate("(url) => fetch(url).then((r) => r.text())", ics_href)
    result["upcoming_shows_title"] = await wait_until(
        page,
        "document.querySelector(\"[data-testid='upcoming-list']\")"
        f".textContent.includes({json.dumps(TITLE)})",
        timeout,
    )
    return link


def eml_calendar(text: str) -> str:
    """The text/calendar attachment of an .eml, decoded as a mail program would (the
    server sends it base64-encoded, so the raw message does not show BEGIN:VCALENDAR)."""
    message = email.message_from_string(text, policy=email.policy.default)
    for part in message.walk():
        if part.get_content_type() == "text/calendar":
            payload = part.get_payload(decode=True)
            return payload.decode("utf-8") if isinstance(payload, bytes) else ""
    return ""


async def invite_by_email(
    page: Page, result: dict[str, Any], out_dir: Path, timeout: float
) -> None:
    """Invite from the created-lesson box: a bad address (the server's message is shown),
    then two good ones; the test server has no SMTP, so an .eml download is offered."""
    box = page.get_by_test_id("scheduled-result")
    await box.get_by_test_id("btn-invite").click()
    form = box.get_by_test_id("invite-form")
    await form.wait_for(state="visible", timeout=timeout * 1000)
    result["invite_focused"] = await page.evaluate(
        "document.activeElement?.dataset.testid === 'invite-emails'"
    )
    emails = form.get_by_test_id("invite-emails")
    await emails.fill("not-an-address")
    await form.get_by_test_id("btn-invite-send").click()
    error = form.get_by_test_id("invite-error")
    await error.wait_for(state="visible", timeout=timeout * 1000)
    result["invite_error_text"] = await error.inner_text()
    await form.screenshot(path=str(out_dir / "invite-error.png"))

    await emails.fill("anna@school.example, ben@school.example\n")
    await form.get_by_test_id("btn-invite-send").click()
    download = form.get_by_test_id("invite-download")
    await download.wait_for(state="visible", timeout=timeout * 1000)
    result["invite_error_hidden_after_success"] = not await error.is_visible()
    result["invite_result_text"] = await form.get_by_test_id("invite-result").inner_text()
    href = await download.get_attribute("href") or ""
    result["invite_href"] = href
    result["invite_download_attr"] = await download.get_attribute("download")
    fetched = await page.evaluate(
        "(url) => fetch(url).then(async (r) => ({status: r.status,"
        " type: r.headers.get('content-type'), text: await r.text()}))",
        href,
    )
    result["invite_eml_status"] = fetched["status"]
    result["invite_eml_type"] = fetched["type"]
    result["invite_eml"] = fetched["text"]
    result["invite_eml_calendar"] = eml_calendar(fetched["text"])
    await form.screenshot(path=str(out_dir / "invite-form.png"))
    await box.screenshot(path=str(out_dir / "invite-result-box.png"))

    # the same action on the Upcoming lessons row; Cancel closes it again
    row = page.get_by_test_id("upcoming-list").locator("li").filter(has_text=TITLE).first
    await row.get_by_test_id("upcoming-invite").click()
    row_form = row.get_by_test_id("invite-form")
    result["row_invite_opens"] = await row_form.is_visible()
    await row.screenshot(path=str(out_dir / "invite-row.png"))
    await row_form.get_by_test_id("invite-cancel").click()
    result["row_invite_closes"] = await row_form.count() == 0


async def upcoming_row_buttons(page: Page) -> dict[str, int]:
    """Which of "Start as host" and "Join" the upcoming lesson's row offers."""
    row = page.get_by_test_id("upcoming-list").locator("li").filter(has_text=TITLE).first
    return {
        "start_host": await row.get_by_test_id("upcoming-start-host").count(),
        "join": await row.get_by_test_id("upcoming-join").count(),
        "copy": await row.get_by_test_id("upcoming-copy").count(),
    }


async def hold_lesson(
    page: Page, student: Page, link: str, result: dict[str, Any], out_dir: Path, timeout: float
) -> None:
    """The student opens the share link and waits for the teacher; the teacher presses
    "Start as host", types a name, is host and lets the student in; both leave."""
    await join_by_invite(student, link, "Student", timeout)
    result["student_waits_for_teacher"] = await wait_until(
        student, "window.parta.state().waiting === true", timeout
    )
    await page.get_by_test_id("btn-start-now").click()
    field = page.get_by_test_id("prejoin-input-name")
    await field.wait_for(state="visible", timeout=timeout * 1000)
    result["teacher_url_without_host_key"] = "host=" not in page.url
    await field.fill("Teacher")
    await page.get_by_test_id("prejoin-btn-join").click()
    result["joined"] = await wait_until(
        page, "window.parta.state().connected && window.parta.state().role === 'host'", timeout
    )
    result["teacher_invite_link"] = await page.evaluate("window.parta.inviteLink()")
    result["teacher_sees_student"] = await wait_until(
        page, "window.parta.state().waitingList.some(p => p.name === 'Student')", timeout
    )
    await page.get_by_test_id("btn-participants").click()
    student_id = (await student.evaluate("window.parta.state()"))["peerId"]
    await page.get_by_test_id(f"btn-admit-{student_id}").click()
    result["student_admitted"] = await wait_until(
        student, "window.parta.state().connected", timeout
    )
    await page.screenshot(path=str(out_dir / "lesson-host-panel.png"))
    await student.get_by_test_id("btn-leave").click()
    await page.get_by_test_id("btn-leave").click()
    await page.get_by_test_id("left-title").wait_for(state="visible", timeout=timeout * 1000)


async def history_shows_lesson(page: Page, base: str, timeout: float) -> bool:
    """The call is written to history when the room closes: reload / until it is listed."""
    shows = (
        "document.querySelector(\"[data-testid='history-list']\")"
        f".textContent.includes({json.dumps(TITLE)})"
    )
    for _ in range(int(timeout)):
        await page.goto(f"{base}/")
        await lists_loaded(page, timeout)
        if await page.evaluate(shows):
            return True
        await asyncio.sleep(1)
    return False


async def lessons(page: Page) -> list[dict[str, Any]]:
    """The upcoming lessons as the server lists them to this page's user."""
    listed: dict[str, Any] = await page.evaluate(
        "fetch('/api/schedule?upcoming=1').then((r) => r.json())"
    )
    return list(listed["calls"])


async def edit_and_delete(
    page: Page, result: dict[str, Any], out_dir: Path, timeout: float
) -> None:
    """The organiser edits the lesson in the form (new title and time), cancels an edit
    of another one, then deletes the edited lesson after a confirmation (Cancel first)."""
    await page.goto(page.url)
    await lists_loaded(page, timeout)
    row = page.get_by_test_id("upcoming-list").locator("li").filter(has_text=TITLE).first
    result["row_edit_delete"] = {
        "edit": await row.get_by_test_id("upcoming-edit").count(),
        "delete": await row.get_by_test_id("upcoming-delete").count(),
    }
    await row.get_by_test_id("upcoming-edit").click()
    form = page.get_by_test_id("form-schedule")
    result["edit_form"] = {
        "heading": await page.locator("#schedule-heading").inner_text(),
        "submit": await page.get_by_test_id("btn-schedule").inner_text(),
        "title": await page.get_by_test_id("input-title").input_value(),
        "time": await page.get_by_test_id("input-time").input_value(),
        "repeat": await page.get_by_test_id("select-repeat").input_value(),
        "tz": await page.get_by_test_id("select-tz").input_value(),
        "cancel_visible": await page.get_by_test_id("btn-cancel-edit").is_visible(),
        "title_focused": await page.evaluate(
            "document.activeElement?.dataset.testid === 'input-title'"
        ),
    }
    await form.screenshot(path=str(out_dir / "edit-form.png"))
    edited_title = f"{TITLE} (room 12)"
    await page.get_by_test_id("input-title").fill(edited_title)
    await page.get_by_test_id("input-time").fill("10:15")
    await page.get_by_test_id("btn-schedule").click()
    await page.get_by_test_id("scheduled-result").wait_for(state="visible", timeout=timeout * 1000)
    result["edit_saved_toast"] = await page.get_by_test_id("toasts").inner_text()
    result["edit_result_title"] = await page.locator("#result-title").inner_text()
    result["edit_submit_after"] = await page.get_by_test_id("btn-schedule").inner_text()
    result["edit_list_updated"] = await wait_until(
        page,
        "document.querySelector(\"[data-testid='upcoming-list']\")"
        f".textContent.includes({json.dumps(edited_title)})",
        timeout,
    )
    edited = next(c for c in await lessons(page) if c["title"] == edited_title)
    result["edited_lesson"] = {k: edited[k] for k in ("start", "repeat", "time_zone", "link")}
    await full_screenshot(page, out_dir / "home-edited.png")

    # Cancel editing of the other lesson: the form is a new lesson's again
    other = page.get_by_test_id("upcoming-list").locator("li").filter(has_text="Biology").first
    await other.get_by_test_id("upcoming-edit").click()
    result["other_edit_title"] = await page.get_by_test_id("input-title").input_value()
    result["other_edit_duration"] = await page.get_by_test_id("select-duration").input_value()
    await page.get_by_test_id("btn-cancel-edit").click()
    result["after_cancel"] = {
        "heading": await page.locator("#schedule-heading").inner_text(),
        "title": await page.get_by_test_id("input-title").input_value(),
        "cancel_hidden": not await page.get_by_test_id("btn-cancel-edit").is_visible(),
        "tz_is_browsers": await page.evaluate(
            "document.querySelector(\"[data-testid='select-tz']\").value"
            " === Intl.DateTimeFormat().resolvedOptions().timeZone"
        ),
    }

    # Delete: the confirmation's Cancel keeps it, its Delete removes it
    row = page.get_by_test_id("upcoming-list").locator("li").filter(has_text=edited_title).first
    await row.get_by_test_id("upcoming-delete").click()
    dialog = page.get_by_test_id("confirm-dialog")
    await dialog.wait_for(state="visible", timeout=timeout * 1000)
    result["delete_dialog_text"] = await dialog.inner_text()
    await page.screenshot(path=str(out_dir / "delete-confirm.png"))
    await dialog.get_by_test_id("btn-confirm-cancel").click()
    result["kept_after_cancel"] = any(c["id"] == edited["id"] for c in await lessons(page))
    await row.get_by_test_id("upcoming-delete").click()
    await dialog.wait_for(state="visible", timeout=timeout * 1000)
    await dialog.get_by_test_id("btn-confirm").click()
    result["row_gone"] = await wait_until(
        page,
        "!document.querySelector(\"[data-testid='upcoming-list']\")"
        f".textContent.includes({json.dumps(edited_title)})",
        timeout,
    )
    result["deleted_toast"] = await page.get_by_test_id("toasts").inner_text()
    result["gone_from_server"] = all(c["id"] != edited["id"] for c in await lessons(page))
    result["edited_link_status"] = await page.evaluate(
        "(url) => fetch(url, {redirect: 'manual'}).then((r) => r.status)", edited["link"]
    )
    await full_screenshot(page, out_dir / "home-deleted.png")


async def full_screenshot(page: Page, path: Path) -> None:
    """The home screen scrolls inside its own box, so grow the viewport to its height."""
    size = page.viewport_size or {"width": 1280, "height": 720}
    height = await page.evaluate("document.getElementById('screen-home').scrollHeight")
    await page.set_viewport_size({"width": size["width"], "height": max(height, size["height"])})
    await page.screenshot(path=str(path))
    await page.set_viewport_size(size)


async def run(out_dir: Path, timeout: float, result: dict[str, Any]) -> None:
    errors: list[str] = []
    async with parta_and_chromium(out_dir) as (_app, base, browser):
        context = await browser.new_context(viewport={"width": 1280, "height": 720})
        page = await context.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        await sign_up(page, base, "Teacher")
        await page.goto(f"{base}/")
        result["lists_loaded"] = await lists_loaded(page, timeout)
        result["browser_tz_selected"] = await page.evaluate(
            "document.querySelector(\"[data-testid='select-tz']\").value"
            " === Intl.DateTimeFormat().resolvedOptions().timeZone"
        )
        await full_screenshot(page, out_dir / "home-empty.png")
        link = await schedule_lesson(page, result, out_dir, timeout)
        await full_screenshot(page, out_dir / "home-scheduled.png")
        await invite_by_email(page, result, out_dir, timeout)
        result["teacher_row"] = await upcoming_row_buttons(page)
        # the student has no account yet: the share link leads through "Create an account"
        student = await (await browser.new_context()).new_page()
        student.on("pageerror", lambda exc: errors.append(f"student: {exc}"))
        await hold_lesson(page, student, link, result, out_dir, timeout)
        result["history_shows_title"] = await history_shows_lesson(page, base, timeout)
        result["history_text"] = await page.get_by_test_id("history-list").inner_text()
        result["upcoming_text"] = await page.get_by_test_id("upcoming-list").inner_text()
        await page.screenshot(path=str(out_dir / "home-1280.png"))
        await full_screenshot(page, out_dir / "home-1280-full.png")
        # the teacher on her phone: the same account (others do not see her lessons at
        # all), but this browser did not schedule the lesson: no host link, only "Join"
        phone = await browser.new_context(
            viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
        )
        mobile = await phone.new_page()
        mobile.on("pageerror", lambda exc: errors.append(f"phone: {exc}"))
        await mobile.goto(f"{base}/")
        await log_in_on_login_page(mobile, login_for("Teacher"), timeout)
        await lists_loaded(mobile, timeout)
        result["other_browser_row"] = await upcoming_row_buttons(mobile)
        await mobile.screenshot(path=str(out_dir / "home-390.png"))
        await full_screenshot(mobile, out_dir / "home-390-full.png")
        overflow = (
            "[...document.querySelectorAll('#screen-home *')].some("
            "(n) => n.getBoundingClientRect().right > window.innerWidth + 0.5)"
        )
        result["phone_overflow_x"] = await mobile.evaluate(overflow)
        # the phone layout of an error and of a scheduled lesson
        await mobile.get_by_test_id("input-title").fill("y" * 129)
        await mobile.get_by_test_id("btn-schedule").click()
        await mobile.get_by_test_id("schedule-error").wait_for(state="visible")
        await mobile.get_by_test_id("input-title").fill("Biology 5a, second group")
        await mobile.get_by_test_id("select-duration").select_option("all_day")
        await mobile.get_by_test_id("select-repeat").select_option("weekdays")
        await mobile.get_by_test_id("btn-schedule").click()
        await mobile.get_by_test_id("scheduled-result").wait_for(state="visible")
        result["phone_overflow_x_scheduled"] = await mobile.evaluate(overflow)
        await mobile.get_by_test_id("btn-invite").click()
        await mobile.get_by_test_id("invite-emails").fill("a@school.example b@school.example")
        await mobile.get_by_test_id("btn-invite-send").click()
        await mobile.get_by_test_id("invite-download").wait_for(state="visible")
        result["phone_overflow_x_invite"] = await mobile.evaluate(overflow)
        await mobile.get_by_test_id("scheduled-result").screenshot(
            path=str(out_dir / "invite-390.png")
        )
        await full_screenshot(mobile, out_dir / "home-390-scheduled.png")
        await edit_and_delete(page, result, out_dir, timeout)
        result["page_errors"] = errors


def main() -> None:
    driver_main(run, default_timeout=20)


if __name__ == "__main__":
    main()
