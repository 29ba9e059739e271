"""The operations files in deploy/ name only metrics a parta node exposes: every panel
and variable of the Grafana dashboard, every Prometheus alerting rule. The node is
started in cluster mode (Redis and PostgreSQL), so the cluster's metrics are there too.
A metric renamed in metrics/events.py without its panel fails here, not on a
dashboard that quietly shows "No data"."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml  # type: ignore[import-untyped]  # PyYAML comes with ctranslate2
from prometheus_client.parser import text_string_to_metric_families

from tests.cluster.test_nodes import redis_url, start_node
from tests.store.conftest import postgres_url

__all__ = ["postgres_url", "redis_url"]

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
DASHBOARD = DEPLOY / "grafana" / "parta.json"
ALERTS = DEPLOY / "prometheus" / "parta-alerts.yml"

# parta's own metrics and the process collector's; PromQL functions, keywords and label
# names never start with these
METRIC = re.compile(r"\b(parta_[a-z0-9_]+|process_[a-z0-9_]+)\b")
STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'')
SUFFIXES = ("_total", "_bucket", "_sum", "_count", "_created")
PAIRS = {")": "(", "]": "[", "}": "{"}


def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return loaded


def panels(board: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel, rows' collapsed panels included; rows themselves are not panels."""
    for panel in board["panels"]:
        if panel["type"] == "row":
            yield from panel.get("panels", [])
        else:
            yield panel


def dashboard_exprs(board: dict[str, Any]) -> list[str]:
    exprs = [target["expr"] for panel in panels(board) for target in panel.get("targets", [])]
    for variable in board["templating"]["list"]:
        if variable["type"] != "query":
            continue
        query = variable["query"]
        exprs.append(query["query"] if isinstance(query, dict) else query)
    return exprs


def alert_exprs() -> list[str]:
    rules = yaml.safe_load(ALERTS.read_text())
    return [str(rule["expr"]) for group in rules["groups"] for rule in group["rules"]]


def metric_names(expr: str) -> set[str]:
    return set(METRIC.findall(STRING.sub('""', expr)))


def balanced(expr: str) -> bool:
    """Parentheses, brackets and braces close in order, outside string literals."""
    stack: list[str] = []
    for char in STRING.sub('""', expr):
        if char in "([{":
            stack.append(char)
        elif char in PAIRS and (not stack or stack.pop() != PAIRS[char]):
            return False
    return not stack


def missing(names: set[str], exposed: tuple[set[str], set[str]]) -> list[str]:
    """Names neither sampled nor declared. A labelled counter with no children yet has
    HELP and TYPE lines and no samples: its name minus the suffix is a family."""
    samples, families = exposed

    def found(name: str) -> bool:
        if name in samples or name in families:
            return True
        return any(name.endswith(s) and name.removesuffix(s) in families for s in SUFFIXES)

    return sorted(name for name in names if not found(name))


@pytest.fixture
async def exposed(
    tmp_path: Path, redis_url: str, postgres_url: str
) -> AsyncIterator[tuple[set[str], set[str]]]:
    """The sample names and the family names of a cluster node's /metrics."""
    node = await start_node(tmp_path, "a", redis_url, postgres_url)
    try:
        async with (
            aiohttp.ClientSession() as http,
            http.get(node.make_url("/metrics")) as response,
        ):
            assert response.status == 200
            text = await response.text()
    finally:
        await node.close()
    families = list(text_string_to_metric_families(text))
    yield {s.name for f in families for s in f.samples}, {f.name for f in families}


def test_the_dashboard_is_complete_json() -> None:
    board = dashboard()
    assert board["schemaVersion"] >= 39
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    assert "label_values(parta_rooms, instance)" in dashboard_exprs(board)
    for panel in panels(board):
        assert panel.get("title"), panel
        assert panel.get("datasource"), f"{panel['title']}: no datasource"
        for target in panel["targets"]:
            expr = target["expr"]
            assert balanced(expr), f"{panel['title']}: unbalanced {expr}"
            # every panel can be narrowed to some nodes and shows them one by one
            assert '$instance"' in expr, f"{panel['title']}: not per node: {expr}"
            assert "instance" in expr.split("(", 1)[0] or "by (" in expr, expr
            assert metric_names(expr), f"{panel['title']}: names no metric: {expr}"


def test_the_alert_rules_are_balanced() -> None:
    for expr in alert_exprs():
        assert balanced(expr), expr


def test_the_checks_find_what_they_should() -> None:
    expr = (
        'histogram_quantile(0.99, sum by (le, instance) (rate(parta_x_bucket{a="parta_no"}[5m])))'
    )
    assert metric_names(expr) == {"parta_x_bucket"}
    assert balanced(expr)
    assert not balanced("sum(rate(parta_x_total[1m])")
    assert not balanced("rate(parta_x_total[1m)]")
    assert balanced('sum(parta_x{code=")"})')
    exposed = ({"parta_y_total", "parta_z_bucket"}, {"parta_y", "parta_z", "parta_w"})
    names = {"parta_y_total", "parta_z_bucket", "parta_w_total", "parta_v_total", "parta_z"}
    assert missing(names, exposed) == ["parta_v_total"]


async def test_the_dashboard_names_only_exposed_metrics(
    exposed: tuple[set[str], set[str]],
) -> None:
    names = {name for expr in dashboard_exprs(dashboard()) for name in metric_names(expr)}
    assert len(names) > 40
    absent = missing(names, exposed)
    assert not absent, f"the dashboard names metrics a node does not expose: {absent}"


async def test_the_alert_rules_name_only_exposed_metrics(
    exposed: tuple[set[str], set[str]],
) -> None:
    names = {name for expr in alert_exprs() for name in metric_names(expr)}  # `up` is not ours
    assert names
    absent = missing(names, exposed)
    assert not absent, f"the alerting rules name metrics a node does not expose: {absent}"
