from __future__ import annotations

from tests.signalling.conftest import app, base_url, http, server

__all__ = ["app", "base_url", "http", "server"]
