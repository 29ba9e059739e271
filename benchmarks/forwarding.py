"""Measure parta's RTP forwarding: server CPU per forwarded packet, latency and loss.

    python -m benchmarks.forwarding                 # N = 1, 10, 50, 100 subscribers
    python -m benchmarks.forwarding --quick         # N = 1, 10, short windows
    python -m benchmarks.forwarding --saturate      # then raise the publisher's rate
                                                    # until the server fills one core

What runs, all on 127.0.0.1 with real ICE, DTLS and SRTP:

- `parta serve` in its own process (the process measured);
- one publisher in this process, joined by WHIP, sending pre-built VP8-shaped RTP at
  ~1.5 Mbit/s and 30 fps (frames of <=1,100-byte packets, a keyframe every 2 s and on
  PLI) and Opus-shaped RTP at 50 packets/s;
- N WHEP viewers spread over subscriber worker processes (`benchmarks.subscriber`),
  which decrypt SRTP but never decode.

For each N, after warm-up, steady-state windows are measured (--repeat, the median
one is reported): the server's CPU time from /proc/<pid>/stat (utime+stime) and its
forwarded-packet counter from /metrics at both ends of the window; every packet
carries its send time (CLOCK_MONOTONIC, shared by all processes) and a counter, so
subscribers compute publisher->subscriber latency and loss. Latency is taken at the
subscriber's socket (the kernel's receive timestamp: what the server adds) and, as
`latency_app_ms`, when the subscriber process handled the packet. Then the publisher
pauses for an idle window, which separates the cost of keeping connections up from
the cost per packet.

The machine may be shared: before each window the benchmark waits (bounded) until
other processes use less than --quiet-threshold cores, repeats a window that turned
out noisy, and reports the other load it saw. All child processes are stopped at
the end, on error and on SIGINT/SIGTERM (SIGTERM, then SIGKILL), and die with this
process if it is killed. Only JSON goes to stdout; progress goes to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import logging
import os
import signal
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from benchmarks import profiling, stats
from benchmarks.media import MediaProfile
from benchmarks.publisher import Publisher
from harness import procstat
from harness.server import REPO, Server, child_env

logger = logging.getLogger("benchmarks.forwarding")

CALL = "bench-forwarding"
DEFAULT_NS = (1, 10, 50, 100)
TARGET_US_PER_PACKET = 15.0
TARGET_P99_MS = 5.0


DEFINITIONS = {
    "us_per_forwarded_packet": "server CPU (utime+stime, /proc/<pid>/stat) in the window "
    "divided by the growth of parta_rtp_packets_out_total in the window",
    "us_per_forwarded_packet_schedstat": "the same from /proc/<pid>/task/*/schedstat (ns)",
    "us_per_forwarded_packet_pooled": "all windows of this N together",
    "us_per_forwarded_packet_above_idle": "server CPU minus its CPU with the publisher "
    "paused (connections kept up), per forwarded packet",
    "pps_per_core_estimate": "1e6 / us_per_forwarded_packet",
    "latency_ms": "publisher send (monotonic clock, stamped in the payload) to the kernel's "
    "receive timestamp on the subscriber's socket; percentiles over every packet of every "
    "subscriber, exact to 0.01 ms",
    "latency_app_ms": "publisher send to the moment the subscriber process handled the packet "
    "(adds the client processes' own queueing)",
    "loss_percent": "per subscriber, 1 - distinct packets received / packets the publisher sent "
    "in the window (by per-stream counters); mean and worst over subscribers",
    "other_processes_cores": "machine busy time (/proc/stat, without softirq) minus the CPU of "
    "the server, the subscriber processes and this process",
    "marginal_us_per_packet": "slope of server CPU against forwarded packets/s between two N",
}


# -- the server process ------------------------------------------------------------------








def forwarded_counter(metrics: dict[str, float]) -> float:
    """`parta_rtp_packets_out` as prometheus_client exposes it (with or without _total)."""
    for name in ("parta_rtp_packets_out_total", "parta_rtp_packets_out"):
        if name in metrics:
            return metrics[name]
    raise RuntimeError("the server's /metrics has no parta_rtp_packets_out counter")


def _metric(metrics: dict[str, float], name: str) -> float:
    return metrics.get(f"{name}_total", metrics.get(name, 0.0))


# -- subscriber worker processes -----------------------------------------------------------


class SubscriberProcess:
    """One `benchmarks.subscriber` process, driven by JSON lines over its stdin/stdout."""

    def __init__(self, index: int) -> None:
        self.index = index
        self.process: asyncio.subprocess.Process | None = None
        self.viewers = 0
        self._next_id = 0

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    async def start(self) -> None:
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "benchmarks.subscriber",
            cwd=REPO,
            env=child_env(),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=None,  # its log lines join ours on stderr
            limit=1 << 26,
            preexec_fn=procstat.die_with_parent,
        )

    async def request(self, message: dict[str, Any], timeout: float = 120.0) -> dict[str, Any]:
        process = self.process
        assert process is not None and process.stdin is not None and process.stdout is not None
        self._next_id += 1
        message = {**message, "id": self._next_id}
        process.stdin.write((json.dumps(message) + "\n").encode())
        await process.stdin.drain()
        while True:
            line = await asyncio.wait_for(process.stdout.readline(), timeout)
            if not line:
                raise RuntimeError(f"subscriber process {self.index} exited")
            reply: dict[str, Any] = json.loads(line)
            if reply.get("id") == self._next_id:
                if not reply.get("ok", False) and message["cmd"] != "add":
                    raise RuntimeError(f"subscriber process {self.index}: {reply.get('error')}")
                return reply

    async def stop(self) -> None:
        process = self.process
        if process is None or process.returncode is not None:
            return
        with contextlib.suppress(Exception):
            await self.request({"cmd": "stop"}, timeout=20)
        with contextlib.suppress(Exception):
            assert process.stdin is not None
            process.stdin.close()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(process.wait(), 5)
        await procstat.terminate(process)




# -- measurement -----------------------------------------------------------------------


@dataclass
class Snapshot:
    at_ns: int
    server_cpu: float
    server_user: float
    server_system: float
    server_run_ns: int
    metrics: dict[str, float]
    clients_cpu: dict[str, float]
    system: procstat.SystemCpu


class Bench:
    def __init__(self, args: argparse.Namespace, workdir: Path) -> None:
        self.args = args
        self.profile = MediaProfile(
            video_bitrate=int(args.video_bitrate),
            fps=args.fps,
            keyframe_interval=args.keyframe_interval,
        )
        self.server = Server(workdir / "data", workdir / "server.log")
        self.http: aiohttp.ClientSession | None = None
        self.publisher: Publisher | None = None
        self.workers: list[SubscriberProcess] = []
        self.srtp_profiles: set[str] = set()
        self.connect_ms: list[float] = []
        self.started = time.monotonic()
        self.windows = 0

    def progress(self, message: str, *args: object) -> None:
        logger.info("[%6.1fs] " + message, time.monotonic() - self.started, *args)

    @property
    def viewers(self) -> int:
        return sum(w.viewers for w in self.workers)

    async def setup(self) -> None:
        self.http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60))
        self.progress("starting the server: parta serve on port %d", self.server.port)
        await self.server.start(self.http)
        self.progress("server pid %d ready", self.server.pid)
        self.publisher = Publisher(
            self.server.base_url, CALL, self.profile, pacing=self.args.pacing
        )
        await self.publisher.connect(self.http)
        self.publisher.start()
        if self.publisher.transport.srtp_profile:
            self.srtp_profiles.add(f"publisher: {self.publisher.transport.srtp_profile}")
        for index in range(max(1, self.args.client_procs)):
            worker = SubscriberProcess(index)
            await worker.start()
            self.workers.append(worker)

    async def close(self) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for worker in self.workers:
            with contextlib.suppress(Exception):
                await worker.stop()
        if self.publisher is not None:
            with contextlib.suppress(Exception):
                await self.publisher.close(self.http)
        result["server_exit_code"] = await self.server.stop()
        if self.http is not None:
            await self.http.close()
        return result

    def failed(self, report: dict[str, Any], exc: BaseException) -> None:
        """What went wrong, and what the server said last."""
        report["error"] = f"{type(exc).__name__}: {exc}"
        report["server_log_tail"] = self.server.log_tail()

    async def finish(self, report: dict[str, Any], connect_key: str) -> None:
        """The run's counters into the report, then everything stopped."""
        if self.publisher is not None:
            report["publisher"] = self.publisher.counters()
        report["srtp_profiles"] = sorted(self.srtp_profiles)
        if self.connect_ms:
            ordered = sorted(self.connect_ms)
            report[connect_key] = {"p50": ordered[len(ordered) // 2], "max": ordered[-1]}
        with contextlib.suppress(Exception):
            report.update(await asyncio.shield(self.close()))

    add_timeout = 180.0  # seconds for a worker to connect its share of viewers
    viewer_kind = "WHEP viewers"

    def add_request(self, count: int) -> dict[str, Any]:
        """What a subscriber worker is asked, to connect `count` more viewers."""
        return {
            "cmd": "add",
            "count": count,
            "base_url": self.server.base_url,
            "call": CALL,
            "srtp": self.args.srtp,
        }

    async def set_viewers(self, n: int) -> None:
        """Bring the number of connected viewers up to n, spread over the workers."""
        total = sum(w.viewers for w in self.workers)
        if n < total:
            raise RuntimeError("N must not decrease between steps")
        adds: dict[int, int] = {}
        for i in range(total, n):
            index = i % len(self.workers)
            adds[index] = adds.get(index, 0) + 1
        if not adds:
            return
        self.progress("connecting %d more %s (total %d)", n - total, self.viewer_kind, n)
        started = time.monotonic()

        async def add(worker: SubscriberProcess, count: int) -> dict[str, Any]:
            return await worker.request(self.add_request(count), timeout=self.add_timeout)

        replies = await asyncio.gather(*(add(self.workers[i], c) for i, c in adds.items()))
        for (index, _), reply in zip(adds.items(), replies, strict=True):
            self.workers[index].viewers = int(reply["viewers"])
            self.connect_ms += [float(x) for x in reply.get("connect_ms", [])]
            self.srtp_profiles.update(f"subscribers: {p}" for p in reply.get("srtp_profiles", []))
            if reply.get("errors"):
                self.progress("viewer errors: %s", reply["errors"])
        connected = sum(w.viewers for w in self.workers)
        self.progress("%d viewers connected in %.1fs", connected, time.monotonic() - started)
        if connected < n:
            raise RuntimeError(f"only {connected} of {n} viewers connected")

    async def wait_receiving(self, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            assert self.publisher is not None
            self.publisher.check()
            replies = await asyncio.gather(*(w.request({"cmd": "status"}) for w in self.workers))
            viewers = sum(int(r["viewers"]) for r in replies)
            receiving = sum(int(r["receiving_video"]) for r in replies)
            if receiving >= viewers:
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"only {receiving} of {viewers} viewers receive video")
            await asyncio.sleep(0.2)

    def _clients(self) -> dict[str, float]:
        out = {"publisher_and_driver": procstat.process_cpu_seconds(os.getpid())}
        for worker in self.workers:
            out[f"subscribers_{worker.index}"] = procstat.process_cpu_seconds(worker.pid)
        return out

    async def snapshot(self) -> Snapshot:
        assert self.http is not None
        pid = self.server.pid
        at = time.monotonic_ns()
        cpu = procstat.process_cpu_seconds(pid)
        user, system = procstat.process_cpu_split(pid)
        run_ns = procstat.process_run_ns(pid)
        clients = self._clients()
        system_cpu = procstat.SystemCpu.read()
        metrics = await self.server.metrics(self.http)
        return Snapshot(at, cpu, user, system, run_ns, metrics, clients, system_cpu)

    async def measure(self, duration: float, *, exact: bool) -> dict[str, Any]:
        """One steady-state window: server CPU and counters, subscriber latency and loss."""
        publisher = self.publisher
        assert publisher is not None
        publisher.check()
        await asyncio.gather(*(w.request({"cmd": "start"}) for w in self.workers))
        before = await self.snapshot()
        profile_path: Path | None = None
        sampler: asyncio.Task[int | None] | None = None
        if self.args.py_spy is not None:
            profile_path = (self.args.py_spy / f"server-window{self.windows + 1:02d}"
                            f"-n{self.viewers}.txt").resolve()  # fmt: skip
            sampler = asyncio.create_task(
                profiling.record(self.server.pid, duration, profile_path, native=self.args.native)
            )
        await asyncio.sleep(duration)
        after = await self.snapshot()
        await asyncio.gather(*(w.request({"cmd": "mark_end"}) for w in self.workers))
        if sampler is not None:
            with contextlib.suppress(Exception):
                await sampler
        await asyncio.sleep(self.args.grace)
        t0, t1 = before.at_ns, after.at_ns
        expected = publisher.sent_between(t0, t1)
        dump = self.args.dump_dir
        self.windows += 1

        def report_request(worker: SubscriberProcess) -> dict[str, Any]:
            message: dict[str, Any] = {"cmd": "report", "t0": t0, "t1": t1, "expected": expected}
            if dump is not None:
                name = f"window{self.windows:02d}-n{self.viewers}-worker{worker.index}.npz"
                message["dump"] = str((dump / name).resolve())
            return message

        replies = await asyncio.gather(
            *(w.request(report_request(w)) for w in self.workers if w.viewers)
        )
        publisher.check()
        result = self._result(before, after, expected, replies, exact=exact)
        if profile_path is not None and profile_path.exists():
            result["server_profile"] = {
                "file": str(profile_path),
                **profiling.summarise(profile_path),
            }
        return result

    async def measure_idle(self, duration: float) -> dict[str, float]:
        """Server CPU with every connection up but the publisher paused."""
        publisher = self.publisher
        assert publisher is not None
        publisher.rate = 0.0
        try:
            await asyncio.sleep(0.5)
            before = await self.snapshot()
            await asyncio.sleep(duration)
            after = await self.snapshot()
        finally:
            publisher.rate = 1.0
        window = (after.at_ns - before.at_ns) / 1e9
        return {
            "window_s": round(window, 3),
            "cpu_utilisation": round((after.server_cpu - before.server_cpu) / window, 4),
            "cpu_utilisation_schedstat": round(
                (after.server_run_ns - before.server_run_ns) / 1e9 / window, 4
            ),
        }

    def _result(
        self,
        before: Snapshot,
        after: Snapshot,
        expected: dict[str, int],
        replies: Sequence[dict[str, Any]],
        *,
        exact: bool,
    ) -> dict[str, Any]:
        window = (after.at_ns - before.at_ns) / 1e9
        cpu = after.server_cpu - before.server_cpu
        run_s = (after.server_run_ns - before.server_run_ns) / 1e9
        out_packets = forwarded_counter(after.metrics) - forwarded_counter(before.metrics)

        def delta(name: str) -> float:
            return _metric(after.metrics, name) - _metric(before.metrics, name)

        prefix = 'parta_packets_dropped_total{reason="'
        dropped = {
            name[len(prefix) : -2]: value - before.metrics.get(name, 0.0)
            for name, value in after.metrics.items()
            if name.startswith(prefix) and value - before.metrics.get(name, 0.0)
        }
        us_per_packet = cpu * 1e6 / out_packets if out_packets else None
        viewers = [v for r in replies for v in r["viewers"]]
        latency = _latency(replies, viewers, "socket")
        latency_app = _latency(replies, viewers, "app")
        expected_per_viewer = sum(expected.values())
        loss: dict[str, Any]
        losses: list[float]
        if exact:
            losses = [
                float(v["loss_percent"]) for v in viewers if v.get("loss_percent") is not None
            ]
            loss = {
                "mean": round(sum(losses) / len(losses), 4) if losses else None,
                "worst": round(max(losses), 4) if losses else None,
                "subscribers_with_loss": sum(1 for x in losses if x > 0),
                "expected_packets_per_subscriber": expected_per_viewer,
                "duplicates": sum(int(v["duplicates"]) for v in viewers),
                "method": "per-packet counters, packets sent inside the window",
            }
        else:
            losses = [
                100.0 * max(0.0, 1 - int(v["datagrams_in_window"]) / expected_per_viewer)
                for v in viewers
                if expected_per_viewer
            ]
            loss = {
                "mean": round(sum(losses) / len(losses), 3) if losses else None,
                "worst": round(max(losses), 3) if losses else None,
                "method": "approximate: datagrams that arrived during the window vs packets "
                "sent in it (subscribers decrypt only a sample)",
            }
        clients = {
            name: round((after.clients_cpu[name] - before.clients_cpu[name]) / window, 4)
            for name in after.clients_cpu
        }
        busy = (after.system.busy - before.system.busy) / window
        softirq = (after.system.softirq - before.system.softirq) / window
        ours = cpu / window + sum(clients.values())
        input_packets = delta("parta_rtp_packets_in")
        sent = sum(expected.values())
        result = {
            "subscribers": len(viewers),
            "window_s": round(window, 3),
            "publisher_pps": round(sent / window, 1),
            "server": {
                "cpu_s": round(cpu, 3),
                "cpu_utilisation": round(cpu / window, 4),
                "user_s": round(after.server_user - before.server_user, 3),
                "system_s": round(after.server_system - before.server_system, 3),
                "cpu_s_schedstat": round(run_s, 4),
                "us_per_forwarded_packet": round(us_per_packet, 2) if us_per_packet else None,
                "us_per_forwarded_packet_schedstat": (
                    round(run_s * 1e6 / out_packets, 2) if out_packets else None
                ),
                "forwarded_pps": round(out_packets / window, 1),
                "received_pps": round(input_packets / window, 1),
                "expected_forwarded_pps": round(sent * len(viewers) / window, 1),
                "pps_per_core_estimate": round(1e6 / us_per_packet) if us_per_packet else None,
                "dropped_by_reason": dropped,
                "rtcp_in": delta("parta_rtcp_packets_in"),
                "rtcp_out": delta("parta_rtcp_packets_out"),
                "keyframe_requests_sent": delta("parta_keyframe_requests_sent"),
                "srtp_errors": delta("parta_srtp_errors"),
            },
            "latency_ms": latency,
            "latency_app_ms": {
                k: latency_app[k] for k in ("p50", "p90", "p99", "max", "per_subscriber_p50")
            },
            "loss_percent": loss,
            # what each subscriber got of what the publisher sent in the window
            "delivery_ratio": {
                "mean": round(1 - sum(losses) / len(losses) / 100, 5) if losses else None,
                "min": round(1 - max(losses) / 100, 5) if losses else None,
            },
            "clients_cpu_utilisation": clients,
            "system": {
                "busy_cores": round(busy, 3),
                "softirq_cores": round(softirq, 3),
                "steal_cores": round((after.system.steal - before.system.steal) / window, 3),
                "other_processes_cores": round(max(0.0, busy - softirq - ours), 3),
            },
        }
        return result

    # -- other load on the machine ----------------------------------------------------------

    def _our_cpu(self) -> float:
        total = procstat.process_cpu_seconds(self.server.pid)
        return total + sum(self._clients().values())

    async def foreign_load(self, seconds: float = 1.0) -> float:
        """Cores used by processes other than ours (and softirq) over `seconds`."""
        system0, ours0 = procstat.SystemCpu.read(), self._our_cpu()
        await asyncio.sleep(seconds)
        system1, ours1 = procstat.SystemCpu.read(), self._our_cpu()
        busy = (system1.busy - system0.busy) - (system1.softirq - system0.softirq)
        return max(0.0, (busy - (ours1 - ours0)) / seconds)

    async def wait_quiet(self) -> tuple[float, float]:
        """Wait (up to --quiet-wait s) until other processes use < --quiet-threshold cores."""
        started = time.monotonic()
        load = await self.foreign_load()
        while load > self.args.quiet_threshold:
            waited = time.monotonic() - started
            if waited >= self.args.quiet_wait:
                self.progress(
                    "machine still busy (%.2f cores used by others): measuring anyway", load
                )
                break
            if waited < 1.5:
                self.progress("waiting for other processes to settle (%.2f cores busy)", load)
            load = await self.foreign_load()
        return time.monotonic() - started, load

    async def measure_quietly(self, duration: float, *, exact: bool) -> dict[str, Any]:
        """`measure`, repeated (up to --retries times) when other load spoiled the window."""
        best: dict[str, Any] | None = None
        for attempt in range(1 + max(0, self.args.retries)):
            waited, load = await self.wait_quiet()
            result = await self.measure(duration, exact=exact)
            result["other_processes_cores_before"] = round(load, 3)
            other = result["system"]["other_processes_cores"]
            result["quiet_wait_s"] = round(waited, 1)
            result["attempt"] = attempt + 1
            result["noisy"] = other > self.args.quiet_threshold
            if best is None or other < best["system"]["other_processes_cores"]:
                best = result
            if not result["noisy"]:
                break
            self.progress("other processes used %.2f cores during the window", other)
        assert best is not None
        return best

    # -- the steps -----------------------------------------------------------------------

    async def run_step(self, n: int) -> dict[str, Any]:
        await self.set_viewers(n)
        await self.wait_receiving()
        await asyncio.gather(*(w.request({"cmd": "mode", "sample_every": 1}) for w in self.workers))
        self.progress("N=%d: warm-up %.1fs", n, self.args.warmup)
        await asyncio.sleep(self.args.warmup)
        attempts = []
        for repeat in range(max(1, self.args.repeat)):
            self.progress("N=%d: measuring %.1fs (%d/%d)", n, self.args.duration, repeat + 1,
                          max(1, self.args.repeat))  # fmt: skip
            result = await self.measure_quietly(self.args.duration, exact=True)
            attempts.append(result)
            server = result["server"]
            lat = result["latency_ms"]
            self.progress(
                "N=%d: %s us/pkt, %.0f pps out, server CPU %.0f%%, p50/p99 %s/%s ms (app %s/%s), "
                "loss %s%%",
                n,
                server["us_per_forwarded_packet"],
                server["forwarded_pps"],
                100 * server["cpu_utilisation"],
                lat["p50"],
                lat["p99"],
                result["latency_app_ms"]["p50"],
                result["latency_app_ms"]["p99"],
                result["loss_percent"]["mean"],
            )
        # the window with the median cost (the upper one of two) stands for this N
        ordered = sorted(attempts, key=lambda r: r["server"]["us_per_forwarded_packet"] or 0.0)
        result = ordered[len(ordered) // 2]
        cpu = sum(r["server"]["cpu_s"] for r in attempts)
        packets = sum(r["server"]["forwarded_pps"] * r["window_s"] for r in attempts)
        result["server"]["us_per_forwarded_packet_pooled"] = (
            round(cpu * 1e6 / packets, 2) if packets else None
        )
        result["repeats"] = [
            {
                "us_per_forwarded_packet": r["server"]["us_per_forwarded_packet"],
                "us_per_forwarded_packet_schedstat": r["server"][
                    "us_per_forwarded_packet_schedstat"
                ],
                "cpu_utilisation": r["server"]["cpu_utilisation"],
                "p50_ms": r["latency_ms"]["p50"],
                "p99_ms": r["latency_ms"]["p99"],
                "max_ms": r["latency_ms"]["max"],
                "loss_mean_percent": r["loss_percent"]["mean"],
                "delivery_ratio_min": r["delivery_ratio"]["min"],
                "other_processes_cores": r["system"]["other_processes_cores"],
            }
            for r in attempts
        ]
        if self.args.idle_window > 0:
            self.progress("N=%d: publisher paused, measuring idle %.1fs", n, self.args.idle_window)
            idle = await self.measure_idle(self.args.idle_window)
            server = result["server"]
            server["idle"] = idle
            window = result["window_s"]
            busy = server["cpu_s_schedstat"] - idle["cpu_utilisation_schedstat"] * window
            packets = server["forwarded_pps"] * window
            server["us_per_forwarded_packet_above_idle"] = (
                round(busy * 1e6 / packets, 2) if packets else None
            )
            self.progress(
                "N=%d: idle server CPU %.1f%%; %s us/pkt above idle",
                n,
                100 * idle["cpu_utilisation_schedstat"],
                server["us_per_forwarded_packet_above_idle"],
            )
            await asyncio.sleep(1.0)  # back to steady state before the next step
        return result

    async def saturate(self) -> dict[str, Any]:
        """Raise the publisher's rate (at the largest N) until the server fills a core."""
        publisher = self.publisher
        assert publisher is not None
        n = sum(w.viewers for w in self.workers)
        if n == 0:
            await self.set_viewers(max(self.args.n))
            await self.wait_receiving()
            n = sum(w.viewers for w in self.workers)
        await asyncio.gather(
            *(
                w.request({"cmd": "mode", "sample_every": self.args.sample_every})
                for w in self.workers
            )
        )
        steps: list[dict[str, Any]] = []
        rate = 1.0
        stop_reason = "rate limit of the ramp reached"
        while rate <= self.args.max_rate:
            publisher.rate = rate
            await asyncio.sleep(self.args.settle)
            self.progress(
                "saturate: N=%d, publisher rate x%.1f: measuring %.1fs",
                n,
                rate,
                self.args.step_duration,
            )
            result = await self.measure_quietly(self.args.step_duration, exact=False)
            result["rate_multiplier"] = rate
            steps.append(result)
            server = result["server"]
            delivered = (
                server["forwarded_pps"] / server["expected_forwarded_pps"]
                if server["expected_forwarded_pps"]
                else 0.0
            )
            result["delivered_ratio"] = round(delivered, 4)
            self.progress(
                "saturate: x%.1f: %.0f pps out (%.1f%% of offered), server CPU %.0f%%, p99 %s ms",
                rate,
                server["forwarded_pps"],
                100 * delivered,
                100 * server["cpu_utilisation"],
                result["latency_ms"]["p99"],
            )
            if server["cpu_utilisation"] >= self.args.cpu_limit:
                stop_reason = f"server CPU reached {server['cpu_utilisation']:.0%} of one core"
                break
            if delivered < 0.95:
                stop_reason = f"the server forwarded only {delivered:.0%} of what was offered"
                break
            p99 = result["latency_ms"]["p99"]
            if p99 is not None and p99 > self.args.latency_limit_ms:
                stop_reason = f"p99 latency {p99} ms exceeded {self.args.latency_limit_ms} ms"
                break
            # next rate: aim at the CPU limit, at most doubling
            util = max(server["cpu_utilisation"], 0.01)
            rate = round(min(rate * 2, max(rate + 0.5, rate * self.args.cpu_limit / util * 0.9)), 1)
        publisher.rate = 1.0
        summary: dict[str, Any] = {
            "subscribers": n,
            "ramp": "publisher packet rate x multiplier, same packet sizes",
            "stop_reason": stop_reason,
        }
        if steps:
            # peak: the most the server forwarded; sustained: the most it forwarded while
            # keeping up (>= 99% of what was offered, and no queue building: median
            # latency under --sustain-p50-ms)
            peak = max(steps, key=lambda s: s["server"]["forwarded_pps"])
            summary["peak"] = self._saturation_point(peak)
            kept_up = [
                s
                for s in steps
                if s["delivered_ratio"] >= 0.99
                and (s["latency_ms"]["p50"] or 0.0) <= self.args.sustain_p50_ms
            ]
            if kept_up:
                best = max(kept_up, key=lambda s: s["server"]["forwarded_pps"])
                summary["sustained"] = self._saturation_point(best)
        summary["steps"] = steps
        return summary

    def _saturation_point(self, step: dict[str, Any]) -> dict[str, Any]:
        server = step["server"]
        util = server["cpu_utilisation"]
        return {
            "rate_multiplier": step["rate_multiplier"],
            "forwarded_pps": server["forwarded_pps"],
            "delivered_ratio": step["delivered_ratio"],
            "server_cpu_utilisation": util,
            "us_per_forwarded_packet": server["us_per_forwarded_packet"],
            "forwarded_pps_per_core": round(server["forwarded_pps"] / util) if util else None,
            "reached_one_core": util >= self.args.cpu_limit,
            "latency_ms": {k: step["latency_ms"][k] for k in ("p50", "p99", "max")},
            "loss_percent_approx": step["loss_percent"]["mean"],
            "clients_cpu_utilisation": step["clients_cpu_utilisation"],
            "machine_busy_cores": step["system"]["busy_cores"],
        }


def _latency(
    replies: Sequence[dict[str, Any]], viewers: Sequence[dict[str, Any]], clock: str
) -> dict[str, Any]:
    """Merged latency percentiles for one arrival clock ("socket" or "app")."""
    histograms = {
        kind: stats.merge(r["histograms"][clock].get(kind, {}) for r in replies)
        for kind in ("audio", "video")
    }
    merged = stats.merge(histograms.values())
    max_ns = max((int(r["max_ns"][clock]) for r in replies), default=0)
    latency: dict[str, Any] = dict(stats.percentiles_ms(merged, (0.5, 0.9, 0.99, 0.999)))
    latency["max"] = round(max_ns / 1e6, 3) if merged else None
    latency["samples"] = sum(merged.values())
    latency["by_kind"] = {
        kind: stats.percentiles_ms(h, (0.5, 0.99)) for kind, h in histograms.items()
    }
    per_viewer = [v["latency_ms"][clock] for v in viewers if clock in v.get("latency_ms", {})]
    latency["per_subscriber_p50"] = stats.summary(v["p50"] for v in per_viewer)
    latency["per_subscriber_p99"] = stats.summary(v["p99"] for v in per_viewer)
    return latency


# -- the program -----------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.forwarding",
        description=__doc__.split("\n\n", 1)[0] if __doc__ else None,
        epilog="Writes JSON to stdout (and to --output); progress to stderr.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "--n",
        type=_int_list,
        default=list(DEFAULT_NS),
        metavar="N[,N...]",
        help="subscriber counts, measured in increasing order on one server",
    )
    parser.add_argument(
        "--duration", type=float, default=10.0, help="steady-state window per N, seconds"
    )
    parser.add_argument(
        "--warmup",
        type=float,
        default=2.0,
        help="seconds after every subscriber receives, before measuring",
    )
    parser.add_argument(
        "--grace", type=float, default=0.5, help="seconds to wait for late packets after a window"
    )
    parser.add_argument("--quick", action="store_true", help="smoke test: N=1,10 with 3 s windows")
    parser.add_argument("--output", "-o", type=Path, help="also write the JSON to this file")
    parser.add_argument(
        "--quiet-threshold",
        type=float,
        default=0.25,
        help="cores other processes may use during a window before it counts as noisy",
    )
    parser.add_argument(
        "--quiet-wait",
        type=float,
        default=20.0,
        help="seconds to wait, before each window, for other processes to go below the threshold",
    )
    parser.add_argument(
        "--retries", type=int, default=1, help="extra attempts at a window that turned out noisy"
    )
    parser.add_argument(
        "--repeat", type=int, default=2, help="windows per N; the median one is reported"
    )
    parser.add_argument(
        "--idle-window",
        type=float,
        default=3.0,
        help="per N, seconds of server CPU measured with the publisher paused (0: skip)",
    )
    parser.add_argument(
        "--pacing",
        type=float,
        default=0.0,
        help="spread each video frame's packets at this multiple of the video bitrate, as "
        "libwebrtc's pacer does (2.5); 0 sends a frame's packets back to back",
    )
    parser.add_argument(
        "--py-spy",
        type=Path,
        metavar="DIR",
        help="sample the server with py-spy (if installed) during every window; stacks go to "
        "DIR, a summary into the JSON (perturbs the measurement a little)",
    )
    parser.add_argument(
        "--native", action="store_true", help="with --py-spy: include C frames (pauses the server)"
    )
    parser.add_argument(
        "--dump-dir",
        type=Path,
        help="save every packet's send/arrival times per window here (.npz, for analysis)",
    )
    parser.add_argument("--client-procs", type=int, default=2, help="subscriber worker processes")
    parser.add_argument(
        "--srtp",
        default="parta",
        choices=["parta", "aes128gcm", "aes256gcm", "aes128cm"],
        help="SRTP profile the subscribers accept (parta: the SFU's own preference order)",
    )
    parser.add_argument(
        "--video-bitrate", type=float, default=1_500_000, help="publisher video bits/s"
    )
    parser.add_argument("--fps", type=float, default=30.0, help="publisher video frames/s")
    parser.add_argument(
        "--keyframe-interval", type=float, default=2.0, help="seconds between keyframes"
    )
    parser.add_argument(
        "--timeout", type=float, default=900.0, help="hard limit for the whole run, seconds"
    )
    sat = parser.add_argument_group("saturation (--saturate)")
    sat.add_argument(
        "--saturate",
        action="store_true",
        help="after the N steps, raise the publisher's packet rate at the largest N until the "
        "server uses ~100%% of one core; report the forwarded pps there",
    )
    sat.add_argument(
        "--step-duration", type=float, default=4.0, help="window per ramp step, seconds"
    )
    sat.add_argument(
        "--settle", type=float, default=1.5, help="seconds after a rate change before measuring"
    )
    sat.add_argument(
        "--max-rate", type=float, default=16.0, help="largest publisher rate multiplier"
    )
    sat.add_argument(
        "--cpu-limit",
        type=float,
        default=0.95,
        help="server CPU share of one core that counts as full",
    )
    sat.add_argument(
        "--latency-limit-ms", type=float, default=200.0, help="stop the ramp when p99 exceeds this"
    )
    sat.add_argument(
        "--sustain-p50-ms",
        type=float,
        default=20.0,
        help="a ramp step counts as sustained if the median latency stays under this",
    )
    sat.add_argument(
        "--sample-every",
        type=int,
        default=8,
        help="during the ramp, subscribers decrypt 1 datagram in this many (keeps client CPU low)",
    )
    return parser


def _int_list(text: str) -> list[int]:
    try:
        values = sorted({int(x) for x in text.split(",") if x.strip()})
    except ValueError:
        raise argparse.ArgumentTypeError("a comma-separated list of integers") from None
    if not values or values[0] < 1:
        raise argparse.ArgumentTypeError("subscriber counts must be >= 1")
    return values


def new_report(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "benchmark": "parta forwarding",
        "machine": procstat.machine_info(),
        "config": {
            "subscribers": args.n,
            "window_s": args.duration,
            "windows_per_n": args.repeat,
            "idle_window_s": args.idle_window,
            "pacing": args.pacing or "none: a frame's packets back to back",
            "warmup_s": args.warmup,
            "client_processes": args.client_procs,
            "srtp_request": args.srtp,
            "video": {
                "codec": "VP8 (synthetic)",
                "bitrate": args.video_bitrate,
                "fps": args.fps,
                "packets_per_frame": MediaProfile(
                    int(args.video_bitrate), args.fps
                ).packets_per_frame,
                "payload_bytes": MediaProfile(
                    int(args.video_bitrate), args.fps
                ).frame_payload_sizes(),
                "keyframe_interval_s": args.keyframe_interval,
            },
            "audio": {"codec": "Opus (synthetic)", "packets_per_second": 50, "payload_bytes": 160},
            "targets": {"us_per_packet_at_n50": TARGET_US_PER_PACKET, "p99_ms": TARGET_P99_MS},
        },
        "definitions": DEFINITIONS,
        "results": [],
    }


async def run(args: argparse.Namespace, report: dict[str, Any]) -> None:
    """Fill `report` as the steps complete (partial results survive an error)."""
    for directory in (args.dump_dir, args.py_spy):
        if directory is not None:
            directory.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="parta-bench-") as tmp:
        bench = Bench(args, Path(tmp))
        try:
            await bench.setup()
            report["server_command"] = bench.server.command
            for n in args.n:
                report["results"].append(await bench.run_step(n))
            if args.saturate:
                report["saturation"] = await bench.saturate()
        except BaseException as exc:
            bench.failed(report, exc)
            if not isinstance(exc, Exception):
                raise
        finally:
            await bench.finish(report, "subscriber_connect_ms")
            report["elapsed_s"] = round(time.monotonic() - bench.started, 1)


def _summary(report: dict[str, Any]) -> dict[str, Any]:
    rows = {}
    for result in report.get("results", []):
        server = result["server"]
        rows[str(result["subscribers"])] = {
            "us_per_packet": server["us_per_forwarded_packet"],
            "us_per_packet_pooled": server.get("us_per_forwarded_packet_pooled"),
            "us_per_packet_above_idle": server.get("us_per_forwarded_packet_above_idle"),
            "idle_server_cpu": server.get("idle", {}).get("cpu_utilisation_schedstat"),
            "forwarded_pps": server["forwarded_pps"],
            "server_cpu": server["cpu_utilisation"],
            "p50_ms": result["latency_ms"]["p50"],
            "p99_ms": result["latency_ms"]["p99"],
            "max_ms": result["latency_ms"]["max"],
            "app_p99_ms": result["latency_app_ms"]["p99"],
            "loss_mean_pct": result["loss_percent"]["mean"],
            "loss_worst_pct": result["loss_percent"]["worst"],
            "delivery_ratio_min": result["delivery_ratio"]["min"],
            "pps_per_core_estimate": server["pps_per_core_estimate"],
        }
    summary: dict[str, Any] = {"by_n": rows}
    # the cost of one more forwarded packet: slope of server CPU against forwarded pps
    results = report.get("results", [])
    marginal = {}
    for low, high in itertools.pairwise(results):
        d_pps = high["server"]["forwarded_pps"] - low["server"]["forwarded_pps"]
        d_cpu = high["server"]["cpu_s_schedstat"] / high["window_s"] - (
            low["server"]["cpu_s_schedstat"] / low["window_s"]
        )
        if d_pps > 0:
            marginal[f"{low['subscribers']}->{high['subscribers']}"] = round(d_cpu * 1e6 / d_pps, 2)
    if marginal:
        summary["marginal_us_per_packet"] = marginal
    at50 = rows.get("50")
    if at50 is not None:
        # all windows of N=50 pooled, when there were several
        us = at50["us_per_packet_pooled"] or at50["us_per_packet"]
        p99 = at50["p99_ms"]
        summary["target_at_n50"] = {
            "us_per_packet": us,
            "us_per_packet_ok": us is not None and us <= TARGET_US_PER_PACKET,
            "p99_ms": p99,
            "p99_ok": p99 is not None and p99 < TARGET_P99_MS,
        }
    saturation = report.get("saturation", {})
    for key in ("peak", "sustained"):
        point = saturation.get(key)
        if point:
            summary[f"saturation_{key}"] = {
                k: point[k]
                for k in (
                    "forwarded_pps",
                    "server_cpu_utilisation",
                    "forwarded_pps_per_core",
                    "us_per_forwarded_packet",
                    "delivered_ratio",
                )
            }
    return summary


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    if args.quick:
        if args.n == list(DEFAULT_NS):
            args.n = [1, 10]
        args.duration = min(args.duration, 3.0)
        args.repeat = 1
        args.idle_window = min(args.idle_window, 1.0)
        args.warmup = min(args.warmup, 1.0)
        args.step_duration = min(args.step_duration, 2.0)
    report = procstat.run_and_report(_main(args), args.output)
    if "error" in report:
        sys.exit(1)


async def _main(args: argparse.Namespace) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, task.cancel)
    report = new_report(args)
    try:
        await asyncio.wait_for(run(args, report), args.timeout)
    except (asyncio.CancelledError, TimeoutError) as exc:
        report["error"] = f"stopped: {type(exc).__name__} (timeout {args.timeout}s or a signal)"
    report["summary"] = _summary(report)
    return report


if __name__ == "__main__":
    main()
