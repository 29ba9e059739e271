"""The watch page of a broadcast, in headless Chromium: the call's picture over WebRTC
(WHEP) and over Low-Latency HLS (this Chromium's own HLS player, and hls.js forced), live,
with the title and the viewer count; a bogus link is a 404; when the broadcast stops, an
open page says it ended.

Like the other browser tests, the page and the server run in a private network namespace
(`unshare --net`, only loopback up). Screenshots: watch-{whep,hls,hlsjs,ended}-{1280,390}.png.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.browser.harness import run_driver
from tests.browser.watch_driver import PUBLISHER


@pytest.mark.browser
@pytest.mark.timeout(180)
def test_a_broadcast_is_watched_in_the_browser_over_webrtc_and_hls(tmp_path: Path) -> None:
    out = tmp_path / "browser"
    result = run_driver("watch_driver", out, timeout=20)
    for mode in ("whep", "hls", "hlsjs", "fallback"):
        found = result.get(mode, {})
        print(
            f"watch page {mode}: first frame {found.get('first_frame_s')} s, 10 frames"
            f" {found.get('ten_frames_s')} s after the page began loading; player"
            f" {found.get('player_reported')}, behind live {found.get('latency_s')} s,"
            f" stalls {found.get('stalls')}"
        )
    print(f"screenshots in {out}")
    assert result["page_errors"] == [], result["page_errors"]

    # what the page is built from; hls.js from npm, served by parta
    info = result["info"]
    assert result["info_status"] == 200 and info["live"] is True and info["public"] is True
    assert info["whep"] == f"{result['watch_link']}/whep"
    assert info["hls"].startswith("/hls/public/") and info["hls"].endswith("/live.m3u8")
    hls_js = result["hls_js"]
    assert hls_js["status"] == 200 and hls_js["type"] == "text/javascript"
    assert hls_js["size"] > 100_000

    # WebRTC: more than 10 frames within 20 s, the host's pattern on the picture
    whep = result["whep"]
    assert "error" not in whep, whep
    assert whep["status"] == 200
    assert whep["mode_reported"] == "whep" and whep["live"] is True, whep
    assert whep["frames"] > 10 and whep["ten_frames_s"] <= 20, whep
    assert whep["frames_later"] > whep["frames"], whep
    # the mix's sound is decoded (what it holds is checked in tests/broadcast: headless
    # Chromium has no audio output, so it reports no audio energy)
    assert whep["audio"] > 48000, whep
    assert whep["publisher_seen"] == PUBLISHER, whep["picture"]
    shown = whep["shown"]
    assert shown["live_badge"] and shown["mode_label"] == "WebRTC" and shown["notice"] is None
    assert shown["viewers"] is not None and shown["viewers"].endswith("watching"), shown

    # HLS, with the browser's own player and with hls.js: more than 10 frames within
    # 40 s, a picture that is not blank
    for mode, player in (("hls", None), ("hlsjs", "hls.js")):
        hls = result[mode]
        assert "error" not in hls, hls
        assert hls["mode_reported"] == "hls" and hls["live"] is True, hls
        assert player is None or hls["player_reported"] == player, hls
        assert hls["frames"] > 10 and hls["ten_frames_s"] <= 40, hls
        assert hls["frames_later"] > hls["frames"], hls
        assert hls["audio"] > 0, hls  # bytes of AAC decoded
        assert hls["picture"]["width"] > 0 and hls["picture"]["std"] > 5, hls["picture"]
        assert hls["shown"]["live_badge"] and hls["shown"]["mode_label"] == "HLS", hls["shown"]
        assert hls["shown"]["notice"] is None, hls["shown"]

    # with no mode, a WHEP answer of 503 (no room) sends the page to HLS on its own
    fallback = result["fallback"]
    assert "error" not in fallback, fallback
    assert fallback["mode_reported"] == "hls" and fallback["live"] is True, fallback
    assert fallback["frames"] > 10 and fallback["shown"]["mode_label"] == "HLS", fallback
    assert fallback["shown"]["notice"] is None, fallback["shown"]

    # the viewers counted, by path; every page fits a phone's width
    assert result["viewers_while_watched"] == {"webrtc": 1, "hls": 3}
    for found in (whep, result["hls"], result["hlsjs"], fallback):
        assert found["shown_phone"]["page_width"] <= 390, found["shown_phone"]

    # a link that never was: 404, for the page and its API
    assert result["bogus_status"] == 404 and result["bogus_info_status"] == 404

    # stopped: the open page says it ended, within a poll or two
    assert result["ended_after_s"] is not None and result["ended_after_s"] <= 8, result
    ended = result["ended"]
    assert ended["live"] is False and ended["shown"]["ended_shown"], ended
    assert not ended["shown"]["live_badge"], ended

    for mode in ("whep", "hls", "hlsjs"):
        for width in (1280, 390):
            shot = f"watch-{mode}-{width}"
            assert (out / f"{shot}.png").stat().st_size > 10_000, shot
