"""Shape and movement ops: view/reshape, expand, permute/transpose, squeeze/unsqueeze, copies,
dtype conversion. Views share memory and version counter with their base, as in PyTorch."""

from __future__ import annotations

import numpy as np

from .. import _dtype
from .._tensor import Size, normalize_dim
from . import _samples as samples
from ._registry import defop, public

L = "linear"


def parse_shape(shape: tuple) -> tuple[int, ...]:
    """Accept ``f(2, 3)``, ``f((2, 3))``, ``f([2, 3])`` and ``f(torch.Size(...))``."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    return tuple(int(s) for s in shape)


def infer_shape(shape: tuple[int, ...], numel: int) -> tuple[int, ...]:
    """Resolve one -1 in a target shape; RuntimeError with PyTorch's message when invalid."""
    if shape.count(-1) > 1:
        raise RuntimeError("only one dimension can be inferred")
    known = 1
    for size in shape:
        if size != -1:
            if size < 0:
                raise RuntimeError(f"invalid shape dimension {size}")
            known *= size
    if -1 in shape:
        if known == 0 or numel % known:
            raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")
        return tuple(numel // known if s == -1 else s for s in shape)
    if known != numel:
        raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")
    return shape


# --- view / reshape -------------------------------------------------------------------------
def _view(xp, input, shape):
    shape = infer_shape(tuple(shape), input.size)
    try:
        return input.reshape(shape, copy=False)
    except ValueError:
        raise RuntimeError("view size is not compatible with input tensor's size and stride (at "
                           "least one dimension spans across two contiguous subspaces). Use "
                           ".reshape(...) instead.") from None


view_op = defop(_view, name="view", node="ViewBackward0", kind=L, view=True, function=False,
                grads={"input": lambda grad, input_shape: grad.reshape(input_shape)},
                samples=[samples.Sample(((3, 4),), args=((12,),)),
                         samples.Sample(((3, 4),), args=((2, -1, 2),)),
                         samples.Sample(((),), args=((1,),))])


@public(methods=("view",), function=False)
def view(input, *shape):
    """A tensor of a new shape sharing this tensor's data; see torch.Tensor.view."""
    if len(shape) == 1 and not isinstance(shape[0], (int, tuple, list, np.integer)):
        from .._dtype import as_dtype

        return input.to(as_dtype(shape[0]))  # view(dtype): a reinterpretation in torch
    return view_op.function(input, parse_shape(shape))


@public(methods=("reshape",))
def reshape(input, *shape):
    """A view when the memory layout allows it, else a copy; see torch.reshape."""
    target = infer_shape(parse_shape(shape), input.numel())
    if target == tuple(input.shape):
        return view_op.function(input, target)
    try:
        input._data.reshape(target, copy=False)
    except ValueError:
        return view_op.function(input.contiguous(), target)
    return view_op.function(input, target)


@public(methods=("view_as",), function=False)
def view_as(input, other):
    return view_op.function(input, tuple(other.shape))


@public(methods=("reshape_as",), function=False)
def reshape_as(input, other):
    return reshape(input, tuple(other.shape))


@public(methods=("flatten",))
def flatten(input, start_dim=0, end_dim=-1):
    """Merge dims start_dim..end_dim into one; see torch.flatten."""
    ndim = input.ndim
    if ndim == 0:
        return reshape(input, (1,))
    start, end = normalize_dim(start_dim, ndim), normalize_dim(end_dim, ndim)
    if start > end:
        raise RuntimeError("flatten() has invalid args: start_dim cannot come after end_dim")
    if start == end:
        return input
    shape = tuple(input.shape)
    merged = 1
    for size in shape[start:end + 1]:
        merged *= size
    return reshape(input, shape[:start] + (merged,) + shape[end + 1:])


# --- expand ---------------------------------------------------------------------------------
def _expand(xp, input, size):
    size = tuple(size)
    if len(size) < input.ndim:
        raise RuntimeError(
            f"expand(torch.FloatTensor{{{list(input.shape)}}}, size={list(size)}): the number of "
            f"sizes provided ({len(size)}) must be greater or equal to the number of dimensions "
            f"in the tensor ({input.ndim})")
    leading = len(size) - input.ndim
    target = []
    for i, s in enumerate(size):
        if s == -1:
            if i < leading:
                raise RuntimeError(f"The expanded size of the tensor (-1) isn't allowed in a "
                                   f"leading, non-existing dimension {i}")
            s = input.shape[i - leading]
        elif i >= leading and input.shape[i - leading] not in (1, s):
            raise RuntimeError(
                f"The expanded size of the tensor ({s}) must match the existing size "
                f"({input.shape[i - leading]}) at non-singleton dimension {i}.  Target sizes: "
                f"{list(size)}.  Tensor sizes: {list(input.shape)}")
        target.append(s)
    return xp.broadcast_to(input, tuple(target))


expand_op = defop(_expand, name="expand", node="ExpandBackward0", kind=L, view=True,
                  function=False,
                  grads={"input": lambda grad, input_shape: grad.sum_to_size(input_shape)},
                  samples=[samples.Sample(((3, 1),), args=((3, 4),)),
                           samples.Sample(((4,),), args=((2, 3, 4),)),
                           samples.Sample(((),), args=((2, 2),))])


@public(methods=("expand",), function=False)
def expand(input, *size):
    """A broadcast view of ``input`` (no copy); see torch.Tensor.expand."""
    size = parse_shape(size)
    if size == tuple(input.shape):
        return input
    return expand_op.function(input, size)


@public(methods=("expand_as",), function=False)
def expand_as(input, other):
    return expand(input, tuple(other.shape))


@public()
def broadcast_to(input, size):
    """See torch.broadcast_to."""
    return expand(input, tuple(size))


# --- permutations ---------------------------------------------------------------------------
def _permute(xp, input, dims):
    dims = tuple(normalize_dim(d, input.ndim) for d in dims)
    if len(dims) != input.ndim or len(set(dims)) != len(dims):
        raise RuntimeError(f"permute(sparse_coo): number of dimensions in the tensor input does "
                           f"not match the length of the desired ordering of dimensions i.e. "
                           f"input.dim() = {input.ndim} is not equal to len(dims) = {len(dims)}")
    return xp.transpose(input, dims)


def _inverse_permutation(dims, ndim):
    dims = [normalize_dim(d, ndim) for d in dims]
    inverse = [0] * ndim
    for position, axis in enumerate(dims):
        inverse[axis] = position
    return tuple(inverse)


permute_op = defop(
    _permute, name="permute", node="PermuteBackward0", kind=L, view=True, function=False,
    grads={"input": lambda grad, input_shape, dims:
           permute_op.function(grad, _inverse_permutation(dims, len(input_shape)))},
    samples=[samples.Sample(((2, 3, 4),), args=((2, 0, 1),)),
             samples.Sample(((3, 4),), args=((1, 0),))])


@public(methods=("permute",))
def permute(input, *dims):
    """Reorder dims (a view); see torch.permute."""
    return permute_op.function(input, parse_shape(dims))


def _transpose(xp, input, dim0, dim1):
    if input.ndim == 0:
        return input.view()
    return xp.swapaxes(input, normalize_dim(dim0, input.ndim), normalize_dim(dim1, input.ndim))


transpose_op = defop(
    _transpose, name="transpose", node="TransposeBackward0", kind=L, view=True,
    methods=("transpose", "swapaxes", "swapdims"),
    grads={"input": lambda grad, dim0, dim1: transpose_op.function(grad, dim0, dim1)},
    samples=[samples.Sample(((2, 3, 4),), args=(0, 2)), samples.Sample(((3, 4),), args=(-1, 0))])
public(function="swapaxes")(transpose_op.function)
public(function="swapdims")(transpose_op.function)


def _t(xp, input):
    if input.ndim > 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is "
                           f"{input.ndim}D")
    return input.T


