"""parta beside Janus with a real encoder on a real link: the peer benchmark.

    sudo .venv/bin/python -m benchmarks.peer                      # N = 10, 50, 100
    sudo .venv/bin/python -m benchmarks.peer --sizes 10 --sfu parta --window 10

One GStreamer webrtcbin publisher (VP8 1.5 Mbit/s at 30 fps, moving bars, Opus 20 ms:
about 225 packets/s) and N aiortc receivers, in network namespace pb-client; the SFU
in pb-janus; a veth pair between them (`netns.py`). Janus 1.1.2 (Debian's, VideoRoom,
`janus-conf/`) and parta (WHIP in, WHEP out, the publisher's offer as GStreamer makes
it) run back to back in one run, a fresh server for each N.

Per SFU and N, after every receiver is flowing and a warm-up, a steady window:

- `us_per_pkt`: the server's CPU (utime+stime of it and its children, /proc) per
  packet the receivers got;
- `publisher_pps`, and per subscriber `pps` and `delivery_ratio` (what it got over
  what the publisher sent in the window: webrtcbin's own count at its nicesink);
- `loss`: what the receivers see as missing sequence numbers (SRTP-authenticated);
- `drops`: the SFU's own count of packets not forwarded, by reason (parta's
  /metrics; Janus has no such counter: null);
- `latency`: what the SFU adds, p50/p99/max, from tcpdump's kernel timestamps on the
  server's side of the veth over a short window after the measured one (capture.py).

Needs root (ip netns). Installs what is missing: Debian's janus, GStreamer with
webrtcbin and libnice, python3-gi and tcpdump, and a venv on Debian's python with its
system packages (for `gi`) and our pinned aiortc, for the publisher and receivers
(`--tools-venv`). One JSON line per SFU and N on stdout, and a final summary object;
with `--out`, the lines are also written there. Logs go to `--logdir`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.peer import capture, netns
from harness import procstat

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
APT = [
    "janus",
    "iproute2",
    "tcpdump",
    "python3-venv",
    "python3-gi",
    "gir1.2-gstreamer-1.0",
    "gir1.2-gst-plugins-base-1.0",
    "gir1.2-gst-plugins-bad-1.0",
    "gir1.2-nice-0.1",
    "gstreamer1.0-tools",
    "gstreamer1.0-plugins-base",
    "gstreamer1.0-plugins-good",
    "gstreamer1.0-plugins-bad",
    "gstreamer1.0-nice",
]
TOKEN = "peer-bench-token"
PARTA_PORT, JANUS_PORT, ROOM = 8080, 8088, 4242


def log(message: str) -> None:
    print(f"[peer {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def pinned(package: str) -> str:
    for line in (ROOT / "pyproject.toml").read_text().splitlines():
        if line.strip().strip('",').startswith(f"{package}=="):
            return line.strip().strip('",')
    raise RuntimeError(f"pyproject.toml pins no {package}")


def ensure_tools(venv: Path) -> Path:
    """Debian's packages and the tools venv; its python."""
    missing = [
        p
        for p in APT
        if subprocess.run(
            ["dpkg-query", "-W", "-f=${Status}", p], capture_output=True, text=True
        ).stdout
        != "install ok installed"
    ]
    if missing:
        log(f"installing {' '.join(missing)}")
        subprocess.run(["apt-get", "update", "-q"], check=True, capture_output=True)
        subprocess.run(
            ["apt-get", "install", "-y", "-q", *missing],
            check=True,
            capture_output=True,
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        )
    python = venv / "bin" / "python"
    check = [str(python), "-c", "import aiortc, aiohttp, gi"]
    if not python.exists() or subprocess.run(check, capture_output=True).returncode:
        log(f"making {venv} (Debian's python, its gi, our pinned aiortc)")
        subprocess.run(
            ["/usr/bin/python3", "-m", "venv", "--system-site-packages", str(venv)], check=True
        )
        subprocess.run(
            [
                str(venv / "bin" / "pip"),
                "install",
                "-q",
                pinned("aiortc"),
                pinned("aioice"),
                pinned("pylibsrtp"),
                "aiohttp>=3.10,<4",
            ],
            check=True,
        )
    return python


