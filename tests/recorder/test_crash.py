"""A recorder process killed with SIGKILL in the middle of a lesson leaves a file that
opens and plays up to near the kill, and the call goes on; a frame a publisher sent
broken is skipped and counted, and the recording goes on."""

from __future__ import annotations

import asyncio
import io
import os
import signal
import struct
import time
from pathlib import Path

import aiohttp
import av

from tests.recorder.test_recording import COLOURS, TONES, ColourVideoTrack, colours_in
from tests.support.client import CallClient
from tests.support.media import ToneAudioTrack
from tests.support.server import start_server
from web import keys


async def recording_teacher(http: aiohttp.ClientSession, base: str, call: str) -> CallClient:
    """A teacher in `call` with camera and microphone, who starts recording it."""
    teacher = CallClient(http, base, call, "teacher")
    await teacher.join()
    await teacher.publish(
        [
            (ColourVideoTrack(COLOURS["teacher"]), "camera"),
            (ToneAudioTrack(TONES["teacher"]), "microphone"),
        ]
    )
    await asyncio.sleep(1)
    await teacher.request({"type": "start_recording"}, "recording")
    return teacher


async def test_a_killed_recorder_leaves_a_playable_file(tmp_path: Path) -> None:
    server = await start_server(tmp_path / "data")
    base = str(server.make_url("/"))
    try:
        async with aiohttp.ClientSession() as http:
            teacher = await recording_teacher(http, base, "crash-lesson")
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


async def test_a_broken_frame_from_a_publisher_is_skipped_and_counted(tmp_path: Path) -> None:
    """A VP8 keyframe that arrives as garbage (as from a broken encoder) fails to decode in
    the recorder: it is skipped, the recording goes on and plays, and /metrics counts it."""
    server = await start_server(tmp_path / "data")
    base = str(server.make_url("/"))
    try:
        async with aiohttp.ClientSession() as http:
            teacher = await recording_teacher(http, base, "broken-lesson")
            await asyncio.sleep(2)
            room = server.app[keys.CALLS].rooms["broken-lesson"]
            [camera] = [p for p in room.router.producers.values() if p.kind == "video"]
            # RTP: marker and payload type 96, the publisher's next sequence number, a VP8
            # descriptor starting a frame, then a "keyframe" of garbage
            seq = (camera._max_seq + 1) & 0xFFFF
            head = struct.pack("!BBHII", 0x80, 0x80 | 96, seq, 123456, camera.ssrc)
            camera.on_rtp(head + b"\x10" + bytes(range(200)), len(head), None)
            await asyncio.sleep(2)
            stopped = await teacher.request({"type": "stop_recording"}, "recording")
            assert stopped["on"] is False

            async def counted() -> str:  # once the recorder has finished the file
                async with http.get(f"{base}metrics") as response:
                    lines = (await response.text()).splitlines()
                return next(
                    line for line in lines if line.startswith("parta_media_decode_errors_total")
                )

            deadline = time.monotonic() + 30
            while (line := await counted()).endswith(" 0.0"):
                assert time.monotonic() < deadline, line
                await asyncio.sleep(0.2)
            name, value = line.rsplit(" ", 1)
            # the broken frame; perhaps also the publisher's own packet it stood in for
            assert name == 'parta_media_decode_errors_total{what="recording"}'
            assert float(value) >= 1.0
            [path] = (tmp_path / "data" / "recordings").glob("broken-lesson-*.mp4")
            with av.open(str(path)) as container:
                seconds = sum(1 for _ in container.decode(container.streams.video[0])) / 15
            assert seconds > 3.5  # before and after the broken frame
            await teacher.request({"type": "ping"}, "pong")
            await teacher.close()
    finally:
        await server.close()
