"""Measure a parta cluster on this box: up to three `parta serve` nodes sharing one
redis-server (started here, on a free port) and one fresh PostgreSQL database.

    python -m benchmarks.cluster                    # defaults, a few minutes
    python -m benchmarks.cluster --quick            # a very short run
    python -m benchmarks.cluster --out benchmarks/results/cluster-default.json

Phases, in order, all on 127.0.0.1:

1. joins: a host keeps a call open on node a; fresh users join it over `/ws`, one at a
   time, either directly on a or by asking b (which answers `redirect`) and following
   the redirect to a, until `joined`; then they leave. Latency from opening the first
   socket to `joined`.
2. chat: a pupil in the chat listens on node b's `/api/events`; its teacher posts through
   node a one at a time (each post also notifies the pupil, so node a asks Redis who
   reads the chat); latency from the start of the POST to the event's arrival on b.
3. Redis commands per join and per message: `total_commands_processed` of this run's own
   redis-server around each phase, minus an idle period of equal length measured just
   before it (node heartbeats), divided by the count.
4. broadcasts: a WHIP publisher and a public broadcast in a call on node a; N WHEP
   viewers (`benchmarks.subscriber` processes, one per node used) spread evenly over the
   first k nodes, k = 1, 2, 3; each node's CPU (utime+stime, /proc/PID/stat, children
   such as the broadcast encoder reported apart) over a window; viewers that received
   video counted.

Only JSON goes to stdout; progress goes to stderr. If PostgreSQL does not answer, the
JSON carries an "error" and the exit status is 1.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import secrets
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import redis.asyncio as aioredis

from benchmarks import recording
from benchmarks.broadcast import VideoCounted, find_encoder, start_broadcast
from benchmarks.chatapi import Api, create_chat, make_school
from benchmarks.forwarding import SubscriberProcess
from benchmarks.media import MediaProfile
from harness import procstat, services
from harness.server import Server

logger = logging.getLogger("benchmarks.cluster")

POSTGRES = os.environ.get("PARTA_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")
NODES = ("a", "b", "c")
JOIN_CALL = "bench-cluster-joins"
BROADCAST_CALL = "bench-cluster-broadcast"
IDLE_MIN_S = 5.0  # the idle baseline lasts as long as the phase, and at least this


# -- helpers ------------------------------------------------------------------------------


def percentiles(values: list[float]) -> dict[str, float | None]:
    """p50/p99/max of latencies in ms (nearest rank)."""
    if not values:
        return {"p50_ms": None, "p99_ms": None, "max_ms": None, "count": 0}
    ordered = sorted(values)

    def rank(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))], 2)

    return {
        "p50_ms": rank(0.50),
        "p99_ms": rank(0.99),
        "max_ms": round(ordered[-1], 2),
        "count": len(ordered),
    }


def _cpu(pid: int) -> float:
    with contextlib.suppress(OSError, ValueError):
        return procstat.process_cpu_seconds(pid)
    return 0.0


def _children_cpu(pid: int) -> float:
    return sum(_cpu(child) for child in recording.child_pids(pid))


class RedisCounter:
    """Commands processed by the run's redis-server, and idle baselines."""

    def __init__(self, url: str) -> None:
        self.client = aioredis.from_url(url)

    async def total(self) -> int:
        # not counting this INFO itself (counted once it has run)
        info = await self.client.info("stats")
        return int(info["total_commands_processed"])

    async def idle_rate(self, seconds: float) -> float:
        """Commands per second with nothing happening but heartbeats."""
        c0, t0 = await self.total(), time.monotonic()
        await asyncio.sleep(seconds)
        c1, t1 = await self.total(), time.monotonic()
        return (c1 - c0 - 1) / (t1 - t0)

    async def close(self) -> None:
        await self.client.aclose()


# -- phases -------------------------------------------------------------------------------


