"""Measure live delivery of a channel's posts to many connected subscribers.

    python -m benchmarks.chat_fanout                          # 1000 clients x 200 posts
    python -m benchmarks.chat_fanout --clients 20 --messages 10
    python -m benchmarks.chat_fanout --rate 5                 # 5 posts/s, not flat out
    python -m benchmarks.chat_fanout --workers 2              # clients in 2 processes
    python -m benchmarks.chat_fanout --focus                  # clients show the channel

What runs, on 127.0.0.1: `parta serve` in its own process with a temporary --data-dir,
and N real users, each signed up (Argon2id: the slow part of the setup, timed apart),
with a student profile in one school, a member of one public channel and connected to
`GET /api/events` by a WebSocket. The WebSockets live in this process (--workers 0) or
in worker processes (`--workers K`, the clients split evenly). The channel's owner then
posts M messages, one after another (each POST awaited) as fast as possible or at
--rate per second. Every post's text carries its sequence number and its send time
(CLOCK_MONOTONIC, the same clock in every process on the machine); a client takes its
receive time when the WebSocket frame is handed to it, before parsing.

By default the clients do not show the channel (no `focus`), as most subscribers, so
the server also sends each of them a `notification` per post; with --focus it sends
only the `message` events. One post before the measured ones is a warm-up that every
client must receive. Only JSON goes to stdout; progress goes to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import resource
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np

from benchmarks.chatapi import (
    Api,
    create_chat,
    make_school,
    memory_kib,
    mib,
    reset_peak_rss,
    running_server,
    setup_logging,
)
from harness import procstat
from harness.server import Server

logger = logging.getLogger("benchmarks.chat_fanout")

REPO = Path(__file__).resolve().parents[1]
MARK = "bench"


# -- the clients -----------------------------------------------------------------------------


@dataclass
class Client:
    token: str
    ws: aiohttp.ClientWebSocketResponse | None = None
    last_seq: int = -1
    messages: int = 0  # measured posts received
    notifications: int = 0
    other: int = 0
    out_of_order: int = 0
    task: asyncio.Task[None] | None = None


@dataclass
class Clients:
    """N WebSocket clients of one process, recording each post's delivery latency."""

    base_url: str
    chat_id: str
    focus: bool
    clients: list[Client] = field(default_factory=list)
    latencies_ns: list[int] = field(default_factory=list)
    http: aiohttp.ClientSession | None = None
    closed_early: int = 0

    async def connect(self, tokens: list[str], concurrency: int = 50) -> None:
        self.http = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0), timeout=aiohttp.ClientTimeout(total=None)
        )
        gate = asyncio.Semaphore(concurrency)
        events_url = self.base_url + "/api/events"

        async def one(token: str) -> Client:
            assert self.http is not None
            async with gate:
                ws = await self.http.ws_connect(
                    events_url, headers={"Authorization": f"Bearer {token}"}, autoping=True
                )
                if self.focus:
                    await ws.send_str(json.dumps({"type": "focus", "chat_id": self.chat_id}))
            client = Client(token, ws)
            client.task = asyncio.create_task(self._receive(client))
            return client

        self.clients = list(await asyncio.gather(*(one(t) for t in tokens)))

    async def _receive(self, client: Client) -> None:
        ws = client.ws
        assert ws is not None
        latencies = self.latencies_ns
        while True:
            msg = await ws.receive()
            received = time.monotonic_ns()
            if msg.type != aiohttp.WSMsgType.TEXT:
                if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED):
                    self.closed_early += 1
                return
            event = json.loads(msg.data)
            kind = event.get("type")
            if kind == "notification":
                client.notifications += 1
                continue
            if kind != "message" or event.get("chat_id") != self.chat_id:
                client.other += 1
                continue
            parts = str(event["message"].get("text") or "").split()
            if len(parts) < 3 or parts[0] != MARK:
                client.other += 1
                continue
            seq, sent = int(parts[1]), int(parts[2])
            if seq != client.last_seq + 1:
                client.out_of_order += 1
            client.last_seq = max(client.last_seq, seq)
            if seq > 0:  # 0 is the warm-up
                client.messages += 1
                latencies.append(received - sent)

    async def wait_for(self, seq: int, timeout: float) -> int:
        """Wait until every client has seen post `seq`; returns how many have."""
        deadline = time.monotonic() + timeout
        while True:
            done = sum(1 for c in self.clients if c.last_seq >= seq)
            if done == len(self.clients) or time.monotonic() > deadline:
                return done
            await asyncio.sleep(0.02)

    def results(self) -> dict[str, Any]:
        return {
            "latencies_ns": self.latencies_ns,
            "messages": sum(c.messages for c in self.clients),
            "notifications": sum(c.notifications for c in self.clients),
            "other_events": sum(c.other for c in self.clients),
            "out_of_order": sum(c.out_of_order for c in self.clients),
            "closed_early": self.closed_early,
            "last_seqs": [c.last_seq for c in self.clients],
            "cpu_seconds": time.process_time(),
        }

    async def close(self) -> None:
        for client in self.clients:
            if client.task is not None:
                client.task.cancel()
        for client in self.clients:
            if client.ws is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(client.ws.close(), 2)
        if self.http is not None:
            await self.http.close()


