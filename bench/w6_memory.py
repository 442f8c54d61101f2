"""W6: peak memory of 200 element-wise ops on 10^6 float32 then backward, release after each
iteration, and the backward of a 10^6-node chain."""

from __future__ import annotations

import gc
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

import numpy as np

from ._harness import MB, Part, Target, current_rss, load_library, peak_rss, reset_peak_rss

TITLE = ("W6 memory: 200 element-wise ops on 10^6 float32 + backward (peak, release); "
         "10^6-node chain backward")
SIZE = 10 ** 6
OPS = 200
ITERATIONS = 5
CHAIN = 10 ** 6
FACTOR = 0.999999
# Every allocation of 128 KiB or more gets its own mapping, returned to the system when freed,
# in every implementation: RSS then follows the live arrays instead of malloc's caching policy.
MALLOC = {"MALLOC_MMAP_THRESHOLD_": str(128 * 1024)}
RELEASE_TOLERANCE_MB = 0.5  # an eighth of one 4 MB tensor: any retained tensor shows
PARTS = [
    Part("elementwise", ("torch", "tapegrad", "numpy"),
         metrics={"peak above baseline (RSS)": "MB", "peak above baseline (tracemalloc)": "MB",
                  "forward+backward": "s"},
         targets=[Target("peak above baseline (RSS)", "torch", 1.1)], env=MALLOC, rounds=False),
    Part("chain", ("torch", "tapegrad"),
         metrics={"chain forward": "s", "chain backward": "s", "chain release": "s",
                  "chain peak above baseline (RSS)": "MB"},
         agree={"chain gradient": 1e-9}, env=MALLOC, rounds=False),
]


def _data() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    # shift 0.3 and scale 1 give a stable fixed point whose derivative is about 0.84: gradients
    # shrink to about 1e-3 over the chain, never to denormal numbers.
    return (rng.standard_normal(SIZE).astype(np.float32), np.full(SIZE, 0.3, np.float32),
            np.ones(SIZE, np.float32))


def make_iteration(lib: Any) -> tuple[Callable[[], None], Any]:
    """The same source for tapegrad and torch: forward, backward, then drop the gradient."""
    x_array, shift_array, scale_array = _data()
    x = lib.tensor(x_array, requires_grad=True)
    shift, scale = lib.tensor(shift_array), lib.tensor(scale_array)

    def iteration() -> None:
        y = x
        for i in range(OPS):
            kind = i % 5
            if kind == 0:
                y = y + shift
            elif kind == 1:
                y = y * scale
            elif kind == 2:
                y = lib.sin(y)
            elif kind == 3:
                y = lib.pow(y, 2)
            else:
                y = lib.tanh(y)
        y.sum().backward()
        x.grad = None  # as optimizer.zero_grad(): nothing of the step outlives it

    return iteration, x


def make_numpy_iteration() -> Callable[[], None]:
    """Forward keeping what the hand-written backward needs, then that backward."""
    x, shift, scale = _data()

    def iteration() -> None:
        saved = []
        y = x
        for i in range(OPS):
            kind = i % 5
            if kind == 0:
                y = y + shift
                saved.append(None)
            elif kind == 1:
                y = y * scale
                saved.append(None)
            elif kind in (2, 3):
                saved.append(y)
                y = np.sin(y) if kind == 2 else np.power(y, 2)
            else:
                y = np.tanh(y)
                saved.append(y)
        grad = np.ones_like(y)
        for i in range(OPS - 1, -1, -1):
            kind = i % 5
            if kind == 1:
                grad = grad * scale
            elif kind == 2:
                grad = grad * np.cos(saved[i])
            elif kind == 3:
                grad = grad * (2 * saved[i])
            elif kind == 4:
                grad = grad * (1 - saved[i] * saved[i])
            saved[i] = None
        del grad

    return iteration


