"""gradcheck and gradgradcheck: compare autograd (reverse and forward mode) with central finite
differences, in slow mode (whole Jacobians) or fast mode (one random projection)."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["gradcheck", "gradgradcheck", "GradcheckError"]


class GradcheckError(RuntimeError):
    """Raised by gradcheck when analytical and numerical gradients disagree."""


def _as_tuple(value: Any) -> tuple:
    from .._tensor import Tensor

    if isinstance(value, Tensor):
        return (value,)
    if isinstance(value, (tuple, list)):
        return tuple(value)
    return (value,)


def _is_differentiable(value: Any) -> bool:
    from .._tensor import Tensor

    return isinstance(value, Tensor) and value.requires_grad


def _flat_outputs(func: Callable, inputs: tuple) -> list[np.ndarray]:
    from .._tensor import Tensor

    return [o._data.astype(np.float64).ravel() for o in _as_tuple(func(*inputs))
            if isinstance(o, Tensor) and o._data.dtype.kind in "fc"]


def _float_output_mask(func: Callable, inputs: tuple) -> list:
    from .._tensor import Tensor

    return [isinstance(o, Tensor) and o._data.dtype.kind in "fc" for o in _as_tuple(func(*inputs))]


def _numerical_columns(func: Callable, inputs: tuple, index: int, eps: float,
                       direction: np.ndarray | None = None) -> list:
    """Central differences: one column per element of input ``index`` (or one column along
    ``direction`` in fast mode). Returns, per float output, an array (columns, output numel)."""
    array = inputs[index]._data
    columns: list[list[np.ndarray]] = []
    positions = [None] if direction is not None else list(np.ndindex(array.shape))
    if True:  # not under no_grad: the function may itself differentiate (gradgradcheck's does)
        for position in positions:
            original = array.copy() if position is None else array[position].copy()
            step = eps * direction if direction is not None else eps
            if position is None:
                array[...] = original + step
            else:
                array[position] = original + step
            plus = _flat_outputs(func, inputs)
            if position is None:
                array[...] = original - step
            else:
                array[position] = original - step
            minus = _flat_outputs(func, inputs)
            if position is None:
                array[...] = original
            else:
                array[position] = original
            columns.append([(p - m) / (2 * eps) for p, m in zip(plus, minus)])
    if not columns or not columns[0]:
        return []
    return [np.stack([column[k] for column in columns]) for k in range(len(columns[0]))]


def _vjp_rows(outputs: list, inputs: tuple, index: int, seeds: list) -> list:
    """Rows of the analytical Jacobian: for each seed (one per output element, or a random
    projection), the gradient with respect to input ``index``."""
    from .._tensor import wrap
    from . import grad as autograd_grad

    rows = []
    for output, seed in seeds:
        (value,) = autograd_grad(output, inputs[index], wrap(seed.astype(output._data.dtype)),
                                 retain_graph=True, allow_unused=True)
        rows.append(np.zeros(inputs[index].numel()) if value is None else
                    value._data.astype(np.float64).ravel())
    return rows


def _basis_seeds(output: Any) -> list:
    seeds = []
    for position in range(output.numel()):
        seed = np.zeros(output._data.shape)
        seed.reshape(-1)[position] = 1
        seeds.append((output, seed))
    return seeds


def _analytical_jacobian(outputs: list, inputs: tuple, index: int) -> list:
    """Per output: an (input numel, output numel) matrix from reverse mode."""
    jacobians = []
    for output in outputs:
        if not output.requires_grad:
            jacobians.append(np.zeros((inputs[index].numel(), output.numel())))
            continue
        rows = _vjp_rows([output], inputs, index, _basis_seeds(output))
        jacobians.append(np.stack(rows, axis=1) if rows else
                         np.zeros((inputs[index].numel(), 0)))
    return jacobians


def _forward_jacobian(func: Callable, inputs: tuple, index: int, float_mask: list) -> list:
    """Per output: an (input numel, output numel) matrix from forward mode (dual tensors)."""
    from .._tensor import wrap
    from . import forward_ad

    target = inputs[index]
    columns: list[list[np.ndarray]] = []
    for position in range(target.numel()):
        tangent = np.zeros(target._data.shape, dtype=target._data.dtype)
        tangent.reshape(-1)[position] = 1
        with forward_ad.dual_level():
            dual = forward_ad.make_dual(target.detach(), wrap(tangent))
            values = inputs[:index] + (dual,) + inputs[index + 1:]
            outputs = [o for o, keep in zip(_as_tuple(func(*values)), float_mask) if keep]
            column = []
            for output in outputs:
                tangent_out = forward_ad.unpack_dual(output).tangent
                column.append(np.zeros(output.numel()) if tangent_out is None else
                              tangent_out._data.astype(np.float64).ravel())
        columns.append(column)
    if not columns:
        return []
    return [np.stack([column[k] for column in columns]) for k in range(len(columns[0]))]


def _fail(message: str, raise_exception: bool) -> bool:
    if raise_exception:
        raise GradcheckError(message)
    return False


def _mismatch(kind: str, output_index: int, index: int, numerical: Any, analytical: Any,
              fast_mode: bool) -> str:
    message = (f"{kind} mismatch for output {output_index} with respect to input {index},\n"
               f"numerical:{numerical}\nanalytical:{analytical}\n")
    if fast_mode:
        message += ("\nThe above quantities relating the numerical and analytical jacobians are "
                    "computed in fast mode: they are v^T J u for random vectors u (input space) "
                    "and v (output space). Run with fast_mode=False to see the full Jacobians.\n")
    return message


def gradcheck(func: Callable[..., Any], inputs: Any, *, eps: float = 1e-6, atol: float = 1e-5,
              rtol: float = 1e-3, raise_exception: bool = True, nondet_tol: float = 0.0,
              check_undefined_grad: bool = True, check_grad_dtypes: bool = False,
              check_batched_grad: bool = False, check_batched_forward_grad: bool = False,
              check_forward_ad: bool = False, check_backward_ad: bool = True,
              fast_mode: bool = False, masked: bool | None = None) -> bool:
    """Check the gradients of ``func`` at ``inputs`` against finite differences; see
    torch.autograd.gradcheck. Use float64 inputs with requires_grad=True.

    tapegrad hands backward zeros for undefined output gradients, so ``check_undefined_grad``
    is covered by the check that a zero grad_output gives zero gradients (always on, as in
    PyTorch). ``check_batched_grad`` compares a vmap of vjps with the loop."""
    inputs = _as_tuple(inputs)
    differentiable = [i for i, value in enumerate(inputs) if _is_differentiable(value)]
    if not differentiable:
        raise ValueError("gradcheck expects at least one input tensor to require gradient, but "
                         "none of the them have requires_grad=True.")
    for i in differentiable:
        if inputs[i]._data.dtype != np.float64:
            warnings.warn(f"Input #{i} requires gradient and is not a double precision floating "
                          "point or complex. This check will likely fail if all the inputs are "
                          "not of double precision floating point or complex. ", stacklevel=2)
    if not check_backward_ad and not check_forward_ad:
        raise ValueError("Expected at least one of check_forward_ad or check_backward_ad to be "
                         "True")
    float_mask = _float_output_mask(func, inputs)
    outputs = [o for o, keep in zip(_as_tuple(func(*inputs)), float_mask) if keep]
    if not outputs:
        return True
    rng = np.random.default_rng(0)

    for index in differentiable:
        if fast_mode:
            direction = rng.standard_normal(inputs[index]._data.shape)
            numerical = _numerical_columns(func, inputs, index, eps, direction)
            numerical_values = [column[0] for column in numerical]
            if check_backward_ad:
                for k, output in enumerate(outputs):
                    projection = rng.standard_normal(output._data.shape)
                    expected = float(numerical_values[k] @ projection.ravel())
                    if not output.requires_grad:
                        actual = 0.0
                    else:
                        (row,) = _vjp_rows([output], inputs, index, [(output, projection)])
                        actual = float(row @ direction.ravel())
                    if not np.isclose(actual, expected, rtol=rtol, atol=atol):
                        return _fail(_mismatch("Jacobian", k, index, expected, actual, True),
                                     raise_exception)
            continue
        numerical = _numerical_columns(func, inputs, index, eps)
        if check_backward_ad:
            analytical = _analytical_jacobian(outputs, inputs, index)
            for k, (a, n) in enumerate(zip(analytical, numerical)):
                if not np.allclose(a, n, rtol=rtol, atol=atol):
                    return _fail(_mismatch("Jacobian", k, index, n, a, False), raise_exception)
            repeat = _analytical_jacobian(outputs, inputs, index)
            for a, b in zip(analytical, repeat):
                if np.abs(a - b).max(initial=0.0) > nondet_tol:
                    return _fail(
                        "Backward is not reentrant, i.e., running backward with same input and "
                        "grad_output multiple times gives different values, although analytical "
                        "gradient matches numerical gradient.The tolerance for nondeterminism "
                        f"was {nondet_tol}.", raise_exception)
        if check_forward_ad:
            forward = _forward_jacobian(func, inputs, index, float_mask)
            for k, (a, n) in enumerate(zip(forward, numerical)):
                if not np.allclose(a, n, rtol=rtol, atol=atol):
                    return _fail(_mismatch("Jacobian computed with forward mode", k, index, n, a,
                                           False), raise_exception)

    if check_backward_ad and not _zero_grad_gives_zero(outputs, inputs, differentiable):
        return _fail("backward not multiplied by grad_output", raise_exception)
    if check_batched_grad and check_backward_ad:
        _check_batched_grad(outputs, inputs, differentiable, atol, rtol, raise_exception)
    return True


def _zero_grad_gives_zero(outputs: list, inputs: tuple, differentiable: list) -> bool:
    """Backward with zero output gradients must give zero (or no) input gradients: a backward
    that adds something not multiplied by grad_output is wrong (and undefined output grads,
    which tapegrad materializes as zeros, would break it)."""
    from .._creation import zeros_like
    from . import grad as autograd_grad

    roots = [o for o in outputs if o.requires_grad]
    if not roots:
        return True
    grads = autograd_grad(roots, [inputs[i] for i in differentiable],
                          [zeros_like(o) for o in roots], retain_graph=True, allow_unused=True)
    return all(g is None or not np.any(g._data) for g in grads)


def _check_batched_grad(outputs: list, inputs: tuple, differentiable: list, atol: float,
                        rtol: float, raise_exception: bool) -> bool:
    """A batch of vjps computed through tapegrad.func.vmap equals the one-by-one loop."""
    from .._creation import randn
    from .._tensor import Tensor
    from . import grad as autograd_grad

    roots = [o for o in outputs if o.requires_grad]
    if not roots:
        return True
    sources = [inputs[i] for i in differentiable]
    seeds = [[randn(o.shape, dtype=o.dtype) for o in roots] for _ in range(2)]
    expected = [autograd_grad(roots, sources, s, retain_graph=True, allow_unused=True)
                for s in seeds]
    from ..func import vmap
    from ..ops import FUNCTIONS

    stack = FUNCTIONS.get("stack")
    if stack is None:
        return True  # no stack op to build the batch with yet
    batched = [stack([s[k] for s in seeds]) for k in range(len(roots))]

    def vjp(*cotangents: Tensor) -> tuple:
        return autograd_grad(roots, sources, cotangents, retain_graph=True,
                             allow_unused=True, materialize_grads=True)

    result = vmap(vjp)(*batched)
    for b, row in enumerate(expected):
        for got, want in zip(result, row):
            if want is None:
                continue
            if not np.allclose(got._data[b], want._data, rtol=rtol, atol=atol):
                return _fail("While computing batched gradients, got: "
                             f"{got._data[b]}\nExpected: {want._data}", raise_exception)
    return True


def gradgradcheck(func: Callable[..., Any], inputs: Any, grad_outputs: Any = None, *,
                  eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3,
                  gen_non_contig_grad_outputs: bool = False, raise_exception: bool = True,
                  nondet_tol: float = 0.0, check_undefined_grad: bool = True,
                  check_grad_dtypes: bool = False, check_batched_grad: bool = False,
                  check_fwd_over_rev: bool = False, check_rev_over_rev: bool = True,
                  fast_mode: bool = False, masked: bool = False) -> bool:
    """gradcheck of the vector-Jacobian product of ``func`` (its second derivatives); see
    torch.autograd.gradgradcheck."""
    from .._creation import randn
    from .._tensor import Tensor
    from . import grad as autograd_grad

    inputs = _as_tuple(inputs)
    outputs = [o for o in _as_tuple(func(*inputs)) if _is_differentiable(o)]
    if grad_outputs is None:
        generator_state = np.random.default_rng(0)
        grad_outputs = tuple(
            Tensor(generator_state.standard_normal(o.shape), dtype=o.dtype).requires_grad_()
            for o in outputs)
    else:
        grad_outputs = _as_tuple(grad_outputs)
    del randn
    differentiable = [i for i, x in enumerate(inputs) if _is_differentiable(x)]
    count = len(inputs)

    def first_derivatives(*values: Any) -> tuple:
        primal = values[:count]
        seeds = values[count:]
        results = [o for o in _as_tuple(func(*primal)) if _is_differentiable(o)]
        grads = autograd_grad(results, [primal[i] for i in differentiable], seeds,
                              create_graph=True, allow_unused=True)
        return tuple(g for g in grads if g is not None)

    return gradcheck(first_derivatives, inputs + tuple(grad_outputs), eps=eps, atol=atol,
                     rtol=rtol, raise_exception=raise_exception, nondet_tol=nondet_tol,
                     check_undefined_grad=check_undefined_grad,
                     check_forward_ad=check_fwd_over_rev, check_backward_ad=check_rev_over_rev,
                     check_batched_grad=check_batched_grad, fast_mode=fast_mode)
