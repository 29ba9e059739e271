"""Measure a large tus upload into a chat: throughput, the server's memory and CPU.

    python -m benchmarks.upload                       # one 2 GiB file in one PATCH
    python -m benchmarks.upload --size 8M             # quick
    python -m benchmarks.upload --chunk 256M          # several PATCH requests

What runs, on 127.0.0.1: `parta serve` in its own process with a temporary --data-dir
(removed at the end, uploaded bytes with it), and this process as the tus client. The
file's bytes are generated on the fly (a random 1 MiB block, each copy stamped with its
index so no two blocks are equal) and hashed as they are sent, so the client takes
constant memory. After the upload the file is attached to a message and the server's
SHA-256 (the message's meta.file.sha256) is compared with the client's.

Throughput is the file's size over the time from the first PATCH being sent to the last
PATCH's response (the creation POST and the attaching message are timed apart). The
server's peak RSS is VmHWM from /proc/<pid>/status, reset just before the upload (so
Argon2id's 64 MiB at sign-up does not count; compare with `rss_before_upload`); its
CPU is utime+stime over the PATCH requests.
Only JSON goes to stdout; progress goes to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import json
import logging
import os
import sys
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any

import aiohttp

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

logger = logging.getLogger("benchmarks.upload")

BLOCK = 1024 * 1024
MB = 1_000_000
MIB = 1024 * 1024


def parse_size(text: str) -> int:
    """`1500`, `512K`, `8M`, `2G` (powers of 1024) to bytes."""
    units = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}
    number, unit = text.strip().upper().removesuffix("IB").removesuffix("B"), ""
    if number and number[-1] in units:
        number, unit = number[:-1], number[-1]
    value = int(float(number) * units[unit])
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a size")
    return value


class Content:
    """The file: `size` bytes made of a random block stamped with each copy's index."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.base = os.urandom(BLOCK)
        self.digest = hashlib.sha256()

    def block(self, index: int, length: int) -> bytes:
        data = bytearray(self.base[:length])
        stamp = index.to_bytes(8, "little")
        data[: min(8, length)] = stamp[: min(8, length)]
        return bytes(data)

    async def stream(self, start: int, end: int) -> AsyncIterator[bytes]:
        """Bytes [start, end), in blocks of at most BLOCK; hashed as they are produced
        (the whole file is sent in order exactly once, so the digest covers it)."""
        at = start
        while at < end:
            index, within = divmod(at, BLOCK)
            length = min(BLOCK - within, end - at)
            data = self.block(index, within + length)[within:]
            self.digest.update(data)
            at += len(data)
            yield data


