"""Chats in headless Chromium: a teacher sets up a school, a class chat and talks with a
student live; a file goes up (resumed after a broken connection) and comes down intact;
a pupil's HTML, SVG and HTML-named-.png files open as downloads, never as the app
(hostile_files.py); the student sends a voice message, spoken for real: Chromium's fake
microphone plays a sentence said by Festival's Russian voice, and its transcript
(faster-whisper, the "base" model, loaded by a worker on first use) appears under the
teacher's player.

Run by tests/browser/test_chats_page.py inside a private network namespace (only
loopback exists there). Starts parta in-process, prints one JSON object, and leaves
screenshots of the chat list, a chat with text, file and voice messages (one still being
transcribed, then with its text), the info panel with the invite QR code, the school's
page, and the phone layout.

The teacher opens /chats without a school: "Create a school" leads to its page, whose
invite codes the teacher shares, joining with the teachers' one. The student has only an
account and the chat's invite link (/invite/<code>): the landing page asks for the
student code, then "Join" opens the chat.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import time
import wave
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from aiohttp import web
from playwright.async_api import Browser, Page, Route

from tests.browser.chromium import launch_chromium, wait_for_js
from tests.browser.driver import wait_until
from tests.browser.hostile_files import run_hostile_files
from tests.browser.people import person
from tests.browser.stage import driver_main, free_port
from tests.support.speech import RUSSIAN, speak_russian, word_error_rate
from web.app import create_app
from web.config import Config

SCHOOL = "Lyceum 7"
CHAT = "Algebra 7b"
FILE_SIZE = 3 * 1024 * 1024 + 123
# What the student's microphone says (Festival, Russian): a sentence the base model
# transcribes well, with a little silence before and after.
SPOKEN = RUSSIAN[1]
LEAD_IN = 0.5
TAIL = 1.5
# The transcript is judged against SPOKEN by word error rate, generously (measured: 0.0
# in every run): the recorder starts a moment after the microphone opens, and Chromium
# plays the file from when the device opens, so a slow start may clip the first word.
MAX_WER = 0.5
TRANSCRIPT_TIMEOUT = 60.0

OVERFLOW = (
    "[...document.querySelectorAll('body *')].some((n) => {"
    " const r = n.getBoundingClientRect();"
    " return r.width > 0 && r.right > window.innerWidth + 0.5; })"
)


def testid(name: str) -> str:
    return f"[data-testid='{name}']"


async def see_message(page: Page, text: str, timeout: float) -> bool:
    return await wait_until(
        page,
        f'[...document.querySelectorAll("{testid("message-text")}")]'
        f".some((n) => n.textContent === {text!r})",
        timeout,
    )


async def chat_loaded(page: Page, timeout: float) -> None:
    await wait_for_js(
        page,
        "document.getElementById('pane-chat')?.dataset.loaded === 'true'"
        " && !document.getElementById('pane-chat').hidden",
        timeout=timeout * 1000,
    )


async def clear_toasts(page: Page) -> None:
    await page.evaluate("document.getElementById('toasts').replaceChildren()")


async def send(page: Page, text: str) -> None:
    await page.get_by_test_id("composer-text").fill(text)
    await page.get_by_test_id("composer-text").press("Enter")


async def teacher_sets_up(
    teacher: Page, base: str, out_dir: Path, timeout: float, result: dict[str, Any]
) -> dict[str, str]:
    # from the home page's account bar to the chats
    await teacher.goto(f"{base}/")
    await teacher.get_by_test_id("link-chats").click()
    await teacher.wait_for_url(f"{base}/chats", timeout=timeout * 1000)
    welcome = teacher.get_by_test_id("pane-welcome")
    await welcome.wait_for(state="visible", timeout=timeout * 1000)
    result["welcome_forms"] = [
        await teacher.get_by_test_id("join-school-form").is_visible(),
        await teacher.get_by_test_id("create-school-form").is_visible(),
    ]
    await teacher.screenshot(path=str(out_dir / "chats-welcome-1280.png"))

    # "Create a school": its page shows the invite codes; join it as a teacher
    await teacher.get_by_test_id("input-school-name").fill(SCHOOL)
    await teacher.get_by_test_id("btn-create-school").click()
    codes = teacher.get_by_test_id("school-codes")
    await codes.wait_for(state="visible", timeout=timeout * 1000)
    found = {}
    for role in ("teacher", "student", "parent"):
        row = teacher.get_by_test_id(f"code-{role}")
        found[role] = (await row.get_by_test_id("code-value").inner_text()).strip()
    result["school_url"] = teacher.url.replace(base, "")
    result["join_code_prefilled"] = (
        await codes.get_by_test_id("input-school-code").input_value() == found["teacher"]
    )
    await codes.get_by_test_id("input-full-name").fill("Olga Ivanova")
    await codes.get_by_test_id("btn-join-school").click()
    await wait_for_js(
        teacher,
        "document.querySelector(\"[data-testid='count-teacher'] strong\")?.textContent === '1'",
        timeout=timeout * 1000,
    )
    result["teacher_joined_school"] = True

    # a new class chat, public in the school
    await teacher.get_by_test_id("btn-new-chat").click()
    await teacher.get_by_test_id("input-chat-title").fill(CHAT)
    result["channel_offered_to_teacher"] = await teacher.get_by_test_id(
        "radio-channel"
    ).is_visible()
    await teacher.get_by_test_id("check-public").check()
    await clear_toasts(teacher)
    await teacher.screenshot(path=str(out_dir / "new-chat-dialog-1280.png"))
    await teacher.get_by_test_id("btn-create-chat").click()
    await chat_loaded(teacher, timeout)
    result["chat_title"] = await teacher.get_by_test_id("chat-title").inner_text()
    result["created_notice"] = await teacher.get_by_test_id("system-message").first.inner_text()

    # the info panel: the invite link and its QR code
    await clear_toasts(teacher)
    await teacher.get_by_test_id("btn-info").click()
    url = teacher.get_by_test_id("invite-url")
    await url.wait_for(state="visible", timeout=timeout * 1000)
    invite = await url.input_value()
    result["invite_url"] = invite
    result["qr_loaded"] = await wait_until(
        teacher,
        f'document.querySelector("{testid("invite-qr")}")?.naturalWidth > 100',
        timeout,
    )
    await teacher.screenshot(path=str(out_dir / "chat-info-qr-1280.png"))
    await teacher.get_by_test_id("btn-info-close").click()
    return {"invite": invite, **found}


async def student_joins(
    student: Page, invite: str, code: str, out_dir: Path, timeout: float, result: dict[str, Any]
) -> None:
    await student.goto(invite)
    await student.get_by_test_id("profile-form").wait_for(state="visible", timeout=timeout * 1000)
    result["invite_page_title"] = await student.get_by_test_id("invite-title").inner_text()
    result["invite_page_school"] = await student.get_by_test_id("invite-school").inner_text()
    await student.screenshot(path=str(out_dir / "invite-page-1280.png"))
    await student.get_by_test_id("input-school-code").fill(code)
    await student.get_by_test_id("input-full-name").fill("Pavel Smirnov")
    await student.get_by_test_id("input-class").fill("7b")
    await student.get_by_test_id("btn-create-profile").click()
    await student.get_by_test_id("btn-invite-join").click(timeout=timeout * 1000)
    await student.wait_for_url("**/chats?chat=*", timeout=timeout * 1000)
    await chat_loaded(student, timeout)
    result["student_chat_title"] = await student.get_by_test_id("chat-title").inner_text()


def microphone_wav(out_dir: Path) -> tuple[Path, float]:
    """SPOKEN as a 16 kHz mono WAV for `--use-file-for-fake-audio-capture`, with silence
    around it; (path, seconds)."""
    said = speak_russian(SPOKEN, out_dir / "spoken.wav")
    with wave.open(str(said)) as source:
        params = source.getparams()
        frames = source.readframes(source.getnframes())
    rate, width = params.framerate, params.sampwidth * params.nchannels
    path = out_dir / "microphone.wav"
    with wave.open(str(path), "wb") as mic:
        mic.setparams(params)
        mic.writeframes(b"\0" * width * round(rate * LEAD_IN))
        mic.writeframes(frames)
        mic.writeframes(b"\0" * width * round(rate * TAIL))
    with wave.open(str(path)) as mic:
        return path, mic.getnframes() / mic.getframerate()


@asynccontextmanager
async def parta_and_speaking_chromium(
    out_dir: Path, microphone: Path
) -> AsyncIterator[tuple[web.Application, str, Browser]]:
    """As stage.parta_and_chromium, but the fake microphone says `microphone` (a WAV,
    played once: `%noloop`) rather than beeping."""
    out_dir.mkdir(parents=True, exist_ok=True)
    app = create_app(Config(data_dir=out_dir / "data"))
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    scratch = Path(tempfile.mkdtemp(prefix="parta-chromium-"))
    flags = (f"--use-file-for-fake-audio-capture={microphone}%noloop",)
    try:
        async with launch_chromium(scratch, extra_flags=flags) as browser:
            yield app, f"http://127.0.0.1:{port}", browser
    finally:
        await runner.cleanup()
        shutil.rmtree(scratch, ignore_errors=True)


def transcript_state(page: Page) -> Any:
    return page.evaluate(
        f'document.querySelector("{testid("voice-transcript")}")?.dataset.state ?? null'
    )


async def voice_message_with_text(
    student: Page,
    teacher: Page,
    seconds: float,
    out_dir: Path,
    timeout: float,
    result: dict[str, Any],
) -> None:
    """The student records what the microphone says; the teacher gets a player, then
    (live, in place) the text under it."""
    await student.get_by_test_id("btn-record").click()
    await student.get_by_test_id("recorder").wait_for(state="visible", timeout=timeout * 1000)
    await student.wait_for_timeout(round(seconds * 1000))
    result["rec_timer"] = await student.get_by_test_id("rec-timer").inner_text()
    await student.get_by_test_id("btn-rec-send").click()
    sent = time.monotonic()
    voice = teacher.get_by_test_id("voice-message")
    await voice.wait_for(state="visible", timeout=timeout * 1000)
    result["voice_playable"] = await wait_until(
        teacher, f'document.querySelector("{testid("voice-audio")}")?.readyState >= 1', timeout
    )
    result["voice_src"] = await voice.get_by_test_id("voice-audio").get_attribute("src")
    result["voice_first_state"] = await transcript_state(teacher)
    await teacher.locator("#messages").evaluate("(n) => { n.scrollTop = n.scrollHeight; }")
    await clear_toasts(teacher)
    if result["voice_first_state"] == "pending":
        await teacher.screenshot(path=str(out_dir / "voice-pending-1280.png"))
        await student.screenshot(path=str(out_dir / "voice-pending-student-1280.png"))
    # the text comes by `message_updated`: no reload, no notice, no badge
    await teacher.evaluate(
        "window.partaTest = { voice: document.querySelector(\"[data-testid='voice-message']\") }"
    )
    toasts_before = await teacher.locator("[data-testid^='toast-note-']").count()
    result["voice_transcript_state"] = None
    if await wait_until(
        teacher,
        f'["done", "failed"].includes('
        f'document.querySelector("{testid("voice-transcript")}")?.dataset.state)',
        TRANSCRIPT_TIMEOUT,
    ):
        result["voice_transcript_seconds"] = round(time.monotonic() - sent, 1)
    result["voice_transcript_state"] = await transcript_state(teacher)
    box = teacher.get_by_test_id("voice-transcript")
    result["voice_transcript_text"] = await box.inner_text()
    text = teacher.get_by_test_id("transcript-text")
    if await text.count():
        heard = await text.inner_text()
        result["voice_transcript_heard"] = heard
        result["voice_transcript_wer"] = round(word_error_rate(SPOKEN, heard), 3)
        result["voice_transcript_language"] = await teacher.get_by_test_id(
            "transcript-language"
        ).inner_text()
        result["voice_transcript_selectable"] = await text.evaluate(
            "(n) => getComputedStyle(n).userSelect !== 'none'"
        )
    result["voice_updated_in_place"] = await teacher.evaluate(
        "document.querySelector(\"[data-testid='voice-message']\") === window.partaTest.voice"
    )
    result["voice_update_toasts"] = (
        await teacher.locator("[data-testid^='toast-note-']").count() - toasts_before
    )
    result["student_transcript_state"] = await transcript_state(student)
    result["list_preview_says_it"] = await wait_until(
        teacher,
        f'document.querySelector("{testid("chat-item")} .chat-item-preview")'
        f"?.textContent.includes({SPOKEN.split()[0]!r})",
        timeout,
    )
    await teacher.locator("#messages").evaluate("(n) => { n.scrollTop = n.scrollHeight; }")
    await clear_toasts(teacher)
    await teacher.screenshot(path=str(out_dir / "chat-view-1280.png"))
    await teacher.screenshot(path=str(out_dir / "voice-transcript-1280.png"))


async def upload_with_a_break(
    teacher: Page, out_dir: Path, timeout: float, result: dict[str, Any]
) -> str:
    """A ~3 MB file whose first PATCH breaks: "Resume" asks HEAD and finishes it."""
    data = os.urandom(FILE_SIZE)
    path = out_dir / "worksheet.bin"
    path.write_bytes(data)
    broken: list[str] = []

    async def break_first_patch(route: Route) -> None:
        if route.request.method == "PATCH" and not broken:
            broken.append(route.request.url)
            await route.abort("connectionreset")
        else:
            await route.continue_()

    await teacher.route("**/api/uploads/*", break_first_patch)
    await teacher.get_by_test_id("file-input").set_input_files(str(path))
    row = teacher.get_by_test_id("upload-row")
    await wait_for_js(
        teacher,
        f"document.querySelector(\"{testid('upload-row')}\")?.dataset.state === 'failed'",
        timeout=timeout * 1000,
    )
    result["upload_failed_text"] = await row.get_by_test_id("upload-status").inner_text()
    await teacher.screenshot(path=str(out_dir / "upload-failed-1280.png"))
    await row.get_by_test_id("btn-resume").click()
    await row.wait_for(state="detached", timeout=timeout * 1000)
    await teacher.unroute("**/api/uploads/*")
    result["upload_broken_once"] = len(broken) == 1
    return hashlib.sha256(data).hexdigest()


async def run(out_dir: Path, timeout: float, result: dict[str, Any]) -> None:
    errors: list[str] = []
    result["page_errors"] = errors
    out_dir.mkdir(parents=True, exist_ok=True)
    microphone, seconds = microphone_wav(out_dir)
    async with parta_and_speaking_chromium(out_dir, microphone) as (_app, base, browser):
        desk = {"viewport": {"width": 1280, "height": 800}}
        teacher = await person(browser, base, "Olga Ivanova", errors=errors, **desk)
        student = await person(browser, base, "Pavel Smirnov", errors=errors, **desk)
        setup = await teacher_sets_up(teacher, base, out_dir, timeout, result)
        await student_joins(student, setup["invite"], setup["student"], out_dir, timeout, result)

        # live, both ways, without reloading
        result["teacher_sees_join"] = await wait_until(
            teacher,
            f'[...document.querySelectorAll("{testid("system-message")}")]'
            ".some((n) => n.textContent.includes('Pavel Smirnov joined'))",
            timeout,
        )
        await send(teacher, "Good morning, 7b!")
        result["student_sees_teacher"] = await see_message(student, "Good morning, 7b!", timeout)
        await send(student, "Good morning!")
        result["teacher_sees_student"] = await see_message(teacher, "Good morning!", timeout)
        result["teacher_sees_seen_mark"] = await wait_until(
            teacher, f'!!document.querySelector("{testid("msg-seen")}")', timeout
        )

        # a file, resumed after a broken connection, downloaded by the student intact
        digest = await upload_with_a_break(teacher, out_dir, timeout, result)
        card = student.get_by_test_id("file-card")
        await card.wait_for(state="visible", timeout=timeout * 1000)
        result["student_file_name"] = await card.get_by_test_id("file-name").inner_text()
        async with student.expect_download(timeout=timeout * 1000) as info:
            await card.get_by_test_id("file-download").click()
        download = await info.value
        saved = Path(await download.path())
        result["download_size"] = saved.stat().st_size
        result["download_sha_matches"] = hashlib.sha256(saved.read_bytes()).hexdigest() == digest
        # a pupil's files that would run as the app, opened by the teacher: none runs
        await run_hostile_files(student, teacher, base, out_dir, timeout, result)

        # the student records a voice message (real speech); the teacher gets a player,
        # then its text
        await voice_message_with_text(student, teacher, seconds, out_dir, timeout, result)

        # edit a message: the student sees the new text
        await teacher.get_by_test_id("message").filter(has_text="Good morning, 7b!").hover()
        await (
            teacher.get_by_test_id("message")
            .filter(has_text="Good morning, 7b!")
            .get_by_test_id("message-menu")
            .click()
        )
        await teacher.get_by_test_id("menu-edit").click()
        await teacher.get_by_test_id("composer-text").fill("Good morning, class 7b!")
        await teacher.get_by_test_id("composer-text").press("Enter")
        result["student_sees_edit"] = await see_message(student, "Good morning, class 7b!", timeout)

        # the student looks at the list: a new message is a toast and a badge
        await student.get_by_test_id("link-calls").wait_for(state="attached")
        await student.goto(f"{base}/chats")
        await wait_for_js(
            student,
            "document.getElementById('chats-app')?.dataset.live === 'online'",
            timeout=timeout * 1000,
        )
        await send(teacher, "Homework: page 42")
        toast = student.locator("[data-testid^='toast-note-']")
        await toast.wait_for(state="visible", timeout=timeout * 1000)
        result["toast_text"] = await toast.inner_text()
        result["badge"] = await wait_until(
            student,
            f"document.querySelector(\"{testid('unread-badge')}\")?.textContent === '1'",
            timeout,
        )
        await student.screenshot(path=str(out_dir / "chat-list-1280.png"))

        # folders, pins and mute, on the teacher's list
        await teacher.get_by_test_id("btn-folders").click()
        await teacher.get_by_test_id("input-new-folder").fill("Class 7b")
        await teacher.get_by_test_id("btn-add-folder").click()
        await teacher.get_by_test_id("folder-row").wait_for(timeout=timeout * 1000)
        await teacher.get_by_test_id("btn-dialog-close").click()
        item = teacher.get_by_test_id("chat-item").filter(has_text=CHAT)
        await item.get_by_test_id("chat-menu").click()
        await teacher.get_by_test_id("menu-folder").click()
        await item.get_by_test_id("chat-menu").click()
        await teacher.get_by_test_id("menu-pin").click()
        await wait_for_js(
            teacher,
            "window.partaChats.state.chats[0]?.pinned_order != null",
            timeout=timeout * 1000,
        )
        await item.get_by_test_id("chat-menu").click()
        await teacher.get_by_test_id("menu-mute-1h").click()
        await wait_for_js(
            teacher, "!!window.partaChats.state.chats[0]?.muted_until", timeout=timeout * 1000
        )
        await teacher.get_by_test_id("folder-tab").click()
        result["folder_shows_chat"] = await wait_until(
            teacher,
            f'[...document.querySelectorAll("{testid("chat-item-title")}")]'
            f".map((n) => n.textContent).join() === {CHAT!r}",
            timeout,
        )
        result["teacher_marks"] = await item.locator(".chat-mark").evaluate_all(
            "(nodes) => nodes.map((n) => n.title)"
        )
        await teacher.screenshot(path=str(out_dir / "chat-list-folder-1280.png"))

        # settings: the teacher's working hours
        await teacher.get_by_test_id("btn-settings").click()
        await teacher.get_by_test_id("hours-form").wait_for(timeout=timeout * 1000)
        await teacher.get_by_test_id("check-day-6").check()
        await teacher.get_by_test_id("input-hours-from").fill("08:30")
        await teacher.get_by_test_id("btn-save-hours").click()
        saved = teacher.get_by_test_id("toast-success").filter(has_text="Working hours saved")
        await saved.wait_for(timeout=timeout * 1000)
        result["hours_saved"] = True
        await teacher.screenshot(path=str(out_dir / "settings-1280.png"))
        await teacher.get_by_test_id("btn-dialog-close").click()

        # the school's page, as the student sees it
        await student.goto(f"{base}{result['school_url']}")
        page = student.get_by_test_id("school-page")
        await wait_for_js(
            student,
            "document.getElementById('pane-school')?.dataset.loaded === 'true'",
            timeout=timeout * 1000,
        )
        result["school_name"] = await page.get_by_test_id("school-name").inner_text()
        result["school_counts"] = {
            role: await page.locator(f"{testid('count-' + role)} strong").inner_text()
            for role in ("teacher", "student", "parent")
        }
        result["school_chats"] = await page.get_by_test_id("school-chats").inner_text()
        result["student_sees_codes"] = await page.get_by_test_id("school-codes").count()
        await student.screenshot(path=str(out_dir / "school-page-1280.png"), full_page=True)

        # the same on a phone
        await student.set_viewport_size({"width": 390, "height": 844})
        await student.goto(f"{base}/chats")
        await student.get_by_test_id("chat-item").first.wait_for(timeout=timeout * 1000)
        result["phone_overflow_list"] = await student.evaluate(OVERFLOW)
        await student.screenshot(path=str(out_dir / "phone-list-390.png"))
        await student.get_by_test_id("chat-link").first.click()
        await chat_loaded(student, timeout)
        result["phone_list_hidden_in_chat"] = not await student.locator("#sidebar").is_visible()
        result["phone_overflow_chat"] = await student.evaluate(OVERFLOW)
        await student.screenshot(path=str(out_dir / "phone-chat-390.png"))
        await student.get_by_test_id("voice-message").scroll_into_view_if_needed()
        await student.screenshot(path=str(out_dir / "phone-voice-transcript-390.png"))
        await student.get_by_test_id("btn-info").click()
        await student.get_by_test_id("invite-qr").wait_for(timeout=timeout * 1000)
        result["phone_overflow_info"] = await student.evaluate(OVERFLOW)
        await student.screenshot(path=str(out_dir / "phone-info-390.png"))
        await student.get_by_test_id("btn-info-close").click()
        await student.get_by_test_id("btn-back").click()
        result["phone_back_to_list"] = await student.get_by_test_id("chat-list").is_visible()
        await student.goto(f"{base}{result['school_url']}")
        await wait_for_js(
            student,
            "document.getElementById('pane-school')?.dataset.loaded === 'true'",
            timeout=timeout * 1000,
        )
        result["phone_overflow_school"] = await student.evaluate(OVERFLOW)
        await student.screenshot(path=str(out_dir / "phone-school-390.png"), full_page=True)


def main() -> None:
    driver_main(run, default_timeout=20)


if __name__ == "__main__":
    main()