t_op = defop(_t, name="t", node="TBackward0", kind=L, view=True, methods=("t",),
             grads={"input": lambda grad: grad.t()},
             samples=[samples.Sample(((3, 4),)), samples.Sample(((5,),))])


def numpy_T(input):
    """``x.T``: all dims reversed (PyTorch records it as a permute)."""
    ndim = input.ndim
    if ndim < 2:
        return input
    return permute_op.function(input, tuple(range(ndim - 1, -1, -1)))


def matrix_T(input):
    """``x.mT``: the last two dims swapped."""
    if input.ndim < 2:
        raise RuntimeError("tensor.mT is only supported on matrices or batches of matrices. Got "
                           f"{input.ndim}-D tensor.")
    return transpose_op.function(input, -2, -1)


# --- squeeze / unsqueeze --------------------------------------------------------------------
def _unsqueeze(xp, input, dim):
    return xp.expand_dims(input, normalize_dim(dim, input.ndim + 1))


unsqueeze_op = defop(_unsqueeze, name="unsqueeze", node="UnsqueezeBackward0", kind=L, view=True,
                     methods=("unsqueeze",),
                     grads={"input": lambda grad, dim, input_shape: grad.reshape(input_shape)},
                     samples=[samples.Sample(((3, 4),), args=(1,)),
                              samples.Sample(((3, 4),), args=(-1,)),
                              samples.Sample(((),), args=(0,))])


def _squeeze_all(xp, input):
    return xp.squeeze(input) if input.ndim else input.view()


