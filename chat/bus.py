"""The event bus: an `Envelope` (the users an event is for, the event, and for a
notification the chat it is about) handed to this process's hub. A cluster's bus, which
also reaches other nodes, is cluster/bus.py."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from chat.hub import Hub

logger = logging.getLogger(__name__)



@dataclass(frozen=True)
class Envelope:
    users: tuple[str, ...]
    event: dict[str, Any]
    unless_focused: str | None = None  # a notification about this chat

    def as_json(self) -> dict[str, Any]:
        return {"u": list(self.users), "e": self.event, "f": self.unless_focused}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Envelope:
        return cls(tuple(data["u"]), data["e"], data.get("f"))


class BusMetrics(Protocol):
    def published(self, count: int) -> None: ...
    def received(self, age: float) -> None: ...
    def reconnected(self) -> None: ...
    def gap(self) -> None: ...


class Bus:
    """The embedded bus: this process's hub, nothing else."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub

    def publish(
        self, users: Iterable[str], event: dict[str, Any], *, unless_focused: str | None = None
    ) -> None:
        envelope = Envelope(tuple(users), event, unless_focused)
        self.hub.deliver(envelope.users, envelope.event, envelope.unless_focused)
        self._share(envelope)

    def _share(self, envelope: Envelope) -> None:
        """Other nodes' part (none here)."""

    async def start(self) -> None:
        pass

    async def close(self) -> None:
        pass




async def stop_tasks(tasks: list[asyncio.Task[None]], grace: float) -> None:
    """Let tasks told to stop finish what they are doing (a blocking Redis read); cancel
    them only if they take longer than `grace` seconds."""
    if not tasks:
        return
    _, late = await asyncio.wait(tasks, timeout=grace)
    for task in late:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


