"""Chats over HTTP and the live event socket: the closed contour on every route, invites
with and without a profile, messages, live delivery, read state, each member's own view,
leaving with delete, channels and the school's page."""

from __future__ import annotations

import asyncio
import re
from datetime import datetime
from zoneinfo import ZoneInfo

import aiohttp
from aiohttp import web

from tests.chat.school import Person, School, events, make_school, new_chat
from tests.support.tus import TusClient
from web.validation import BODY


async def invite_code(school: School, who: Person, chat: str) -> str:
    status, invite = await school.call(who, "GET", f"api/chats/{chat}/invite")
    assert status == 200
    return str(invite["code"])


async def class_chat(school: School) -> str:
    chat = await new_chat(school, school.teacher)
    code = await invite_code(school, school.teacher, chat)
    for pupil in school.students:
        status, _ = await school.call(pupil, "POST", f"api/invites/{code}/join")
        assert status == 200
    return chat


# a valid body for each model a route with an id in its path takes
VALID_BODIES: dict[str, dict[str, object]] = {
    "Leaving": {},
    "MemberRole": {"role": "admin"},
    "NewMessage": {"text": "hi"},
    "EditedText": {"text": "hi"},
    "ReadMark": {"seq": 1},
    "ChatState": {"archived": True},
    "FolderName": {"name": "Work"},
    "QuietHoursBody": {"days": None},
}


async def test_an_outsider_gets_404_on_every_route(
    app: web.Application, base_url: str, http: aiohttp.ClientSession
) -> None:
    school = await make_school(http, base_url)
    chat = await class_chat(school)
    status, message = await school.call(
        school.teacher, "POST", f"api/chats/{chat}/messages", {"text": "Homework: page 12"}
    )
    assert status == 201
    status, folder = await school.call(school.teacher, "POST", "api/folders", {"name": "Work"})
    assert status == 201
    tus = TusClient(http, base_url, school.teacher.token)
    upload = await tus.upload(chat, b"notes", "notes.txt", "text/plain")
    ids = {
        "upload": upload,
        "file": upload,
        "chat": chat,
        "message": message["id"],
        "org": school.org,
        "profile": school.teacher.profile["id"],
        "folder": folder["id"],
        "format": "png",
        "role": "teacher",
        "scope": "members",  # /hls/{scope}/{id}/{file}: a broadcast's files
        "id": "no-such-broadcast",
    }
    checked = 0
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource else {}
        template = str(info.get("formatter") or info.get("path") or "")
        names = set(re.findall(r"{(\w+)}", template))
        if not names & {"chat", "org", "profile", "folder", "upload", "file"}:
            continue
        path = template.format(**ids)
        declared = getattr(route.handler, BODY, None)
        valid = VALID_BODIES[declared[0].__name__] if declared else {}
        nowhere = template.format(
            **{**ids, **{n: "no-such-thing" for n in ("chat", "message", "folder", "upload")}}
        )
        for outsider in (school.outsider, school.stranger):
            status, body = await school.call(outsider, route.method, path, valid, tus=True)
            assert status == 404, (route.method, path, status, body)
            assert route.method == "HEAD" or body["error"] == "not_found"
            # a body that is not valid is refused alike whether or not the thing exists
            there = await school.call(outsider, route.method, path, {"x": 1}, tus=True)
            away = await school.call(outsider, route.method, nowhere, {"x": 1}, tus=True)
            assert there[0] == away[0] and (there[1] or {}).get("error") == (away[1] or {}).get(
                "error"
            ), (route.method, path, there, away)
            checked += 1
    assert checked >= 40
    # and the contents never leak: nothing of the school in any answer to outsiders
    status, listing = await school.call(school.outsider, "GET", "api/chats")
    assert status == 200 and listing == {"chats": []}


