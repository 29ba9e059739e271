"""WHIP publishing and WHEP watching with plain aiortc clients."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer
from aiortc import RTCSessionDescription

from tests.calls.test_call import wait_for
from tests.support.client import SHARED_LINKS, CallClient, loopback_pc
from tests.support.media import (
    PatternVideoTrack,
    ToneAudioTrack,
    TrackRecorder,
    dominant_frequency,
)
from web import keys
from web.app import create_app
from web.config import Config


async def whip_publish(
    http: aiohttp.ClientSession,
    base_url: str,
    call: str,
    number: int,
    amplitude: float = 0.3,
    name: str = "Encoder",
    token: str | None = None,
) -> tuple[object, str]:
    """Publish a pattern and a tone; the bearer is `token`, else the call's invite link."""
    pc = loopback_pc()
    pc.addTransceiver(PatternVideoTrack(number), direction="sendonly")
    pc.addTransceiver(ToneAudioTrack(300.0 + 100 * number, amplitude), direction="sendonly")
    await pc.setLocalDescription(await pc.createOffer())
    async with http.post(
        f"{base_url}whip/{call}",
        data=pc.localDescription.sdp,
        headers={
            "Content-Type": "application/sdp",
            "X-Parta-Name": name,
            **auth(base_url, call, token),
        },
    ) as response:
        assert response.status == 201, await response.text()
        assert response.content_type == "application/sdp"
        location = response.headers["Location"]
        answer = await response.text()
    await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
    return pc, location


def auth(base_url: str, call: str, token: str | None = None) -> dict[str, str]:
    """The Authorization header: `token`, else the invite link the call's host was given."""
    ws_url = base_url.rstrip("/").replace("http", "ws", 1) + "/ws"
    token = token or SHARED_LINKS.get((ws_url, call))
    return {} if token is None else {"Authorization": f"Bearer {token}"}


async def whep_watch(
    http: aiohttp.ClientSession, base_url: str, call: str, token: str | None = None
) -> tuple[object, str, dict[str, TrackRecorder]]:
    return await watch_at(http, f"{base_url}whep/{call}", auth(base_url, call, token))


async def watch_at(
    http: aiohttp.ClientSession, url: str, headers: dict[str, str]
) -> tuple[Any, str, dict[str, TrackRecorder]]:
    """A WHEP viewer of `url`: its connection, its session's location, and what it gets."""
    pc = loopback_pc()
    recorders: dict[str, TrackRecorder] = {}
    pc.on("track", lambda track: recorders.__setitem__(track.kind, TrackRecorder(track)))
    pc.addTransceiver("audio", direction="recvonly")
    pc.addTransceiver("video", direction="recvonly")
    await pc.setLocalDescription(await pc.createOffer())
    async with http.post(
        url, data=pc.localDescription.sdp, headers={"Content-Type": "application/sdp", **headers}
    ) as response:
        assert response.status == 201, await response.text()
        location = response.headers["Location"]
        answer = await response.text()
    await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
    return pc, location, recorders


async def test_whip_publisher_is_watched_over_whep_and_seen_in_the_call(
    app: web.Application, base_url: str, http: aiohttp.ClientSession
) -> None:
    participant = CallClient(http, base_url, "assembly", "student")
    await participant.join()
    publisher, whip_location = await whip_publish(
        http, base_url, "assembly", 3, name="Stage camera"
    )
    viewer, whep_location, recorders = await whep_watch(http, base_url, "assembly")
    await wait_for(lambda: "video" in recorders and len(recorders["video"].patterns) > 20, 15)
    await asyncio.sleep(1)
    assert {p for p, _ in recorders["video"].patterns} == {3}
    audio = recorders["audio"]
    assert abs(dominant_frequency(audio.audio_samples(1.0), audio.sample_rate) - 600) < 15
    # the WHIP publisher is a participant; the WHEP viewer is not
    names = {p["name"] for p in participant.peers.values()}
    assert names == {"Stage camera"}
    room = app[keys.CALLS].rooms["assembly"]
    assert len(room.viewers) == 1 and len(room.peers) == 2
    # each ends its session with the bearer token it opened it with (RFC 9725)
    token = auth(base_url, "assembly")
    async with http.delete(base_url.rstrip("/") + whep_location, headers=token) as response:
        assert response.status == 200
    async with http.delete(base_url.rstrip("/") + whip_location, headers=token) as response:
        assert response.status == 200
    await wait_for(lambda: not participant.peers)
    assert not room.viewers
    async with http.delete(base_url.rstrip("/") + whip_location, headers=token) as response:
        assert response.status == 404
        assert (await response.json())["error"] == "not_found"
    for recorder in recorders.values():
        await recorder.stop()
    for pc in (publisher, viewer):
        await pc.close()  # type: ignore[attr-defined]
    await participant.close()


