"""Issue 5's "done when", in the browser: a host records a lesson from the web client;
the recording appears in the class chat, plays in the page, and shows and sounds like the
call (Chromium's fake camera and microphone).

Like test_web_client.py, the pages and the server run in a private network namespace
(`unshare --net`, only loopback up).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.browser.harness import run_driver
from tests.browser.recording_driver import LESSON


@pytest.mark.browser
@pytest.mark.timeout(180)
def test_a_lesson_recorded_in_the_web_client_plays_in_its_chat(tmp_path: Path) -> None:
    out = tmp_path / "browser"
    result = run_driver("recording_driver", out, timeout=20)
    steps = result["steps"]
    failed = sorted(name for name, ok in steps.items() if ok is not True)
    assert not failed, f"steps that failed: {failed}\n{result}"
    assert result["page_errors"] == []

    # both are in the call and decode each other's camera and microphone
    ids = result["ids"]
    for me, other in (("teacher_from_student", "student"), ("student_from_teacher", "teacher")):
        inbound = [s for s in result["media"][me]["inbound"] if s["peerId"] == ids[other]]
        video = [s for s in inbound if s["kind"] == "video"]
        audio = [s for s in inbound if s["kind"] == "audio"]
        assert video and video[0]["framesDecoded"] >= 30 and video[0]["frameWidth"] > 0
        assert audio and audio[0]["totalSamplesReceived"] >= 48000

    # the card in the chat: the lesson's title, its length, a picture, a download link
    recorded = result["recorded_seconds"]
    assert result["card_title"] == LESSON
    minutes, seconds = result["card_duration"].split(":")
    assert abs(int(minutes) * 60 + int(seconds) - recorded) <= 1.5, result["card_duration"]
    assert result["card_has_thumbnail"]
    assert result["download_href"].startswith("/api/files/")

    # the player: loaded, as long as the recording, playing, and not a blank picture
    video = result["video"]
    assert video["error"] is None and video["src"] == f"{result['download_href']}?inline=1"
    assert abs(video["duration"] - recorded) <= 1.5, (video["duration"], recorded)
    assert video["width"] > 0 and video["height"] > 0
    assert result["video_time"] > 1
    # the player shows the fake cameras' green pictures, not a blank frame
    assert result["video_picture"]["std"] > 5, result["video_picture"]
    assert result["video_picture"]["green"] > 0.2, result["video_picture"]

    # the file the page fetches is the recording the server kept
    fetched = result["fetched"]
    assert fetched["status"] == 200 and fetched["type"] == "video/mp4"
    assert fetched["size"] > 10_000
    assert result["recordings_on_disk"] == 1 and result["same_bytes"]

    # it shows and sounds like the call: H.264 + AAC, as long as recorded; the fake
    # cameras' moving pictures (not one flat colour) and the fake microphones' beeps
    found = result["analysis"]
    assert found["codecs"] == ["h264", "aac"]
    assert abs(found["duration"] - recorded) <= 1.5, found
    assert abs(found["audio_seconds"] - recorded) <= 1.5, found
    assert found["frames"] >= 10 * recorded * 0.8, found
    assert found["middle_std"] > 20 and found["moving"] > 1, found
    assert found["middle_green"] > 0.2, found  # the two cameras' tiles fill much of it
    assert found["audio_peak"] > 3000, found
    assert 300 <= found["audio_tone_hz"] <= 500, found  # Chromium's fake beep: ~400 Hz

    shots = (
        "call-recording-teacher.png",
        "call-recording-student.png",
        "chat-recording-playing.png",
        "recording-middle-frame.png",
    )
    for shot in shots:
        assert (out / shot).stat().st_size > 10_000, shot
