"""`python -m benchmarks.transcription --quick` runs end to end and prints its JSON; the
figures are checked for shape and sanity only, never for speed."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _positive(value: Any) -> bool:
    return isinstance(value, int | float) and math.isfinite(value) and value > 0


def _spread_ok(figure: Any) -> bool:
    return (
        isinstance(figure, dict)
        and set(figure) == {"median", "min", "max"}
        and all(_positive(figure[k]) for k in figure)
        and figure["min"] <= figure["median"] <= figure["max"]
    )


@pytest.mark.timeout(120)
def test_transcription_benchmark_quick_prints_json() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "benchmarks.transcription", "--quick"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=110,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    result = json.loads(completed.stdout)
    assert result["benchmark"] == "parta transcription"

    (row,) = result["rtf"]
    assert (row["model"], row["language"], row["clip"]) == ("tiny.en", "en", "short")
    assert (row["threads"], row["beam_size"], row["batch_size"]) == (1, 5, 1)
    assert _positive(row["audio_seconds"]) and _positive(row["load_seconds"])
    for key in ("wall_rtf", "cpu_rtf"):
        assert _spread_ok(row[key]), (key, row[key])
    wer = row["wer"]["median"]
    assert isinstance(wer, float) and 0 <= wer < 0.5, row  # the clip was understood
    assert row["languages_detected"] == ["en"]

    (pool,) = result["pool"]
    assert (pool["workers"], pool["threads"], pool["messages"]) == (1, 1, 2)
    assert _positive(pool["audio_seconds"]) and _positive(pool["first_jobs_with_start_seconds"])
    for key in (
        "worker_start_seconds",
        "wall_seconds",
        "messages_per_minute",
        "audio_seconds_per_wall_second",
        "latency_p50_seconds",
        "latency_p99_seconds",
        "cpu_rtf",
    ):
        assert _spread_ok(pool[key]), (key, pool[key])
    assert pool["latency_p50_seconds"]["median"] <= pool["latency_p99_seconds"]["median"]
    assert 0 <= pool["wer"]["median"] < 0.5, pool
