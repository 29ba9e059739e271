"""The recorder's picture (layout, compose) and sound (AudioMixer), checked by pixels and FFT."""

from __future__ import annotations

import time

import numpy as np
import pytest

from recorder.compose import (
    BLOCK,
    HIGHLIGHT,
    LETTERBOX,
    TEXT,
    TILE_BACKGROUND,
    AudioMixer,
    Placement,
    Tile,
    compose,
    layout,
    screen_key,
)

W, H = 1280, 720
COLOURS = [
    (200, 30, 30),
    (30, 200, 30),
    (30, 30, 200),
    (200, 200, 30),
    (200, 30, 200),
    (30, 200, 200),
    (120, 60, 10),
    (10, 120, 60),
    (60, 10, 120),
    (90, 90, 90),
]


def tiles(n: int) -> list[Tile]:
    return [Tile(f"p{i}", f"Pupil {i}") for i in range(n)]


def solid(colour: tuple[int, int, int], w: int = 640, h: int = 360) -> np.ndarray:
    frame = np.empty((h, w, 3), np.uint8)
    frame[:] = colour
    return frame


def assert_inside_without_overlap(placements: list[Placement]) -> None:
    for p in placements:
        assert p.w > 0 and p.h > 0
        assert p.x >= 0 and p.x + p.w <= W and p.y >= 0 and p.y + p.h <= H, p
    for i, a in enumerate(placements):
        for b in placements[i + 1 :]:
            apart = a.x + a.w <= b.x or b.x + b.w <= a.x or a.y + a.h <= b.y or b.y + b.h <= a.y
            assert apart, (a, b)


@pytest.mark.parametrize(("n", "cols", "rows"), [(1, 1, 1), (2, 2, 1), (4, 2, 2), (9, 3, 3)])
def test_grid_layouts_fit_the_frame_without_overlap(n: int, cols: int, rows: int) -> None:
    placements = layout(tiles(n), None, None, (W, H))
    assert [p.key for p in placements] == [f"p{i}" for i in range(n)]
    assert_inside_without_overlap(placements)
    assert len({p.x for p in placements}) == cols
    assert len({p.y for p in placements}) == rows
    for p in placements:
        assert abs(p.w / p.h - 16 / 9) < 0.03  # the cells keep the cameras' aspect
        assert not p.highlight
    # centred: the margins left and right (and top and bottom) match within a pixel or two
    left = min(p.x for p in placements)
    right = W - max(p.x + p.w for p in placements)
    top = min(p.y for p in placements)
    bottom = H - max(p.y + p.h for p in placements)
    assert abs(left - right) <= 2 and abs(top - bottom) <= 2
    # and they are large: the grid fills the frame's width or height
    assert max(p.x + p.w for p in placements) - left > 0.9 * W or bottom + top < 0.1 * H


def test_three_tiles_centre_the_short_last_row() -> None:
    placements = layout(tiles(3), None, None, (W, H))
    assert_inside_without_overlap(placements)
    last = placements[2]
    assert abs((last.x + last.w / 2) - W / 2) <= 2


def test_the_speakers_tile_is_the_one_highlighted() -> None:
    placements = layout(tiles(4), None, "p2", (W, H))
    assert [p.highlight for p in placements] == [False, False, True, False]


def test_a_shared_screen_is_large_with_the_speaker_beside_it() -> None:
    placements = layout(tiles(5), "p0", "p3", (W, H))
    assert_inside_without_overlap(placements)
    screen = placements[0]
    assert screen.key == screen_key("p0") and screen.screen
    assert screen.w >= 0.7 * W
    assert "Pupil 0" in screen.name
    beside = placements[1]
    assert beside.key == "p3" and beside.highlight
    assert beside.x >= screen.x + screen.w
    assert all(p.w * p.h < screen.w * screen.h / 4 for p in placements[1:])
    # with nobody speaking, the first camera goes beside it
    quiet = layout(tiles(2), "p1", None, (W, H))
    assert [p.key for p in quiet] == [screen_key("p1"), "p0", "p1"]
    assert not any(p.highlight for p in quiet)
    # a screen with no cameras at all
    alone = layout([], "p7", None, (W, H))
    assert [p.key for p in alone] == [screen_key("p7")]


def centre(p: Placement) -> tuple[int, int]:
    return p.y + p.h // 2, p.x + p.w // 2