async def test_invites_with_and_without_a_profile(
    base_url: str, http: aiohttp.ClientSession
) -> None:
    school = await make_school(http, base_url)
    chat = await new_chat(school, school.teacher)
    code = await invite_code(school, school.teacher, chat)
    # without a session: what the invite is, and every step
    async with aiohttp.ClientSession() as visitor:
        async with visitor.get(f"{base_url}api/invites/{code}") as response:
            info = await response.json()
        async with visitor.get(f"{base_url}invite/{code}") as response:
            assert response.status == 200 and "text/html" in response.content_type
    assert info["chat"] == {"id": None, "title": "7b class", "kind": "group"}
    assert [s["step"] for s in info["steps"]] == ["log_in", "create_profile", "join"]
    # logged in, no profile: create one with the school's code, then join
    newcomer = school.outsider
    status, info = await school.call(newcomer, "GET", f"api/invites/{code}")
    assert [s["step"] for s in info["steps"]] == ["create_profile", "join"]
    status, refused = await school.call(newcomer, "POST", f"api/invites/{code}/join")
    assert status == 409 and refused["error"] == "profile_needed"
    body = {"code": school.codes["parent"], "full_name": "Olga Parent"}
    assert (await school.call(newcomer, "POST", "api/profiles", body))[0] == 201
    status, joined = await school.call(newcomer, "POST", f"api/invites/{code}/join")
    assert status == 200 and joined["id"] == chat
    status, info = await school.call(newcomer, "GET", f"api/invites/{code}")
    assert info["member"] and info["steps"] == [] and info["chat"]["id"] == chat
    status, history = await school.call(newcomer, "GET", f"api/chats/{chat}/messages")
    notices = [m["meta"]["event"] for m in history["messages"] if m["kind"] == "system"]
    assert notices == ["joined", "created"]
    # a renewed invite replaces the old one; a member may not renew it
    assert (await school.call(newcomer, "POST", f"api/chats/{chat}/invite"))[0] == 403
    status, renewed = await school.call(school.teacher, "POST", f"api/chats/{chat}/invite")
    assert renewed["code"] != code
    assert (await school.call(newcomer, "GET", f"api/invites/{code}"))[0] == 404
    # the QR codes
    for kind, magic in (("png", b"\x89PNG\r\n"), ("svg", b"<svg")):
        async with http.get(f"{base_url}api/chats/{chat}/invite.{kind}") as response:
            assert response.status == 404  # `http` is a user of no school
        async with http.get(
            f"{base_url}api/chats/{chat}/invite.{kind}",
            headers={"Authorization": f"Bearer {school.teacher.token}"},
        ) as response:
            assert response.status == 200
            assert (await response.read()).startswith(magic)


