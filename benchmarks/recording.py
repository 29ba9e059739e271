"""Measure the call recorder: its CPU per recorded second, and what a running recording
does to forwarding.

    python -m benchmarks.recording                  # N = 2, 4, 9 participants; 20 s each
    python -m benchmarks.recording --quick          # tiny: a smoke test

1. The recorder process (`python -m recorder.worker`, as recorder/session.py runs it) is
   fed the ipc records (recorder/ipc.py) of N synthetic participants: real VP8 (aiortc's
   encoder, a moving picture per participant) and real Opus (aiortc's encoder, a tone),
   encoded once and replayed with the arrival timestamps of a paced call, as fast as the
   recorder takes them. Its CPU (utime+stime from wait4's rusage) and wall time give CPU
   seconds per recorded second, and whether it keeps up with real time (wall time below
   the recorded time); the MP4's duration is checked with PyAV.
2. Forwarding with and without a recording: `parta serve`, one WHIP publisher and N WHEP
   viewers (benchmarks/forwarding.py's pieces); one window without recording, then one
   with the call recorded. The recording is started through public interfaces only: a
   user signs up, joins the call over the call protocol (the first participant of a call
   made by WHIP is its host), takes the host token from `joined` and leaves; then
   `POST /api/calls/{call}/recording` with that host token starts it and `DELETE` stops
   it. The publisher's VP8 is synthetic (not decodable), so the recorder there composes
   empty tiles: its CPU in part 2 is not that of part 1.

Only JSON goes to stdout; progress goes to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fractions
import io
import json
import logging
import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import av
import numpy as np
from aiortc import RTCRtpCodecParameters
from aiortc.codecs import get_encoder

from benchmarks import forwarding
from benchmarks.publisher import Publisher
from harness import procstat
from recorder import ipc
from recorder.depacketize import vp8_payload

logger = logging.getLogger("benchmarks.recording")

REPO = Path(__file__).resolve().parents[1]
VIDEO_CLOCK = 90000
SAMPLE_RATE = 48000
AUDIO_PTIME = 0.02


# -- part 1: the recorder process on its own ---------------------------------------------


@dataclass
class Encoded:
    """One participant's media, encoded once: per video frame its RTP payloads and RTP
    timestamp offset; per audio packet its payload."""

    video: list[tuple[int, list[bytes]]]
    audio: list[bytes]


def encode_participant(
    index: int, seconds: float, fps: float, size: tuple[int, int], bitrate: int
) -> Encoded:
    width, height = size
    video_encoder: Any = get_encoder(
        RTCRtpCodecParameters(mimeType="video/VP8", clockRate=VIDEO_CLOCK)
    )
    video_encoder.target_bitrate = bitrate
    rng = np.random.default_rng(index)
    colour = rng.integers(40, 220, size=3, dtype=np.uint8)
    base = np.zeros((height, width, 3), dtype=np.uint8)
    base[:, :] = colour
    noise = rng.integers(0, 40, size=(height, width, 3), dtype=np.uint8)
    frames = int(seconds * fps)
    video: list[tuple[int, list[bytes]]] = []
    for i in range(frames):
        image = base + noise
        x = int(i * width / max(1, frames)) % width  # a bar that moves across
        image[:, x : x + width // 10] = 255 - colour
        image[(i * 3) % height : (i * 3) % height + 8, :] = 0
        frame = av.VideoFrame.from_ndarray(image, format="rgb24")
        frame.pts = int(i * VIDEO_CLOCK / fps)
        frame.time_base = fractions.Fraction(1, VIDEO_CLOCK)
        payloads, _ = video_encoder.encode(frame, force_keyframe=(i == 0))
        video.append((int(i * VIDEO_CLOCK / fps), payloads))
    audio_encoder: Any = get_encoder(
        RTCRtpCodecParameters(mimeType="audio/opus", clockRate=SAMPLE_RATE, channels=2)
    )
    tone = 300.0 + 110.0 * index
    samples_per_packet = int(SAMPLE_RATE * AUDIO_PTIME)
    audio: list[bytes] = []
    for i in range(int(seconds / AUDIO_PTIME)):
        t = (np.arange(samples_per_packet) + i * samples_per_packet) / SAMPLE_RATE
        mono = (8000 * np.sin(2 * np.pi * tone * t)).astype(np.int16)
        stereo = np.repeat(mono, 2).reshape(1, -1)
        aframe = av.AudioFrame.from_ndarray(stereo, format="s16", layout="stereo")
        aframe.sample_rate = SAMPLE_RATE
        aframe.pts = i * samples_per_packet
        aframe.time_base = fractions.Fraction(1, SAMPLE_RATE)
        payloads, _ = audio_encoder.encode(aframe)
        audio.extend(payloads)
    return Encoded(video, audio)


def build_records(
    participants: list[Encoded], seconds: float, fps: float, clip_seconds: float
) -> tuple[bytes, int]:
    """The ipc records of a call of `seconds` with these participants, in arrival order;
    clips loop (a keyframe starts each loop). Returns (records, packets)."""
    events: list[tuple[int, bytes]] = []  # (arrival us, record)
    records = [
        ipc.json_record(
            b"A",
            {
                "number": 2 * i + kind + 1,
                "kind": ("video", "audio")[kind],
                "codec": ("VP8", "opus")[kind],
                "owner": f"p{i}",
                "name": f"participant {i}",
                "source": ("camera", "microphone")[kind],
            },
        )
        for i in range(len(participants))
        for kind in (0, 1)
    ]
    clip_ticks = int(clip_seconds * VIDEO_CLOCK)
    for i, media in enumerate(participants):
        offset_us = int(i * 7_000)  # participants not in lockstep
        seq = 1000 * i
        frames = int(seconds * fps)
        for f in range(frames):
            loop, k = divmod(f, len(media.video))
            ts_offset, payloads = media.video[k]
            ts = (loop * clip_ticks + ts_offset + 12345 * i) & 0xFFFFFFFF
            arrival = offset_us + int(f * 1_000_000 / fps)
            for p, payload in enumerate(payloads):
                _, start, keyframe = vp8_payload(payload)
                record = ipc.packet_record(
                    2 * i + 1,
                    seq & 0xFFFF,
                    ts,
                    p == len(payloads) - 1,
                    start and keyframe,
                    arrival + 50 * p,
                    payload,
                )
                events.append((arrival + 50 * p, record))
                seq += 1
        aseq = 2000 * i
        for a in range(int(seconds / AUDIO_PTIME)):
            payload = media.audio[a % len(media.audio)]
            arrival = offset_us + 3_000 + int(a * AUDIO_PTIME * 1_000_000)
            ts = (a * int(SAMPLE_RATE * AUDIO_PTIME) + 777 * i) & 0xFFFFFFFF
            record = ipc.packet_record(2 * i + 2, aseq & 0xFFFF, ts, True, False, arrival, payload)
            events.append((arrival, record))
            aseq += 1
    events.sort(key=lambda e: e[0])
    body = b"".join(records) + b"".join(r for _, r in events) + ipc.END
    return body, len(events)


def mp4_facts(path: Path) -> dict[str, Any]:
    facts: dict[str, Any] = {"bytes": path.stat().st_size if path.exists() else 0}
    try:
        with av.open(str(path)) as container:
            facts["duration_s"] = (
                round(container.duration / av.time_base, 3) if container.duration else None
            )
            video = container.streams.video[0]
            last = 0.0
            frames = 0
            for packet in container.demux(video):
                if packet.pts is not None and video.time_base is not None:
                    last = max(last, float(packet.pts * video.time_base))
                    frames += 1
            facts["video_last_pts_s"] = round(last, 3)
            facts["video_frames"] = frames
            facts["video_size"] = f"{video.codec_context.width}x{video.codec_context.height}"
            facts["streams"] = [s.type for s in container.streams]
    except (av.error.FFmpegError, IndexError) as exc:
        facts["error"] = f"{type(exc).__name__}: {exc}"
    return facts


def run_recorder(
    records: bytes, out: Path, fps: int, size: str, paced_seconds: float | None
) -> dict[str, Any]:
    """Feed the records to a recorder process; its CPU from wait4's rusage."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)
    started = time.monotonic()
    system0, ours0 = procstat.SystemCpu.read(), procstat.process_cpu_seconds(os.getpid())
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "recorder.worker",
            "--out",
            str(out),
            "--fps",
            str(fps),
            "--size",
            size,
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,  # its last word: a D record (frames it could not decode)
        stderr=subprocess.PIPE,
        cwd=REPO,
        env=env,
        preexec_fn=procstat.die_with_parent,
    )
    assert process.stdin is not None and process.stderr is not None
    stderr_chunks: list[bytes] = []
    stdout_chunks: list[bytes] = []
    reader = threading.Thread(target=lambda: stderr_chunks.append(process.stderr.read()))  # type: ignore[union-attr]
    reader.start()
    said = threading.Thread(target=lambda: stdout_chunks.append(process.stdout.read()))  # type: ignore[union-attr]
    said.start()
    chunk = 64 * 1024
    try:
        for at in range(0, len(records), chunk):
            if paced_seconds:
                due = started + paced_seconds * at / len(records)
                delay = due - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            process.stdin.write(records[at : at + chunk])
        fed = time.monotonic() - started
        process.stdin.close()
    except BrokenPipeError:
        fed = time.monotonic() - started
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.monotonic() - started
    system1, ours1 = procstat.SystemCpu.read(), procstat.process_cpu_seconds(os.getpid())
    cpu = usage.ru_utime + usage.ru_stime
    busy = (system1.busy - system0.busy) - (system1.softirq - system0.softirq)
    others = max(0.0, busy - cpu - (ours1 - ours0)) / wall if wall else 0.0
    process.returncode = os.waitstatus_to_exitcode(status)
    reader.join()
    said.join()
    last_word = io.BytesIO(b"".join(stdout_chunks))
    decode_errors = None
    while (record := ipc.read_record(last_word)) is not None:
        if record[0] == b"D":
            decode_errors = int(json.loads(record[1])["decode_errors"])
    return {
        "exit_code": process.returncode,
        "decode_errors": decode_errors,
        "wall_s": round(wall, 3),
        "fed_s": round(fed, 3),
        "cpu_s": round(cpu, 3),
        "user_s": round(usage.ru_utime, 3),
        "system_s": round(usage.ru_stime, 3),
        "max_rss_mib": round(usage.ru_maxrss / 1024, 1),
        "other_processes_cores": round(others, 3),
        "stderr_tail": b"".join(stderr_chunks).decode(errors="replace")[-600:],
    }


