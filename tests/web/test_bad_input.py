"""The issue-15 probes of bad input, each a regression test: no input reaches a 500 or a
traceback, and no refusal repeats Python's own words."""

from __future__ import annotations

import json
import logging

import aiohttp
import pytest
from aiohttp import web

from tests.chat.school import School, make_school, new_chat
from tests.support.accounts import bearer
from web import keys

PYTHON_WORDS = ("object is not", "invalid literal", "Traceback", "Error(", "line 1 column")


async def chat_of(school: School) -> str:
    return await new_chat(school, school.teacher)


async def hosting(
    http: aiohttp.ClientSession, base_url: str, school: School, call: str
) -> tuple[aiohttp.ClientWebSocketResponse, dict[str, object]]:
    """The teacher opens a call (so she is its host): her socket and its `joined`."""
    host = await http.ws_connect(f"{base_url}ws", headers=bearer(school.teacher.token))
    await host.send_json({"type": "join", "version": 1, "call": call, "name": "Ирина"})
    while (joined := await host.receive_json(timeout=10))["type"] != "joined":
        pass
    return host, joined


async def send(
    school: School, method: str, path: str, raw: bytes | str, content_type: str = "application/json"
) -> tuple[int, dict[str, object]]:
    headers = {**bearer(school.teacher.token), "Content-Type": content_type}
    async with school.http.request(
        method, f"{school.base}{path}", data=raw, headers=headers
    ) as response:
        text = await response.text()
        assert response.content_type == "application/json", text[:200]
        return response.status, json.loads(text)


def in_our_words(answer: dict[str, object]) -> None:
    message = str(answer["message"])
    assert message and not any(words in message for words in PYTHON_WORDS), message


@pytest.fixture
def no_tracebacks(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.ERROR)
    return caplog


def assert_no_errors_logged(caplog: pytest.LogCaptureFixture) -> None:
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, [r.getMessage() for r in errors]


async def test_json_nested_too_deep_or_not_unicode_is_refused(
    app: web.Application,
    base_url: str,
    http: aiohttp.ClientSession,
    no_tracebacks: pytest.LogCaptureFixture,
) -> None:
    school = await make_school(http, base_url, students=1)
    chat = await chat_of(school)
    messages = f"api/chats/{chat}/messages"
    for raw, status_wanted in (
        ('{"text": ' + "[" * 50_000 + "]" * 50_000 + "}", 413),  # the probe's: too large
        ("[" * 100_000, 413),
        ('{"text": ' + "[" * 10_000 + "]" * 10_000 + "}", 400),  # small enough, too deep
        ("[" * 16_000, 400),
    ):
        for path in (messages, "api/chats", "api/folders"):
            status, answer = await send(school, "POST", path, raw)
            assert status == status_wanted, answer
            in_our_words(answer)
            if status == 400:
                assert answer["message"] == "the JSON is nested too deeply"
    status, answer = await send(school, "POST", messages, '{"text": "\\ud800"}')
    assert (status, answer["error"]) == (400, "bad_json")
    assert "Unicode" in str(answer["message"])
    status, answer = await send(school, "POST", messages, b'{"text": "\xff\xfe"}')
    assert status == 400
    in_our_words(answer)
    status, answer = await send(school, "POST", messages, '{"text": "a\\u0000b"}')
    assert status == 400 and "NUL" in str(answer["message"])
    assert_no_errors_logged(no_tracebacks)
    counted = app[keys.METRICS].registry.get_sample_value(
        "parta_invalid_input_total",
        {"endpoint": "/api/chats/{chat}/messages", "problem": "json_invalid"},
    )
    assert counted is not None and counted >= 4  # two too deep, two not Unicode


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("state", {"pinned_order": 2**70}, "pinned_order"),
        ("state", {"pinned_order": 2**31}, "pinned_order"),  # an SQL INTEGER in PostgreSQL
        ("state", {"muted_until": "9999-12-31T23:59:59-05:00"}, "muted_until"),
        ("state", {"archived": "yes"}, "archived"),
        ("read", {"seq": 2**64}, "seq"),
        ("read", {"seq": 1e400}, "seq"),
        ("read", {"seq": True}, "seq"),
        ("messages", {"text": 5}, "text"),
        ("messages", {"text": "x", "file_id": "f", "kind": "voice", "duration": 1e400}, "duration"),
    ],
)
async def test_numbers_beyond_the_store_and_wrong_types_are_refused(
    base_url: str,
    http: aiohttp.ClientSession,
    path: str,
    body: dict[str, object],
    field: str,
    no_tracebacks: pytest.LogCaptureFixture,
) -> None:
    school = await make_school(http, base_url, students=1)
    chat = await chat_of(school)
    method = "PATCH" if path == "state" else "POST"
    status, answer = await send(school, method, f"api/chats/{chat}/{path}", json.dumps(body))
    assert (status, answer["error"]) == (400, "bad_field"), answer
    in_our_words(answer)
    assert [p["field"] for p in answer["problems"]] == [field]  # type: ignore[attr-defined]
    assert_no_errors_logged(no_tracebacks)


