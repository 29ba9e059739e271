"""Signalling for the peer benchmark: WHIP/WHEP (RFC 9725, parta) and the Janus HTTP
API (VideoRoom), both with complete offers (every candidate in the SDP, no trickle).

Adapted from ../shared/peer-bench/signaling.py."""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urljoin

import aiohttp


class SignalingError(RuntimeError):
    pass


class WhipResource:
    """POST an offer, get 201 with the answer and a Location; DELETE it at the end."""

    def __init__(self, url: str, http: aiohttp.ClientSession, token: str | None) -> None:
        self.url, self.http, self.token = url, http, token
        self.location: str | None = None

    def _headers(self, content_type: str | None = None) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        if content_type:
            headers["Content-Type"] = content_type
        return headers

    async def exchange(self, offer: str) -> str:
        async with self.http.post(
            self.url, data=offer.encode(), headers=self._headers("application/sdp")
        ) as response:
            body = await response.text()
            if response.status != 201:
                raise SignalingError(f"POST {self.url}: {response.status} {body[:200]!r}")
            location = response.headers.get("Location")
            if not location:
                raise SignalingError(f"POST {self.url}: 201 without Location")
            self.location = urljoin(self.url, location)
        return body

    async def delete(self) -> None:
        if self.location is None:
            return
        try:
            async with self.http.delete(self.location, headers=self._headers()) as response:
                await response.read()
        except (aiohttp.ClientError, OSError):
            pass
        self.location = None


def plugin_data(event: dict[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = event.get("plugindata", {}).get("data", {})
    return data


class JanusHandle:
    def __init__(self, session: JanusSession, handle_id: int) -> None:
        self.session, self.id = session, handle_id
        self.events: list[dict[str, Any]] = []
        self._new = asyncio.Event()

    def push(self, event: dict[str, Any]) -> None:
        self.events.append(event)
        self._new.set()

    async def wait_event(
        self, wanted: Callable[[dict[str, Any]], bool], timeout: float = 30.0
    ) -> dict[str, Any]:
        """The first event `wanted` accepts, taken from the queue."""
        deadline = time.monotonic() + timeout
        while True:
            for i, event in enumerate(self.events):
                if wanted(event):
                    del self.events[i]
                    return event
            left = deadline - time.monotonic()
            if left <= 0:
                raise SignalingError(f"Janus handle {self.id}: no such event in {timeout} s")
            self._new.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._new.wait(), left)

    async def message(
        self, body: dict[str, Any], jsep: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        request: dict[str, Any] = {"janus": "message", "body": body}
        if jsep is not None:
            request["jsep"] = jsep
        return await self.session.post(f"/{self.session.id}/{self.id}", request)


class JanusSession:
    """One Janus session over its HTTP transport, with a long-poll task for events
    (which also keeps the session alive)."""

    def __init__(self, base_url: str, http: aiohttp.ClientSession) -> None:
        self.base, self.http = base_url.rstrip("/"), http
        self.id: int | None = None
        self.handles: dict[int, JanusHandle] = {}
        self._poll: asyncio.Task[None] | None = None
        self.closed = False

    async def post(self, path: str, request: dict[str, Any]) -> dict[str, Any]:
        request = {**request, "transaction": secrets.token_hex(6)}
        async with self.http.post(self.base + path, data=json.dumps(request)) as response:
            answer: dict[str, Any] = json.loads(await response.text())
        if answer.get("janus") == "error":
            raise SignalingError(f"Janus refused {request['janus']}: {answer.get('error')}")
        return answer

    async def create(self, attempts: int = 50) -> None:
        for _ in range(attempts):
            try:
                self.id = (await self.post("", {"janus": "create"}))["data"]["id"]
                break
            except (aiohttp.ClientError, OSError):
                await asyncio.sleep(0.2)  # Janus is not up yet
        else:
            raise SignalingError(f"Janus at {self.base} does not answer")
        self._poll = asyncio.create_task(self._long_poll())

    async def attach(self) -> JanusHandle:
        answer = await self.post(
            f"/{self.id}", {"janus": "attach", "plugin": "janus.plugin.videoroom"}
        )
        handle = self.handles[answer["data"]["id"]] = JanusHandle(self, answer["data"]["id"])
        return handle

    async def _long_poll(self) -> None:
        while not self.closed:
            try:
                async with self.http.get(
                    f"{self.base}/{self.id}",
                    params={"maxev": "20", "rid": str(time.time_ns())},
                    timeout=aiohttp.ClientTimeout(total=70),
                ) as response:
                    events = json.loads(await response.text())
            except (aiohttp.ClientError, OSError, TimeoutError, ValueError):
                await asyncio.sleep(0.5)
                continue
            for event in events if isinstance(events, list) else [events]:
                handle = self.handles.get(event.get("sender"))
                if handle is not None:
                    handle.push(event)

    async def destroy(self) -> None:
        self.closed = True
        if self._poll is not None:
            self._poll.cancel()
        if self.id is not None:
            with contextlib.suppress(aiohttp.ClientError, OSError, SignalingError):
                await self.post(f"/{self.id}", {"janus": "destroy"})


def is_jsep(event: dict[str, Any]) -> bool:
    return event.get("janus") == "event" and "jsep" in event


def is_webrtcup(event: dict[str, Any]) -> bool:
    return event.get("janus") == "webrtcup"


async def janus_publish(session: JanusSession, room: int, feed: int, offer: str) -> str:
    """Join `room` as publisher `feed` and publish `offer`; the answer."""
    handle = await session.attach()
    await handle.message({"request": "join", "ptype": "publisher", "room": room, "id": feed})
    joined = await handle.wait_event(
        lambda e: plugin_data(e).get("videoroom") == "joined" or "error" in plugin_data(e)
    )
    if "error" in plugin_data(joined):
        raise SignalingError(f"Janus join: {plugin_data(joined)}")
    await handle.message(
        {"request": "publish", "audiocodec": "opus", "videocodec": "vp8"},
        jsep={"type": "offer", "sdp": offer},
    )
    answered = await handle.wait_event(lambda e: is_jsep(e) or "error" in plugin_data(e))
    if "jsep" not in answered:
        raise SignalingError(f"Janus publish: {plugin_data(answered)}")
    return str(answered["jsep"]["sdp"])
