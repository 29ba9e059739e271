"""A call broadcast live from the web client, in headless Chromium: a teacher (in a
school) opens a new call, so is its host; a student comes in by the invite link. The
teacher presses "Go live", picks "Anyone with the link" and starts: both see the LIVE
badge, the teacher's popover shows the watch link, which the watch API answers for. A
viewer's WHEP offer (from a page with no account) raises the teacher's viewer count; a
latecomer sees LIVE at once. "New link" retires the old watch link; "End broadcast"
takes LIVE away for everyone.

Run by tests/browser/test_broadcast_controls.py inside a private network namespace (only
loopback exists there). Starts parta in-process, prints one JSON object, and leaves
screenshots of the teacher's view while live (popover open) at 1280 and 390 px wide.
The HLS side of the broadcast is not relied on.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
from playwright.async_api import Page, Route

from tests.browser.driver import invite_link, join_by_invite, wait_until
from tests.browser.people import person
from tests.browser.recording_driver import api, peer_id
from tests.browser.stage import driver_main, parta_and_chromium

SCHOOL = "Lyceum 7"
CALL = "live-assembly"
TEACHER = "Olga Ivanova"
STUDENT = "Pavel Smirnov"
LATECOMER = "Irina Late"

VISIBLE = "!!document.querySelector(\"[data-testid='{}']\")?.checkVisibility()"
HIDDEN = "!document.querySelector(\"[data-testid='{}']\")?.checkVisibility()"

# a viewer with no account: a WHEP offer to the watch link, kept open in the page
WHEP = """async (path) => {
    const pc = new RTCPeerConnection({ iceServers: [] });
    pc.addTransceiver('audio', {direction: 'recvonly'});
    pc.addTransceiver('video', {direction: 'recvonly'});
    await pc.setLocalDescription(await pc.createOffer());
    await new Promise((resolve) => {
        if (pc.iceGatheringState === 'complete') return resolve();
        pc.addEventListener('icegatheringstatechange', () => {
            if (pc.iceGatheringState === 'complete') resolve();
        });
        setTimeout(resolve, 3000);
    });
    const response = await fetch(`${path}/whep`, {
        method: 'POST',
        headers: {'Content-Type': 'application/sdp'},
        body: pc.localDescription.sdp,
    });
    const answer = await response.text();
    if (response.status === 201) {
        await pc.setRemoteDescription({type: 'answer', sdp: answer});
    }
    window.viewerPc = pc;
    return {status: response.status, location: response.headers.get('Location')};
}"""


async def watch_info(base: str, path: str) -> dict[str, Any]:
    """GET /api/watch/<token> as someone with no account: status and body."""
    token = path.rsplit("/", 1)[-1]
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{base}/api/watch/{token}") as response,
    ):
        body = await response.json(content_type=None)
        return {"status": response.status, "body": body}


async def state(page: Page) -> dict[str, Any]:
    found: dict[str, Any] = await page.evaluate("window.parta.state()")
    return found


async def text_of(page: Page, testid: str) -> str:
    return (await page.get_by_test_id(testid).inner_text()).strip()


async def confirm(page: Page, timeout: float) -> None:
    """The "are you sure?" dialog: press its confirm button."""
    dialog = page.get_by_test_id("confirm-dialog")
    await dialog.wait_for(state="visible", timeout=timeout * 1000)
    await page.get_by_test_id("btn-confirm").click()


async def in_view(page: Page, testid: str) -> bool:
    """The element lies wholly inside the viewport (not cut off at a narrow width)."""
    inside: bool = await page.evaluate(
        """(id) => {
            const n = document.querySelector(`[data-testid='${id}']`);
            if (!n || !n.checkVisibility()) return false;
            const r = n.getBoundingClientRect();
            return r.left >= 0 && r.top >= 0 && r.right <= innerWidth + 0.5
                && r.bottom <= innerHeight + 0.5;
        }""",
        testid,
    )
    return inside


async def run(out_dir: Path, timeout: float, result: dict[str, Any]) -> None:
    errors: list[str] = []
    result["page_errors"] = errors
    steps: dict[str, Any] = result.setdefault("steps", {})
    began = time.monotonic()
    marks: dict[str, float] = result.setdefault("marks", {})

    def mark(name: str) -> None:
        marks[name] = round(time.monotonic() - began, 1)

    async with parta_and_chromium(out_dir) as (_app, base, browser):
        desk = {"viewport": {"width": 1280, "height": 720}}
        teacher = await person(browser, base, TEACHER, errors=errors, **desk)
        student = await person(browser, base, STUDENT, errors=errors, **desk)
        # the teacher is in a school: "Only our school" is offered (and picked first)
        org = await api(teacher, "POST", "/api/orgs", {"name": SCHOOL})
        await api(
            teacher,
            "POST",
            "/api/profiles",
            {"code": org["invite_codes"]["teacher"], "full_name": TEACHER},
        )

        # a new call is the teacher's: host; the student comes in by the invite link
        await teacher.goto(f"{base}/call/{CALL}?name={quote(TEACHER)}")
        teacher_id = await peer_id(teacher, timeout)
        steps["teacher_is_host"] = (await state(teacher))["role"] == "host"
        await join_by_invite(student, await invite_link(teacher, timeout), STUDENT, timeout)
        student_id = await peer_id(student, timeout)
        result["ids"] = {"teacher": teacher_id, "student": student_id}
        steps["both_in_call"] = await wait_until(
            teacher, "window.parta.state().peers.length === 1", timeout
        )
        mark("in_call")

        # what each sees before: Go live for the host only, no LIVE badge
        go_live = teacher.get_by_test_id("btn-broadcast")
        steps["teacher_has_go_live"] = await go_live.is_visible()
        result["go_live_label"] = await text_of(teacher, "btn-broadcast")
        result["go_live_title"] = await go_live.get_attribute("title")
        steps["student_has_no_go_live"] = not await student.get_by_test_id(
            "btn-broadcast"
        ).is_visible()
        steps["no_live_badge_before"] = (
            not await student.get_by_test_id("live-indicator").is_visible()
            and not await teacher.get_by_test_id("live-indicator").is_visible()
        )

        # Go live: who may watch, then start
        await go_live.click()
        steps["setup_shown"] = await wait_until(teacher, VISIBLE.format("broadcast-setup"), timeout)
        steps["members_picked_first"] = await teacher.get_by_test_id("radio-members").is_checked()
        result["members_hint"] = await teacher.locator("#broadcast-members-hint").inner_text()
        await teacher.screenshot(path=str(out_dir / "go-live-setup-1280.png"))
        await teacher.get_by_test_id("choice-public").click()
        steps["public_picked"] = await teacher.get_by_test_id("radio-public").is_checked()
        await teacher.get_by_test_id("btn-broadcast-start").click()
        steps["teacher_live"] = await wait_until(
            teacher, "window.parta.state().broadcasting === true", timeout
        )
        mark("live")
        steps["student_live"] = await wait_until(
            student, "window.parta.state().broadcasting === true", timeout
        )
        steps["student_live_badge"] = await wait_until(
            student, VISIBLE.format("live-indicator"), timeout
        )
        steps["teacher_live_badge"] = await teacher.get_by_test_id("live-indicator").is_visible()
        result["live_badge_text"] = await text_of(student, "live-indicator")
        steps["student_told_who"] = await wait_until(
            student,
            "[...document.querySelectorAll('[data-testid=\"toast-broadcast\"]')]"
            f".some((n) => n.textContent.includes({TEACHER!r}))",
            timeout,
        )
        result["student_toast"] = await student.evaluate(
            "document.querySelector('[data-testid=\"toast-broadcast\"]')?.textContent ?? null"
        )
        steps["state_public"] = (await state(student))["broadcastPublic"] is True

        # the host's popover: the watch link (a full URL), copy, viewers
        steps["live_panel_shown"] = await wait_until(
            teacher, VISIBLE.format("broadcast-live"), timeout
        )
        steps["watch_link_shown"] = await wait_until(
            teacher,
            "document.querySelector(\"[data-testid='watch-link']\").value"
            f".startsWith({base + '/watch/'!r})",
            timeout,
        )
        watch_url = await teacher.get_by_test_id("watch-link").input_value()
        watch_path = watch_url[len(base) :]
        result["watch_link"] = watch_path
        steps["state_has_watch_link"] = (await state(teacher))["watchLink"] == watch_url
        steps["student_has_no_watch_link"] = (await state(student))["watchLink"] is None
        result["live_button_label"] = await text_of(teacher, "btn-broadcast")
        result["audience"] = await text_of(teacher, "broadcast-audience")

        info = await watch_info(base, watch_path)
        result["watch_info"] = info
        steps["watch_api_live"] = info["status"] == 200 and info["body"].get("live") is True
        steps["watch_api_public"] = info["body"].get("public") is True

        # a viewer with no account sends a WHEP offer: the host's count goes up
        result["viewers_before"] = await text_of(teacher, "broadcast-viewers")
        viewer = await (await browser.new_context()).new_page()
        viewer.on("pageerror", lambda exc: errors.append(f"viewer: {exc}"))
        await viewer.goto(f"{base}/login")
        whep = await viewer.evaluate(WHEP, watch_path)
        result["whep"] = whep
        steps["whep_accepted"] = whep["status"] == 201
        steps["viewer_counted"] = await wait_until(
            teacher, "window.parta.state().broadcastViewers.webrtc >= 1", timeout
        )
        steps["viewer_count_shown"] = await wait_until(
            teacher,
            "document.querySelector(\"[data-testid='viewers-total']\")"
            ".textContent.startsWith('1 ')",
            timeout,
        )
        result["viewers_after"] = await text_of(teacher, "broadcast-viewers")
        mark("viewer_counted")

        # a latecomer sees LIVE at once (from `joined`)
        late = await person(browser, base, LATECOMER, errors=errors, **desk)
        await join_by_invite(late, await invite_link(teacher, timeout), LATECOMER, timeout)
        await peer_id(late, timeout)
        steps["latecomer_live_at_once"] = (await state(late))["broadcasting"] is True
        steps["latecomer_badge"] = await wait_until(late, VISIBLE.format("live-indicator"), timeout)
        steps["latecomer_told"] = await wait_until(late, VISIBLE.format("toast-broadcast"), timeout)
        mark("latecomer")

        # pictures of the host's view while live, popover open: desktop, then phone
        await asyncio.sleep(1.5)  # the toasts and the grid settle
        await teacher.screenshot(path=str(out_dir / "live-teacher-1280.png"))
        await student.screenshot(path=str(out_dir / "live-student-1280.png"))
        steps["panel_in_view_1280"] = await in_view(teacher, "broadcast-panel")
        await teacher.set_viewport_size({"width": 390, "height": 844})
        await asyncio.sleep(1.0)
        steps["panel_in_view_390"] = await in_view(teacher, "broadcast-panel")
        steps["go_live_in_view_390"] = await in_view(teacher, "btn-broadcast")
        steps["end_call_in_view_390"] = await in_view(teacher, "btn-end-call")
        steps["badge_in_view_390"] = await in_view(teacher, "live-indicator")
        await teacher.screenshot(path=str(out_dir / "live-teacher-390.png"))
        phone = await person(
            browser, base, "Phone Student", errors=errors, viewport={"width": 390, "height": 844}
        )
        await join_by_invite(phone, await invite_link(teacher, timeout), "Phone Student", timeout)
        await peer_id(phone, timeout)
        steps["phone_badge"] = await wait_until(phone, VISIBLE.format("live-indicator"), timeout)
        steps["phone_badge_in_view"] = await in_view(phone, "live-indicator")
        await asyncio.sleep(1.0)
        await phone.screenshot(path=str(out_dir / "live-student-390.png"))

        # New link: asked first; the old link lets nobody in, the new one does
        await teacher.get_by_test_id("btn-new-watch-link").click()
        await confirm(teacher, timeout)
        steps["new_link_shown"] = await wait_until(
            teacher,
            "document.querySelector(\"[data-testid='watch-link']\").value"
            f" !== {watch_url!r} && !!window.parta.state().watchLink",
            timeout,
        )
        new_url = await teacher.get_by_test_id("watch-link").input_value()
        new_path = new_url[len(base) :]
        result["new_watch_link"] = new_path
        old_info, new_info = await watch_info(base, watch_path), await watch_info(base, new_path)
        result["old_link_status"] = old_info["status"]
        result["new_link_status"] = new_info["status"]
        steps["old_link_404"] = old_info["status"] == 404
        steps["new_link_200"] = new_info["status"] == 200 and new_info["body"]["live"] is True
        mark("new_link")

        # End broadcast: asked first; LIVE goes for everyone, the popover closes
        await teacher.get_by_test_id("btn-end-broadcast").click()
        await confirm(teacher, timeout)
        for name, page in (("teacher", teacher), ("student", student), ("latecomer", late)):
            steps[f"{name}_not_live"] = await wait_until(
                page, "window.parta.state().broadcasting === false", timeout
            )
            steps[f"{name}_badge_gone"] = await wait_until(
                page, HIDDEN.format("live-indicator"), timeout
            )
        steps["panel_closed"] = await wait_until(teacher, HIDDEN.format("broadcast-panel"), timeout)
        steps["button_says_go_live"] = (
            await text_of(teacher, "btn-broadcast") == result["go_live_label"]
        )
        ended = await watch_info(base, new_path)
        steps["ended_link_404"] = ended["status"] == 404
        result["student_toast_after"] = await student.evaluate(
            "document.querySelector('[data-testid=\"toast-broadcast\"]')?.textContent ?? null"
        )
        mark("ended")
        await teacher.screenshot(path=str(out_dir / "ended-teacher-390.png"))

        # an error from start_broadcast shows as a toast with the server's message: the
        # page believes the teacher is in two schools (one made up), the server does not
        async def two_schools(route: Route) -> None:
            me = await (await route.fetch()).json()
            me["profiles"] = [
                {"org_id": "no-such-school", "org": {"id": "no-such-school", "name": "Nowhere"}},
                *me["profiles"],
            ]
            await route.fulfill(json=me)

        await teacher.route("**/api/me", two_schools)
        await teacher.reload()
        await peer_id(teacher, timeout)
        steps["host_again_after_reload"] = (await state(teacher))["role"] == "host"
        await teacher.get_by_test_id("btn-broadcast").click()
        steps["school_choice_shown"] = await wait_until(
            teacher, VISIBLE.format("select-school"), timeout
        )
        await teacher.get_by_test_id("select-school").select_option("no-such-school")
        await teacher.screenshot(path=str(out_dir / "go-live-setup-390.png"))
        await teacher.get_by_test_id("btn-broadcast-start").click()
        steps["error_toast"] = await wait_until(
            teacher,
            "(document.querySelector('[data-testid=\"toast-broadcast\"]')?.textContent ?? '')"
            ".includes('Could not go live')",
            timeout,
        )
        result["error_toast"] = await text_of(teacher, "toast-broadcast")
        steps["not_live_after_error"] = (await state(teacher))["broadcasting"] is False
        steps["not_busy_after_error"] = (await state(teacher))["broadcastBusy"] is None
        await teacher.screenshot(path=str(out_dir / "go-live-error-390.png"))
        await teacher.keyboard.press("Escape")
        steps["escape_closes_popover"] = await wait_until(
            teacher, HIDDEN.format("broadcast-panel"), timeout
        )


def main() -> None:
    driver_main(run, default_timeout=20)


if __name__ == "__main__":
    main()
