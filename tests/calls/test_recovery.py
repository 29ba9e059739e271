"""Late joiners get a keyframe fast; lost packets come back through NACK."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable

import aiohttp
from aiohttp import web

from tests.calls.test_call import wait_for
from tests.support.client import CallClient
from tests.support.media import FPS, PatternVideoTrack, ToneAudioTrack
from web import keys


def lose_rtp(rate: float, *, seed: int) -> tuple[Callable[[bytes], bool], dict[str, int]]:
    """A datagram filter that loses `rate` of RTP (never RTCP, DTLS or STUN), and its count."""
    rng = random.Random(seed)
    dropped = {"rtp": 0}

    def keep(data: bytes) -> bool:
        is_rtp = len(data) > 1 and 127 < data[0] < 192 and not 191 < data[1] < 224
        if is_rtp and rng.random() < rate:
            dropped["rtp"] += 1
            return False
        return True

    return keep, dropped


async def test_late_joiner_decodes_a_keyframe_within_a_second(
    app: web.Application, base_url: str, http: aiohttp.ClientSession
) -> None:
    publisher = CallClient(http, base_url, "late", "teacher")
    await publisher.join()
    await publisher.publish([(PatternVideoTrack(5), "camera"), (ToneAudioTrack(500), "microphone")])
    # aiortc's VP8 encoder makes a keyframe every 3000 frames on its own: after 3 s
    # only a relayed keyframe request can start a new subscriber's decoder
    await asyncio.sleep(3)
    late = CallClient(http, base_url, "late", "student")
    await late.join()
    key = (publisher.peer_id, "camera")
    await wait_for(lambda: key in late.recorders and late.recorders[key].patterns, timeout=5)
    recorder = late.recorders[key]
    assert late.joined_at is not None and recorder.first_frame_at is not None
    assert recorder.first_frame_at - late.joined_at < 1.0
    assert recorder.patterns[0][1] > 2 * FPS  # a fresh keyframe, mid-stream
    totals = app[keys.WORKER].totals()
    assert totals.keyframe_requests_sent >= 1
    await late.close()
    await publisher.close()


async def lossy_lesson(
    http: aiohttp.ClientSession,
    base_url: str,
    call: str,
    *,
    uplink: Callable[[bytes], bool] | None = None,
    downlink: Callable[[bytes], bool] | None = None,
) -> tuple[CallClient, CallClient, int, int]:
    """A teacher's camera watched by a student for 5 s over the given lossy links.
    Returns both clients, the distinct frames the student decoded and those sent meanwhile."""
    publisher = CallClient(http, base_url, call, "teacher", keep_outgoing=uplink)
    await publisher.join()
    await publisher.publish([(PatternVideoTrack(9), "camera")])
    student = CallClient(http, base_url, call, "student", keep_incoming=downlink)
    await student.join()
    key = (publisher.peer_id, "camera")
    await wait_for(lambda: key in student.recorders and student.recorders[key].patterns, timeout=5)
    await asyncio.sleep(5)
    indices = sorted({i for _, i in student.recorders[key].patterns})
    return publisher, student, len(indices), indices[-1] - indices[0] + 1


async def test_lost_packets_come_back_through_nack(
    app: web.Application, base_url: str, http: aiohttp.ClientSession
) -> None:
    # 5% of incoming RTP never reaches the subscriber
    keep, dropped = lose_rtp(0.05, seed=5)
    publisher, student, seen, expected = await lossy_lesson(http, base_url, "lossy", downlink=keep)
    consumer = next(c for c in app[keys.WORKER].routers["lossy"].consumers.values())
    assert dropped["rtp"] >= 5
    assert consumer.nacks_received > 0
    # each lost packet is asked for and resent (a few may be asked for twice)
    assert consumer.retransmissions >= 0.8 * dropped["rtp"]
    assert seen >= 0.97 * expected, f"{expected - seen} of {expected} frames lost"
    await student.close()
    await publisher.close()


async def test_packets_lost_on_the_way_in_are_asked_for_again(
    app: web.Application, base_url: str, http: aiohttp.ClientSession
) -> None:
    # 5% of the publisher's RTP is lost before it reaches the server
    keep, dropped = lose_rtp(0.05, seed=11)
    publisher, student, seen, expected = await lossy_lesson(http, base_url, "uplink", uplink=keep)
    producer = next(iter(app[keys.WORKER].routers["uplink"].producers.values()))
    assert dropped["rtp"] >= 5
    assert producer.nacks_sent > 0
    report = producer.receiver_report()
    assert report is not None
    still_lost = report[1]  # cumulative: expected minus received, resent copies included
    assert still_lost <= 0.2 * dropped["rtp"], f"{still_lost} of {dropped['rtp']} never came back"
    assert seen >= 0.97 * expected, f"{expected - seen} of {expected} frames lost"
    await student.close()
    await publisher.close()
