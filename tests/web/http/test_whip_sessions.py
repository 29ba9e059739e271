"""Only a WHIP or WHEP session's own client ends it (issue 15, finding 6): its DELETE and
PATCH carry the bearer token its POST sent, at a URL whose last part is a secret the
`201` told it (not the peer id every participant sees in `peer_joined`). The watch page's
viewer, which has no bearer token, is ended by its secret URL alone."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
from aiohttp import web

from tests.calls.test_call import wait_for
from tests.support.client import CallClient
from tests.web.http.test_whip_whep import auth, watch_at, whep_watch, whip_publish
from web import keys


async def answer(
    http: aiohttp.ClientSession, method: str, url: str, token: str | None
) -> tuple[int, dict[str, Any] | None]:
    """The status and JSON error of a request to a session, with `token` as bearer."""
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    async with http.request(method, url, headers=headers) as response:
        json = await response.json() if response.content_type == "application/json" else None
        return response.status, json


async def test_a_whip_publisher_is_removed_only_with_its_own_token(
    app: web.Application, base_url: str, http: aiohttp.ClientSession
) -> None:
    base = base_url.rstrip("/")
    host = CallClient(http, base_url, "lesson", "teacher")
    await host.join()
    pupil = CallClient(http, base_url, "lesson", "pupil")
    await pupil.join()  # with the invite link, as the class has it
    link = host.invite_token
    assert link is not None
    publisher, location = await whip_publish(http, base_url, "lesson", 1, name="Host camera")
    await wait_for(lambda: any(p["name"] == "Host camera" for p in pupil.peers.values()))
    # the pupil sees the publisher's peer id, and holds the link the publisher used
    peer_id = next(i for i, p in pupil.peers.items() if p["name"] == "Host camera")
    room = app[keys.CALLS].rooms["lesson"]
    errors = app[keys.METRICS].http_errors

    def counted(status: str) -> float:
        return errors.labels("/whip/{call}/{session}", status)._value.get()

    assert pupil.joined is not None
    pupil_token = pupil.joined["host_token"]
    assert await answer(http, "DELETE", base + location, None) == (
        401,
        {"error": "unauthorized", "message": "send the bearer token this session was opened with"},
    )
    nothing_here = (404, {"error": "not_found", "message": "no such WHIP session"})
    for url, token in (
        (base + location, pupil_token),  # another participant's own token
        (base + location, "not-a-token"),
        (f"{base}/whip/lesson/{peer_id}", link),  # the peer id and the publisher's token
        (f"{base}/whip/lesson/{peer_id}", pupil_token),
        (f"{base}/whip/lesson/no-such-session", link),  # as if it did not exist
    ):
        assert await answer(http, "DELETE", url, token) == nothing_here, url
    # PATCH: the token first, then "not supported"
    assert (await answer(http, "PATCH", base + location, None))[0] == 401
    assert await answer(http, "PATCH", base + location, pupil_token) == nothing_here
    assert (await answer(http, "PATCH", base + location, link))[0] == 405
    assert counted("401") == 2 and counted("404") == 6
    # the publisher is still in the call
    await asyncio.sleep(0.3)
    assert peer_id in room.peers and peer_id in pupil.peers
    assert peer_id not in location  # the session's URL is not the peer's id

    assert await answer(http, "DELETE", base + location, link) == (200, None)
    await wait_for(lambda: peer_id not in pupil.peers)
    assert peer_id not in room.peers
    assert await answer(http, "DELETE", base + location, link) == nothing_here
    await publisher.close()  # type: ignore[attr-defined]
    await pupil.close()
    await host.close()


async def test_a_whep_viewer_is_ended_only_with_its_own_token(
    app: web.Application, base_url: str, http: aiohttp.ClientSession
) -> None:
    base = base_url.rstrip("/")
    host = CallClient(http, base_url, "stage", "teacher")
    await host.join()
    assert host.joined is not None
    host_token = host.joined["host_token"]
    viewer_pc, location, _ = await whep_watch(http, base_url, "stage")  # with the link
    room = app[keys.CALLS].rooms["stage"]
    (viewer,) = room.viewers.values()
    link = host.invite_token
    assert (await answer(http, "DELETE", base + location, None))[0] == 401
    for url, token in (
        (base + location, host_token),  # even a host's: not the session's token
        (f"{base}/whep/stage/{viewer.id}", link),  # the viewer's id is not its session
        (f"{base}/whip/stage/{location.rsplit('/', 1)[1]}", link),  # nor a WHIP session
    ):
        status, error = await answer(http, "DELETE", url, token)
        assert status == 404 and error is not None and error["error"] == "not_found", url
    assert (await answer(http, "PATCH", base + location, None))[0] == 401
    assert (await answer(http, "PATCH", base + location, link))[0] == 405
    assert list(room.viewers.values()) == [viewer]
    assert viewer.id not in location
    assert await answer(http, "DELETE", base + location, link) == (200, None)
    assert not room.viewers
    await viewer_pc.close()
    await host.close()


async def test_a_watch_page_viewer_is_ended_by_its_secret_location_only(
    app: web.Application, base_url: str, http: aiohttp.ClientSession
) -> None:
    base = base_url.rstrip("/")
    host = CallClient(http, base_url, "assembly", "teacher")
    await host.join()
    told = host.expect("broadcast_link")
    await host.send({"type": "start_broadcast", "public": True})
    watch_link = (await asyncio.wait_for(told, 10))["watch_link"]
    pc, location, _ = await watch_at(http, f"{base}{watch_link}/whep", {})
    room = app[keys.CALLS].rooms["assembly"]
    (viewer,) = (v for v in room.viewers.values() if not v.feeds_edge)
    assert location.startswith(f"{watch_link}/whep/")
    # whoever has the (public) watch link and a viewer's id cannot end its session
    async with http.delete(f"{base}{watch_link}/whep/{viewer.id}") as response:
        assert response.status == 404
        assert (await response.json())["error"] == "not_found"
    # nor can the call's invite link end it through /whep/{call}
    session = location.rsplit("/", 1)[1]
    whep_url = f"{base}/whep/assembly/{session}"
    async with http.delete(whep_url, headers=auth(base_url, "assembly")) as response:
        assert response.status == 404
    assert viewer in room.viewers.values() and viewer.id not in location
    async with http.delete(base + location) as response:  # as the watch page does
        assert response.status == 200
    assert viewer not in room.viewers.values()
    await pc.close()
    await host.close()


async def test_the_last_viewer_ending_its_session_releases_the_room_at_either_door(
    app: web.Application, base_url: str, http: aiohttp.ClientSession
) -> None:
    """Both WHEP doors share one implementation (web/http/whep.py): a call that only
    viewers kept open closes when the last of them ends its session, whether it watched
    at /whep/{call} or at a broadcast's /watch/{token}/whep."""
    base = base_url.rstrip("/")
    calls = app[keys.CALLS]
    host = CallClient(http, base_url, "door-one", "teacher")
    await host.join()
    pc, location, _ = await whep_watch(http, base_url, "door-one")
    await host.close()
    await asyncio.sleep(0.3)
    assert "door-one" in calls.rooms  # its viewer keeps it open
    async with http.delete(base + location, headers=auth(base_url, "door-one")) as response:
        assert response.status == 200
    await wait_for(lambda: "door-one" not in calls.rooms)
    await pc.close()

    host = CallClient(http, base_url, "door-two", "teacher")
    await host.join()
    told = host.expect("broadcast_link")
    await host.send({"type": "start_broadcast", "public": True})
    watch_link = (await asyncio.wait_for(told, 10))["watch_link"]
    pc, location, _ = await watch_at(http, f"{base}{watch_link}/whep", {})
    await host.close()
    await asyncio.sleep(0.3)
    assert "door-two" in calls.rooms
    async with http.delete(base + location) as response:
        assert response.status == 200
    await wait_for(lambda: "door-two" not in calls.rooms)
    await pc.close()
