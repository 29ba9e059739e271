"""`python -m benchmarks.broadcast --quick` runs end to end and prints its JSON: WHEP viewers
of a broadcast, the HLS delay, and HLS viewers through nginx (when Debian's nginx is
installed) and through parta. Shape and sanity only, never speed."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.support.nginx import nginx_installed

ROOT = Path(__file__).resolve().parents[2]


def _positive(value: Any) -> bool:
    return isinstance(value, int | float) and math.isfinite(value) and value > 0


def _measured(value: Any) -> bool:
    return isinstance(value, int | float) and math.isfinite(value) and value >= 0


@pytest.mark.timeout(180)
def test_broadcast_benchmark_quick_prints_json() -> None:
    targets = "nginx,parta" if nginx_installed() else "parta"
    completed = subprocess.run(
        [sys.executable, "-m", "benchmarks.broadcast", "--quick", "--hls-targets", targets],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=170,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    result = json.loads(completed.stdout)
    assert result["benchmark"] == "parta broadcast"
    assert "error" not in result

    whep = result["whep"]
    assert "error" not in whep, whep.get("error")
    assert [s["subscribers"] for s in whep["steps"]] == [3, 10]
    for step in whep["steps"]:
        server = step["server"]
        assert _positive(server["us_per_forwarded_packet"]), server
        assert _positive(server["forwarded_pps"]) and _positive(server["cpu_utilisation"])
        assert _positive(step["latency_ms"]["p50"]) and _positive(step["latency_ms"]["p99"])
        assert step["latency_ms"]["by_kind"]["video"]["p50"] is not None
        loss = step["sequence_loss_percent"]
        assert loss["viewers_measured"] == step["subscribers"]
        assert math.isfinite(loss["mean"]) and loss["mean"] >= 0
        assert step["receiver_reports_sent"] > 0
        assert set(step["viewers_cut"]) == {"stalled", "too_slow"}
        clients = step["clients_cpu_utilisation"]
        assert "broadcast_encoder" in clients and "subscribers_0" in clients
        assert isinstance(step["sustained"], bool)

    hls = result["hls"]
    assert "error" not in hls, hls.get("error")
    delay = hls["delay"]
    for kind in ("part_delay_ms", "segment_delay_ms"):
        assert delay[kind]["count"] > 0, delay
        assert _positive(delay[kind]["p50"]) and _positive(delay[kind]["p99"])
    for target in targets.split(","):
        steps = hls[target]["steps"]
        assert [s["viewers"] for s in steps][:1] == [10], steps
        first = steps[0]
        assert first["segments_in_window"] > 0
        assert _positive(first["fetch_ms"]["p50"]) and _positive(first["fetch_ms"]["p99"])
        assert _positive(first["lag_ms"]["p99"])
        assert _positive(first["rendition_kbit_s"])
        assert _positive(first["delivered_kbit_s_per_viewer"])
        assert first["in_time_percent"] is not None and 0 <= first["in_time_percent"] <= 100
        # CPU is read in 10 ms ticks: a few viewers in a short window may cost none
        for part in ("parta", "fetchers"):
            assert _measured(first["cpu_utilisation"][part]), first["cpu_utilisation"]
    summary = result["summary"]
    assert set(summary) >= {"whep", "hls_delay_ms"}
