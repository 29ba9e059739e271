"""The chats client in headless Chromium: a teacher creates a school and a class chat, a
student joins by its invite link, they talk live, a file goes up (resumed after a broken
connection) and down intact, a pupil's HTML and SVG files open inert (downloads, never
the app), and a voice message (real speech from Chromium's fake microphone) plays for
the teacher, its transcript appearing under it live.

Like test_web_client.py, the pages and the server run in a private network namespace
(`unshare --net`, only loopback up).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.browser.chats_driver import FILE_SIZE, MAX_WER, TRANSCRIPT_TIMEOUT
from tests.browser.harness import run_driver


@pytest.mark.browser
@pytest.mark.timeout(180)
def test_school_chat_messages_files_and_voice(tmp_path: Path) -> None:
    out = tmp_path / "browser"
    result = run_driver("chats_driver", out, timeout=20)

    # no school yet: both ways in are offered; a new school shows its codes to its admin
    assert result["welcome_forms"] == [True, True]
    assert result["school_url"].startswith("/school/")
    assert result["join_code_prefilled"] and result["teacher_joined_school"]

    # the class chat, its first notice, its invite link and QR code
    assert result["channel_offered_to_teacher"]
    assert result["chat_title"] == "Algebra 7b"
    assert result["created_notice"] == "Olga Ivanova created “Algebra 7b”"
    assert "/invite/" in result["invite_url"] and result["qr_loaded"]

    # the student: the invite page says where it leads, then the chat opens
    assert result["invite_page_title"] == "Algebra 7b"
    assert "Lyceum 7" in result["invite_page_school"]
    assert result["student_chat_title"] == "Algebra 7b"

    # live, both ways, with the join notice and read receipts
    assert result["teacher_sees_join"]
    assert result["student_sees_teacher"] and result["teacher_sees_student"]
    assert result["teacher_sees_seen_mark"]
    assert result["student_sees_edit"]

    # a file: broken once, resumed, downloaded byte for byte
    assert result["upload_broken_once"]
    assert "stopped" in result["upload_failed_text"]
    assert result["student_file_name"] == "worksheet.bin"
    assert result["download_size"] == FILE_SIZE and result["download_sha_matches"]

    # a pupil's HTML, SVG and HTML named .png: every way the teacher opens them, none runs
    opened = result["hostile_opened"]
    assert set(opened) == {"homework.html", "drawing.svg", "photo.png"}
    for name, seen in opened.items():
        assert seen["previews"] == 0, name  # only pictures the server found are previewed
        assert seen["download_link"] == "download", name
        assert seen["direct"] == {"download": True}, (name, seen)
        assert seen["direct?inline=1"] == {"download": True}, (name, seen)
    assert result["hostile_messages"] == [] and result["hostile_local_storage"] is None
    assert result["hostile_teacher_title_kept"]
    # a real picture is still shown in the chat, and opens as a picture
    assert result["picture_width"] == 24
    assert result["picture_tab"] == {"type": "image/png", "width": 24}

    # a voice message: a timer while recording, a player for the teacher
    assert result["rec_timer"] in ("0:06", "0:07", "0:08")
    assert result["voice_playable"]
    assert result["voice_src"].startswith("/api/files/")
    assert result["voice_src"].endswith("?inline=1")
    # its text: "Transcribing…" first, then (live, in place, no notice) what was said
    assert result["voice_first_state"] in ("pending", "done")
    print(
        f"voice message: text shown {result.get('voice_transcript_seconds')} s after sending"
        f" (limit {TRANSCRIPT_TIMEOUT:.0f} s): {result.get('voice_transcript_heard')!r},"
        f" WER {result.get('voice_transcript_wer')}"
    )
    assert result["voice_transcript_state"] == "done", result["voice_transcript_text"]
    assert result["voice_transcript_seconds"] <= TRANSCRIPT_TIMEOUT
    assert result["voice_transcript_language"] == "RU"
    assert result["voice_transcript_wer"] <= MAX_WER, result["voice_transcript_heard"]
    assert result["voice_transcript_selectable"]
    assert result["voice_updated_in_place"] and result["voice_update_toasts"] == 0
    assert result["student_transcript_state"] == "done"
    assert result["list_preview_says_it"]

    # a message while the chat is not on screen: a toast and an unread badge
    assert result["toast_text"].startswith("Algebra 7b: Olga Ivanova: Homework: page 42")
    assert result["badge"]

    # folders, pins, mute; working hours
    assert result["folder_shows_chat"]
    assert result["teacher_marks"] == ["Pinned", "Muted"]
    assert result["hours_saved"]

    # the school's page
    assert result["school_name"] == "Lyceum 7"
    assert result["school_counts"] == {"teacher": "1", "student": "1", "parent": "0"}
    assert "Algebra 7b" in result["school_chats"]
    assert result["student_sees_codes"] == 0

    # a phone: one pane at a time, nothing wider than the screen
    assert result["phone_list_hidden_in_chat"] and result["phone_back_to_list"]
    for overflow in ("list", "chat", "info", "school"):
        assert result[f"phone_overflow_{overflow}"] is False, overflow
    assert result["page_errors"] == []
    shots = (
        "chats-welcome-1280.png",
        "new-chat-dialog-1280.png",
        "chat-info-qr-1280.png",
        "invite-page-1280.png",
        "upload-failed-1280.png",
        "chat-view-1280.png",
        "voice-transcript-1280.png",
        "chat-list-1280.png",
        "chat-list-folder-1280.png",
        "settings-1280.png",
        "school-page-1280.png",
        "phone-list-390.png",
        "phone-chat-390.png",
        "phone-voice-transcript-390.png",
        "phone-info-390.png",
        "phone-school-390.png",
    )
    for shot in shots:
        assert (out / shot).stat().st_size > 10_000, shot
