"""Reductions: sums, means, products, extremes, variances, norms, cumulative ops, order
statistics, unique, and sum_to_size (the broadcast undo the engine uses)."""

from __future__ import annotations

import builtins
import collections
from collections.abc import Sequence

import numpy as np

from .._backend import quiet
from .._tensor import Tensor, normalize_dim
from ..autograd.engine import is_expandable_to
from . import _samples as samples
from . import _selection
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


def expand_reduced_array(grad, input_shape: tuple, dim, keepdim: bool):
    """expand_reduced on arrays (the NumPy rules of a plain backward): a broadcast view."""
    if not keepdim and dim is not None and len(input_shape):
        grad = np.expand_dims(grad, reduced_dims(dim, len(input_shape)))
    return np.broadcast_to(grad, input_shape)


def _sum_all(xp, input, *, dtype=None):
    # add.reduce is what np.sum runs, without its Python-level wrapper (a microsecond).
    return xp.add.reduce(input, axis=None, dtype=_numpy_dtype(input, dtype))


def _numpy_dtype(input, dtype):
    if dtype is not None:
        return dtype.numpy
    return input.dtype if input.dtype.kind in "fc" else "int64"


sum_all = defop(_sum_all, name="sum_all", node="SumBackward0", function=False,
                grads={"input": lambda grad, input_shape: grad.expand(input_shape)},
                array_grads={"input": lambda grad, input_shape: np.broadcast_to(grad,
                                                                                input_shape)},
                kind="linear", samples=samples.reduction(dims=False))


def _sum_dim(xp, input, dim, keepdim=False, *, dtype=None):
    return xp.add.reduce(input, axis=_numpy_axes(dim, input.ndim), keepdims=keepdim,
                         dtype=_numpy_dtype(input, dtype))


