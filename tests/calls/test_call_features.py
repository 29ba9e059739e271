"""Call features over the protocol: H.264, mute state, active speaker, unpublishing."""

from __future__ import annotations

import asyncio

import aiohttp
from aiohttp import web
from aiortc import RTCRtpSender

from tests.calls.test_call import wait_for
from tests.support.client import CallClient
from tests.support.media import PatternVideoTrack, ToneAudioTrack
from web import keys


async def test_h264_is_forwarded_when_both_sides_offer_it(
    app: web.Application, base_url: str, http: aiohttp.ClientSession
) -> None:
    publisher = CallClient(http, base_url, "h264", "camera")
    await publisher.join()
    # publish with H.264 only
    from tests.support.client import loopback_pc

    publisher.publish_pc = loopback_pc()
    transceiver = publisher.publish_pc.addTransceiver(PatternVideoTrack(6), direction="sendonly")
    transceiver.setCodecPreferences(
        [c for c in RTCRtpSender.getCapabilities("video").codecs if c.mimeType == "video/H264"]
    )
    publisher.transceivers["camera"] = transceiver
    pc = publisher.publish_pc
    await pc.setLocalDescription(await pc.createOffer())
    reply = await publisher.request(
        {
            "type": "publish",
            "sdp": pc.localDescription.sdp,
            "tracks": [{"mid": transceiver.mid, "source": "camera"}],
        },
        "publish_answer",
    )
    assert "H264" in reply["sdp"] and "VP8" not in reply["sdp"]
    from aiortc import RTCSessionDescription

    await pc.setRemoteDescription(RTCSessionDescription(sdp=reply["sdp"], type="answer"))
    viewer = CallClient(http, base_url, "h264", "student")
    await viewer.join()
    key = (publisher.peer_id, "camera")
    await wait_for(lambda: key in viewer.recorders and len(viewer.recorders[key].patterns) > 10, 15)
    assert {p for p, _ in viewer.recorders[key].patterns} == {6}
    producer = next(iter(app[keys.WORKER].routers["h264"].producers.values()))
    assert producer.codec.name == "H264"
    assert app[keys.WORKER].codecs_opened() == 0
    await viewer.close()
    await publisher.close()


async def test_mute_state_reaches_the_others(base_url: str, http: aiohttp.ClientSession) -> None:
    a = CallClient(http, base_url, "mute", "a")
    b = CallClient(http, base_url, "mute", "b")
    await a.join()
    await b.join()
    await a.publish([(ToneAudioTrack(440), "microphone"), (PatternVideoTrack(1), "camera")])
    await wait_for(lambda: len(b.peers.get(a.peer_id, {}).get("tracks", [])) == 2)
    update = b.expect("peer_updated")
    await a.send({"type": "mute", "source": "microphone", "muted": True})
    peer = (await asyncio.wait_for(update, 5))["peer"]
    muted = {t["source"]: t["muted"] for t in peer["tracks"]}
    assert muted == {"microphone": True, "camera": False}
    await a.close()
    await b.close()


async def test_active_speaker_is_announced(base_url: str, http: aiohttp.ClientSession) -> None:
    quiet = CallClient(http, base_url, "speak", "quiet")
    loud = CallClient(http, base_url, "speak", "loud")
    listener = CallClient(http, base_url, "speak", "listener")
    for client in (quiet, loud, listener):
        await client.join()
    await quiet.publish([(ToneAudioTrack(300, amplitude=0.0), "microphone")])
    await loud.publish([(ToneAudioTrack(600, amplitude=0.5), "microphone")])
    await wait_for(lambda: listener.active_speaker == loud.peer_id, 10)
    for client in (quiet, loud, listener):
        await client.close()


async def test_stopping_a_screen_share_ends_the_track_for_everyone(
    app: web.Application, base_url: str, http: aiohttp.ClientSession
) -> None:
    presenter = CallClient(http, base_url, "share", "teacher")
    student = CallClient(http, base_url, "share", "student")
    await presenter.join()
    await student.join()
    await presenter.publish([(PatternVideoTrack(1), "camera"), (PatternVideoTrack(2), "screen")])
    screen = (presenter.peer_id, "screen")
    await wait_for(lambda: screen in student.recorders and student.recorders[screen].patterns, 10)
    assert {p for p, _ in student.recorders[screen].patterns} == {2}
    # stop sharing: the m-line stops sending and is no longer listed
    pc = presenter.publish_pc
    assert pc is not None
    presenter.transceivers["screen"].direction = "inactive"
    await pc.setLocalDescription(await pc.createOffer())
    offer = student.expect("subscribe_offer")
    update = student.expect("peer_updated")
    reply = await presenter.request(
        {
            "type": "publish",
            "sdp": pc.localDescription.sdp,
            "tracks": [{"mid": presenter.transceivers["camera"].mid, "source": "camera"}],
        },
        "publish_answer",
    )
    from aiortc import RTCSessionDescription

    await pc.setRemoteDescription(RTCSessionDescription(sdp=reply["sdp"], type="answer"))
    peer = (await asyncio.wait_for(update, 5))["peer"]
    assert [t["source"] for t in peer["tracks"]] == ["camera"]
    renegotiated = await asyncio.wait_for(offer, 5)
    assert [t["source"] for t in renegotiated["tracks"]] == ["camera"]
    assert "a=inactive" in renegotiated["sdp"]
    router = app[keys.WORKER].routers["share"]
    assert [p.source for p in router.producers.values()] == ["camera"]
    await presenter.close()
    await student.close()
