"""Broadcast fan-out: a call's stage for any number of WebRTC viewers, at the cost of
forwarding alone.

The design: sfu/DESIGN.md, *broadcast.py*."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sfu.codecs import RtpCodec
from sfu.consumer import Consumer
from sfu.drops import KEYFRAMES_ONLY, NO_VIEWER, WAITING_KEYFRAME

if TYPE_CHECKING:
    from sfu.producer import Producer
    from sfu.router import Router
    from sfu.transport import WebRtcTransport


@dataclass(frozen=True)
class SlowViewerPolicy:
    lossy_fraction: int = 26  # of 256: 10% lost in a receiver report
    failed_sends: int = 5  # within failure_window: keyframe-only
    failure_window: float = 1.0
    probe_after: float = 4.0  # keyframe-only this long, then every frame again ...
    probe_max: float = 32.0  # ... the wait doubling each time it falls back, up to this
    grace: float = 2.5  # reports this soon after a change of mode still describe the old one
    episodes: int = 4  # falling back this often within episode_window: cut
    episode_window: float = 60.0
    stalled_after: float = 10.0  # reports that show no progress this long: cut
    keyframe_interval: float = 2.0  # keyframes asked for while anyone is keyframe-only


class StageViewer:
    """One viewer's connection to a stage: its mode, its counters, and its ends of the
    stage's tracks (registered on its transport under the stage's SSRCs). It joins the
    fan-out once its connection is up, and starts at a keyframe."""

    def __init__(self, viewer_id: str, transport: WebRtcTransport, clock: Callable[[], float]):
        self.id = viewer_id
        self.transport = transport
        # a newcomer waits for a keyframe, as one coming back to every frame does
        self.keyframes_only = True
        self.wants_all = True  # every frame again from the next keyframe
        self.ends: dict[str, ViewerEnd] = {}
        self._clock = clock
        self._failures: list[float] = []
        self._episodes: list[float] = []
        self._probe_at = 0.0
        self._changed_at = clock()
        self.last_progress_at = clock()  # its reports last showed it getting our packets
        self.stuck = False  # a report since then showed no progress
        self.dropped = 0  # sends that failed

    def failed(self, now: float, policy: SlowViewerPolicy) -> None:
        self.dropped += 1
        failures = [t for t in self._failures if now - t < policy.failure_window]
        failures.append(now)
        self._failures = failures
        if len(failures) >= policy.failed_sends and not self.keyframes_only:
            self._slow(now, policy)

    def report(
        self, fraction_lost: int, now: float, policy: SlowViewerPolicy, keeping_up: bool = True
    ) -> None:
        """A receiver report. Only one about every frame counts for loss: in
        keyframe-only mode the skipped frames look lost to the viewer."""
        if keeping_up:
            self.last_progress_at = now
        self.stuck = not keeping_up
        if self.keyframes_only or now - self._changed_at < policy.grace:
            return
        if fraction_lost >= policy.lossy_fraction:
            self._slow(now, policy)

    def _slow(self, now: float, policy: SlowViewerPolicy) -> None:
        self._episodes = [t for t in self._episodes if now - t < policy.episode_window]
        self._episodes.append(now)
        wait = min(policy.probe_max, policy.probe_after * 2 ** (len(self._episodes) - 1))
        self._probe_at = now + wait
        self.keyframes_only, self.wants_all = True, False
        self._changed_at = now
        self._failures = []

    def resumed(self, now: float) -> None:
        """Every frame again, from this keyframe."""
        self.keyframes_only = self.wants_all = False
        self._changed_at = now

    def check(self, now: float, policy: SlowViewerPolicy) -> str | None:
        """The reason to cut this viewer now, if there is one; else, when it is time,
        let a keyframe-only viewer try every frame again."""
        if self.stuck and now - self.last_progress_at >= policy.stalled_after:
            return "stalled"
        if len(self._episodes) >= policy.episodes:
            return "too_slow"
        if self.keyframes_only and not self.wants_all and now >= self._probe_at:
            self.wants_all = True
        return None


class ViewerEnd:
    """A viewer's end of one stage track, as its transport sees it (an `Outgoing`).

    Every packet its group sent out since the viewer joined the fan-out is `offered`
    to it, and is either forwarded or dropped under a reason (`dropped`, by reason:
    keyframe-only while it is too slow, or what its transport refused). The group's
    numbering is everybody's, so each drop is a gap the viewer sees."""

    def __init__(self, viewer: StageViewer, track: StageTrack, group: _Group) -> None:
        self.id = f"{viewer.id}-{track.kind}"
        self.viewer = viewer
        self.track = track
        self.group = group
        self.ssrc = track.ssrc
        self.packets = 0  # sent, retransmissions included
        self.bytes = 0
        self.retransmissions = 0
        self.fraction_lost = 0
        self.dropped: dict[str, int] = {}
        self._highest = -1

    @property
    def offered(self) -> int:
        """Every packet its group sent out since it joined: each one was sent or dropped."""
        return self.packets - self.retransmissions + sum(self.dropped.values())

    def drop(self, reason: str) -> None:
        self.dropped[reason] = self.dropped.get(reason, 0) + 1

    def on_nack(self, lost: Iterable[int]) -> int:
        resent = 0
        for out_seq in lost:
            packet = self.group.consumer.rebuild(out_seq)
            if packet is not None and self.viewer.transport.send_rtp(packet):
                resent += 1
                self.packets += 1
                self.bytes += len(packet)
        self.retransmissions += resent
        return resent

    def request_keyframe(self) -> None:
        self.group.consumer.request_keyframe()

    def on_receiver_report(self, fraction_lost: int, jitter: int, highest: int = 0) -> None:
        self.fraction_lost = fraction_lost
        # getting what we send: the highest sequence number it has seen moves on, or
        # is where we are (nothing was sent since)
        sent = self.group.consumer.last_seq
        keeping_up = (highest & 0xFFFF) != self._highest or (highest & 0xFFFF) == sent
        self._highest = highest & 0xFFFF
        self.track.stage.reported(self.viewer, fraction_lost, keeping_up)

    def sender_report(self) -> tuple[int, int] | None:
        return self.group.consumer.sender_report()


