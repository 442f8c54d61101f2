"""nn.Parameter: a leaf tensor that a Module registers as a learnable weight."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._tensor import Tensor, init_tensor


class Parameter(Tensor):
    """A tensor that requires grad by default and is registered by Module; see
    torch.nn.Parameter."""

    __slots__ = ()

    def __new__(cls, data: Tensor | None = None, requires_grad: bool = True) -> Parameter:
        parameter = object.__new__(cls)
        array = np.zeros((0,), dtype=np.float32) if data is None else data._data
        init_tensor(parameter, array)
        parameter.requires_grad_(requires_grad)
        return parameter

    def __init__(self, data: Tensor | None = None, requires_grad: bool = True) -> None:
        pass

    def __deepcopy__(self, memo: dict) -> Parameter:
        copy = Parameter(_detached_copy(self), self.requires_grad)
        if self._grad is not None:
            copy._grad = self._grad.__deepcopy__(memo)
        memo[id(self)] = copy
        return copy

    def __reduce_ex__(self, protocol: int) -> Any:
        return (_rebuild_parameter, (self._data.copy(), self.requires_grad))


def _detached_copy(tensor: Tensor) -> Tensor:
    from .._tensor import wrap

    return wrap(tensor._data.copy())


def _rebuild_parameter(array: np.ndarray, requires_grad: bool) -> Parameter:
    from .._tensor import wrap

    return Parameter(wrap(array), requires_grad)


def _register_fast_path() -> None:
    # Parameters are plain tensors for dispatch: let them take its fast paths.
    from .._dispatch import FAST_TYPES

    FAST_TYPES.add(Parameter)


_register_fast_path()
