"""Password hashes: Argon2id (memory-hard) from argon2-cffi, computed off the event loop."""

from __future__ import annotations

import asyncio

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

# argon2-cffi's defaults follow RFC 9106's second recommendation: 64 MiB, 3 passes
_hasher = PasswordHasher()
# checked against when a login is unknown, so that it takes as long as a wrong password
_DUMMY = _hasher.hash("not a password of anyone")

MIN_LENGTH = 8
MAX_LENGTH = 256


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(_hasher.hash, password)


async def verify_password(stored: str | None, password: str) -> bool:
    """Whether the password matches; with no stored hash, as slow as a mismatch."""

    def check() -> bool:
        try:
            return _hasher.verify(stored or _DUMMY, password) and stored is not None
        except (VerificationError, InvalidHashError):
            return False

    return await asyncio.to_thread(check)


def needs_rehash(stored: str) -> bool:
    return _hasher.check_needs_rehash(stored)
