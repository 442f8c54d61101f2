"""Optimizer: parameter groups with per-group options, zero_grad, state_dict."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from .._backend import quiet
from .._dispatch import FAST_TYPES, MODES
from .._tensor import Tensor
from ..autograd.grad_mode import no_grad


@contextmanager
def updating() -> Iterator[None]:
    """Where an optimizer's step updates its parameters (after any closure, which is user
    code): no graph, and NumPy's floating-point warnings off, since a diverging step
    overflows to inf silently in PyTorch."""
    with no_grad(), quiet():
        yield


def add_scaled_(param: Tensor, update: Tensor, alpha: float) -> None:
    """``param.add_(update, alpha=alpha)`` for an optimizer's step (under no_grad). Plain
    tensors of one dtype and shape are updated straight in their arrays, with no result to
    copy back: one pass over the parameter fewer."""
    data, other = param._data, update._data
    if (type(param) in FAST_TYPES and type(update) in FAST_TYPES and not MODES.active
            and data.dtype == other.dtype and data.shape == other.shape
            and param.grad_fn is None and data.flags.writeable):
        np.add(data, other * alpha if alpha != 1 else other, out=data)
        param._bump_version()
    else:
        param.add_(update, alpha=alpha)


class _RequiredParameter:
    def __repr__(self) -> str:
        return "<required parameter>"


required = _RequiredParameter()


class Optimizer:
    """Base class: holds ``param_groups`` (each a dict with 'params' and options) and ``state``;
    see torch.optim.Optimizer."""

    def __init__(self, params: Iterable[Any], defaults: dict[str, Any]) -> None:
        self.defaults = defaults
        self.state: dict[Tensor, dict[str, Any]] = {}
        self.param_groups: list[dict[str, Any]] = []
        if isinstance(params, Tensor):
            raise TypeError("params argument given to the optimizer should be an iterable of "
                            "Tensors or dicts, but got " + type(params).__name__)
        groups = list(params)
        if len(groups) == 0:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group of parameters with its own options (defaults fill the rest)."""
        group = dict(param_group)
        params = group["params"]
        group["params"] = [params] if isinstance(params, Tensor) else list(params)
        for param in group["params"]:
            if not isinstance(param, Tensor):
                raise TypeError("optimizer can only optimize Tensors, but one of the params is "
                                + type(param).__name__)
            if not param.is_leaf:
                raise ValueError("can't optimize a non-leaf Tensor")
        for name, default in self.defaults.items():
            if default is required and name not in group:
                raise ValueError(f"parameter group didn't specify a value of required "
                                 f"optimization parameter {name}")
            group.setdefault(name, default)
        existing = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in existing for p in group["params"]):
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(group)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset gradients: to None (the default, as PyTorch 2.x) or to zeros."""
        for group in self.param_groups:
            for param in group["params"]:
                if param._grad is None:
                    continue
                if set_to_none:
                    param._grad = None
                else:
                    grad = param._grad
                    if grad.grad_fn is not None:
                        grad.detach_()
                    grad.zero_()

    def step(self, closure: Callable[[], Any] | None = None) -> Any:  # pragma: no cover
        raise NotImplementedError

    def state_dict(self) -> dict[str, Any]:
        """Options and per-parameter state, with parameters named by their index."""
        index: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            packed["params"] = []
            for param in group["params"]:
                index.setdefault(id(param), len(index))
                packed["params"].append(index[id(param)])
            groups.append(packed)
        state = {index[id(p)]: copy.copy(s) for p, s in self.state.items() if id(p) in index}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore options and state saved by state_dict (deep-copied)."""
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError("loaded state dict has a different number of parameter groups")
        by_index = {}
        for group, saved in zip(self.param_groups, saved_groups):
            if len(group["params"]) != len(saved["params"]):
                raise ValueError("loaded state dict contains a parameter group that doesn't "
                                 "match the size of optimizer's group")
            for param, number in zip(group["params"], saved["params"]):
                by_index[number] = param
            for key, value in saved.items():
                if key != "params":
                    group[key] = value
        self.state = {}
        for number, values in state_dict["state"].items():
            param = by_index[int(number)]
            self.state[param] = {k: (v.clone() if isinstance(v, Tensor) else copy.deepcopy(v))
                                 for k, v in values.items()}

    def __repr__(self) -> str:
        lines = [self.__class__.__name__ + " ("]
        for number, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {number}")
            for key in sorted(group):
                if key != "params":
                    lines.append(f"    {key}: {group[key]}")
        lines.append(")")
        return "\n".join(lines)


# --- array arithmetic shared by the optimizers ---------------------------------------------
# The updates run on the parameters' arrays under no_grad, in the parameter's dtype, with the
# scalars cast to it (NumPy 2 keeps float32 for float32 arrays and Python numbers), in the
# operand order of PyTorch's CPU kernels, so that float32 trajectories match PyTorch's.


def new_step() -> Tensor:
    """The per-parameter step counter: a float32 0-d tensor, as PyTorch stores it."""
    from .._tensor import wrap

    return wrap(np.zeros((), dtype=np.float32))


def zeros_like_param(param: Tensor, fill: float = 0.0) -> Tensor:
    from .._tensor import wrap

    return wrap(np.full(param._data.shape, fill, dtype=param._data.dtype))


def lerp_(array: np.ndarray, end: np.ndarray, weight: float) -> None:
    """array += weight * (end - array), with PyTorch's two-sided formula."""
    weight = array.dtype.type(weight)
    if weight < 0.5:
        array += weight * (end - array)
    else:
        array[...] = end - (end - array) * (1 - weight)


def addcmul_(array: np.ndarray, first: np.ndarray, second: np.ndarray, value: float) -> None:
    array += array.dtype.type(value) * first * second


def addcdiv_(array: np.ndarray, first: np.ndarray, second: np.ndarray, value: float) -> None:
    array += array.dtype.type(value) * first / second


def stepped(optimizer: Any, group: dict,
            buffers: dict[str, Any]) -> Iterator[tuple[Tensor, np.ndarray, dict]]:
    """(param, grad, state) for each parameter of ``group`` with a gradient, its step counted.
    A first step makes the state: the step counter, then per name in ``buffers`` a buffer of
    the parameter's shape filled with the value (or, for a callable, what it makes of the
    parameter), in PyTorch's key order."""
    for param, grad in grads_of(group):
        state = optimizer.state.setdefault(param, {})
        if not state:
            state["step"] = new_step()
            for name, value in buffers.items():
                state[name] = value(param) if callable(value) else zeros_like_param(param, value)
        state["step"]._data += 1
        yield param, grad, state


def grads_of(group: dict) -> Iterator[tuple[Tensor, np.ndarray]]:
    """(param, grad array with maximize applied) for the params of a group that have a grad."""
    for param in group["params"]:
        grad = param._grad
        if grad is None:
            continue
        array = grad._data
        yield param, (-array if group.get("maximize") else array)


def updated(param: Tensor) -> None:
    param._bump_version()
