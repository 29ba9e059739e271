"""`python -m benchmarks.peer`: its latency matcher on a capture made here, and one
short run of Janus and parta side by side (N = 1) that prints its JSON. Shape and
sanity only, never speed."""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.peer import capture, netns
from tests.support.gstreamer import gstreamer_installed

ROOT = Path(__file__).resolve().parents[2]
SERVER, CLIENT = netns.SERVER_IP, netns.CLIENT_IP


def frame(src: str, dst: str, dport: int, ssrc: int, seq: int, payload: int) -> bytes:
    """Ethernet, IPv4, UDP and an RTP header; `payload` bytes after it (not captured)."""
    rtp = struct.pack("!BBHII", 0x80, 96, seq & 0xFFFF, seq * 3000, ssrc)
    udp = struct.pack("!HHHH", 5000, dport, 8 + len(rtp) + payload, 0)
    ip = struct.pack(
        "!BBHHHBBH4s4s",
        0x45,
        0,
        20 + 8 + len(rtp) + payload,
        0,
        0,
        64,
        17,
        0,
        bytes(map(int, src.split("."))),
        bytes(map(int, dst.split("."))),
    )
    return b"\x00" * 12 + b"\x08\x00" + ip + udp + rtp


def write_pcap(path: Path, packets: list[tuple[float, bytes]]) -> None:
    out = [struct.pack("<IHHiIII", 0xA1B23C4D, 2, 4, 0, 0, 65535, 1)]
    for t, data in sorted(packets):
        sec = int(t)
        out.append(struct.pack("<IIII", sec, round((t - sec) * 1e9), len(data), len(data)))
        out.append(data)
    path.write_bytes(b"".join(out))


def test_each_copy_is_matched_to_its_original(tmp_path: Path) -> None:
    """Two subscribers of a video stream (sizes vary) and of an audio stream (all one
    size: told apart by timing), renumbered by their own offsets, each copy leaving
    0.5 ms (video) or 0.2 ms (audio) after its original came in."""
    packets = []
    for i in range(200):
        t = 1000.0 + i * 0.02
        video = 1100 if i % 6 else 300 + i
        packets.append((t, frame(CLIENT, SERVER, 5000, 11, 500 + i, video)))
        packets.append((t + 0.001, frame(CLIENT, SERVER, 5000, 22, 7000 + i, 80)))
        for port, offset in ((6001, 1234), (6002, 40000)):
            packets.append(
                (t + 0.0005, frame(SERVER, CLIENT, port, 99, 500 + i + offset, video + 6))
            )
            packets.append((t + 0.0012, frame(SERVER, CLIENT, port, 98, 7000 + i + offset, 86)))
    write_pcap(tmp_path / "c.pcap", packets)
    result = capture.latencies(capture.read_pcap(tmp_path / "c.pcap", SERVER))
    assert result["streams_matched"] == 4 and result["streams_unmatched"] == 0
    assert result["packets"] == 4 * 200
    assert 0.19 < result["p50_ms"] < 0.51 and result["max_ms"] < 0.51


def _why_not() -> str | None:
    if os.geteuid() != 0:
        return "needs root (network namespaces)"
    for tool in ("ip", "tcpdump", "/usr/bin/janus"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (./run test installs it)"
    if not gstreamer_installed():
        return "GStreamer's webrtcbin for Debian's python3 is not installed (./run test does)"
    return None


MISSING = _why_not()


@pytest.mark.timeout(600)
@pytest.mark.skipif(MISSING is not None, reason=str(MISSING))
def test_janus_and_parta_side_by_side_print_json() -> None:
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.peer",
            "--sizes",
            "1",
            "--window",
            "3",
            "--warmup",
            "1",
            "--latency-window",
            "1.5",
            "--server-start-wait",
            "4",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=580,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    lines = [json.loads(line) for line in completed.stdout.splitlines()]
    runs = {r["sfu"]: r for r in lines if "sfu" in r}
    assert set(runs) == {"janus", "parta"}
    for sfu, run in runs.items():
        assert "error" not in run, run
        assert run["flowing"] == 1 and run["us_per_pkt"] > 0
        assert run["publisher_pps"] > 100  # VP8 and Opus from GStreamer
        assert run["loss"]["missing"] == 0 and run["loss"]["bad_srtp"] == 0
        assert run["delivery_ratio"]["min"] > 0.98, (sfu, run["delivery_ratio"])
        assert run["latency"]["packets"] > 0 and run["latency"]["streams_unmatched"] == 0
    assert runs["parta"]["drops"] == {}
    assert runs["janus"]["drops"] is None  # Janus has no such counter
    assert runs["parta"]["srtp_profiles"] and runs["janus"]["srtp_profiles"]
    summary = next(r["summary"] for r in lines if "summary" in r)
    assert summary[0]["n"] == 1 and "parta_cpu_vs_janus" in summary[0]
