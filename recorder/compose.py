"""The picture and the sound of a call at one instant, for the recorder process.

The design: recorder/DESIGN.md, *compose.py*."""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

import av
import numpy as np
import numpy.typing as npt

Image = npt.NDArray[np.uint8]
Scaler = Literal["nearest", "area"]

SIZE = (1280, 720)
TILE_ASPECT = 16 / 9
SCREEN_SHARE = 0.75  # the screen's part of the width
SIDEBAR_MAX = 4  # cameras beside a shared screen

BACKGROUND = (18, 18, 22)
TILE_BACKGROUND = (44, 46, 54)
LETTERBOX = (0, 0, 0)
HIGHLIGHT = (255, 190, 30)
TEXT = (255, 255, 255)

SAMPLE_RATE = 48000
BLOCK = 960  # 20 ms at 48 kHz


@dataclass(frozen=True, slots=True)
class Tile:
    """One participant's place in the picture."""

    id: str
    name: str


@dataclass(frozen=True, slots=True)
class Placement:
    """Where one picture goes: `key` is its key in compose's frames (the participant's
    id, or "screen:<id>" for a shared screen); x, y, w, h its cell in the frame."""

    key: str
    name: str
    x: int
    y: int
    w: int
    h: int
    highlight: bool = False
    screen: bool = False


def screen_key(owner: str) -> str:
    return f"screen:{owner}"


# -- layout ------------------------------------------------------------------------


def _even(value: float) -> int:
    return int(value) // 2 * 2


def _grid(n: int, area: tuple[int, int, int, int], gap: int) -> list[tuple[int, int, int, int]]:
    """n cells of TILE_ASPECT in area (x, y, w, h): the column count that gives the
    largest cells, the grid centred, a short last row centred."""
    ax, ay, aw, ah = area
    best: tuple[float, int, int] = (-1.0, 1, n)
    for cols in range(1, n + 1):
        rows = math.ceil(n / cols)
        width = min((aw - (cols + 1) * gap) / cols, (ah - (rows + 1) * gap) / rows * TILE_ASPECT)
        if width > best[0]:
            best = (width, cols, rows)
    width, cols, rows = best
    cw = max(2, _even(width))
    ch = max(2, _even(cw / TILE_ASPECT))
    top = ay + (ah - rows * ch - (rows - 1) * gap) // 2
    cells = []
    for index in range(n):
        row, col = divmod(index, cols)
        in_row = min(cols, n - row * cols)
        left = ax + (aw - in_row * cw - (in_row - 1) * gap) // 2
        cells.append((left + col * (cw + gap), top + row * (ch + gap), cw, ch))
    return cells


def layout(
    tiles: Sequence[Tile],
    screen: str | None,
    speaker: str | None,
    size: tuple[int, int] = SIZE,
) -> list[Placement]:
    """Where each picture goes in a frame of `size` (width, height).

    `screen` is the id of the participant sharing a screen (its picture's key is
    screen_key(id)); `speaker` the active speaker's id, whose camera tile is highlighted.
    """
    width, height = size
    gap = max(2, _even(width / 160))
    if screen is None:
        cells = _grid(len(tiles), (0, 0, width, height), gap) if tiles else []
        return [
            Placement(t.id, t.name, x, y, w, h, highlight=t.id == speaker)
            for t, (x, y, w, h) in zip(tiles, cells, strict=True)
        ]
    names = {t.id: t.name for t in tiles}
    main_w = _even(width * SCREEN_SHARE)
    (sx, sy, sw, sh) = _fit(main_w - 2 * gap, height - 2 * gap, TILE_ASPECT)
    placements = [
        Placement(
            screen_key(screen),
            f"{names.get(screen, '')} (screen)".strip(),
            gap + sx,
            gap + sy,
            sw,
            sh,
            screen=True,
        )
    ]
    featured = next((t for t in tiles if t.id == speaker), tiles[0] if tiles else None)
    side = [featured] if featured is not None else []
    side += [t for t in tiles if t is not featured][: SIDEBAR_MAX - len(side)]
    if side:
        cells = _grid(len(side), (main_w, 0, width - main_w, height), gap)
        placements += [
            Placement(t.id, t.name, x, y, w, h, highlight=t.id == speaker)
            for t, (x, y, w, h) in zip(side, cells, strict=True)
        ]
    return placements


