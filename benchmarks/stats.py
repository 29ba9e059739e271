"""Latency histograms that merge across processes, and percentiles read from them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

BIN_US = 10
"""Width of a latency bin in microseconds: percentiles are exact to 10 µs."""
MAX_BINS = 100_000  # one second; slower packets land in the last bin (max is kept apart)


def histogram(latencies_ns: npt.NDArray[np.int64]) -> dict[int, int]:
    """Sparse histogram {bin: count} of latencies given in nanoseconds."""
    if latencies_ns.size == 0:
        return {}
    bins = np.clip(latencies_ns // (BIN_US * 1000), 0, MAX_BINS - 1)
    counts = np.bincount(bins)
    nonzero = np.nonzero(counts)[0]
    return {int(b): int(counts[b]) for b in nonzero}


def merge(histograms: Iterable[Mapping[Any, int]]) -> dict[int, int]:
    merged: dict[int, int] = {}
    for h in histograms:
        for key, count in h.items():
            b = int(key)
            merged[b] = merged.get(b, 0) + int(count)
    return merged


def percentiles_ms(hist: Mapping[int, int], quantiles: Iterable[float]) -> dict[str, float | None]:
    """Percentiles in milliseconds (upper edge of the bin holding the quantile)."""
    quantiles = list(quantiles)
    total = sum(hist.values())
    if not total:
        return {_name(q): None for q in quantiles}
    keys = sorted(hist)
    counts = np.cumsum([hist[k] for k in keys])
    out: dict[str, float | None] = {}
    for q in quantiles:
        rank = q * total
        index = int(np.searchsorted(counts, rank, side="left"))
        index = min(index, len(keys) - 1)
        out[_name(q)] = round((keys[index] + 1) * BIN_US / 1000, 3)
    return out


def _name(q: float) -> str:
    text = f"{q * 100:.3f}".rstrip("0").rstrip(".")
    return "p" + text.replace(".", "")


def summary(values: Iterable[float]) -> dict[str, float | None]:
    data = [v for v in values if v is not None]
    if not data:
        return {"mean": None, "min": None, "max": None}
    return {
        "mean": round(float(np.mean(data)), 4),
        "min": round(float(np.min(data)), 4),
        "max": round(float(np.max(data)), 4),
    }
