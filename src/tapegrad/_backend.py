"""The array namespace behind tensors: NumPy (CuPy would slot in here for device='cuda')."""

from __future__ import annotations

from typing import Any

import numpy

numpy_namespace = numpy

# Cached read-only 0-d arrays, by (value, dtype): see constant.
_CONSTANTS: dict = {}


def constant(value: int, dtype: Any) -> Any:
    """``value`` as a read-only 0-d array of ``dtype`` (cached). A ufunc takes it about 0.3 µs
    a call faster than the Python number, and computes the same result, for a small integer
    that the dtype holds exactly (the Python number would be cast to ``dtype`` anyway)."""
    key = (value, dtype)
    array = _CONSTANTS.get(key)
    if array is None:
        array = numpy.array(value, dtype)
        array.flags.writeable = False
        _CONSTANTS[key] = array
    return array

try:  # NumPy 2 keeps its floating-point error state in a context variable: set it directly.
    from numpy._core.umath import _extobj_contextvar, _make_extobj

    _IGNORE_ALL = _make_extobj(all="ignore")

    class _Quiet:
        """Silence NumPy's floating-point warnings for a block (PyTorch never warns there);
        the same as ``numpy.errstate(all='ignore')`` at a fraction of its cost."""

        __slots__ = ("token",)

        def __enter__(self) -> None:
            self.token = _extobj_contextvar.set(_IGNORE_ALL)

        def __exit__(self, *exc: object) -> None:
            _extobj_contextvar.reset(self.token)

    def quiet() -> Any:
        return _Quiet()

    def ignore_errors(_set: Any = _extobj_contextvar.set, _ignore: Any = _IGNORE_ALL) -> Any:
        """``quiet`` for the hottest forwards, without a context manager's two calls: returns
        the token to hand to ``restore_errors`` (in a ``finally``)."""
        return _set(_ignore)

    restore_errors = _extobj_contextvar.reset
    # For generated code: ``set_error_state(IGNORE_ALL)`` is ignore_errors without its frame.
    set_error_state = _extobj_contextvar.set
    IGNORE_ALL: Any = _IGNORE_ALL

except ImportError:  # pragma: no cover - other NumPy versions

    def quiet() -> Any:
        return numpy.errstate(all="ignore")

    def ignore_errors() -> Any:
        return numpy.seterr(all="ignore")

    def restore_errors(token: Any) -> None:
        numpy.seterr(**token)

    def set_error_state(state: dict) -> Any:
        return numpy.seterr(**state)

    IGNORE_ALL = {"all": "ignore"}