def stage_layout(
    tiles: Sequence[Tile],
    screen: str | None,
    speaker: str | None,
    size: tuple[int, int] = SIZE,
) -> list[Placement]:
    """One picture filling the frame, as a broadcast's viewers see it: the shared
    screen, else the active speaker's camera, else the first camera."""
    width, height = size
    if screen is not None:
        names = {t.id: t.name for t in tiles}
        x, y, w, h = _fit(width, height, TILE_ASPECT)
        label = f"{names.get(screen, '')} (screen)".strip()
        return [Placement(screen_key(screen), label, x, y, w, h, screen=True)]
    featured = next((t for t in tiles if t.id == speaker), tiles[0] if tiles else None)
    if featured is None:
        return []
    x, y, w, h = _fit(width, height, TILE_ASPECT)
    return [Placement(featured.id, featured.name, x, y, w, h)]


def _fit(width: int, height: int, aspect: float) -> tuple[int, int, int, int]:
    """The largest rectangle of `aspect` centred in width x height: (x, y, w, h)."""
    w = min(width, int(height * aspect))
    h = min(height, int(w / aspect))
    w, h = max(2, _even(w)), max(2, _even(h))
    return (width - w) // 2, (height - h) // 2, w, h


# -- drawing -----------------------------------------------------------------------


