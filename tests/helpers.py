"""Test helpers: build the same inputs for tapegrad and PyTorch, compare results."""

from __future__ import annotations

import zlib
from typing import Any

import numpy as np
import torch

import tapegrad
from tapegrad.ops._samples import Sample


def rng_for(*keys: Any) -> np.random.Generator:
    return np.random.default_rng(zlib.crc32(repr(keys).encode()))


def make_arrays(sample: Sample, rng: np.random.Generator, dtype=np.float64) -> list:
    """One array per tensor input (or a Python number where the shape is None)."""
    low, high = sample.domain
    arrays = []
    for shape in sample.shapes:
        if shape is None:
            arrays.append(sample.kwargs.get("_scalar", 1.5))
        elif sample.integer:
            arrays.append(rng.integers(int(low), int(high) + 1, shape).astype(np.int64))
        else:
            arrays.append(rng.uniform(low, high, shape).astype(dtype))
    return arrays


def convert_arg(value: Any, lib: Any, first_shape: tuple, rng_state: dict) -> Any:
    """Sample arguments that mean something in each library: dtypes, masks, arrays."""
    if isinstance(value, tapegrad.dtype):
        return getattr(lib, value.name)
    if isinstance(value, str) and value == "mask":
        mask = rng_state.setdefault("mask", np.random.default_rng(1).random(first_shape) > 0.5)
        return lib.tensor(mask)
    if isinstance(value, str) and value == "signs":
        # A constant tensor of -1/+1 in the inputs' float dtype (e.g. margin-loss targets).
        signs = np.where(np.random.default_rng(2).random(first_shape) > 0.5, 1.0, -1.0)
        return lib.tensor(signs.astype(rng_state.get("dtype", np.float64)))
    if isinstance(value, np.ndarray):
        return lib.as_tensor(value) if lib is torch else value
    if isinstance(value, tuple):
        return tuple(convert_arg(v, lib, first_shape, rng_state) for v in value)
    return value


def to_lib(arrays: list, lib: Any, requires_grad: bool) -> list:
    result = []
    for array in arrays:
        if isinstance(array, np.ndarray):
            tensor = lib.tensor(array)
            if requires_grad and array.dtype.kind == "f":
                tensor.requires_grad_(True)
            result.append(tensor)
        else:
            result.append(array)
    return result


def resolve(lib: Any, call: Any):
    if callable(call):
        return lambda *args, **kwargs: call(lib, *args, **kwargs)
    target = lib
    for part in call.split("."):
        target = getattr(target, part)
    return target


def as_numpy(value: Any) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        return value.detach().numpy(force=True)  # force: PyTorch's ZeroTensor gradients
    if isinstance(value, tapegrad.Tensor):
        return value.detach().numpy()
    return np.asarray(value)


def assert_close(actual: Any, expected: Any, atol: float = 1e-7, rtol: float = 1e-6,
                 what: str = "") -> None:
    a, e = as_numpy(actual), as_numpy(expected)
    assert a.shape == e.shape, f"{what}: shape {a.shape} != {e.shape}"
    assert str(a.dtype) == str(e.dtype), f"{what}: dtype {a.dtype} != {e.dtype}"
    np.testing.assert_allclose(a, e, atol=atol, rtol=rtol, equal_nan=True, err_msg=what)
