"""A lesson recorded from the web client, in headless Chromium: a teacher schedules a
lesson on behalf of a class chat, opens it as host, a student comes in by the lesson's
link; both send Chromium's fake camera and microphone. The teacher presses Record (the
student sees the REC badge), stops after some seconds; the recording lands in the chat
as a card, which the student plays in the page.

Run by tests/browser/test_recording_page.py inside a private network namespace (only
loopback exists there). Starts parta in-process, prints one JSON object, and leaves
screenshots of the call while it is recorded (teacher and student) and of the chat with
the recording playing. The MP4 the page downloads is also opened with PyAV here, to see
that it shows the call's pictures and carries its sound.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import av
import numpy as np
from playwright.async_api import Page

from tests.browser.chromium import wait_for_js
from tests.browser.driver import join_by_invite, wait_for_remote_media, wait_until
from tests.browser.people import person
from tests.browser.stage import driver_main, parta_and_chromium
from web import keys

SCHOOL = "Lyceum 7"
CHAT = "Physics 8c"
LESSON = "Physics lesson"
RECORD_SECONDS = 6.0


async def api(page: Page, method: str, path: str, body: Any = None) -> dict[str, Any]:
    """A JSON request from the page (the person's session cookie goes with it)."""
    answer: dict[str, Any] = await page.evaluate(
        """async ([method, path, body]) => {
            const init = {method, headers: {'Content-Type': 'application/json'}};
            if (body !== null) init.body = JSON.stringify(body);
            const response = await fetch(path, init);
            const text = await response.text();
            let json = null;
            try { json = JSON.parse(text); } catch (e) { json = text; }
            return {status: response.status, body: json};
        }""",
        [method, path, body],
    )
    if answer["status"] >= 300:
        raise RuntimeError(f"{method} {path} answered {answer}")
    body_out: dict[str, Any] = answer["body"]
    return body_out


async def school_and_chat(teacher: Page, student: Page) -> str:
    """The teacher makes a school and a class chat; the student joins both. The chat id."""
    org = await api(teacher, "POST", "/api/orgs", {"name": SCHOOL})
    codes = org["invite_codes"]
    await api(
        teacher, "POST", "/api/profiles", {"code": codes["teacher"], "full_name": "Olga Ivanova"}
    )
    chat = await api(
        teacher, "POST", "/api/chats", {"org_id": org["id"], "title": CHAT, "kind": "group"}
    )
    invite = await api(teacher, "GET", f"/api/chats/{chat['id']}/invite")
    await api(
        student,
        "POST",
        "/api/profiles",
        {"code": codes["student"], "full_name": "Pavel Smirnov", "class_name": "8c"},
    )
    await api(student, "POST", f"/api/invites/{invite['code']}/join")
    return str(chat["id"])


TILE_SIZES = (
    "[...document.querySelectorAll(\"#grid [data-testid^='tile-']\")]"
    ".map((n) => [Math.round(n.getBoundingClientRect().width),"
    " Math.round(n.getBoundingClientRect().height)])"
)


async def peer_id(page: Page, timeout: float) -> str:
    await wait_for_js(
        page,
        "!!window.parta?.state().connected && !!window.parta.state().peerId",
        timeout=timeout * 1000,
    )
    found: str = await page.evaluate("window.parta.state().peerId")
    return found


def green(image: np.ndarray) -> np.ndarray:
    """Where a picture is the green of Chromium's fake camera."""
    r, g, b = image[..., 0], image[..., 1], image[..., 2]
    found: np.ndarray = (g > 100) & (g > 2 * r) & (g > 2 * b)
    return found


def save_png(image: np.ndarray, path: Path) -> None:
    codec = av.CodecContext.create("png", "w")
    codec.width, codec.height, codec.pix_fmt = image.shape[1], image.shape[0], "rgb24"
    packets = codec.encode(av.VideoFrame.from_ndarray(image, format="rgb24"))
    path.write_bytes(b"".join(bytes(packet) for packet in packets))


def analyse(path: Path, picture: Path) -> dict[str, Any]:
    """What the MP4 holds: codecs, length, how much the pictures vary, the sound's level
    and its loudest frequency. Its middle picture goes to `picture`."""
    found: dict[str, Any] = {}
    with av.open(str(path)) as container:
        video, audio = container.streams.video[0], container.streams.audio[0]
        found["codecs"] = [video.codec_context.name, audio.codec_context.name]
        found["size"] = [video.codec_context.width, video.codec_context.height]
        found["duration"] = round(float(container.duration or 0) / av.time_base, 2)
        pictures = []
        for frame in container.decode(video):
            pictures.append(frame.to_ndarray(format="rgb24"))
        found["frames"] = len(pictures)
        save_png(pictures[len(pictures) // 2], picture)
        middle = pictures[len(pictures) // 2].astype(np.float64)
        found["middle_green"] = round(float(green(middle).mean()), 3)
        found["middle_mean"] = round(float(middle.mean()), 1)
        found["middle_std"] = round(float(middle.std()), 1)
        # the fake camera moves: pictures a second apart differ
        step = max(1, len(pictures) // 6)
        found["moving"] = round(
            float(
                np.mean(
                    [
                        np.abs(pictures[i].astype(np.int16) - pictures[i + step]).mean()
                        for i in range(0, len(pictures) - step, step)
                    ]
                )
            ),
            2,
        )
    with av.open(str(path)) as container:
        resampler = av.AudioResampler(format="s16", layout="mono", rate=48000)
        chunks = [
            r.to_ndarray().reshape(-1)
            for f in container.decode(container.streams.audio[0])
            for r in resampler.resample(f)
        ]
    samples = np.concatenate(chunks).astype(np.float64)
    found["audio_seconds"] = round(len(samples) / 48000, 2)
    found["audio_peak"] = int(np.abs(samples).max())
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    freqs = np.fft.rfftfreq(len(samples), 1 / 48000)
    spectrum[freqs < 50] = 0
    found["audio_tone_hz"] = round(float(freqs[int(spectrum.argmax())]))
    return found


async def run(out_dir: Path, timeout: float, result: dict[str, Any]) -> None:
    errors: list[str] = []
    result["page_errors"] = errors
    steps: dict[str, Any] = result.setdefault("steps", {})
    began = time.monotonic()
    marks: dict[str, float] = result.setdefault("marks", {})

    def mark(name: str) -> None:
        marks[name] = round(time.monotonic() - began, 1)

    async with parta_and_chromium(out_dir) as (app, base, browser):
        desk = {"viewport": {"width": 1280, "height": 720}}
        teacher = await person(browser, base, "Olga Ivanova", errors=errors, **desk)
        student = await person(browser, base, "Pavel Smirnov", errors=errors, **desk)
        chat_id = await school_and_chat(teacher, student)
        result["chat_id"] = chat_id
        lesson = await api(
            teacher,
            "POST",
            "/api/schedule",
            {
                "title": LESSON,
                "start": "2030-03-18T09:00",
                "time_zone": "Europe/Moscow",
                "duration": "45m",
                "waiting_room": False,
                "chat_id": chat_id,
            },
        )
        result["call"] = lesson["call"]
        mark("scheduled")

        # the organiser opens the host link; the student the lesson's link
        await teacher.goto(f"{lesson['host_link']}&name={quote('Olga Ivanova')}")
        teacher_id = await peer_id(teacher, timeout)
        steps["teacher_is_host"] = (await teacher.evaluate("window.parta.state().role")) == "host"
        steps["student_has_no_record_button"] = True  # checked below, once the student is in
        await join_by_invite(student, lesson["link"], "Pavel Smirnov", timeout)
        student_id = await peer_id(student, timeout)
        steps["student_has_no_record_button"] = not await student.get_by_test_id(
            "btn-record"
        ).is_visible()
        result["media"] = {
            "teacher_from_student": await wait_for_remote_media(teacher, student_id, timeout),
            "student_from_teacher": await wait_for_remote_media(student, teacher_id, timeout),
        }
        result["ids"] = {"teacher": teacher_id, "student": student_id}
        mark("media_flows")

        await teacher.screenshot(path=str(out_dir / "call-before-recording-teacher.png"))

        # Record: everyone sees the REC badge
        steps["no_badge_before"] = not await student.get_by_test_id(
            "recording-indicator"
        ).is_visible()
        await teacher.get_by_test_id("btn-record").click()
        started = time.monotonic()
        steps["teacher_state_recording"] = await wait_until(
            teacher, "window.parta.state().recording === true", timeout
        )
        steps["student_state_recording"] = await wait_until(
            student, "window.parta.state().recording === true", timeout
        )
        steps["student_rec_badge"] = await wait_until(
            student,
            "!!document.querySelector(\"[data-testid='recording-indicator']\")?.checkVisibility()",
            timeout,
        )
        steps["teacher_rec_badge"] = await teacher.get_by_test_id(
            "recording-indicator"
        ).is_visible()
        steps["record_button_pressed"] = (
            await teacher.get_by_test_id("btn-record").get_attribute("aria-pressed") == "true"
        )
        await asyncio.sleep(2)  # the toasts and the grid settle for the pictures
        await teacher.screenshot(path=str(out_dir / "call-recording-teacher.png"))
        await student.screenshot(path=str(out_dir / "call-recording-student.png"))
        # on screen, not asserted: how large the call's tiles were in those pictures
        result["tile_sizes"] = {
            "teacher": await teacher.evaluate(TILE_SIZES),
            "student": await student.evaluate(TILE_SIZES),
        }
        await asyncio.sleep(max(0.0, RECORD_SECONDS - (time.monotonic() - started)))

        # Stop: asked first
        await teacher.get_by_test_id("btn-record").click()
        dialog = teacher.get_by_test_id("confirm-dialog")
        await dialog.wait_for(state="visible", timeout=timeout * 1000)
        await teacher.get_by_test_id("btn-confirm").click()
        result["recorded_seconds"] = round(time.monotonic() - started, 2)
        mark("stopped")
        steps["student_badge_gone"] = await wait_until(
            student, "window.parta.state().recording === false", timeout
        )
        steps["student_badge_hidden"] = not await student.get_by_test_id(
            "recording-indicator"
        ).is_visible()

        # the student's chat: the recording's card, and it plays
        await student.goto(f"{base}/chats?chat={chat_id}")
        card = student.get_by_test_id("recording-card")
        waited = time.monotonic()
        await card.wait_for(state="visible", timeout=60_000)
        result["card_seconds_after_chat_open"] = round(time.monotonic() - waited, 1)
        mark("card_shown")
        result["card_title"] = await card.get_by_test_id("recording-title").inner_text()
        result["card_duration"] = await card.get_by_test_id("recording-duration").inner_text()
        result["card_size"] = await card.get_by_test_id("recording-size").inner_text()
        result["card_has_thumbnail"] = await card.get_by_test_id("recording-thumbnail").count() == 1
        download = await card.get_by_test_id("recording-download").get_attribute("href")
        result["download_href"] = download
        await card.get_by_test_id("recording-play").click()
        video = "document.querySelector(\"[data-testid='recording-video']\")"
        steps["video_loaded"] = await wait_until(student, f"{video}?.readyState >= 2", timeout)
        result["video"] = await student.evaluate(
            f"() => {{ const v = {video}; return {{duration: v.duration,"
            " width: v.videoWidth, height: v.videoHeight, src: v.getAttribute('src'),"
            " error: v.error && v.error.code}; }"
        )
        first = await student.evaluate(f"{video}.currentTime")
        steps["video_advances"] = await wait_until(
            student, f"{video}.currentTime > {first} + 1 && !{video}.paused", timeout
        )
        result["video_time"] = await student.evaluate(f"{video}.currentTime")
        mark("played")
        # what the player shows: the picture drawn on a canvas is not blank
        result["video_picture"] = await student.evaluate(
            f"""() => {{
                const v = {video};
                const c = document.createElement('canvas');
                c.width = 64; c.height = 36;
                const g = c.getContext('2d');
                g.drawImage(v, 0, 0, 64, 36);
                const d = g.getImageData(0, 0, 64, 36).data;
                let sum = 0, sq = 0, n = 0, green = 0;
                for (let i = 0; i < d.length; i += 4) {{
                    const y = (d[i] + d[i + 1] + d[i + 2]) / 3;
                    sum += y; sq += y * y; n++;
                    if (d[i + 1] > 100 && d[i + 1] > 2 * d[i] && d[i + 1] > 2 * d[i + 2]) green++;
                }}
                const mean = sum / n;
                return {{mean, std: Math.sqrt(sq / n - mean * mean), green: green / n}};
            }}"""
        )
        await student.screenshot(path=str(out_dir / "chat-recording-playing.png"))

        # the file's bytes, fetched from the page, are the recording the server kept
        fetched = await student.evaluate(
            """async (url) => {
                const response = await fetch(url);
                const data = await response.arrayBuffer();
                const digest = await crypto.subtle.digest('SHA-256', data);
                const hex = [...new Uint8Array(digest)]
                    .map((b) => b.toString(16).padStart(2, '0')).join('');
                return {status: response.status, type: response.headers.get('Content-Type'),
                        size: data.byteLength, sha256: hex};
            }""",
            download,
        )
        result["fetched"] = fetched
        files = sorted(app[keys.RECORDINGS].directory.glob("*.mp4"))
        result["recordings_on_disk"] = len(files)
        if files:
            kept = files[-1]
            digest = hashlib.sha256(kept.read_bytes()).hexdigest()
            result["same_bytes"] = digest == fetched["sha256"]
            mark("fetched")
            result["analysis"] = await asyncio.to_thread(
                analyse, kept, out_dir / "recording-middle-frame.png"
            )
            mark("analysed")


def main() -> None:
    driver_main(run, default_timeout=20)


if __name__ == "__main__":
    main()
