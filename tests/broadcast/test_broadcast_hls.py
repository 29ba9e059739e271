"""A broadcast's HTTP Live Streaming output, through parta and through Debian's nginx
with the shipped configuration (deploy/nginx/parta.conf): the playlists parse, the
segments decode, the picture is the speaker's camera and the sound holds everyone's
tone; a blocking playlist reload waits for the part it asks for; nginx serves the files
as they are on disk. And who may watch: a broadcast for a school's members refuses
everyone else, and a replaced watch link lets nobody new in."""

from __future__ import annotations

import asyncio
import io
import subprocess
import time
from pathlib import Path
from typing import Any

import aiohttp
import av
import numpy as np

from harness.nginx import nginx_start
from tests.broadcast.test_broadcast import watch
from tests.calls.test_call import wait_for
from tests.chat.school import make_school
from tests.recorder.test_hls import msn, parse
from tests.recorder.test_recording import ColourVideoTrack
from tests.support.accounts import bearer
from tests.support.client import CallClient, loopback_pc
from tests.support.media import ToneAudioTrack
from tests.support.nginx import needs_nginx
from tests.support.server import start_server
from web import keys

COLOURS = {1: (220, 40, 40), 2: (40, 200, 40)}


def colour_of(image: np.ndarray) -> int | None:
    """Whose colour covers most of the picture."""
    for who, colour in COLOURS.items():
        close = np.all(np.abs(image.astype(np.int16) - colour) < 45, axis=2)
        if close.mean() > 0.5:
            return who
    return None


async def on_air(http: aiohttp.ClientSession, base: str, call: str) -> tuple[list[CallClient], str]:
    """Two people in a call, the first speaking loudly; the host token of the first."""
    clients = []
    for n in (1, 2):
        client = CallClient(http, base, call, f"speaker {n}")
        await client.join()
        await client.publish(
            [
                (ColourVideoTrack(COLOURS[n]), "camera"),
                (ToneAudioTrack(440.0 if n == 1 else 660.0, 0.5 if n == 1 else 0.1), "microphone"),
            ]
        )
        clients.append(client)
    assert clients[0].joined is not None
    return clients, clients[0].joined["host_token"]


def decode(init: bytes, segment: bytes) -> tuple[list[int | None], np.ndarray, int]:
    """Whose colour each frame shows, and the sound, of one segment."""
    with av.open(io.BytesIO(init + segment)) as container:
        video = container.streams.video[0]
        assert video.codec_context.name == "h264"
        seen = [colour_of(f.to_ndarray(format="rgb24")) for f in container.decode(video)]
    with av.open(io.BytesIO(init + segment)) as container:
        audio = container.streams.audio[0]
        assert audio.codec_context.name == "aac"
        resampler = av.AudioResampler(format="s16", layout="mono", rate=48000)
        chunks = [
            r.to_ndarray().reshape(-1)
            for f in container.decode(audio)
            for r in resampler.resample(f)
        ]
    return seen, np.concatenate(chunks), 48000


