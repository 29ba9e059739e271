"""Optional py-spy sampling of the server during a measurement window.

py-spy is not a dependency of parta: install it into the venv by hand
(`.venv/bin/pip install py-spy`). Sampling costs CPU on another core and so perturbs
the numbers of the window it profiles a little; use it to see where time goes, not
for the headline figures.
"""

from __future__ import annotations

import asyncio
import shutil
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from harness import procstat


def py_spy() -> str | None:
    local = Path(sys.executable).with_name("py-spy")
    return str(local) if local.exists() else shutil.which("py-spy")


async def record(pid: int, seconds: float, output: Path, *, native: bool = False) -> int | None:
    """Sample `pid` for `seconds` into `output` (collapsed stacks); returns py-spy's exit code.

    Non-blocking mode (the target is never paused) unless `native`, which needs pauses
    to unwind C frames and so perturbs latency more.
    """
    executable = py_spy()
    if executable is None:
        return None
    args = [
        executable, "record", "--pid", str(pid), "--duration", str(max(1, round(seconds))),
        "--rate", "200", "--format", "raw", "--output", str(output),
    ]  # fmt: skip
    args.append("--native" if native else "--nonblocking")
    process = await asyncio.create_subprocess_exec(
        *args,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
        preexec_fn=procstat.die_with_parent,
    )
    try:
        return await asyncio.wait_for(process.wait(), seconds + 30)
    finally:
        await procstat.terminate(process)


def summarise(path: Path, top: int = 20) -> dict[str, Any]:
    """Share of samples per function: where the sample ended (self) and anywhere (total)."""
    own: Counter[str] = Counter()
    total: Counter[str] = Counter()
    samples = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        samples += count
        frames = [_short(f) for f in stack.split(";")]
        own[frames[-1]] += count
        for frame in set(frames):
            total[frame] += count
    if not samples:
        return {"samples": 0}

    def shares(counter: Counter[str]) -> dict[str, float]:
        return {k: round(100.0 * v / samples, 1) for k, v in counter.most_common(top)}

    return {"samples": samples, "self_percent": shares(own), "total_percent": shares(total)}


def _short(frame: str) -> str:
    # "function (path/to/module.py:123)" -> "function (module.py)"
    name, _, where = frame.partition(" (")
    if where:
        module = where.rstrip(")").rsplit("/", 1)[-1].split(":", 1)[0]
        return f"{name} ({module})"
    return name
