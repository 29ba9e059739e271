"""Three aiortc participants meet in a call through the WebSocket protocol."""

from __future__ import annotations

import asyncio

import aiohttp
from aiohttp import web

from tests.support.client import CallClient
from tests.support.media import PatternVideoTrack, ToneAudioTrack, dominant_frequency
from web import keys

TONES = {1: 440.0, 2: 700.0, 3: 1100.0}


async def wait_for(predicate, timeout: float = 10.0, interval: float = 0.1) -> None:  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(interval)


async def test_three_participants_see_and_hear_each_other(
    app: web.Application, base_url: str, http: aiohttp.ClientSession
) -> None:
    clients = {n: CallClient(http, base_url, "lesson-1", f"user{n}") for n in TONES}
    for n, client in clients.items():
        await client.join()
        await client.publish(
            [(PatternVideoTrack(n), "camera"), (ToneAudioTrack(TONES[n]), "microphone")]
        )
    ids = {n: c.peer_id for n, c in clients.items()}

    def everyone_receives() -> bool:
        return all(
            len(
                c.recorders.get((ids[m], "camera"), None).patterns
                if (ids[m], "camera") in c.recorders
                else []
            )
            > 20
            and (ids[m], "microphone") in c.recorders
            for n, c in clients.items()
            for m in TONES
            if m != n
        )

    await wait_for(everyone_receives, timeout=20)
    await asyncio.sleep(1.5)
    for n, client in clients.items():
        assert set(client.peers) == {ids[m] for m in TONES if m != n}
        for m in TONES:
            if m == n:
                continue
            video = client.recorders[(ids[m], "camera")]
            assert {p for p, _ in video.patterns} == {m}, f"{n} sees wrong pattern from {m}"
            indices = [i for _, i in video.patterns]
            assert indices == sorted(indices)
            audio = client.recorders[(ids[m], "microphone")]
            freq = dominant_frequency(audio.audio_samples(last_seconds=1.5), audio.sample_rate)
            assert abs(freq - TONES[m]) < 15, f"{n} hears {freq} Hz from {m}, wanted {TONES[m]}"
    worker = app[keys.WORKER]
    assert worker.codecs_opened() == 0
    counts = worker.counts()
    assert counts["producers"] == 6 and counts["consumers"] == 12
    for client in clients.values():
        await client.close()
    await wait_for(lambda: not app[keys.CALLS].rooms)
    assert worker.counts()["transports"] == 0
