"""What the server's operator does from the shell: a password reset link for any user
(`parta reset-link LOGIN`), for someone no single school's admin may reset."""

from __future__ import annotations

import asyncio
from datetime import datetime

from accounts.resets import make_reset
from signalling.config import Config
from store.accounts import AccountStore
from store.database import default_url, migrate, open_engine


class NoSuchUser(LookupError):
    pass


async def operator_reset_link(config: Config, login: str) -> tuple[str, datetime]:
    """A new one-time reset link for the user with this login, in the server's database
    and at its public address (the user's earlier links stop working)."""
    config.data_dir.mkdir(parents=True, exist_ok=True)
    url = config.database_url or default_url(config.data_dir)
    await asyncio.to_thread(migrate, url)  # a database the server has not opened yet
    engine = open_engine(url)
    try:
        accounts = AccountStore(engine)
        user = await accounts.user_by_login(login.strip().lower())
        if user is None:
            raise NoSuchUser(login)
        path, expires = await make_reset(accounts, user.id, None)
        return f"{config.base_url}{path}", expires
    finally:
        await engine.dispose()
