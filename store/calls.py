"""Where calls' access settings are kept (invite links, host tokens, the ended hold)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from model.access import CallAccess
from store.tables import calls

# an ad-hoc call found in the store this long after its last change is not resumed
STALE = timedelta(hours=12)


class CallStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def save(self, call_id: str, access: CallAccess | None, now: datetime) -> None:
        """Keep a call's settings; None forgets the call."""
        async with self._engine.begin() as connection:
            if access is None:
                await connection.execute(delete(calls).where(calls.c.call_id == call_id))
                return
            values = {
                "title": access.title,
                "waiting_room": access.waiting_room,
                "link_token": access.link,
                "scheduled": access.scheduled,
                "host_tokens": dict(access.host_tokens),
                "ended_until": access.ended_until,
                "updated_at": now,
            }
            done = await connection.execute(
                update(calls).where(calls.c.call_id == call_id).values(**values)
            )
            if done.rowcount == 0:
                await connection.execute(insert(calls).values(call_id=call_id, **values))

    async def load(self, now: datetime) -> dict[str, CallAccess]:
        """Every call to resume; ad-hoc calls left untouched for long are dropped."""
        async with self._engine.begin() as connection:
            await connection.execute(
                delete(calls).where(~calls.c.scheduled & (calls.c.updated_at < now - STALE))
            )
            rows = (await connection.execute(select(calls))).all()
        return {row.call_id: _access(row) for row in rows}

    async def one(self, call_id: str) -> CallAccess | None:
        """A call's settings as the store has them (a cluster: another node may have
        opened or changed the call)."""
        async with self._engine.connect() as connection:
            query = select(calls).where(calls.c.call_id == call_id)
            row = (await connection.execute(query)).first()
        return None if row is None else _access(row)

    async def by_link(self, token: str) -> str | None:
        """The call whose join link this is."""
        query = select(calls.c.call_id).where(calls.c.link_token == token)
        async with self._engine.connect() as connection:
            found = (await connection.execute(query)).scalar()
        return None if found is None else str(found)


def _access(row: Any) -> CallAccess:
    return CallAccess(
        title=row.title,
        waiting_room=bool(row.waiting_room),
        link=row.link_token,
        scheduled=bool(row.scheduled),
        host_tokens=dict(row.host_tokens),
        ended_until=row.ended_until,
    )
