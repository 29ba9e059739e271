"""A teacher and a student meet through the waiting room, in two headless Chromium pages.

Run by tests/browser/test_waiting_room.py inside a private network namespace (only
loopback exists there). Starts parta in-process, drives the pages with Playwright
through the web client's host controls, and prints one JSON object:

the teacher opens the call (and so is its host) and turns the waiting room on; the
student opens the link and waits, receiving nothing; the teacher sees the toast and the
waiting list, admits the student; both decode each other's video and audio; the teacher
mutes the student's microphone, keeps it off, lifts the lock; the teacher reloads and is
host again (host token); the teacher ends the call for everyone.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from playwright.async_api import Page

from tests.browser.driver import wait_for_remote_media, wait_until
from tests.browser.stage import driver_main, parta_and_chromium

CALL = "waiting-test"


async def state(page: Page) -> dict[str, Any]:
    result: dict[str, Any] = await page.evaluate("window.parta.state()")
    return result


async def wait_state(page: Page, expression: str, timeout: float) -> bool:
    """Wait until `expression` (JavaScript, `s` is window.parta.state()) is true."""
    return await wait_until(
        page, f"(() => {{ const s = window.parta.state(); return {expression}; }})()", timeout
    )


async def visible(page: Page, testid: str) -> bool:
    return await page.get_by_test_id(testid).is_visible()


async def run(out_dir: Path, timeout: float, result: dict[str, Any]) -> None:
    """Fills `result` as it goes, so that a failure still shows how far it got."""
    steps: dict[str, Any] = result.setdefault("steps", {})
    errors: list[str] = []
    result["page_errors"] = errors
    async with parta_and_chromium(out_dir) as (_app, base, browser):
        pages: dict[str, Page] = {}
        for name in ("Teacher", "Student"):
            context = await browser.new_context(viewport={"width": 1280, "height": 720})
            page = await context.new_page()
            page.on("pageerror", lambda exc, n=name: errors.append(f"{n}: {exc}"))
            pages[name] = page
        teacher, student = pages["Teacher"], pages["Student"]

        # -- the teacher opens the call first: host ---------------------------------
        await teacher.goto(f"{base}/call/{CALL}?name=Teacher")
        steps["teacher_is_host"] = await wait_state(
            teacher, "s.connected && s.role === 'host'", timeout
        )
        teacher_id = (await state(teacher))["peerId"]
        steps["end_call_button_for_host"] = await visible(teacher, "btn-end-call")
        await teacher.get_by_test_id("btn-participants").click()
        switch = teacher.get_by_test_id("switch-waiting-room")
        steps["switch_off_at_first"] = await switch.get_attribute("aria-checked") == "false"
        await switch.click()
        steps["waiting_room_on"] = await wait_state(teacher, "s.waitingRoom === true", timeout)
        steps["switch_on"] = await switch.get_attribute("aria-checked") == "true"
        await teacher.get_by_test_id("btn-panel-close").click()

        # -- the student opens the link and waits -------------------------------------
        await student.goto(f"{base}/call/{CALL}?name=Student")
        steps["student_waiting"] = await wait_state(
            student, "s.waiting === true && s.screen === 'waiting'", timeout
        )
        student_id = (await state(student))["peerId"]
        steps["waiting_screen_visible"] = await visible(student, "waiting-screen")
        steps["student_no_end_button"] = not await visible(student, "btn-end-call")
        await asyncio.sleep(2)  # anything that was going to flow would flow by now
        waiting_stats = await student.evaluate("window.parta.stats()")
        result["waiting_stats"] = waiting_stats
        steps["waiting_receives_nothing"] = (
            sum(waiting_stats["bytesReceived"].values()) == 0 and waiting_stats["inbound"] == []
        )
        await student.screenshot(path=str(out_dir / "waiting.png"))

        # -- the teacher is told, and admits the student ----------------------------
        steps["teacher_sees_waiting"] = await wait_state(
            teacher,
            f"s.waitingList.some(p => p.id === '{student_id}' && p.name === 'Student')",
            timeout,
        )
        steps["toast_waiting"] = await wait_until(
            teacher,
            "!!document.querySelector(\"[data-testid='toast-waiting']\")"
            "?.textContent.includes('Student is waiting')",
            timeout,
        )
        badge = teacher.get_by_test_id("waiting-count")
        steps["people_badge"] = await badge.is_visible() and (await badge.text_content()) == "1"
        await teacher.screenshot(path=str(out_dir / "host-toast.png"))
        await teacher.get_by_test_id("btn-participants").click()
        steps["toast_gone_with_panel_open"] = not await visible(teacher, "toast-waiting")
        steps["waiting_list_visible"] = await visible(teacher, "waiting-list")
        await teacher.screenshot(path=str(out_dir / "host-panel.png"))
        await teacher.get_by_test_id(f"btn-admit-{student_id}").click()
        steps["student_admitted"] = await wait_state(
            student, f"s.connected && !s.waiting && s.peerId === '{student_id}'", timeout
        )
        steps["waiting_list_empty"] = await wait_state(
            teacher, "s.waitingList.length === 0", timeout
        )
        steps["waiting_list_hidden"] = not await visible(teacher, "waiting-list")
        stats = {
            "Teacher": await wait_for_remote_media(teacher, student_id, timeout),
            "Student": await wait_for_remote_media(student, teacher_id, timeout),
        }
        result["ids"] = {"Teacher": teacher_id, "Student": student_id}
        result["stats"] = stats
        steps["host_badge_on_tile"] = await visible(student, f"host-badge-{teacher_id}")
        steps["host_badge_text"] = await student.get_by_test_id(
            f"host-badge-{teacher_id}"
        ).text_content()
        steps["student_has_no_badge"] = not await visible(teacher, f"host-badge-{student_id}")
        steps["student_sees_no_host_tools"] = not await visible(student, "switch-waiting-room")

        # -- the teacher mutes the student's microphone, then keeps it off -----------
        await teacher.get_by_test_id(f"btn-mute-{student_id}").click()
        steps["student_mic_muted"] = await wait_state(
            student, "s.local.microphone.muted === true && s.locked.length === 0", timeout
        )
        steps["student_muted_toast"] = await wait_until(
            student,
            "document.getElementById('toasts').textContent"
            ".includes('The host muted your microphone')",
            timeout,
        )
        tile = f"[data-testid='tile-{student_id}']"
        steps["teacher_sees_mic_off"] = await wait_until(
            teacher, f"document.querySelector(\"{tile}\")?.dataset.micMuted === 'true'", timeout
        )
        await teacher.get_by_test_id(f"btn-more-{student_id}").click()
        await teacher.get_by_test_id(f"btn-lock-microphone-{student_id}").click()
        steps["student_mic_locked"] = await wait_state(
            student, "s.locked.includes('microphone') && s.local.microphone.muted", timeout
        )
        mic = student.get_by_test_id("btn-mic")
        steps["mic_button_disabled"] = await mic.is_disabled()
        steps["mic_button_tooltip"] = await mic.get_attribute("title")
        await mic.click(force=True)  # aria-disabled: it only explains why
        await asyncio.sleep(0.5)
        steps["mic_stays_muted"] = (await state(student))["local"]["microphone"]["muted"]
        steps["teacher_sees_lock"] = await wait_state(
            teacher,
            f"s.peers.some(p => p.id === '{student_id}' && p.locked.includes('microphone'))",
            timeout,
        )
        await student.screenshot(path=str(out_dir / "student-locked.png"))
        await teacher.screenshot(path=str(out_dir / "host-panel-locked.png"))
        await teacher.get_by_test_id(f"btn-unlock-microphone-{student_id}").click()
        steps["student_unlocked"] = await wait_state(student, "s.locked.length === 0", timeout)
        steps["mic_button_enabled"] = await mic.get_attribute("aria-disabled") is None
        await mic.click()
        steps["student_unmuted_self"] = await wait_until(
            teacher,
            f"document.querySelector(\"{tile}\")?.dataset.micMuted === 'false'",
            timeout,
        )

        # -- a host who reloads is host again (the token in localStorage) -----------
        token = await teacher.evaluate(f"localStorage.getItem('parta.hostToken.{CALL}')")
        steps["host_token_stored"] = bool(token)
        await teacher.reload()
        steps["host_again_after_reload"] = await wait_state(
            teacher, "s.connected && s.role === 'host' && !s.waiting", timeout
        )
        teacher_id = (await state(teacher))["peerId"]
        steps["student_sees_new_teacher"] = await wait_state(
            student, f"s.peers.some(p => p.id === '{teacher_id}' && p.role === 'host')", timeout
        )

        # -- the teacher ends the call for everyone ---------------------------------
        await teacher.get_by_test_id("btn-end-call").click()
        steps["confirm_shown"] = await visible(teacher, "confirm-dialog")
        await teacher.screenshot(path=str(out_dir / "confirm-end.png"))
        await teacher.get_by_test_id("btn-confirm").click()
        steps["student_ended_screen"] = await wait_until(
            student,
            "!!document.querySelector(\"[data-testid='ended-screen']:not([hidden])\")",
            timeout,
        )
        steps["teacher_ended_screen"] = await wait_until(
            teacher,
            "!!document.querySelector(\"[data-testid='ended-screen']:not([hidden])\")",
            timeout,
        )
        steps["ended_title"] = await student.get_by_test_id("over-title").text_content()
        await student.screenshot(path=str(out_dir / "ended.png"))
        await asyncio.sleep(3)  # no reconnection may follow
        after = await state(student)
        steps["student_stays_ended"] = after["screen"] == "ended" and not after["connected"]
        steps["no_reconnect_toast"] = not await visible(student, "toast-reconnecting")


def main() -> None:
    driver_main(run, default_timeout=30)


if __name__ == "__main__":
    main()
