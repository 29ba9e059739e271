"""Passwords in the web client: a school's admin makes a reset link for a student, who
sets a new password with it (once) and is logged in; a teacher changes their own
password in Settings, where the home page's account bar leads too. At 1280 and 390 px,
in headless Chromium.

Like test_web_client.py, the pages and the server run in a private network namespace
(`unshare --net`, only loopback up).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.browser.harness import run_driver


@pytest.mark.browser
@pytest.mark.timeout(180)
def test_reset_link_and_change_password(tmp_path: Path) -> None:
    out = tmp_path / "browser"
    result = run_driver("password_driver", out, timeout=20)

    # only the school's admin gets "Reset password", by every member
    assert result["teacher_sees_reset_buttons"] == 0
    assert result["reset_buttons"] == 4  # a teacher, two students, a parent
    assert result["reset_button_label"] == "Make a password reset link for Student 0"
    made = result["admin_dialog"]
    assert made["title"] == "Password reset link" and made["for"] == "Student 0"
    assert "/reset/" in made["link"] and made["link"].startswith("http://127.0.0.1:")
    assert made["note"].startswith("Give this link to Student 0. It works once, until ")
    assert made["note"].endswith("; making a new one cancels it.")
    assert made["copy_focused"] and result["dialog_closed_by_escape"]

    # the student, with no session: whose password, checked before asking, then logged in
    assert result["reset_state"] == "ready"
    assert result["reset_intro"].startswith("Choose a new password for Student 0 (")
    assert result["reset_expires"].startswith("This link works until ")
    assert result["reset_autocomplete"] == "new-password" and result["reset_focused"]
    assert "at least 8 characters" in result["reset_short_text"]
    assert result["student_me_status"] == 200 and result["student_me_login_ok"]
    assert result["old_password_status"] == 401
    assert result["new_password_status"] == 200
    assert result["old_session_status"] == 401  # whoever was logged in as them is out

    # the link again: it was used; where to go instead
    assert result["used_state"] == "dead"
    assert result["used_title"] == "This link does not work any more"
    assert "Ask your school’s admin for a new one" in result["used_notice"]
    assert result["used_to_login"] == "/login" and result["used_fields_hidden"]
    assert result["login_forgot_text"] == (
        "Forgot your password? Ask your school’s admin for a reset link."
    )
    assert result["phone_reset_state"] == "ready" and result["phone_used_state"] == "dead"

    # a teacher changes their own password: a wrong current one is refused by its field
    assert result["change_toggle_expanded"] == "true" and result["change_focused"]
    assert result["change_autocomplete"] == ["current-password", "new-password"]
    assert result["wrong_current_text"] == "That is not your current password. Try again."
    assert result["wrong_current_invalid"] == "true"
    assert result["changed_text"].startswith(
        "Password changed. You were logged out everywhere else"
    )
    assert result["form_hidden_after"]
    assert result["other_session_status"] == 401
    assert result["old_password_refused"].startswith("Wrong login or password")
    assert result["after_new_login"] == "/" and result["me_after_new_login"] == 200
    assert "at least 8 characters" in result["phone_short_text"]
    # the home page's account bar leads there too
    assert result["home_change_label"] == "Change password"
    assert result["home_change_path"] == "/chats" and result["home_change_focused"]

    for overflow in (
        "phone_overflow_school",
        "phone_overflow_dialog",
        "phone_overflow_reset",
        "phone_overflow_used",
        "phone_overflow_change",
        "phone_overflow_home",
    ):
        assert result[overflow] is False, overflow
    assert result["page_errors"] == []
    shots = (
        "school-reset-link-1280.png",
        "school-reset-link-390.png",
        "school-people-390.png",
        "reset-1280.png",
        "reset-error-1280.png",
        "reset-390.png",
        "reset-used-1280.png",
        "reset-used-390.png",
        "change-password-1280.png",
        "change-password-error-1280.png",
        "change-password-done-1280.png",
        "change-password-390.png",
        "home-account-390.png",
    )
    for shot in shots:
        assert (out / shot).stat().st_size > 10_000, shot
