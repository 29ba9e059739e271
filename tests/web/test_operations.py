"""/metrics moves during a call; health and readiness answer."""

from __future__ import annotations

import asyncio

import aiohttp
from aiohttp import web
from prometheus_client.parser import text_string_to_metric_families

from sfu.drops import DROP_REASONS
from tests.calls.test_call import wait_for
from tests.support.client import CallClient
from tests.support.media import PatternVideoTrack, ToneAudioTrack


async def scrape(http: aiohttp.ClientSession, base_url: str) -> dict[str, float]:
    async with http.get(f"{base_url}metrics") as response:
        assert response.status == 200
        text = await response.text()
    values: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            label = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
            values[sample.name + (f"{{{label}}}" if label else "")] = sample.value
    return values


async def test_metrics_move_during_a_call(
    app: web.Application, base_url: str, http: aiohttp.ClientSession
) -> None:
    idle = await scrape(http, base_url)
    assert idle["parta_rooms"] == 0 and idle["parta_rtp_packets_out_total"] == 0
    a = CallClient(http, base_url, "metrics", "a")
    b = CallClient(http, base_url, "metrics", "b")
    await a.join()
    await b.join()
    await a.publish([(PatternVideoTrack(1), "camera"), (ToneAudioTrack(440), "microphone")])
    await b.publish([(PatternVideoTrack(2), "camera")])
    await wait_for(
        lambda: (a.peer_id, "camera") in b.recorders and (b.peer_id, "camera") in a.recorders
    )
    first = await scrape(http, base_url)
    await asyncio.sleep(1.0)
    second = await scrape(http, base_url)
    assert second["parta_rooms"] == 1
    assert second["parta_peers"] == 2
    assert second["parta_producers"] == 3
    assert second["parta_consumers"] == 3
    assert second["parta_transports"] == 4
    for name in (
        "parta_rtp_packets_in_total",
        "parta_rtp_bytes_in_total",
        "parta_rtp_packets_out_total",
        "parta_rtp_bytes_out_total",
    ):
        assert second[name] > first[name] > 0, name
    # RTCP comes every 0.5-1.5 s per connection
    await asyncio.sleep(1.0)
    third = await scrape(http, base_url)
    assert third["parta_rtcp_packets_in_total"] > 0
    assert third["parta_rtcp_packets_out_total"] > 0
    assert second["parta_keyframe_requests_sent_total"] >= 1
    for name in (
        "parta_nacks_received_total",
        "parta_retransmissions_total",
        "parta_keyframe_requests_received_total",
        *(f"parta_packets_dropped_total{{reason={reason}}}" for reason in DROP_REASONS),
    ):
        assert name in second
    # on loopback nothing is refused: what is not forwarded waited for a first keyframe
    for reason in DROP_REASONS:
        if reason != "waiting_keyframe":
            assert second[f"parta_packets_dropped_total{{reason={reason}}}"] == 0, reason
    assert second["parta_join_to_first_media_seconds_count"] == 2
    assert 0 < second["parta_join_to_first_media_seconds_sum"] < 10
    await a.close()
    await b.close()
    after = await scrape(http, base_url)
    # counters of closed objects are kept: totals never go backwards
    assert after["parta_rtp_packets_out_total"] >= second["parta_rtp_packets_out_total"]


async def test_health_and_readiness(base_url: str, http: aiohttp.ClientSession) -> None:
    async with http.get(f"{base_url}healthz") as response:
        assert response.status == 200
        assert (await response.json())["status"] == "ok"
    async with http.get(f"{base_url}readyz") as response:
        assert response.status == 200
        assert (await response.json())["status"] == "ready"
