"""Bad messages get an `error` reply, are counted, and leave the call intact."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from aiohttp import web

from calls.dispatch import parse_client_message
from calls.protocol import Join, ProtocolError, Publish
from tests.calls.test_call import wait_for
from tests.support.client import CallClient
from tests.support.media import PatternVideoTrack
from web import keys


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("{nope", "bad_json"),
        ("[1, 2]", "bad_json"),
        ('{"kind": "join"}', "bad_message"),
        ('{"type": "dance"}', "unknown_type"),
        ('{"type": "join", "version": "1", "call": "a", "name": "x"}', "bad_message"),
        ('{"type": "join", "version": 1, "call": "../etc", "name": "x"}', "bad_message"),
        ('{"type": "join", "version": 1, "call": "a", "name": "   "}', "bad_message"),
        ('{"type": "publish", "sdp": "hello", "tracks": []}', "bad_sdp"),
        (
            '{"type": "publish", "sdp": "v=0", "tracks": [{"mid": "0", "source": "tv"}]}',
            "bad_message",
        ),
        ('{"type": "mute", "source": "camera", "muted": "yes"}', "bad_message"),
    ],
)
def test_parse_rejects(text: str, code: str) -> None:
    with pytest.raises(ProtocolError) as info:
        parse_client_message(text)
    assert info.value.code == code
    assert info.value.message


def test_parse_accepts_and_ignores_unknown_fields() -> None:
    message = parse_client_message(
        '{"type": "join", "version": 1, "call": "Lesson_5-b", "name": " Ann ", "extra": 1}'
    )
    assert message == Join(version=1, call="Lesson_5-b", name="Ann")
    publish = parse_client_message(
        '{"type":"publish","sdp":"v=0\\r\\n","tracks":[{"mid":"0","source":"camera"}]}'
    )
    assert isinstance(publish, Publish) and publish.tracks[0].source == "camera"


async def test_errors_over_the_socket_leave_the_call_running(
    app: web.Application, base_url: str, http: aiohttp.ClientSession
) -> None:
    a = CallClient(http, base_url, "robust", "a")
    b = CallClient(http, base_url, "robust", "b")
    # before join: only join is allowed
    b.ws = await http.ws_connect(b.url)
    b._reader = asyncio.create_task(b._read())
    reply = await b.request({"type": "mute", "source": "camera", "muted": True}, "error")
    assert reply["code"] == "out_of_order"
    reply = await b.request({"type": "join", "version": 2, "call": "robust", "name": "b"}, "error")
    assert reply["code"] == "unsupported_version"
    joined = await b.request(
        {"type": "join", "version": 1, "call": "robust", "name": "b"}, "joined"
    )
    b.peer_id = joined["peer_id"]
    await a.join()
    await a.publish([(PatternVideoTrack(4), "camera")])
    key = (a.peer_id, "camera")
    await wait_for(lambda: key in b.recorders and len(b.recorders[key].patterns) > 10, 10)
    errors = []
    for bad in (
        "garbage",
        '{"type": "join", "version": 1, "call": "robust", "name": "b"}',
        '{"type": "subscribe_answer", "sdp": "v=0\\r\\n"}',
        '{"type": "publish", "sdp": "v=0\\r\\nbroken", "tracks": []}',
        '{"type": "warp"}',
    ):
        errors.append(await b.request(bad, "error"))
    assert [e["code"] for e in errors] == [
        "bad_json",
        "out_of_order",
        "out_of_order",
        "bad_sdp",
        "unknown_type",
    ]
    assert errors[4]["in_reply_to"] == "warp"
    # the call is intact: b still decodes a's video and is still in the room
    before = len(b.recorders[key].patterns)
    await asyncio.sleep(1)
    assert len(b.recorders[key].patterns) > before + 10
    assert set(a.peers) == {b.peer_id}
    pong = await b.request({"type": "ping"}, "pong")
    assert pong == {"type": "pong"}
    counted = app[keys.METRICS].registry.get_sample_value(
        "parta_protocol_errors_total", {"code": "out_of_order"}
    )
    assert counted == 3
    await a.close()
    await b.close()


async def test_a_dropped_socket_is_cleaned_up(
    app: web.Application, base_url: str, http: aiohttp.ClientSession
) -> None:
    a = CallClient(http, base_url, "drop", "a")
    b = CallClient(http, base_url, "drop", "b")
    await a.join()
    await b.join()
    await b.publish([(PatternVideoTrack(2), "camera")])
    await wait_for(lambda: (b.peer_id, "camera") in a.recorders)
    router = app[keys.WORKER].routers["drop"]
    assert len(router.transports) == 2  # b's publish, a's subscribe
    left = a.expect("peer_left")
    # the socket vanishes without a leave message
    assert b.ws is not None
    b._reader.cancel()  # type: ignore[union-attr]
    b.ws._response.connection.transport.abort()  # type: ignore[union-attr]
    message = await asyncio.wait_for(left, 10)
    assert message["peer_id"] == b.peer_id
    await wait_for(lambda: not router.producers and not router.consumers)
    await wait_for(lambda: len(router.transports) == 1)  # a's subscribe connection remains
    assert not a.peers
    await a.close()
    await b.close()
    await wait_for(lambda: not app[keys.CALLS].rooms)


async def test_a_client_that_never_answers_is_told_and_disconnected(
    tmp_path,
    http: aiohttp.ClientSession,  # type: ignore[no-untyped-def]
) -> None:
    from aiohttp.test_utils import TestServer

    from web.app import create_app
    from web.config import Config

    server = TestServer(
        create_app(Config(data_dir=tmp_path, subscribe_answer_timeout=0.5)), host="127.0.0.1"
    )
    await server.start_server()
    base = str(server.make_url("/"))
    try:
        publisher = CallClient(http, base, "silent", "teacher")
        await publisher.join()
        ws = await http.ws_connect(base.rstrip("/").replace("http", "ws", 1) + "/ws")
        await ws.send_json(
            {
                "type": "join",
                "version": 1,
                "call": "silent",
                "name": "mute",
                "link": publisher.invite_token,
            }
        )
        await publisher.publish([(PatternVideoTrack(1), "camera")])
        kinds = []
        async for message in ws:
            if message.type != aiohttp.WSMsgType.TEXT:
                break
            data = message.json()
            kinds.append(data["type"])
            if data["type"] == "error":
                assert data["code"] == "subscribe_timeout"
        assert kinds[0] == "joined" and "subscribe_offer" in kinds and kinds[-1] == "error"
        assert ws.closed
        await wait_for(lambda: not publisher.peers)
        await publisher.close()
    finally:
        await server.close()