@lru_cache(maxsize=256)
def _indices(
    src_h: int, src_w: int, dst_h: int, dst_w: int
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    ys = ((np.arange(dst_h) + 0.5) * (src_h / dst_h)).astype(np.intp)
    xs = ((np.arange(dst_w) + 0.5) * (src_w / dst_w)).astype(np.intp)
    return np.minimum(ys, src_h - 1), np.minimum(xs, src_w - 1)


def resize(image: Image, width: int, height: int, scaler: Scaler = "nearest") -> Image:
    """image (H x W x 3 uint8) scaled to width x height: "nearest" in numpy, or "area"
    (averaging, better looking when shrinking) with FFmpeg's swscale through PyAV."""
    if image.shape[0] == height and image.shape[1] == width:
        return image
    if scaler == "area":
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
        out = frame.reformat(width=width, height=height, interpolation="AREA")
        result: Image = np.asarray(out.to_ndarray(format="rgb24"), dtype=np.uint8)
        return result
    ys, xs = _indices(image.shape[0], image.shape[1], height, width)
    rows: Image = image.take(ys, axis=0)
    return rows.take(xs, axis=1)


def compose(
    frames: dict[str, Image],
    placements: Sequence[Placement],
    size: tuple[int, int] = SIZE,
    scaler: Scaler = "nearest",
) -> Image:
    """One frame (height x width x 3 uint8 RGB) with every placement drawn."""
    width, height = size
    canvas: Image = np.empty((height, width, 3), np.uint8)
    _fill(canvas, BACKGROUND)
    for p in placements:
        cell = canvas[p.y : p.y + p.h, p.x : p.x + p.w]
        if cell.shape[0] < 2 or cell.shape[1] < 2:
            continue
        cw, ch = cell.shape[1], cell.shape[0]
        border = max(3, min(cw, ch) // 60)  # the highlight's thickness
        frame = frames.get(p.key)
        if frame is None or frame.ndim != 3 or frame.shape[0] < 1 or frame.shape[1] < 1:
            _fill(cell, TILE_BACKGROUND)
            scale = max(1, min(4, ch // 40))
            _text(cell, p.name, cw // 2, ch // 2, scale, centre=True)
        else:
            fh, fw = frame.shape[:2]
            ratio = min(cw / fw, ch / fh)
            tw, th = min(cw, max(1, round(fw * ratio))), min(ch, max(1, round(fh * ratio)))
            tx, ty = (cw - tw) // 2, (ch - th) // 2
            if tw < cw or th < ch:
                _fill(cell, LETTERBOX)
            cell[ty : ty + th, tx : tx + tw] = resize(frame[:, :, :3], tw, th, scaler)
        if not (frame is None and not p.screen):
            _label(cell, p.name, border)
        if p.highlight:
            _border(cell, border, HIGHLIGHT)
    return canvas


def _border(cell: Image, thickness: int, colour: tuple[int, int, int]) -> None:
    t = min(thickness, cell.shape[0] // 2, cell.shape[1] // 2)
    _fill(cell[:t], colour)
    _fill(cell[-t:], colour)
    _fill(cell[:, :t], colour)
    _fill(cell[:, -t:], colour)


@lru_cache(maxsize=256)
def _row(colour: tuple[int, int, int], width: int) -> Image:
    row: Image = np.empty((width, 3), np.uint8)
    row[:] = colour
    return row


def _fill(region: Image, colour: tuple[int, int, int]) -> None:
    """region[:] = colour, through a cached row: numpy broadcasts a (W, 3) uint8 row
    some thirty times faster than a tuple."""
    region[:] = _row(colour, region.shape[1])


def _label(cell: Image, name: str, inset: int) -> None:
    """The name on a darkened bar at the bottom left of the cell, `inset` pixels in
    (clear of the highlight)."""
    if not name:
        return
    ch, cw = cell.shape[:2]
    scale = 2 if ch >= 200 else 1
    pad = 2 * scale
    mask = _text_mask(_fold(name), scale, cw - 2 * pad - 2 * inset)
    bar_h, bar_w = mask.shape[0] + 2 * pad, mask.shape[1] + 2 * pad
    if bar_h + inset > ch or bar_w + inset > cw or mask.shape[1] == 0:
        return
    bar = cell[ch - bar_h - inset : ch - inset, inset : inset + bar_w]
    np.right_shift(bar, 1, out=bar)  # half as bright
    bar[pad : pad + mask.shape[0], pad : pad + mask.shape[1]][mask] = TEXT


def _text(cell: Image, name: str, cx: int, cy: int, scale: int, centre: bool) -> None:
    mask = _text_mask(_fold(name), scale, cell.shape[1] - 8)
    h, w = mask.shape
    if h == 0 or w == 0 or h > cell.shape[0]:
        return
    x, y = (cx - w // 2, cy - h // 2) if centre else (cx, cy)
    cell[y : y + h, x : x + w][mask] = TEXT


# -- the font ----------------------------------------------------------------------

# 5x7 glyphs: seven rows, five bits each (bit 4 the leftmost column), in hex
_GLYPHS = {
    "0": "0E11131519110E",
    "1": "040C040404040E",
    "2": "0E11010204081F",
    "3": "1F02040201110E",
    "4": "02060A121F0202",
    "5": "1F101E0101110E",
    "6": "0608101E11110E",
    "7": "1F010204080808",
    "8": "0E11110E11110E",
    "9": "0E11110F01020C",
    "A": "0E11111F111111",
    "B": "1E11111E11111E",
    "C": "0E11101010110E",
    "D": "1C12111111121C",
    "E": "1F10101E10101F",
    "F": "1F10101E101010",
    "G": "0E11101711110F",
    "H": "1111111F111111",
    "I": "0E04040404040E",
    "J": "0702020202120C",
    "K": "11121418141211",
    "L": "1010101010101F",
    "M": "111B1515111111",
    "N": "11111915131111",
    "O": "0E11111111110E",
    "P": "1E11111E101010",
    "Q": "0E11111115120D",
    "R": "1E11111E141211",
    "S": "0F10100E01011E",
    "T": "1F040404040404",
    "U": "1111111111110E",
    "V": "11111111110A04",
    "W": "1111111515150A",
    "X": "11110A040A1111",
    "Y": "1111110A040404",
    "Z": "1F01020408101F",
    " ": "00000000000000",
    ".": "00000000000C0C",
    ",": "000000000C0408",
    "-": "0000001F000000",
    "_": "0000000000001F",
    "(": "02040808080402",
    ")": "08040202020408",
    ":": "000C0C000C0C00",
    "'": "04040800000000",
    "!": "04040404040004",
    "?": "0E110102040004",
    "@": "0E11010D15150E",
    "/": "01010204081010",
    "&": "0C12140815120D",
    "+": "0004041F040400",
    "#": "0A0A1F0A1F0A0A",
}
_UNKNOWN = "1F11111111111F"

_CYRILLIC = dict(
    zip(
        "АБВГДЕЁЖЗИЙКЛМНОПРСТУФХЦЧШЩЪЫЬЭЮЯІЇЄҐ",
        [
            "A",
            "B",
            "V",
            "G",
            "D",
            "E",
            "E",
            "ZH",
            "Z",
            "I",
            "I",
            "K",
            "L",
            "M",
            "N",
            "O",
            "P",
            "R",
            "S",
            "T",
            "U",
            "F",
            "KH",
            "TS",
            "CH",
            "SH",
            "SHCH",
            "-",
            "Y",
            "-",
            "E",
            "YU",
            "YA",
            "I",
            "I",
            "E",
            "G",
        ],
        strict=True,
    )
)


@lru_cache(maxsize=64)
def _glyph(char: str) -> npt.NDArray[np.bool_]:
    code = _GLYPHS.get(char, _UNKNOWN)
    rows = [int(code[i : i + 2], 16) for i in range(0, 14, 2)]
    return np.array([[(row >> (4 - c)) & 1 for c in range(5)] for row in rows], dtype=bool)


def _fold(name: str) -> str:
    """What the font can draw: capitals, Cyrillic transliterated, accents stripped."""
    out = []
    for char in name.upper():
        if char in _CYRILLIC:
            out.append(_CYRILLIC[char].replace("-", ""))
            continue
        base = "".join(
            c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c)
        )
        out.append(base or char)
    return "".join(out)


@lru_cache(maxsize=512)
def _text_mask(text: str, scale: int, max_width: int) -> npt.NDArray[np.bool_]:
    """The text as a boolean mask, `scale` pixels per font pixel, cut to max_width
    (with ".." at the end when cut)."""
    advance = 6 * scale
    fits = max(0, (max_width + scale) // advance)
    if len(text) > fits:
        text = text[: max(0, fits - 2)] + ".." if fits >= 3 else text[:fits]
    if not text:
        return np.zeros((7 * scale, 0), dtype=bool)
    row = np.zeros((7, 6 * len(text) - 1), dtype=bool)
    for i, char in enumerate(text):
        row[:, 6 * i : 6 * i + 5] = _glyph(char)
    return np.repeat(np.repeat(row, scale, axis=0), scale, axis=1)


# -- sound -------------------------------------------------------------------------


class _Source:
    __slots__ = ("filled", "samples")

    def __init__(self) -> None:
        self.samples = np.zeros(0, np.float32)
        self.filled = np.zeros(0, bool)


class AudioMixer:
    """Mixes sources of 48 kHz mono samples into fixed blocks of `block` samples.

    `push(source, samples, at_sample)` places samples on the common timeline (sample
    `at_sample` from the recording's start); `pull(until)` hands out every whole block
    before `until` and moves on. A source that has not delivered a block's samples when
    it is pulled contributes silence there, so a late or vanished source never stalls
    the mix; what it delivers later for those samples is dropped (counted in
    `dropped_late`). Samples more than `max_ahead` past the mixer's position are dropped
    too (`dropped_ahead`): a runaway timestamp must not grow memory. A sample delivered
    twice for one source counts once (the first delivery wins).

    Samples: int16 (full scale 32768) or float (full scale 1.0), 1-D, or 2-D
    (channels, n), whose channels are averaged. Out: int16 mono, the float32 sum
    soft-limited above `knee` of full scale, so loud speakers together never wrap.
    """

    def __init__(
        self, block: int = BLOCK, max_ahead: int = 10 * SAMPLE_RATE, knee: float = 0.8
    ) -> None:
        self.block = block
        self.max_ahead = max_ahead
        self.knee = knee
        self.position = 0  # the next sample pull hands out
        self.dropped_late = 0
        self.dropped_ahead = 0
        self._sources: dict[str, _Source] = {}

    def push(self, source_id: str, samples: npt.NDArray[np.generic], at_sample: int) -> int:
        """Add a source's samples starting at `at_sample`; how many were taken."""
        data = _as_float(samples)
        start, end = at_sample, at_sample + len(data)
        low = max(start, self.position)
        high = min(end, self.position + self.max_ahead)
        self.dropped_late += max(0, min(end, self.position) - start)
        self.dropped_ahead += max(0, end - max(start, self.position + self.max_ahead))
        if high <= low:
            return 0
        source = self._sources.get(source_id)
        if source is None:
            source = self._sources[source_id] = _Source()
        need = high - self.position
        if len(source.samples) < need:
            grow = need - len(source.samples)
            source.samples = np.concatenate([source.samples, np.zeros(grow, np.float32)])
            source.filled = np.concatenate([source.filled, np.zeros(grow, bool)])
        offset = low - self.position
        target = source.samples[offset : offset + high - low]
        filled = source.filled[offset : offset + high - low]
        np.copyto(target, data[low - start : high - start], where=~filled)
        filled[:] = True
        return high - low

    def pull(self, until_sample: int) -> npt.NDArray[np.int16]:
        """Every whole block from the position up to `until_sample`, mixed (int16);
        empty when not one whole block is due."""
        n = (until_sample - self.position) // self.block * self.block
        if n <= 0:
            return np.zeros(0, np.int16)
        mix = np.zeros(n, np.float32)
        for source_id, source in list(self._sources.items()):
            m = min(n, len(source.samples))
            mix[:m] += source.samples[:m]
            source.samples = source.samples[n:]
            source.filled = source.filled[n:]
            if not len(source.samples):
                del self._sources[source_id]  # nothing ahead: forget it until it speaks
        self.position += n
        return _limit(mix, self.knee)

    def sources(self) -> list[str]:
        """The sources with samples waiting to be mixed."""
        return list(self._sources)


def _as_float(samples: npt.NDArray[np.generic]) -> npt.NDArray[np.float32]:
    array = np.asarray(samples)
    if array.ndim == 2:
        array = array.astype(np.float32).mean(axis=0) if array.shape[0] > 1 else array[0]
    if array.dtype == np.int16:
        return array.astype(np.float32) / 32768.0
    if np.issubdtype(array.dtype, np.integer):
        raise TypeError(f"audio samples must be int16 or float, not {array.dtype}")
    return np.ascontiguousarray(array.reshape(-1), dtype=np.float32)


def _limit(mix: npt.NDArray[np.float32], knee: float) -> npt.NDArray[np.int16]:
    """Full-scale float to int16: linear up to `knee`, then a tanh curve towards 1."""
    magnitude = np.abs(mix)
    over = magnitude > knee
    if over.any():
        room = 1.0 - knee
        curved = knee + room * np.tanh((magnitude[over] - knee) / room)
        mix[over] = np.copysign(curved, mix[over])
    out: npt.NDArray[np.int16] = np.clip(np.rint(mix * 32767.0), -32768, 32767).astype(np.int16)
    return out
