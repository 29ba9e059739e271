"""Pages of other origins of the same site try to act with a teacher's cookie (issue 15,
finding 2), in headless Chromium.

parta runs at http://parta.school.test:P (its --public-url). Two attacker pages on the
same machine: one on another port of the same host name, one on a sibling host name
(http://blog.school.test:Q, a school's blog beside its parta). Chromium resolves
*.school.test to 127.0.0.1 (--host-resolver-rules); the SameSite=Lax cookie goes with
their requests, since they are of the same site. Each page posts a message as the
teacher (a form with a text/plain body holding JSON, and fetch), and opens /ws and
/api/events; none may get through. The teacher's own parta page still posts and opens
its sockets. Prints one JSON object.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from aiohttp import web

from tests.browser.chromium import launch_chromium, wait_for_js
from tests.browser.people import sign_up
from tests.browser.stage import driver_main, free_port
from web.app import create_app
from web.config import Config

RULES = "--host-resolver-rules=MAP *.school.test 127.0.0.1 , MAP * ~NOTFOUND , EXCLUDE 127.0.0.1"

ATTACK = """<!doctype html><html><head><meta charset="utf-8"><title>blog</title></head>
<body>
<form id="f" method="post" enctype="text/plain" target="sink"
      action="{target}/api/chats/{chat}/messages">
<input name='{{"text": "posted by a form", "x": "' value='"}}'></form>
<iframe name="sink"></iframe>
<script>
window.result = {{}};
const target = "{target}";
const ws = (path) => new Promise((done) => {{
  let socket;
  try {{ socket = new WebSocket(target.replace('http', 'ws') + path); }}
  catch (e) {{ done('refused at once'); return; }}
  socket.onopen = () => {{ done('open'); socket.close(); }};
  socket.onerror = () => done('error');
  setTimeout(() => done('timeout'), 5000);
}});
(async () => {{
  document.getElementById('f').submit();
  try {{
    await fetch(target + '/api/chats/{chat}/messages', {{
      method: 'POST', mode: 'no-cors', credentials: 'include',
      headers: {{'Content-Type': 'text/plain'}},
      body: JSON.stringify({{text: 'posted by fetch'}}),
    }});
    window.result.fetch = 'sent';
  }} catch (e) {{ window.result.fetch = 'failed: ' + e; }}
  window.result.ws = await ws('/ws');
  window.result.events = await ws('/api/events');
  window.result.done = true;
}})();
</script></body></html>
"""


async def attacker_site(port: int, pages: dict[str, str]) -> web.AppRunner:
    async def page(request: web.Request) -> web.Response:
        if request.match_info["name"] not in pages:
            raise web.HTTPNotFound()
        return web.Response(text=pages[request.match_info["name"]], content_type="text/html")

    app = web.Application()
    app.router.add_get("/{name}", page)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner


async def run(out_dir: Path, timeout: float, result: dict[str, Any]) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    port, blog_port = free_port(), free_port()
    base = f"http://parta.school.test:{port}"
    app = create_app(Config(data_dir=out_dir / "data", public_url=base, speech_model=None))
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    scratch = Path(tempfile.mkdtemp(prefix="parta-chromium-"))
    attackers: web.AppRunner | None = None
    try:
        async with launch_chromium(scratch, extra_flags=(RULES,)) as browser:
            context = await browser.new_context()
            teacher = await context.new_page()
            await sign_up(teacher, base, "Olga Ivanova")
            chat = await teacher.evaluate(
                """async () => {
                    const post = (path, body) => fetch(path, {method: 'POST',
                        headers: {'Content-Type': 'application/json'},
                        body: JSON.stringify(body)}).then(r => r.json());
                    const org = await post('/api/orgs', {name: 'Лицей 7'});
                    await post('/api/profiles', {code: org.invite_codes.teacher,
                                                 full_name: 'Ольга Иванова'});
                    const chat = await post('/api/chats', {org_id: org.id, title: '7б'});
                    return chat.id;
                }"""
            )
            pages = {
                "port": ATTACK.format(target=base, chat=chat),
                "sibling": ATTACK.format(target=base, chat=chat),
            }
            attackers = await attacker_site(blog_port, pages)
            for name, origin in (
                ("port", f"http://parta.school.test:{blog_port}"),  # another port
                ("sibling", f"http://blog.school.test:{blog_port}"),  # a sibling host
            ):
                evil = await context.new_page()
                await evil.goto(f"{origin}/{name}")
                await wait_for_js(
                    evil, "window.result && window.result.done", timeout=timeout * 1000
                )
                result[name] = await evil.evaluate("window.result")
                await evil.close()
            # what reached the chat: only what the teacher's own page sends
            own = await teacher.evaluate(
                """async (chat) => {
                    const sent = await fetch(`/api/chats/${chat}/messages`, {method: 'POST',
                        headers: {'Content-Type': 'application/json'},
                        body: JSON.stringify({text: 'Домашнее задание'})});
                    const events = await new Promise((done) => {
                        const s = new WebSocket(`ws://${location.host}/api/events`);
                        s.onopen = () => { done('open'); s.close(); };
                        s.onerror = () => done('error');
                    });
                    const page = await fetch(`/api/chats/${chat}/messages`).then(r => r.json());
                    return {status: sent.status, events,
                            texts: page.messages.filter(m => m.kind === 'text').map(m => m.text)};
                }""",
                chat,
            )
            result["own"] = own
            result["refused_counted"] = {
                kind: app_metric(app, kind) for kind in ("write", "websocket")
            }
    finally:
        if attackers is not None:
            await attackers.cleanup()
        await runner.cleanup()
        shutil.rmtree(scratch, ignore_errors=True)


def app_metric(app: web.Application, kind: str) -> float:
    from web import keys

    value = app[keys.METRICS].registry.get_sample_value(
        "parta_cross_origin_refused_total", {"kind": kind}
    )
    return float(value or 0)


def main() -> None:
    driver_main(run, default_timeout=20)


if __name__ == "__main__":
    main()
