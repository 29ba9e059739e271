"""A WebSocket's outbox: senders hand text over without waiting, one writer task sends
it at the client's pace, and a client that lets too much pile up is cut off rather
than let its queue grow without bound. Used by the call protocol and chat events."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from aiohttp import web

logger = logging.getLogger(__name__)


class Outbox:
    def __init__(self, ws: web.WebSocketResponse, *, limit: int, what: str) -> None:
        self.ws = ws
        self.limit = limit
        self.what = what  # for the log: whose socket this is
        self.queue: asyncio.Queue[str | None] = asyncio.Queue()
        self.cut_off = False
        self.writer = asyncio.create_task(self._write())

    def push(self, text: str) -> None:
        if self.cut_off:
            return
        if self.queue.qsize() >= self.limit:
            logger.warning("closing the WebSocket of %s: its client stopped reading", self.what)
            self.cut_off = True
            self.queue.put_nowait(None)
            return
        self.queue.put_nowait(text)

    def finish(self) -> None:
        """Close the socket once what is queued has been sent."""
        self.queue.put_nowait(None)

    async def _write(self) -> None:
        while True:
            text = await self.queue.get()
            if text is None:
                await self.ws.close()
                return
            try:
                await self.ws.send_str(text)
            except (ConnectionError, RuntimeError):
                return

    async def close(self) -> None:
        self.finish()
        try:
            await asyncio.wait_for(self.writer, 2)
        except (TimeoutError, asyncio.CancelledError):
            self.writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.writer