async def test_messages_live_delivery_read_state_and_notifications(
    base_url: str, http: aiohttp.ClientSession
) -> None:
    school = await make_school(http, base_url)
    chat = await class_chat(school)
    ann, bob = school.students
    teacher_live, ann_live = await events(school, school.teacher), await events(school, ann)
    await ann_live.send({"type": "focus", "chat_id": chat})  # ann has the chat open
    await asyncio.sleep(0.1)
    status, sent = await school.call(bob, "POST", f"api/chats/{chat}/messages", {"text": "Hi!"})
    assert status == 201 and sent["sender"]["full_name"] == "Student 1"
    for live in (teacher_live, ann_live):
        delivered = await live.wait_for("message")
        assert delivered[-1]["message"]["id"] == sent["id"]
        assert delivered[-1]["message"]["text"] == "Hi!"
    # the teacher is not looking at the chat: notified; ann is: not
    notified = await teacher_live.wait_for("notification")
    assert notified[0]["chat_id"] == chat and notified[0]["silent"] is False
    await asyncio.sleep(0.2)
    assert ann_live.of("notification") == []

    # edit and delete: only the author edits; the author or the chat's owner deletes
    path = f"api/chats/{chat}/messages/{sent['id']}"
    assert (await school.call(ann, "PATCH", path, {"text": "forged"}))[0] == 403
    status, edited = await school.call(bob, "PATCH", path, {"text": "Hello!"})
    assert status == 200 and edited["text"] == "Hello!" and edited["edited_at"]
    edited_event = (await teacher_live.wait_for("message_edited"))[0]["message"]
    assert edited_event["text"] == "Hello!" and edited_event["sender"]["full_name"] == "Student 1"
    assert (await school.call(ann, "DELETE", path))[0] == 403
    assert (await school.call(school.teacher, "DELETE", path))[0] == 204
    assert (await ann_live.wait_for("message_deleted"))[0]["seq"] == sent["seq"]
    assert (await school.call(bob, "PATCH", path, {"text": "back"}))[0] == 404

    # bad input: a clear 400, nothing lost
    for body in ({}, {"text": ""}, {"text": "x" * 4001}):
        status, error = await school.call(bob, "POST", f"api/chats/{chat}/messages", body)
        assert status == 400 and error["error"] == "bad_field"

    # history pages back with a cursor
    for i in range(7):
        await school.call(school.teacher, "POST", f"api/chats/{chat}/messages", {"text": f"n{i}"})
    status, page = await school.call(ann, "GET", f"api/chats/{chat}/messages?limit=5")
    seqs = [m["seq"] for m in page["messages"]]
    assert seqs == sorted(seqs, reverse=True) and len(seqs) == 5
    status, rest = await school.call(
        ann, "GET", f"api/chats/{chat}/messages?limit=100&before={page['next_before']}"
    )
    assert [m["seq"] for m in rest["messages"]] == list(range(seqs[-1] - 1, 0, -1))
    assert rest["next_before"] is None

    # read state: unread falls to zero and the others see how far ann read
    status, listing = await school.call(ann, "GET", "api/chats")
    assert listing["chats"][0]["unread"] == 7
    status, _ = await school.call(ann, "POST", f"api/chats/{chat}/read", {"seq": seqs[0]})
    read = await teacher_live.wait_for("read")
    assert read[-1]["profile_id"] == ann.profile["id"] and read[-1]["seq"] == seqs[0]
    status, listing = await school.call(ann, "GET", "api/chats")
    assert listing["chats"][0]["unread"] == 0
    for live in (teacher_live, ann_live):
        await live.close()


async def test_muted_chats_notify_nobody_and_quiet_hours_are_silent(
    base_url: str, http: aiohttp.ClientSession
) -> None:
    school = await make_school(http, base_url)
    chat = await class_chat(school)
    ann, bob = school.students
    teacher = school.teacher
    # the teacher works Monday to Friday, 08:00 to 17:00 in Vladivostok; ann never rests
    never = {"days": [1, 2, 3, 4, 5, 6, 7], "from": "00:00", "to": "24:00", "time_zone": "UTC"}
    status, _ = await school.call(
        ann, "PUT", f"api/profiles/{ann.profile['id']}/quiet-hours", never
    )
    assert status == 204
    hours = {
        "days": [1, 2, 3, 4, 5],
        "from": "08:00",
        "to": "17:00",
        "time_zone": "Asia/Vladivostok",
    }
    path = f"api/profiles/{teacher.profile['id']}/quiet-hours"
    assert (await school.call(teacher, "PUT", path, hours))[0] == 204
    assert (await school.call(ann, "PUT", path, hours))[0] == 404  # not hers
    assert (await school.call(teacher, "PUT", path, {**hours, "time_zone": "Mars/Base"}))[0] == 400
    _, me = await school.call(teacher, "GET", "api/me")
    assert me["profiles"][0]["quiet_hours"] == hours
    # whatever the time of this run: the teacher works only on a day other than today
    # in Vladivostok, so now is after hours for her
    today = datetime.now(ZoneInfo("Asia/Vladivostok")).isoweekday()
    after_hours = {**hours, "days": [today % 7 + 1]}
    assert (await school.call(teacher, "PUT", path, after_hours))[0] == 204
    teacher_live, ann_live = await events(school, teacher), await events(school, ann)
    await school.call(bob, "POST", f"api/chats/{chat}/messages", {"text": "question"})
    assert (await teacher_live.wait_for("notification"))[0]["silent"] is True
    assert (await ann_live.wait_for("notification"))[0]["silent"] is False
    # muted until tomorrow: the message still arrives, no notification does
    body = {"muted_until": "2999-01-01T00:00:00+00:00"}
    assert (await school.call(ann, "PATCH", f"api/chats/{chat}/state", body))[0] == 200
    await school.call(bob, "POST", f"api/chats/{chat}/messages", {"text": "again"})
    await ann_live.wait_for("message", 2)
    assert all(n["silent"] for n in await teacher_live.wait_for("notification", 2))
    assert len(ann_live.of("notification")) == 1
    for live in (teacher_live, ann_live):
        await live.close()


