"""Host controls over the protocol; the server enforces every rule."""

from __future__ import annotations

import asyncio

import aiohttp
from aiohttp import web

from tests.calls.test_call import wait_for
from tests.support.client import CallClient
from tests.support.media import PatternVideoTrack, ToneAudioTrack
from web import keys


async def three(http: aiohttp.ClientSession, base_url: str, call: str) -> list[CallClient]:
    clients = [CallClient(http, base_url, call, name) for name in ("teacher", "ann", "bob")]
    for client in clients:
        await client.join()
    return clients


async def test_creator_is_host_and_only_hosts_control(
    base_url: str, http: aiohttp.ClientSession
) -> None:
    teacher, ann, bob = await three(http, base_url, "roles")
    assert ann.peers[teacher.peer_id]["role"] == "host"
    assert teacher.peers[ann.peer_id]["role"] == "participant"
    refused = await ann.request(
        {"type": "mute_participant", "peer_id": bob.peer_id, "source": "microphone"}, "error"
    )
    assert refused["code"] == "forbidden"
    refused = await ann.request({"type": "end_call"}, "error")
    assert refused["code"] == "forbidden"
    update = bob.expect("peer_updated")
    promoted = ann.expect("role_changed")
    listing = ann.expect("waiting_list")
    await teacher.send({"type": "set_role", "peer_id": ann.peer_id, "role": "cohost"})
    assert (await asyncio.wait_for(update, 5))["peer"]["role"] == "cohost"
    token = (await asyncio.wait_for(promoted, 5))["host_token"]
    assert token and token != teacher.joined["host_token"]  # type: ignore[index]
    await asyncio.wait_for(listing, 5)
    # a co-host may not mute the host
    refused = await ann.request(
        {"type": "mute_participant", "peer_id": teacher.peer_id, "source": "microphone"}, "error"
    )
    assert refused["code"] == "forbidden"
    # demoted: the token no longer makes anyone a co-host
    demoted = ann.expect("role_changed")
    await teacher.send({"type": "set_role", "peer_id": ann.peer_id, "role": "participant"})
    assert (await asyncio.wait_for(demoted, 5))["host_token"] not in (None, token)
    again = CallClient(http, base_url, "roles", "ann again")
    assert (await again.join(host_token=token))["role"] == "participant"
    await again.close()
    missing = await teacher.request({"type": "remove_participant", "peer_id": "nobody"}, "error")
    assert missing["code"] == "not_found"
    for client in (teacher, ann, bob):
        await client.close()


async def test_a_muted_participant_reaches_nobody_and_a_lock_holds(
    app: web.Application, base_url: str, http: aiohttp.ClientSession
) -> None:
    teacher, ann, bob = await three(http, base_url, "mute")
    await ann.publish([(ToneAudioTrack(500), "microphone")])
    key = (ann.peer_id, "microphone")
    await wait_for(lambda: key in bob.recorders and bob.recorders[key].frames > 20)
    told = ann.expect("muted_by_host")
    await teacher.send(
        {"type": "mute_participant", "peer_id": ann.peer_id, "source": "microphone", "lock": True}
    )
    message = await asyncio.wait_for(told, 5)
    assert message["source"] == "microphone" and message["locked"] is True
    await asyncio.sleep(0.3)  # packets already on the wire
    consumers = [
        c for c in app[keys.WORKER].routers["mute"].consumers.values() if c.kind == "audio"
    ]
    sent = [c.packets for c in consumers]
    await asyncio.sleep(1.0)
    assert [c.packets for c in consumers] == sent  # not one audio packet more
    refused = await ann.request({"type": "mute", "source": "microphone", "muted": False}, "error")
    assert refused["code"] == "locked"
    await teacher.send(
        {"type": "unlock_participant", "peer_id": ann.peer_id, "source": "microphone"}
    )
    await wait_for(lambda: bob.peers[ann.peer_id]["locked"] == [])
    await ann.send({"type": "mute", "source": "microphone", "muted": False})
    await wait_for(lambda: all(c.packets > n + 10 for c, n in zip(consumers, sent, strict=True)))
    for client in (teacher, ann, bob):
        await client.close()


async def test_remove_closes_their_connections_and_end_closes_all(
    app: web.Application, base_url: str, http: aiohttp.ClientSession
) -> None:
    teacher, ann, bob = await three(http, base_url, "order")
    await bob.publish([(PatternVideoTrack(2), "camera")])
    await wait_for(lambda: (bob.peer_id, "camera") in ann.recorders)
    router = app[keys.WORKER].routers["order"]
    removed = bob.expect("removed")
    left = ann.expect("peer_left")
    await teacher.send({"type": "remove_participant", "peer_id": bob.peer_id})
    assert (await asyncio.wait_for(removed, 5))["by"] == teacher.peer_id
    assert (await asyncio.wait_for(left, 5))["peer_id"] == bob.peer_id
    await wait_for(lambda: not router.producers)
    assert bob.ws is not None
    await wait_for(lambda: bob.ws.closed)  # type: ignore[union-attr]
    ended = ann.expect("call_ended")
    await teacher.send({"type": "end_call"})
    assert (await asyncio.wait_for(ended, 5))["by"] == teacher.peer_id
    await wait_for(lambda: not app[keys.CALLS].rooms)
    assert app[keys.WORKER].counts()["transports"] == 0
    late = CallClient(http, base_url, "order", "latecomer")
    late.ws = await http.ws_connect(late.url)
    late._reader = asyncio.create_task(late._read())
    refused = await late.request(
        {"type": "join", "version": 1, "call": "order", "name": "x"}, "error"
    )
    assert refused["code"] == "call_ended"
    for client in (teacher, ann, bob, late):
        await client.close()


async def test_an_ended_call_opens_again_after_the_hold() -> None:
    from calls.protocol import ProtocolError
    from calls.service import Calls
    from metrics.events import Metrics
    from sfu.transport import TransportSettings
    from sfu.worker import Worker

    now = [1000.0]
    calls = Calls(Worker(TransportSettings()), Metrics(), ended_hold=60, clock=lambda: now[0])
    room = calls.enter("weekly")
    host = room.join("teacher", lambda message: None)
    await room.end(host)
    await calls.release_if_empty(room)
    try:
        calls.enter("weekly")
    except ProtocolError as exc:
        assert exc.code == "call_ended"
    else:
        raise AssertionError("an ended call took someone at once")
    now[0] += 61
    reopened = calls.enter("weekly")
    assert reopened is not room and not reopened.ended
    await calls.close()
    await calls.worker.close()
