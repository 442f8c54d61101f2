"""Reductions: sum, mean, norms, and sum_to_size (the broadcast undo the engine uses)."""

from __future__ import annotations

from collections.abc import Sequence

from .._tensor import normalize_dim
from . import _samples as samples
from ._registry import defop, public


def reduced_dims(dim, ndim: int) -> tuple[int, ...]:
    """Normalize an int / sequence / None dim argument to a sorted tuple of axes."""
    if dim is None:
        return tuple(range(ndim))
    if isinstance(dim, (list, tuple)):
        if len(dim) == 0:
            return tuple(range(ndim))
        axes = tuple(sorted(normalize_dim(int(d), ndim) for d in dim))
        if len(set(axes)) != len(axes):
            raise RuntimeError("dim appears multiple times in the list of dims")
        return axes
    return (normalize_dim(int(dim), ndim),)


def _numpy_axes(dim, ndim: int):
    axes = reduced_dims(dim, ndim)
    return axes if ndim else None


def expand_reduced(grad, input_shape: tuple, dim, keepdim: bool):
    """Broadcast a reduced gradient back to the input's shape (undo the reduction's squeeze)."""
    if not keepdim and dim is not None and len(input_shape):
        for axis in reduced_dims(dim, len(input_shape)):
            grad = grad.unsqueeze(axis)
    return grad.expand(input_shape)


def is_expandable_to(shape: Sequence[int], desired: Sequence[int]) -> bool:
    """Whether ``shape`` broadcasts to ``desired`` (so a gradient of ``desired`` sums to it)."""
    if len(shape) > len(desired):
        return False
    for size, target in zip(reversed(shape), reversed(desired)):
        if size != target and size != 1:
            return False
    return True


def _sum_all(xp, input, *, dtype=None):
    return xp.sum(input, dtype=_numpy_dtype(input, dtype))


def _numpy_dtype(input, dtype):
    if dtype is not None:
        return dtype.numpy
    return input.dtype if input.dtype.kind in "fc" else "int64"


sum_all = defop(_sum_all, name="sum_all", node="SumBackward0", function=False,
                grads={"input": lambda grad, input_shape: grad.expand(input_shape)},
                kind="linear", samples=samples.reduction(dims=False))


def _sum_dim(xp, input, dim, keepdim=False, *, dtype=None):
    return xp.sum(input, axis=_numpy_axes(dim, input.ndim), keepdims=keepdim,
                  dtype=_numpy_dtype(input, dtype))


sum_dim = defop(_sum_dim, name="sum_dim", node="SumBackward1", function=False, kind="linear",
                grads={"input": lambda grad, input_shape, dim, keepdim:
                       expand_reduced(grad, input_shape, dim, keepdim)},
                samples=samples.reduction()[3:])


@public(methods=("sum",))
def sum(input, dim=None, keepdim=False, *, dtype=None):  # noqa: A001 - torch.sum
    """Sum of all elements, or over ``dim``; see torch.sum."""
    if dim is None:
        if keepdim:
            return sum_dim.function(input, tuple(range(input.ndim)), True, dtype=dtype)
        return sum_all.function(input, dtype=dtype)
    return sum_dim.function(input, dim, keepdim, dtype=dtype)


def _check_mean_dtype(input, dtype) -> None:
    if dtype is None and input.dtype.kind not in "fc":
        from .._dtype import FROM_NUMPY

        name = FROM_NUMPY[input.dtype].name
        legacy = {"int64": "Long", "int32": "Int", "bool": "Bool", "int16": "Short",
                  "int8": "Char", "uint8": "Byte"}.get(name, name)
        raise RuntimeError("mean(): could not infer output dtype. Input dtype must be either a "
                           f"floating point or complex dtype. Got: {legacy}")


def _mean_all(xp, input, *, dtype=None):
    _check_mean_dtype(input, dtype)
    return xp.mean(input, dtype=dtype.numpy if dtype is not None else None).astype(
        dtype.numpy if dtype is not None else input.dtype, copy=False)


mean_all = defop(_mean_all, name="mean_all", node="MeanBackward0", function=False,
                 kind="linear",
                 grads={"input": lambda grad, input_shape:
                        grad.expand(input_shape) / max(_count(input_shape), 1)},
                 samples=samples.reduction(dims=False))


def _count(shape: Sequence[int], dims: Sequence[int] | None = None) -> int:
    count = 1
    for axis, size in enumerate(shape):
        if dims is None or axis in dims:
            count *= size
    return count


def _mean_dim(xp, input, dim, keepdim=False, *, dtype=None):
    _check_mean_dtype(input, dtype)
    output_dtype = dtype.numpy if dtype is not None else input.dtype
    return xp.mean(input, axis=_numpy_axes(dim, input.ndim), keepdims=keepdim,
                   dtype=output_dtype).astype(output_dtype, copy=False)


