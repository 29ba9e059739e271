"""The SFU forwards real aiortc media through Router/Transport/Producer/Consumer."""

from __future__ import annotations

import asyncio

from aiortc import RTCBundlePolicy, RTCConfiguration, RTCPeerConnection, RTCSessionDescription

from sfu import sdp
from sfu.consumer import Consumer
from sfu.producer import Producer
from sfu.router import Router
from sfu.transport import TransportSettings
from sfu.worker import Worker
from tests.support.media import PatternVideoTrack, ToneAudioTrack, TrackRecorder, dominant_frequency


def client_pc() -> RTCPeerConnection:
    return RTCPeerConnection(
        RTCConfiguration(iceServers=[], bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)
    )


async def publish(
    router: Router, name: str, number: int, tone: float
) -> tuple[RTCPeerConnection, list[Producer]]:
    pc = client_pc()
    pc.addTransceiver(PatternVideoTrack(number), direction="sendonly")
    pc.addTransceiver(ToneAudioTrack(tone), direction="sendonly")
    await pc.setLocalDescription(await pc.createOffer())
    transport = router.create_transport(f"{name}-pub")
    offer = pc.localDescription.sdp
    answer = await transport.accept_offer(offer)
    await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
    producers = [
        router.create_producer(
            transport,
            track,
            producer_id=f"{name}-{track.kind}",
            source="camera" if track.kind == "video" else "microphone",
            owner=name,
        )
        for track in sdp.incoming_tracks(offer, answer)
    ]
    return pc, producers


async def subscribe(
    router: Router, name: str, producers: list[Producer]
) -> tuple[RTCPeerConnection, dict[str, TrackRecorder], list[Consumer]]:
    transport = router.create_transport(f"{name}-sub")
    transceivers = {
        p.id: transport.add_outgoing(p.kind, stream_id=p.owner, track_id=p.id, codec=p.codec)
        for p in producers
    }
    offer = await transport.create_offer()
    pc = client_pc()
    recorders: dict[str, TrackRecorder] = {}
    mids: dict[str, str] = {}

    @pc.on("track")
    def on_track(track) -> None:  # type: ignore[no-untyped-def]
        for t in pc.getTransceivers():
            if t.receiver.track is track:
                recorders[mids[t.mid]] = TrackRecorder(track)

    for producer_id, t in transceivers.items():
        mids[t.mid] = producer_id
    await pc.setRemoteDescription(RTCSessionDescription(sdp=offer, type="offer"))
    await pc.setLocalDescription(await pc.createAnswer())
    accepted = await transport.accept_answer(pc.localDescription.sdp)
    consumers = []
    for producer in producers:
        t = transceivers[producer.id]
        media = accepted[t.mid]
        codec = next(c for c in media.codecs if producer.codec.matches(c))
        consumers.append(
            router.create_consumer(
                producer,
                transport,
                consumer_id=f"{name}-{producer.id}",
                ssrc=transport.sender_ssrc(t),
                payload_type=codec.payload_type,
                mid=t.mid,
            )
        )
    return pc, recorders, consumers


async def test_one_publisher_one_subscriber_content_arrives() -> None:
    worker = Worker(TransportSettings())
    router = worker.get_or_create_router("room")
    pub_pc, producers = await publish(router, "alice", 7, 660.0)
    sub_pc, recorders, _consumers = await subscribe(router, "bob", producers)
    await asyncio.sleep(4)
    video = recorders["alice-video"]
    audio = recorders["alice-audio"]
    assert video.patterns, (
        f"no readable frames ({video.frames} frames, {video.unreadable} unreadable)"
    )
    assert {p for p, _ in video.patterns} == {7}
    indices = [i for _, i in video.patterns]
    assert indices == sorted(indices)
    assert len(video.patterns) > 30
    freq = dominant_frequency(audio.audio_samples(last_seconds=2), audio.sample_rate)
    assert abs(freq - 660.0) < 10
    assert worker.codecs_opened() == 0
    transport = router.transports["bob-sub"]
    assert transport.srtp_profile == "SRTP_AEAD_AES_128_GCM"
    for r in recorders.values():
        await r.stop()
    await pub_pc.close()
    await sub_pc.close()
    await worker.close()
    assert worker.counts()["transports"] == 0
