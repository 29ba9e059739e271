"""A recorder process killed with SIGKILL in the middle of a lesson leaves a file that
opens and plays up to near the kill, and the call goes on."""

from __future__ import annotations

import asyncio
import io
import os
import signal
from pathlib import Path

import aiohttp
import av

from signalling import keys
from tests.recorder.test_recording import COLOURS, TONES, ColourVideoTrack, colours_in
from tests.signalling.conftest import start_server
from tests.support.client import CallClient
from tests.support.media import ToneAudioTrack


async def test_a_killed_recorder_leaves_a_playable_file(tmp_path: Path) -> None:
    server = await start_server(tmp_path / "data")
    base = str(server.make_url("/"))
    try:
        async with aiohttp.ClientSession() as http:
            teacher = CallClient(http, base, "crash-lesson", "teacher")
            await teacher.join()
            await teacher.publish(
                [
                    (ColourVideoTrack(COLOURS["teacher"]), "camera"),
                    (ToneAudioTrack(TONES["teacher"]), "microphone"),
                ]
            )
            await asyncio.sleep(1)
            await teacher.request({"type": "start_recording"}, "recording")
            active = server.app[keys.RECORDINGS].active["crash-lesson"]
            process = active.recording.process
            assert process is not None
            await asyncio.sleep(4)
            os.kill(process.pid, signal.SIGKILL)
            await asyncio.sleep(0.5)
            path = active.recording.path
            data = path.read_bytes()
            with av.open(io.BytesIO(data)) as container:
                frames = [
                    f.to_ndarray(format="rgb24")
                    for f in container.decode(container.streams.video[0])
                ]
            with av.open(io.BytesIO(data)) as container:
                audio = sum(f.samples for f in container.decode(container.streams.audio[0]))
            # up to near the kill: fragments are cut at keyframes, at most 2 s apart
            assert len(frames) / 15 > 2.0 and audio / 48000 > 2.0
            assert "teacher" in colours_in(frames[-1])
            # the call goes on; stopping reports the dead recorder and keeps its file
            stopped = await teacher.request({"type": "stop_recording"}, "recording")
            assert stopped["on"] is False
            assert path.exists() and path.stat().st_size == len(data)
            await teacher.request({"type": "ping"}, "pong")
            await teacher.close()
    finally:
        await server.close()
