"""The shipped nginx configuration for a cluster (deploy/nginx/cluster.conf), with
Debian's nginx in front of two parta nodes on one Redis and one PostgreSQL: an account
made through the balancer works on every node, a call joined through it ends up on the
call's node (following the redirect when the balancer picked the other), HLS requests
reach parta, and /metrics is not served through it."""

from __future__ import annotations

from pathlib import Path

import aiohttp

from harness.nginx import nginx_with
from tests.cluster.test_nodes import redis_url, start_node
from tests.store.conftest import postgres_url
from tests.support.accounts import bearer, sign_up
from tests.support.client import CallClient
from tests.support.nginx import needs_nginx
from web import keys

__all__ = ["postgres_url", "redis_url"]


@needs_nginx
async def test_two_nodes_behind_the_shipped_balancer(
    tmp_path: Path, redis_url: str, postgres_url: str
) -> None:
    a = await start_node(tmp_path, "a", redis_url, postgres_url)
    b = await start_node(tmp_path, "b", redis_url, postgres_url)
    nodes = {a.port: a, b.port: b}
    proxy, port = nginx_with(
        tmp_path,
        "cluster.conf",
        {
            "127.0.0.1:8081": f"127.0.0.1:{a.port}",
            "127.0.0.1:8082": f"127.0.0.1:{b.port}",
            "    server 127.0.0.1:8083 max_fails=3 fail_timeout=10s;\n": "",
        },
    )
    front = f"http://127.0.0.1:{port}/"
    try:
        async with aiohttp.ClientSession() as http:
            token, _ = await sign_up(http, front, "Through nginx")
            for node in nodes.values():  # one account, on every node
                async with http.get(node.make_url("/api/me"), headers=bearer(token)) as r:
                    assert r.status == 200
            async with http.get(f"{front}login") as response:
                assert response.status == 200 and "<html" in (await response.text()).lower()

            # calls joined through the balancer: each ends on its own node, both used
            hosts = set()
            for call in ("assembly", "physics", "history", "music"):
                client = CallClient(http, front, call, "pupil")
                client.session_token = token
                await client.join()
                owner = await a.app[keys.CLUSTER].owner(call)
                assert client.ws is not None and not client.ws.closed
                node = a if owner == "a" else b
                assert call in node.app[keys.CALLS].rooms
                hosts.add(owner)
                await client.close()
            assert hosts == {"a", "b"}  # placement spread them

            async with http.get(f"{front}hls/public/nothing/live.m3u8") as response:
                assert response.status == 404  # parta's answer, in JSON
                assert (await response.json())["error"] == "not_found"
            async with http.get(f"{front}metrics") as response:
                assert response.status == 404  # scraped from each node, not through it
    finally:
        proxy.terminate()
        proxy.wait(10)
        await a.close()
        await b.close()
