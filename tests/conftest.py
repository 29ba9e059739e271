"""Shared fixtures. Every WebRTC peer in the tests talks over loopback only."""

from __future__ import annotations

from collections.abc import Iterator

import aioice.ice
import pytest


@pytest.fixture(autouse=True)
def loopback_only_ice(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Test clients built on aiortc gather only 127.0.0.1 (aioice skips loopback)."""
    monkeypatch.setattr(aioice.ice, "get_host_addresses", lambda use_ipv4, use_ipv6: ["127.0.0.1"])
    yield
