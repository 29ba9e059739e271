"""A lesson recorded end to end: three real aiortc participants with their own colours and
tones, one joining late and one leaving early; the MP4 that lands in the class chat
opens with PyAV, lasts as long as the recording, and shows and sounds like the call."""

from __future__ import annotations

import asyncio
import fractions
import io
import time
from pathlib import Path
from typing import Any

import aiohttp
import av
import numpy as np
from aiortc import MediaStreamTrack

from tests.chat.school import events, lesson_for, make_school
from tests.chat.test_downloads import user_content
from tests.chat.test_http import class_chat
from tests.support.accounts import bearer
from tests.support.client import CallClient
from tests.support.media import FPS, SAMPLE_RATE, VIDEO_CLOCK, ToneAudioTrack
from tests.support.server import start_server
from web import keys

COLOURS = {"teacher": (220, 40, 40), "ann": (40, 200, 40), "bob": (40, 60, 230)}
TONES = {"teacher": 440.0, "ann": 660.0, "bob": 990.0}
SCREEN = (40, 220, 220)  # a shared screen's colour: cyan


class ColourVideoTrack(MediaStreamTrack):
    """A camera that shows one solid colour: easy to find in a composed picture."""

    kind = "video"

    def __init__(self, colour: tuple[int, int, int]) -> None:
        super().__init__()
        self.image = np.zeros((240, 320, 3), dtype=np.uint8)
        self.image[:, :] = colour
        self.index = 0
        self._start: float | None = None

    async def recv(self) -> av.VideoFrame:
        if self._start is None:
            self._start = time.monotonic()
        delay = self._start + self.index / FPS - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        frame = av.VideoFrame.from_ndarray(self.image, format="rgb24")
        frame.pts = int(self.index * VIDEO_CLOCK / FPS)
        frame.time_base = fractions.Fraction(1, VIDEO_CLOCK)
        self.index += 1
        return frame


def colours_in(image: np.ndarray) -> set[str]:
    """Whose colours cover a good part of the picture."""
    found = set()
    for who, colour in COLOURS.items():
        close = np.all(np.abs(image.astype(np.int16) - colour) < 40, axis=2)
        if close.mean() > 0.02:
            found.add(who)
    return found


def tones_in(samples: np.ndarray) -> set[str]:
    """Whose tones stand out in the spectrum of a stretch of audio."""
    spectrum = np.abs(np.fft.rfft(samples.astype(np.float64) * np.hanning(len(samples))))
    freqs = np.fft.rfftfreq(len(samples), 1 / SAMPLE_RATE)
    peaks = {
        who: float(spectrum[(freqs > tone - 15) & (freqs < tone + 15)].max())
        for who, tone in TONES.items()
    }
    # a tone that is there stands some 10^6 above the noise floor; an absent one's band
    # holds only the codec's noise, below a hundredth of the loudest tone
    return {who for who, peak in peaks.items() if peak > 0.01 * max(peaks.values())}


def analyse(data: bytes) -> tuple[float, list[tuple[float, set[str]]], np.ndarray]:
    with av.open(io.BytesIO(data)) as container:
        video = container.streams.video[0]
        audio = container.streams.audio[0]
        assert video.codec_context.name == "h264" and audio.codec_context.name == "aac"
        duration = float(container.duration or 0) / av.time_base
        seen = []
        for frame in container.decode(video):
            if frame.time is not None and int(frame.time * 2) != int((frame.time - 1 / 15) * 2):
                seen.append((frame.time, colours_in(frame.to_ndarray(format="rgb24"))))
    with av.open(io.BytesIO(data)) as container:
        resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
        chunks = [
            r.to_ndarray().reshape(-1)
            for f in container.decode(container.streams.audio[0])
            for r in resampler.resample(f)
        ]
    return duration, seen, np.concatenate(chunks)


