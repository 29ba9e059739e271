"""Pages of another origin of the same site cannot act with a teacher's cookie; parta's
own pages can (issue 15, finding 2). See origins_driver.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.browser.harness import run_driver


@pytest.mark.browser
@pytest.mark.timeout(180)
def test_same_site_pages_of_other_origins_cannot_act(tmp_path: Path) -> None:
    result = run_driver("origins_driver", tmp_path / "browser", timeout=20)
    for page in ("port", "sibling"):  # another port of parta's host; a sibling host name
        assert result[page]["fetch"] == "sent"  # the browser sent it, with the cookie
        assert result[page]["ws"] == "error", result[page]
        assert result[page]["events"] == "error", result[page]
    own = result["own"]
    assert own["status"] == 201 and own["events"] == "open"
    # neither the forms nor the fetches posted anything: only the teacher's own message
    assert own["texts"] == ["Домашнее задание"]
    assert result["refused_counted"]["write"] >= 4
    assert result["refused_counted"]["websocket"] >= 4