async def run(args: argparse.Namespace) -> dict[str, Any]:
    size: int = args.size
    chunk: int = args.chunk or size
    timeout = aiohttp.ClientTimeout(total=None, sock_read=600)
    async with (
        aiohttp.ClientSession(timeout=timeout) as http,
        running_server(
            http, ["--max-upload-size", args.max_upload_size, "--org-quota", args.org_quota]
        ) as server,
    ):
        owner = await Api(http, server.base_url).sign_up("Bench Teacher")
        school = await make_school(owner)
        chat_id = await create_chat(owner, school, "Uploads", "group", False)
        tus = {"Tus-Resumable": "1.0.0", **owner.headers}
        memory_before = memory_kib(server.pid)
        peak_reset = reset_peak_rss(server.pid)
        content = Content(size)

        started = time.perf_counter()
        metadata = ",".join(
            f"{k} {base64.b64encode(v.encode()).decode()}"
            for k, v in {
                "chat_id": chat_id,
                "filename": "benchmark.bin",
                "filetype": "application/octet-stream",
            }.items()
        )
        async with http.post(
            server.base_url + "/api/uploads",
            headers={**tus, "Upload-Length": str(size), "Upload-Metadata": metadata},
        ) as response:
            if response.status != 201:
                raise RuntimeError(
                    f"creating the upload: {response.status} {await response.text()}"
                )
            location = response.headers["Location"]
        upload_id = location.rsplit("/", 1)[1]
        created = time.perf_counter()

        cpu_before = procstat.process_cpu_seconds(server.pid)
        split_before = procstat.process_cpu_split(server.pid)
        own_cpu_before = time.process_time()
        patch_started = time.perf_counter()
        offset, patches = 0, 0
        rss_samples: list[int] = []
        sampler = asyncio.create_task(_sample_rss(server.pid, rss_samples))
        try:
            while offset < size or (size == 0 and patches == 0):
                end = min(size, offset + chunk)
                async with http.patch(
                    server.base_url + location,
                    data=content.stream(offset, end),
                    headers={
                        **tus,
                        "Upload-Offset": str(offset),
                        "Content-Type": "application/offset+octet-stream",
                        "Content-Length": str(end - offset),
                    },
                ) as response:
                    body = await response.read()
                    if response.status != 204:
                        raise RuntimeError(f"PATCH at {offset}: {response.status} {body[:300]!r}")
                    offset = int(response.headers["Upload-Offset"])
                patches += 1
                if offset != end:
                    raise RuntimeError(f"the server is at offset {offset}, expected {end}")
                logger.info("uploaded %d of %d bytes", offset, size)
        finally:
            sampler.cancel()
        patch_seconds = time.perf_counter() - patch_started
        own_cpu = time.process_time() - own_cpu_before
        cpu = procstat.process_cpu_seconds(server.pid) - cpu_before
        split_after = procstat.process_cpu_split(server.pid)
        memory_after = memory_kib(server.pid)

        async with http.head(server.base_url + location, headers=tus) as response:
            server_offset = int(response.headers["Upload-Offset"])
        attach_started = time.perf_counter()
        message = await owner.call(
            "POST", f"/api/chats/{chat_id}/messages", {"file_id": upload_id}, expect=201
        )
        attach_seconds = time.perf_counter() - attach_started
        file_meta = message.get("meta", {}).get("file", {})
        server_sha = file_meta.get("sha256")
        client_sha = content.digest.hexdigest()
        on_disk = (server.data_dir / "files" / upload_id).stat().st_size
        total_seconds = time.perf_counter() - started

    return {
        "benchmark": "upload",
        "size_bytes": size,
        "size_mib": round(size / MIB, 1),
        "chunk_bytes": chunk,
        "patch_requests": patches,
        "seconds": {
            "create": round(created - started, 4),
            "patches": round(patch_seconds, 3),
            "attach_message": round(attach_seconds, 4),
            "total": round(total_seconds, 3),
        },
        "throughput_mb_s": round(size / MB / patch_seconds, 1) if patch_seconds else None,
        "throughput_mib_s": round(size / MIB / patch_seconds, 1) if patch_seconds else None,
        "server": {
            "pid_cpu_seconds": round(cpu, 2),
            "user_seconds": round(split_after[0] - split_before[0], 2),
            "system_seconds": round(split_after[1] - split_before[1], 2),
            "cpu_seconds_per_gib": round(cpu / (size / 1024**3), 2) if size else None,
            "rss_before_upload_mib": mib(memory_before["VmRSS"]),
            "peak_rss_before_upload_mib": mib(memory_before["VmHWM"]),
            "rss_after_upload_mib": mib(memory_after["VmRSS"]),
            "peak_rss_mib": mib(memory_after["VmHWM"]),
            "peak_rss_reset_before_upload": peak_reset,
            "max_sampled_rss_during_upload_mib": mib(max(rss_samples, default=0)),
            "offset_after_upload": server_offset,
            "bytes_on_disk": on_disk,
        },
        "client_cpu_seconds": round(own_cpu, 2),
        "sha256": {
            "client": client_sha,
            "server": server_sha,
            "match": client_sha == server_sha,
        },
        "machine": procstat.machine_info(),
        "definitions": {
            "throughput": "size / (first PATCH sent .. last PATCH's 204), over loopback; "
            "MB = 10^6 bytes, MiB = 2^20",
            "peak_rss_mib": "VmHWM of the server process after the upload: its peak RSS "
            "since just before the upload if peak_rss_reset_before_upload (VmHWM reset "
            "through /proc/<pid>/clear_refs), else over its whole life; "
            "peak_rss_before_upload_mib is VmHWM before (the sign-up's Argon2id hash "
            "takes 64 MiB)",
            "max_sampled_rss_during_upload_mib": "largest VmRSS seen sampling every 50 ms",
            "pid_cpu_seconds": "server utime+stime during the PATCH requests",
        },
    }


async def _sample_rss(pid: int, into: list[int]) -> None:
    while True:
        try:
            into.append(memory_kib(pid)["VmRSS"])
        except (OSError, KeyError):
            return
        await asyncio.sleep(0.05)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.upload",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--size", type=parse_size, default=2 * 1024**3, help="file size (default 2G)"
    )
    parser.add_argument(
        "--chunk",
        type=parse_size,
        default=0,
        help="bytes per PATCH request (default: the whole file in one)",
    )
    parser.add_argument("--max-upload-size", default="16G", help="the server's (default 16G)")
    parser.add_argument("--org-quota", default="500G", help="the server's (default 500G)")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(argv)
    if args.chunk < 0:
        parser.error("--chunk is a positive size")
    return args


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    setup_logging(args.verbose)
    result = asyncio.run(run(args))
    json.dump(result, sys.stdout, indent=2)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
