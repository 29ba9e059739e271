"""A participant built on aiortc that speaks parta's call protocol, as the web client does."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable
from typing import Any

import aiohttp
from aiortc import (
    MediaStreamTrack,
    RTCBundlePolicy,
    RTCConfiguration,
    RTCPeerConnection,
    RTCRtpTransceiver,
    RTCSessionDescription,
)
from aiortc.exceptions import InvalidStateError

from sfu import aiortc_seam as seam
from tests.support.accounts import bearer, sign_up
from tests.support.media import TrackRecorder


def loopback_pc() -> RTCPeerConnection:
    # never aiortc's default public STUN server
    return RTCPeerConnection(
        RTCConfiguration(iceServers=[], bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)
    )


# The invite link each call's host was given, by (server, call): clients of one test
# use it as a class uses the link its teacher shared. `join(link=...)` overrides it.
SHARED_LINKS: dict[tuple[str, str], str] = {}


class CallClient:
    def __init__(
        self,
        http: aiohttp.ClientSession,
        base_url: str,
        call: str,
        name: str,
        *,
        keep_incoming: Callable[[bytes], bool] | None = None,
        keep_outgoing: Callable[[bytes], bool] | None = None,
    ) -> None:
        self.keep_incoming = keep_incoming
        self.keep_outgoing = keep_outgoing
        self.joined_at: float | None = None
        self.http = http
        self.url = base_url.rstrip("/").replace("http", "ws", 1) + "/ws"
        self.call = call
        self.name = name
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.peer_id: str | None = None
        self.peers: dict[str, dict[str, Any]] = {}
        self.active_speaker: str | None = None
        self.messages: list[dict[str, Any]] = []
        self.errors: list[dict[str, Any]] = []
        self.publish_pc: RTCPeerConnection | None = None
        self.subscribe_pc = loopback_pc()
        self.recorders: dict[tuple[str, str], TrackRecorder] = {}  # (peer_id, source)
        self.mid_map: dict[str, dict[str, Any]] = {}
        self.transceivers: dict[str, RTCRtpTransceiver] = {}
        self._reader: asyncio.Task[None] | None = None
        self._filtering = False
        self.joined: dict[str, Any] | None = None
        self.session_token: str | None = None
        self.waiting_list: dict[str, Any] | None = None
        self._waiters: list[tuple[str, asyncio.Future[dict[str, Any]]]] = []
        self.subscribe_pc.on("track", self._on_track)

    async def join(
        self,
        *,
        expect: str = "joined",
        host_token: str | None = None,
        link: str | bool | None = True,
    ) -> dict[str, Any]:
        """Join; `expect="waiting"` when the waiting room should hold this client.
        `link`: the join link's token; True for the one this call's host was given, if
        any; None for none."""
        if self.session_token is None:  # each participant is a user of their own
            base = self.url.removesuffix("/ws").replace("ws", "http", 1)
            self.session_token, _ = await sign_up(self.http, base, self.name)
        self.joined_at = time.monotonic()  # the join itself, not the sign-up before it
        self.ws = await self.http.ws_connect(self.url, headers=bearer(self.session_token))
        self._reader = asyncio.create_task(self._read())
        message: dict[str, Any] = {
            "type": "join",
            "version": 1,
            "call": self.call,
            "name": self.name,
        }
        if host_token is not None:
            message["host_token"] = host_token
        if link is True:
            link = SHARED_LINKS.get((self.url, self.call))
        if isinstance(link, str):
            message["link"] = link
        reply = await self.request(message, expect)
        if reply["type"] == "redirect":  # a cluster: the call is on another node
            await self.ws.close()
            if self._reader is not None:
                self._reader.cancel()
            self.url = reply["node"].replace("http", "ws", 1) + "/ws"
            return await self.join(expect=expect, host_token=host_token, link=link)
        self.peer_id = reply.get("peer_id")
        return reply

    def _keep_link(self, path: str | None) -> None:
        if path:
            SHARED_LINKS[(self.url, self.call)] = path.rsplit("/", 1)[-1]

    @property
    def invite_token(self) -> str | None:
        return SHARED_LINKS.get((self.url, self.call))

    def _on_joined(self, joined: dict[str, Any]) -> None:
        self.peer_id = joined["peer_id"]
        self.joined = joined
        self._keep_link(joined.get("invite_link"))
        for peer in joined["peers"]:
            self.peers[peer["id"]] = peer
        self.active_speaker = joined["active_speaker"]

    async def send(self, message: dict[str, Any] | str) -> None:
        assert self.ws is not None
        await self.ws.send_str(message if isinstance(message, str) else json.dumps(message))

    def expect(self, kind: str) -> asyncio.Future[dict[str, Any]]:
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiters.append((kind, future))
        return future

    async def request(
        self, message: dict[str, Any] | str, reply: str, timeout: float = 10
    ) -> dict[str, Any]:
        future = self.expect(reply)
        await self.send(message)
        return await asyncio.wait_for(future, timeout)

    async def publish(self, tracks: list[tuple[MediaStreamTrack, str]]) -> dict[str, Any]:
        if self.publish_pc is None:
            self.publish_pc = loopback_pc()
        pc = self.publish_pc
        listed = []
        for track, source in tracks:
            transceiver = pc.addTransceiver(track, direction="sendonly")
            self.transceivers[source] = transceiver
        await pc.setLocalDescription(await pc.createOffer())
        for source, transceiver in self.transceivers.items():
            listed.append({"mid": transceiver.mid, "source": source})
        reply = await self.request(
            {"type": "publish", "sdp": pc.localDescription.sdp, "tracks": listed}, "publish_answer"
        )
        await pc.setRemoteDescription(RTCSessionDescription(sdp=reply["sdp"], type="answer"))
        if self.keep_outgoing is not None:
            dtls = seam.dtls_transport_of(pc)
            assert dtls is not None
            seam.filter_outgoing(dtls, self.keep_outgoing)
        return reply

    async def _read(self) -> None:
        assert self.ws is not None
        async for msg in self.ws:
            if msg.type != aiohttp.WSMsgType.TEXT:
                break
            data = json.loads(msg.data)
            self.messages.append(data)
            kind = data["type"]
            if kind == "joined":
                self._on_joined(data)
            elif kind in ("link_changed", "role_changed"):
                self._keep_link(data.get("invite_link"))
            elif kind == "waiting_list":
                self.waiting_list = data
            elif kind == "error":
                self.errors.append(data)
            elif kind == "subscribe_offer":
                if self.subscribe_pc.connectionState != "closed":
                    # after removal or the end of the call the connection is gone
                    with contextlib.suppress(InvalidStateError):
                        await self._on_subscribe_offer(data)
            elif kind in ("peer_joined", "peer_updated"):
                self.peers[data["peer"]["id"]] = data["peer"]
            elif kind == "peer_left":
                self.peers.pop(data["peer_id"], None)
            elif kind == "active_speaker":
                self.active_speaker = data["peer_id"]
            for waiter in list(self._waiters):
                if kind == "redirect" and waiter[0] in ("joined", "waiting"):
                    kind = waiter[0]  # the join's answer is: elsewhere
                if waiter[0] == kind and not waiter[1].done():
                    waiter[1].set_result(data)
                    self._waiters.remove(waiter)
                    break

    async def _on_subscribe_offer(self, data: dict[str, Any]) -> None:
        for track in data["tracks"]:
            self.mid_map[track["mid"]] = track
        pc = self.subscribe_pc
        await pc.setRemoteDescription(RTCSessionDescription(sdp=data["sdp"], type="offer"))
        await pc.setLocalDescription(await pc.createAnswer())
        if self.keep_incoming is not None and not self._filtering:
            dtls = seam.dtls_transport_of(pc)
            if dtls is not None:
                seam.filter_datagrams(dtls, self.keep_incoming)
                self._filtering = True
        await self.send({"type": "subscribe_answer", "sdp": pc.localDescription.sdp})

    def _on_track(self, track: MediaStreamTrack) -> None:
        for transceiver in self.subscribe_pc.getTransceivers():
            if transceiver.receiver.track is track:
                info = self.mid_map.get(str(transceiver.mid))
                if info is not None:
                    self.recorders[(info["peer_id"], info["source"])] = TrackRecorder(track)

    async def close(self) -> None:
        for recorder in self.recorders.values():
            await recorder.stop()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        if self.ws is not None:
            await self.ws.close()
        for pc in (self.publish_pc, self.subscribe_pc):
            if pc is not None:
                await pc.close()