async def test_a_lesson_is_recorded_into_its_chat(tmp_path: Path) -> None:
    server = await start_server(tmp_path / "data")
    base = str(server.make_url("/"))
    try:
        async with aiohttp.ClientSession() as http:
            school = await make_school(http, base, students=2)
            chat = await class_chat(school)
            call, host_key, link = await lesson_for(school, chat, "Physics 8c")
            people: dict[str, CallClient] = {}

            async def arrive(who: str, token: str, **join: Any) -> CallClient:
                client = CallClient(http, base, call, who)
                client.session_token = token
                await client.join(**join)
                await client.publish(
                    [
                        (ColourVideoTrack(COLOURS[who]), "camera"),
                        (ToneAudioTrack(TONES[who]), "microphone"),
                    ]
                )
                people[who] = client
                return client

            ann_token, bob_token = (s.token for s in school.students)
            teacher = await arrive("teacher", school.teacher.token, host_token=host_key, link=None)
            await arrive("ann", ann_token, link=link)
            await asyncio.sleep(1.5)  # media flowing
            chat_live = await events(school, school.students[0])
            told = people["ann"].expect("recording")
            # the moments are taken from the clock, not assumed from the sleeps: on a busy
            # machine a late arrival's join and publish take a while of their own
            asked = time.monotonic()
            started = await teacher.request({"type": "start_recording"}, "recording")
            began = (asked + time.monotonic()) / 2
            assert started["on"] is True and (await asyncio.wait_for(told, 5))["on"] is True
            await asyncio.sleep(3)
            bob_asked = time.monotonic() - began
            await arrive("bob", bob_token, link=link)  # joins late: sees "recording" at once
            bob_in = time.monotonic() - began
            assert people["bob"].joined and people["bob"].joined["recording"] is True
            await asyncio.sleep(3)
            ann_asked = time.monotonic() - began
            await people.pop("ann").close()  # leaves early
            ann_out = time.monotonic() - began
            await asyncio.sleep(3)
            asked = time.monotonic()
            stopped = await teacher.request({"type": "stop_recording"}, "recording")
            ended = (asked + time.monotonic()) / 2 - began
            assert stopped["on"] is False

            # the recording lands in the chat as a message, and under the call
            landed = await chat_live.wait_for("message", timeout=60)
            while not any(e["message"]["kind"] == "recording" for e in landed):
                await asyncio.sleep(0.2)
                landed = chat_live.of("message")
            message = next(e["message"] for e in landed if e["message"]["kind"] == "recording")
            assert message["meta"]["title"] == "Physics 8c" and message["meta"]["thumbnail"]
            status, listed = await school.call(
                school.students[0], "GET", f"api/calls/{call}/recordings"
            )
            assert status == 200 and len(listed["recordings"]) == 1
            recording = listed["recordings"][0]
            assert (await school.call(school.stranger, "GET", f"api/calls/{call}/recordings"))[
                1
            ] == {"recordings": []}
            assert message["meta"]["file"]["content_type"] == "video/mp4"
            async with http.get(
                f"{base}{message['meta']['file']['url'].lstrip('/')}?inline=1",
                headers=bearer(school.students[1].token),
            ) as response:
                assert response.status == 200 and user_content(response)
                assert response.headers["Content-Type"] == "video/mp4"
                assert response.headers["Content-Disposition"].startswith("inline;")
                data = await response.read()
            async with http.get(
                f"{base}{recording['url'].lstrip('/')}",
                headers={**bearer(school.teacher.token), "Range": "bytes=0-99"},
            ) as response:
                assert response.status == 206 and await response.read() == data[:100]
                assert user_content(response)
                assert response.headers["Content-Disposition"].startswith("attachment;")
            for headers in (bearer(school.stranger.token), {}):
                async with http.head(f"{base}{recording['url'].lstrip('/')}", headers=headers) as r:
                    assert r.status in (401, 404) and user_content(r)

            duration, seen, samples = analyse(data)
            assert abs(duration - ended) < 0.5, (duration, ended)
            assert abs(message["meta"]["duration"] - duration) < 0.5

            # who is seen and heard while they were in the call
            def during(start: float, stop: float) -> set[str]:
                found: set[str] = set()
                for at, colours in seen:
                    if start <= at < stop:
                        found |= colours
                return found

            # each window keeps clear of a change by half a second, and of bob's first
            # picture, which needs a key frame, by one and a half
            alone, together, after = (
                (0.5, bob_asked - 0.5),
                (bob_in + 1.5, ann_asked - 0.5),
                (
                    ann_out + 1.0,
                    ended - 0.5,
                ),
            )
            assert during(*alone) == {"teacher", "ann"}
            assert during(*together) == {"teacher", "ann", "bob"}
            assert during(*after) == {"teacher", "bob"}

            def heard(start: float, stop: float) -> set[str]:
                return tones_in(samples[int(start * SAMPLE_RATE) : int(stop * SAMPLE_RATE)])

            assert heard(*alone) == {"teacher", "ann"}
            assert heard(bob_in + 1.0, ann_asked - 0.5) == {"teacher", "ann", "bob"}
            assert heard(*after) == {"teacher", "bob"}
            for client in people.values():
                await client.close()
            await chat_live.close()
    finally:
        await server.close()


