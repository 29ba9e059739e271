"""Which node serves a call, as the HTTP and WebSocket handlers ask it."""

from __future__ import annotations

from aiohttp import web

from web import keys


async def node_for(app: web.Application, call_id: str) -> str | None:
    """In a cluster, the URL of the node that hosts `call_id` when that is another node;
    None when it is this one (or there is no cluster). A call this node is about to
    host gets its settings (links, host tokens) from the store first: another node may
    have opened it, and hosted it until it died."""
    cluster = app.get(keys.CLUSTER)
    calls = app[keys.CALLS]
    if cluster is None or call_id in calls.rooms:
        return None
    owner = await cluster.place(call_id)
    if owner is not None and owner != cluster.id:
        url = await cluster.url_of(owner)
        if url is not None:
            return url
        # it died just now: serve the call here; the next placement agrees or moves it
    if call_id in calls._dirty:
        return None  # changed here and not yet written: ours is the newer
    access = await app[keys.CALL_STORE].one(call_id)
    if access is not None:
        calls.add_access(call_id, access, store=False)
    return None