# -- worker processes (`--worker`): the same clients, driven by JSON lines -----------------------


async def worker_main() -> None:
    """Commands on stdin, one JSON object a line; a reply on stdout for each."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=1 << 26)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    clients: Clients | None = None

    def reply(data: dict[str, Any]) -> None:
        sys.stdout.write(json.dumps(data) + "\n")
        sys.stdout.flush()

    try:
        while line := await reader.readline():
            command = json.loads(line)
            cmd = command["cmd"]
            if cmd == "connect":
                clients = Clients(command["base_url"], command["chat_id"], command["focus"])
                await clients.connect(command["tokens"])
                reply({"ok": True, "connected": len(clients.clients)})
            elif cmd == "wait":
                assert clients is not None
                done = await clients.wait_for(command["seq"], command["timeout"])
                reply({"ok": True, "done": done})
            elif cmd == "cpu":
                reply({"ok": True, "cpu_seconds": time.process_time()})
            elif cmd == "results":
                assert clients is not None
                reply({"ok": True, **clients.results()})
            elif cmd == "stop":
                reply({"ok": True})
                break
    finally:
        if clients is not None:
            await clients.close()


class Worker:
    def __init__(self, index: int) -> None:
        self.index = index
        self.process: asyncio.subprocess.Process | None = None
        self.pid = 0

    async def start(self) -> None:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "benchmarks.chat_fanout",
            "--worker",
            cwd=REPO,
            env=env,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            limit=1 << 28,
            preexec_fn=procstat.die_with_parent,
        )
        self.pid = self.process.pid

    async def request(self, message: dict[str, Any], timeout: float = 600) -> dict[str, Any]:
        process = self.process
        assert process is not None and process.stdin is not None and process.stdout is not None
        process.stdin.write((json.dumps(message) + "\n").encode())
        await process.stdin.drain()
        line = await asyncio.wait_for(process.stdout.readline(), timeout)
        if not line:
            raise RuntimeError(f"worker {self.index} exited")
        reply: dict[str, Any] = json.loads(line)
        return reply

    async def stop(self) -> None:
        if self.process is None or self.process.returncode is not None:
            return
        with contextlib.suppress(Exception):
            await self.request({"cmd": "stop"}, timeout=10)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.process.wait(), 5)
        await procstat.terminate(self.process)


class ClientPool:
    """The clients, in this process or spread over worker processes."""

    def __init__(self, workers: int) -> None:
        self.workers = [Worker(i) for i in range(workers)]
        self.local: Clients | None = None

    async def connect(self, base_url: str, chat_id: str, focus: bool, tokens: list[str]) -> None:
        if not self.workers:
            self.local = Clients(base_url, chat_id, focus)
            await self.local.connect(tokens)
            return
        await asyncio.gather(*(w.start() for w in self.workers))
        share = [tokens[i :: len(self.workers)] for i in range(len(self.workers))]
        await asyncio.gather(
            *(
                w.request(
                    {
                        "cmd": "connect",
                        "base_url": base_url,
                        "chat_id": chat_id,
                        "focus": focus,
                        "tokens": part,
                    }
                )
                for w, part in zip(self.workers, share, strict=True)
            )
        )

    async def wait_for(self, seq: int, timeout: float) -> int:
        if self.local is not None:
            return await self.local.wait_for(seq, timeout)
        replies = await asyncio.gather(
            *(
                w.request({"cmd": "wait", "seq": seq, "timeout": timeout}, timeout + 30)
                for w in self.workers
            )
        )
        return sum(int(r["done"]) for r in replies)

    async def cpu_seconds(self) -> float:
        """CPU of the processes holding the clients (this one with --workers 0)."""
        if self.local is not None:
            return time.process_time()
        replies = await asyncio.gather(*(w.request({"cmd": "cpu"}) for w in self.workers))
        return sum(float(r["cpu_seconds"]) for r in replies)

    async def results(self) -> dict[str, Any]:
        if self.local is not None:
            return self.local.results()
        replies = await asyncio.gather(*(w.request({"cmd": "results"}) for w in self.workers))
        merged: dict[str, Any] = {"latencies_ns": [], "last_seqs": []}
        for r in replies:
            merged["latencies_ns"] += r["latencies_ns"]
            merged["last_seqs"] += r["last_seqs"]
            for key in ("messages", "notifications", "other_events", "out_of_order"):
                merged[key] = merged.get(key, 0) + r[key]
            merged["closed_early"] = merged.get("closed_early", 0) + r["closed_early"]
        return merged

    async def close(self) -> None:
        if self.local is not None:
            await self.local.close()
        await asyncio.gather(*(w.stop() for w in self.workers), return_exceptions=True)


# -- the benchmark ---------------------------------------------------------------------------


async def _make_subscriber(
    owner: Api, index: int, code: str, chat_id: str, gate: asyncio.Semaphore, done: list[int]
) -> tuple[str, float]:
    async with gate:
        started = time.perf_counter()
        user = await owner.sign_up(f"Subscriber {index}")
        signed_up = time.perf_counter()
        await user.call(
            "POST",
            "/api/profiles",
            {"code": code, "full_name": f"Student {index}", "class_name": "5A"},
            expect=201,
        )
        await user.call("POST", f"/api/chats/{chat_id}/join")
    done[0] += 1
    if done[0] % 100 == 0:
        logger.info("%d users ready", done[0])
    assert user.token is not None
    return user.token, signed_up - started


def _percentiles_ms(latencies_ns: list[int]) -> dict[str, float | None]:
    if not latencies_ns:
        return {"p50": None, "p90": None, "p99": None, "max": None, "mean": None}
    values = np.asarray(latencies_ns, dtype=np.float64) / 1e6
    p50, p90, p99 = np.percentile(values, [50, 90, 99])
    return {
        "p50": round(float(p50), 2),
        "p90": round(float(p90), 2),
        "p99": round(float(p99), 2),
        "max": round(float(values.max()), 2),
        "mean": round(float(values.mean()), 2),
        "min": round(float(values.min()), 2),
    }


def _raise_open_files(needed: int) -> dict[str, int]:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < needed:
        target = hard if hard == resource.RLIM_INFINITY else min(hard, max(needed, soft))
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < needed:
        logger.warning("open-file limit %d is below the %d needed", soft, needed)
    return {"soft": soft, "hard": hard}


async def run(args: argparse.Namespace) -> dict[str, Any]:
    n: int = args.clients
    m: int = args.messages
    limits = _raise_open_files(2 * n + 256)  # inherited by the server and the workers
    timeout = aiohttp.ClientTimeout(total=None, sock_read=600)
    pool = ClientPool(args.workers)
    started = time.perf_counter()
    async with (
        aiohttp.ClientSession(
            timeout=timeout, connector=aiohttp.TCPConnector(limit=args.setup_concurrency * 2)
        ) as http,
        running_server(http) as server,
    ):
        try:
            return await _measure(args, n, m, http, server, pool, started, limits)
        finally:
            await pool.close()


async def _measure(
    args: argparse.Namespace,
    n: int,
    m: int,
    http: aiohttp.ClientSession,
    server: Server,
    pool: ClientPool,
    started: float,
    limits: dict[str, int],
) -> dict[str, Any]:
    pid = server.pid
    server_ready = time.perf_counter()
    owner = await Api(http, server.base_url).sign_up("Channel Owner")
    school = await make_school(owner)
    chat_id = await create_chat(owner, school, "Announcements", "channel", True)

    logger.info("signing up %d users (%d at a time)", n, args.setup_concurrency)
    setup_cpu_before = procstat.process_cpu_seconds(pid)
    setup_started = time.perf_counter()
    gate = asyncio.Semaphore(args.setup_concurrency)
    done = [0]
    made = await asyncio.gather(
        *(
            _make_subscriber(owner, i, school.codes["student"], chat_id, gate, done)
            for i in range(n)
        )
    )
    tokens = [token for token, _ in made]
    setup_seconds = time.perf_counter() - setup_started
    setup_cpu = procstat.process_cpu_seconds(pid) - setup_cpu_before
    signup_ms = _percentiles_ms([int(s * 1e9) for _, s in made])
    logger.info("users ready in %.1f s; connecting %d WebSockets", setup_seconds, n)

    memory_before_connect = memory_kib(pid)
    connect_started = time.perf_counter()
    await pool.connect(server.base_url, chat_id, args.focus, tokens)
    connect_seconds = time.perf_counter() - connect_started
    memory_connected = memory_kib(pid)

    async def post(seq: int) -> float:
        text = f"{MARK} {seq} {time.monotonic_ns()}"
        sent = time.perf_counter()
        await owner.call("POST", f"/api/chats/{chat_id}/messages", {"text": text}, expect=201)
        return time.perf_counter() - sent

    await post(0)
    warm = await pool.wait_for(0, args.drain_timeout)
    if warm != n:
        raise RuntimeError(f"only {warm} of {n} clients received the warm-up post")
    logger.info("all %d clients received the warm-up; posting %d messages", n, m)

    peak_reset = reset_peak_rss(pid)
    cpu_before = procstat.process_cpu_seconds(pid)
    split_before = procstat.process_cpu_split(pid)
    clients_cpu_before = await pool.cpu_seconds()
    system_before = procstat.SystemCpu.read()
    window_started = time.perf_counter()
    post_seconds: list[float] = []
    interval = 1.0 / args.rate if args.rate > 0 else 0.0
    for seq in range(1, m + 1):
        if interval:
            due = window_started + (seq - 1) * interval
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
        post_seconds.append(await post(seq))
    posted = time.perf_counter()
    complete = await pool.wait_for(m, args.drain_timeout)
    drained = time.perf_counter()
    cpu = procstat.process_cpu_seconds(pid) - cpu_before
    split_after = procstat.process_cpu_split(pid)
    clients_cpu = await pool.cpu_seconds() - clients_cpu_before
    system_after = procstat.SystemCpu.read()
    memory_after = memory_kib(pid)
    results = await pool.results()

    window = drained - window_started
    deliveries = int(results["messages"])
    expected = n * m
    latencies = results["latencies_ns"]
    return {
        "benchmark": "chat_fanout",
        "clients": n,
        "messages": m,
        "rate_requested": args.rate or "max",
        "focus": args.focus,
        "client_processes": args.workers or "in the benchmark process",
        "seconds": {
            "server_start": round(server_ready - started, 2),
            "setup_users": round(setup_seconds, 2),
            "connect_websockets": round(connect_seconds, 2),
            "posting": round(posted - window_started, 3),
            "window": round(window, 3),
        },
        "setup": {
            "concurrency": args.setup_concurrency,
            "users_per_second": round(n / setup_seconds, 1) if setup_seconds else None,
            "signup_request_ms": signup_ms,
            "server_cpu_seconds": round(setup_cpu, 2),
        },
        "deliveries": deliveries,
        "deliveries_expected": expected,
        "clients_with_every_message": complete,
        "notifications_received": results["notifications"],
        "other_events_received": results["other_events"],
        "out_of_order": results["out_of_order"],
        "websockets_closed_by_server": results["closed_early"],
        "deliveries_per_second": round(deliveries / window, 1) if window else None,
        "posts_per_second": round(m / (posted - window_started), 2),
        "latency_ms": _percentiles_ms(latencies),
        "post_request_ms": _percentiles_ms([int(s * 1e9) for s in post_seconds]),
        "server": {
            "cpu_seconds": round(cpu, 2),
            "user_seconds": round(split_after[0] - split_before[0], 2),
            "system_seconds": round(split_after[1] - split_before[1], 2),
            "cpu_cores_busy": round(cpu / window, 2) if window else None,
            "us_cpu_per_delivery": round(cpu * 1e6 / deliveries, 1) if deliveries else None,
            "rss_before_websockets_mib": mib(memory_before_connect["VmRSS"]),
            "rss_connected_mib": mib(memory_connected["VmRSS"]),
            "rss_after_mib": mib(memory_after["VmRSS"]),
            "peak_rss_during_posting_mib": mib(memory_after["VmHWM"]) if peak_reset else None,
            "peak_rss_lifetime_mib": None if peak_reset else mib(memory_after["VmHWM"]),
            "kib_per_websocket": round(
                (memory_connected["VmRSS"] - memory_before_connect["VmRSS"]) / n, 1
            )
            if n
            else None,
        },
        "client_processes_cpu_seconds": round(clients_cpu, 2),
        "client_processes_cores_busy": round(clients_cpu / window, 2) if window else None,
        "machine_busy_cores": round((system_after.busy - system_before.busy) / window, 2)
        if window
        else None,
        "open_file_limit": limits,
        "machine": procstat.machine_info(),
        "definitions": {
            "window": "first measured POST sent .. every client has received the last post "
            "(or --drain-timeout)",
            "deliveries_per_second": "measured `message` events received by all clients / window",
            "latency_ms": "client's receive time (monotonic clock, taken as the frame is "
            "handed over, before parsing) minus the send time written in the post's text "
            "(taken just before the POST); over every delivery",
            "post_request_ms": "the owner's POST /api/chats/{id}/messages round trip",
            "server cpu": "utime+stime of the server process over the window",
            "client_processes_cores_busy": "CPU of the process(es) holding the WebSockets "
            "over the window: near 1.0 a process means the clients may be the bottleneck",
            "peak_rss_during_posting_mib": "VmHWM after the window, reset before it",
        },
    }


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.chat_fanout",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--clients", type=int, default=1000, help="subscribers (default 1000)")
    parser.add_argument("--messages", type=int, default=200, help="posts (default 200)")
    parser.add_argument(
        "--rate", type=float, default=0.0, help="posts per second (default 0: as fast as possible)"
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=0,
        help="processes holding the WebSockets (default 0: this process)",
    )
    parser.add_argument(
        "--focus", action="store_true", help="clients show the channel: no notifications"
    )
    parser.add_argument(
        "--setup-concurrency",
        type=int,
        default=4,
        help="sign-ups in flight at once (default 4)",
    )
    parser.add_argument(
        "--drain-timeout",
        type=float,
        default=120.0,
        help="seconds to wait for the last post to reach everyone (default 120)",
    )
    parser.add_argument("--verbose", action="store_true")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.clients < 1 or args.messages < 1 or args.workers < 0 or args.setup_concurrency < 1:
        parser.error("--clients, --messages, --setup-concurrency are >= 1, --workers >= 0")
    return args


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    if args.worker:
        logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
        asyncio.run(worker_main())
        return
    setup_logging(args.verbose)
    result = asyncio.run(run(args))
    json.dump(result, sys.stdout, indent=2)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