async def open_call(
    http: aiohttp.ClientSession, base: str, prefix: str
) -> tuple[str, str, Api, str, aiohttp.ClientWebSocketResponse, str]:
    """A host asks node `base` to open a new call and stays in it. The cluster places a
    new call itself, on the least loaded node: a `redirect` is followed. Returns the
    call, its invite link's token, the host (as an API user), their host token, their
    socket, and the base URL of the node that hosts the call."""
    host = await Api(http, base).sign_up("Bench host")
    call = f"{prefix}-{secrets.token_hex(3)}"
    for _ in range(3):
        ws = await http.ws_connect(base.replace("http", "ws", 1) + "/ws", headers=host.headers)
        await ws.send_json({"type": "join", "version": 1, "call": call, "name": "host"})
        while True:
            frame = await ws.receive(timeout=20)
            if frame.type != aiohttp.WSMsgType.TEXT:
                raise RuntimeError(f"opening the call: socket {frame.type} {ws.close_code}")
            message = json.loads(frame.data)
            if message["type"] == "joined":
                link = message.get("invite_link")
                if not link:
                    raise RuntimeError(f"no invite link in {message}")
                token = str(link).rsplit("/", 1)[-1]
                return call, token, host, str(message["host_token"]), ws, base
            if message["type"] == "redirect":
                await ws.close()
                base = str(message["node"]).rstrip("/")
                break
            if message["type"] in ("error", "waiting", "denied"):
                raise RuntimeError(f"opening the call: {message}")
    raise RuntimeError("too many redirects opening a call")


def origin_first(names: dict[str, str], origin: str) -> dict[str, str]:
    """Node name -> the node's key in `names` (whose values are base URLs), relabelled
    so that "a" is the node hosting the call (`origin`) and the others follow in order."""
    keys = sorted(names, key=lambda name: names[name].rstrip("/") != origin.rstrip("/"))
    return dict(zip(sorted(names), keys, strict=True))


async def join_once(
    http: aiohttp.ClientSession, node: str, call: str, token: str, link: str
) -> tuple[float, bool]:
    """Join `call` asking `node`, following one redirect; ms until `joined`, and whether
    a redirect was followed."""
    started = time.perf_counter()
    redirected = False
    target = node
    for _ in range(3):
        ws = await http.ws_connect(
            target.replace("http", "ws", 1) + "/ws", headers={"Authorization": f"Bearer {token}"}
        )
        try:
            await ws.send_json(
                {"type": "join", "version": 1, "call": call, "name": "joiner", "link": link}
            )
            while True:
                reply = json.loads((await ws.receive(timeout=15)).data)
                kind = reply.get("type")
                if kind == "joined":
                    elapsed = (time.perf_counter() - started) * 1000
                    with contextlib.suppress(Exception):
                        await ws.send_json({"type": "leave"})
                    return elapsed, redirected
                if kind == "redirect":
                    target = str(reply["node"]).rstrip("/")
                    redirected = True
                    break
                if kind in ("error", "denied", "waiting"):
                    raise RuntimeError(f"join on {target}: {reply}")
        finally:
            await ws.close()
    raise RuntimeError("too many redirects")


async def phase_joins(
    http: aiohttp.ClientSession, urls: dict[str, str], redis: RedisCounter, count: int
) -> dict[str, Any]:
    call, link, _, _, host_ws, origin = await open_call(http, urls["a"], JOIN_CALL)
    label = origin_first(urls, origin)
    a, b = urls[label["a"]], urls[label["b"]]  # a: the call's node
    out: dict[str, Any] = {"count_per_mode": count, "nodes": label}
    out["call"] = call
    try:
        for mode, ask in (("direct_on_a", a), ("redirect_via_b", b)):
            tokens = [str((await Api(http, a).sign_up(f"joiner {i}")).token) for i in range(count)]
            latencies: list[float] = []
            redirects = 0
            # commands between two readings include the first INFO: hence the "- 1";
            # the idle period, as long as the phase (at least IDLE_MIN_S), is measured
            # right after it
            c0, t0 = await redis.total(), time.monotonic()
            for token in tokens:
                ms, redirected = await join_once(http, ask, call, token, link)
                latencies.append(ms)
                redirects += redirected
            c1, t1 = await redis.total(), time.monotonic()
            idle = await redis.idle_rate(max(t1 - t0, IDLE_MIN_S))
            commands = c1 - c0 - 1
            out[mode] = {
                **percentiles(latencies),
                "redirects_followed": redirects,
                "phase_s": round(t1 - t0, 2),
                "redis_commands": commands,
                "redis_idle_commands_per_s": round(idle, 2),
                "redis_commands_per_join": round((commands - idle * (t1 - t0)) / count, 2),
            }
            logger.info("joins %s: %s", mode, out[mode])
    finally:
        await host_ws.close()
    return out


