"""Broadcasting from the web client: a host goes live from the call page ("Go live",
"Anyone with the link"); everyone in the call sees LIVE (a latecomer at once); the host's
popover has the watch link, which the watch API answers for, and counts a WHEP viewer;
"New link" retires the old link; "End broadcast" takes LIVE away for everyone.

Like test_web_client.py, the pages and the server run in a private network namespace
(`unshare --net`, only loopback up).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.browser.broadcast_driver import TEACHER
from tests.browser.harness import run_driver


@pytest.mark.browser
@pytest.mark.timeout(180)
def test_a_host_goes_live_renews_the_watch_link_and_ends_it(tmp_path: Path) -> None:
    out = tmp_path / "browser"
    result = run_driver("broadcast_driver", out, timeout=20)
    steps = result["steps"]
    failed = sorted(name for name, ok in steps.items() if ok is not True)
    assert not failed, f"steps that failed: {failed}\n{result}"
    assert result["page_errors"] == []

    # a teacher finds it without a manual: a labelled button with a tooltip
    assert result["go_live_label"] == "Go live"
    assert "live" in result["go_live_title"].lower()
    assert result["live_button_label"] == "Live"
    assert result["live_badge_text"] == "LIVE"
    assert TEACHER in result["student_toast"]
    assert "Anyone with the link" in result["audience"]

    # the watch link and what the watch API says of it
    assert re.fullmatch(r"/watch/[A-Za-z0-9_-]{16,}", result["watch_link"])
    info = result["watch_info"]["body"]
    assert info["live"] is True and info["public"] is True
    assert info["whep"] == f"{result['watch_link']}/whep"

    # the viewer count, before and after one WHEP viewer
    assert result["viewers_before"].startswith("0 watching (WebRTC 0 · HLS 0)")
    assert result["viewers_after"].startswith("1 watching (WebRTC 1 · HLS ")

    # New link: the old one is gone, the new one works; the end takes it too
    assert result["new_watch_link"] != result["watch_link"]
    assert (result["old_link_status"], result["new_link_status"]) == (404, 200)

    # an error from the server (a school the host is not in) is told in a toast
    assert "Could not go live: org_id is not a school you belong to" in result["error_toast"]

    for name in (
        "go-live-setup-1280",
        "go-live-setup-390",
        "live-teacher-1280",
        "live-teacher-390",
    ):
        assert (out / f"{name}.png").stat().st_size > 10_000
