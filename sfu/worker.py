"""Worker: the media plane of one process: its routers and its counters."""

from __future__ import annotations

import time
from collections.abc import Callable

from sfu.router import Router
from sfu.totals import Totals
from sfu.transport import TransportSettings


class Worker:
    """Creates and finds routers; sums counters at scrape time."""

    def __init__(
        self, settings: TransportSettings, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.settings = settings
        self.routers: dict[str, Router] = {}
        self._retired = Totals()
        self._clock = clock
        self.closed = False

    def get_or_create_router(self, router_id: str) -> Router:
        router = self.routers.get(router_id)
        if router is None or router.closed:
            router = Router(router_id, self.settings, self._retired, clock=self._clock)
            self.routers[router_id] = router
        return router

    async def close_router(self, router_id: str) -> None:
        router = self.routers.pop(router_id, None)
        if router is not None:
            await router.close()

    def totals(self) -> Totals:
        """All counters: retired objects plus every live one, read now."""
        totals = self._retired.copy()
        for router in self.routers.values():
            for producer in router.producers.values():
                totals.add_producer(producer)
            for consumer in router.consumers.values():
                totals.add_consumer(consumer)
            for stage in router.stages:
                for stream in stage.outgoing():
                    totals.add_outgoing(stream)
            for transport in router.transports.values():
                totals.add_transport(transport)
        return totals

    def counts(self) -> dict[str, int]:
        return {
            "routers": len(self.routers),
            "transports": sum(len(r.transports) for r in self.routers.values()),
            "producers": sum(len(r.producers) for r in self.routers.values()),
            "consumers": sum(len(r.consumers) for r in self.routers.values()),
        }

    def codecs_opened(self) -> int:
        return sum(t.codecs_opened() for r in self.routers.values() for t in r.transports.values())

    async def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        for router_id in list(self.routers):
            await self.close_router(router_id)

    def dump(self) -> dict[str, object]:
        return {"routers": [r.dump() for r in self.routers.values()]}