async def phase_chat(
    http: aiohttp.ClientSession, urls: dict[str, str], redis: RedisCounter, count: int
) -> dict[str, Any]:
    a, b = urls["a"], urls["b"]
    owner = await Api(http, a).sign_up("Chat owner")
    school = await make_school(owner)
    chat = await create_chat(owner, school, "Bench chat", "group", True)
    pupil = await Api(http, a).sign_up("Chat pupil")
    profile = {"code": school.codes["student"], "full_name": "Bench Pupil"}
    await pupil.call("POST", "/api/profiles", profile, expect=201)
    await pupil.call("POST", f"/api/chats/{chat}/join", expect=200)
    ws = await http.ws_connect(b.replace("http", "ws", 1) + "/api/events", headers=pupil.headers)
    arrived: dict[str, float] = {}
    waiters: dict[str, asyncio.Future[float]] = {}

    async def read() -> None:
        async for message in ws:
            if message.type != aiohttp.WSMsgType.TEXT:
                continue
            event = json.loads(message.data)
            if event.get("type") != "message":
                continue
            text = str(event.get("message", {}).get("text", ""))
            now = time.perf_counter()
            arrived.setdefault(text, now)
            future = waiters.get(text)
            if future is not None and not future.done():
                future.set_result(now)

    reader = asyncio.create_task(read())
    await asyncio.sleep(0.3)
    latencies: list[float] = []
    lost = 0
    try:
        c0, t0 = await redis.total(), time.monotonic()
        for i in range(count):
            text = f"bench {i} {secrets.token_hex(4)}"
            future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
            waiters[text] = future
            started = time.perf_counter()
            await owner.call("POST", f"/api/chats/{chat}/messages", {"text": text}, expect=201)
            try:
                got = await asyncio.wait_for(future, 5)
            except TimeoutError:
                lost += 1
                continue
            latencies.append((got - started) * 1000)
        c1, t1 = await redis.total(), time.monotonic()
        idle = await redis.idle_rate(max(t1 - t0, IDLE_MIN_S))
    finally:
        reader.cancel()
        await ws.close()
    commands = c1 - c0 - 1
    out = {
        **percentiles(latencies),
        "messages": count,
        "not_delivered_within_5s": lost,
        "phase_s": round(t1 - t0, 2),
        "redis_commands": commands,
        "redis_idle_commands_per_s": round(idle, 2),
        "redis_commands_per_message": round((commands - idle * (t1 - t0)) / count, 2),
    }
    logger.info("chat: %s", out)
    return out


async def _receiving(workers: list[SubscriberProcess]) -> list[dict[str, Any]]:
    return list(await asyncio.gather(*(w.request({"cmd": "status"}) for w in workers)))