@pytest.mark.parametrize("n", [1, 2, 4, 9])
def test_compose_puts_each_participant_in_their_cell(n: int) -> None:
    placements = layout(tiles(n), None, None, (W, H))
    sizes = [(640, 360), (1280, 720), (320, 180), (1920, 1080)]
    frames = {f"p{i}": solid(COLOURS[i], *sizes[i % len(sizes)]) for i in range(n)}
    image = compose(frames, placements, (W, H))
    assert image.shape == (H, W, 3) and image.dtype == np.uint8
    for i, p in enumerate(placements):
        assert tuple(image[centre(p)]) == COLOURS[i], p
        assert tuple(image[p.y + 4, p.x + p.w - 8]) == COLOURS[i]  # the whole cell, not a dot


def test_compose_with_a_shared_screen() -> None:
    placements = layout(tiles(3), "p1", "p2", (W, H))
    frames = {f"p{i}": solid(COLOURS[i]) for i in range(3)}
    frames[screen_key("p1")] = solid(COLOURS[9], 1920, 1080)
    image = compose(frames, placements, (W, H))
    for p in placements:
        expected = COLOURS[9] if p.screen else COLOURS[int(p.key[1:])]
        assert tuple(image[centre(p)]) == expected


def test_the_speakers_highlight_is_drawn() -> None:
    placements = layout(tiles(4), None, "p1", (W, H))
    frames = {f"p{i}": solid(COLOURS[i]) for i in range(4)}
    image = compose(frames, placements, (W, H))
    for p in placements:
        y, x = centre(p)
        edges = [image[p.y + 1, x], image[y, p.x + 1], image[y, p.x + p.w - 2]]
        if p.key == "p1":
            assert all(tuple(e) == HIGHLIGHT for e in edges)
        else:
            assert all(tuple(e) != HIGHLIGHT for e in edges)


