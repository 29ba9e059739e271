"""The log-in page (log in, create an account, the errors in plain words) and log-out
from the home page, at 1280 and 390 px, in headless Chromium.

Like test_web_client.py, the pages and the server run in a private network namespace
(`unshare --net`, only loopback up).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.browser.harness import run_driver


@pytest.mark.browser
@pytest.mark.timeout(180)
def test_sign_up_log_out_and_log_in_again(tmp_path: Path) -> None:
    out = tmp_path / "browser"
    result = run_driver("login_driver", out, timeout=20)

    # without a session, / leads to the log-in page, which comes back to /
    assert result["sent_to_login"] == "/"
    assert result["login_title"] == "Log in" and result["login_focused"]
    assert result["login_autocomplete"] == ["username", "current-password"]
    assert result["wrong_password_text"] == "Wrong login or password. Check both and try again."
    assert result["password_focused_after_error"]

    # "Create an account": checked before asking, then the server's refusal, in words
    assert result["signup_title"] == "Create your account"
    assert result["notice_hidden_after_switch"]
    assert result["signup_password_autocomplete"] == "new-password"
    assert "at least 8 characters" in result["short_password_text"]
    assert "“taken.login” is taken" in result["login_taken_text"]
    assert result["landed_home"]
    assert result["current_user"] == "Anna Petrova"
    assert result["current_login"] == "anna.petrova"
    assert result["home_name_from_account"] == "Anna Petrova"

    # log out: the session ends; / leads to the log-in page again; logging in comes back
    assert result["logged_out_text"] == "You are logged out."
    assert result["me_after_logout"] == 401
    assert result["home_after_logout_next"] == "/"
    assert result["url_after_login"].endswith("/") and result["me_after_login"] == 200
    assert result["no_open_redirect"]

    # a parent on a phone opens a call's address: told which call, signs up, is there
    assert result["phone_sent_to_login"] == "/call/maths-7b"
    assert result["phone_intro"] == "Log in to join the call “maths-7b”."
    assert "no spaces" in result["phone_login_spaces_text"]
    assert result["phone_no_name_text"].startswith("Please type your name")
    assert result["phone_url_after_signup"].endswith("/call/maths-7b")
    assert result["phone_prejoin_name"] == "Ben Meier"
    for overflow in ("phone_overflow_login", "phone_overflow_signup", "phone_overflow_home"):
        assert result[overflow] is False, overflow
    assert result["page_errors"] == []
    shots = (
        "login-1280.png",
        "login-error-1280.png",
        "signup-1280.png",
        "signup-error-1280.png",
        "home-logged-in-1280.png",
        "logged-out-1280.png",
        "login-390.png",
        "signup-390.png",
        "signup-error-390.png",
        "home-logged-in-390.png",
    )
    for shot in shots:
        assert (out / shot).stat().st_size > 10_000, shot