async def phase_broadcast(
    http: aiohttp.ClientSession,
    servers: dict[str, Server],
    viewers: int,
    window: float,
    ks: list[int],
) -> dict[str, Any]:
    call, _, host, host_token, host_ws, origin = await open_call(
        http, servers["a"].base_url, BROADCAST_CALL
    )
    label = origin_first({n: s.base_url for n, s in servers.items()}, origin)
    servers = {name: servers[key] for name, key in label.items()}  # "a": the call's node
    a = servers["a"].base_url
    session = str(host.token)
    publisher = VideoCounted(a, call, MediaProfile())
    out: dict[str, Any] = {"viewers": viewers, "window_s": window, "steps": [], "nodes": label}
    try:
        await publisher.connect(http)
        publisher.start()
        watch_link = await start_broadcast(http, a, call, session, host_token)
        whep_path = watch_link.rstrip("/") + "/whep"
        encoder = await find_encoder(servers["a"].pid)
        out["watch_link"] = watch_link
        out["encoder_found"] = encoder is not None
        await asyncio.sleep(2)
        out["no_viewers"] = await measure_nodes(servers, window, {})
        for k in ks:
            used = list(NODES[:k])
            workers: list[SubscriberProcess] = []
            try:
                share = {
                    n: viewers // k + (1 if i < viewers % k else 0) for i, n in enumerate(used)
                }
                for index in range(k):
                    worker = SubscriberProcess(index)
                    await worker.start()
                    workers.append(worker)
                started = time.monotonic()
                replies = await asyncio.gather(
                    *(
                        w.request(
                            {
                                "cmd": "add",
                                "count": share[name],
                                "base_url": servers[name].base_url,
                                "call": call,
                                "srtp": "parta",
                                "whep_path": whep_path,
                                "stamped": ["video"],
                                "receiver_reports": True,
                            },
                            timeout=300,
                        )
                        for w, name in zip(workers, used, strict=True)
                    )
                )
                connect_s = time.monotonic() - started
                errors = [e for r in replies for e in r.get("errors", [])]
                deadline = time.monotonic() + 20
                while time.monotonic() < deadline:
                    status = await _receiving(workers)
                    if all(s["receiving_video"] >= s["viewers"] for s in status):
                        break
                    await asyncio.sleep(0.5)
                before = await _receiving(workers)
                per_node = await measure_nodes(servers, window, share)
                after = await _receiving(workers)
                step: dict[str, Any] = {
                    "nodes_used": k,
                    "connect_all_s": round(connect_s, 1),
                    "connect_errors": errors[:5],
                    "nodes": per_node,
                }
                baseline = out["no_viewers"]
                for name, worker_before, worker_after in zip(used, before, after, strict=True):
                    node = per_node[name]
                    node["viewers_connected"] = worker_after["viewers"]
                    node["viewers_receiving_video"] = worker_after["receiving_video"]
                    node["viewer_datagrams_per_s"] = round(
                        (worker_after["datagrams"] - worker_before["datagrams"]) / window, 1
                    )
                    extra = node["cpu_cores"] - baseline[name]["cpu_cores"]
                    node["cpu_cores_above_no_viewers"] = round(extra, 4)
                    node["cpu_ms_per_s_per_viewer"] = (
                        round(1000 * extra / worker_after["viewers"], 3)
                        if worker_after["viewers"]
                        else None
                    )
                for name, server in servers.items():
                    metrics = await server.metrics(http)
                    per_node[name]["gauges"] = {
                        key: metrics[key]
                        for key in ("parta_edge_pipes", "parta_edge_relays", "parta_viewers")
                        if key in metrics
                    }
                step["viewers_receiving_video"] = sum(s["receiving_video"] for s in after)
                out["steps"].append(step)
                logger.info("broadcast k=%d: %s", k, json.dumps(step))
            finally:
                for worker in workers:
                    with contextlib.suppress(Exception):
                        await worker.stop()
            await asyncio.sleep(2)  # viewers gone before the next step
    finally:
        with contextlib.suppress(Exception):
            await publisher.close(http)
        with contextlib.suppress(Exception):
            await host_ws.close()
    return out


async def measure_nodes(
    servers: dict[str, Server], window: float, share: dict[str, int]
) -> dict[str, dict[str, Any]]:
    """CPU of each node (and its child processes, such as the broadcast encoder) over
    one window, in cores (CPU seconds per second)."""
    pids = {n: s.pid for n, s in servers.items()}
    c0 = {n: (_cpu(p), _children_cpu(p)) for n, p in pids.items()}
    t0 = time.monotonic()
    await asyncio.sleep(window)
    t1 = time.monotonic()
    c1 = {n: (_cpu(p), _children_cpu(p)) for n, p in pids.items()}
    out: dict[str, dict[str, Any]] = {}
    for name in pids:
        out[name] = {
            "viewers_assigned": share.get(name, 0),
            "cpu_cores": round((c1[name][0] - c0[name][0]) / (t1 - t0), 4),
            # children that lived through the whole window (the encoder, on the origin)
            "children_cpu_cores": round(max(0.0, c1[name][1] - c0[name][1]) / (t1 - t0), 4),
        }
    return out


# -- the run ------------------------------------------------------------------------------


