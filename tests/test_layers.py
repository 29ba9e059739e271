"""Only web/ speaks aiohttp's server side: a service, the store or the media plane that
imports `aiohttp.web` fails here (the other import rules are [tool.importlinter] in
pyproject.toml, checked by `lint-imports` in ./run lint and ./run test)."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PRODUCT = (
    "sfu", "recorder", "transcriber", "model", "store", "metrics", "accounts", "chat",
    "calls", "broadcast", "lessons", "transcription", "cluster", "client",
)  # fmt: skip


def imports_of(path: Path) -> set[str]:
    """Every module `path` imports, `from a import b` counted as `a` and `a.b`."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def test_only_web_imports_aiohttp_web() -> None:
    offenders = sorted(
        str(path.relative_to(REPO))
        for package in PRODUCT
        for path in (REPO / package).rglob("*.py")
        if any(m == "aiohttp.web" or m.startswith("aiohttp.web") for m in imports_of(path))
    )
    assert offenders == []


def test_the_check_sees_an_import_of_aiohttp_web(tmp_path: Path) -> None:
    module = tmp_path / "handler.py"
    module.write_text("from aiohttp import web\nfrom aiohttp.web_request import Request\n")
    assert {"aiohttp.web", "aiohttp.web_request"} <= imports_of(module)
