"""Tensor creation: tensor, zeros/ones/full/empty/eye/arange/linspace, *_like, random numbers."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from . import _dtype
from ._backend import quiet
from ._dtype import DEFAULTS, as_dtype
from ._tensor import Tensor, check_device, wrap

# PyTorch's default CPU generator starts from this fixed seed, so a fresh process is
# reproducible; we keep that property (the streams themselves differ from PyTorch's).
DEFAULT_SEED = 67280421310721


class Generator:
    """A random number stream; see torch.Generator."""

    def __init__(self, device: Any = "cpu") -> None:
        check_device(device)
        self._seed = DEFAULT_SEED
        self._stream: np.random.Generator | None = None

    @property
    def _rng(self) -> np.random.Generator:
        """NumPy's stream for this seed, made on first draw: importing numpy.random costs
        about 20 ms, a quarter of `import tapegrad`, and many programs draw nothing."""
        stream = self._stream
        if stream is None:
            stream = self._stream = np.random.Generator(np.random.PCG64(self._seed))
        return stream

    def manual_seed(self, seed: int) -> Generator:
        self._seed = int(seed)
        self._stream = None  # a fresh stream from the new seed, on first draw
        return self

    def seed(self) -> int:
        seed = int(np.random.SeedSequence().entropy % (2**63))
        self.manual_seed(seed)
        return seed

    def initial_seed(self) -> int:
        return self._seed

    def get_state(self) -> Tensor:
        state = repr(self._rng.bit_generator.state).encode()
        return wrap(np.frombuffer(state, dtype=np.uint8).copy())

    def set_state(self, state: Tensor) -> Generator:
        import ast

        self._rng.bit_generator.state = ast.literal_eval(bytes(state._data).decode())
        return self

    @property
    def device(self) -> Any:
        from ._tensor import CPU

        return CPU


default_generator = Generator()


def manual_seed(seed: int) -> Generator:
    """Seed the default generator; see torch.manual_seed."""
    return default_generator.manual_seed(seed)


def seed() -> int:
    return default_generator.seed()


def initial_seed() -> int:
    return default_generator.initial_seed()


def get_rng_state() -> Tensor:
    return default_generator.get_state()


def set_rng_state(state: Tensor) -> None:
    default_generator.set_state(state)


def _rng(generator: Generator | None) -> np.random.Generator:
    return (generator or default_generator)._rng


def parse_size(size: Sequence[Any]) -> tuple[int, ...]:
    """``zeros(2, 3)``, ``zeros((2, 3))``, ``zeros([2, 3])`` and ``zeros(torch.Size(...))``."""
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    result = []
    for value in size:
        if isinstance(value, Tensor):
            value = value.item()
        if not isinstance(value, (int, np.integer)):
            raise TypeError(f"expected a sequence of integers or a single integer, got "
                            f"'{value!r}'")
        if value < 0:
            raise RuntimeError(f"Trying to create tensor with negative dimension {value}: "
                               f"{list(size)}")
        result.append(int(value))
    return tuple(result)


def _sizes(shape: tuple, size: Any) -> tuple:
    """Sizes given positionally (``zeros(2, 3)``) or as ``size=`` (``randn(size=())``)."""
    if size is not None:
        if shape:
            raise TypeError("size given both positionally and as a keyword")
        return (tuple(size),) if not isinstance(size, int) else (size,)
    return shape


def _finish(array: np.ndarray, requires_grad: bool) -> Tensor:
    tensor = wrap(array)
    if requires_grad:
        if array.dtype.kind not in "fc":
            raise RuntimeError("Only Tensors of floating point and complex dtype can require "
                               "gradients")
        tensor._requires_grad = True
    return tensor


def _infer_dtype(data: Any, array: np.ndarray) -> _dtype.dtype:
    """The dtype PyTorch infers from Python data (floats -> the default float dtype)."""
    if isinstance(data, (np.ndarray, np.generic)):
        return _dtype.from_numpy_dtype(array.dtype)
    kind = array.dtype.kind
    if kind == "f":
        if array.dtype == np.float64 and not _contains_float64_tensor(data):
            return DEFAULTS.value
        return _dtype.from_numpy_dtype(array.dtype)
    if kind == "c":
        return _dtype.complex128 if DEFAULTS.value is _dtype.float64 else _dtype.complex64
    if kind in "iu":
        return _dtype.int64 if kind == "i" or array.dtype.itemsize == 8 else \
            _dtype.from_numpy_dtype(array.dtype)
    if kind == "b":
        return _dtype.bool
    raise TypeError(f"Could not infer dtype of {type(data).__name__}")


def _contains_float64_tensor(data: Any) -> bool:
    if isinstance(data, Tensor):
        return data._data.dtype == np.float64
    if isinstance(data, (list, tuple)) and data:
        return _contains_float64_tensor(data[0])
    return False


def _to_array(data: Any) -> np.ndarray:
    if isinstance(data, Tensor):
        return data._data
    if isinstance(data, (list, tuple)):
        if any(isinstance(item, Tensor) for item in data):
            parts = [_to_array(item) for item in data]
            return np.stack(parts) if parts else np.array([])
        return np.array(data)
    if isinstance(data, (int, float, bool, complex, np.ndarray, np.generic)):
        return np.asarray(data)
    if hasattr(data, "__array__"):
        return np.asarray(data)
    raise TypeError(f"new(): invalid data type '{type(data).__name__}'")


def tensor(data: Any, *, dtype: Any = None, device: Any = None, requires_grad: bool = False,
           pin_memory: bool = False) -> Tensor:
    """A new leaf tensor holding a copy of ``data``; see torch.tensor."""
    check_device(device)
    array = _to_array(data)
    target = as_dtype(dtype) if dtype is not None else _infer_dtype(data, array)
    if array.dtype == object:
        raise TypeError("tensor(): could not convert the data to numbers")
    return _finish(np.array(array, dtype=target.numpy, copy=True), requires_grad)


def as_tensor(data: Any, dtype: Any = None, device: Any = None) -> Tensor:
    """Like tensor, but shares memory with a NumPy array or tensor when the dtype matches."""
    check_device(device)
    if isinstance(data, Tensor):
        return data if dtype is None else data.to(as_dtype(dtype))
    if isinstance(data, np.ndarray):
        target = as_dtype(dtype) if dtype is not None else _dtype.from_numpy_dtype(data.dtype)
        return wrap(data if data.dtype == target.numpy else data.astype(target.numpy))
    return tensor(data, dtype=dtype)


def from_numpy(array: np.ndarray) -> Tensor:
    """A tensor sharing memory with ``array``; see torch.from_numpy."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"expected np.ndarray (got {type(array).__name__})")
    _dtype.from_numpy_dtype(array.dtype)
    return wrap(array)


