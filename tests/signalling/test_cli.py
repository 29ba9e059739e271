"""`parta serve`, as the README's first command runs it."""

from __future__ import annotations

import asyncio
import signal
import socket
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest

from signalling.cli import build_parser, config_from_args


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_help_explains_every_option() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "signalling.cli", "serve", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    for option in ("--host", "--port", "--data-dir", "--log-level", "--ice-address", "--rtc-ports"):
        assert option in result.stdout


def test_bad_options_are_refused_clearly() -> None:
    parser = build_parser()
    with pytest.raises(SystemExit, match="not an IP address"):
        config_from_args(parser.parse_args(["serve", "--ice-address", "example.com"]))
    with pytest.raises(SystemExit, match="MIN-MAX"):
        config_from_args(parser.parse_args(["serve", "--rtc-ports", "lots"]))
    config = config_from_args(parser.parse_args(["serve", "--rtc-ports", "40000-40100"]))
    assert (config.rtc_port_min, config.rtc_port_max) == (40000, 40100)
    assert config.ice_addresses == ("127.0.0.1",)
    assert config.max_upload_bytes == 16 * 1024**3
    config = config_from_args(
        parser.parse_args(["serve", "--max-upload-size", "500M", "--org-quota", "2T"])
    )
    assert (config.max_upload_bytes, config.org_quota_bytes) == (500 * 1024**2, 2 * 1024**4)
    with pytest.raises(SystemExit, match="not a size"):
        config_from_args(parser.parse_args(["serve", "--org-quota", "plenty"]))


async def test_serve_starts_and_stops(tmp_path: Path) -> None:
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "signalling.cli",
            "serve",
            "--port",
            str(port),
            "--data-dir",
            str(tmp_path / "d"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        async with aiohttp.ClientSession() as http:
            for _ in range(100):
                try:
                    async with http.get(f"http://127.0.0.1:{port}/readyz") as response:
                        if response.status == 200:
                            break
                except aiohttp.ClientConnectionError:
                    pass
                await asyncio.sleep(0.1)
            else:
                raise AssertionError("server did not become ready")
            async with http.get(f"http://127.0.0.1:{port}/call/lesson-1") as response:
                assert response.status == 200  # the log-in page, on the way to the call
                assert str(response.url).endswith("/login?next=/call/lesson-1")
                assert "<html" in (await response.text()).lower()
        assert (tmp_path / "d").is_dir()
    finally:
        process.send_signal(signal.SIGINT)
        output = process.communicate(timeout=10)[0].decode()
    assert process.returncode == 0, output
    assert f"http://127.0.0.1:{port}/" in output
