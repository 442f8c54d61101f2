"""Short text for tensors, shapes and saved values, as shown in pictures and tables."""

from __future__ import annotations

from typing import Any

import numpy as np


def size_text(shape: Any) -> str:
    """torchviz's size label: ``(2, 3)``, ``(3)``, ``()``."""
    return "(" + ", ".join(str(int(n)) for n in shape) + ")"


def array_of(value: Any) -> np.ndarray | None:
    """The NumPy array behind a tensor (or an array); None for anything else."""
    data = getattr(value, "_data", value)
    return data if isinstance(data, np.ndarray) else None


def dtype_text(value: Any) -> str:
    dtype = getattr(value, "dtype", None)
    if dtype is None:
        return type(value).__name__
    name = getattr(dtype, "name", str(dtype))
    return f"torch.{name}" if not str(name).startswith("torch.") else str(name)


def values_text(value: Any, limit: int = 60) -> str:
    """One line of numbers, cut at ``limit`` characters: ``[-2., -2., 0., 2.]``."""
    array = array_of(value)
    if array is None:
        if value is None:
            return "None"
        text = repr(value)
    elif array.ndim == 0:
        text = np.format_float_positional(array.item(), precision=4, trim="-") if \
            array.dtype.kind == "f" else repr(array.item())
    else:
        text = np.array2string(array, precision=4, separator=", ", threshold=12, edgeitems=2,
                               max_line_width=10**6, suppress_small=True)
        text = " ".join(text.split())
    if len(text) > limit:
        text = text[:limit - 1] + "\u2026"
    return text


def tensor_summary(value: Any, limit: int = 60, dtype: bool = True) -> str:
    """``(2, 3) torch.float32 [[...]]`` or ``() torch.float32 -2``."""
    array = array_of(value)
    if array is None:
        return values_text(value, limit)
    kind = f" {dtype_text(value)}" if dtype else ""
    return f"{size_text(array.shape)}{kind} {values_text(value, limit)}"


def full_text(value: Any, limit: int = 2000) -> str:
    """A tensor's values as tapegrad prints them (cut for tooltips)."""
    if value is None:
        return "None"
    detach = getattr(value, "detach", None)
    text = repr(detach()) if callable(detach) else repr(value)
    return text if len(text) <= limit else text[:limit - 1] + "\u2026"
