"""Gradient clipping: clip_grad_norm_ and clip_grad_value_."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from ..._tensor import Tensor, wrap

_Params = Tensor | Iterable[Tensor]


def _grads(parameters: _Params) -> list[Tensor]:
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    return [p._grad for p in parameters if p._grad is not None]


def _norm(array: np.ndarray, norm_type: float) -> np.ndarray:
    flat = np.abs(array.reshape(-1))
    if norm_type == float("inf"):
        return flat.max(initial=0).astype(array.dtype)
    if norm_type == 0:
        return np.asarray(np.count_nonzero(flat), dtype=array.dtype)
    if norm_type == 2:
        return np.sqrt(np.sum(flat * flat)).astype(array.dtype)
    return (np.sum(flat**norm_type) ** (1.0 / norm_type)).astype(array.dtype)


def get_total_norm(tensors: _Params, norm_type: float = 2.0, error_if_nonfinite: bool = False,
                   foreach: bool | None = None) -> Tensor:
    """The norm of the norms of ``tensors``; see torch.nn.utils.get_total_norm."""
    if isinstance(tensors, Tensor):
        tensors = [tensors]
    tensors = [t for t in tensors if t is not None]
    norm_type = float(norm_type)
    if not tensors:
        return wrap(np.asarray(0.0, dtype=np.float32))
    norms = np.stack([_norm(t._data, norm_type) for t in tensors])
    total = _norm(norms, norm_type)
    if error_if_nonfinite and not np.isfinite(total):
        raise RuntimeError(f"The total norm of order {norm_type} for gradients from `parameters` "
                           "is non-finite, so it cannot be clipped. To disable this error and "
                           "scale the gradients by the non-finite norm anyway, set "
                           "`error_if_nonfinite=False`")
    return wrap(np.asarray(total))


def clip_grads_with_norm_(parameters: _Params, max_norm: float, total_norm: Tensor,
                          foreach: bool | None = None) -> None:
    """Scale gradients by min(1, max_norm / (total_norm + 1e-6))."""
    grads = _grads(parameters)
    if not grads:
        return
    coefficient = np.float32(max_norm) / (total_norm._data + np.float32(1e-6))
    coefficient = np.minimum(coefficient, np.asarray(1.0, dtype=coefficient.dtype))
    for grad in grads:
        grad._data *= coefficient.astype(grad._data.dtype)
        grad._bump_version()


def clip_grad_norm_(parameters: _Params, max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False, foreach: bool | None = None) -> Tensor:
    """Rescale gradients so that their total norm is at most ``max_norm``; returns the norm
    before clipping; see torch.nn.utils.clip_grad_norm_."""
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    else:
        parameters = list(parameters)
    grads = _grads(parameters)
    if not grads:
        return wrap(np.asarray(0.0, dtype=np.float32))
    total = get_total_norm(grads, norm_type, error_if_nonfinite)
    clip_grads_with_norm_(parameters, max_norm, total)
    return total


def clip_grad_value_(parameters: _Params, clip_value: float,
                     foreach: bool | None = None) -> None:
    """Clamp every gradient element into [-clip_value, clip_value]."""
    clip_value = float(clip_value)
    for grad in _grads(parameters):
        np.clip(grad._data, -clip_value, clip_value, out=grad._data)
        grad._bump_version()
