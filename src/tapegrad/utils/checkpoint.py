"""Activation checkpointing: keep no intermediates of a segment in forward, recompute them
during backward (less peak memory for the same gradients)."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable
from typing import Any

from .._tensor import Tensor
from ..autograd.function import Function
from ..autograd.graph import saved_tensors_hooks

__all__ = ["checkpoint", "checkpoint_sequential"]


def _rng_state() -> Any:
    from .._creation import get_rng_state

    return get_rng_state()


def _set_rng_state(state: Any) -> None:
    from .._creation import set_rng_state

    set_rng_state(state)


class _Recomputation:
    """The saved tensors of one checkpointed call: packed as positions, recomputed on first
    unpack (and again if a retained graph asks a second time)."""

    def __init__(self, function: Callable, args: tuple, kwargs: dict, rng_state: Any) -> None:
        self.function = function
        self.args = args
        self.kwargs = kwargs
        self.rng_state = rng_state
        self.count = 0
        self.values: dict[int, Tensor] = {}

    def pack(self, tensor: Tensor) -> int:
        position = self.count
        self.count += 1
        return position

    def unpack(self, position: int) -> Tensor:
        if position not in self.values:
            self._recompute()
        return self.values.pop(position)

    def _recompute(self) -> None:
        from ..autograd.grad_mode import enable_grad

        recorded: list[Tensor] = []
        inputs = tuple(a.detach().requires_grad_(a.requires_grad) if isinstance(a, Tensor)
                       else a for a in self.args)
        current = _rng_state() if self.rng_state is not None else None
        if self.rng_state is not None:
            _set_rng_state(self.rng_state)
        try:
            # Detached copies: the values are what backward needs, and holding the recomputed
            # graph's nodes here would make reference cycles that keep memory until gc runs.
            with enable_grad(), saved_tensors_hooks(lambda t: recorded.append(t.detach()) or len(
                    recorded) - 1, _unused_unpack):
                self.function(*inputs, **self.kwargs)
        finally:
            if current is not None:
                _set_rng_state(current)
        self.values = dict(enumerate(recorded))
        recorded.clear()


def _unused_unpack(index: int) -> Tensor:
    raise RuntimeError("the recomputed graph of a checkpoint is not differentiated")


def checkpoint(function: Callable, *args: Any, use_reentrant: bool | None = None,
               context_fn: Callable | None = None, determinism_check: str = "default",
               debug: bool = False, preserve_rng_state: bool = True, **kwargs: Any) -> Any:
    """Run ``function(*args)`` without keeping its intermediates; backward recomputes them;
    see torch.utils.checkpoint.checkpoint."""
    if use_reentrant is None:
        warnings.warn("torch.utils.checkpoint: the use_reentrant parameter should be passed "
                      "explicitly. use_reentrant=False is recommended, but if you need to "
                      "preserve the current default behavior, you can pass use_reentrant=True.",
                      stacklevel=2)
        use_reentrant = True
    if use_reentrant:
        if kwargs:
            raise ValueError("Unexpected keyword arguments: " + ",".join(kwargs))
        return CheckpointFunction.apply(function, preserve_rng_state, *args)
    state = _rng_state() if preserve_rng_state else None
    recomputation = _Recomputation(function, args, kwargs, state)
    with saved_tensors_hooks(recomputation.pack, recomputation.unpack):
        return function(*args, **kwargs)


class CheckpointFunction(Function):
    """The reentrant variant: forward without recording, backward reruns it and backpropagates
    through the recomputed graph."""

    @staticmethod
    def forward(ctx: Any, run_function: Callable, preserve_rng_state: bool, *args: Any) -> Any:
        ctx.run_function = run_function
        ctx.rng_state = _rng_state() if preserve_rng_state else None
        ctx.tensor_positions = [i for i, a in enumerate(args) if isinstance(a, Tensor)]
        ctx.others = [None if isinstance(a, Tensor) else a for a in args]
        ctx.save_for_backward(*(a for a in args if isinstance(a, Tensor)))
        return run_function(*args)

    @staticmethod
    def backward(ctx: Any, *grad_outputs: Any) -> tuple:
        from ..autograd import backward as autograd_backward
        from ..autograd.grad_mode import enable_grad

        saved = ctx.saved_tensors
        values = list(ctx.others)
        detached = []
        for position, tensor in zip(ctx.tensor_positions, saved):
            copy = tensor.detach().requires_grad_(tensor.requires_grad)
            values[position] = copy
            detached.append(copy)
        current = _rng_state() if ctx.rng_state is not None else None
        if ctx.rng_state is not None:
            _set_rng_state(ctx.rng_state)
        try:
            with enable_grad():
                outputs = ctx.run_function(*values)
        finally:
            if current is not None:
                _set_rng_state(current)
        outputs = outputs if isinstance(outputs, tuple) else (outputs,)
        pairs = [(o, g) for o, g in zip(outputs, grad_outputs)
                 if isinstance(o, Tensor) and o.requires_grad and g is not None]
        if not pairs:
            raise RuntimeError("none of output has requires_grad=True, this checkpoint() is not "
                               "necessary")
        autograd_backward([o for o, _ in pairs], [g for _, g in pairs])
        grads = [None] * len(values)
        for position, copy in zip(ctx.tensor_positions, detached):
            grads[position] = copy.grad if copy.requires_grad else None
        return (None, None, *grads)


def checkpoint_sequential(functions: Any, segments: int, input: Any,
                          use_reentrant: bool | None = None, **kwargs: Any) -> Any:
    """Checkpoint a sequence of modules in ``segments`` chunks; see
    torch.utils.checkpoint.checkpoint_sequential."""
    if isinstance(functions, Iterable) and not isinstance(functions, list):
        functions = list(functions.children()) if hasattr(functions, "children") else list(
            functions)
    size = max(len(functions) // segments, 1)

    def run(start: int, end: int) -> Callable:
        def forward(value: Any) -> Any:
            for index in range(start, end + 1):
                value = functions[index](value)
            return value
        return forward

    end = -1
    for start in range(0, size * (segments - 1), size):
        end = start + size - 1
        input = checkpoint(run(start, end), input, use_reentrant=use_reentrant, **kwargs)
    return run(end + 1, len(functions) - 1)(input)
