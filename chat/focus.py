"""Which chat each user has on screen: no notification for a chat its member is reading.
On one node the hub knows every connection's focus (`LocalFocus` adds nothing); across
nodes, cluster/focus.py."""

from __future__ import annotations

import logging
from collections.abc import Iterable

logger = logging.getLogger(__name__)




class LocalFocus:
    """One node: the hub judges focus by itself."""

    async def reading(self, users: Iterable[str], chat_id: str) -> set[str]:
        """Of `users`, those who read `chat_id` on some node, whom its notifications
        skip on every node. On one node: none, the hub judges by itself."""
        return set()

    async def close(self) -> None:
        return None


