"""torch.autograd for tapegrad: backward, grad, grad modes, anomaly mode and graph nodes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from . import graph
from ._modes import MODES as _MODES
from .anomaly_mode import detect_anomaly, set_detect_anomaly
from .engine import execute
from .grad_mode import (
    enable_grad,
    inference_mode,
    is_grad_enabled,
    is_inference_mode_enabled,
    no_grad,
    set_grad_enabled,
)
from .gradcheck import gradcheck, gradgradcheck

__all__ = [
    "backward", "grad", "no_grad", "enable_grad", "set_grad_enabled", "inference_mode",
    "is_grad_enabled", "is_inference_mode_enabled", "detect_anomaly", "set_detect_anomaly",
    "graph", "gradcheck", "gradgradcheck",
]


# tapegrad._tensor imports this package, then sets these (Tensor and its array wrapper).
_Tensor: Any = None
_wrap: Any = None


def _as_tuple(value: Any) -> tuple:
    if value is None:
        return ()
    if isinstance(value, _Tensor):
        return (value,)
    return tuple(value)


def _root_edge(tensor: Any, position: int) -> tuple:
    if not tensor._requires_grad:
        raise RuntimeError(f"element {position} of tensors does not require grad and does not "
                           "have a grad_fn")
    if tensor.grad_fn is not None:
        return (tensor.grad_fn, tensor._output_nr)
    return (tensor.grad_accumulator(), 0)


def _root_gradients(outputs: tuple, gradients: tuple, create_graph: bool) -> list:
    """Check or make the seed gradient of each output, as PyTorch's _make_grads."""
    if len(gradients) != len(outputs):
        raise RuntimeError(f"got {len(gradients)} gradients, but expected {len(outputs)}")
    result = []
    for output, gradient in zip(outputs, gradients):
        if gradient is None:
            if output._data.size != 1:
                raise RuntimeError("grad can be implicitly created only for scalar outputs")
            if output._data.dtype.kind not in "fc":
                raise RuntimeError("grad can be implicitly created only for real scalar outputs "
                                   f"but got {output.dtype}")
            gradient = _wrap(np.array(1, output._data.dtype).reshape(output._data.shape))
        else:
            if not isinstance(gradient, _Tensor):
                gradient = _wrap(np.asarray(gradient, dtype=output._data.dtype))
            if gradient._data.shape != output._data.shape:
                if gradient._data.size == output._data.size == 1:
                    gradient = gradient.reshape(output.shape)
                else:
                    raise RuntimeError(
                        f"Mismatch in shape: grad_output[{len(result)}] has a shape of "
                        f"{gradient.shape} and output[{len(result)}] has a shape of "
                        f"{output.shape}.")
            if gradient._data.dtype != output._data.dtype:
                gradient = gradient.to(output.dtype)
            if not create_graph:
                gradient = gradient.detach()
        result.append(gradient)
    return result


def backward(tensors: Any, grad_tensors: Any = None, retain_graph: bool | None = None,
             create_graph: bool = False, grad_variables: Any = None, inputs: Any = None) -> None:
    """Accumulate gradients of ``tensors`` into the leaves' .grad; see torch.autograd.backward."""
    outputs = _as_tuple(tensors)
    if grad_tensors is None:
        grad_tensors = grad_variables
    gradients = _as_tuple(grad_tensors) if grad_tensors is not None else (None,) * len(outputs)
    if len(gradients) == 0 and outputs:
        gradients = (None,) * len(outputs)
    if retain_graph is None:
        retain_graph = create_graph
    seeds = _root_gradients(outputs, gradients, create_graph)
    roots = [_root_edge(output, i) for i, output in enumerate(outputs)]
    input_tensors = _as_tuple(inputs)
    if inputs is not None and not input_tensors:
        raise RuntimeError("'inputs' argument to backward() cannot be empty.")
    if not input_tensors:
        execute(roots, seeds, retain_graph, create_graph)
        return
    targets = [_target_edge(tensor) for tensor in input_tensors]
    captured = execute(roots, seeds, retain_graph, create_graph, targets=targets)
    for tensor, grad in zip(input_tensors, captured):
        if grad is not None and tensor.grad_fn is not None:
            # Non-leaf inputs get their gradient accumulated too, as PyTorch does.
            graph.accumulate_into(tensor, grad)


def _target_edge(tensor: Any) -> tuple:
    if not tensor._requires_grad:
        raise RuntimeError("One of the differentiated Tensors does not require grad")
    if tensor.grad_fn is None:
        return (tensor.grad_accumulator(), 0)
    return (tensor.grad_fn, tensor._output_nr)


def grad(outputs: Any, inputs: Any, grad_outputs: Any = None, retain_graph: bool | None = None,
         create_graph: bool = False, only_inputs: bool = True, allow_unused: bool | None = None,
         is_grads_batched: bool = False, materialize_grads: bool = False) -> tuple:
    """Gradients of ``outputs`` with respect to ``inputs`` (returned, not accumulated); see
    torch.autograd.grad."""
    if materialize_grads and allow_unused is False:
        raise ValueError("Expected allow_unused to be True or not passed when materialize_grads="
                         "True, but got: allow_unused=False.")
    if allow_unused is None:
        allow_unused = materialize_grads
    if is_grads_batched:
        raise NotImplementedError("is_grads_batched: use tapegrad.func.vmap over autograd.grad")
    output_tensors = _as_tuple(outputs)
    input_tensors = _as_tuple(inputs)
    if not input_tensors:
        raise RuntimeError("grad requires non-empty inputs.")
    if _MODES.vmap:  # inside tapegrad.func.vmap: batched tensors need the batching rules
        from ..func import vmapped_autograd_grad

        return vmapped_autograd_grad(
            output_tensors, input_tensors, _as_tuple(grad_outputs) if grad_outputs is not None
            else (None,) * len(output_tensors), retain_graph, create_graph, allow_unused,
            materialize_grads)
    gradients = _as_tuple(grad_outputs) if grad_outputs is not None else (None,) * len(
        output_tensors)
    if retain_graph is None:
        retain_graph = create_graph
    seeds = _root_gradients(output_tensors, gradients, create_graph)
    roots = [_root_edge(output, i) for i, output in enumerate(output_tensors)]
    targets = [_target_edge(tensor) for tensor in input_tensors]
    captured = execute(roots, seeds, retain_graph, create_graph, targets=targets,
                       accumulate=False)
    result = []
    for tensor, value in zip(input_tensors, captured):
        if value is None:
            if materialize_grads:
                from .._creation import zeros_like

                value = zeros_like(tensor)
            elif not allow_unused:
                raise RuntimeError("One of the differentiated Tensors appears to not have been "
                                   "used in the graph. Set allow_unused=True if this is the "
                                   "desired behavior.")
        elif not create_graph:
            value = value.detach()
        result.append(value)
    return tuple(result)


def __getattr__(name: str) -> Any:
    # Submodules built on the core load on first use (keeps `import tapegrad` fast).
    import importlib

    if name in ("functional", "forward_ad", "function", "profiler"):
        return importlib.import_module(f".{name}", __name__)
    if name in ("Function", "once_differentiable"):
        return getattr(importlib.import_module(".function", __name__), name)
    raise AttributeError(f"module 'tapegrad.autograd' has no attribute '{name}'")
