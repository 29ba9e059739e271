"""Running a browser driver in a private network namespace.

Each browser test runs a driver module (`python -m tests.browser.<driver>`) inside
`unshare --net` with only loopback up, so Chromium's media path is 127.0.0.1 on both
ends and no packet can leave the machine. The driver starts parta in its own process
and prints one JSON object.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.browser.chromium import CHROMIUM_PATH, chromium_available

ROOT = Path(__file__).resolve().parents[2]


def in_private_network(command: list[str]) -> list[str]:
    script = "ip link set lo up && exec " + " ".join(f"'{c}'" for c in command)
    return ["unshare", "--net", "sh", "-c", script]


def run_driver(module: str, out: Path, *, timeout: float) -> dict[str, Any]:
    """Run `tests.browser.<module>` in a loopback-only namespace; return its JSON."""
    assert chromium_available(), f"{CHROMIUM_PATH} is missing: ./run test installs it"
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("needs root and unshare for a loopback-only network namespace")
    command = in_private_network(
        [
            sys.executable,
            "-m",
            f"tests.browser.{module}",
            "--out",
            str(out),
            "--timeout",
            str(timeout),
        ]
    )
    completed = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=170)
    lines = completed.stdout.strip().splitlines()
    assert lines, f"driver printed nothing; stderr:\n{completed.stderr[-3000:]}"
    result: dict[str, Any] = json.loads(lines[-1])
    assert completed.returncode == 0, f"{result}\n{completed.stderr[-3000:]}"
    return result
