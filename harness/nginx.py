"""Debian's nginx with one of the shipped configurations (deploy/nginx), on a free port."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

from harness import procstat
from harness.server import REPO


def nginx_start(
    workdir: Path, data_dir: Path, parta_port: int
) -> tuple[subprocess.Popen[bytes], int]:
    """Debian's nginx with the shipped deploy/nginx/parta.conf (as
    tests/broadcast/test_broadcast_hls.py runs it), two worker processes."""
    return nginx_with(
        workdir,
        "parta.conf",
        {
            "/var/lib/parta": str(data_dir),
            "127.0.0.1:8080": f"127.0.0.1:{parta_port}",
            "/var/cache/nginx/parta-hls": str(workdir / "nginx-cache"),
        },
    )


def nginx_with(
    workdir: Path, name: str, replace: dict[str, str]
) -> tuple[subprocess.Popen[bytes], int]:
    """Debian's nginx with the shipped deploy/nginx/{name}, each key of `replace` in it
    replaced by its value, listening on a free port of 127.0.0.1: it and the port."""
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    port = procstat.free_tcp_port()
    conf = (REPO / "deploy/nginx" / name).read_text()
    for old, new in replace.items():
        conf = conf.replace(old, new)
    conf = conf.replace("listen 80;", f"listen 127.0.0.1:{port} backlog=4096;")
    prefix = workdir / "nginx"
    prefix.mkdir(exist_ok=True)
    (prefix / "parta.conf").write_text(conf)
    user = "user root;" if os.geteuid() == 0 else ""
    (prefix / "nginx.conf").write_text(
        f"""
{user}
daemon off;
worker_processes auto;
worker_rlimit_nofile 20000;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 10000; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 100000;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    default_type application/octet-stream;
    include {prefix}/parta.conf;
}}
"""
    )
    process = subprocess.Popen(
        [binary, "-p", str(prefix), "-c", str(prefix / "nginx.conf")],
        stderr=subprocess.PIPE,
        preexec_fn=procstat.die_with_parent,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return process, port
        if process.poll() is not None:
            err = process.stderr.read().decode() if process.stderr else ""
            raise RuntimeError(f"nginx did not start: {err}")
        time.sleep(0.05)
    process.kill()
    raise RuntimeError("nginx did not start")