async def test_whep_stage_follows_the_speaker_then_a_shared_screen(
    app: web.Application, base_url: str, http: aiohttp.ClientSession
) -> None:
    presenter = CallClient(http, base_url, "stage", "presenter")
    await presenter.join()  # opens the call, so it has an invite link
    quiet, _ = await whip_publish(http, base_url, "stage", 1, amplitude=0.0)
    loud, _ = await whip_publish(http, base_url, "stage", 2, amplitude=0.5)
    viewer, _, recorders = await whep_watch(http, base_url, "stage")

    def showing(number: int) -> bool:
        video = recorders.get("video")
        return video is not None and len(video.patterns) > 5 and video.patterns[-1][0] == number

    await wait_for(lambda: showing(2), 15)
    await presenter.publish([(PatternVideoTrack(7), "screen")])
    await wait_for(lambda: showing(7), 10)
    for recorder in recorders.values():
        await recorder.stop()
    await presenter.close()
    for pc in (quiet, loud, viewer):
        await pc.close()  # type: ignore[attr-defined]


async def test_whip_errors_are_json(base_url: str, http: aiohttp.ClientSession) -> None:
    sdp = {"Content-Type": "application/sdp", "Authorization": "Bearer some-token"}
    async with http.post(
        f"{base_url}whip/x", data="v=0", headers={**sdp, **{"Content-Type": "text/plain"}}
    ) as r:
        assert r.status == 415
        assert (await r.json())["error"] == "unsupported_media_type"
    host = CallClient(http, base_url, "x", "teacher")
    await host.join()
    with_link = {**sdp, **auth(base_url, "x")}
    async with http.post(f"{base_url}whip/x", data="v=0\r\nnonsense", headers=with_link) as r:
        assert r.status == 400
        body = await r.json()
        assert body["error"] == "bad_sdp" and body["message"]
    await host.close()
    async with http.post(f"{base_url}whep/bad%20id", data="v=0", headers=sdp) as r:
        assert r.status == 404
    # no token at all, and a call nobody started: 401, then 404
    async with http.post(
        f"{base_url}whip/x", data="v=0", headers={"Content-Type": "application/sdp"}
    ) as r:
        assert r.status == 401 and r.headers["WWW-Authenticate"] == "Bearer"
        assert (await r.json())["error"] == "unauthorized"
    async with http.post(f"{base_url}whep/nobody-here", data="v=0", headers=sdp) as r:
        assert r.status == 404 and (await r.json())["error"] == "not_found"
    # a session's PATCH needs the session's token before anything else
    async with http.patch(f"{base_url}whip/x/y") as r:
        assert r.status == 401 and r.headers["WWW-Authenticate"] == "Bearer"


async def test_bearer_token_is_required_when_configured(
    tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    server = TestServer(
        create_app(Config(data_dir=tmp_path, bearer_token="s3cret")), host="127.0.0.1"
    )
    await server.start_server()
    base = str(server.make_url("/"))
    teacher = CallClient(http, base, "x", "teacher")
    try:
        await teacher.join()  # the operator's token reaches calls that exist
        async with http.post(
            f"{base}whip/x", data="v=0", headers={"Content-Type": "application/sdp"}
        ) as r:
            assert r.status == 401
            assert r.headers["WWW-Authenticate"] == "Bearer"
        pc = loopback_pc()
        pc.addTransceiver(ToneAudioTrack(440), direction="sendonly")
        await pc.setLocalDescription(await pc.createOffer())
        async with http.post(
            f"{base}whip/x",
            data=pc.localDescription.sdp,
            headers={"Content-Type": "application/sdp", "Authorization": "Bearer s3cret"},
        ) as r:
            assert r.status == 201
        await pc.close()
    finally:
        await teacher.close()
        await server.close()


async def test_whip_to_a_call_a_host_just_ended_is_refused(
    app: web.Application, base_url: str, http: aiohttp.ClientSession
) -> None:
    host = CallClient(http, base_url, "over", "teacher")
    await host.join()
    link = host.invite_token
    ended = host.expect("call_ended")
    await host.send({"type": "end_call"})
    await asyncio.wait_for(ended, 5)
    await host.close()
    await wait_for(lambda: app[keys.CALLS].is_ended("over"))
    pc = loopback_pc()
    pc.addTransceiver(ToneAudioTrack(440), direction="sendonly")
    await pc.setLocalDescription(await pc.createOffer())
    async with http.post(
        f"{base_url}whip/over",
        data=pc.localDescription.sdp,
        headers={"Content-Type": "application/sdp", "Authorization": f"Bearer {link}"},
    ) as response:
        assert response.status == 410
        assert (await response.json())["error"] == "call_ended"
    await pc.close()
