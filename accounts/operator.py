"""What the server's operator does from the shell: a password reset link for any user
(`parta reset-link LOGIN`), for someone no single school's admin may reset."""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path

from accounts.resets import make_reset
from store.accounts import AccountStore
from store.database import default_url, migrate, open_engine


class NoSuchUser(LookupError):
    pass


async def operator_reset_link(
    data_dir: Path, database_url: str | None, base_url: str, login: str
) -> tuple[str, datetime]:
    """A new one-time reset link for the user with this login, in the server's database
    (`database_url`, or the embedded one in `data_dir`) and at its public address
    `base_url` (the user's earlier links stop working)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    url = database_url or default_url(data_dir)
    await asyncio.to_thread(migrate, url)  # a database the server has not opened yet
    engine = open_engine(url)
    try:
        accounts = AccountStore(engine)
        user = await accounts.user_by_login(login.strip().lower())
        if user is None:
            raise NoSuchUser(login)
        path, expires = await make_reset(accounts, user.id, None)
        return f"{base_url}{path}", expires
    finally:
        await engine.dispose()
