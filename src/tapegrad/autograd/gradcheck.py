"""gradcheck and gradgradcheck: compare autograd against central finite differences."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np


class GradcheckError(RuntimeError):
    """Raised by gradcheck when analytical and numerical gradients disagree."""


def _as_tuple(value: Any) -> tuple:
    from .._tensor import Tensor

    return (value,) if isinstance(value, Tensor) else tuple(value)


def _differentiable_mask(func: Callable, inputs: tuple) -> tuple[bool, ...]:
    from .._tensor import Tensor

    return tuple(isinstance(o, Tensor) and o.requires_grad for o in _as_tuple(func(*inputs)))


def _differentiable_outputs(func: Callable, inputs: tuple) -> tuple:
    from .._tensor import Tensor

    return tuple(o for o in _as_tuple(func(*inputs)) if isinstance(o, Tensor) and
                 o.requires_grad)


def _numerical_jacobian(func: Callable, inputs: tuple, index: int, eps: float,
                        mask: tuple[bool, ...]) -> list:
    """One (input numel x output numel) matrix per output, by central differences."""
    target = inputs[index]
    flat = target._data.reshape(-1)
    columns: list[list[np.ndarray]] = []
    # Not under no_grad: the function may itself differentiate (gradgradcheck's does).
    for position in range(flat.size):
        original = flat[position].copy()
        flat[position] = original + eps
        plus = [o._data.astype(np.float64).ravel() for o, keep in
                zip(_as_tuple(func(*inputs)), mask) if keep]
        flat[position] = original - eps
        minus = [o._data.astype(np.float64).ravel() for o, keep in
                 zip(_as_tuple(func(*inputs)), mask) if keep]
        flat[position] = original
        columns.append([(p - m) / (2 * eps) for p, m in zip(plus, minus)])
    outputs = len(columns[0]) if columns else 0
    return [np.stack([column[k] for column in columns]) if columns else np.zeros((0, 0))
            for k in range(outputs)]


def _analytical_jacobian(outputs: tuple, inputs: tuple, index: int) -> list:
    from .._creation import zeros_like
    from . import grad as autograd_grad

    jacobians = []
    for output in outputs:
        rows = []
        for position in range(output.numel()):
            seed = zeros_like(output)
            seed._data.reshape(-1)[position] = 1
            (value,) = autograd_grad(output, inputs[index], seed, retain_graph=True,
                                     allow_unused=True)
            rows.append(np.zeros(inputs[index].numel()) if value is None else
                        value._data.astype(np.float64).ravel())
        jacobians.append(np.stack(rows, axis=1) if rows else np.zeros((inputs[index].numel(), 0)))
    return jacobians


def gradcheck(func: Callable, inputs: Any, *, eps: float = 1e-6, atol: float = 1e-5,
              rtol: float = 1e-3, raise_exception: bool = True, fast_mode: bool = False,
              **unused: Any) -> bool:
    """Check d(func)/d(inputs) from autograd against finite differences; see
    torch.autograd.gradcheck. Inputs should be float64 tensors with requires_grad=True."""
    from .._tensor import Tensor

    inputs = _as_tuple(inputs)
    outputs = _differentiable_outputs(func, inputs)
    mask = _differentiable_mask(func, inputs)
    for index, value in enumerate(inputs):
        if not (isinstance(value, Tensor) and value.requires_grad):
            continue
        numerical = _numerical_jacobian(func, inputs, index, eps, mask)
        analytical = _analytical_jacobian(outputs, inputs, index)
        for output_index, (a, n) in enumerate(zip(analytical, numerical)):
            if not np.allclose(a, n, rtol=rtol, atol=atol):
                if raise_exception:
                    raise GradcheckError(
                        f"Jacobian mismatch for output {output_index} with respect to input "
                        f"{index},\nnumerical:{n}\nanalytical:{a}\n")
                return False
    return True


def gradgradcheck(func: Callable, inputs: Any, grad_outputs: Any = None, *, eps: float = 1e-6,
                  atol: float = 1e-5, rtol: float = 1e-3, raise_exception: bool = True,
                  **unused: Any) -> bool:
    """gradcheck of the gradient function (second derivatives); see torch.autograd
    .gradgradcheck."""
    from .._creation import randn
    from . import grad as autograd_grad

    inputs = _as_tuple(inputs)
    outputs = _differentiable_outputs(func, inputs)
    if grad_outputs is None:
        grad_outputs = tuple(randn(o.shape, dtype=o.dtype, requires_grad=True) for o in outputs)
    grad_outputs = _as_tuple(grad_outputs)
    differentiable = [i for i, x in enumerate(inputs) if getattr(x, "requires_grad", False)]

    def first_derivatives(*values: Any) -> tuple:
        primal = values[:len(inputs)]
        seeds = values[len(inputs):]
        results = _differentiable_outputs(func, primal)
        grads = autograd_grad(results, [primal[i] for i in differentiable], seeds,
                              create_graph=True, allow_unused=True)
        return tuple(g for g in grads if g is not None)

    return gradcheck(first_derivatives, inputs + grad_outputs, eps=eps, atol=atol, rtol=rtol,
                     raise_exception=raise_exception)