def _dtype_or_default(dtype: Any) -> np.dtype:
    return (as_dtype(dtype) if dtype is not None else DEFAULTS.value).numpy


def _filled(fill: Any, size: Sequence[Any], dtype: Any, requires_grad: bool,
            device: Any) -> Tensor:
    check_device(device)
    shape = parse_size(size)
    # np.zeros and ndarray.fill are C calls; np.full and np.ones are Python wrappers.
    if type(fill) is int and fill == 0:  # an integer zero (a float one may be -0.0)
        return _finish(np.zeros(shape, _dtype_or_default(dtype)), requires_grad)
    array = np.empty(shape, _dtype_or_default(dtype))
    array.fill(fill)
    return _finish(array, requires_grad)


def zeros(*shape: Any, size: Any = None, out: Any = None, dtype: Any = None,
          layout: Any = None, device: Any = None,
          requires_grad: bool = False, pin_memory: bool = False) -> Tensor:
    """See torch.zeros."""
    return _filled(0, _sizes(shape, size), dtype, requires_grad, device)


def ones(*shape: Any, size: Any = None, out: Any = None, dtype: Any = None,
         layout: Any = None, device: Any = None,
         requires_grad: bool = False, pin_memory: bool = False) -> Tensor:
    """See torch.ones."""
    return _filled(1, _sizes(shape, size), dtype, requires_grad, device)


