"""A recorder that falls behind: the call's side drops what the recorder cannot take and
never waits for it; the others in the call notice nothing."""

from __future__ import annotations

import asyncio
import stat
import sys
from pathlib import Path

import aiohttp

from tests.recorder.test_recording import COLOURS, TONES, ColourVideoTrack
from tests.support.client import CallClient
from tests.support.media import ToneAudioTrack
from tests.support.server import start_server
from web import keys


async def test_a_stalled_recorder_drops_and_the_call_goes_on(tmp_path: Path) -> None:
    # a recorder process that takes nothing for 20 s: as one stuck on a slow disk
    slow = tmp_path / "slow-python"
    slow.write_text(f'#!/bin/sh\nsleep 20\nexec "{sys.executable}" "$@"\n')
    slow.chmod(slow.stat().st_mode | stat.S_IEXEC)
    server = await start_server(tmp_path / "data")
    recordings = server.app[keys.RECORDINGS]
    recordings.python, recordings.pipe_limit = str(slow), 4 * 1024
    base = str(server.make_url("/"))
    try:
        async with aiohttp.ClientSession() as http:
            teacher = CallClient(http, base, "stalled", "teacher")
            await teacher.join()
            await teacher.publish(
                [
                    (ColourVideoTrack(COLOURS["teacher"]), "camera"),
                    (ToneAudioTrack(TONES["teacher"]), "microphone"),
                ]
            )
            student = CallClient(http, base, "stalled", "student")
            await student.join()
            await teacher.request({"type": "start_recording"}, "recording")
            recording = recordings.active["stalled"].recording
            # the kernel's pipe buffer (64 KiB) fills first: a few seconds of a plain picture
            await asyncio.sleep(4)
            before = {k: r.frames for k, r in student.recorders.items()}
            await asyncio.sleep(4)
            # the student keeps receiving at full rate while the recorder is stuck
            gained = {k: r.frames - before.get(k, 0) for k, r in student.recorders.items()}
            video = next(v for (_, source), v in gained.items() if source == "camera")
            assert video > 90, gained  # 30 fps for 4 s, give or take
            assert recording.dropped > 0  # what the recorder could not take was dropped
            assert recording._backlog() <= 4 * 1024 + 2048  # bounded: never piled up
            await teacher.request({"type": "ping"}, "pong")
            for client in (teacher, student):
                await client.close()
    finally:
        # the stuck recorder is not waited for
        for active in recordings.active.values():
            process = active.recording.process
            if process is not None and process.returncode is None:
                process.kill()
                await process.wait()
        recordings.active.clear()
        await server.close()
