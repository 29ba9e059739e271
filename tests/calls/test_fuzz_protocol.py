"""Property-based fuzzing of the call protocol: every client message type, with fields
plausible and absurd, and garbage besides, sent by a host over the call WebSocket of a
real server (in-process, its own loop and thread). Bounded in count.

What must hold: every message is answered (an `error` in our words, or what the message
asks for), never with an internal error or a traceback in the log; the fuzzer's socket
keeps working (or closes as the message said: leave, end call); another user's call
next door is untouched.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, get_args

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from calls.dispatch import ClientMessage
from calls.protocol import SOURCES
from tests.support.accounts import sign_up
from web.app import create_app
from web.config import Config

EXAMPLES = int(os.environ.get("PARTA_FUZZ_EXAMPLES", "12")) * 12
TYPES = [model.model_fields["type"].default for model in get_args(ClientMessage)]
# messages after which the socket is meant to close, or the call to end
PARTING = {"leave", "end_call"}

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=40),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
SDP = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
plausible: dict[str, st.SearchStrategy[Any]] = {
    "version": st.sampled_from([1, 0, 2, -1, 2**64]),
    "call": st.sampled_from(["fuzz-room", "victim-room", "../x", ""]) | st.text(max_size=70),
    "name": st.text(max_size=80),
    "host_token": st.none() | st.text(max_size=140),
    "link": st.none() | st.text(max_size=140),
    "sdp": st.sampled_from([SDP, "v=0", "hello", SDP + "m=video 9 UDP/TLS/RTP/SAVPF 96\r\n"])
    | st.text(max_size=200).map(lambda t: "v=0\r\n" + t),
    "tracks": st.lists(
        st.fixed_dictionaries(
            {"mid": st.sampled_from(["0", "1", ""]) | st.text(max_size=40)},
            optional={"source": st.sampled_from(SOURCES) | st.text(max_size=10)},
        ),
        max_size=20,
    ),
    "source": st.sampled_from(SOURCES) | st.text(max_size=10),
    "peer_id": st.sampled_from(["victim", "nobody"]) | st.text(max_size=70),
    "role": st.sampled_from(["cohost", "participant", "host", "king"]),
    "muted": st.booleans(),
    "lock": st.booleans(),
    "enabled": st.booleans(),
    "public": st.booleans(),
    "org_id": st.none() | st.text(max_size=70),
}


@st.composite
def messages(draw: st.DrawFn) -> str | bytes:
    """One WebSocket message: mostly a known type with fields plausible or not."""
    choice = draw(st.integers(0, 9))
    if choice == 0:
        return draw(st.text(max_size=200))  # garbage text
    if choice == 1:
        return draw(st.binary(max_size=64))  # a binary frame
    kind = draw(st.sampled_from(TYPES))
    fields: dict[str, Any] = {"type": kind}
    model = next(m for m in get_args(ClientMessage) if m.model_fields["type"].default == kind)
    for name in model.model_fields:
        if name == "type" or draw(st.integers(0, 9)) == 0:
            continue  # sometimes left out
        sane = plausible.get(name, json_values)
        fields[name] = draw(sane if draw(st.integers(0, 3)) else json_values)
    if draw(st.integers(0, 9)) == 0:
        fields[draw(st.text(max_size=8))] = draw(json_values)  # an unknown field
    return json.dumps(fields)


class Errors(logging.Handler):
    """Errors logged (there must be none), and warnings (to say why a socket closed)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[str] = []
        self.warnings: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        found = self.records if record.levelno >= logging.ERROR else self.warnings
        found.append(self.format(record))


