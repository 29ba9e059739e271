"""A call's audience: its stage (what WHEP viewers see and hear) and the viewers on it.

Viewers themselves are calls/viewers.py; this is the room's side: the stage made for the
first viewer, pointed at the speaker, the shared screen or the broadcast's mix, and the
ticker that cuts viewers who cannot keep up."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from calls.viewers import Viewer, new_stage, open_viewer, stage_audio, stage_video
from metrics.events import Metrics
from sfu.broadcast import Stage
from sfu.producer import Producer
from sfu.router import Router

STAGE_TICK = 1.0
logger = logging.getLogger(__name__)


class Audience:
    """The stage of one call and its WHEP viewers (watch pages, WHEP players, edges)."""

    def __init__(self, call_id: str, router: Router, metrics: Metrics) -> None:
        self._call_id = call_id
        self._router = router
        self._metrics = metrics
        self.viewers: dict[str, Viewer] = {}
        self.stage: Stage | None = None  # made for the first viewer
        self.mix: Producer | None = None  # a broadcast's mixed audio
        self._ticker: asyncio.Task[None] | None = None
        # told when a viewer is gone (a broadcast counts the bytes it was sent)
        self.on_viewer_gone: Callable[[Viewer], None] | None = None

    def update_stage(self) -> None:
        """Point the viewers' stage at what they should see and hear now."""
        stage = self.stage
        if stage is None:
            return
        video, audio = stage.tracks["video"], stage.tracks["audio"]
        stage.follow("video", stage_video(self._router, video.producer))
        stage.follow("audio", stage_audio(self._router, audio.producer, self.mix))

    def _ensure_stage(self) -> Stage:
        if self.stage is None:
            self.stage = new_stage(f"{self._call_id}-stage", self._router)
            self.update_stage()
            self._ticker = asyncio.create_task(self._tick_stage())
        return self.stage

    async def _tick_stage(self) -> None:
        """Cut viewers that cannot keep up, by the stage's written policy."""
        while self.stage is not None:
            await asyncio.sleep(STAGE_TICK)
            for seat, reason in self.stage.tick():
                viewer = self.viewers.get(seat.id)
                if viewer is not None:
                    logger.info("viewer %s of %s cut: %s", seat.id, self._call_id, reason)
                    self._metrics.viewer_drops.labels(reason).inc()
                    await viewer.close()

    def set_mix(self, mix: Producer | None) -> None:
        """The broadcast's mixed audio (or None): what viewers hear."""
        self.mix = mix
        self.update_stage()

    async def add_viewer(
        self, offer: str, broadcast_id: str | None = None, *, feeds_edge: bool = False
    ) -> tuple[Viewer, str]:
        return await open_viewer(
            self._ensure_stage(),
            offer,
            self.viewers,
            self._viewer_closed,
            broadcast_id,
            feeds_edge=feeds_edge,
        )

    def _viewer_closed(self, viewer: Viewer) -> None:
        self.viewers.pop(viewer.id, None)
        if self.on_viewer_gone is not None:
            self.on_viewer_gone(viewer)

    async def let_go(self) -> None:
        """Every viewer's session ends (the call ended)."""
        for viewer in list(self.viewers.values()):
            await viewer.close()

    async def close(self) -> None:
        await self.let_go()
        self.viewers.clear()
        if self.stage is not None:
            self.stage.close()
            self.stage = None
        if self._ticker is not None:
            self._ticker.cancel()
            self._ticker = None
