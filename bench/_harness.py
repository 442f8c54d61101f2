"""Child-side measuring tools: timing with warm-up and calibrated repetitions, RSS probes."""

from __future__ import annotations

import gc
import importlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


class NotAvailable(Exception):
    """The implementation cannot run this workload yet (a feature it needs is missing)."""


@dataclass
class Target:
    """``metric`` of tapegrad must be <= ``limit`` x ``baseline``'s (or <= ``limit`` itself when
    ``baseline`` is None, in the metric's unit)."""

    metric: str
    baseline: str | None
    limit: float


@dataclass
class Part:
    """One measured program of a workload, run once per implementation in a fresh process."""

    name: str
    implementations: tuple[str, ...]
    metrics: dict[str, str]  # metric name -> unit
    targets: list[Target] = field(default_factory=list)
    # Checks compared across implementations by the runner: value name -> relative tolerance.
    agree: dict[str, float] = field(default_factory=dict)
    # Extra environment of the child process (e.g. malloc settings for memory measurements).
    env: dict[str, str] = field(default_factory=dict)
    # Timed parts run in rounds, the implementations' order rotating, and pool the samples:
    # a slow spell of the shared machine then falls on every implementation alike.
    rounds: bool = True


def load_library(implementation: str) -> Any:
    """The torch-shaped module for ``implementation`` (tapegrad or torch, one thread)."""
    if implementation == "torch":
        import torch

        torch.set_num_threads(1)
        try:
            torch.set_num_interop_threads(1)
        except RuntimeError:  # only allowed before any parallel work; already 1 in a fresh child
            pass
        return torch
    if implementation == "tapegrad":
        return importlib.import_module("tapegrad")
    raise ValueError(implementation)


def measure(step: Callable[[], Any], repetitions: int, min_sample_s: float,
            warmup: int = 2) -> list[float]:
    """Seconds per call of ``step``: ``warmup`` calls, then ``repetitions`` samples, each the mean
    of enough back-to-back calls to last at least ``min_sample_s`` (as timeit's autorange)."""
    for _ in range(warmup):
        step()
    calls = 1
    while True:
        gc.collect()
        start = time.perf_counter()
        for _ in range(calls):
            step()
        elapsed = time.perf_counter() - start
        if elapsed >= min_sample_s or calls >= 1 << 20:
            break
        # Aim a little past the minimum so the next try usually suffices.
        calls = max(calls * 2, int(calls * 1.2 * min_sample_s / max(elapsed, 1e-9)))
    samples = [elapsed / calls]
    for _ in range(repetitions - 1):
        gc.collect()  # each sample starts from the same collector state; gc stays enabled
        start = time.perf_counter()
        for _ in range(calls):
            step()
        samples.append((time.perf_counter() - start) / calls)
    return samples


def profile_calls(step: Callable[[], Any], calls: int, top: int = 15) -> dict:
    """cProfile ``calls`` calls of ``step`` (after one warm-up call): the ``top`` functions by own
    time, as rows [function, ncalls, own seconds, cumulative seconds], own time by file, and the
    total seconds."""
    import cProfile

    step()
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(calls):
        step()
    profiler.disable()
    return dict(profile_rows(profiler, top), calls=calls)


def profile_rows(profiler: Any, top: int) -> dict:
    import os
    import pstats

    stats = pstats.Stats(profiler)
    rows = []
    by_file: dict[str, float] = {}
    for (filename, line, name), (_, ncalls, own, cumulative, _) in stats.stats.items():
        if filename == "~":  # a built-in: name reads like "<built-in method numpy.sin>"
            where, home = name, "built-ins and C functions (NumPy kernels among them)"
        else:
            home = _short_path(filename, os.sep)
            where = f"{name} ({home}:{line})"
        rows.append([where, ncalls, own, cumulative])
        by_file[home] = by_file.get(home, 0.0) + own
    rows.sort(key=lambda row: -row[2])
    files = sorted(by_file.items(), key=lambda item: -item[1])
    return {"total_s": stats.total_tt, "rows": rows[:top],
            "files": [[home, own] for home, own in files[:8]]}


def profile_import(module: str, top: int = 15) -> dict:
    """cProfile of the first ``import module`` in this process."""
    import cProfile

    profiler = cProfile.Profile()
    profiler.enable()
    importlib.import_module(module)
    profiler.disable()
    return dict(profile_rows(profiler, top), calls=1)


def _short_path(filename: str, separator: str) -> str:
    """``tapegrad/_dispatch.py`` or ``numpy/_core/fromnumeric.py``: from the package down."""
    parts = filename.split(separator)
    for anchor in ("tapegrad", "site-packages"):
        if anchor in parts:
            index = len(parts) - 1 - parts[::-1].index(anchor)
            return separator.join(parts[index + (anchor == "site-packages"):])
    return separator.join(parts[-2:])


def _status_kib(field_name: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field_name} missing from /proc/self/status")


def current_rss() -> int:
    """Resident set size of this process, in bytes."""
    return _status_kib("VmRSS") * 1024


def reset_peak_rss() -> None:
    """Reset the kernel's high-water mark of RSS (VmHWM) to the current RSS (Linux >= 4.0)."""
    with open("/proc/self/clear_refs", "w") as clear_refs:
        clear_refs.write("5")


def peak_rss() -> int:
    """High-water mark of RSS since the last reset_peak_rss(), in bytes."""
    return _status_kib("VmHWM") * 1024


MB = 1024 * 1024
