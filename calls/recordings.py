"""Recording a call: hosts start and stop it (protocol and HTTP), everyone in the call
is told, and the file lands in the call's chat (when it was scheduled on behalf of
one) as a "call recording" message, and under the call's recordings."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import av

from calls.peer import Peer
from calls.protocol import ProtocolError
from calls.room import Room
from recorder.session import PIPE_LIMIT, Recorded, Recording
from sfu.producer import Producer

logger = logging.getLogger(__name__)


@dataclass
class Active:
    recording: Recording
    started_at: datetime
    by: str | None  # peer id
    by_user: str | None
    user_ids: list[str]
    entered: Callable[[Peer], None] | None = None  # our listener on the room


@dataclass(frozen=True)
class Finished:
    room_id: str
    title: str
    recorded: Recorded
    started_at: datetime
    by_user: str | None
    user_ids: list[str]


class Recordings:
    def __init__(
        self,
        directory: Path,
        on_finished: Callable[[Finished], Awaitable[None]] | None = None,
    ) -> None:
        self.directory = directory
        self.on_finished = on_finished
        self.active: dict[str, Active] = {}  # room id -> recording
        # how recorder processes are run (tests slow one down to see it fall behind)
        self.python = sys.executable
        self.pipe_limit = PIPE_LIMIT
        self.on_decode_errors: Callable[[int], None] | None = None  # for the metrics

    def is_recording(self, room: Room) -> bool:
        return room.id in self.active

    async def start(self, room: Room, actor: Peer | None, *, user_id: str | None = None) -> None:
        """Start, for `actor`, a host in the call (checked by the protocol's table), or
        `actor` None: a host by HTTP (with a host token)."""
        if room.id in self.active:
            raise ProtocolError(
                "out_of_order", "the call is being recorded already", "start_recording"
            )
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        path = self.directory / f"{room.id}-{stamp}-{secrets.token_hex(3)}.mp4"

        def describe(producer: Producer) -> tuple[str, str]:
            peer = room.peers.get(producer.owner)
            return (peer.name if peer is not None else producer.owner), producer.source

        recording = Recording(
            room.router, path, describe, python=self.python, pipe_limit=self.pipe_limit
        )
        await recording.start()
        self.active[room.id] = Active(
            recording,
            datetime.now(UTC),
            actor.id if actor else None,
            actor.user_id if actor else user_id,
            [p.user_id for p in room.peers.values() if p.user_id is not None],
        )
        room.speaker_listeners.append(recording.speaker)
        entered = self._entered(room)
        self.active[room.id].entered = entered
        room.members.entry_listeners.append(entered)
        recording.speaker(room.router.active_speaker)
        room.status.recording_changed(True, actor.id if actor else None)

    def _entered(self, room: Room) -> Callable[[Peer], None]:
        def entered(peer: Peer) -> None:
            self.joined(room, peer)

        return entered

    def joined(self, room: Room, peer: Peer) -> None:
        """Someone came in while recording: they took part in the recording."""
        active = self.active.get(room.id)
        if active is not None and peer.user_id and peer.user_id not in active.user_ids:
            active.user_ids.append(peer.user_id)

    async def stop(self, room: Room, actor: Peer | None, *, quiet: bool = False) -> Finished | None:
        """Stop (for a host, checked by the protocol's table; or with `actor` None, a
        host by HTTP or the call's end, which is `quiet` when there is none recording)."""
        active = self.active.pop(room.id, None)
        if active is None:
            if quiet:
                return None
            raise ProtocolError("out_of_order", "the call is not being recorded", "stop_recording")
        if active.recording.speaker in room.speaker_listeners:
            room.speaker_listeners.remove(active.recording.speaker)
        if active.entered in room.members.entry_listeners:
            room.members.entry_listeners.remove(active.entered)
        room.status.recording_changed(False, actor.id if actor else None)
        recorded = await active.recording.stop()
        if recorded.decode_errors and self.on_decode_errors is not None:
            self.on_decode_errors(recorded.decode_errors)
        finished = Finished(
            room.id, room.title, recorded, active.started_at, active.by_user, active.user_ids
        )
        if self.on_finished is not None:
            try:
                await self.on_finished(finished)
            except Exception:
                logger.exception("landing the recording %s", recorded.path)
        return finished

    async def close(self, rooms: dict[str, Room]) -> None:
        for room_id in list(self.active):
            room = rooms.get(room_id)
            if room is not None:
                await self.stop(room, None, quiet=True)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(4 * 1024 * 1024):
            digest.update(block)
    return digest.hexdigest()


def thumbnail(path: Path, at_seconds: float) -> bytes | None:
    """A PNG of the frame near `at_seconds`, or None if there is no picture."""
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            container.seek(int(at_seconds / float(stream.time_base or 1)), stream=stream)
            for frame in container.decode(stream):
                encoder = av.CodecContext.create("png", "w")
                encoder.width, encoder.height, encoder.pix_fmt = 320, 180, "rgb24"
                image = frame.reformat(width=320, height=180, format="rgb24")
                packets = [*encoder.encode(image), *encoder.encode(None)]
                return b"".join(bytes(p) for p in packets)
    except (av.error.FFmpegError, IndexError, StopIteration):
        return None
    return None


async def duration_of(path: Path) -> float:
    def probe() -> float:
        try:
            with av.open(str(path)) as container:
                if container.duration:
                    return float(container.duration / av.time_base)
                stream = container.streams.video[0]
                last = 0.0
                for packet in container.demux(stream):
                    if packet.pts is not None and stream.time_base is not None:
                        last = max(last, float(packet.pts * stream.time_base))
                return last
        except (av.error.FFmpegError, IndexError):
            return 0.0

    return await asyncio.to_thread(probe)