def tree_cpu(pid: int) -> float:
    """utime+stime of `pid` and its descendants."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, ValueError, IndexError):
                text = (entry / "stat").read_text()
                children.setdefault(int(text[text.rindex(")") + 2 :].split()[1]), []).append(
                    int(entry.name)
                )
    total, todo = 0.0, [pid]
    while todo:
        p = todo.pop()
        with contextlib.suppress(OSError, ValueError, IndexError):
            total += procstat.process_cpu_seconds(p)
        todo.extend(children.get(p, []))
    return total


class Child:
    """A process speaking JSON lines on stdout, its stderr in a log file."""

    def __init__(self, name: str, argv: list[str], logdir: Path) -> None:
        self.name = name
        self.log = open(logdir / f"{name}.log", "w")  # noqa: SIM115 (closed in stop)
        self.process = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
            bufsize=1,
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )

    def send(self, line: str) -> None:
        with contextlib.suppress(OSError, ValueError):
            assert self.process.stdin is not None
            self.process.stdin.write(line + "\n")
            self.process.stdin.flush()

    def read(self, wanted: str, timeout: float) -> dict[str, Any]:
        """The next JSON line that has `wanted` (as a key, or as its "event")."""
        assert self.process.stdout is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if not line:
                raise RuntimeError(f"{self.name} exited ({self.process.poll()}): {self.log.name}")
            with contextlib.suppress(ValueError):
                message: dict[str, Any] = json.loads(line)
                if "error" in message:
                    raise RuntimeError(f"{self.name}: {message['error']}")
                if wanted in message or message.get("event") == wanted:
                    return message
        raise TimeoutError(f"{self.name}: no {wanted} in {timeout} s")

    def stop(self, quit_line: str, grace: float = 15.0) -> None:
        if self.process.poll() is None:
            self.send(quit_line)
            try:
                self.process.wait(grace)
            except subprocess.TimeoutExpired:
                self.process.terminate()
                try:
                    self.process.wait(5)
                except subprocess.TimeoutExpired:
                    self.process.kill()
        self.log.close()


def in_server(*argv: str) -> list[str]:
    return ["ip", "netns", "exec", netns.SERVER_NS, *argv]


def in_client(*argv: str) -> list[str]:
    return ["ip", "netns", "exec", netns.CLIENT_NS, *argv]


def parta_drops() -> dict[str, float]:
    """parta's parta_packets_dropped_total by reason, and its viewers cut."""
    text = subprocess.run(
        in_server(
            "curl",
            "-s",
            "-H",
            f"Authorization: Bearer {TOKEN}",
            f"http://{netns.SERVER_IP}:{PARTA_PORT}/metrics",
        ),
        capture_output=True,
        text=True,
    ).stdout
    drops: dict[str, float] = {}
    for line in text.splitlines():
        for family, prefix in (
            ("parta_packets_dropped_total", ""),
            ("parta_viewer_drops_total", "viewer_cut_"),
        ):
            if line.startswith(family + "{"):
                reason = line.split('reason="', 1)[1].split('"', 1)[0]
                drops[prefix + reason] = float(line.rsplit(" ", 1)[1])
    return drops


