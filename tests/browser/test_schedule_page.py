"""A teacher schedules a weekly lesson on the home page, gets its link and calendar file,
holds the lesson and finds it among the past calls, in headless Chromium.

Like test_web_client.py, the page and the server run in a private network namespace
(`unshare --net`, only loopback up).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.browser.harness import run_driver
from tests.browser.schedule_driver import TITLE


@pytest.mark.browser
@pytest.mark.timeout(180)
def test_schedule_a_lesson_hold_it_and_see_it_in_past_calls(tmp_path: Path) -> None:
    out = tmp_path / "browser"
    result = run_driver("schedule_driver", out, timeout=20)

    assert result["lists_loaded"] and result["browser_tz_selected"]
    assert result["defaults"] == {"reminder_15": True, "reminder_0": True, "waiting_room": True}
    # the server's own message for a 129-character title, shown inline
    assert "the title must be 1 to 128 characters" in result["error_text"]
    assert result["result_hidden_after_error"] and result["error_hidden_after_success"]

    link = result["link"]
    # the share link is the call's invite link; "Start as host" carries the host key
    assert link.startswith("http://127.0.0.1:") and "/join/" in link
    start = result["start_href"]
    assert start.startswith("http://127.0.0.1:") and "/call/lesson-" in start
    assert "?host=" in start and start.split("?host=")[1] not in link
    assert result["ics_href"].startswith("/api/schedule/")
    assert result["ics_href"].endswith("/calendar.ics")
    assert result["ics_download"]
    assert "BEGIN:VEVENT" in result["ics"] and "RRULE:FREQ=WEEKLY" in result["ics"]
    assert "Europe/Berlin" in result["ics"]
    assert result["upcoming_shows_title"] and TITLE in result["upcoming_text"]

    # invite by e-mail: the server's message for a bad address, then an .eml download
    # (the test server has no SMTP) whose text carries the calendar invitation
    assert result["invite_focused"]
    assert "not an e-mail address: not-an-address" in result["invite_error_text"]
    assert result["invite_error_hidden_after_success"]
    assert "mail program" in result["invite_result_text"]
    assert "Download the invitation (.eml)" in result["invite_result_text"]
    assert result["invite_href"].startswith("/api/schedule/")
    assert "/invite.eml?" in result["invite_href"]
    assert "anna%40school.example" in result["invite_href"]
    assert "ben%40school.example" in result["invite_href"]
    assert result["invite_download_attr"]
    assert result["invite_eml_status"] == 200
    assert result["invite_eml_type"].startswith("message/rfc822")
    assert "To: anna@school.example, ben@school.example" in result["invite_eml"]
    assert result["link"] in result["invite_eml"]
    # the raw .eml carries the .ics base64-encoded; decoded, it is the lesson's calendar
    assert "BEGIN:VCALENDAR" in result["invite_eml_calendar"]
    assert "RRULE:FREQ=WEEKLY" in result["invite_eml_calendar"]
    assert result["row_invite_opens"] and result["row_invite_closes"]

    # the lesson's row: "Start as host" only in the browser that scheduled it
    assert result["teacher_row"] == {"start_host": 1, "join": 0, "copy": 1}
    assert result["other_browser_row"] == {"start_host": 0, "join": 1, "copy": 1}

    # the student waits for the teacher, who comes with the host key and lets them in
    assert result["student_waits_for_teacher"]
    assert result["joined"] and result["teacher_url_without_host_key"]
    assert result["teacher_invite_link"] == link
    assert result["teacher_sees_student"] and result["student_admitted"]
    assert result["history_shows_title"], result["history_text"]
    assert "Teacher" in result["history_text"]
    assert not result["phone_overflow_x"] and not result["phone_overflow_x_scheduled"]
    assert not result["phone_overflow_x_invite"]

    # the organiser edits the lesson in the same form, and deletes it after a confirmation
    assert result["row_edit_delete"] == {"edit": 1, "delete": 1}
    form = result["edit_form"]
    assert form["heading"] == "Edit the lesson" and form["submit"] == "Save changes"
    assert form["title"] == TITLE and form["time"] == "09:30" and form["repeat"] == "weekly"
    assert form["tz"] == "Europe/Berlin" and form["cancel_visible"] and form["title_focused"]
    assert "saved" in result["edit_saved_toast"]
    assert result["edit_result_title"] == f"{TITLE} (room 12)"
    assert result["edit_submit_after"] == "Schedule lesson" and result["edit_list_updated"]
    edited = result["edited_lesson"]
    assert edited["start"].endswith("T10:15") and edited["repeat"] == "FREQ=WEEKLY"
    assert edited["link"] == link  # the same link after an edit
    assert result["other_edit_title"] == "Biology 5a, second group"
    assert result["other_edit_duration"] == "all_day"
    assert result["after_cancel"] == {
        "heading": "Schedule a lesson",
        "title": "",
        "cancel_hidden": True,
        "tz_is_browsers": True,
    }
    assert f"Delete “{TITLE} (room 12)”?" in result["delete_dialog_text"]
    assert result["kept_after_cancel"] and result["row_gone"] and result["gone_from_server"]
    assert "deleted" in result["deleted_toast"]
    assert result["edited_link_status"] == 404  # its link stopped working
    assert result["page_errors"] == []
    for name in (
        "home-1280.png",
        "home-390.png",
        "invite-form.png",
        "edit-form.png",
        "delete-confirm.png",
    ):
        assert (out / name).stat().st_size > 10_000
