"""Where past calls are kept: start, end, duration and who took part."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from store.tables import call_history


@dataclass(frozen=True)
class PastCall:
    call_id: str
    title: str
    started_at: datetime
    ended_at: datetime
    participants: tuple[str, ...]
    ended_by_host: bool
    user_ids: tuple[str, ...] = ()  # the accounts that took part

    @property
    def duration_seconds(self) -> int:
        return int((self.ended_at - self.started_at).total_seconds())


class HistoryStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def add(self, call: PastCall) -> None:
        async with self._engine.begin() as connection:
            await connection.execute(
                insert(call_history).values(
                    call_id=call.call_id,
                    title=call.title,
                    started_at=call.started_at,
                    ended_at=call.ended_at,
                    participants=list(call.participants),
                    ended_by_host=call.ended_by_host,
                    user_ids=list(call.user_ids),
                )
            )

    async def recent(self, *, call_id: str | None = None, limit: int = 100) -> list[PastCall]:
        query = select(call_history).order_by(call_history.c.id.desc()).limit(limit)
        if call_id is not None:
            query = query.where(call_history.c.call_id == call_id)
        async with self._engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        return [
            PastCall(
                call_id=r.call_id,
                title=r.title,
                started_at=_aware(r.started_at),
                ended_at=_aware(r.ended_at),
                participants=tuple(r.participants),
                ended_by_host=bool(r.ended_by_host),
                user_ids=tuple(r.user_ids or ()),
            )
            for r in rows
        ]


def _aware(value: datetime) -> datetime:
    # SQLite keeps no zone: every stored instant is UTC
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
