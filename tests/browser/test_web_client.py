"""Two headless Chromium pages call each other through parta's web client.

The pages and the server run in a private network namespace (`unshare --net`, only
loopback up), so no packet can leave the machine and Chromium's media path is
127.0.0.1 on both ends.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.browser.harness import run_driver


@pytest.mark.browser
@pytest.mark.timeout(180)
def test_two_browsers_see_and_hear_each_other(tmp_path: Path) -> None:
    out = tmp_path / "browser"
    result = run_driver("driver", out, timeout=40)
    ids = result["ids"]
    for me, other in (("Alice", "Bob"), ("Bob", "Alice")):
        inbound = [s for s in result["stats"][me]["inbound"] if s["peerId"] == ids[other]]
        video = [s for s in inbound if s["kind"] == "video"]
        audio = [s for s in inbound if s["kind"] == "audio"]
        assert video and video[0]["framesDecoded"] >= 30 and video[0]["frameWidth"] > 0
        assert audio and audio[0]["totalSamplesReceived"] >= 48000
    # Bob followed Alice's invite link (/join/<token>) and typed his name; the token
    # left his address bar once stored
    # both signed up on the log-in page on their way in, and went on where they were going
    assert result["alice_sent_to_login"]
    assert result["alice_url_after_signup"].endswith("/")
    assert result["alice_current_user"] == "Alice"
    assert "/join/" in result["invite_link"]
    assert result["bob_url_after_join"].endswith("/call/browser-test")
    assert result["codecs_opened"] == 0
    assert result["producers"] == 4 and result["consumers"] == 4
    assert result["page_errors"] == []
    assert result["controls"] == {
        "mic_muted": True,
        "mic_unmuted": True,
        "camera_off": True,
        "camera_on": True,
        "screen_decoded": True,
        "screen_tile": True,
        "screen_stopped": True,
    }
    assert result["alice_peers_after_bob_left"] == 0
    assert result["bob_left_screen"]
    assert (out / "call-Alice.png").stat().st_size > 10_000
