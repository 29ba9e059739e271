"""`python -m benchmarks.cluster --quick` runs end to end on three nodes, a real
redis-server and a fresh PostgreSQL database, and prints its JSON. Shape and sanity
only, never speed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.store.conftest import fresh_postgres

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.timeout(240)
async def test_cluster_benchmark_quick_prints_json() -> None:
    async with fresh_postgres():  # skipped, with the reason, where PostgreSQL is missing
        pass
    completed = subprocess.run(
        [sys.executable, "-m", "benchmarks.cluster", "--quick"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=230,
    )
    assert completed.returncode == 0, (completed.stdout[-2000:], completed.stderr[-3000:])
    result = json.loads(completed.stdout)
    assert "error" not in result, result["error"]
    joins = result["joins"]
    assert joins["redirect_via_b"]["redirects_followed"] == joins["count_per_mode"]
    assert joins["direct_on_a"]["redirects_followed"] == 0
    for mode in ("direct_on_a", "redirect_via_b"):
        assert 0 < joins[mode]["p50_ms"] <= joins[mode]["p99_ms"]
    chat = result["chat"]
    assert chat["not_delivered_within_5s"] == 0 and chat["count"] == chat["messages"]
    assert chat["redis_commands_per_message"] > 0
    steps = result["broadcast"]["steps"]
    assert [s["nodes_used"] for s in steps] == [1, 2, 3]
    for step in steps:
        assert step["viewers_receiving_video"] == result["broadcast"]["viewers"]
    # with three nodes the origin sends one pipe to each of the two edges
    assert steps[-1]["nodes"]["a"]["gauges"]["parta_edge_pipes"] == 2.0
    assert {int(code) for code in result["node_exit_codes"].values()} == {0}