async def test_a_shared_screen_and_a_host_mute_show_in_the_recording(tmp_path: Path) -> None:
    server = await start_server(tmp_path / "data")
    base = str(server.make_url("/"))
    try:
        async with aiohttp.ClientSession() as http:
            teacher = CallClient(http, base, "screen-lesson", "teacher")
            await teacher.join()
            await teacher.publish(
                [
                    (ColourVideoTrack(COLOURS["teacher"]), "camera"),
                    (ToneAudioTrack(TONES["teacher"]), "microphone"),
                ]
            )
            student = CallClient(http, base, "screen-lesson", "ann")
            await student.join()
            await student.publish(
                [
                    (ColourVideoTrack(COLOURS["ann"]), "camera"),
                    (ToneAudioTrack(TONES["ann"]), "microphone"),
                ]
            )
            await asyncio.sleep(1.5)
            await teacher.request({"type": "start_recording"}, "recording")
            await asyncio.sleep(3)
            await student.publish([(ColourVideoTrack(SCREEN), "screen")])  # shares a screen
            await asyncio.sleep(3)
            await teacher.send(
                {"type": "mute_participant", "peer_id": student.peer_id, "source": "microphone"}
            )
            await asyncio.sleep(3)
            await teacher.request({"type": "stop_recording"}, "recording")
            for _ in range(100):
                listed = server.app[keys.RECORDING_STORE]
                found = await listed.of_call("screen-lesson")
                if found:
                    break
                await asyncio.sleep(0.2)
            path = server.app[keys.RECORDINGS].directory / found[0].filename
            with av.open(str(path)) as container:
                pictures = [
                    (f.time, f.to_ndarray(format="rgb24"))
                    for f in container.decode(container.streams.video[0])
                    if f.time is not None and abs(f.time * 2 - round(f.time * 2)) < 0.04
                ]
            _, _, samples = analyse(path.read_bytes())

            def screen_share(start: float, stop: float) -> float:
                close = [
                    float(np.all(np.abs(image.astype(np.int16) - SCREEN) < 40, axis=2).mean())
                    for at, image in pictures
                    if start <= at < stop
                ]
                return min(close) if close else 0.0

            assert screen_share(0.5, 2.5) < 0.005
            assert screen_share(4.5, 5.5) > 0.3  # shown large
            heard = tones_in(samples[int(1 * SAMPLE_RATE) : int(2.5 * SAMPLE_RATE)])
            assert heard == {"teacher", "ann"}
            muted = tones_in(samples[int(7 * SAMPLE_RATE) : int(8.5 * SAMPLE_RATE)])
            assert muted == {"teacher"}  # the host muted ann: nobody hears her, nor does it
            for client in (teacher, student):
                await client.close()
    finally:
        await server.close()