def recorder_part(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    width, height = (int(x) for x in args.participant_size.split("x"))
    clip = min(args.clip_seconds, args.seconds)
    logger.info(
        "encoding %d participants' %.1f s clips (VP8 %s @ %s fps, Opus)",
        max(args.participants),
        clip,
        args.participant_size,
        args.participant_fps,
    )
    encoded = [
        encode_participant(i, clip, args.participant_fps, (width, height), args.video_bitrate)
        for i in range(max(args.participants))
    ]
    video_bytes = sum(len(p) for e in encoded for _, ps in e.video for p in ps)
    results: dict[str, Any] = {}
    for n in args.participants:
        records, packets = build_records(encoded[:n], args.seconds, args.participant_fps, clip)
        out = workdir / f"recording-n{n}.mp4"
        logger.info(
            "N=%d: %d packets, %.1f MB of records for %.0f s",
            n,
            packets,
            len(records) / 1e6,
            args.seconds,
        )
        run = run_recorder(records, out, args.fps, args.size, args.seconds if args.paced else None)
        facts = mp4_facts(out)
        recorded = facts.get("duration_s") or facts.get("video_last_pts_s") or 0.0
        per_second = run["cpu_s"] / args.seconds
        speed = args.seconds / run["wall_s"] if run["wall_s"] else None
        results[str(n)] = {
            "participants": n,
            "recorded_call_s": args.seconds,
            "packets": packets,
            "input_mbit_s": round(len(records) * 8 / args.seconds / 1e6, 3),
            "recorder": {k: v for k, v in run.items() if k != "stderr_tail" or run["exit_code"]},
            "mp4": facts,
            "cpu_seconds_per_recorded_second": round(per_second, 3),
            "speed_vs_real_time": round(speed, 2) if speed else None,
            "keeps_up_in_real_time": bool(
                run["exit_code"] == 0 and speed is not None and speed >= 1.0 and per_second < 2.0
            ),
            "mp4_duration_matches": abs(float(recorded) - args.seconds) < 1.5,
        }
        logger.info(
            "N=%d: %.2f CPU s per recorded s, %.2fx real time, mp4 %s s",
            n,
            per_second,
            speed or 0,
            recorded,
        )
    return {
        "method": "recorder.worker fed pre-encoded ipc records "
        + ("paced in real time" if args.paced else "as fast as it takes them")
        + "; CPU from wait4 rusage (all its threads)",
        "participant_media": {
            "video": f"VP8 {args.participant_size} @ {args.participant_fps} fps, target "
            f"{args.video_bitrate} bit/s (aiortc encoder), moving picture",
            "video_kbit_s_measured": round(video_bytes * 8 / clip / max(1, len(encoded)) / 1000, 1),
            "audio": "Opus 48 kHz 20 ms (aiortc encoder), a tone",
            "clip_s": clip,
        },
        "output": f"{args.size} @ {args.fps} fps H.264 + AAC fragmented MP4",
        "by_participants": results,
    }


# -- part 2: forwarding with and without a recording ---------------------------------------


async def join_as_host(
    http: aiohttp.ClientSession, base_url: str, call: str
) -> tuple[str, str, aiohttp.ClientWebSocketResponse]:
    """A user who opens the call over the call protocol, and so is its host: (session
    token, host token, their socket)."""
    async with http.post(
        f"{base_url}/api/auth/signup",
        json={
            "login": f"bench{os.urandom(4).hex()}",
            "password": "bench-password-1234",
            "display_name": "bench host",
        },
    ) as response:
        if response.status != 201:
            raise RuntimeError(f"signup: {response.status} {await response.text()}")
        session = str((await response.json())["token"])
    auth = {"Authorization": f"Bearer {session}"}
    ws = await http.ws_connect(base_url.replace("http", "ws", 1) + "/ws", headers=auth)
    await ws.send_json({"type": "join", "version": 1, "call": call, "name": "bench host"})
    while True:
        message = await asyncio.wait_for(ws.receive_json(), 20)
        if message["type"] == "joined":
            token = message.get("host_token")
            if not token:
                await ws.close()
                raise RuntimeError(f"not host of the call: {message}")
            return session, str(token), ws
        if message["type"] in ("error", "waiting", "denied"):
            await ws.close()
            raise RuntimeError(f"joining the call: {message}")


async def recording_control(
    http: aiohttp.ClientSession, base_url: str, call: str, session: str, token: str, method: str
) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {session}", "X-Parta-Host-Token": token}
    async with http.request(
        method, f"{base_url}/api/calls/{call}/recording", headers=headers
    ) as response:
        body: dict[str, Any] = await response.json()
        if response.status not in (200, 201):
            raise RuntimeError(f"{method} recording: {response.status} {body}")
        return body


def child_pids(pid: int) -> list[int]:
    found: list[int] = []
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(OSError):
                found += [int(x) for x in (task / "children").read_text().split()]
    return found


def _window_summary(result: dict[str, Any]) -> dict[str, Any]:
    return {
        "subscribers": result["subscribers"],
        "window_s": result["window_s"],
        "latency_ms": {k: result["latency_ms"][k] for k in ("p50", "p90", "p99", "max")},
        "latency_app_ms": {k: result["latency_app_ms"][k] for k in ("p50", "p99")},
        "server_cpu_utilisation": result["server"]["cpu_utilisation"],
        "us_per_forwarded_packet": result["server"]["us_per_forwarded_packet"],
        "forwarded_pps": result["server"]["forwarded_pps"],
        "loss_percent_mean": result["loss_percent"]["mean"],
        "other_processes_cores": result["system"]["other_processes_cores"],
        "busy_cores": result["system"]["busy_cores"],
        "noisy": result["noisy"],
    }


async def forwarding_part(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    fargs = forwarding.build_parser().parse_args(
        [
            "--n",
            str(args.subscribers),
            "--duration",
            str(args.window),
            "--retries",
            "0",
            "--quiet-wait",
            str(args.quiet_wait),
        ]
    )
    bench = forwarding.Bench(fargs, workdir)
    out: dict[str, Any] = {"subscribers": args.subscribers, "window_s": args.window}
    try:
        # bench.setup(), with the call opened by its host before the publisher comes:
        # a call made by WHIP has no host, and no way in for one without a link
        bench.http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60))
        await bench.server.start(bench.http)
        base = bench.server.base_url
        session, token, ws = await join_as_host(bench.http, base, forwarding.CALL)
        bench.publisher = Publisher(base, forwarding.CALL, bench.profile)
        await bench.publisher.connect(bench.http)
        bench.publisher.start()
        with contextlib.suppress(Exception):  # the host leaves; the publisher keeps the call
            await ws.send_json({"type": "leave"})
            await ws.close()
        for index in range(2):
            worker = forwarding.SubscriberProcess(index)
            await worker.start()
            bench.workers.append(worker)
        await bench.set_viewers(args.subscribers)
        await bench.wait_receiving()
        await asyncio.gather(
            *(w.request({"cmd": "mode", "sample_every": 1}) for w in bench.workers)
        )
        await asyncio.sleep(args.warmup)
        logger.info("forwarding without recording: %.1f s", args.window)
        without = await bench.measure_quietly(args.window, exact=True)
        await recording_control(bench.http, base, forwarding.CALL, session, token, "POST")
        await asyncio.sleep(args.warmup)
        recorders = child_pids(bench.server.pid)
        cpu0 = {pid: procstat.process_cpu_seconds(pid) for pid in recorders}
        t0 = time.monotonic()
        logger.info("forwarding while recording (recorder pids %s): %.1f s", recorders, args.window)
        with_recording = await bench.measure_quietly(args.window, exact=True)
        elapsed = time.monotonic() - t0
        recorder_cpu = 0.0
        for pid in recorders:
            with contextlib.suppress(OSError):
                recorder_cpu += procstat.process_cpu_seconds(pid) - cpu0[pid]
        stopped = await recording_control(
            bench.http, base, forwarding.CALL, session, token, "DELETE"
        )
        files = sorted((workdir / "data" / "recordings").glob("*.mp4"))
        a, b = _window_summary(without), _window_summary(with_recording)
        out.update(
            {
                "without_recording": a,
                "with_recording": {
                    **b,
                    "recorder_processes": len(recorders),
                    "recorder_cpu_utilisation": round(recorder_cpu / elapsed, 4),
                    "stop_reply": stopped,
                    "mp4": mp4_facts(files[-1]) if files else None,
                },
                "added_by_recording": {
                    "p50_ms": _diff(b["latency_ms"]["p50"], a["latency_ms"]["p50"]),
                    "p99_ms": _diff(b["latency_ms"]["p99"], a["latency_ms"]["p99"]),
                    "server_cpu_utilisation": _diff(
                        b["server_cpu_utilisation"], a["server_cpu_utilisation"]
                    ),
                    "us_per_forwarded_packet": _diff(
                        b["us_per_forwarded_packet"], a["us_per_forwarded_packet"]
                    ),
                },
            }
        )
    except Exception as exc:
        out["error"] = f"{type(exc).__name__}: {exc}"
        out["server_log_tail"] = bench.server.log_tail()
    finally:
        with contextlib.suppress(Exception):
            await bench.close()
    return out


