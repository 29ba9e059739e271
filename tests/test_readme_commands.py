"""The README's commands, run as a user runs them."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_run_serve_starts_the_server_with_the_web_client(tmp_path: Path) -> None:
    """`./run serve` (the README's first command) with options passed through."""
    port = free_port()
    process = subprocess.Popen(
        ["./run", "serve", "--port", str(port), "--data-dir", str(tmp_path / "data")],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as r:
                    assert json.load(r)["status"] == "ready"
                    break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
                time.sleep(0.2)
        # the home page asks a newcomer to log in first
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as r:
            assert r.url.endswith("/login?next=/")
            page = r.read().decode()
        assert "parta" in page and "/static/pages/login.js" in page
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/static/call/app.js", timeout=5) as r:
            assert r.headers["Cache-Control"] == "no-cache"
    finally:
        process.send_signal(signal.SIGINT)
        output = process.communicate(timeout=20)[0].decode()
    assert process.returncode == 0, output


@pytest.mark.timeout(300)
def test_forwarding_benchmark_prints_json() -> None:
    """`python -m benchmarks.forwarding` runs end to end; its figures are not judged here."""
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.forwarding",
            "--n",
            "2",
            "--duration",
            "1",
            "--warmup",
            "0.5",
            "--idle-window",
            "0",
            "--retries",
            "0",
            "--quiet-wait",
            "0",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=280,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    result = json.loads(completed.stdout)
    run = result["results"][0]
    assert run["subscribers"] == 2
    assert run["server"]["forwarded_pps"] > 0
    assert run["loss_percent"]["mean"] < 5
    assert "p99" in run["latency_ms"]


def _run_benchmark(module: str, *args: str) -> dict[str, object]:
    completed = subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=50,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    result: dict[str, object] = json.loads(completed.stdout)
    return result


@pytest.mark.timeout(60)
def test_upload_benchmark_prints_json() -> None:
    """`python -m benchmarks.upload` with a small file in two PATCH requests; the figures
    are not judged, the server's SHA-256 must match."""
    result = _run_benchmark("benchmarks.upload", "--size", "8M", "--chunk", "5M")
    assert result["size_bytes"] == 8 * 1024 * 1024
    assert result["patch_requests"] == 2
    digests = result["sha256"]
    assert isinstance(digests, dict) and digests["match"] is True, digests
    assert isinstance(result["throughput_mb_s"], float)
    server = result["server"]
    assert isinstance(server, dict) and server["peak_rss_mib"] > 0


@pytest.mark.timeout(60)
def test_chat_fanout_benchmark_prints_json() -> None:
    """`python -m benchmarks.chat_fanout` with 20 subscribers and 10 posts: every post
    reaches every subscriber; the figures are not judged."""
    result = _run_benchmark(
        "benchmarks.chat_fanout", "--clients", "20", "--messages", "10", "--setup-concurrency", "8"
    )
    assert result["deliveries"] == result["deliveries_expected"] == 200
    assert result["clients_with_every_message"] == 20
    latency = result["latency_ms"]
    assert isinstance(latency, dict) and latency["p99"] is not None


@pytest.mark.timeout(60)
def test_recording_benchmark_prints_json() -> None:
    """`python -m benchmarks.recording --quick`: the recorder process records two
    participants' 2 s, and forwarding is measured with and without a recording; the
    figures are not judged."""
    result = _run_benchmark("benchmarks.recording", "--quick")
    recorder = result["recorder"]
    assert isinstance(recorder, dict)
    two = recorder["by_participants"]["2"]
    assert two["recorder"]["exit_code"] == 0 and two["mp4_duration_matches"], two
    assert two["cpu_seconds_per_recorded_second"] > 0
    forwarding = result["forwarding"]
    assert isinstance(forwarding, dict) and "error" not in forwarding, forwarding
    assert forwarding["with_recording"]["recorder_processes"] == 1
    assert forwarding["with_recording"]["stop_reply"] == {"recording": False}
    assert forwarding["without_recording"]["latency_ms"]["p99"] is not None