class _GroupConsumer(Consumer):
    """The one rewrite per packet for a group; knows where keyframes start and end."""

    group: _Group

    def forward(self, seq: int, ts: int, head: int, keyframe: bool, payload: bytes) -> None:
        group = self.group
        if keyframe and group.video:
            group.keyframe_starts()
        super().forward(seq, ts, head, keyframe, payload)
        if head & 0x80 and group.video:
            group.frame_ends()


class _Group:
    """The viewers of one track that negotiated the same codecs: they get the same
    bytes."""

    refusal = NO_VIEWER  # the only reason the group as a whole refuses a packet

    def __init__(self, track: StageTrack, codecs: tuple[RtpCodec, ...]) -> None:
        self.track = track
        self.codecs = codecs
        self.video = track.kind == "video"
        self.viewers: tuple[StageViewer, ...] = ()
        self.in_keyframe = False
        self.consumer = _GroupConsumer(
            f"{track.stage.id}-{track.kind}-{len(track.groups)}",
            producer=None,
            sink=self,
            ssrc=track.ssrc,
            payload_type=codecs[0].payload_type if codecs else 0,
            mid="",
            clock=track.stage.clock,
            kind=track.kind,
        )
        self.consumer.group = self
        self.following: Producer | None = None

    def follow(self, producer: Producer | None, router: Router) -> None:
        """Rewrite `producer`'s packets for this group, as the codec the group
        negotiated for it; nothing when the group has no such codec."""
        if self.following is not None:
            router.remove_tap(self.following, self.consumer)
            self.following = None
        if producer is None:
            return
        codec = next((c for c in self.codecs if producer.codec.matches(c)), None)
        if codec is None:
            return
        self.consumer.payload_type = codec.payload_type
        self.consumer.switch_producer(producer)
        router.add_tap(producer, self.consumer)
        self.following = producer

    def keyframe_starts(self) -> None:
        self.in_keyframe = True
        now = 0.0
        for viewer in self.viewers:
            if viewer.wants_all:
                now = now or self.track.stage.clock()
                viewer.resumed(now)

    def frame_ends(self) -> None:
        self.in_keyframe = False
        viewers = self.viewers
        if len(viewers) > 1:  # after each frame the next viewer goes first
            self.viewers = viewers[1:] + viewers[:1]

    def send_rtp(self, packet: bytes) -> bool:
        """The rewritten packet to every viewer of the group: protect and send each.
        False (and `refusal`) only when no viewer took it."""
        sent = False
        skip_deltas = self.video and not self.in_keyframe
        kind = self.track.kind
        size = len(packet)
        for viewer in self.viewers:
            end = viewer.ends[kind]
            if skip_deltas and viewer.keyframes_only:
                # a newcomer (or one trying every frame again) waits for a keyframe
                end.drop(WAITING_KEYFRAME if viewer.wants_all else KEYFRAMES_ONLY)
                continue
            transport = viewer.transport
            if transport.send_rtp(packet):
                end.packets += 1
                end.bytes += size
                sent = True
            else:
                end.drop(transport.refusal)
                stage = self.track.stage
                viewer.failed(stage.clock(), stage.policy)
        return sent