async def test_each_members_own_view_of_a_chat(base_url: str, http: aiohttp.ClientSession) -> None:
    school = await make_school(http, base_url)
    first = await class_chat(school)
    second = await new_chat(school, school.teacher, title="Parents")
    teacher = school.teacher
    _, folder = await school.call(teacher, "POST", "api/folders", {"name": "Classes"})
    state = f"api/chats/{first}/state"
    assert (await school.call(teacher, "PATCH", state, {"folder_id": folder["id"]}))[0] == 200
    _, in_folder = await school.call(teacher, "GET", f"api/chats?folder={folder['id']}")
    assert [c["id"] for c in in_folder["chats"]] == [first]
    # someone else's folder is no folder at all
    _, theirs = await school.call(school.students[0], "POST", "api/folders", {"name": "x"})
    assert (await school.call(teacher, "PATCH", state, {"folder_id": theirs["id"]}))[0] == 404
    path = f"api/folders/{folder['id']}"
    assert (await school.call(teacher, "PATCH", path, {"name": "My classes"}))[0] == 204
    _, listed = await school.call(teacher, "GET", "api/folders")
    assert [f["name"] for f in listed["folders"]] == ["My classes"]
    # pin the second above the first
    await school.call(teacher, "PATCH", f"api/chats/{second}/state", {"pinned_order": 1})
    _, listing = await school.call(teacher, "GET", "api/chats")
    assert [c["id"] for c in listing["chats"]] == [second, first]
    _, detail = await school.call(teacher, "GET", f"api/chats/{second}")
    assert detail["state"]["pinned_order"] == 1 and detail["state"]["archived"] is False
    # mark unread, archive (out of the main list, into ?archived=1), unarchive
    await school.call(teacher, "PATCH", state, {"marked_unread": True, "archived": True})
    _, listing = await school.call(teacher, "GET", "api/chats")
    assert [c["id"] for c in listing["chats"]] == [second]
    _, archived = await school.call(teacher, "GET", "api/chats?archived=1")
    assert archived["chats"][0]["marked_unread"] is True
    await school.call(teacher, "PATCH", state, {"archived": False})
    assert (await school.call(teacher, "PATCH", state, {"pinned_order": "top"}))[0] == 400
    assert (await school.call(teacher, "PATCH", state, {"muted_until": "soon"}))[0] == 400
    assert (await school.call(teacher, "PATCH", state, {}))[0] == 400
    # deleting the folder keeps its chats
    assert (await school.call(teacher, "DELETE", path))[0] == 204
    _status, listing = await school.call(teacher, "GET", "api/chats")
    assert {c["id"] for c in listing["chats"]} == {first, second}
    # clear history for me: gone for me, kept for the others
    await school.call(school.students[0], "POST", f"api/chats/{first}/messages", {"text": "hi"})
    assert (await school.call(teacher, "POST", f"api/chats/{first}/clear"))[0] == 200
    _, mine = await school.call(teacher, "GET", f"api/chats/{first}/messages")
    assert mine["messages"] == []
    _, theirs_history = await school.call(school.students[1], "GET", f"api/chats/{first}/messages")
    assert any(m["text"] == "hi" for m in theirs_history["messages"])