sum_dim = defop(_sum_dim, name="sum_dim", node="SumBackward1", function=False, kind="linear",
                grads={"input": lambda grad, input_shape, dim, keepdim:
                       expand_reduced(grad, input_shape, dim, keepdim)},
                array_grads={"input": lambda grad, input_shape, dim, keepdim:
                             expand_reduced_array(grad, input_shape, dim, keepdim)},
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
    if dtype is None and (input.dtype == xp.float32 or input.dtype == xp.float64) \
            and input.size:
        # np.mean's own steps for these dtypes (sum in the dtype, divide by the count),
        # without its Python-level wrapper.
        return xp.asarray(xp.add.reduce(input, axis=None) / input.size)
    return xp.mean(input, dtype=dtype.numpy if dtype is not None else None).astype(
        dtype.numpy if dtype is not None else input.dtype, copy=False)


mean_all = defop(_mean_all, name="mean_all", node="MeanBackward0", function=False,
                 kind="linear",
                 grads={"input": lambda grad, input_shape:
                        grad.expand(input_shape) / _mean_divisor(input_shape)},
                 array_grads={"input": lambda grad, input_shape: np.broadcast_to(
                     grad / _mean_divisor(input_shape), input_shape)},
                 samples=samples.reduction(dims=False))


def _count(shape: Sequence[int], dims: Sequence[int] | None = None) -> int:
    count = 1
    for axis, size in enumerate(shape):
        if dims is None or axis in dims:
            count *= size
    return count


def _mean_divisor(input_shape: Sequence[int], dim=None) -> int:
    """How many elements each mean averaged (at least 1: an empty mean's gradient is empty)."""
    dims = None if dim is None else reduced_dims(dim, len(input_shape))
    return builtins.max(_count(input_shape, dims), 1)


def _mean_dim(xp, input, dim, keepdim=False, *, dtype=None):
    _check_mean_dtype(input, dtype)
    output_dtype = dtype.numpy if dtype is not None else input.dtype
    return xp.mean(input, axis=_numpy_axes(dim, input.ndim), keepdims=keepdim,
                   dtype=output_dtype).astype(output_dtype, copy=False)


mean_dim = defop(_mean_dim, name="mean_dim", node="MeanBackward1", function=False,
                 kind="linear",
                 grads={"input": lambda grad, input_shape, dim, keepdim: expand_reduced(
                     grad, input_shape, dim, keepdim) / _mean_divisor(input_shape, dim)},
                 array_grads={"input": lambda grad, input_shape, dim, keepdim:
                              expand_reduced_array(grad / _mean_divisor(input_shape, dim),
                                                   input_shape, dim, keepdim)},
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
    if isinstance(p, str):  # 'nuc' (or a bad name): a matrix norm over dim, all dims by default
        from .linalg import matrix_norm

        dims = tuple(range(input.ndim)) if dim is None else dim
        return matrix_norm(input, p, dims, keepdim, dtype=dtype)
    return vector_norm_op.function(input, float(p) if not isinstance(p, int) else p, dim,
                                   keepdim, dtype=dtype)


# --- named-tuple results ----------------------------------------------------------------------
def return_type(name: str, fields: tuple[str, ...]) -> type:
    """A named tuple printing as ``torch.return_types.<name>(...)``, as PyTorch's results do."""
    base = collections.namedtuple(name, fields)

    def __repr__(self) -> str:
        body = ",\n".join(f"{field}={value!r}" for field, value in zip(self._fields, self))
        return f"torch.return_types.{name}(\n{body})"

    result = type(name, (base,), {"__slots__": (), "__repr__": __repr__, "__str__": __repr__})
    result.__module__ = "tapegrad.return_types"
    return result


RETURN_TYPES = {name: return_type(name, fields) for name, fields in (
    ("max", ("values", "indices")), ("min", ("values", "indices")),
    ("aminmax", ("min", "max")), ("cummax", ("values", "indices")),
    ("cummin", ("values", "indices")), ("median", ("values", "indices")),
    ("mode", ("values", "indices")), ("sort", ("values", "indices")),
    ("topk", ("values", "indices")), ("kthvalue", ("values", "indices")))}


def _named(op, name: str):
    op.wrap_outputs = RETURN_TYPES[name]._make
    return op


# --- rule helpers -----------------------------------------------------------------------------
def _zeros(shape, dtype):
    from .._creation import zeros

    return zeros(tuple(shape), dtype=dtype)


def index_selected_backward(grad, input_shape, dim, indices, keepdim):
    """Gradient of a value-selecting reduction (max(dim), median(dim), sort, ...): each grad
    entry goes to the one input position named by ``indices`` (PyTorch's own choice at ties)."""
    if len(input_shape) == 0:
        return grad.reshape(())
    if not keepdim:
        grad = grad.unsqueeze(dim)
        indices = indices.unsqueeze(dim)
    return _zeros(input_shape, grad.dtype).scatter(dim, indices, grad)


def evenly_distributed_backward(grad, input, value, dim=None, keepdim=True):
    """Gradient of max/min/amax/amin/median over ties: spread evenly over every element equal to
    the result (PyTorch's subgradient for these reductions; checked in tests/test_indexing.py)."""
    shape = tuple(input.shape)
    value = expand_reduced(value, shape, dim, keepdim)
    grad = expand_reduced(grad, shape, dim, keepdim)
    mask = (input == value).to(grad.dtype)
    if dim is None:
        count = mask.sum()
    else:
        count = expand_reduced(mask.sum(dim, keepdim=True), shape, dim, True)
    return grad * mask / count


def _check_nonempty(name, input, dim):
    if input.size == 0 and (dim is None or input.ndim == 0 or any(
            input.shape[d] == 0 for d in reduced_dims(dim, input.ndim))):
        if dim is None:
            raise RuntimeError(f"{name}(): Expected reduction dim to be specified for "
                               "input.numel() == 0. Specify the reduction dim with the 'dim' "
                               "argument.")
        raise IndexError(f"{name}(): Expected reduction dim {dim} to have non-zero size.")


# --- nansum / nanmean -----------------------------------------------------------------------
def _nansum(xp, input, dim=None, keepdim=False, *, dtype=None):
    return xp.nansum(input, axis=_numpy_axes(dim, input.ndim) if dim is not None else None,
                     keepdims=keepdim, dtype=_numpy_dtype(input, dtype))


nansum_op = defop(
    _nansum, name="nansum", node="NansumBackward0", methods=("nansum",),
    grads={"input": lambda grad, input, dim, keepdim: expand_reduced(
        grad, tuple(input.shape), dim, keepdim) * (input == input).to(grad.dtype)},
    samples=samples.reduction())


@public(methods=("nanmean",))
def nanmean(input, dim=None, keepdim=False, *, dtype=None):
    """Mean over the non-NaN elements; see torch.nanmean (a composite there too)."""
    _check_mean_dtype(input._data, dtype)
    count = sum(input == input, dim, keepdim)
    return nansum_op.function(input, dim, keepdim, dtype=dtype) / count


# --- prod -------------------------------------------------------------------------------------
def _prod_all(xp, input, *, dtype=None):
    return xp.prod(input, dtype=_numpy_dtype(input, dtype))


def _product_of_others(input, dim):
    """For each element, the product of the other elements along ``dim``; exact with zeros
    (exclusive cumulative products from both ends), so prod's gradient is right at zeros."""
    from .shape import cat

    size = input.shape[dim]
    if size == 0:
        return input
    ones = input.narrow(dim, 0, 1) * 0 + 1
    left = cat([ones, input.narrow(dim, 0, size - 1)], dim).cumprod(dim)
    right = cat([input.narrow(dim, 1, size - 1), ones], dim).flip(dim).cumprod(dim).flip(dim)
    return left * right


def _prod_backward(grad, input, result, dim, keepdim):
    shape = tuple(input.shape)
    grad = expand_reduced(grad, shape, dim, keepdim)
    if not (input._data == 0).any():
        return grad * expand_reduced(result, shape, dim, keepdim) / input
    if dim is None:
        return grad * _product_of_others(input.reshape(-1), 0).reshape(shape)
    return grad * _product_of_others(input, dim)


prod_all = defop(_prod_all, name="prod_all", node="ProdBackward0", function=False,
                 grads={"input": lambda grad, input, result: _prod_backward(
                     grad, input, result, None, False)},
                 samples=samples.reduction(dims=False) + [
                     samples.Sample(((4,),), domain=(0.0, 0.0))])


def _prod_dim(xp, input, dim, keepdim=False, *, dtype=None):
    return xp.prod(input, axis=normalize_dim(dim, input.ndim) if input.ndim else None,
                   keepdims=keepdim, dtype=_numpy_dtype(input, dtype))


prod_dim = defop(_prod_dim, name="prod_dim", node="ProdBackward1", function=False,
                 grads={"input": lambda grad, input, result, dim, keepdim: _prod_backward(
                     grad, input, result, dim, keepdim)},
                 samples=[samples.Sample(((3, 4),), args=(1,)),
                          samples.Sample(((3, 4),), args=(0, True)),
                          samples.Sample(((2, 3, 4),), args=(-2,))])


@public(methods=("prod",))
def prod(input, dim=None, keepdim=False, *, dtype=None):
    """Product of all elements, or along ``dim``; see torch.prod."""
    if dim is None:
        return prod_all.function(input, dtype=dtype)
    return prod_dim.function(input, dim, keepdim, dtype=dtype)


# --- max / min / amax / amin / aminmax / argmax / argmin ------------------------------------
def _extreme_all(kind):
    def forward(xp, input):
        _check_nonempty(kind, input, None)
        return getattr(xp, kind)(input)

    forward.__name__ = f"_{kind}_all"
    return forward


def _extreme_dim(kind):
    arg = "argmax" if kind == "max" else "argmin"
    ufunc = "maximum" if kind == "max" else "minimum"

    def forward(xp, input, dim, keepdim=False):
        _check_nonempty(kind, input, dim)
        if input.ndim == 0:
            normalize_dim(dim, 0)
            return input.copy(), xp.zeros((), dtype="int64")
        axis = normalize_dim(dim, input.ndim)
        # NumPy's argmax/argmin pick the first extreme (and a NaN, as PyTorch does).
        indices = getattr(input, arg)(axis=axis, keepdims=True)
        # The reduction gives the same values faster than a gather, except that a zero's
        # sign must be that of the element picked (0.0 and -0.0 tie): gather when one is 0.
        values = getattr(xp, ufunc).reduce(input, axis=axis, keepdims=True)
        if not values.all():
            values = xp.take_along_axis(input, indices, axis=axis)
        if not keepdim:
            values, indices = values.squeeze(axis), indices.squeeze(axis)
        return values, indices.astype("int64")

    forward.__name__ = f"_{kind}_dim"
    return forward


max_all = defop(_extreme_all("max"), name="max_all", node="MaxBackward1", function=False,
                grads={"input": lambda grad, input, result: evenly_distributed_backward(
                    grad, input, result)},
                samples=samples.reduction(dims=False))
min_all = defop(_extreme_all("min"), name="min_all", node="MinBackward1", function=False,
                grads={"input": lambda grad, input, result: evenly_distributed_backward(
                    grad, input, result)},
                samples=samples.reduction(dims=False))

_DIM_SAMPLES = [samples.Sample(((3, 4),), args=(1,)), samples.Sample(((3, 4),), args=(0, True)),
                samples.Sample(((2, 3, 4),), args=(-1,)), samples.Sample(((),), args=(0,))]


def _selecting_rule(grad, results, input_shape, dim, keepdim):
    return index_selected_backward(grad[0], input_shape, _dim_of(dim, input_shape), results[1],
                                   keepdim)


def _dim_of(dim, shape):
    return normalize_dim(dim, len(shape)) if len(shape) else 0


max_dim = _named(defop(_extreme_dim("max"), name="max_dim", node="MaxBackward0",
                       function=False, outputs=2, differentiable_outputs=(0,),
                       grads={"input": _selecting_rule}, samples=_DIM_SAMPLES), "max")
min_dim = _named(defop(_extreme_dim("min"), name="min_dim", node="MinBackward0",
                       function=False, outputs=2, differentiable_outputs=(0,),
                       grads={"input": _selecting_rule}, samples=_DIM_SAMPLES), "min")


def _binary_extreme(name, input, other):
    from ._registry import FUNCTIONS

    function = FUNCTIONS.get("maximum" if name == "max" else "minimum")
    if function is None:
        raise NotImplementedError(f"{name}(input, other) needs tapegrad.maximum/minimum")
    return function(input, other)


@public(methods=("max",))
def max(input, dim=None, keepdim=False):  # noqa: A001 - torch.max
    """Largest element; with ``dim`` a (values, indices) named tuple; see torch.max."""
    if isinstance(dim, Tensor):
        return _binary_extreme("max", input, dim)
    if dim is None:
        return max_all.function(input)
    return max_dim.function(input, dim, keepdim)


@public(methods=("min",))
def min(input, dim=None, keepdim=False):  # noqa: A001 - torch.min
    """Smallest element; with ``dim`` a (values, indices) named tuple; see torch.min."""
    if isinstance(dim, Tensor):
        return _binary_extreme("min", input, dim)
    if dim is None:
        return min_all.function(input)
    return min_dim.function(input, dim, keepdim)


def _amax_forward(kind):
    def forward(xp, input, dim=(), keepdim=False):
        axes = _amax_axes(dim, input.ndim)
        _check_nonempty(kind, input, axes if axes else None)
        return getattr(xp, kind)(input, axis=axes if input.ndim else None, keepdims=keepdim)

    forward.__name__ = "_a" + kind
    return forward


def _amax_axes(dim, ndim):
    if isinstance(dim, int):
        dim = (dim,)
    return reduced_dims(tuple(dim), ndim) if len(dim) else tuple(range(ndim))


def _amax_rule(grad, input, result, dim, keepdim):
    # amax/amin spread the gradient evenly over ties, as PyTorch does.
    axes = _amax_axes(dim, input.ndim)
    return evenly_distributed_backward(grad, input, result, axes if input.ndim else None,
                                       keepdim)


_AMAX_SAMPLES = [samples.Sample(((3, 4),)), samples.Sample(((3, 4),), args=(1,)),
                 samples.Sample(((2, 3, 4),), args=((0, 2), True)), samples.Sample(((),))]
amax_op = defop(_amax_forward("max"), name="amax", node="AmaxBackward0", methods=("amax",),
                grads={"input": _amax_rule}, samples=_AMAX_SAMPLES)
amin_op = defop(_amax_forward("min"), name="amin", node="AminBackward0", methods=("amin",),
                grads={"input": _amax_rule}, samples=_AMAX_SAMPLES)


def _aminmax(xp, input, *, dim=None, keepdim=False):
    axes = None if dim is None else _numpy_axes(dim, input.ndim)
    _check_nonempty("aminmax", input, dim)
    return (xp.min(input, axis=axes, keepdims=keepdim),
            xp.max(input, axis=axes, keepdims=keepdim))


def _aminmax_rule(grad, input, results, dim, keepdim):
    dims = None if dim is None or input.ndim == 0 else dim
    keep = keepdim if dims is not None else True
    return (evenly_distributed_backward(grad[0], input, results[0], dims, keep)
            + evenly_distributed_backward(grad[1], input, results[1], dims, keep))


aminmax_op = _named(defop(
    _aminmax, name="aminmax", node="AminmaxBackward0", outputs=2, methods=("aminmax",),
    grads={"input": _aminmax_rule},
    samples=[samples.Sample(((3, 4),)), samples.Sample(((3, 4),), kwargs={"dim": 1}),
             samples.Sample(((2, 3),), kwargs={"dim": 0, "keepdim": True})]), "aminmax")


def _arg_extreme(kind):
    def forward(xp, input, dim=None, keepdim=False):
        _check_nonempty(kind, input, dim)
        if dim is None:
            result = getattr(xp, kind)(input.reshape(-1))
            if keepdim:
                result = xp.reshape(result, (1,) * input.ndim)
            return xp.asarray(result, dtype="int64")
        if input.ndim == 0:
            normalize_dim(dim, 0)
            return xp.zeros((), dtype="int64")
        axis = normalize_dim(dim, input.ndim)
        return getattr(xp, kind)(input, axis=axis, keepdims=keepdim).astype("int64")

    forward.__name__ = "_" + kind
    return forward


_ARG_SAMPLES = [samples.Sample(((3, 4),)), samples.Sample(((3, 4),), args=(1,)),
                samples.Sample(((2, 3, 4),), args=(0, True)), samples.Sample(((3, 4),), args=(None,
                                                                                       True))]
defop(_arg_extreme("argmax"), name="argmax", methods=("argmax",), samples=_ARG_SAMPLES)
defop(_arg_extreme("argmin"), name="argmin", methods=("argmin",), samples=_ARG_SAMPLES)


# --- var / std ------------------------------------------------------------------------------
def _var_forward(xp, input, dim, correction, keepdim):
    if input.dtype.kind not in "fc":
        raise RuntimeError("std and var only support floating point and complex dtypes")
    axes = None if dim is None else _numpy_axes(dim, input.ndim)
    with quiet():
        return xp.var(input, axis=axes, ddof=correction, keepdims=keepdim)


def _var(xp, input, dim=None, correction=1, keepdim=False):
    return _var_forward(xp, input, dim, correction, keepdim)


def _std(xp, input, dim=None, correction=1, keepdim=False):
    return xp.sqrt(_var_forward(xp, input, dim, correction, keepdim))


def _reduced_count(shape, dim):
    return _count(shape, None if dim is None else reduced_dims(dim, len(shape)))


def var_backward(grad, input, dim, correction, keepdim):
    shape = tuple(input.shape)
    dims = dim if dim is not None and len(shape) else None
    denominator = _reduced_count(shape, dim) - correction
    scale = 2.0 / denominator if denominator > 0 else float("inf")
    centered = input - (input.mean() if dims is None else input.mean(dims, keepdim=True))
    return expand_reduced(grad, shape, dims, keepdim) * centered * scale


def std_backward(grad, input, result, dim, correction, keepdim):
    # Where the deviation is 0 PyTorch gives a zero gradient (not 0/0).
    scaled = (grad / (result * 2)).masked_fill(result == 0, 0)
    return var_backward(scaled, input, dim, correction, keepdim)


_VAR_SAMPLES = [samples.Sample(((3, 4),)), samples.Sample(((3, 4),), args=(1,)),
                samples.Sample(((2, 3, 4),), args=((0, 2), 0, True)),
                samples.Sample(((5,),), args=(None, 2))]
var_op = defop(_var, name="var", node="VarBackward0", function=False,
               grads={"input": lambda grad, input, dim, correction, keepdim: var_backward(
                   grad, input, dim, correction, keepdim)}, samples=_VAR_SAMPLES)
std_op = defop(_std, name="std", node="StdBackward0", function=False,
               grads={"input": std_backward}, samples=_VAR_SAMPLES)


def _var_mean(xp, input, dim=None, correction=1, keepdim=False):
    axes = None if dim is None else _numpy_axes(dim, input.ndim)
    return (_var_forward(xp, input, dim, correction, keepdim),
            xp.mean(input, axis=axes, keepdims=keepdim))


def _std_mean(xp, input, dim=None, correction=1, keepdim=False):
    variance, average = _var_mean(xp, input, dim, correction, keepdim)
    return xp.sqrt(variance), average


def _mean_part(grad, input, dim, keepdim):
    shape = tuple(input.shape)
    dims = dim if dim is not None and len(shape) else None
    return expand_reduced(grad, shape, dims, keepdim) / _reduced_count(shape, dim)


var_mean_op = defop(
    _var_mean, name="var_mean", node="VarMeanBackward0", outputs=2, function=False,
    grads={"input": lambda grad, input, dim, correction, keepdim: var_backward(
        grad[0], input, dim, correction, keepdim) + _mean_part(grad[1], input, dim, keepdim)},
    samples=_VAR_SAMPLES)
std_mean_op = defop(
    _std_mean, name="std_mean", node="StdMeanBackward0", outputs=2, function=False,
    grads={"input": lambda grad, input, results, dim, correction, keepdim: std_backward(
        grad[0], input, results[0], dim, correction, keepdim)
        + _mean_part(grad[1], input, dim, keepdim)},
    samples=_VAR_SAMPLES)


def _variance_args(dim, unbiased, keepdim, correction):
    if isinstance(dim, bool):  # var(input, unbiased)
        dim, unbiased = None, dim
    if correction is None:
        correction = 1 if unbiased is None or unbiased else 0
    elif unbiased is not None:
        raise RuntimeError("var(): cannot pass both unbiased and correction")
    if isinstance(dim, list):
        dim = tuple(dim)
    return dim, int(correction) if float(correction).is_integer() else correction, keepdim


def _variance_public(op, name):
    def function(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
        return op.function(input, *_variance_args(dim, unbiased, keepdim, correction))

    function.__name__ = name
    function.__doc__ = f"See torch.{name} (``correction`` or the legacy ``unbiased``)."
    return public(methods=(name,) if name in ("var", "std") else ())(function)


var = _variance_public(var_op, "var")
std = _variance_public(std_op, "std")
var_mean = _variance_public(var_mean_op, "var_mean")
std_mean = _variance_public(std_mean_op, "std_mean")


# --- logsumexp --------------------------------------------------------------------------------
def _logsumexp(xp, input, dim, keepdim=False):
    if input.dtype.kind not in "fc":
        input = input.astype("float32")
    axes = _numpy_axes(dim, input.ndim)
    peak = xp.max(input, axis=axes, keepdims=True) if input.size else xp.zeros(())
    peak = xp.where(xp.isfinite(peak), peak, 0)
    with quiet():
        result = xp.log(xp.sum(xp.exp(input - peak), axis=axes, keepdims=True)) + peak
    return result if keepdim else (result.reshape(()) if axes is None else
                                   xp.squeeze(result, axis=axes))


logsumexp_op = defop(
    _logsumexp, name="logsumexp", node="LogsumexpBackward0", methods=("logsumexp",),
    grads={"input": lambda grad, input, result, dim, keepdim: expand_reduced(
        grad, tuple(input.shape), dim, keepdim) * (input - expand_reduced(
            result, tuple(input.shape), dim, keepdim)).exp()},
    samples=[samples.Sample(((3, 4),), args=(1,)), samples.Sample(((3, 4),), args=(0, True)),
             samples.Sample(((2, 3, 4),), args=((0, 2),)), samples.Sample(((),), args=(0,))])


# --- cumulative ops ---------------------------------------------------------------------------
def _cumsum(xp, input, dim, *, dtype=None):
    axis = normalize_dim(dim, input.ndim)
    if input.ndim == 0:
        return input.astype(_numpy_dtype(input, dtype), copy=True)
    return xp.cumsum(input, axis=axis, dtype=_numpy_dtype(input, dtype))


def _reverse_cumsum(grad, dim):
    if grad.ndim == 0:
        return grad
    return grad.flip(dim).cumsum(dim).flip(dim)


defop(_cumsum, name="cumsum", node="CumsumBackward0", methods=("cumsum",), inplace="cumsum_",
      kind="linear", grads={"input": lambda grad, dim: _reverse_cumsum(grad, dim)},
      samples=[samples.Sample(((3, 4),), args=(1,)), samples.Sample(((3, 4),), args=(0,)),
               samples.Sample(((5,),), args=(-1,)), samples.Sample(((),), args=(0,))])


def _cumprod(xp, input, dim, *, dtype=None):
    normalize_dim(dim, input.ndim)
    if input.ndim == 0:
        return input.astype(_numpy_dtype(input, dtype), copy=True)
    return xp.cumprod(input, axis=normalize_dim(dim, input.ndim), dtype=_numpy_dtype(input,
                                                                                     dtype))


def _cumprod_backward(grad, input, result, dim):
    if input.ndim == 0:
        return grad
    dim = normalize_dim(dim, input.ndim)
    if not (input._data == 0).any():
        return _reverse_cumsum(grad * result, dim) / input
    # With zeros: d result_j / d input_k = prod_{i <= j, i != k} input_i, built for every k by
    # replacing input_k with 1 (quadratic in the dim's size, used only when zeros are present).
    size = input.shape[dim]
    moved = input.movedim(dim, -1)
    from .._creation import eye

    identity = eye(size, dtype=input.dtype)
    rows = moved.unsqueeze(-2) * (1 - identity) + identity
    partial = rows.cumprod(-1).triu()
    return (partial * grad.movedim(dim, -1).unsqueeze(-2)).sum(-1).movedim(-1, dim)


defop(_cumprod, name="cumprod", node="CumprodBackward0", methods=("cumprod",),
      inplace="cumprod_", grads={"input": _cumprod_backward},
      samples=[samples.Sample(((3, 4),), args=(1,)), samples.Sample(((5,),), args=(0,)),
               samples.Sample(((2, 3, 2),), args=(-2,)), samples.Sample(((),), args=(0,))])


def _cumulative_extreme(kind):
    def forward(xp, input, dim):
        axis = normalize_dim(dim, input.ndim)
        if input.ndim == 0:
            return input.copy(), xp.zeros((), dtype="int64")
        accumulate = xp.maximum.accumulate if kind == "max" else xp.minimum.accumulate
        values = accumulate(input, axis=axis)
        # The index is the last position where the running extreme was reached (PyTorch
        # updates it on ties): the running maximum of positions that equal the extreme.
        shape = [1] * input.ndim
        shape[axis] = input.shape[axis]
        positions = xp.arange(input.shape[axis]).reshape(shape)
        reached = (input == values) | (xp.isnan(input) if input.dtype.kind in "fc" else False)
        indices = xp.maximum.accumulate(xp.where(reached, positions, 0), axis=axis)
        return values, indices.astype("int64")

    forward.__name__ = "_cum" + kind
    return forward


def _cumulative_extreme_rule(grad, input, results, dim):
    if input.ndim == 0:
        return grad[0]
    return _zeros(input.shape, grad[0].dtype).scatter_add(normalize_dim(dim, input.ndim),
                                                          results[1], grad[0])


_CUMULATIVE_SAMPLES = [samples.Sample(((3, 4),), args=(1,)), samples.Sample(((6,),), args=(0,)),
                       samples.Sample(((2, 3, 2),), args=(-2,))]
for _kind in ("max", "min"):
    _named(defop(_cumulative_extreme(_kind), name="cum" + _kind,
                 node=f"Cum{_kind}Backward0", outputs=2, differentiable_outputs=(0,),
                 methods=("cum" + _kind,), grads={"input": _cumulative_extreme_rule},
                 samples=_CUMULATIVE_SAMPLES), "cum" + _kind)


# --- logical reductions -----------------------------------------------------------------------
def _logical(kind):
    def forward(xp, input, dim=None, keepdim=False):
        axes = None if dim is None else _numpy_axes(dim, input.ndim)
        result = getattr(xp, kind)(input, axis=axes, keepdims=keepdim)
        return xp.asarray(result, dtype="uint8" if input.dtype == xp.uint8 else "bool")

    forward.__name__ = "_" + kind
    return forward


defop(_logical("all"), name="all", methods=("all",),
      samples=[samples.Sample(((3, 4),)), samples.Sample(((3, 4),), args=(1,)),
               samples.Sample(((2, 3),), args=(0, True))])
defop(_logical("any"), name="any", methods=("any",),
      samples=[samples.Sample(((3, 4),)), samples.Sample(((3, 4),), args=(1,)),
               samples.Sample(((2, 3),), args=(0, True))])


def _count_nonzero(xp, input, dim=None):
    axes = None if dim is None else _numpy_axes(dim, input.ndim)
    return xp.asarray(xp.count_nonzero(input, axis=axes), dtype="int64")


defop(_count_nonzero, name="count_nonzero", methods=("count_nonzero",),
      samples=[samples.Sample(((3, 4),), integer=True), samples.Sample(((3, 4),), args=(1,),
                                                                       integer=True)])


# --- order statistics -------------------------------------------------------------------------
def _stable_order(xp, input, axis, descending):
    """Stable argsort; descending keeps equal elements in their original order (as PyTorch)."""
    if not descending:
        return xp.argsort(input, axis=axis, kind="stable")
    size = input.shape[axis]
    flipped = xp.flip(input, axis=axis)
    order = xp.argsort(flipped, axis=axis, kind="stable")
    return xp.flip(size - 1 - order, axis=axis)


def _sort(xp, input, dim=-1, descending=False, stable=False):
    if input.ndim == 0:
        normalize_dim(dim, 0)
        return input.copy(), xp.zeros((), dtype="int64")
    axis = normalize_dim(dim, input.ndim)
    indices = _stable_order(xp, input, axis, descending)
    return xp.take_along_axis(input, indices, axis=axis), indices.astype("int64")


def _sorted_rule(grad, results, input_shape, dim):
    return index_selected_backward(grad[0], input_shape, _dim_of(dim, input_shape), results[1],
                                   True)


sort_op = _named(defop(
    _sort, name="sort", node="SortBackward0", outputs=2, differentiable_outputs=(0,),
    function=False, grads={"input": _sorted_rule},
    samples=[samples.Sample(((3, 4),)), samples.Sample(((3, 4),), args=(0, True)),
             samples.Sample(((2, 3, 4),), args=(1,)), samples.Sample(((),))]), "sort")


# With ``stable`` given PyTorch records its other overload (SortBackward1); same rule.
sort_stable_op = _named(defop(
    _sort, name="sort_stable", node="SortBackward1", outputs=2, differentiable_outputs=(0,),
    function=False, grads={"input": _sorted_rule},
    samples=[samples.Sample(((3, 4),), kwargs={"dim": 0, "stable": True}),
             samples.Sample(((5,),), kwargs={"descending": True, "stable": False})]), "sort")


@public(methods=("sort",))
def sort(input, dim=-1, descending=False, *, stable=None):
    """Sorted values and their indices (equal elements keep their order); see torch.sort."""
    # With stable=False PyTorch leaves the order of equal elements unspecified: on CPU it comes
    # from a SIMD quicksort chosen by the processor's AVX2/AVX-512 support. tapegrad always
    # keeps them in their original order, which is PyTorch's answer with stable=True.
    if stable is None:
        return sort_op.function(input, dim, descending, False)
    return sort_stable_op.function(input, dim, descending, bool(stable))


@public(methods=("msort",))
def msort(input):
    """``input`` sorted along its first dimension; see torch.msort."""
    return sort(input, 0).values


@public(methods=("argsort",))
def argsort(input, dim=-1, descending=False, *, stable=False):
    """The indices that sort ``input`` along ``dim``; see torch.argsort."""
    from .. import _dispatch

    with _no_grad():
        return _dispatch.dispatch(sort_op, (input,), (dim, descending, stable))[1]


def _no_grad():
    from ..autograd.grad_mode import no_grad

    return no_grad()


def _topk(xp, input, k, dim=-1, largest=True, sorted=True):
    axis = normalize_dim(dim, input.ndim)
    size = input.shape[axis] if input.ndim else 1
    if not 0 <= k <= size:
        raise RuntimeError("selected index k out of range")
    if input.ndim == 0:
        return input.copy(), xp.zeros((), dtype="int64")
    order = _stable_order(xp, input, axis, largest)
    indices = xp.take(order, xp.arange(k), axis=axis)
    # At ties PyTorch returns whatever its partial sort leaves in front; so does an unsorted
    # request on its nth_element path. Those rows are replayed with its algorithm.
    replay = _tied(xp, input, order, axis, range(builtins.min(k + 1, size)))
    if not sorted and k * 64 > size:
        replay[...] = True
    if k and replay.any():
        indices = _replace_rows(xp, input, indices, axis, replay,
                                lambda row: _selection.topk_row(row, k, largest, sorted))
    return xp.take_along_axis(input, indices, axis=axis), indices.astype("int64")


def _tied(xp, input, order, axis, positions):
    """Rows (the selected axis dropped) in which two of the given sorted positions hold
    equal values, NaN counting as equal to NaN: where the choice among them matters."""
    positions = list(positions)
    ranked = xp.take_along_axis(input, xp.take(order, positions, axis=axis), axis=axis)
    ranked = xp.moveaxis(ranked, axis, -1)
    left, right = ranked[..., :-1], ranked[..., 1:]
    equal = left == right
    if input.dtype.kind in "fc":
        equal |= xp.isnan(left) & xp.isnan(right)
    return xp.asarray(equal.any(axis=-1))


def _replace_rows(xp, input, indices, axis, rows, choose):
    """``indices`` with the rows flagged in ``rows`` recomputed by ``choose(row values)``."""
    values = xp.moveaxis(input, axis, -1)
    moved = xp.moveaxis(indices, axis, -1).copy()
    for position in xp.ndindex(rows.shape):
        if rows[position]:
            moved[position] = choose(values[position].tolist())
    return xp.moveaxis(moved, -1, axis)


topk_op = _named(defop(
    _topk, name="topk", node="TopkBackward0", outputs=2, differentiable_outputs=(0,),
    methods=("topk",), grads={"input": lambda grad, results, input_shape, dim:
                              index_selected_backward(grad[0], input_shape,
                                                      _dim_of(dim, input_shape), results[1],
                                                      True)},
    samples=[samples.Sample(((3, 4),), args=(2,)), samples.Sample(((3, 4),), args=(2, 0, False)),
             samples.Sample(((5,),), args=(3,))]), "topk")


def _kthvalue(xp, input, k, dim=-1, keepdim=False):
    if input.ndim == 0:
        if k != 1:
            raise IndexError("kthvalue(): selected number k out of range for dimension 0")
        return input.copy(), xp.zeros((), dtype="int64")
    axis = normalize_dim(dim, input.ndim)
    size = input.shape[axis]
    if not 1 <= k <= size:
        raise IndexError(f"kthvalue(): selected number k out of range for dimension {axis}")
    order = xp.argsort(input, axis=axis, kind="stable")  # NaN sorts last, as in PyTorch
    chosen = xp.take(order, [k - 1], axis=axis)
    # Among equal values PyTorch returns the one its quickselect leaves at position k - 1.
    near = range(builtins.max(k - 2, 0), builtins.min(k + 1, size))
    replay = _tied(xp, input, order, axis, near)
    if replay.any():
        chosen = _replace_rows(xp, input, chosen, axis, replay,
                               lambda row: [_selection.kthvalue_row(row, k - 1)])
    return _taken(xp, input, chosen, axis, keepdim)


def _taken(xp, input, chosen, axis, keepdim):
    values = xp.take_along_axis(input, chosen, axis=axis)
    if not keepdim:
        values, chosen = values.squeeze(axis), chosen.squeeze(axis)
    return values, chosen.astype("int64")


_KTH_SAMPLES = [samples.Sample(((3, 4),), args=(2,)), samples.Sample(((3, 4),), args=(1, 0, True)),
                samples.Sample(((5,),), args=(5,))]
_named(defop(_kthvalue, name="kthvalue", node="KthvalueBackward0", outputs=2,
             differentiable_outputs=(0,), methods=("kthvalue",),
             grads={"input": lambda grad, results, input_shape, dim, keepdim:
                    index_selected_backward(grad[0], input_shape, _dim_of(dim, input_shape),
                                            results[1], keepdim)},
             samples=_KTH_SAMPLES), "kthvalue")


def _median_all(xp, input):
    _check_nonempty("median", input, None)
    flat = input.reshape(-1)
    if flat.dtype.kind in "fc" and xp.isnan(flat).any():
        return xp.asarray(xp.nan, dtype=input.dtype)
    return xp.sort(flat)[(flat.size - 1) // 2]


median_all = defop(
    _median_all, name="median_all", node="MedianBackward0", function=False,
    grads={"input": lambda grad, input, result: evenly_distributed_backward(grad, input, result)},
    samples=samples.reduction(dims=False))


def _median_dim(xp, input, dim, keepdim=False):
    if input.ndim == 0:
        normalize_dim(dim, 0)
        return input.copy(), xp.zeros((), dtype="int64")
    axis = normalize_dim(dim, input.ndim)
    _check_nonempty("median", input, axis)
    # PyTorch orders by (value, index), so among equal values the median is the one a stable
    # sort puts in the middle position; a row holding NaN gives its first NaN.
    order = xp.argsort(input, axis=axis, kind="stable")
    chosen = xp.take(order, [(input.shape[axis] - 1) // 2], axis=axis)
    if input.dtype.kind in "fc":
        nan = xp.isnan(input)
        first_nan = xp.argmax(nan, axis=axis, keepdims=True)
        chosen = xp.where(nan.any(axis=axis, keepdims=True), first_nan, chosen)
    return _taken(xp, input, chosen, axis, keepdim)


median_dim = _named(defop(
    _median_dim, name="median_dim", node="MedianBackward1", outputs=2,
    differentiable_outputs=(0,), function=False, grads={"input": _selecting_rule},
    samples=_DIM_SAMPLES), "median")


@public(methods=("median",))
def median(input, dim=None, keepdim=False):
    """Lower median of all elements, or (values, indices) along ``dim``; see torch.median."""
    if dim is None:
        return median_all.function(input)
    return median_dim.function(input, dim, keepdim)


def _mode(xp, input, dim=-1, keepdim=False):
    if input.ndim == 0:
        return input.copy(), xp.zeros((), dtype="int64")
    axis = normalize_dim(dim, input.ndim)
    _check_nonempty("mode", input, axis)
    moved = xp.moveaxis(input, axis, -1)
    rows = moved.reshape(-1, moved.shape[-1])
    values = xp.empty(rows.shape[0], dtype=input.dtype)
    indices = xp.empty(rows.shape[0], dtype="int64")
    # PyTorch sorts each row with std::sort and keeps the end of the first longest run. Below
    # 17 elements that sort is an insertion sort, so stable: the run's end is the last
    # occurrence of the smallest most frequent value. Longer rows and NaN (each NaN is a run
    # of its own there) replay its sort.
    replay = rows.shape[-1] > 16 or (input.dtype.kind in "fc" and bool(xp.isnan(rows).any()))
    for row_index, row in enumerate(rows):
        if replay:
            values[row_index], indices[row_index] = _selection.mode_row(row.tolist())
            continue
        unique, counts = xp.unique(row, return_counts=True)
        value = unique[xp.argmax(counts)]
        values[row_index] = value
        indices[row_index] = row.size - 1 - xp.argmax(row[::-1] == value)
    shape = moved.shape[:-1]
    values, indices = values.reshape(shape), indices.reshape(shape)
    if keepdim:
        values, indices = xp.expand_dims(values, axis), xp.expand_dims(indices, axis)
    return values, indices


_named(defop(_mode, name="mode", node="ModeBackward0", outputs=2, differentiable_outputs=(0,),
             methods=("mode",),
             grads={"input": lambda grad, results, input_shape, dim, keepdim:
                    index_selected_backward(grad[0], input_shape, _dim_of(dim, input_shape),
                                            results[1], keepdim)},
             samples=[samples.Sample(((3, 4),)), samples.Sample(((3, 4),), args=(0, True))]),
       "mode")


# --- unique -----------------------------------------------------------------------------------
def _not_differentiable(name):
    def rule(grad):
        raise RuntimeError(f"the derivative for '{name}' is not implemented.")

    return rule


def _unique(xp, input, sorted=True, return_inverse=False, return_counts=False, dim=None):
    if dim is None:
        values, inverse, counts = xp.unique(input.reshape(-1), return_inverse=True,
                                            return_counts=True)
        inverse = inverse.reshape(input.shape)
    else:
        axis = normalize_dim(dim, input.ndim)
        values, inverse, counts = xp.unique(input, return_inverse=True, return_counts=True,
                                            axis=axis)
        inverse = inverse.reshape(-1)
    return values, inverse.astype("int64"), counts.astype("int64")


unique_op = defop(_unique, name="unique", node="Unique2Backward0", outputs=3,
                  differentiable_outputs=(0,), function=False,
                  backward=_not_differentiable("_unique2"),
                  samples=[samples.Sample(((3, 4),), domain=(-2, 2), integer=True)])
unique_dim_op = defop(_unique, name="unique_dim", node="UniqueDimBackward0", outputs=3,
                      differentiable_outputs=(0,), function=False,
                      backward=_not_differentiable("unique_dim"),
                      samples=[samples.Sample(((4, 3),), args=(True, False, False, 0),
                                              domain=(0, 1), integer=True)])


@public(methods=("unique",))
def unique(input, sorted=True, return_inverse=False, return_counts=False, dim=None):
    """Sorted distinct elements (or slices along ``dim``), with inverse indices and counts on
    request; see torch.unique."""
    op = unique_op if dim is None else unique_dim_op
    values, inverse, counts = op.function(input, sorted, return_inverse, return_counts, dim)
    extra = (inverse,) * bool(return_inverse) + (counts,) * bool(return_counts)
    return (values, *extra) if extra else values