def run_elementwise(implementation: str, quick: bool) -> dict:
    if implementation == "numpy":
        iteration = make_numpy_iteration()
    else:
        iteration, _ = make_iteration(load_library(implementation))
    iteration()  # warm-up: code paths, caches and lazy initialisation are in place
    gc.collect()
    baseline = current_rss()
    reset_peak_rss()
    times, after, after_collect = [], [], []
    for index in range(ITERATIONS):
        start = time.perf_counter()
        iteration()
        times.append(time.perf_counter() - start)
        if index == 0:
            peak = peak_rss() - baseline
        # Without a collection first: PyTorch frees a graph by reference counting alone.
        after.append((current_rss() - baseline) / MB)
        gc.collect()
        after_collect.append((current_rss() - baseline) / MB)
    metrics = {"peak above baseline (RSS)": [peak / MB], "forward+backward": times}
    released = max(abs(value) for value in after) <= RELEASE_TOLERANCE_MB
    checks = {"RSS back to baseline after each of 5 iterations (no gc.collect)": [
        released, "deltas " + ", ".join(f"{value:+.2f}" for value in after) + " MB; after "
        "gc.collect " + ", ".join(f"{value:+.2f}" for value in after_collect) + " MB"]}
    if implementation != "torch":  # torch's allocations are invisible to tracemalloc
        # Only what is allocated after start() is traced: the baseline is what the first
        # measured iteration finds (the inputs, made earlier, are not counted).
        tracemalloc.start()
        traced_baseline = tracemalloc.get_traced_memory()[0]
        traced_after = []
        for index in range(2 if quick else ITERATIONS):
            iteration()
            if index == 0:
                traced_peak = tracemalloc.get_traced_memory()[1] - traced_baseline
            traced_after.append((tracemalloc.get_traced_memory()[0] - traced_baseline) / MB)
        tracemalloc.stop()
        metrics["peak above baseline (tracemalloc)"] = [traced_peak / MB]
        checks[f"traced memory back to baseline after each of {len(traced_after)} iterations "
               "(no gc.collect)"] = [
            max(abs(value) for value in traced_after) <= RELEASE_TOLERANCE_MB,
            "deltas " + ", ".join(f"{value:+.3f}" for value in traced_after) + " MB"]
    notes = ["peak (RSS): VmHWM reset through /proc/self/clear_refs just before the first "
             "measured iteration, minus VmRSS then; large blocks are mmapped "
             f"({next(iter(MALLOC))}={MALLOC['MALLOC_MMAP_THRESHOLD_']}) in every "
             "implementation, so forward+backward times here include a fresh mapping (page "
             "faults) per 4 MB array: context only, no target",
             "peak (tracemalloc, tapegrad and NumPy only): traced bytes allocated after "
             "tracemalloc.start(), NumPy's array buffers included; the small residual deltas "
             "are interpreter free lists and caches (they stop growing: about 95 KB after "
             "100 iterations of a 16-element chain, unchanged to 1600)"]
    return {"metrics": metrics, "checks": checks,
            "notes": notes if implementation == "torch" else []}


def run_chain(implementation: str) -> dict:
    lib = load_library(implementation)

    def build(length: int) -> tuple[Any, Any]:
        x = lib.tensor([1.0], dtype=lib.float64, requires_grad=True)
        y = x
        for _ in range(length):
            y = y * FACTOR
        return x, y.sum()

    x, loss = build(1000)  # warm-up
    loss.backward()
    del x, loss
    gc.collect()
    baseline = current_rss()
    reset_peak_rss()
    start = time.perf_counter()
    x, loss = build(CHAIN)
    built = time.perf_counter()
    checks = {}
    try:
        loss.backward()
        error = None
    except RecursionError as caught:
        error = caught
    finished = time.perf_counter()
    peak = peak_rss() - baseline
    del loss
    released = time.perf_counter()
    metrics = {"chain forward": [built - start], "chain backward": [finished - built],
               "chain release": [released - finished],
               "chain peak above baseline (RSS)": [peak / MB]}
    if error is not None:
        checks[f"backward of the {CHAIN}-node chain"] = [False, f"RecursionError: {error}"]
        return {"metrics": metrics, "checks": checks}
    gradient = x.grad.item()
    expected = FACTOR ** CHAIN
    checks[f"backward of the {CHAIN}-node chain"] = [
        abs(gradient - expected) <= 1e-9 * expected,
        f"no RecursionError; x.grad = {gradient:.12f}, {FACTOR}^{CHAIN} = {expected:.12f}; "
        f"{(current_rss() - baseline) / MB:+.1f} MB left after freeing the graph"]
    return {"metrics": metrics, "checks": checks, "values": {"chain gradient": gradient}}


def run(part: str, implementation: str, measure: Any, quick: bool = False) -> dict:
    if part == "elementwise":
        return run_elementwise(implementation, quick)
    return run_chain(implementation)