def _diff(a: float | None, b: float | None) -> float | None:
    return round(a - b, 4) if a is not None and b is not None else None


# -- the program ---------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.recording",
        description=__doc__.split("\n\n", 1)[0] if __doc__ else None,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--participants", type=forwarding._int_list, default=[2, 4, 9])
    parser.add_argument("--seconds", type=float, default=20.0, help="recorded call length")
    parser.add_argument("--clip-seconds", type=float, default=4.0, help="pre-encoded, looped")
    parser.add_argument("--participant-size", default="320x240")
    parser.add_argument("--participant-fps", type=float, default=15.0)
    parser.add_argument("--video-bitrate", type=int, default=300_000)
    parser.add_argument("--fps", type=int, default=15, help="recording frames/s")
    parser.add_argument("--size", default="1280x720", help="recording picture size")
    parser.add_argument("--paced", action="store_true", help="feed the recorder in real time")
    parser.add_argument("--subscribers", type=int, default=10, help="part 2: WHEP viewers")
    parser.add_argument("--window", type=float, default=10.0, help="part 2: window, seconds")
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--quiet-wait", type=float, default=10.0)
    parser.add_argument("--skip-forwarding", action="store_true")
    parser.add_argument("--quick", action="store_true", help="tiny: N=2, 2 s, 2 viewers")
    parser.add_argument("--output", "-o", type=Path)
    return parser


async def _main(args: argparse.Namespace) -> dict[str, Any]:
    report: dict[str, Any] = {
        "benchmark": "parta recording",
        "machine": procstat.machine_info(),
        "config": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
    }
    with tempfile.TemporaryDirectory(prefix="parta-bench-rec-") as tmp:
        work = Path(tmp)
        report["recorder"] = await asyncio.to_thread(recorder_part, args, work)
        if not args.skip_forwarding:
            (work / "fwd").mkdir()
            report["forwarding"] = await forwarding_part(args, work / "fwd")
    return report


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    if args.quick:
        args.participants = [2]
        args.seconds = min(args.seconds, 2.0)
        args.clip_seconds = min(args.clip_seconds, 1.0)
        args.subscribers = min(args.subscribers, 2)
        args.window = min(args.window, 1.5)
        args.warmup = min(args.warmup, 0.5)
        args.quiet_wait = 0.0
    report = procstat.run_and_report(_main(args), args.output)
    failed = "error" in report.get("forwarding", {}) or any(
        r["recorder"]["exit_code"] != 0 for r in report["recorder"]["by_participants"].values()
    )
    if failed:
        sys.exit(1)


if __name__ == "__main__":
    main()