NOTES = (
    "All nodes, the redis-server, PostgreSQL, the publisher and the viewer processes share "
    "this machine's cores, so absolute figures are pessimistic and noisy. What extrapolates "
    "to one node per machine is the per-viewer cost on an edge (cpu_ms_per_s_per_viewer on "
    "nodes b and c): an edge pulls the broadcast once from the origin and fans it out, so "
    "viewers per edge machine ~ available cores * 1000 / that figure. The origin (node a) "
    "pays its viewers plus one relay pipe per edge (like one extra viewer each) and the "
    "broadcast encoder (children_cpu_cores), whatever the number of viewers on the edges. "
    "cpu_cores_above_no_viewers is measured against a window with the broadcast on air and "
    "no viewer anywhere, so on an edge it includes pulling the relay from the origin (paid "
    "once per edge, spread over its viewers); relays opened in one step may stay up in the "
    "next (see gauges). --quick overrides --joins/--messages/--viewers/--window. "
    "Redis commands per join/message subtract heartbeats: the idle command rate measured "
    "right after each phase, over as long as the phase took but at least 5 s (phases are "
    "short), times the phase's duration."
)


async def run(args: argparse.Namespace, report: dict[str, Any]) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="parta-cluster-"))
    try:
        async with services.fresh_postgres(POSTGRES, "parta_bench") as database_url:
            with services.redis_server(workdir) as redis_url:
                await run_nodes(args, report, workdir, redis_url, database_url)
    except services.ServiceMissing as exc:
        report["error"] = str(exc)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


async def run_nodes(
    args: argparse.Namespace,
    report: dict[str, Any],
    workdir: Path,
    redis_url: str,
    database_url: str,
) -> None:
    servers: dict[str, Server] = {}
    for name in NODES:
        servers[name] = services.cluster_node(
            workdir / "shared", workdir / f"{name}.log", name, redis_url, database_url
        )
    http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60))
    redis = RedisCounter(redis_url)
    try:
        await asyncio.gather(*(s.start(http, timeout=90) for s in servers.values()))
        logger.info("nodes up: %s", {n: s.base_url for n, s in servers.items()})
        urls = {n: s.base_url for n, s in servers.items()}
        await asyncio.sleep(1)
        report["joins"] = await phase_joins(http, urls, redis, args.joins)
        report["chat"] = await phase_chat(http, urls, redis, args.messages)
        report["broadcast"] = await phase_broadcast(
            http, servers, args.viewers, args.window, [1, 2, 3]
        )
    except Exception as exc:
        logger.exception("the run failed")
        report["error"] = f"{type(exc).__name__}: {exc}"
        report["node_log_tails"] = {n: s.log_tail(15) for n, s in servers.items()}
    finally:
        await redis.close()
        codes = await asyncio.gather(*(s.stop() for s in servers.values()), return_exceptions=True)
        report["node_exit_codes"] = {n: str(c) for n, c in zip(servers, codes, strict=True)}
        await http.close()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a very short run")
    parser.add_argument("--joins", type=int, default=50, help="joins per mode (direct, redirect)")
    parser.add_argument("--messages", type=int, default=200, help="chat messages")
    parser.add_argument("--viewers", type=int, default=60, help="WHEP viewers per step")
    parser.add_argument("--window", type=float, default=15.0, help="CPU window per step, s")
    parser.add_argument("--out", type=Path, help="also write the JSON here")
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    if args.quick:
        args.joins, args.messages, args.viewers, args.window = 10, 30, 6, 4.0
    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(name)s %(message)s"
    )
    for name in ("aioice", "aiortc", "alembic"):
        logging.getLogger(name).setLevel(logging.WARNING)
    report: dict[str, Any] = {
        "benchmark": "cluster",
        "parameters": {
            "nodes": len(NODES),
            "quick": args.quick,
            "joins_per_mode": args.joins,
            "messages": args.messages,
            "broadcast_viewers": args.viewers,
            "broadcast_window_s": args.window,
            "broadcast_nodes_steps": [1, 2, 3],
            "argv": sys.argv[1:] if argv is None else argv,
        },
        "machine": procstat.machine_info(),
        "cpu_count": os.cpu_count(),
        "notes": NOTES,
    }
    started = time.monotonic()
    try:
        asyncio.run(run(args, report))
    except Exception as exc:
        report["error"] = f"{type(exc).__name__}: {exc}"
    report["duration_s"] = round(time.monotonic() - started, 1)
    code = 1 if "error" in report else 0
    text = json.dumps(report, indent=2)
    print(text)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")
    sys.exit(code)


if __name__ == "__main__":
    main()
