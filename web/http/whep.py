"""WHEP (watching a call's stage with one SDP offer), one implementation for its two
doors: `POST /whep/{call}` (web/http/whip.py: a call's bearer token, beside WHIP) and
`POST /watch/{token}/whep` (web/http/watch.py: a broadcast's watch link).

Every WHEP request goes the same way here: the door authorises it (before its body is
read), the offer is read and checked (validation.read_sdp: `application/sdp`, 64 KiB,
UTF-8, `v=0`), the door seats the viewer (which stage, after the offer), the stage
answers (`400` `bad_sdp` when it cannot, and the seat is released), and `201` carries
the answer and the session's `Location`. `DELETE` on that location: the door finds the
session (or refuses), it ends, the seat is released, `200`. A door says only what
differs: how a viewer is authorised, where it watches, its sessions' URLs, and the
headers of its every answer (CORS for third-party players at /whep/{call})."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from aiohttp import web

from calls.viewers import Viewer
from sfu.sdp import SdpError
from web.errors import Refused, json_error
from web.validation import SDP, read_sdp

A = TypeVar("A")


class Answered(Exception):
    """The request is answered already, with `response` (a cluster's redirect)."""

    def __init__(self, response: web.Response) -> None:
        super().__init__(response.status)
        self.response = response


async def _nothing() -> None:
    return None


@dataclass(frozen=True)
class Seat:
    """Where an authorised viewer watches: the stage that answers its offer (the viewer
    and the answer; SdpError when it cannot), its session's URL, and what is released
    once the offer was refused or the session ended (a room nobody is left in)."""

    add_viewer: Callable[[str], Awaitable[tuple[Viewer, str]]]
    location: Callable[[Viewer], str]
    # the bearer token the session's DELETE must send again (None: its URL alone)
    session_token: str | None = None
    release: Callable[[], Awaitable[None]] = _nothing


@dataclass(frozen=True)
class Session:
    """A WHEP session a DELETE found: the viewer, and what its end releases."""

    viewer: Viewer
    release: Callable[[], Awaitable[None]] = _nothing


class Door(ABC, Generic[A]):
    """One WHEP endpoint's own part. Its methods raise Refused (or Answered)."""

    # on every answer of this door, the errors' too
    headers: dict[str, str] = {}

    @abstractmethod
    async def authorise(self, request: web.Request) -> A:
        """Who may watch, before the offer is read."""

    @abstractmethod
    async def seat(self, request: web.Request, authorised: A) -> Seat:
        """Where they watch, once the offer was read."""

    @abstractmethod
    def session(self, request: web.Request) -> Session:
        """The session a DELETE ends."""

    def refused(self, request: web.Request, refused: Refused) -> web.Response:
        return json_error(
            request,
            refused.status,
            refused.code,
            refused.message,
            headers={**self.headers, **refused.headers},
            **refused.extra,
        )


async def watch(request: web.Request, door: Door[A]) -> web.Response:
    """`POST`: a viewer's offer; `201` with the answer and the session's `Location`."""
    try:
        authorised = await door.authorise(request)
        offer = await read_sdp(request)
        seat = await door.seat(request, authorised)
        try:
            viewer, answer = await seat.add_viewer(offer)
        except SdpError as exc:
            await seat.release()
            raise Refused(400, "bad_sdp", str(exc)) from exc
    except Answered as answered:
        return answered.response
    except Refused as refused:
        return door.refused(request, refused)
    viewer.session_token = seat.session_token
    headers = {**door.headers, "Access-Control-Expose-Headers": "Location"}
    return web.Response(
        status=201,
        text=answer,
        content_type=SDP,
        headers={**headers, "Location": seat.location(viewer)},
    )


async def end(request: web.Request, door: Door[A]) -> web.Response:
    """`DELETE` on a session's `Location`: it ends."""
    try:
        found = door.session(request)
    except Refused as refused:
        return door.refused(request, refused)
    await found.viewer.close()
    await found.release()
    return web.Response(status=200, headers=door.headers)
