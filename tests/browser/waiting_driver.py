"""A teacher and a student meet through the waiting room, in two headless Chromium pages.

Run by tests/browser/test_waiting_room.py inside a private network namespace (only
loopback exists there). Starts parta in-process, drives the pages with Playwright
through the web client's host controls, and prints one JSON object:

the teacher opens the call (and so is its host) and turns the waiting room on; the
student opens the teacher's invite link and waits, receiving nothing; the teacher sees
the toast and the waiting list, admits the student; both decode each other's video and
audio; the teacher mutes the student's microphone, keeps it off, lifts the lock; the
teacher copies the invite link from the host panel, makes a new one (the old one is
refused, the new one works) and turns it off; the teacher reloads and is host again
(host token); the teacher ends the call for everyone.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any
from urllib.parse import quote

from playwright.async_api import Browser, Page

from tests.browser.driver import invite_link, join_by_invite, wait_for_remote_media, wait_until
from tests.browser.people import person, sign_up
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


def shown(testid: str) -> str:
    """JavaScript: whether the element is on screen (not in a hidden screen)."""
    return f"!!document.querySelector(\"[data-testid='{testid}']\")?.checkVisibility()"


async def panel_from_top(page: Page) -> None:
    """Close any open "More" menu and scroll the people panel to its top, for a picture."""
    await page.evaluate(
        "document.querySelectorAll('.person [aria-expanded=\"true\"]').forEach((b) => b.click());"
        "document.querySelector('.panel-body').scrollTop = 0"
    )
    await asyncio.sleep(0.4)  # transitions


async def confirm(page: Page, steps: dict[str, Any], name: str, words: str) -> None:
    """Press the confirmation dialog's button after checking what it says."""
    dialog = page.get_by_test_id("confirm-dialog")
    await dialog.wait_for(state="visible")
    steps[name] = words in (await dialog.text_content() or "")
    await page.get_by_test_id("btn-confirm").click()