async def test_infinity_in_a_number_field(
    base_url: str, http: aiohttp.ClientSession, no_tracebacks: pytest.LogCaptureFixture
) -> None:
    school = await make_school(http, base_url, students=1)
    chat = await chat_of(school)
    status, answer = await send(school, "POST", f"api/chats/{chat}/read", '{"seq": Infinity}')
    assert status == 400
    in_our_words(answer)
    assert_no_errors_logged(no_tracebacks)


async def test_queries_and_quiet_hours_speak_our_words(
    base_url: str, http: aiohttp.ClientSession, no_tracebacks: pytest.LogCaptureFixture
) -> None:
    school = await make_school(http, base_url, students=1)
    chat = await chat_of(school)
    for query in ("before=abc", f"before={2**70}", "limit=1e400", "limit=0"):
        status, answer = await school.call(
            school.teacher, "GET", f"api/chats/{chat}/messages?{query}"
        )
        assert status == 400, (query, answer)
        in_our_words(answer)
    profile = school.teacher.profile["id"]
    for hours in (
        {"days": 5, "from": "08:00", "to": "17:00", "time_zone": "Europe/Moscow"},  # not a list
        {"days": [1], "from": "8", "to": "17:00", "time_zone": "Europe/Moscow"},
        {"days": [1], "from": "08:00", "to": "17:00", "time_zone": "Mars/Olympus"},
        {"days": [1], "from": "08:00", "to": "17:00"},
    ):
        status, answer = await school.call(
            school.teacher, "PUT", f"api/profiles/{profile}/quiet-hours", hours
        )
        assert status == 400, (hours, answer)
        in_our_words(answer)
    assert_no_errors_logged(no_tracebacks)


async def test_the_events_socket_survives_garbage(
    base_url: str, http: aiohttp.ClientSession, no_tracebacks: pytest.LogCaptureFixture
) -> None:
    school = await make_school(http, base_url, students=1)
    events = await http.ws_connect(f"{base_url}api/events", headers=bearer(school.teacher.token))
    for garbage in ("[" * 16_000, '{"type": "focus", "chat_id": 5}', '"x"', '{"type": "x"}'):
        await events.send_str(garbage)
        reply = await events.receive_json(timeout=5)
        assert reply["type"] == "error", reply
        in_our_words(reply)
    await events.send_json({"type": "ping"})
    assert (await events.receive_json(timeout=5))["type"] == "pong"
    await events.close()
    assert_no_errors_logged(no_tracebacks)


async def test_a_watch_offer_that_is_not_utf8_is_refused(
    base_url: str, http: aiohttp.ClientSession, no_tracebacks: pytest.LogCaptureFixture
) -> None:
    school = await make_school(http, base_url, students=1)
    host, joined = await hosting(http, base_url, school, "assembly")
    async with http.post(
        f"{base_url}api/calls/assembly/broadcast",
        json={"public": True},
        headers={**bearer(school.teacher.token), "X-Parta-Host-Token": joined["host_token"]},
    ) as response:
        assert response.status == 201, await response.text()
        watch = (await response.json())["watch_link"]
    async with http.post(
        f"{base_url}{watch.lstrip('/')}/whep",
        data=b"v=0\r\n\xff\xfe\xfd",
        headers={"Content-Type": "application/sdp"},
    ) as response:
        assert response.status == 400
        answer = await response.json()
    assert answer["error"] == "bad_sdp" and "UTF-8" in answer["message"]
    await host.close()
    assert_no_errors_logged(no_tracebacks)


async def test_an_sdp_the_library_cannot_read_is_refused_in_our_words(
    base_url: str, http: aiohttp.ClientSession, no_tracebacks: pytest.LogCaptureFixture
) -> None:
    school = await make_school(http, base_url, students=1)
    host, joined = await hosting(http, base_url, school, "maths")
    broken = (
        "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\n"
        "m=audio 9 UDP/TLS/RTP/SAVPF abc\r\na=mid:0\r\n"
    )
    async with http.post(
        f"{base_url}whip/maths",
        data=broken,
        headers={"Content-Type": "application/sdp", **bearer(joined["host_token"])},
    ) as response:
        assert response.status == 400
        answer = await response.json()
    assert answer["error"] == "bad_sdp"
    in_our_words(answer)
    await host.send_json({"type": "publish", "sdp": broken, "tracks": []})
    while (reply := await host.receive_json(timeout=10))["type"] != "error":
        pass
    assert reply["code"] == "bad_sdp"
    in_our_words(reply)
    await host.close()
    assert_no_errors_logged(no_tracebacks)
