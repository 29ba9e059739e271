"""Live delivery to connected users: one JSON encoding per event, then a non-blocking
hand-off to each connection's outbox. A channel post to thousands of subscribers is
one loop of `put_nowait`, never a loop of awaits; each connection's writer task sends
at its own pace, and a connection that stops reading is cut off, not waited for."""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Protocol


class Outlet(Protocol):
    """Where a connection's text goes without waiting (web/outbox.py's Outbox)."""

    def push(self, text: str) -> None: ...

    async def close(self) -> None: ...


class Connection:
    """One user's live connection (a user may have several: phone and laptop)."""

    def __init__(self, user_id: str, outbox: Outlet) -> None:
        self.id = secrets.token_hex(6)
        self.user_id = user_id
        self.focus: str | None = None  # the chat this client is showing
        self.outbox = outbox

    def push(self, text: str) -> None:
        self.outbox.push(text)

    async def close(self) -> None:
        await self.outbox.close()


class Hub:
    def __init__(self) -> None:
        self._by_user: dict[str, set[Connection]] = {}
        self.delivered = 0  # events handed to connections
        self.on_focus: Callable[[Connection], None] | None = None  # told of focus changes

    def add(self, connection: Connection) -> None:
        self._by_user.setdefault(connection.user_id, set()).add(connection)

    def remove(self, connection: Connection) -> None:
        found = self._by_user.get(connection.user_id)
        if found is not None:
            found.discard(connection)
            if not found:
                del self._by_user[connection.user_id]
        self.set_focus(connection, None)

    def set_focus(self, connection: Connection, chat_id: str | None) -> None:
        """The chat a connection shows (None: none); no notifications for it there."""
        if connection.focus == chat_id:
            return
        connection.focus = chat_id
        if self.on_focus is not None:
            self.on_focus(connection)

    def all_connections(self) -> Iterator[Connection]:
        for connections in list(self._by_user.values()):
            yield from list(connections)

    def connections(self, user_id: str) -> set[Connection]:
        return self._by_user.get(user_id, set())

    def online(self, user_id: str) -> bool:
        return user_id in self._by_user

    @property
    def connection_count(self) -> int:
        return sum(len(c) for c in self._by_user.values())

    def deliver(
        self, user_ids: Iterable[str], event: dict[str, Any], unless_focused: str | None = None
    ) -> int:
        """Send one event to every connection of these users here; returns how many.
        With `unless_focused` (a notification about that chat), not to a user who has it
        on screen on any of their connections here."""
        text = encode(event)
        count = 0
        for user_id in user_ids:
            connections = self._by_user.get(user_id)
            if not connections:
                continue
            if unless_focused is not None and any(c.focus == unless_focused for c in connections):
                continue
            for connection in connections:
                connection.push(text)
                count += 1
        self.delivered += count
        return count

    def tell_all(self, event: dict[str, Any]) -> int:
        """Send one event to every connection here (`resync`); returns how many."""
        return self.deliver(list(self._by_user), event)

    async def close(self) -> None:
        everyone = [c for found in self._by_user.values() for c in found]
        await asyncio.gather(*(c.close() for c in everyone), return_exceptions=True)
        self._by_user.clear()


def encode(event: dict[str, Any]) -> str:
    return json.dumps(event, separators=(",", ":"), default=str)
