"""H.264 and AAC into a fragmented MP4 that survives its writer being killed.

The design: recorder/DESIGN.md, *writer.py*."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from types import TracebackType
from typing import Protocol

import av
import numpy as np
import numpy.typing as npt
from av.video.frame import PictureType

KEYFRAME_SECONDS = 2
FRAGMENT_SECONDS = 0.5
VIDEO_TIME_BASE = Fraction(1, 90000)
AAC_FRAME = 1024
AUDIO_BIT_RATE = 128_000
# The AAC encoder's delay: its first packet is 1024 samples of priming that a fragmented
# MP4 (no edit list: the moov is written before any sample) cannot tell players to skip,
# so every sample would be heard 21 ms late. The first AAC_PRIMING samples given are
# dropped instead, and the priming plays in their place: sound and picture stay aligned.
AAC_PRIMING = 1024
AUDIO_SLACK = 0.005  # a block this close to where the last one ended just follows it


class ByteSink(Protocol):
    """Where the MP4 goes if not to a file: a stream of bytes, never read or seeked."""

    def write(self, data: bytes, /) -> int: ...


class FragmentedMp4Writer:
    def __init__(
        self,
        path: str | Path | ByteSink,
        width: int,
        height: int,
        fps: int,
        sample_rate: int = 48000,
        channels: int = 1,
        preset: str = "veryfast",
        crf: int = 23,
        *,
        keyframe_seconds: float = KEYFRAME_SECONDS,
        fragment_seconds: float = FRAGMENT_SECONDS,
        video_bitrate: int | None = None,
        video_buffer_seconds: float = 1.0,
        audio_bitrate: int = AUDIO_BIT_RATE,
    ) -> None:
        """`path` is a file name, or a writable file-like object that gets the MP4 as a
        stream (no seeking back, so no `mfra` index at the end). `video_bitrate` (bit/s)
        replaces CRF by a rate capped at that, with a VBV buffer of
        `video_buffer_seconds`: for live streaming, where the bandwidth is what counts."""
        if width % 2 or height % 2:
            raise ValueError("width and height must be even for yuv420p")
        if channels not in (1, 2):
            raise ValueError("channels must be 1 or 2")
        if keyframe_seconds <= 0 or fragment_seconds <= 0:
            raise ValueError("keyframe_seconds and fragment_seconds must be positive")
        self.path = Path(path) if isinstance(path, (str, Path)) else None
        self.width, self.height, self.fps = width, height, fps
        self.sample_rate, self.channels = sample_rate, channels
        self.keyframe_seconds = keyframe_seconds
        movflags = "frag_keyframe+empty_moov+default_base_moof"
        self.container = av.open(
            path if self.path is None else str(self.path),
            mode="w",
            format="mp4",
            options={
                "movflags": movflags if self.path is not None else movflags + "+skip_trailer",
                "frag_duration": str(int(fragment_seconds * 1_000_000)),
                "flush_packets": "1",
                "avoid_negative_ts": "make_non_negative",
            },
        )
        self.video = self._add_video(preset, crf, video_bitrate, video_buffer_seconds)
        audio = self.container.add_stream("aac", rate=sample_rate)
        audio.codec_context.layout = "mono" if channels == 1 else "stereo"
        audio.codec_context.format = "fltp"
        audio.codec_context.bit_rate = audio_bitrate
        audio.time_base = Fraction(1, sample_rate)
        self.audio = audio
        self._last_video_pts = -1
        self._next_keyframe: float | None = None  # seconds; None: the next frame is one
        self._audio_next: int | None = None  # the sample the buffer's end stands for
        self._audio_buffer = np.zeros((channels, 0), np.float32)
        self._audio_pts = 0  # pts (samples) of the buffer's first sample
        self._audio_skip = AAC_PRIMING
        self.closed = False
        # out of the encoder, not yet necessarily in the file: HLS tells from it that the
        # fragment before this keyframe ends a segment
        self.last_keyframe_seconds: float | None = None
        self.video_frames = 0
        self.audio_samples = 0

    # -- video ---------------------------------------------------------------------

    def _add_video(
        self, preset: str, crf: int, bit_rate: int | None, buffer_seconds: float
    ) -> av.VideoStream:
        fps = self.fps
        keyint = max(1, round(self.keyframe_seconds * fps))
        video = self.container.add_stream("libx264", rate=fps)
        video.width, video.height = self.width, self.height
        video.pix_fmt = "yuv420p"
        video.time_base = VIDEO_TIME_BASE
        video.codec_context.time_base = VIDEO_TIME_BASE
        video.codec_context.framerate = Fraction(fps, 1)
        video.codec_context.gop_size = keyint
        options = {
            "preset": preset,
            "tune": "zerolatency",
            # keyint is a cap counted in frames; add_video also forces a keyframe by the
            # clock, so a caller whose frames come late still gets them on time
            "x264-params": f"keyint={keyint}:min-keyint={min(fps, keyint)}:scenecut=0",
            "forced-idr": "1",
        }
        if bit_rate is None:
            options["crf"] = str(crf)
        else:
            buffer = round(bit_rate * buffer_seconds)
            options.update(b=str(bit_rate), maxrate=str(bit_rate), bufsize=str(buffer))
        video.codec_context.options = options
        return video

    def add_video(self, rgb: npt.NDArray[np.uint8], pts_seconds: float) -> None:
        """One picture (height x width x 3 uint8 RGB) shown from pts_seconds."""
        if rgb.shape != (self.height, self.width, 3):
            raise ValueError(f"expected {(self.height, self.width, 3)}, got {rgb.shape}")
        pts = max(round(pts_seconds / VIDEO_TIME_BASE), self._last_video_pts + 1)
        self._last_video_pts = pts
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
        frame = frame.reformat(format="yuv420p")
        frame.pts = pts
        frame.time_base = VIDEO_TIME_BASE
        self._keyframe_by_clock(frame, float(pts * VIDEO_TIME_BASE))
        self._mux_video(self.video.encode(frame))
        self.video_frames += 1

    def _mux_video(self, packets: list[av.Packet[av.VideoStream]]) -> None:
        for packet in packets:
            if packet.is_keyframe and packet.pts is not None:
                self.last_keyframe_seconds = float(packet.pts * VIDEO_TIME_BASE)
        self.container.mux(packets)

    def _keyframe_by_clock(self, frame: av.VideoFrame, seconds: float) -> None:
        # half a frame early counts as on time: timestamps jitter
        if self._next_keyframe is not None and seconds < self._next_keyframe - 0.5 / self.fps:
            return
        frame.pict_type = PictureType.I
        self._next_keyframe = seconds + self.keyframe_seconds

    # -- audio ---------------------------------------------------------------------

    def add_audio(self, block: npt.NDArray[np.generic], pts_seconds: float) -> None:
        """Samples (int16 or float in [-1, 1]; 1-D mono, (n, 2) or (2, n) stereo) that
        start at pts_seconds."""
        samples = self._planar(block)
        start = round(pts_seconds * self.sample_rate)
        if self._audio_next is None:
            self._audio_next = self._audio_pts = max(0, start)
        slack = round(AUDIO_SLACK * self.sample_rate)
        if start > self._audio_next + slack:  # a gap: silence, to keep in step
            gap = np.zeros((self.channels, start - self._audio_next), np.float32)
            samples = np.concatenate([gap, samples], axis=1)
        elif start < self._audio_next - slack:  # an overlap: what was written stays
            samples = samples[:, self._audio_next - start :]
        if not samples.shape[1]:
            return
        self._audio_next += samples.shape[1]
        if self._audio_skip:  # the encoder's priming takes these samples' place
            cut = min(self._audio_skip, samples.shape[1])
            samples = samples[:, cut:]
            self._audio_skip -= cut
            self._audio_pts += cut
        self._audio_buffer = np.concatenate([self._audio_buffer, samples], axis=1)
        self._drain_audio(final=False)

    def _planar(self, block: npt.NDArray[np.generic]) -> npt.NDArray[np.float32]:
        array = np.asarray(block)
        if array.dtype == np.int16:
            data = array.astype(np.float32) / 32768.0
        elif np.issubdtype(array.dtype, np.floating):
            data = array.astype(np.float32)
        else:
            raise TypeError(f"audio must be int16 or float, not {array.dtype}")
        if data.ndim == 1:
            data = data[np.newaxis, :]
        elif data.ndim == 2 and data.shape[0] not in (1, 2) and data.shape[1] in (1, 2):
            data = data.T  # (n, channels)
        if data.ndim != 2 or data.shape[0] not in (1, 2):
            raise ValueError(f"audio block of shape {array.shape}")
        if data.shape[0] != self.channels:
            data = np.repeat(data, 2, axis=0) if self.channels == 2 else data.mean(0, keepdims=True)
        return np.ascontiguousarray(data)

    def _drain_audio(self, final: bool) -> None:
        layout = "mono" if self.channels == 1 else "stereo"
        while self._audio_buffer.shape[1] >= AAC_FRAME or (final and self._audio_buffer.size):
            chunk = self._audio_buffer[:, :AAC_FRAME]
            self._audio_buffer = self._audio_buffer[:, AAC_FRAME:]
            if chunk.shape[1] < AAC_FRAME:  # the last one, padded
                pad = np.zeros((self.channels, AAC_FRAME - chunk.shape[1]), np.float32)
                chunk = np.concatenate([chunk, pad], axis=1)
            frame = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(chunk), format="fltp", layout=layout
            )
            frame.sample_rate = self.sample_rate
            frame.pts = self._audio_pts
            frame.time_base = Fraction(1, self.sample_rate)
            self._audio_pts += AAC_FRAME
            self.audio_samples += AAC_FRAME
            self.container.mux(self.audio.encode(frame))

    # -- the end -------------------------------------------------------------------

    def close(self) -> None:
        """Flush both encoders and finish the file (idempotent)."""
        if self.closed:
            return
        self.closed = True
        try:
            self._drain_audio(final=True)
            self._mux_video(self.video.encode(None))
            self.container.mux(self.audio.encode(None))
        finally:
            self.container.close()

    def __enter__(self) -> FragmentedMp4Writer:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
