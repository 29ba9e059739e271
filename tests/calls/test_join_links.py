"""Join links: who may enter a call, and a host revoking and regenerating its link."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
from aiohttp import web

from tests.support.client import CallClient, loopback_pc
from tests.support.media import ToneAudioTrack
from tests.support.server import Restartable
from tests.web.http.test_whip_whep import whep_watch, whip_publish

LESSON = {
    "title": "Chemistry 9a",
    "start": "2030-03-18T09:00",
    "time_zone": "Europe/Berlin",
    "duration": "45m",
    "waiting_room": False,
}


async def test_a_call_takes_only_its_link_holders_and_its_hosts(
    base_url: str, http: aiohttp.ClientSession
) -> None:
    teacher = CallClient(http, base_url, "links", "teacher")
    joined = await teacher.join()
    assert joined["role"] == "host"
    path = joined["invite_link"]
    assert path.startswith("/join/") and len(path) > len("/join/") + 20
    first = teacher.invite_token
    student = CallClient(http, base_url, "links", "student")
    joined = await student.join(link=first)
    assert joined["role"] == "participant" and joined["invite_link"] is None
    stranger = CallClient(http, base_url, "links", "stranger")
    refused = await stranger.join(expect="error", link=None)
    assert refused["code"] == "bad_link" and "invite link" in refused["message"]
    guess = CallClient(http, base_url, "links", "guesser")
    assert (await guess.join(expect="error", link="x" * 24))["code"] == "bad_link"

    # only a host may change the link
    denied = await student.request({"type": "new_link"}, "error")
    assert denied["code"] == "forbidden"

    # regenerate: the old link stops working, the new one works, the host is told
    changed = await teacher.request({"type": "new_link"}, "link_changed")
    second = changed["invite_link"].rsplit("/", 1)[1]
    assert second != first
    late = CallClient(http, base_url, "links", "late with the old link")
    assert (await late.join(expect="error", link=first))["code"] == "bad_link"
    fresh = CallClient(http, base_url, "links", "late with the new link")
    await fresh.join(link=second)

    # revoke: no link works; a host still comes back with their token
    changed = await teacher.request({"type": "revoke_link"}, "link_changed")
    assert changed["invite_link"] is None
    nobody = CallClient(http, base_url, "links", "after revoke")
    assert (await nobody.join(expect="error", link=second))["code"] == "bad_link"
    token = teacher.joined["host_token"] if teacher.joined else None
    await teacher.close()
    back = CallClient(http, base_url, "links", "teacher")
    rejoined = await back.join(host_token=token, link=None)
    assert rejoined["role"] == "host" and rejoined["invite_link"] is None
    for client in (student, stranger, guess, late, fresh, nobody, back):
        await client.close()


async def test_links_over_http_and_the_join_page(
    base_url: str, http: aiohttp.ClientSession
) -> None:
    teacher = CallClient(http, base_url, "by-http", "teacher")
    joined = await teacher.join()
    host_token = joined["host_token"]
    old = teacher.invite_token
    async with http.get(f"{base_url}join/{old}", allow_redirects=False) as response:
        assert response.status == 302
        assert response.headers["Location"] == f"/call/by-http?link={old}"
    endpoint = f"{base_url}api/calls/by-http/link"
    async with http.post(endpoint) as response:
        assert response.status == 401 and (await response.json())["error"] == "unauthorized"
    # a participant's link is not a host's token; a wrong call answers the same
    for url, token in ((endpoint, old), (f"{base_url}api/calls/nope/link", host_token)):
        async with http.post(url, headers={"X-Parta-Host-Token": token}) as response:
            assert response.status == 404 and (await response.json())["error"] == "not_found"
    told = teacher.expect("link_changed")
    async with http.post(endpoint, headers={"X-Parta-Host-Token": host_token}) as response:
        assert response.status == 200
        body = await response.json()
    new = body["invite_link"].rsplit("/", 1)[1]
    assert body["url"].endswith(body["invite_link"]) and new != old
    assert (await asyncio.wait_for(told, 5))["invite_link"] == body["invite_link"]
    async with http.get(f"{base_url}join/{old}", allow_redirects=False) as response:
        assert response.status == 404 and response.content_type == "text/html"
        assert "does not work any more" in await response.text()
    async with http.delete(endpoint, headers={"X-Parta-Host-Token": host_token}) as r:
        assert r.status == 200 and (await r.json())["invite_link"] is None
    async with http.get(f"{base_url}join/{new}", allow_redirects=False) as response:
        assert response.status == 404
    await teacher.close()


async def test_a_scheduled_calls_new_link_is_kept_across_a_restart(
    tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    started = Restartable(tmp_path).start

    server, base = await started()
    async with http.post(f"{base}api/schedule", json=LESSON) as response:
        created = await response.json()
    call, host_key = created["call"], created["host_link"].split("?host=")[1]
    old = created["link"].rsplit("/", 1)[1]
    # the organiser's key works before anyone opened the call
    async with http.post(
        f"{base}api/calls/{call}/link", headers={"X-Parta-Host-Token": host_key}
    ) as response:
        new = (await response.json())["invite_link"].rsplit("/", 1)[1]
    await server.close()

    server, base = await started()
    try:
        async with http.get(f"{base}api/schedule/{created['id']}") as response:
            assert (await response.json())["link"].endswith(f"/join/{new}")
        for token, expected in ((old, 404), (new, 302)):
            async with http.get(f"{base}join/{token}", allow_redirects=False) as response:
                assert response.status == expected
        student = CallClient(http, base, call, "student")
        assert (await student.join(expect="error", link=old))["code"] == "bad_link"
        await student.close()
        student = CallClient(http, base, call, "student")
        joined = await student.join(link=new)
        # the first to come to a scheduled lesson is not its host: the organiser is
        assert joined["role"] == "participant"
        teacher = CallClient(http, base, call, "teacher")
        assert (await teacher.join(host_token=host_key, link=None))["role"] == "host"
        await student.close()
        await teacher.close()
    finally:
        await server.close()


async def test_whip_and_whep_follow_the_same_rules(
    app: web.Application, base_url: str, http: aiohttp.ClientSession
) -> None:
    teacher = CallClient(http, base_url, "gated", "teacher")
    joined = await teacher.join()
    link, host_token = teacher.invite_token, joined["host_token"]
    assert link is not None
    # with the waiting room on, a link holder cannot skip it over HTTP; a host can
    await teacher.request({"type": "set_waiting_room", "enabled": True}, "waiting_list")
    for endpoint in ("whip", "whep"):
        pc = loopback_pc()
        pc.addTransceiver(ToneAudioTrack(440), direction="sendrecv")
        await pc.setLocalDescription(await pc.createOffer())
        async with http.post(
            f"{base_url}{endpoint}/gated",
            data=pc.localDescription.sdp,
            headers={"Content-Type": "application/sdp", "Authorization": f"Bearer {link}"},
        ) as response:
            assert response.status == 403
            assert (await response.json())["error"] == "waiting_room"
        await pc.close()
    publisher, _ = await whip_publish(http, base_url, "gated", 1, token=host_token)
    viewer, _, _ = await whep_watch(http, base_url, "gated", token=host_token)
    # with it off, the link is enough; once revoked, it is not
    await teacher.request({"type": "set_waiting_room", "enabled": False}, "waiting_list")
    second, _ = await whip_publish(http, base_url, "gated", 2, token=link)
    await teacher.request({"type": "revoke_link"}, "link_changed")
    pc = loopback_pc()
    pc.addTransceiver("audio", direction="recvonly")
    await pc.setLocalDescription(await pc.createOffer())
    async with http.post(
        f"{base_url}whep/gated",
        data=pc.localDescription.sdp,
        headers={"Content-Type": "application/sdp", "Authorization": f"Bearer {link}"},
    ) as response:
        assert response.status == 404
    for each in (pc, publisher, viewer, second):
        await each.close()  # type: ignore[attr-defined]
    await teacher.close()


async def test_a_restart_keeps_a_live_calls_link_hosts_and_waiting_room(
    tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    started = Restartable(tmp_path).start

    server, base = await started()
    teacher = CallClient(http, base, "resumed", "teacher")
    host_token = (await teacher.join())["host_token"]
    link = teacher.invite_token
    await teacher.request({"type": "set_waiting_room", "enabled": True}, "waiting_list")
    ended = CallClient(http, base, "over-for-today", "teacher")
    await ended.join()
    told = ended.expect("call_ended")
    await ended.send({"type": "end_call"})
    await asyncio.wait_for(told, 5)
    await server.close()  # everyone is cut off, as by a crash or an upgrade
    await teacher.close()
    await ended.close()

    server, base = await started()
    try:
        # a student who reconnects first is not made host: they wait, as before
        student = CallClient(http, base, "resumed", "student")
        waiting = await student.join(expect="waiting", link=link)
        assert waiting["title"] == "resumed"
        stranger = CallClient(http, base, "resumed", "stranger")
        assert (await stranger.join(expect="error", link=None))["code"] == "bad_link"
        back = CallClient(http, base, "resumed", "teacher")
        joined = await back.join(host_token=host_token, link=None)
        assert joined["role"] == "host" and joined["invite_link"] == f"/join/{link}"
        # the ended call is still held
        again = CallClient(http, base, "over-for-today", "teacher")
        assert (await again.join(expect="error", link=None))["code"] == "call_ended"
        for client in (student, stranger, back, again):
            await client.close()
    finally:
        await server.close()


async def test_someone_in_the_call_gets_back_in_after_the_link_changed(
    base_url: str, http: aiohttp.ClientSession
) -> None:
    teacher = CallClient(http, base_url, "blink", "teacher")
    await teacher.join()
    student = CallClient(http, base_url, "blink", "student")
    joined = await student.join()
    rejoin = joined["host_token"]
    assert joined["role"] == "participant" and rejoin
    await teacher.request({"type": "new_link"}, "link_changed")
    await teacher.request({"type": "set_waiting_room", "enabled": True}, "waiting_list")
    await student.close()  # the network blinks
    back = CallClient(http, base_url, "blink", "student")
    again = await back.join(host_token=rejoin, link=None)  # no waiting: admitted before
    assert again["role"] == "participant"
    # a participant's token is no host's: it changes no link
    assert (await back.request({"type": "new_link"}, "error"))["code"] == "forbidden"
    # removed, their token stops working: with the link they wait at the door
    await teacher.send({"type": "remove_participant", "peer_id": back.peer_id})
    await asyncio.sleep(0.2)
    refused = CallClient(http, base_url, "blink", "student")
    assert (await refused.join(expect="error", host_token=rejoin, link=None))["code"] == "bad_link"
    door = CallClient(http, base_url, "blink", "student")
    await door.join(expect="waiting", host_token=rejoin)
    for client in (teacher, back, refused, door):
        await client.close()
