"""One-time password reset links: made by a school's admin or the server's operator,
working once, for `RESET_TTL`, and only the newest one for a user. Over HTTP:
web/http/passwords.py."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

from accounts.sessions import token_hash
from store.accounts import AccountStore

RESET_TTL = timedelta(days=3)


RESET_PATH = "/reset/"


def _now() -> datetime:
    return datetime.now(UTC)


async def make_reset(
    accounts: AccountStore, user_id: str, by: str | None, org_id: str | None = None
) -> tuple[str, datetime]:
    """A new one-time reset link for a user (made by the admin `by` of school `org_id`,
    or by the operator: None); the user's earlier links stop working. The link's path
    and when it expires. An admin's link stops working if the user is, or
    becomes, a member or an admin of another school."""
    token = secrets.token_urlsafe(32)
    now = _now()
    expires = now + RESET_TTL
    await accounts.add_reset(token_hash(token), user_id, by, now, expires, org_id)
    return f"{RESET_PATH}{token}", expires
