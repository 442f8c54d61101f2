"""Dtypes and PyTorch's type-promotion rules (float32 is the default float)."""

from __future__ import annotations

import numpy as np

__all__ = [
    "dtype",
    "float16",
    "float32",
    "float64",
    "complex64",
    "complex128",
    "uint8",
    "int8",
    "int16",
    "int32",
    "int64",
    "bool",
]

# Category ranks used by PyTorch's promotion: bool < integer < floating < complex.
_BOOL, _INTEGER, _FLOATING, _COMPLEX = 0, 1, 2, 3


class dtype:
    """A tensor element type; prints as ``torch.float32`` does."""

    __slots__ = ("name", "numpy", "category", "itemsize", "is_floating_point", "is_complex",
                 "is_signed")

    def __init__(self, name: str, numpy_dtype: np.dtype, category: int) -> None:
        self.name = name
        self.numpy = np.dtype(numpy_dtype)
        self.category = category
        self.itemsize = self.numpy.itemsize
        self.is_floating_point = category == _FLOATING
        self.is_complex = category == _COMPLEX
        self.is_signed = category >= _FLOATING or (category == _INTEGER and self.numpy.kind == "i")

    def __repr__(self) -> str:
        return f"torch.{self.name}"

    def __reduce__(self):
        return (_by_name, (self.name,))

    def to_real(self) -> dtype:
        return {"complex64": float32, "complex128": float64}.get(self.name, self)

    def to_complex(self) -> dtype:
        return {"float64": complex128}.get(self.name, complex64)


float16 = dtype("float16", np.float16, _FLOATING)
float32 = dtype("float32", np.float32, _FLOATING)
float64 = dtype("float64", np.float64, _FLOATING)
complex64 = dtype("complex64", np.complex64, _COMPLEX)
complex128 = dtype("complex128", np.complex128, _COMPLEX)
uint8 = dtype("uint8", np.uint8, _INTEGER)
int8 = dtype("int8", np.int8, _INTEGER)
int16 = dtype("int16", np.int16, _INTEGER)
int32 = dtype("int32", np.int32, _INTEGER)
int64 = dtype("int64", np.int64, _INTEGER)
bool = dtype("bool", np.bool_, _BOOL)  # noqa: A001 - torch.bool is the public name

ALL_DTYPES = (bool, uint8, int8, int16, int32, int64, float16, float32, float64, complex64,
              complex128)
ALIASES = {
    "half": float16, "float": float32, "double": float64, "cfloat": complex64,
    "cdouble": complex128, "short": int16, "int": int32, "long": int64,
}

_py_bool = type(True)  # noqa: UP003 - `bool` is torch.bool in this module
_BY_NAME = {d.name: d for d in ALL_DTYPES}
# numpy dtype -> tapegrad dtype; keyed by np.dtype so that lookups from arrays are one hash.
FROM_NUMPY: dict[np.dtype, dtype] = {d.numpy: d for d in ALL_DTYPES}


def _by_name(name: str) -> dtype:
    return _BY_NAME[name]


class _DefaultDtype:
    """Holds the default floating dtype (``torch.set_default_dtype``)."""

    value = float32


DEFAULTS = _DefaultDtype()


def get_default_dtype() -> dtype:
    """See torch.get_default_dtype."""
    return DEFAULTS.value


def set_default_dtype(d: dtype) -> None:
    """See torch.set_default_dtype: only float32 and float64 are accepted, as in PyTorch."""
    if d not in (float32, float64, float16):
        raise TypeError("only floating-point types are supported as the default type")
    DEFAULTS.value = d


def from_numpy_dtype(numpy_dtype: np.dtype) -> dtype:
    try:
        return FROM_NUMPY[np.dtype(numpy_dtype)]
    except KeyError:
        raise TypeError(
            f"can't convert np.ndarray of type {np.dtype(numpy_dtype)}. The only supported types "
            "are: float64, float32, float16, complex64, complex128, int64, int32, int16, int8, "
            "uint8, and bool."
        ) from None


def as_dtype(value) -> dtype:
    """Accept a tapegrad dtype, a NumPy dtype/type or a Python type and return a tapegrad dtype."""
    if isinstance(value, dtype):
        return value
    if value is float:
        return DEFAULTS.value
    if value is int:
        return int64
    if value is _py_bool:
        return bool
    if value is complex:
        return complex64 if DEFAULTS.value is not float64 else complex128
    return from_numpy_dtype(value)


def promote_types(a: dtype, b: dtype) -> dtype:
    """See torch.promote_types: the smallest dtype both values fit in."""
    if a is b:
        return a
    return _PROMOTION[(a, b)]


def _promote_uncached(a: dtype, b: dtype) -> dtype:
    if a.category != b.category:
        high, low = (a, b) if a.category > b.category else (b, a)
        if high.category == _COMPLEX and low.category == _FLOATING:
            return complex128 if low is float64 or high is complex128 else high
        return high
    if a.category == _BOOL:
        return bool
    return FROM_NUMPY[np.promote_types(a.numpy, b.numpy)]


_PROMOTION = {(a, b): _promote_uncached(a, b) for a in ALL_DTYPES for b in ALL_DTYPES}


def scalar_dtype(value) -> dtype:
    """The dtype a Python number takes when it meets a tensor (a 'wrapped number')."""
    kind = type(value)
    if kind is float:
        return DEFAULTS.value
    if kind is int:
        return int64
    if kind is _py_bool:
        return bool
    if kind is complex:
        return complex128 if DEFAULTS.value is float64 else complex64
    if isinstance(value, np.generic):
        return scalar_dtype(value.item())
    raise TypeError(f"unsupported scalar type {kind.__name__}")


def _combine_categories(higher: dtype | None, lower: dtype | None) -> dtype | None:
    # PyTorch's rule: a lower-priority participant only matters if it is of a higher category.
    if higher is None:
        return lower
    if lower is None:
        return higher
    if higher.category == _COMPLEX:
        return higher
    if lower.category == _COMPLEX:
        return higher.to_complex() if higher.category == _FLOATING else lower
    if higher.category == _FLOATING:
        return higher
    if higher is bool or lower.category == _FLOATING:
        return promote_types(higher, lower)
    return higher


def result_type(dimensioned: dtype | None, zero_dim: dtype | None, scalar: dtype | None) -> dtype:
    """Promote the three participant groups PyTorch distinguishes: tensors with dims, 0-d
    tensors, and Python numbers."""
    result = _combine_categories(dimensioned, _combine_categories(zero_dim, scalar))
    assert result is not None
    return result
