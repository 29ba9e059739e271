"""Tests of the shipped nginx configurations need Debian's nginx. `./run test` installs
it, so in CI they always run; someone running pytest by hand on a machine without it
is told why they were skipped."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest


def nginx_installed() -> bool:
    return bool(shutil.which("nginx") or Path("/usr/sbin/nginx").exists())


needs_nginx = pytest.mark.skipif(
    not nginx_installed(), reason="Debian's nginx is not installed (./run test installs it)"
)