def test_a_missing_picture_is_a_dark_tile_with_the_name() -> None:
    placements = layout(tiles(2), None, None, (W, H))
    image = compose({"p0": solid(COLOURS[0])}, placements, (W, H))
    missing = placements[1]
    cell = image[missing.y : missing.y + missing.h, missing.x : missing.x + missing.w]
    assert tuple(cell[5, 5]) == TILE_BACKGROUND
    middle = cell[missing.h // 2 - 20 : missing.h // 2 + 20]
    assert (middle == TEXT).all(axis=2).sum() > 100  # the name, in the middle
    assert tuple(image[centre(placements[0])]) == COLOURS[0]


def test_names_are_labelled_and_pictures_letterboxed() -> None:
    placements = layout(tiles(1), None, None, (W, H))
    p = placements[0]
    image = compose({"p0": solid(COLOURS[2], 480, 480)}, placements, (W, H))  # square
    cell = image[p.y : p.y + p.h, p.x : p.x + p.w]
    assert tuple(cell[p.h // 2, 5]) == LETTERBOX  # bars left and right
    assert tuple(cell[p.h // 2, p.w - 5]) == LETTERBOX
    assert tuple(cell[p.h // 2, p.w // 2]) == COLOURS[2]
    label = cell[-40:, :300]
    assert (label == TEXT).all(axis=2).sum() > 50


def test_names_in_cyrillic_and_long_names_are_drawn() -> None:
    named = [Tile("a", "Ирина Петровна Сидорова-Кузнецова, учитель"), Tile("b", "Zoë")]
    placements = layout(named, None, None, (W, H))
    image = compose({}, placements, (W, H))
    for p in placements:
        cell = image[p.y : p.y + p.h, p.x : p.x + p.w]
        assert (cell == TEXT).all(axis=2).sum() > 50


def test_compose_is_fast_enough_for_the_recorder() -> None:
    placements = layout(tiles(9), None, "p0", (W, H))
    frames = {f"p{i}": solid(COLOURS[i], 1280, 720) for i in range(9)}
    compose(frames, placements, (W, H))
    start = time.perf_counter()
    for _ in range(10):
        compose(frames, placements, (W, H))
    per_frame = (time.perf_counter() - start) / 10
    assert per_frame < 0.05  # a 15 fps recording has 66 ms a frame for everything


# -- the mixer ---------------------------------------------------------------------


def tone(freq: float, n: int, start: int = 0, amplitude: float = 0.3) -> np.ndarray:
    t = (np.arange(n) + start) / 48000
    return (np.sin(2 * np.pi * freq * t) * amplitude * 32767).astype(np.int16)


def peaks(signal: np.ndarray, count: int) -> list[float]:
    spectrum = np.abs(np.fft.rfft(signal.astype(np.float64) * np.hanning(len(signal))))
    freqs = np.fft.rfftfreq(len(signal), 1 / 48000)
    found: list[float] = []
    for index in np.argsort(spectrum)[::-1]:
        if all(abs(freqs[index] - f) > 20 for f in found):
            found.append(float(freqs[index]))
        if len(found) == count:
            break
    return sorted(found)


def test_two_tones_mix_into_both_peaks() -> None:
    mixer = AudioMixer()
    out = []
    for block in range(50):  # one second, in 20 ms chunks as the decoders give them
        at = block * BLOCK
        mixer.push("teacher", tone(440, BLOCK, at), at)
        mixer.push("pupil", tone(660, BLOCK, at), at)
        out.append(mixer.pull(at + BLOCK))
    mixed = np.concatenate(out)
    assert mixed.dtype == np.int16 and len(mixed) == 48000
    assert peaks(mixed, 2) == pytest.approx([440, 660], abs=2)
    # each tone at 0.3 of full scale: the sum stays linear (no limiting below the knee)
    expected = tone(440, 48000).astype(np.int32) + tone(660, 48000)
    assert np.abs(mixed.astype(np.int32) - expected).max() <= 2


def test_blocks_are_whole_and_pull_hands_out_only_what_is_due() -> None:
    mixer = AudioMixer()
    assert len(mixer.pull(BLOCK - 1)) == 0
    mixer.push("a", tone(440, 3000), 0)
    assert len(mixer.pull(2500)) == 2 * BLOCK  # whole blocks only
    assert mixer.position == 2 * BLOCK
    assert len(mixer.pull(2 * BLOCK)) == 0


def test_a_missing_source_is_silence_and_never_blocks() -> None:
    mixer = AudioMixer()
    mixer.push("teacher", tone(440, BLOCK), 0)
    mixer.push("pupil", tone(660, BLOCK), 0)
    first = mixer.pull(BLOCK)
    # the pupil's next block is late; the teacher's is there: out it goes anyway
    mixer.push("teacher", tone(440, BLOCK, BLOCK), BLOCK)
    second = mixer.pull(2 * BLOCK)
    assert len(first) == len(second) == BLOCK
    assert np.abs(second.astype(np.int32) - tone(440, BLOCK, BLOCK)).max() <= 1
    # nobody at all: silence, still on time
    third = mixer.pull(3 * BLOCK)
    assert len(third) == BLOCK and not third.any()


def test_late_data_for_a_block_already_pulled_is_dropped() -> None:
    mixer = AudioMixer()
    silence = mixer.pull(2 * BLOCK)
    assert len(silence) == 2 * BLOCK and not silence.any()
    late = tone(660, 3 * BLOCK)
    taken = mixer.push("pupil", late, 0)  # two blocks too late, one in time
    assert taken == BLOCK and mixer.dropped_late == 2 * BLOCK
    third = mixer.pull(3 * BLOCK)
    assert np.array_equal(third, late[2 * BLOCK :])  # only the part still due is played


def test_a_source_delivered_twice_counts_once_and_far_future_is_dropped() -> None:
    mixer = AudioMixer(max_ahead=10 * BLOCK)
    chunk = tone(440, BLOCK)
    mixer.push("a", chunk, 0)
    mixer.push("a", chunk, 0)  # a retransmission, say
    assert np.abs(mixer.pull(BLOCK).astype(np.int32) - chunk).max() <= 1
    assert mixer.push("a", chunk, 1_000_000) == 0
    assert mixer.dropped_ahead == BLOCK


def test_loud_sources_are_limited_not_wrapped() -> None:
    mixer = AudioMixer()
    loud = np.full(BLOCK, 30000, np.int16)
    for source in "abc":
        mixer.push(source, loud, 0)
    mixer.push("d", np.full(BLOCK, 0.9, np.float32), 0)  # float samples, full scale 1.0
    out = mixer.pull(BLOCK)
    assert out.min() > 30000  # positive, near full scale, never wrapped negative
    # and below the knee the mix is linear
    mixer.push("a", np.full(BLOCK, 8000, np.int16), BLOCK)
    mixer.push("b", np.full(BLOCK, 8000, np.int16), BLOCK)
    assert np.abs(mixer.pull(2 * BLOCK).astype(np.int32) - 16000).max() <= 1
