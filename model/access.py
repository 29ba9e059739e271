"""Who may enter a call: join links, host tokens and a scheduled call's host key.

Every call has a join link, an unguessable token that hosts share and can revoke or
regenerate. Without it only a host comes in: with the token the server gave them
(it brings a host back after a reload) or, for a scheduled call, with the organiser's
host key. The first person to open an ad-hoc call that does not exist yet creates it
and is its host. The same rules guard the call protocol's `join` and WHIP/WHEP.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

LINK_BYTES = 18  # 144 bits, 24 URL-safe characters
HOST_ROLES = ("host", "cohost")


def new_token() -> str:
    return secrets.token_urlsafe(LINK_BYTES)


def same_token(given: str | None, expected: str | None) -> bool:
    """Constant-time comparison; None never matches."""
    if not given or not expected:
        return False
    return hmac.compare_digest(given.encode(), expected.encode())


class HasSession(Protocol):
    @property
    def session(self) -> str | None: ...


Session = TypeVar("Session", bound=HasSession)


def session_of(items: Iterable[Session], secret: str) -> Session | None:
    """The one of `items` whose session secret is `secret`: a WHIP or WHEP session's URL
    ends with it. All are compared, each in constant time, so the time taken says
    nothing of how near a guess came."""
    found = None
    for item in items:
        if same_token(secret, item.session):
            found = item
    return found


def token_hash(token: str) -> str:
    """What is kept of a host token: its SHA-256, so a copy of the store opens nothing."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass
class CallAccess:
    """A call's access settings, kept in the store: a scheduled call's for good, an
    ad-hoc call's while it lives (so a restart loses neither its link nor its hosts)."""

    title: str
    waiting_room: bool
    link: str | None  # the join link's token; None once a host revoked it
    scheduled: bool = False
    # by hash -> role: the token each host, co-host and participant got in `joined` to
    # come back in that role (a scheduled call's organiser key among them)
    host_tokens: dict[str, str] = field(default_factory=dict)
    ended_until: float | None = None  # a host ended it: it takes no one until then

    def role_for(self, token: str | None) -> str | None:
        """The role a rejoin token brings, if any."""
        return self.host_tokens.get(token_hash(token)) if token else None

    def is_host_token(self, token: str | None) -> bool:
        return self.role_for(token) in HOST_ROLES


def join_path(token: str | None) -> str | None:
    return None if token is None else f"/join/{token}"