squeeze_all = defop(_squeeze_all, name="squeeze_all", node="SqueezeBackward0", kind=L,
                    view=True, function=False,
                    grads={"input": lambda grad, input_shape: grad.reshape(input_shape)},
                    samples=[samples.Sample(((3, 1, 4, 1),)), samples.Sample(((),))])


def _squeeze_dims(xp, input, dims):
    axes = tuple(a for a in (normalize_dim(d, input.ndim) for d in dims)
                 if input.ndim and input.shape[a] == 1)
    return xp.squeeze(input, axis=axes) if axes else input.view()


squeeze_dim = defop(_squeeze_dims, name="squeeze_dim", node="SqueezeBackward1", kind=L,
                    view=True, function=False,
                    grads={"input": lambda grad, input_shape: grad.reshape(input_shape)},
                    samples=[samples.Sample(((3, 1),), args=((1,),)),
                             samples.Sample(((1, 3),), args=((1,),))])
squeeze_dims = defop(_squeeze_dims, name="squeeze_dims", node="SqueezeBackward2", kind=L,
                     view=True, function=False,
                     grads={"input": lambda grad, input_shape: grad.reshape(input_shape)},
                     samples=[samples.Sample(((1, 3, 1),), args=((0, 2),))])


@public(methods=("squeeze",))
def squeeze(input, dim=None):
    """Drop size-1 dims (all, one, or a tuple of them); a view; see torch.squeeze."""
    if dim is None:
        return squeeze_all.function(input)
    if isinstance(dim, (tuple, list)):
        return squeeze_dims.function(input, tuple(dim))
    return squeeze_dim.function(input, (dim,))


# --- copies and conversions -----------------------------------------------------------------
def _clone(xp, input, *, memory_format=None):
    return input.copy()


clone_op = defop(_clone, name="clone", node="CloneBackward0", kind=L, methods=("clone",),
                 grads={"input": lambda grad: grad}, samples=samples.unary())


@public(methods=("contiguous",), function=False)
def contiguous(input, memory_format=None):
    """``input`` itself when C-contiguous, else a contiguous copy; see Tensor.contiguous."""
    if input._data.flags.c_contiguous:
        return input
    return clone_op.function(input)


def _to_dtype(xp, input, dtype):
    return input.astype(dtype.numpy)


to_dtype_op = defop(_to_dtype, name="to_dtype", node="ToCopyBackward0", kind=L, function=False,
                    grads={"input": lambda grad: grad},  # the engine casts back to input dtype
                    samples=[samples.Sample(((3, 4),), args=(_dtype.float32,))])


def convert(input, dtype, copy: bool = False):
    """``input`` as ``dtype``: the same tensor when nothing changes (and copy is False)."""
    if dtype.numpy == input._data.dtype:
        return clone_op.function(input) if copy else input
    return to_dtype_op.function(input, dtype)


@public(methods=("to",), function=False)
def to(input, *args, **kwargs):
    """Convert dtype (device 'cpu' only); see torch.Tensor.to."""
    from .._dtype import as_dtype
    from .._dtype import dtype as dtype_class
    from .._tensor import Tensor, check_device

    dtype = kwargs.pop("dtype", None)
    copy = kwargs.pop("copy", False)
    check_device(kwargs.pop("device", None))
    kwargs.pop("non_blocking", None)
    kwargs.pop("memory_format", None)
    for argument in args:
        if isinstance(argument, dtype_class) or isinstance(argument, type):
            dtype = argument
        elif isinstance(argument, Tensor):
            dtype = argument.dtype
        elif argument is not None and not isinstance(argument, bool):
            check_device(argument)
    if kwargs:
        raise TypeError(f"to() received an invalid combination of arguments: {sorted(kwargs)}")
    if dtype is None:
        return clone_op.function(input) if copy else input
    return convert(input, as_dtype(dtype), copy)


def _converter(name: str, dtype_name: str) -> None:
    def method(input, memory_format=None):
        return convert(input, getattr(_dtype, dtype_name))

    method.__name__ = name
    method.__doc__ = f"``input`` as {dtype_name}; see torch.Tensor.{name}."
    public(methods=(name,), function=False)(method)


for _name, _dtype_name in (("float", "float32"), ("double", "float64"), ("half", "float16"),
                           ("long", "int64"), ("int", "int32"), ("short", "int16"),
                           ("char", "int8"), ("byte", "uint8"), ("bool", "bool")):
    _converter(_name, _dtype_name)


@public(methods=("type_as",), function=False)
def type_as(input, other):
    return convert(input, other.dtype)


def size_of(input) -> Size:
    return Size(input._data.shape)


public(methods=("T",), function=False)(property(numpy_T))
public(methods=("mT",), function=False)(property(matrix_T))
