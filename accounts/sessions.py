"""Session tokens: random, kept only as their SHA-256, expiring. The middleware that
requires one on every endpoint but a few public ones is web/auth.py."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from store.accounts import AccountStore, User

COOKIE = "parta_session"
# over HTTPS the cookie's name carries the __Host- prefix: the browser then keeps it only
# if this host itself set it, Secure, for every path, with no Domain, so a sibling host
# name of the same site cannot plant a session of its own choosing on our users
SECURE_COOKIE = "__Host-parta_session"
TTL = timedelta(days=30)
# a session used when less than this is left is extended by a full TTL
RENEW_WITHIN = timedelta(days=15)




def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Sessions:
    def __init__(
        self,
        store: AccountStore,
        *,
        ttl: timedelta = TTL,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        secure: bool = False,
    ) -> None:
        self.store = store
        self.ttl = ttl
        self.clock = clock
        self.secure = secure  # served over HTTPS (an https:// public URL)
        self.cookie = SECURE_COOKIE if secure else COOKIE

    async def start(self, user: User) -> str:
        token = secrets.token_urlsafe(32)
        now = self.clock()
        await self.store.add_session(token_hash(token), user.id, now, now + self.ttl)
        return token

    async def user_for(self, token: str) -> User | None:
        now = self.clock()
        found = await self.store.session(token_hash(token), now)
        if found is None:
            return None
        user, expires = found
        if expires - now < RENEW_WITHIN:  # in use: it lives on
            await self.store.extend_session(token_hash(token), now + self.ttl)
        return user

    async def end(self, token: str) -> None:
        await self.store.drop_session(token_hash(token))