def run_one(
    args: argparse.Namespace, sfu: str, n: int, tools: Path, logdir: Path
) -> dict[str, Any]:
    tag = f"{sfu}-n{n}"
    with tempfile.TemporaryDirectory(prefix="parta-peer-") as data:
        if sfu == "janus":
            server = subprocess.Popen(
                in_server(
                    "/usr/bin/janus",
                    "-F",
                    str(HERE / "janus-conf"),
                    "-L",
                    str(logdir / f"{tag}-janus.log"),
                    "-N",
                    "-o",
                ),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.STDOUT,
            )
            signal = [
                "--signal",
                "janus",
                "--url",
                f"http://{netns.SERVER_IP}:{JANUS_PORT}/janus",
                "--room",
                str(ROOM),
                "--feed",
                "1",
            ]
            subscribe = signal
        else:
            command = [
                str(ROOT / ".venv" / "bin" / "parta"),
                "serve",
                "--host",
                netns.SERVER_IP,
                "--port",
                str(PARTA_PORT),
                "--ice-address",
                netns.SERVER_IP,
                "--public-url",
                f"http://{netns.SERVER_IP}:{PARTA_PORT}",
                "--bearer-token",
                TOKEN,
                "--speech-model",
                "off",
                "--data-dir",
                data,
                "--log-level",
                "info",
                *shlex.split(args.parta_args),
            ]
            server = subprocess.Popen(
                in_server(*command),
                stdin=subprocess.DEVNULL,
                stdout=open(logdir / f"{tag}-parta.log", "w"),  # noqa: SIM115
                stderr=subprocess.STDOUT,
            )
            base = f"http://{netns.SERVER_IP}:{PARTA_PORT}"
            signal = ["--signal", "whip", "--url", f"{base}/whip/bench", "--token", TOKEN]
            subscribe = ["--signal", "whep", "--url", f"{base}/whep/bench", "--token", TOKEN]
        children: list[tuple[Child, str]] = []
        try:
            time.sleep(args.server_start_wait)
            if server.poll() is not None:
                raise RuntimeError(f"{sfu} exited at start ({server.returncode}); see {logdir}")
            publisher = Child(
                f"{tag}-publisher",
                in_client(
                    str(tools),
                    "-m",
                    "benchmarks.peer.publisher",
                    *signal,
                    "--address",
                    netns.CLIENT_IP,
                    "--pattern",
                    "smpte",
                    "--width",
                    "640",
                    "--height",
                    "480",
                    "--fps",
                    "30",
                    "--bitrate",
                    str(args.bitrate),
                ),
                logdir,
            )
            children.append((publisher, '{"quit": true}'))
            connected = publisher.read("connected", 60)
            log(f"{tag}: publisher connected, answer {connected.get('answer_setup')}")
            processes = max(1, math.ceil(n / args.per_process))
            receivers = []
            for i in range(processes):
                count = n // processes + (1 if i < n % processes else 0)
                child = Child(
                    f"{tag}-receivers-{i}",
                    in_client(
                        str(tools),
                        "-m",
                        "benchmarks.peer.receivers",
                        *subscribe,
                        "--count",
                        str(count),
                    ),
                    logdir,
                )
                children.append((child, "quit"))
                receivers.append(child)
            ups = [r.read("up", 60 + 2 * n) for r in receivers]
            flowing = sum(u["flowing"] for u in ups)
            profiles = sorted({p for u in ups for p in u["srtp_profiles"]})
            log(f"{tag}: {flowing}/{n} receivers flowing, SRTP {profiles}")
            time.sleep(args.warmup)

            def snapshot() -> dict[str, Any]:
                # the publisher's count is read just before and just after the
                # receivers' marks, and taken at each mark's own moment (each process
                # marks when its loop gets to it, milliseconds apart under load)
                publisher.send('{"stats": true}')
                before = publisher.read("stats", 30)
                at = time.monotonic()
                for r in receivers:
                    r.send("mark x")
                marks = [r.read("mark", 30) for r in receivers]
                publisher.send('{"stats": true}')
                after = publisher.read("stats", 30)
                span = max(1e-6, after["t"] - before["t"])
                for mark in marks:
                    share = min(1.0, max(0.0, (mark["t"] - before["t"]) / span))
                    mark["sent"] = {
                        k: before["stats"][k] + share * (after["stats"][k] - before["stats"][k])
                        for k in ("audio", "video")
                    }
                return {
                    "t": at,
                    "cpu": tree_cpu(server.pid),
                    "drops": parta_drops() if sfu == "parta" else {},
                    "udp": netns.udp_counters(netns.CLIENT_NS),
                    "sent": marks[0]["sent"] if marks else before["stats"],
                    "marks": marks,
                }

            s0 = snapshot()
            time.sleep(args.window)
            s1 = snapshot()
            latency = measure_latency(args, logdir / f"{tag}.pcap")
            return summarise(sfu, n, flowing, profiles, s0, s1, latency)
        finally:
            for child, quit_line in reversed(children):
                child.stop(quit_line)
            server.send_signal(2)  # SIGINT: Janus and parta both shut down cleanly
            try:
                server.wait(20)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