mean_dim = defop(_mean_dim, name="mean_dim", node="MeanBackward1", function=False,
                 kind="linear",
                 grads={"input": lambda grad, input_shape, dim, keepdim: expand_reduced(
                     grad, input_shape, dim, keepdim) / max(_count(
                         input_shape, reduced_dims(dim, len(input_shape))), 1)},
                 samples=samples.reduction()[3:])


@public(methods=("mean",))
def mean(input, dim=None, keepdim=False, *, dtype=None):
    """Mean of all elements, or over ``dim``; see torch.mean."""
    if dim is None:
        if keepdim:
            return mean_dim.function(input, tuple(range(input.ndim)), True, dtype=dtype)
        return mean_all.function(input, dtype=dtype)
    return mean_dim.function(input, dim, keepdim, dtype=dtype)


@public(methods=("sum_to_size",), function=False)
def sum_to_size(input, *size):
    """Sum ``input`` down to a shape it was broadcast from; see torch.Tensor.sum_to_size."""
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    if tuple(input.shape) == tuple(size):
        return input
    if not is_expandable_to(size, input.shape):
        raise RuntimeError(f"size {{{list(size)}}} is not expandable to size "
                           f"{{{list(input.shape)}}}.")
    # As PyTorch: a keepdim sum over the broadcast dims, then a view dropping leading ones.
    leading = input.ndim - len(size)
    dims = tuple(range(leading)) + tuple(
        leading + i for i, s in enumerate(size) if s == 1 and input.shape[leading + i] != 1)
    result = sum_dim.function(input, dims, True) if dims else input
    return result.view(tuple(size)) if leading else result


# --- norms ----------------------------------------------------------------------------------
def _vector_norm(xp, input, ord=2, dim=None, keepdim=False, *, dtype=None):
    if input.dtype.kind not in "fc":
        raise RuntimeError("linalg.vector_norm: Expected a floating point or complex tensor as "
                           f"input. Got {input.dtype.name.capitalize()}")
    axes = _numpy_axes(dim, input.ndim)
    magnitude = xp.abs(input)
    if ord == 2:
        result = xp.sqrt(xp.sum(magnitude * magnitude, axis=axes, keepdims=keepdim))
    elif ord == float("inf"):
        result = xp.max(magnitude, axis=axes, keepdims=keepdim)
    elif ord == -float("inf"):
        result = xp.min(magnitude, axis=axes, keepdims=keepdim)
    elif ord == 0:
        result = xp.sum(magnitude != 0, axis=axes, keepdims=keepdim).astype(input.dtype)
    elif ord == 1:
        result = xp.sum(magnitude, axis=axes, keepdims=keepdim)
    else:
        result = xp.sum(magnitude ** ord, axis=axes, keepdims=keepdim) ** (1.0 / ord)
    return xp.asarray(result).astype(input.dtype.type(0).real.dtype, copy=False)


def _vector_norm_rule(grad, input, result, ord, dim, keepdim):
    shape = tuple(input.shape)
    grad = expand_reduced(grad, shape, dim, keepdim)
    norm = expand_reduced(result, shape, dim, keepdim)
    if ord == 0:
        return grad * 0
    if ord == 1:
        return grad * input.sign()
    if ord == 2:
        # At a zero norm the subgradient PyTorch picks is 0.
        return grad * input / norm.masked_fill(norm == 0, float("inf"))
    if ord in (float("inf"), -float("inf")):
        mask = (input.abs() == norm)
        count = expand_reduced(sum(mask, dim, keepdim=keepdim), shape, dim, keepdim)
        return grad * input.sign() * mask / count
    scaled = input.abs().pow(ord - 1) / norm.pow(ord - 1).masked_fill(norm == 0, float("inf"))
    return grad * input.sign() * scaled


vector_norm_op = defop(
    _vector_norm, name="vector_norm", node="LinalgVectorNormBackward0", function=False,
    grads={"input": _vector_norm_rule},
    samples=[samples.Sample(((3, 4),)), samples.Sample(((3, 4),), args=(1,)),
             samples.Sample(((3, 4),), args=(3, 1)),
             samples.Sample(((2, 3, 4),), args=(2, (0, 2), True)),
             samples.Sample(((5,),), args=(float("inf"),))])


def vector_norm(input, ord=2, dim=None, keepdim=False, *, dtype=None):
    """See torch.linalg.vector_norm."""
    return vector_norm_op.function(input, ord, dim, keepdim, dtype=dtype)


@public(methods=("norm",))
def norm(input, p="fro", dim=None, keepdim=False, dtype=None):
    """Vector 2-norm by default (p='fro' means 2 over the flattened tensor); see torch.norm."""
    if p == "fro" or p is None:
        p = 2
    if p == "nuc":
        raise NotImplementedError("nuclear norm: use tapegrad.linalg.matrix_norm")
    return vector_norm_op.function(input, float(p) if not isinstance(p, int) else p, dim,
                                   keepdim, dtype=dtype)
