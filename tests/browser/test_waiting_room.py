"""A teacher admits a student from the waiting room, mutes them and ends the call, all
through the web client's host controls, in two headless Chromium pages.

Like test_web_client.py, the pages and the server run in a private network namespace
(`unshare --net`, only loopback up).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.browser.harness import run_driver


@pytest.mark.browser
@pytest.mark.timeout(180)
def test_teacher_admits_mutes_and_ends_for_everyone(tmp_path: Path) -> None:
    out = tmp_path / "browser"
    result = run_driver("waiting_driver", out, timeout=30)
    steps = result["steps"]

    # the waiting student gets no media at all
    assert steps["student_waiting"] and steps["waiting_screen_visible"]
    waiting = result["waiting_stats"]
    assert waiting["bytesReceived"] == {"audio": 0, "video": 0}
    assert waiting["inbound"] == [] and waiting["framesDecoded"] == 0

    # once admitted, both decode each other's video and audio
    ids = result["ids"]
    for me, other in (("Teacher", "Student"), ("Student", "Teacher")):
        inbound = [s for s in result["stats"][me]["inbound"] if s["peerId"] == ids[other]]
        video = [s for s in inbound if s["kind"] == "video"]
        audio = [s for s in inbound if s["kind"] == "audio"]
        assert video and video[0]["framesDecoded"] >= 30 and video[0]["frameWidth"] > 0
        assert audio and audio[0]["totalSamplesReceived"] >= 48000

    assert steps.pop("host_badge_text") == "Host"
    assert steps.pop("mic_button_tooltip") == "The host has turned this off"
    assert steps.pop("ended_title") == "The host ended the call"
    # an old invite link: the page says so in plain words (and nothing retries)
    bad_link_text = steps.pop("bad_link_text")
    assert "This invite link does not work any more" in bad_link_text
    assert "Ask your teacher for a new link." in bad_link_text
    assert steps.pop("no_link_title") == "You need an invite link to join"
    failed = sorted(name for name, ok in steps.items() if ok is not True)
    assert not failed, f"steps that failed: {failed}"
    assert result["page_errors"] == []
    shots = ("waiting.png", "host-panel.png", "student-locked.png", "ended.png")
    more = ("host-panel-invite.png", "host-panel-invite-390.png", "bad-link.png")
    for shot in shots + more:
        assert (out / shot).stat().st_size > 10_000, shot
