"""Who may enter a call: join links, host tokens and a scheduled call's host key.

Every call has a join link, an unguessable token that hosts share and can revoke or
regenerate. Without it only a host comes in: with the token the server gave them
(it brings a host back after a reload) or, for a scheduled call, with the organiser's
host key. The first person to open an ad-hoc call that does not exist yet creates it
and is its host. The same rules guard the call protocol's `join` and WHIP/WHEP.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass

LINK_BYTES = 18  # 144 bits, 24 URL-safe characters


def new_token() -> str:
    return secrets.token_urlsafe(LINK_BYTES)


def same_token(given: str | None, expected: str | None) -> bool:
    """Constant-time comparison; None never matches."""
    if not given or not expected:
        return False
    return hmac.compare_digest(given.encode(), expected.encode())


@dataclass
class CallAccess:
    """A call's access settings: kept while its room lives, and for a scheduled call in
    the store as well."""

    title: str
    waiting_room: bool
    link: str | None  # the join link's token; None once a host revoked it
    host_key: str | None = None  # a scheduled call's organiser
    scheduled: bool = False


def join_path(token: str | None) -> str | None:
    return None if token is None else f"/join/{token}"