async def exercise_invite_link(
    teacher: Page, browser: Browser, base: str, out_dir: Path, timeout: float
) -> dict[str, Any]:
    """The host panel's invite link: copy it, replace it (the old one is refused, the new
    one works), look at it on a phone, turn it off and on again."""
    steps: dict[str, Any] = {}
    if not await visible(teacher, "panel-participants"):
        await teacher.get_by_test_id("btn-participants").click()
    box = teacher.get_by_test_id("invite-link")
    old = await box.input_value()
    steps["panel_shows_invite_link"] = "/join/" in old and old == await teacher.evaluate(
        "window.parta.inviteLink()"
    )
    steps["invite_buttons_visible"] = all(
        [await visible(teacher, t) for t in ("btn-copy-link", "btn-new-link", "btn-revoke-link")]
    )
    steps["topbar_copy_for_host"] = await visible(teacher, "topbar-btn-copy-link")
    await teacher.get_by_test_id("btn-copy-link").click()
    steps["copy_toast"] = await wait_until(
        teacher, "document.getElementById('toasts').textContent.includes('Link copied')", timeout
    )
    steps["clipboard_has_link"] = await teacher.evaluate("navigator.clipboard.readText()") == old
    await panel_from_top(teacher)
    await teacher.screenshot(path=str(out_dir / "host-panel-invite.png"))

    # a new link: asked first; then the old one is refused and the new one works
    await teacher.get_by_test_id("btn-new-link").click()
    await teacher.screenshot(path=str(out_dir / "confirm-new-link.png"))
    await confirm(teacher, steps, "confirm_new_link_warns", "stops working")
    steps["link_replaced"] = await wait_until(
        teacher, f"window.parta.inviteLink() && window.parta.inviteLink() !== '{old}'", timeout
    )
    new = await teacher.evaluate("window.parta.inviteLink()")
    steps["panel_shows_new_link"] = await box.input_value() == new
    old_token = old.rsplit("/", 1)[1]
    late = await person(browser, base, "Late")
    response = await late.goto(old)
    steps["old_join_url_404"] = response is not None and response.status == 404
    await late.goto(f"{base}/call/{CALL}?link={quote(old_token)}&name=Late")
    steps["old_link_bad_link_screen"] = await wait_until(late, shown("bad-link-screen"), timeout)
    steps["bad_link_text"] = await late.locator("#screen-over").text_content()
    await late.screenshot(path=str(out_dir / "bad-link.png"))
    await asyncio.sleep(2)  # no retry loop follows
    steps["bad_link_stays"] = (await state(late))["screen"] == "bad-link" and not await visible(
        late, "toast-reconnecting"
    )
    stranger = await person(browser, base, "Stranger")
    await stranger.goto(f"{base}/call/{CALL}?name=Stranger")
    steps["no_link_screen"] = await wait_until(stranger, shown("bad-link-screen"), timeout)
    steps["no_link_title"] = await stranger.get_by_test_id("over-title").text_content()
    fresh = await person(browser, base, "Fresh")
    await join_by_invite(fresh, new, "Fresh", timeout)
    steps["new_link_works"] = await wait_state(fresh, "s.waiting === true", timeout)
    steps["teacher_sees_fresh"] = await wait_state(
        teacher, "s.waitingList.some(p => p.name === 'Fresh')", timeout
    )
    for page in (late, stranger, fresh):
        await page.context.close()

    # the panel on a phone
    await teacher.set_viewport_size({"width": 390, "height": 844})
    await panel_from_top(teacher)
    await teacher.screenshot(path=str(out_dir / "host-panel-invite-390.png"))
    steps["phone_no_overflow"] = not await teacher.evaluate(
        "[...document.querySelectorAll('#panel *')].some("
        "(n) => n.getBoundingClientRect().right > window.innerWidth + 0.5)"
    )
    await teacher.set_viewport_size({"width": 1280, "height": 720})

    # turned off: nobody comes in; "New link" turns it on again
    await teacher.get_by_test_id("btn-revoke-link").click()
    await confirm(teacher, steps, "confirm_revoke_says", "Nobody new can join")
    steps["link_off"] = await wait_until(teacher, "window.parta.inviteLink() === null", timeout)
    steps["link_off_shown"] = await visible(teacher, "invite-link-off")
    steps["copy_hidden_when_off"] = not await visible(teacher, "btn-copy-link")
    steps["topbar_copy_hidden_when_off"] = not await visible(teacher, "topbar-btn-copy-link")
    await panel_from_top(teacher)
    await teacher.screenshot(path=str(out_dir / "host-panel-link-off.png"))
    blocked = await person(browser, base, "Blocked")
    await blocked.goto(f"{base}/call/{CALL}?link={quote(new.rsplit('/', 1)[1])}&name=Blocked")
    steps["revoked_link_refused"] = await wait_until(blocked, shown("bad-link-screen"), timeout)
    await blocked.context.close()
    await teacher.get_by_test_id("btn-new-link").click()
    await confirm(teacher, steps, "confirm_turn_on", "new link")
    steps["link_on_again"] = await wait_until(
        teacher,
        f"![null, '{old}', '{new}'].includes(window.parta.inviteLink())",
        timeout,
    )
    steps["link_box_back"] = await visible(teacher, "invite-link")
    return steps


async def run(out_dir: Path, timeout: float, result: dict[str, Any]) -> None:
    """Fills `result` as it goes, so that a failure still shows how far it got."""
    steps: dict[str, Any] = result.setdefault("steps", {})
    errors: list[str] = []
    result["page_errors"] = errors
    async with parta_and_chromium(out_dir) as (_app, base, browser):
        pages: dict[str, Page] = {}
        for name in ("Teacher", "Student"):
            context = await browser.new_context(
                viewport={"width": 1280, "height": 720},
                permissions=["clipboard-read", "clipboard-write"] if name == "Teacher" else [],
            )
            page = await context.new_page()
            page.on("pageerror", lambda exc, n=name: errors.append(f"{n}: {exc}"))
            pages[name] = page
        teacher, student = pages["Teacher"], pages["Student"]
        # the teacher has an account; the student makes one on the way in (join_by_invite)
        await sign_up(teacher, base, "Teacher")

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

        # -- the student opens the teacher's invite link and waits --------------------
        link = await invite_link(teacher, timeout)
        await join_by_invite(student, link, "Student", timeout)
        steps["student_waiting"] = await wait_state(
            student, "s.waiting === true && s.screen === 'waiting'", timeout
        )
        steps["student_url_cleaned"] = student.url == f"{base}/call/{CALL}"
        steps["student_link_stored"] = (
            await student.evaluate(f"localStorage.getItem('parta.link.{CALL}')")
            == link.rsplit("/", 1)[1]
        )
        steps["student_gets_no_invite_link"] = not await visible(student, "topbar-btn-copy-link")
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

        # -- the invite link in the host panel --------------------------------------
        steps.update(await exercise_invite_link(teacher, browser, base, out_dir, timeout))

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
