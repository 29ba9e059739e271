"""Calls' access settings in the store: saved, loaded back, forgotten, and stale ad-hoc
calls dropped at start."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

from model.access import CallAccess, token_hash
from store.calls import STALE, CallStore
from store.database import default_url, migrate, open_engine


async def test_settings_round_trip_and_stale_ad_hoc_calls_are_dropped(tmp_path: Path) -> None:
    url = default_url(tmp_path)
    await asyncio.to_thread(migrate, url)
    engine = open_engine(url)
    store = CallStore(engine)
    now = datetime(2030, 1, 1, tzinfo=UTC)
    lesson = CallAccess(
        title="Art 5a",
        waiting_room=True,
        link="a" * 24,
        scheduled=True,
        host_tokens={token_hash("key"): "host"},
    )
    await store.save("lesson-art", lesson, now - 2 * STALE)
    old = CallAccess(title="old", waiting_room=False, link="b" * 24)
    await store.save("old-chat", old, now - STALE - timedelta(seconds=1))
    live = CallAccess(title="live", waiting_room=False, link=None, ended_until=1.5e9)
    await store.save("live", live, now)
    live.waiting_room = True  # a second save updates the row
    await store.save("live", live, now)
    await store.save("gone", CallAccess(title="gone", waiting_room=False, link="c"), now)
    await store.save("gone", None, now)

    loaded = await store.load(now)
    assert set(loaded) == {"lesson-art", "live"}  # old-chat was stale, gone was forgotten
    assert loaded["lesson-art"] == lesson and loaded["lesson-art"].role_for("key") == "host"
    assert loaded["live"] == live
    await engine.dispose()