class Harness:
    """A server and two users, in a loop of their own: the fuzzer (host of one call) and
    a teacher in the call next door."""

    def __init__(self, data_dir: Path) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.errors = Errors()
        logging.getLogger().addHandler(self.errors)
        self.run(self._start(data_dir))
        self.rooms = 0

    def run(self, coroutine: Any, timeout: float = 30) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    async def _start(self, data_dir: Path) -> None:
        self.server = TestServer(
            create_app(Config(data_dir=data_dir, speech_model=None)), host="127.0.0.1"
        )
        await self.server.start_server()
        self.base = str(self.server.make_url("/"))
        self.http = aiohttp.ClientSession()
        self.fuzzer_token, _ = await sign_up(self.http, self.base, "Fuzzer")
        self.victim_token, _ = await sign_up(self.http, self.base, "Victim")
        self.victim = await self._join(self.victim_token, "victim-room")
        self.fuzzer = await self._join(self.fuzzer_token, "fuzz-room")

    async def _join(self, token: str, call: str) -> aiohttp.ClientWebSocketResponse:
        ws = await self.http.ws_connect(
            f"{self.base}ws", headers={"Authorization": f"Bearer {token}"}
        )
        await ws.send_json({"type": "join", "version": 1, "call": call, "name": "Т"})
        await self._until(ws, "joined")
        return ws

    async def _until(
        self, ws: aiohttp.ClientWebSocketResponse, wanted: str
    ) -> list[dict[str, Any]]:
        seen = []
        while True:
            message = await ws.receive(timeout=10)
            if message.type != aiohttp.WSMsgType.TEXT:
                raise ConnectionError(f"the socket closed: {message.type}")
            data = json.loads(message.data)
            seen.append(data)
            if data["type"] == wanted:
                return seen

    async def send(self, message: str | bytes) -> list[dict[str, Any]]:
        """Send it, then a ping: the server answers in order, so all it said in reply
        comes before the pong. A message that parts (leave, end call) ends the socket:
        the fuzzer joins a new call."""
        ws = self.fuzzer
        self.sent = [*getattr(self, "sent", [])[-4:], message]
        if isinstance(message, bytes):
            await ws.send_bytes(message)
        else:
            await ws.send_str(message)
        try:
            await ws.send_json({"type": "ping"})
            self.replies = await self._until(ws, "pong")
            return self.replies
        except (ConnectionError, ConnectionResetError, aiohttp.ClientError) as exc:
            self.why = f"{exc!r} {ws.close_code} after {getattr(self, 'replies', None)}"
            self.rooms += 1
            self.fuzzer = await self._join(self.fuzzer_token, f"fuzz-room-{self.rooms}")
            return [{"type": "closed"}]

    async def victim_ok(self) -> bool:
        await self.victim.send_json({"type": "ping"})
        seen = await self._until(self.victim, "pong")
        return not [m for m in seen if m["type"] in ("removed", "call_ended", "muted_by_host")]

    async def close(self) -> None:
        await self.victim.close()
        await self.fuzzer.close()
        await self.http.close()
        await self.server.close()

    def stop(self) -> None:
        self.run(self.close())
        logging.getLogger().removeHandler(self.errors)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


@pytest.fixture(scope="module")
def harness(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    harness = Harness(tmp_path_factory.mktemp("fuzz-protocol"))
    yield harness
    harness.stop()


def _kind(message: str | bytes) -> object:
    try:
        parsed = json.loads(message)
    except ValueError:
        return None
    return parsed.get("type") if isinstance(parsed, dict) else None


@given(message=messages())
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_every_message_is_answered_in_our_words(harness: Harness, message: str | bytes) -> None:
    replies = harness.run(harness.send(message))
    if replies == [{"type": "closed"}]:
        # a leave or an end of call closes the socket as soon as the server is done
        # with it, which may be a message or two later
        assert any(_kind(m) in PARTING for m in harness.sent), (
            harness.why,
            harness.errors.warnings[-3:],
            harness.sent,
        )
        return
    for reply in replies:
        if reply["type"] == "error":
            assert reply["code"] != "internal", (message, reply)
            assert reply["message"] and "Traceback" not in reply["message"], reply
            assert "object is not" not in reply["message"], reply


def test_after_the_fuzzing_the_call_next_door_is_untouched(harness: Harness) -> None:
    assert harness.run(harness.victim_ok())
    room = harness.server.app
    from web import keys

    calls = room[keys.CALLS]
    assert "victim-room" in calls.rooms and len(calls.rooms["victim-room"].peers) == 1
    assert not harness.errors.records, harness.errors.records[:3]