class StageTrack:
    """One kind of the stage: the producer it follows and its codec groups."""

    def __init__(self, stage: Stage, kind: str, ssrc: int) -> None:
        self.stage = stage
        self.kind = kind
        self.ssrc = ssrc
        self.producer: Producer | None = None
        self.groups: dict[tuple[RtpCodec, ...], _Group] = {}

    def group_for(self, codecs: tuple[RtpCodec, ...]) -> _Group:
        group = self.groups.get(codecs)
        if group is None:
            group = self.groups[codecs] = _Group(self, codecs)
            group.follow(self.producer, self.stage.router)
        return group

    def follow(self, producer: Producer | None) -> None:
        """Follow `producer` (video: from its next keyframe)."""
        if producer is self.producer:
            return
        self.producer = producer
        for group in self.groups.values():
            group.follow(producer, self.stage.router)

    def request_keyframe(self) -> None:
        if self.producer is not None:
            self.producer.request_keyframe()

    def close(self) -> None:
        for group in self.groups.values():
            group.follow(None, self.stage.router)
            group.consumer.close()
        self.groups.clear()
        self.producer = None


class Stage:
    """A call's stage for broadcast viewers: an audio and a video StageTrack."""

    def __init__(
        self,
        stage_id: str,
        router: Router,
        *,
        ssrcs: dict[str, int],
        policy: SlowViewerPolicy | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.id = stage_id
        self.router = router
        self.policy = policy or SlowViewerPolicy()
        self.clock = clock
        self.tracks = {kind: StageTrack(self, kind, ssrc) for kind, ssrc in ssrcs.items()}
        self.viewers: dict[str, StageViewer] = {}
        self._last_keyframe_ask = float("-inf")
        router.stages.append(self)

    def add_viewer(
        self,
        viewer_id: str,
        transport: WebRtcTransport,
        codecs: dict[str, tuple[RtpCodec, ...]],
    ) -> StageViewer:
        """A viewer whose connection negotiated `codecs` (per kind, on the m-line that
        carries the stage's SSRC of that kind)."""
        viewer = StageViewer(viewer_id, transport, self.clock)
        for kind, negotiated in codecs.items():
            track = self.tracks.get(kind)
            if track is None or not negotiated:
                continue
            group = track.group_for(negotiated)
            end = ViewerEnd(viewer, track, group)
            viewer.ends[kind] = end
            transport.attach_consumer(end)
        self.viewers[viewer_id] = viewer
        transport.when_connected(lambda: self._connected(viewer))
        return viewer

    def _connected(self, viewer: StageViewer) -> None:
        """Into the fan-out once its connection is up (sends before would all fail)."""
        if viewer.id not in self.viewers:
            return
        viewer.last_progress_at = self.clock()
        for end in viewer.ends.values():
            end.group.viewers = (*end.group.viewers, viewer)
        video = self.tracks.get("video")
        if video is not None:
            video.request_keyframe()  # the newcomer starts on a keyframe

    def remove_viewer(self, viewer: StageViewer) -> None:
        if self.viewers.pop(viewer.id, None) is None:
            return
        for end in viewer.ends.values():
            group = end.group
            group.viewers = tuple(v for v in group.viewers if v is not viewer)
            viewer.transport.detach_consumer(end)
            self.router.retire(end)

    def reported(self, viewer: StageViewer, fraction_lost: int, keeping_up: bool) -> None:
        viewer.report(fraction_lost, self.clock(), self.policy, keeping_up)

    def follow(self, kind: str, producer: Producer | None) -> None:
        track = self.tracks.get(kind)
        if track is not None:
            track.follow(producer)

    def tick(self) -> list[tuple[StageViewer, str]]:
        """Once a second or so: the viewers cut (removed here; their owner closes their
        connections), and keyframes asked for keyframe-only ones."""
        now = self.clock()
        cut = []
        for viewer in list(self.viewers.values()):
            reason = viewer.check(now, self.policy)
            if reason is not None:
                self.remove_viewer(viewer)
                cut.append((viewer, reason))
        due = now - self._last_keyframe_ask >= self.policy.keyframe_interval
        if due and any(v.keyframes_only for v in self.viewers.values()):
            self._last_keyframe_ask = now
            video = self.tracks.get("video")
            if video is not None:
                video.request_keyframe()
        return cut

    def outgoing(self) -> list[ViewerEnd]:
        """Every live viewer's ends, for the counters."""
        return [end for viewer in self.viewers.values() for end in viewer.ends.values()]

    def close(self) -> None:
        for viewer in list(self.viewers.values()):
            self.remove_viewer(viewer)
        for track in self.tracks.values():
            track.close()
        if self in self.router.stages:
            self.router.stages.remove(self)