def empty(*shape: Any, size: Any = None, out: Any = None, dtype: Any = None,
          layout: Any = None, device: Any = None,
          requires_grad: bool = False, pin_memory: bool = False,
          memory_format: Any = None) -> Tensor:
    """See torch.empty (zero-filled here: uninitialised memory helps nobody learning)."""
    return _filled(0, _sizes(shape, size), dtype, requires_grad, device)


def full(size: Sequence[int], fill_value: Any, *, out: Any = None, dtype: Any = None,
         layout: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """See torch.full; the dtype follows fill_value (bool, int64 or the default float)."""
    if dtype is None:
        if isinstance(fill_value, Tensor):
            fill_value = fill_value.item()
        dtype = _dtype.scalar_dtype(fill_value)
    return _filled(fill_value, (tuple(size),), dtype, requires_grad, device)


def eye(n: int, m: int | None = None, *, out: Any = None, dtype: Any = None, layout: Any = None,
        device: Any = None, requires_grad: bool = False) -> Tensor:
    """See torch.eye."""
    check_device(device)
    return _finish(np.eye(n, m, dtype=_dtype_or_default(dtype)), requires_grad)


def arange(start: Any, end: Any = None, step: Any = 1, *, out: Any = None, dtype: Any = None,
           layout: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """See torch.arange: int64 for integer arguments, the default float otherwise."""
    check_device(device)
    if end is None:
        start, end = 0, start
    values = [v.item() if isinstance(v, Tensor) else v for v in (start, end, step)]
    start, end, step = values
    if step == 0:
        raise RuntimeError("step must be nonzero")
    if (end - start) * step < 0 and end != start:
        raise RuntimeError("upper bound and larger bound inconsistent with step sign")
    if dtype is None:
        is_float = any(isinstance(v, float) for v in values)
        dtype = DEFAULTS.value if is_float else _dtype.int64
    target = as_dtype(dtype)
    count = max(0, math.ceil((end - start) / step))
    array = (start + np.arange(count, dtype=np.float64) * step) if target.category >= 2 or any(
        isinstance(v, float) for v in values) else np.arange(start, end, step, dtype=np.int64)
    return _finish(array.astype(target.numpy), requires_grad)


def linspace(start: Any, end: Any, steps: int, *, out: Any = None, dtype: Any = None,
             layout: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """See torch.linspace (computed from both ends, as PyTorch does)."""
    check_device(device)
    start = start.item() if isinstance(start, Tensor) else start
    end = end.item() if isinstance(end, Tensor) else end
    if steps < 0:
        raise RuntimeError("number of steps must be non-negative")
    target = _dtype_or_default(dtype)
    if steps == 1:
        array = np.array([start], dtype=np.float64)
    else:
        index = np.arange(steps, dtype=np.float64)
        step = (end - start) / (steps - 1)
        halfway = steps // 2
        array = np.where(index < halfway, start + step * index, end - step * (steps - 1 - index))
    return _finish(array.astype(target), requires_grad)


def logspace(start: Any, end: Any, steps: int, base: float = 10.0, *, dtype: Any = None,
             device: Any = None, requires_grad: bool = False) -> Tensor:
    """See torch.logspace."""
    exponents = linspace(start, end, steps, dtype=_dtype.float64)._data
    return _finish((base ** exponents).astype(_dtype_or_default(dtype)), requires_grad)


def _like(input: Tensor, dtype: Any) -> tuple[tuple[int, ...], Any]:
    return tuple(input._data.shape), (dtype if dtype is not None else input.dtype)


def zeros_like(input: Tensor, *, dtype: Any = None, layout: Any = None, device: Any = None,
               requires_grad: bool = False, memory_format: Any = None) -> Tensor:
    shape, dtype = _like(input, dtype)
    return _filled(0, (shape,), dtype, requires_grad, device)


def ones_like(input: Tensor, *, dtype: Any = None, layout: Any = None, device: Any = None,
              requires_grad: bool = False, memory_format: Any = None) -> Tensor:
    shape, dtype = _like(input, dtype)
    return _filled(1, (shape,), dtype, requires_grad, device)


def empty_like(input: Tensor, *, dtype: Any = None, layout: Any = None, device: Any = None,
               requires_grad: bool = False, memory_format: Any = None) -> Tensor:
    return zeros_like(input, dtype=dtype, requires_grad=requires_grad)


def full_like(input: Tensor, fill_value: Any, *, dtype: Any = None, layout: Any = None,
              device: Any = None, requires_grad: bool = False,
              memory_format: Any = None) -> Tensor:
    shape, dtype = _like(input, dtype)
    return _filled(fill_value, (shape,), dtype, requires_grad, device)


def zeros_from_meta(meta: tuple) -> Tensor:
    """Zeros of a recorded (shape, numpy dtype): the gradient of an unused output."""
    shape, dtype = meta
    return wrap(np.zeros(shape, dtype=dtype))


# --- random ----------------------------------------------------------------------------------
def rand(*shape: Any, size: Any = None, generator: Generator | None = None,
          out: Any = None, dtype: Any = None,
         layout: Any = None, device: Any = None, requires_grad: bool = False,
         pin_memory: bool = False) -> Tensor:
    """Uniform on [0, 1); see torch.rand."""
    check_device(device)
    target = _dtype_or_default(dtype)
    array = _rng(generator).random(parse_size(_sizes(shape, size))).astype(target)
    return _finish(array, requires_grad)


def randn(*shape: Any, size: Any = None, generator: Generator | None = None,
          out: Any = None, dtype: Any = None,
          layout: Any = None, device: Any = None, requires_grad: bool = False,
          pin_memory: bool = False) -> Tensor:
    """Standard normal; see torch.randn."""
    check_device(device)
    target = _dtype_or_default(dtype)
    array = _rng(generator).standard_normal(parse_size(_sizes(shape, size))).astype(target)
    return _finish(array, requires_grad)


def randint(low: int = 0, high: int | None = None, size: Any = None, *,
            generator: Generator | None = None, dtype: Any = None, device: Any = None,
            requires_grad: bool = False) -> Tensor:
    """Integers in [low, high); ``randint(high, size)`` works too; see torch.randint."""
    check_device(device)
    if size is None and isinstance(high, (tuple, list)):
        low, high, size = 0, low, high
    if size is None:
        raise TypeError("randint() missing required argument 'size'")
    if high is None:
        low, high = 0, low
    target = as_dtype(dtype) if dtype is not None else _dtype.int64
    array = _rng(generator).integers(low, high, parse_size((tuple(size),))).astype(target.numpy)
    return _finish(array, requires_grad)


def randperm(n: int, *, generator: Generator | None = None, dtype: Any = None,
             device: Any = None, requires_grad: bool = False) -> Tensor:
    """A random permutation of 0..n-1; see torch.randperm."""
    target = as_dtype(dtype) if dtype is not None else _dtype.int64
    return _finish(_rng(generator).permutation(n).astype(target.numpy), requires_grad)


def normal(mean: Any = 0.0, std: Any = 1.0, size: Any = None, *,
           generator: Generator | None = None, out: Any = None, dtype: Any = None,
           device: Any = None, requires_grad: bool = False) -> Tensor:
    """Normal samples with tensor or number mean/std; see torch.normal."""
    mean_array = mean._data if isinstance(mean, Tensor) else np.asarray(mean)
    std_array = std._data if isinstance(std, Tensor) else np.asarray(std)
    if isinstance(std, (int, float)) and std < 0:
        raise RuntimeError(f"normal expects std >= 0.0, but found std {std}")
    shape = parse_size((tuple(size),)) if size is not None else np.broadcast_shapes(
        mean_array.shape, std_array.shape)
    if dtype is None:
        dtype = next((v.dtype for v in (mean, std) if isinstance(v, Tensor)), DEFAULTS.value)
    with quiet():  # huge std or inf mean: inf and nan, without NumPy's warnings (as PyTorch)
        sample = mean_array + std_array * _rng(generator).standard_normal(shape)
        sample = np.asarray(sample).astype(as_dtype(dtype).numpy)
    return _finish(sample, requires_grad)


def rand_like(input: Tensor, *, dtype: Any = None, requires_grad: bool = False,
              **unused: Any) -> Tensor:
    shape, dtype = _like(input, dtype)
    return rand(shape, dtype=dtype, requires_grad=requires_grad)


def randn_like(input: Tensor, *, dtype: Any = None, requires_grad: bool = False,
               **unused: Any) -> Tensor:
    shape, dtype = _like(input, dtype)
    return randn(shape, dtype=dtype, requires_grad=requires_grad)


def randint_like(input: Tensor, low: int = 0, high: int | None = None, *, dtype: Any = None,
                 requires_grad: bool = False, **unused: Any) -> Tensor:
    shape, dtype = _like(input, dtype)
    if high is None:
        low, high = 0, low
    return randint(low, high, shape, dtype=dtype, requires_grad=requires_grad)


def _fill_random(tensor: Tensor, sample: np.ndarray) -> Tensor:
    """Write random values into a tensor in place (used under no_grad by nn.init)."""
    from ._dispatch import check_inplace

    check_inplace(tensor)
    tensor._data[...] = sample
    tensor._bump_version()
    return tensor


def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0, *,
             generator: Generator | None = None) -> Tensor:
    """Fill with U(a, b) in place; see torch.Tensor.uniform_."""
    return _fill_random(tensor, _rng(generator).uniform(a, b, tensor._data.shape))


def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0, *,
            generator: Generator | None = None) -> Tensor:
    """Fill with N(mean, std**2) in place; see torch.Tensor.normal_."""
    return _fill_random(tensor, mean + std * _rng(generator).standard_normal(tensor._data.shape))


def bernoulli_(tensor: Tensor, p: float = 0.5, *, generator: Generator | None = None) -> Tensor:
    return _fill_random(tensor, _rng(generator).random(tensor._data.shape) < p)


def random_(tensor: Tensor, low: int = 0, high: int | None = None, *,
            generator: Generator | None = None) -> Tensor:
    if high is None:
        low, high = 0, low if low else 2**24
    return _fill_random(tensor, _rng(generator).integers(low, high, tensor._data.shape))


def exponential_(tensor: Tensor, lambd: float = 1.0, *,
                 generator: Generator | None = None) -> Tensor:
    return _fill_random(tensor, _rng(generator).exponential(1.0 / lambd, tensor._data.shape))


def bernoulli(input: Tensor, p: float | None = None, *,
              generator: Generator | None = None) -> Tensor:
    """Draw 0/1 with probabilities ``input``; see torch.bernoulli."""
    probability = input._data if p is None else p
    sample = _rng(generator).random(input._data.shape) < probability
    return wrap(sample.astype(input._data.dtype))


def multinomial(input: Tensor, num_samples: int, replacement: bool = False, *,
                generator: Generator | None = None) -> Tensor:
    """Draw category indices by the weights in each row; see torch.multinomial."""
    weights = np.atleast_2d(input._data.astype(np.float64))
    rows = []
    for row in weights:
        probabilities = row / row.sum()
        rows.append(_rng(generator).choice(len(row), num_samples, replace=replacement,
                                           p=probabilities))
    result = np.array(rows, dtype=np.int64)
    return wrap(result if input._data.ndim == 2 else result[0])