def measure_latency(args: argparse.Namespace, path: Path) -> dict[str, Any]:
    dump = subprocess.Popen(
        in_server(
            "tcpdump",
            "-i",
            netns.SERVER_IF,
            "-s",
            "160",
            "-B",
            "65536",
            "--time-stamp-precision=nano",
            "-w",
            str(path),
            "udp",
        ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(args.latency_window)
    dump.send_signal(2)
    dump.wait(10)
    try:
        return capture.latencies(capture.read_pcap(path, netns.SERVER_IP))
    finally:
        if not args.keep_pcap:
            path.unlink(missing_ok=True)


def summarise(
    sfu: str,
    n: int,
    flowing: int,
    profiles: list[str],
    s0: dict[str, Any],
    s1: dict[str, Any],
    latency: dict[str, Any],
) -> dict[str, Any]:
    dt = s1["t"] - s0["t"]
    sent = sum(s1["sent"][k] - s0["sent"][k] for k in ("audio", "video"))

    def total(key: str) -> int:
        return int(sum(m[key] for m in s1["marks"]) - sum(m[key] for m in s0["marks"]))

    per_sub: list[int] = []
    ratios: list[float] = []
    for m0, m1 in zip(s0["marks"], s1["marks"], strict=True):
        # what the publisher sent between this process's two marks
        sent_here = sum(m1["sent"][k] - m0["sent"][k] for k in ("audio", "video"))
        for a, b in zip(m0["per_sub"], m1["per_sub"], strict=True):
            per_sub.append(b - a)
            if sent_here:
                ratios.append((b - a) / sent_here)
    received = total("packets")
    cpu = s1["cpu"] - s0["cpu"]
    return {
        "sfu": sfu,
        "n": n,
        "flowing": flowing,
        "window_s": round(dt, 3),
        "server_cpu_pct": round(100 * cpu / dt, 1),
        "us_per_pkt": round(1e6 * cpu / received, 2) if received else None,
        "publisher_pps": round(sent / dt, 1),
        "publisher_sent": {k: round(s1["sent"][k] - s0["sent"][k]) for k in ("audio", "video")},
        "per_sub_pps": {
            "mean": round(received / max(1, n) / dt, 1),
            "min": round(min(per_sub) / dt, 1) if per_sub else None,
            "max": round(max(per_sub) / dt, 1) if per_sub else None,
        },
        "delivery_ratio": {
            "mean": round(sum(ratios) / len(ratios), 4) if ratios else None,
            "min": round(min(ratios), 4) if ratios else None,
        },
        "audio_pps_per_sub": round(total("audio") / max(1, n) / dt, 1),
        "video_pps_per_sub": round(total("video") / max(1, n) / dt, 1),
        "loss": {
            "missing": total("lost"),
            "expected": total("expected"),
            "bad_srtp": total("bad_srtp"),
            "early": total("early"),
        },
        "drops": {
            k: v - s0["drops"].get(k, 0)
            for k, v in s1["drops"].items()
            if v - s0["drops"].get(k, 0)
        }
        if sfu == "parta"
        else None,
        "rcvbuf_errors": s1["udp"].get("RcvbufErrors", 0) - s0["udp"].get("RcvbufErrors", 0),
        "latency": latency,
        "srtp_profiles": profiles,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="10,50,100")
    parser.add_argument("--sfu", default="janus,parta", help="which, in this order")
    parser.add_argument("--window", type=float, default=20.0)
    parser.add_argument("--warmup", type=float, default=5.0)
    parser.add_argument("--latency-window", type=float, default=4.0)
    parser.add_argument("--bitrate", type=int, default=1_500_000)
    parser.add_argument("--per-process", type=int, default=50, help="receivers per process")
    parser.add_argument("--server-start-wait", type=float, default=6.0)
    parser.add_argument("--parta-args", default="", help="more `parta serve` options")
    parser.add_argument("--tools-venv", type=Path, default=Path("/tmp/parta-peer-venv"))
    parser.add_argument("--logdir", type=Path, default=Path("/tmp/parta-peer-logs"))
    parser.add_argument("--out", type=Path)
    parser.add_argument("--keep-pcap", action="store_true")
    args = parser.parse_args()
    if os.geteuid() != 0:
        parser.error("needs root: it makes network namespaces")
    if shutil.which("ip") is None:
        parser.error("needs iproute2")
    tools = ensure_tools(args.tools_venv)
    args.logdir.mkdir(parents=True, exist_ok=True)
    results = []
    netns.up()
    try:
        for n in (int(x) for x in args.sizes.split(",")):
            for sfu in args.sfu.split(","):
                try:
                    result = run_one(args, sfu, n, tools, args.logdir)
                except Exception as exc:
                    result = {"sfu": sfu, "n": n, "error": repr(exc)[:500]}
                print(json.dumps(result), flush=True)
                if args.out is not None:
                    with args.out.open("a") as out:
                        out.write(json.dumps(result) + "\n")
                results.append(result)
    finally:
        netns.down()
    print(json.dumps({"summary": table(results)}), flush=True)
    return 1 if any("error" in r for r in results) else 0


def table(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per N: each SFU's CPU per packet, delivery and latency, and parta's CPU against
    Janus's."""
    rows = []
    for n in sorted({r["n"] for r in results}):
        row: dict[str, Any] = {"n": n}
        for r in results:
            if r["n"] == n and "error" not in r:
                row[r["sfu"]] = {
                    "us_per_pkt": r["us_per_pkt"],
                    "per_sub_pps": r["per_sub_pps"]["mean"],
                    "delivery_min": r["delivery_ratio"]["min"],
                    "latency_p99_ms": r["latency"].get("p99_ms"),
                }
        if "janus" in row and "parta" in row and row["janus"]["us_per_pkt"]:
            row["parta_cpu_vs_janus"] = round(
                row["parta"]["us_per_pkt"] / row["janus"]["us_per_pkt"], 2
            )
        rows.append(row)
    return rows


if __name__ == "__main__":
    sys.exit(main())
