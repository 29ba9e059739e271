"""A standard WHIP encoder nobody here wrote: GStreamer's webrtcbin, with its own RSA
DTLS certificate, publishes its offer exactly as it makes it. Viewers over WHEP and
participants in the call decode its colour and tone, and each of them gets every
packet it sent: counted at the subscriber's socket, with no gap, against webrtcbin's
own count of what it sent and the server's account of every packet."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import numpy as np
import pytest
from aiohttp import web
from aiortc import RTCSessionDescription

from sfu import aiortc_seam as seam
from tests.calls.test_call import wait_for
from tests.support.client import CallClient, loopback_pc
from tests.support.gstreamer import GstPublisher, needs_gstreamer
from tests.support.media import TrackRecorder, dominant_frequency
from tests.support.rtp_count import RtpCounter
from tests.web.http.test_whip_whep import auth
from web import keys

pytestmark = needs_gstreamer

COLOUR = (220, 40, 40)
TONE = 660.0


async def publish(
    http: aiohttp.ClientSession, base_url: str, call: str, setup: str | None = None
) -> tuple[GstPublisher, str]:
    """Start webrtcbin and publish its offer (`setup` put in it, if given)."""
    publisher = await GstPublisher.start("".join(f"{c:02x}" for c in COLOUR), TONE, setup)
    offer = await publisher.offer()
    assert f"a=setup:{setup or 'actpass'}" in offer
    async with http.post(
        f"{base_url}whip/{call}",
        data=offer,
        headers={"Content-Type": "application/sdp", **auth(base_url, call)},
    ) as response:
        assert response.status == 201, await response.text()
        answer = await response.text()
    await publisher.answer(answer)
    return publisher, answer


async def watch(
    http: aiohttp.ClientSession, base_url: str, call: str
) -> tuple[Any, dict[str, TrackRecorder], RtpCounter]:
    """A WHEP viewer that decodes what it gets and counts it at its socket."""
    pc = loopback_pc()
    recorders: dict[str, TrackRecorder] = {}
    pc.on("track", lambda track: recorders.__setitem__(track.kind, TrackRecorder(track)))
    pc.addTransceiver("audio", direction="recvonly")
    pc.addTransceiver("video", direction="recvonly")
    await pc.setLocalDescription(await pc.createOffer())
    counter = RtpCounter()
    dtls = seam.dtls_transport_of(pc)
    assert dtls is not None
    seam.filter_datagrams(dtls, counter)
    async with http.post(
        f"{base_url}whep/{call}",
        data=pc.localDescription.sdp,
        headers={"Content-Type": "application/sdp", **auth(base_url, call)},
    ) as response:
        assert response.status == 201, await response.text()
        answer = await response.text()
    await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
    return pc, recorders, counter


def shows_colour(recorder: TrackRecorder | None) -> bool:
    image = None if recorder is None else recorder.last_image
    if image is None:
        return False
    mean = image.reshape(-1, 3).mean(axis=0)
    return bool(np.all(np.abs(mean - COLOUR) < 30))


def sounds_tone(recorder: TrackRecorder | None) -> bool:
    if recorder is None or len(recorder.audio) < 25:
        return False
    samples = recorder.audio_samples(0.5)
    return abs(dominant_frequency(samples, recorder.sample_rate) - TONE) < 15


@pytest.mark.parametrize("setup", [None, "passive"], ids=["offer-as-made", "offer-passive"])
async def test_a_gstreamer_publisher_is_seen_and_heard(
    app: web.Application, base_url: str, http: aiohttp.ClientSession, setup: str | None
) -> None:
    """As made, webrtcbin's offer says `actpass`: we answer `passive` and are the DTLS
    server. Told `passive`, it is the server with its RSA certificate and we are the
    client: our hello must offer RSA suites too."""
    host = CallClient(http, base_url, "gst", "teacher")
    await host.join()
    publisher, answer = await publish(http, base_url, "gst", setup)
    viewer = None
    try:
        assert ("a=setup:passive" if setup is None else "a=setup:active") in answer
        viewer, recorders, _ = await watch(http, base_url, "gst")
        await wait_for(
            lambda: shows_colour(recorders.get("video")) and sounds_tone(recorders.get("audio")),
            20,
        )
        room = app[keys.CALLS].rooms["gst"]
        (peer,) = (p for p in room.peers.values() if p.name == "WHIP")
        assert peer.publish_transport is not None
        # GStreamer's DTLS offers AES-CM only
        assert peer.publish_transport.srtp_profile == "SRTP_AES128_CM_SHA1_80"
    finally:
        if viewer is not None:
            for recorder in recorders.values():
                await recorder.stop()
            await viewer.close()
        await publisher.stop()
        await host.close()


async def test_every_packet_gstreamer_sent_reaches_every_subscriber(
    app: web.Application, base_url: str, http: aiohttp.ClientSession
) -> None:
    """Two WHEP viewers (the stage) and two participants (their consumers): each gets,
    with no gap, every packet webrtcbin sent after it came, and the server accounts
    for every packet it was handed: forwarded, or dropped under a reason."""
    teacher = CallClient(http, base_url, "count", "teacher")
    await teacher.join()
    publisher, _ = await publish(http, base_url, "count")
    viewers: list[tuple[Any, dict[str, TrackRecorder], RtpCounter]] = []
    pupils: list[tuple[CallClient, RtpCounter]] = []
    try:
        for name in ("ann", "bob"):
            counter = RtpCounter()
            pupil = CallClient(http, base_url, "count", name, keep_incoming=counter)
            await pupil.join()
            pupils.append((pupil, counter))
        viewers = [await watch(http, base_url, "count") for _ in range(2)]
        await wait_for(
            lambda: (
                all(shows_colour(v[1].get("video")) for v in viewers)
                and all(
                    any(
                        shows_colour(r)
                        for (_, source), r in p.recorders.items()
                        if source == "camera"
                    )
                    for p, _ in pupils
                )
            ),
            20,
        )
        await asyncio.sleep(3)
        sent = await publisher.finish()  # nothing more is sent ...
        await asyncio.sleep(1)  # ... and what was sent has arrived

        room = app[keys.CALLS].rooms["count"]
        router = room.router
        producers = {p.kind: p for p in router.producers.values()}
        # the server got all webrtcbin sent (loopback loses nothing)
        for kind in ("audio", "video"):
            assert producers[kind].packets == sent[kind], (kind, producers[kind].packets, sent)

        # a participant's consumers: every packet since it was added, with no gap
        ours = [
            (consumer, counter)
            for consumer in router.consumers.values()
            for _, counter in pupils
            if consumer.ssrc in counter.streams
        ]
        assert len(ours) == 4  # two pupils, audio and video
        for consumer, counter in ours:
            stream = counter.stream(consumer.ssrc)
            assert stream.missing == 0 and stream.duplicates == 0, str(consumer.dump())
            dropped = dict(consumer.dropped)
            waited = dropped.pop("waiting_keyframe", 0)  # before its first keyframe
            assert dropped == {}, str(consumer.dump())
            assert stream.received == consumer.forwarded == consumer.offered - waited
        # the stage's viewers: every packet since they joined its fan-out. They share
        # the stage's SSRCs, so what each got is matched to the ends by count
        (stage,) = router.stages
        for kind in ("audio", "video"):
            ends = [end for end in stage.outgoing() if end.track.kind == kind]
            assert len(ends) == 2
            for end in ends:
                dropped = dict(end.dropped)
                waited = dropped.pop("waiting_keyframe", 0)
                assert dropped == {}, (kind, end.dropped)
                assert end.packets == end.offered - waited
            got = []
            for _, _, counter in viewers:
                stream = counter.stream(ends[0].ssrc)
                assert stream.missing == 0 and stream.duplicates == 0
                got.append(stream.received)
            assert sorted(got) == sorted(end.packets for end in ends)
    finally:
        for pc, recorders, _ in viewers:
            for recorder in recorders.values():
                await recorder.stop()
            await pc.close()
        for pupil, _ in pupils:
            await pupil.close()
        await publisher.stop()
        await teacher.close()
