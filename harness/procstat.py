"""CPU accounting from /proc, machine facts, and child processes that always go away."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import json
import logging
import os
import platform
import signal
import socket
import sys
from collections.abc import Coroutine
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def process_cpu_seconds(pid: int) -> float:
    """utime + stime of a process (all its threads) from /proc/<pid>/stat, in seconds."""
    text = Path(f"/proc/{pid}/stat").read_text()
    # the command name may contain spaces and parentheses: fields start after the last ')'
    fields = text[text.rindex(")") + 2 :].split()
    utime, stime = int(fields[11]), int(fields[12])
    return (utime + stime) / CLOCK_TICKS


def process_cpu_split(pid: int) -> tuple[float, float]:
    """(user, system) seconds of a process."""
    text = Path(f"/proc/{pid}/stat").read_text()
    fields = text[text.rindex(")") + 2 :].split()
    return int(fields[11]) / CLOCK_TICKS, int(fields[12]) / CLOCK_TICKS


def process_run_ns(pid: int) -> int:
    """Time on CPU of all threads, from /proc/<pid>/task/*/schedstat (nanoseconds).

    Finer-grained than the clock ticks of /proc/<pid>/stat; a cross-check only.
    """
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError, ValueError, IndexError):
            total += int((task / "schedstat").read_text().split()[0])
    return total


@dataclass(frozen=True)
class SystemCpu:
    """Machine-wide CPU counters from /proc/stat, in seconds."""

    busy: float
    softirq: float
    steal: float
    total: float

    @classmethod
    def read(cls) -> SystemCpu:
        with open("/proc/stat") as f:
            parts = f.readline().split()
        values = [int(v) for v in parts[1:]]
        # user nice system idle iowait irq softirq steal guest guest_nice
        user, nice, system, idle, iowait, irq, softirq, steal = (values + [0] * 8)[:8]
        total = user + nice + system + idle + iowait + irq + softirq + steal
        busy = total - idle - iowait
        return cls(
            busy / CLOCK_TICKS, softirq / CLOCK_TICKS, steal / CLOCK_TICKS, total / CLOCK_TICKS
        )


def machine_info() -> dict[str, object]:
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    versions: dict[str, str | None] = {}
    for package in ("aiortc", "aioice", "pylibsrtp", "aiohttp", "cryptography", "pyOpenSSL"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    affinity = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    return {
        "cores": os.cpu_count(),
        "cores_usable": len(affinity) or os.cpu_count(),
        "cpu_model": model,
        "kernel": platform.release(),
        "python": sys.version.split()[0],
        "python_implementation": platform.python_implementation(),
        "packages": versions,
        "clock_ticks_per_second": CLOCK_TICKS,
        "load_average_at_start": list(os.getloadavg()),
    }


def free_tcp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """preexec_fn: the child gets SIGTERM when the benchmark process dies (Linux)."""
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


async def terminate(process: asyncio.subprocess.Process, *, grace: float = 5.0) -> int | None:
    """SIGTERM, then SIGKILL after `grace` seconds; returns the exit code."""
    if process.returncode is not None:
        return process.returncode
    with contextlib.suppress(ProcessLookupError):
        process.send_signal(signal.SIGTERM)
    try:
        return await asyncio.wait_for(process.wait(), grace)
    except TimeoutError:
        pass
    with contextlib.suppress(ProcessLookupError):
        process.kill()
    with contextlib.suppress(TimeoutError):
        return await asyncio.wait_for(process.wait(), grace)
    return process.returncode


TOKEN_VARIABLE = "PARTA_BENCH_TOKEN"


def operator_headers() -> dict[str, str]:
    """The server under test is started with an operator's token (`--bearer-token`),
    which its WHIP and WHEP requests present; it is handed to every process in the
    environment."""
    token = os.environ.get(TOKEN_VARIABLE)
    return {"Authorization": f"Bearer {token}"} if token else {}


def run_and_report(
    main: Coroutine[Any, Any, dict[str, Any]], output: Path | None
) -> dict[str, Any]:
    """Run a benchmark with aiortc's chatter quieted, print its JSON report on stdout
    (and keep it in `output`), and return it."""
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(message)s")
    for name in ("aioice", "aiortc"):
        logging.getLogger(name).setLevel(logging.WARNING)
    report = asyncio.run(main)
    text = json.dumps(report, indent=2)
    if output is not None:
        output.write_text(text + "\n")
    sys.stdout.write(text + "\n")
    sys.stdout.flush()
    return report