@needs_nginx
async def test_hls_through_parta_and_nginx(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    server = await start_server(data_dir)
    base = str(server.make_url("/"))
    clients: list[CallClient] = []
    proxy: subprocess.Popen[bytes] | None = None
    try:
        async with aiohttp.ClientSession() as http:
            clients, host_token = await on_air(http, base, "concert")
            headers = {"X-Parta-Host-Token": host_token, **bearer(clients[0].session_token or "")}
            async with http.post(
                f"{base}api/calls/concert/broadcast", json={"public": True}, headers=headers
            ) as response:
                assert response.status == 201, await response.text()
                watch_link = (await response.json())["watch_link"]
            token = watch_link.rsplit("/", 1)[1]
            async with http.get(f"{base}api/watch/{token}") as response:  # no account
                assert response.status == 200
                info = await response.json()
            assert info["live"] and info["public"] and info["hls"].startswith("/hls/public/")
            live_url = f"{base}{info['hls'].lstrip('/')}"
            broadcast = server.app[keys.BROADCASTS].by_token[token]
            await wait_for(lambda: broadcast.latest[0] >= 5, 30)

            async with http.get(live_url) as response:
                assert response.status == 200
                assert response.headers["Content-Type"] == "application/vnd.apple.mpegurl"
                playlist = parse(await response.text())
            assert "CAN-BLOCK-RELOAD=YES" in playlist.tags["#EXT-X-SERVER-CONTROL"]
            assert playlist.tags["#EXT-X-MAP"] == 'URI="init.mp4"'
            numbers = [msn(s.uri) for s in playlist.segments]
            first = int(playlist.tags["#EXT-X-MEDIA-SEQUENCE"])
            assert numbers == list(range(first, first + len(numbers)))
            for segment in playlist.segments:
                assert 0.9 < segment.duration < 1.1

            # a blocking reload for the part after the newest comes back when it exists
            newest = playlist.open_parts or playlist.segments[-1].parts
            last_msn = numbers[-1] + (1 if playlist.open_parts else 0)
            wanted = (last_msn, len(newest))
            asked = time.monotonic()
            async with http.get(
                live_url, params={"_HLS_msn": str(wanted[0]), "_HLS_part": str(wanted[1])}
            ) as response:
                assert response.status == 200
                held = time.monotonic() - asked
                reloaded = parse(await response.text())
            uris = [p["URI"] for s in reloaded.segments for p in s.parts]
            uris += [p["URI"] for p in reloaded.open_parts]
            assert f"s{wanted[0]}.{wanted[1]}.m4s" in uris or any(
                msn(s.uri) == wanted[0] for s in reloaded.segments
            )
            print(f"blocking reload held {held:.3f} s")
            async with http.get(live_url, params={"_HLS_msn": "999999"}) as response:
                assert response.status == 400

            # the segments: the speaker's camera, and both tones
            async with http.get(f"{base}{info['hls'].rsplit('/', 1)[0].lstrip('/')}/init.mp4") as r:
                assert r.status == 200 and "immutable" in r.headers["Cache-Control"]
                init = await r.read()
            prefix = info["hls"].rsplit("/", 1)[0].lstrip("/")
            for segment in reloaded.segments[-3:]:
                async with http.get(f"{base}{prefix}/{segment.uri}") as response:
                    assert response.status == 200
                    data = await response.read()
                seen, samples, rate = decode(init, data)
                assert len(seen) >= 13 and seen.count(1) >= len(seen) - 1, seen
                assert tones_heard_two(samples, rate) == {440, 660}

            # the same files through nginx, byte for byte, with their cache headers
            proxy, port = nginx_start(tmp_path, data_dir, server.port or 0)
            front = f"http://127.0.0.1:{port}/"
            directory = broadcast.directory
            for name in [
                "init.mp4",
                reloaded.segments[-1].uri,
                reloaded.segments[-1].parts[0]["URI"],
            ]:
                async with http.get(f"{front}{prefix}/{name}") as response:
                    assert response.status == 200, name
                    assert await response.read() == (directory / name).read_bytes()
                    assert response.headers["Cache-Control"] == "public, max-age=86400, immutable"
            async with http.get(f"{front}{prefix}/index.m3u8") as response:
                assert response.status == 200
                assert parse(await response.text()).segments
            for _ in range(2):  # the LL playlist goes to parta; the second ask is cached
                async with http.get(
                    f"{front}{prefix}/live.m3u8",
                    params={"_HLS_msn": str(wanted[0]), "_HLS_part": str(wanted[1])},
                ) as response:
                    assert response.status == 200
                    status = response.headers.get("X-Cache-Status")
            assert status == "HIT"
            async with http.get(f"{front}api/watch/{token}") as response:  # the rest: parta
                assert response.status == 200

            # the end: both playlists say so
            async with http.delete(f"{base}api/calls/concert/broadcast", headers=headers) as r:
                assert r.status == 200
            for name in ("live.m3u8", "index.m3u8"):
                assert (directory / name).read_text().rstrip().endswith("#EXT-X-ENDLIST")
            async with http.get(f"{base}api/watch/{token}") as response:
                assert response.status == 404
            metrics = await (await http.get(f"{base}metrics")).text()
            for name in (
                'parta_broadcast_viewers{tier="hls"}',
                'parta_broadcast_bytes_served_total{tier="hls"}',
                "parta_broadcast_segment_encode_seconds_count",
                "parta_broadcast_playlist_age_seconds",
            ):
                assert name in metrics, name
    finally:
        if proxy is not None:
            proxy.terminate()
            proxy.wait(10)
        for client in clients:
            await client.close()
        await server.close()


def tones_heard_two(samples: np.ndarray, rate: int) -> set[int]:
    spectrum = np.abs(np.fft.rfft(samples.astype(np.float64) * np.hanning(len(samples))))
    freqs = np.fft.rfftfreq(len(samples), 1 / rate)
    peaks = {f: float(spectrum[(freqs > f - 15) & (freqs < f + 15)].max()) for f in (440, 660)}
    return {f for f, peak in peaks.items() if peak > 0.02 * max(peaks.values())}


async def test_who_may_watch(tmp_path: Path) -> None:
    server = await start_server(tmp_path / "data")
    base = str(server.make_url("/"))
    clients: list[CallClient] = []
    try:
        async with aiohttp.ClientSession() as http:
            school = await make_school(http, base, students=1)
            teacher = CallClient(http, base, "assembly", "Irina Teacher")
            teacher.session_token = school.teacher.token
            await teacher.join()
            await teacher.publish([(ColourVideoTrack(COLOURS[1]), "camera")])
            clients.append(teacher)
            link = teacher.expect("broadcast_link")
            await teacher.send({"type": "start_broadcast", "public": False})
            watch_link = (await asyncio.wait_for(link, 10))["watch_link"]
            token = watch_link.rsplit("/", 1)[1]

            async def status(path: str, who: str | None, **extra: Any) -> int:
                headers = bearer(who) if who else {}
                async with http.get(
                    f"{base}{path.lstrip('/')}", headers=headers, allow_redirects=False, **extra
                ) as response:
                    return response.status

            # members watch; an outsider, a teacher of another school and nobody do not
            assert await status(f"api/watch/{token}", school.students[0].token) == 200
            assert await status(f"api/watch/{token}", school.parent.token) == 200
            assert await status(f"api/watch/{token}", school.outsider.token) == 404
            assert await status(f"api/watch/{token}", school.stranger.token) == 404
            assert await status(f"api/watch/{token}", None) == 401
            assert await status(watch_link, None) == 302  # to log in first
            assert await status(watch_link, school.stranger.token) == 404
            assert await status(watch_link, school.students[0].token) == 200
            async with http.get(
                f"{base}api/watch/{token}", headers=bearer(school.parent.token)
            ) as r:
                hls = (await r.json())["hls"]
            assert hls.startswith("/hls/members/")
            assert await status(hls, school.stranger.token) == 404
            for who in (school.stranger.token, school.outsider.token):
                assert await offer_status(http, base, watch_link, bearer(who)) == 404
            assert await offer_status(http, base, watch_link, {}) == 401
            pc, _, recorders = await watch(http, base, watch_link, bearer(school.parent.token))
            await wait_for(lambda: "video" in recorders and recorders["video"].frames > 5, 15)

            # a new link: the old one lets nobody new in, the one watching goes on
            renewed = teacher.expect("broadcast_link")
            await teacher.send({"type": "new_watch_link"})
            new_link = (await asyncio.wait_for(renewed, 10))["watch_link"]
            assert new_link != watch_link
            assert await status(f"api/watch/{token}", school.parent.token) == 404
            new_token = new_link.rsplit("/", 1)[1]
            assert await status(f"api/watch/{new_token}", school.parent.token) == 200
            frames = recorders["video"].frames
            await wait_for(lambda: recorders["video"].frames > frames + 10, 10)
            for recorder in recorders.values():
                await recorder.stop()
            await pc.close()
    finally:
        for client in clients:
            await client.close()
        await server.close()


async def offer_status(
    http: aiohttp.ClientSession, base: str, watch_link: str, headers: dict[str, str]
) -> int:
    """What a WHEP offer to the watch link is answered."""
    pc = loopback_pc()
    pc.addTransceiver("video", direction="recvonly")
    await pc.setLocalDescription(await pc.createOffer())
    try:
        async with http.post(
            f"{base}{watch_link.lstrip('/')}/whep",
            data=pc.localDescription.sdp,
            headers={"Content-Type": "application/sdp", **headers},
        ) as response:
            return response.status
    finally:
        await pc.close()
