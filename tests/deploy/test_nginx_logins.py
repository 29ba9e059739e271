"""Behind the shipped nginx configurations (deploy/nginx/), with parta given
`--trusted-proxy 127.0.0.1` as the README says, the log-in limits see each client's own
address: a guesser reaching parta through nginx does not lock out the owner, who comes
through the same nginx from another address, and cannot forge its way out."""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path

import pytest

from harness.nginx import nginx_with
from tests.accounts.test_login_limits import from_address, guess, log_in
from tests.support.accounts import PASSWORD, sign_up
from tests.support.nginx import needs_nginx
from tests.support.server import start_server

DEPLOY = Path(__file__).parents[2] / "deploy" / "nginx"
FORWARDED = "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;"


@pytest.mark.parametrize("name", ["parta.conf", "cluster.conf"])
def test_every_proxied_location_says_whom_it_forwards(name: str) -> None:
    conf = (DEPLOY / name).read_text()
    locations = re.findall(r"\n    location [^{]*\{(.*?)\n    \}", conf, re.S)
    proxied = [body for body in locations if "proxy_pass" in body]
    assert proxied
    for body in proxied:
        assert FORWARDED in body, body
    assert "--trusted-proxy 127.0.0.1" in conf  # tells the operator to trust it


def _replacements(name: str, port: int, tmp_path: Path) -> dict[str, str]:
    if name == "parta.conf":
        return {
            "/var/lib/parta": str(tmp_path / "data"),
            "127.0.0.1:8080": f"127.0.0.1:{port}",
            "/var/cache/nginx/parta-hls": str(tmp_path / "nginx-cache"),
        }
    return {  # one node behind the balancer is enough for logging in
        "127.0.0.1:8081": f"127.0.0.1:{port}",
        "    server 127.0.0.1:8082 max_fails=3 fail_timeout=10s;\n": "",
        "    server 127.0.0.1:8083 max_fails=3 fail_timeout=10s;\n": "",
    }


@needs_nginx
@pytest.mark.parametrize("name", ["parta.conf", "cluster.conf"])
async def test_a_guesser_through_nginx_does_not_lock_out_the_owner(
    tmp_path: Path, name: str
) -> None:
    trusted = (ipaddress.ip_network("127.0.0.1"),)
    server = await start_server(tmp_path / "data", trusted_proxies=trusted)
    proxy, port = nginx_with(tmp_path, name, _replacements(name, server.port or 0, tmp_path))
    front = f"http://127.0.0.1:{port}/"
    try:
        async with from_address("127.0.0.2") as guesser, from_address("127.0.0.3") as owner:
            _, user = await sign_up(owner, front, "Anna")
            login = str(user["login"])
            assert await guess(guesser, front, login, 11) == [401] * 10 + [429]
            forged = {"X-Forwarded-For": "198.51.100.4"}  # nginx appends the real one
            assert (await log_in(guesser, front, login, PASSWORD, forged))[0] == 429
            assert (await log_in(owner, front, login, PASSWORD))[0] == 200
    finally:
        proxy.terminate()
        proxy.wait(10)
        await server.close()
