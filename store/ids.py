"""Identifiers of stored things: random, URL-safe, not guessable, not sequential."""

from __future__ import annotations

import secrets


def new_id() -> str:
    return secrets.token_urlsafe(12)  # 16 characters, 96 bits


def new_code() -> str:
    """Invite codes people may type or scan."""
    return secrets.token_urlsafe(9)  # 12 characters, 72 bits