async def test_leaving_with_my_messages_deleted(base_url: str, http: aiohttp.ClientSession) -> None:
    school = await make_school(http, base_url)
    chat = await class_chat(school)
    ann, bob = school.students
    for text in ("one", "two"):
        await school.call(ann, "POST", f"api/chats/{chat}/messages", {"text": text})
    await school.call(bob, "POST", f"api/chats/{chat}/messages", {"text": "bob stays"})
    bob_live = await events(school, bob)
    status, _ = await school.call(ann, "POST", f"api/chats/{chat}/leave", {"delete_messages": True})
    assert status == 200
    assert len(await bob_live.wait_for("message_deleted", 2)) == 2
    status, history = await school.call(bob, "GET", f"api/chats/{chat}/messages")
    texts = [m["text"] for m in history["messages"] if m["kind"] == "text" and not m["deleted"]]
    assert texts == ["bob stays"]
    assert sum(m["deleted"] for m in history["messages"]) == 2  # tombstones, no text
    assert history["messages"][0]["meta"]["event"] == "left"
    # ann no longer sees it at all; the others keep it
    assert (await school.call(ann, "GET", f"api/chats/{chat}"))[0] == 404
    status, listing = await school.call(ann, "GET", "api/chats")
    assert listing["chats"] == []
    status, info = await school.call(bob, "GET", f"api/chats/{chat}")
    assert [m["full_name"] for m in info["members"]] == ["Irina Teacher", "Student 1"]
    await bob_live.close()


async def test_a_channel_post_reaches_every_subscriber_who_cannot_post(
    base_url: str, http: aiohttp.ClientSession
) -> None:
    school = await make_school(http, base_url, students=30)
    status, refused = await school.call(
        school.students[0],
        "POST",
        "api/chats",
        {"org_id": school.org, "title": "News", "kind": "channel", "public": True},
    )
    assert status == 403
    channel = await new_chat(
        school, school.teacher, title="School news", kind="channel", public=True
    )
    # members of the school join a public channel without an invite; outsiders cannot
    for pupil in school.students:
        assert (await school.call(pupil, "POST", f"api/chats/{channel}/join"))[0] == 200
    assert (await school.call(school.stranger, "POST", f"api/chats/{channel}/join"))[0] == 404
    lives = [await events(school, pupil) for pupil in school.students]
    status, post = await school.call(
        school.teacher, "POST", f"api/chats/{channel}/messages", {"text": "Concert on Friday"}
    )
    assert status == 201
    for live in lives:
        got = await live.wait_for("message")
        assert got[-1]["message"]["id"] == post["id"]
    status, refused = await school.call(
        school.students[0], "POST", f"api/chats/{channel}/messages", {"text": "me too"}
    )
    assert status == 403 and refused["error"] == "forbidden"
    for live in lives:
        await live.close()


async def test_the_school_page_shows_only_ones_own_school(
    base_url: str, http: aiohttp.ClientSession
) -> None:
    school = await make_school(http, base_url)
    channel = await new_chat(school, school.teacher, title="News", kind="channel", public=True)
    await new_chat(school, school.teacher, title="Chess club", public=True)
    await new_chat(school, school.teacher, title="Private 7b")
    status, page = await school.call(school.students[0], "GET", f"api/orgs/{school.org}")
    assert status == 200 and page["name"] == "School 5"
    assert page["counts"] == {"teacher": 1, "student": 2, "parent": 1}
    assert [p["full_name"] for p in page["people"]["teacher"]] == ["Irina Teacher"]
    assert [c["title"] for c in page["chats"]] == ["Chess club"]
    assert [c["id"] for c in page["channels"]] == [channel]
    for outsider in (school.outsider, school.stranger):
        assert (await school.call(outsider, "GET", f"api/orgs/{school.org}"))[0] == 404
    status, theirs = await school.call(
        school.stranger, "GET", f"api/orgs/{school.stranger.profile['org_id']}"
    )
    assert status == 200 and theirs["name"] == "School 9"


async def test_the_event_socket_answers_bad_messages_and_needs_a_session(
    base_url: str, http: aiohttp.ClientSession
) -> None:
    school = await make_school(http, base_url, students=1)
    live = await events(school, school.teacher)
    await live.ws.send_str("{not json")
    await live.send({"type": "dance"})
    await live.send({"type": "focus", "chat_id": 7})
    await live.send({"type": "ping"})
    await live.wait_for("pong")
    assert [e["code"] for e in live.of("error")] == ["bad_json", "unknown_type", "bad_message"]
    await live.close()
    async with (
        aiohttp.ClientSession() as anonymous,
        anonymous.get(f"{base_url}api/events") as response,
    ):
        assert response.status == 401
