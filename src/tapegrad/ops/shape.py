"""Shape and movement ops: view/reshape, expand, permute/transpose, squeeze/unsqueeze, repeat,
flips, joins and splits, diagonals, padding, copies, dtype conversion. Views share memory and
version counter with their base, as in PyTorch."""

from __future__ import annotations

import math

import numpy as np

from .. import _dtype
from .._dtype import as_dtype
from .._dtype import dtype as dtype_class
from .._tensor import Size, Tensor, check_device, normalize_dim
from ..autograd.engine import summed_to
from . import _samples as samples
from ._registry import defop, public
from .pointwise import legacy_name

L = "linear"
# The gradient of every reshaping op (view, squeeze, unsqueeze...): the incoming gradient
# reshaped to the input's shape. One formula for tensors (create_graph) and for arrays (the
# NumPy rules of a plain backward).
_RESHAPED_BACK = {"input": lambda grad, input_shape: grad.reshape(input_shape)}


def parse_shape(shape: tuple) -> tuple[int, ...]:
    """Accept ``f(2, 3)``, ``f((2, 3))``, ``f([2, 3])`` and ``f(torch.Size(...))``."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = shape[0]
    return tuple(map(int, shape))


def infer_shape(shape: tuple[int, ...], numel: int) -> tuple[int, ...]:
    """Resolve one -1 in a target shape; RuntimeError with PyTorch's message when invalid."""
    if -1 not in shape and math.prod(shape) == numel and (not shape or min(shape) >= 0):
        return shape  # the common case, checked in C
    if shape.count(-1) > 1:
        raise RuntimeError("only one dimension can be inferred")
    known = 1
    for index, size in enumerate(shape):
        if size != -1:
            if size < 0:
                raise RuntimeError(f"invalid shape dimension {size} at index {index} of shape "
                                   f"{list(shape)}")
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
                grads=_RESHAPED_BACK, array_grads=_RESHAPED_BACK,
                samples=[samples.Sample(((3, 4),), args=((12,),)),
                         samples.Sample(((3, 4),), args=((2, -1, 2),)),
                         samples.Sample(((),), args=((1,),)),
             samples.Sample(((3, 4),), args=((5,),), error=True),  # the wrong number of elements
             samples.Sample(((3, 4),), args=((-1, -1),), error=True),
             samples.Sample(((3, 4),), args=((-2, 6),), error=True),
             samples.Sample(((3, 4),), args=((0, -1),), error=True)])


reshape_alias_op = defop(
    _view, name="reshape_alias", node="ReshapeAliasBackward0", kind=L, view=True,
    function=False, grads=_RESHAPED_BACK, array_grads=_RESHAPED_BACK,
    # reshape reaches it for non-contiguous input; the op table's reference transposes first.
    samples=[samples.Sample(((3, 4),), args=((2, 2, 3),)),
             samples.Sample(((3, 4),), args=((4, 1, 3),))])


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
    data = input._data
    if data.flags.c_contiguous:
        return view_op.function(input, target)
    try:
        data.reshape(target, copy=False)
    except ValueError:
        # Not expressible as a view: PyTorch copies, then reinterprets (UnsafeViewBackward0).
        return unsafe_view_op.function(clone_op.function(input), target)
    # A view of non-contiguous memory: PyTorch records it as _reshape_alias.
    return reshape_alias_op.function(input, target)


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
            f"expand(torch.{legacy_name(input)}Tensor{{{list(input.shape)}}}, size={list(size)}): "
            f"the number of "
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
        elif s < 0:
            raise RuntimeError(f"Trying to create tensor with negative dimension {s}: "
                               f"{list(size)}")
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
                  array_grads={"input": lambda grad, input_shape: summed_to(grad, input_shape)},
                  samples=[samples.Sample(((3, 1),), args=((3, 4),)),
                           samples.Sample(((4,),), args=((2, 3, 4),)),
                           samples.Sample(((),), args=((2, 2),)),
             samples.Sample(((3,),), args=((4,),), error=True),  # not a size-1 dim
             samples.Sample(((3, 4),), args=((4,),), error=True),  # fewer sizes than dims
             samples.Sample(((3,),), args=((-1, 3),), error=True)])  # -1 for a new dim


@public(methods=("expand",), function=False)
def expand(input, *size):
    """A broadcast view of ``input`` (no copy); see torch.Tensor.expand."""
    return expand_op.function(input, parse_shape(size))  # a new view even to the same shape


@public(methods=("expand_as",), function=False)
def expand_as(input, other):
    return expand(input, tuple(other.shape))


@public(methods=("broadcast_to",))
def broadcast_to(input, size):
    """See torch.broadcast_to."""
    return expand(input, tuple(size))


# --- permutations ---------------------------------------------------------------------------
def _permute(xp, input, dims):
    if len(dims) != input.ndim:
        raise RuntimeError(f"permute(sparse_coo): number of dimensions in the tensor input does "
                           f"not match the length of the desired ordering of dimensions i.e. "
                           f"input.dim() = {input.ndim} is not equal to len(dims) = {len(dims)}")
    dims = tuple(normalize_dim(d, input.ndim) for d in dims)
    if len(set(dims)) != len(dims):
        raise RuntimeError("permute(): duplicate dims are not allowed.")
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
    array_grads={"input": lambda grad, input_shape, dims:
                 grad.transpose(_inverse_permutation(dims, len(input_shape)))},
    samples=[samples.Sample(((2, 3, 4),), args=((2, 0, 1),)),
             samples.Sample(((3, 4),), args=((1, 0),)),
             samples.Sample(((2, 3),), args=((0, 0),), error=True),
             samples.Sample(((2, 3),), args=((0,),), error=True),
             samples.Sample(((2, 3),), args=((0, 1, 2),), error=True),
             samples.Sample(((2, 3),), args=((0, 2),), error=True)])


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
    # (0-d and 1-d: transposing is the identity, and NumPy's swapaxes needs the axes to exist)
    array_grads={"input": lambda grad, dim0, dim1:
                 grad.swapaxes(dim0, dim1) if grad.ndim > 1 else grad},
    samples=[samples.Sample(((2, 3, 4),), args=(0, 2)), samples.Sample(((3, 4),), args=(-1, 0)),
             samples.Sample(((2, 3),), args=(0, 3), error=True),
             samples.Sample(((2, 3),), args=(-3, 0), error=True)])
public(function="swapaxes")(transpose_op.function)
public(function="swapdims")(transpose_op.function)


def _transposed_matrix(input, name: str):
    if input.ndim > 2:
        raise RuntimeError(f"{name}() expects a tensor with <= 2 dimensions, but self is "
                           f"{input.ndim}D")
    return input.T


def _t(xp, input):
    return _transposed_matrix(input, "t")


def _t_inplace(xp, input):
    return _transposed_matrix(input, "t_")


t_op = defop(_t, name="t", node="TBackward0", kind=L, view=True, methods=("t",),
             grads={"input": lambda grad: grad.t()},
             array_grads={"input": lambda grad: grad.T},
             samples=[samples.Sample(((3, 4),)), samples.Sample(((5,),)),
                      samples.Sample(((2, 3, 4),), error=True)])


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
    # A reshape inserting a 1 is always a view (np.expand_dims does the same, after a slower
    # Python layer of axis normalization).
    dim = normalize_dim(dim, input.ndim + 1)
    shape = input.shape
    return input.reshape(shape[:dim] + (1,) + shape[dim:])


unsqueeze_op = defop(_unsqueeze, name="unsqueeze", node="UnsqueezeBackward0", kind=L, view=True,
                     methods=("unsqueeze",),
                     grads=_RESHAPED_BACK, array_grads=_RESHAPED_BACK,
                     samples=[samples.Sample(((3, 4),), args=(1,)),
                              samples.Sample(((3, 4),), args=(-1,)),
                              samples.Sample(((),), args=(0,)),
                              samples.Sample(((2, 3),), args=(5,), error=True),
                              samples.Sample(((2, 3),), args=(-4,), error=True)])


def _squeeze_all(xp, input):
    return xp.squeeze(input) if input.ndim else input.view()


squeeze_all = defop(_squeeze_all, name="squeeze_all", node="SqueezeBackward0", kind=L,
                    view=True, function=False,
                    grads=_RESHAPED_BACK, array_grads=_RESHAPED_BACK,
                    samples=[samples.Sample(((3, 1, 4, 1),)), samples.Sample(((),))])


def unique_dims(dims, ndim: int) -> tuple[int, ...]:
    """``dims`` wrapped into [0, ndim); RuntimeError when one is named twice, as PyTorch."""
    axes = tuple(normalize_dim(d, ndim) for d in dims)
    seen: set[int] = set()
    for axis in axes:
        if axis in seen:
            raise RuntimeError(f"dim {axis} appears multiple times in the list of dims")
        seen.add(axis)
    return axes


def _squeeze_dims(xp, input, dims):
    axes = tuple(a for a in unique_dims(dims, input.ndim)
                 if input.ndim and input.shape[a] == 1)
    return xp.squeeze(input, axis=axes) if axes else input.view()


squeeze_dim = defop(_squeeze_dims, name="squeeze_dim", node="SqueezeBackward1", kind=L,
                    view=True, function=False,
                    grads=_RESHAPED_BACK, array_grads=_RESHAPED_BACK,
                    samples=[samples.Sample(((3, 1),), args=((1,),)),
                             samples.Sample(((1, 3),), args=((1,),)),
                             samples.Sample(((3, 1),), args=((2,),), error=True)])
squeeze_dims = defop(_squeeze_dims, name="squeeze_dims", node="SqueezeBackward2", kind=L,
                     view=True, function=False,
                     grads=_RESHAPED_BACK, array_grads=_RESHAPED_BACK,
                     samples=[samples.Sample(((1, 3, 1),), args=((0, 2),)),
                              samples.Sample(((1, 3, 1),), args=((0, 3),), error=True),
                              samples.Sample(((1, 3, 1),), args=((0, 0),), error=True)])


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
    if not kwargs and len(args) == 1 and type(args[0]) is dtype_class:
        return convert(input, args[0])  # x.to(torch.float64), the common call
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




public(methods=("T",), function=False)(property(numpy_T))
public(methods=("mT",), function=False)(property(matrix_T))


# --- reshape copies, flatten/unflatten, movedim --------------------------------------------
def _unsafe_view(xp, input, shape):
    return input.reshape(shape)


unsafe_view_op = defop(_unsafe_view, name="unsafe_view", node="UnsafeViewBackward0", kind=L,
                       function=False,
                       grads=_RESHAPED_BACK, array_grads=_RESHAPED_BACK,
                       samples=[samples.Sample(((3, 4),), args=((2, 6),)),
                                samples.Sample(((3, 4),), args=((5,),), error=True)])


@public(methods=("unflatten",))
def unflatten(input, dim, sizes):
    """Split dim ``dim`` into ``sizes`` (one may be -1); see torch.unflatten."""
    shape = tuple(input.shape)
    dim = normalize_dim(dim, input.ndim)
    sizes = infer_shape(tuple(int(s) for s in sizes), shape[dim])
    return reshape(input, shape[:dim] + sizes + shape[dim + 1:])


@public(methods=("movedim", "moveaxis"))
def movedim(input, source, destination):
    """Move dims ``source`` to positions ``destination`` (a permute view); see torch.movedim."""
    ndim = input.ndim
    source = [source] if isinstance(source, int) else list(source)
    destination = [destination] if isinstance(destination, int) else list(destination)
    if len(source) != len(destination):
        raise RuntimeError(f"movedim: Invalid source or destination dims: source ({source} dims)"
                           f" should contain the same number of dims as destination "
                           f"({destination} dims)")
    source = [normalize_dim(d, ndim) for d in source]
    destination = [normalize_dim(d, ndim) for d in destination]
    order = [None] * ndim
    for s, d in zip(source, destination):
        order[d] = s
    rest = iter(d for d in range(ndim) if d not in source)
    order = [next(rest) if o is None else o for o in order]
    return permute_op.function(input, tuple(order))


public(function="moveaxis")(movedim)


# --- broadcasting -------------------------------------------------------------------------
@public()
def broadcast_shapes(*shapes):
    """The shape all ``shapes`` broadcast to; see torch.broadcast_shapes."""
    result: list[int] = []
    for shape in shapes:
        shape = (shape,) if isinstance(shape, int) else tuple(shape)
        padded = [1] * (len(shape) - len(result)) + result
        merged = [1] * (len(padded) - len(shape)) + list(shape)
        for i, (a, b) in enumerate(zip(padded, merged)):
            if a != b and a != 1 and b != 1:
                raise RuntimeError(f"The size of tensor a ({a}) must match the size of tensor b "
                                   f"({b}) at non-singleton dimension {i}")
            padded[i] = b if a == 1 else a
        result = padded
    return Size(result)


@public()
def broadcast_tensors(*tensors):
    """Each tensor expanded to the common shape (itself when already of it)."""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    shape = tuple(broadcast_shapes(*(tuple(t.shape) for t in tensors)))
    return tuple(t if tuple(t.shape) == shape else expand(t, shape) for t in tensors)


# --- repeat / tile / repeat_interleave ------------------------------------------------------
def _repeat(xp, input, repeats):
    if len(repeats) < input.ndim:
        raise RuntimeError("Number of dimensions of repeat dims can not be smaller than number of "
                           "dimensions of tensor")
    padded = (1,) * (len(repeats) - input.ndim) + input.shape
    target = [count * size for count, size in zip(repeats, padded)]
    for size in target:
        if size < 0:
            raise RuntimeError(f"Trying to create tensor with negative dimension {size}: "
                               f"{target}")
    return xp.tile(input.reshape((1,) * (len(repeats) - input.ndim) + input.shape), repeats)


def _repeat_backward(grad, input_shape, repeats):
    padded = (1,) * (len(repeats) - len(input_shape)) + tuple(input_shape)
    interleaved = []
    for count, size in zip(repeats, padded):
        interleaved += [count, size]
    summed = grad.reshape(tuple(interleaved)).sum(tuple(range(0, 2 * len(repeats), 2)))
    return summed.reshape(tuple(input_shape))


repeat_op = defop(_repeat, name="repeat", node="RepeatBackward0", kind=L, function=False,
                  grads={"input": _repeat_backward},
                  samples=[samples.Sample(((2, 3),), args=((2, 1),)),
                           samples.Sample(((3,),), args=((2, 2),)),
                           samples.Sample(((),), args=((3,),)),
                           samples.Sample(((2, 3),), args=((2,),), error=True),
                           samples.Sample(((2, 3),), args=((2, -1),), error=True)])


@public(methods=("repeat",), function=False)
def repeat(input, *repeats):
    """Tile the tensor ``repeats`` times along each dim; see torch.Tensor.repeat."""
    return repeat_op.function(input, parse_shape(repeats))


@public(methods=("tile",))
def tile(input, dims):
    """Like repeat, with missing leading repeats taken as 1; see torch.tile."""
    dims = parse_shape((dims,)) if isinstance(dims, (tuple, list)) else (int(dims),)
    return repeat_op.function(input, (1,) * (input.ndim - len(dims)) + dims)


@public(methods=("repeat_interleave",))
def repeat_interleave(input, repeats=None, dim=None, *, output_size=None):
    """Repeat each element ``repeats`` times (an int or per-element counts); see
    torch.repeat_interleave."""
    from .._creation import tensor as make_tensor
    from .._tensor import Tensor

    if repeats is None:  # repeat_interleave(repeats): the indices form
        counts = input._data
        return make_tensor(np.repeat(np.arange(counts.size), counts))
    if dim is None:
        input, dim = flatten(input), 0
    dim = normalize_dim(dim, input.ndim)
    if isinstance(repeats, Tensor) and repeats.numel() != 1:
        counts = repeats._data.reshape(-1)
        if counts.size != input.shape[dim]:
            raise RuntimeError("repeats must have the same size as input along dim")
        positions = make_tensor(np.repeat(np.arange(input.shape[dim]), counts))
        from .indexing import index_select_op

        return index_select_op.function(input, dim, positions)
    count = int(repeats)
    shape = tuple(input.shape)
    expanded = expand(input.unsqueeze(dim + 1), shape[:dim + 1] + (count,) + shape[dim + 1:])
    return view_op.function(clone_op.function(expanded),
                            shape[:dim] + (shape[dim] * count,) + shape[dim + 1:])


# --- flips and rotations ------------------------------------------------------------------
def _dims_tuple(dims, ndim):
    return unique_dims((dims,) if isinstance(dims, int) else tuple(dims), ndim)


def _flip(xp, input, dims):
    axes = _dims_tuple(dims, input.ndim)
    return xp.flip(input, axis=axes).copy() if input.ndim else input.copy()


flip_op = defop(_flip, name="flip", node="FlipBackward0", kind=L, function=False,
                grads={"input": lambda grad, dims: flip_op.function(grad, dims)},
                samples=[samples.Sample(((3, 4),), args=((0,),)),
                         samples.Sample(((2, 3, 4),), args=((0, 2),)),
                         samples.Sample(((5,),), args=((-1,),)),
                         samples.Sample(((3, 4),), args=((2,),), error=True),
                         samples.Sample(((3, 4),), args=((0, -2),), error=True)])


@public(methods=("flip",))
def flip(input, *dims):
    """Reverse the order of elements along ``dims`` (a copy); see torch.flip."""
    return flip_op.function(input, parse_shape(dims))


@public(methods=("fliplr",))
def fliplr(input):
    """See torch.fliplr."""
    if input.ndim < 2:
        raise RuntimeError("Input must be >= 2-d.")
    return flip_op.function(input, (1,))


@public(methods=("flipud",))
def flipud(input):
    """See torch.flipud."""
    if input.ndim < 1:
        raise RuntimeError("Input must be >= 1-d.")
    return flip_op.function(input, (0,))


def _roll(xp, input, shifts, dims):
    if not dims:
        return xp.roll(input.reshape(-1), shifts[0]).reshape(input.shape)
    if len(shifts) != len(dims):
        raise RuntimeError(f"shifts and dimensions must align. shifts: {len(shifts)}, dims:"
                           f"{len(dims)}")
    return xp.roll(input, shifts, axis=tuple(normalize_dim(d, input.ndim) for d in dims))


roll_op = defop(_roll, name="roll", node="RollBackward0", kind=L, function=False,
                grads={"input": lambda grad, shifts, dims: roll_op.function(
                    grad, tuple(-s for s in shifts), dims)},
                samples=[samples.Sample(((3, 4),), args=((1,), ())),
                         samples.Sample(((3, 4),), args=((2, -1), (0, 1))),
                         samples.Sample(((5,),), args=((7,), (0,))),
                         samples.Sample(((3, 4),), args=((1, 2), (0,)), error=True),
                         samples.Sample(((3, 4),), args=((1, 2), ()), error=True),
                         samples.Sample(((3, 4),), args=((1,), (2,)), error=True)])


@public(methods=("roll",))
def roll(input, shifts, dims=None):
    """Shift elements cyclically along ``dims`` (the flattened tensor without); see torch.roll."""
    shifts = (shifts,) if isinstance(shifts, int) else tuple(shifts)
    dims = () if dims is None else (dims,) if isinstance(dims, int) else tuple(dims)
    if not dims and len(shifts) != 1:
        raise RuntimeError(f"shifts and dimensions must align. shifts: {len(shifts)}, dims:0")
    return roll_op.function(input, shifts, dims)


def _rot90(xp, input, k=1, dims=(0, 1)):
    dims = tuple(dims)
    if len(dims) != 2:
        raise RuntimeError(f"expected total rotation dims == 2, but got dims = {len(dims)}")
    if input.ndim < 2:
        raise RuntimeError(f"expected total dims >= 2, but got total dims = {input.ndim}")
    a, b = normalize_dim(dims[0], input.ndim), normalize_dim(dims[1], input.ndim)
    if a == b:
        raise RuntimeError(f"expected rotation dims to be different, but got dim0 = {a} and "
                           f"dim1 = {b}")
    return xp.rot90(input, k, axes=(a, b)).copy()


rot90_op = defop(_rot90, name="rot90", node="Rot90Backward0", kind=L, methods=("rot90",),
                 grads={"input": lambda grad, k, dims: rot90_op.function(grad, -k, dims)},
                 samples=[samples.Sample(((3, 4),)), samples.Sample(((2, 3, 4),), args=(2, (1, 2))),
                          samples.Sample(((3, 4),), args=(-1,)),
                          samples.Sample(((3, 4),), args=(1, (0, 0)), error=True),
                          samples.Sample(((3, 4),), args=(1, (0,)), error=True),
                          samples.Sample(((5,),), error=True),
                          samples.Sample(((3, 4),), args=(1, (0, 2)), error=True)])


# --- joining --------------------------------------------------------------------------------
def _cat(xp, tensors, dim, sizes):
    return xp.concatenate(tensors, axis=dim)


def _cat_backward(grad, dim, sizes):
    pieces = []
    start = 0
    for size in sizes:
        pieces.append(grad.narrow(dim, start, size))
        start += size
    return tuple(pieces)


cat_op = defop(_cat, name="cat", node="CatBackward0", promote="promote", sequence=True, kind=L,
               function=False, backward=_cat_backward,
               samples=[samples.Sample(((2, 3), (4, 3)), args=(0, (2, 4))),
                        samples.Sample(((2, 3), (2, 1), (2, 2)), args=(1, (3, 1, 2))),
                        samples.Sample(((2, 3), (3, 4)), args=(0, (2, 3)), error=True),
                        samples.Sample(((2, 3), (2, 4)), args=(0, (2, 2)), error=True),
                        samples.Sample(((2, 3), (2, 3)), args=(2, (2, 2)), error=True),
                        samples.Sample(((2, 3), (3,)), args=(0, (2, 3)), error=True),
                        samples.Sample(((), ()), args=(0, (1, 1)), error=True)])


@public()
def cat(tensors, dim=0, *, out=None):
    """Join tensors along an existing dim; see torch.cat."""
    tensors = tuple(tensors)
    if not tensors:
        raise RuntimeError("torch.cat(): expected a non-empty list of Tensors")
    kept, shapes = [], []
    for tensor in tensors:
        shape = tensor.shape  # the property: under vmap, the logical shape
        if shape != (0,):  # as PyTorch, 1-D empty tensors are skipped (a legacy rule)
            kept.append(tensor)
            shapes.append(shape)
    if not kept:
        kept, shapes = [tensors[0]], [tensors[0].shape]
    reference = shapes[0]
    if not reference:
        raise RuntimeError("zero-dimensional tensor (at position 0) cannot be concatenated")
    dim = normalize_dim(dim, len(reference))
    for shape in shapes:
        if shape != reference:
            _cat_mismatch(tensors, reference, dim)
    return cat_op.function(tuple(kept), dim, tuple(shape[dim] for shape in shapes))


def _cat_mismatch(tensors, reference, dim) -> None:
    """Raise PyTorch's error for the first tensor whose shape cat cannot join."""
    for number, tensor in enumerate(tensors):
        shape = tensor.shape
        if shape == (0,):
            continue
        if len(shape) != len(reference):
            raise RuntimeError(f"Tensors must have same number of dimensions: got "
                               f"{len(reference)} and {len(shape)}")
        for axis in range(len(reference)):
            if axis != dim and shape[axis] != reference[axis]:
                raise RuntimeError(
                    f"Sizes of tensors must match except in dimension {dim}. Expected size "
                    f"{reference[axis]} but got size {shape[axis]} for tensor number "
                    f"{number} in the list.")


public(function="concat")(cat)
public(function="concatenate")(cat)


def _stack(xp, tensors, dim):
    for number, array in enumerate(tensors):
        if array.shape != tensors[0].shape:
            raise RuntimeError(f"stack expects each tensor to be equal size, but got "
                               f"{list(tensors[0].shape)} at entry 0 and {list(array.shape)} at "
                               f"entry {number}")
    return xp.stack(tensors, axis=normalize_dim(dim, tensors[0].ndim + 1))


stack_op = defop(_stack, name="stack", node="StackBackward0", promote="promote", sequence=True,
                 kind=L, function=False,
                 backward=lambda grad, dim: tuple(grad.unbind(dim)),
                 samples=[samples.Sample(((2, 3), (2, 3)), args=(0,)),
                          samples.Sample(((4,), (4,), (4,)), args=(-1,)),
                          samples.Sample(((2, 3), (3, 3)), args=(0,), error=True),
                          samples.Sample(((2, 3), (2, 3)), args=(3,), error=True),
                          samples.Sample(((2, 3), (2, 3)), args=(-4,), error=True)])


@public()
def stack(tensors, dim=0, *, out=None):
    """Join tensors along a new dim; see torch.stack."""
    tensors = tuple(tensors)
    if not tensors:
        raise RuntimeError("stack expects a non-empty TensorList")
    return stack_op.function(tensors, dim)


@public()
def atleast_1d(*tensors):
    """See torch.atleast_1d."""
    return _at_least(tensors, 1)


@public()
def atleast_2d(*tensors):
    """See torch.atleast_2d."""
    return _at_least(tensors, 2)


@public()
def atleast_3d(*tensors):
    """See torch.atleast_3d."""
    return _at_least(tensors, 3)


def _at_least(tensors, ndim):
    single = len(tensors) == 1 and not isinstance(tensors[0], (list, tuple))
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    results = []
    for t in tensors:
        if t.ndim == 0:
            t = reshape(t, (1,) * ndim)
        elif ndim >= 2 and t.ndim == 1:
            t = t.unsqueeze(0)
            if ndim == 3:
                t = t.unsqueeze(-1)
        elif ndim == 3 and t.ndim == 2:
            t = t.unsqueeze(-1)
        results.append(t)
    return results[0] if single else tuple(results)


@public()
def hstack(tensors):
    """Join along dim 1 (dim 0 for 1-D tensors); see torch.hstack."""
    tensors = atleast_1d(tuple(tensors))
    return cat(tensors, 0 if tensors[0].ndim == 1 else 1)


@public()
def vstack(tensors):
    """Join along dim 0 after making tensors at least 2-D; see torch.vstack."""
    return cat(atleast_2d(tuple(tensors)), 0)


public(function="row_stack")(vstack)


@public()
def dstack(tensors):
    """Join along dim 2 after making tensors at least 3-D; see torch.dstack."""
    return cat(atleast_3d(tuple(tensors)), 2)


@public()
def column_stack(tensors):
    """See torch.column_stack."""
    tensors = tuple(reshape(t, (t.numel(), 1)) if t.ndim <= 1 else t for t in tensors)
    return cat(tensors, 1)


# --- splitting (views) ----------------------------------------------------------------------
def _split_points(sizes):
    points, total = [], 0
    for size in sizes[:-1]:
        total += size
        points.append(total)
    return points


def _split(xp, input, sizes, dim):
    return [input[(slice(None),) * dim + (slice(start, start + size),)]
            for start, size in zip([0] + _split_points(sizes), sizes)]


def _split_backward(grad, dim):
    return (cat(list(grad), dim),)


_SPLIT_SAMPLES = [samples.Sample(((5, 3),), args=((2, 2, 1), 0)),
                  samples.Sample(((2, 6),), args=((3, 3), 1))]
# The op_db entry of split passes the first size as split_size, split_with_sizes all of them.
split_op = defop(_split, name="split", node="SplitBackward0", outputs=2, kind=L, function=False,
                 backward=_split_backward,
                 samples=_SPLIT_SAMPLES + [
                     samples.Sample(((5, 3),), args=((0,), 0), error=True),
                     samples.Sample(((5, 3),), args=((-1,), 0), error=True),
                     samples.Sample(((5, 3),), args=((2,), 2), error=True)])
split_with_sizes_op = defop(
    _split, name="split_with_sizes", node="SplitWithSizesBackward0", outputs=2, kind=L,
    function=False, backward=_split_backward,
    samples=_SPLIT_SAMPLES + [
        samples.Sample(((5, 3),), args=((2, 2), 0), error=True),  # sizes do not sum to 5
        samples.Sample(((5, 3),), args=((6, -1), 0), error=True),
        samples.Sample(((5, 3),), args=((2, 3), 2), error=True)])


def multi_output_views(results, input, name: str):
    """Mark the outputs of split/unbind as views of ``input``'s base (PyTorch forbids writing
    them in place when they require grad, so their shared node stays right)."""
    from .._dispatch import mark_view

    for result in results:
        mark_view(result, input)
        if result._requires_grad:
            result.__dict__["_multi_output_view"] = name
    return results


@public(methods=("split",))
def split(tensor, split_size_or_sections, dim=0):
    """Split into chunks of a size (the last smaller), or of the given sizes; views;
    see torch.split."""
    dim = normalize_dim(dim, tensor.ndim)
    length = tensor.shape[dim]
    if isinstance(split_size_or_sections, int):
        size = split_size_or_sections
        if size < 0:
            raise RuntimeError(f"split expects split_size be non-negative, but got "
                               f"split_size={size}")
        if size == 0 and length != 0:
            raise RuntimeError(f"split_size can only be 0 if dimension size is 0, but got "
                               f"dimension size of {length}")
        count = max(-(-length // size), 1) if size else 1
        sizes = tuple(min(size, length - i * size) for i in range(count))
        return multi_output_views(split_op.function(tensor, sizes, dim), tensor, "Split")
    sizes = tuple(int(s) for s in split_size_or_sections)
    if any(s < 0 for s in sizes):
        raise RuntimeError(f"split_with_sizes expects split_sizes have only non-negative "
                           f"entries, but got split_sizes={list(sizes)}")
    if sum(sizes) != length:
        raise RuntimeError(f"split_with_sizes expects split_sizes to sum exactly to {length} "
                           f"(input tensor's size at dimension {dim}), but got split_sizes="
                           f"{list(sizes)}")
    return multi_output_views(split_with_sizes_op.function(tensor, sizes, dim), tensor,
                              "SplitWithSizes")


@public(methods=("chunk",))
def chunk(input, chunks, dim=0):
    """Split into at most ``chunks`` equal views; see torch.chunk."""
    if chunks <= 0:
        raise RuntimeError("chunk expects `chunks` to be greater than 0, got: " + str(chunks))
    length = input.shape[normalize_dim(dim, input.ndim)]
    return split(input, max(-(-length // chunks), 1) if length else 1, dim)


@public(methods=("tensor_split",))
def tensor_split(input, indices_or_sections, dim=0):
    """Split at indices, or into ``sections`` nearly equal views; see torch.tensor_split."""
    from .._tensor import Tensor

    dim = normalize_dim(dim, input.ndim)
    length = input.shape[dim]
    if isinstance(indices_or_sections, Tensor):
        indices_or_sections = indices_or_sections.tolist()
    if isinstance(indices_or_sections, int):
        sections = indices_or_sections
        if sections <= 0:
            raise RuntimeError(f"number of sections must be larger than 0, got {sections}")
        base, extra = divmod(length, sections)
        bounds = [0]
        for i in range(sections):
            bounds.append(bounds[-1] + base + (1 if i < extra else 0))
    else:
        bounds = [0] + [min(max(int(i), 0), length)
                        for i in indices_or_sections] + [length]
    return tuple(narrow(input, dim, start, max(stop - start, 0))
                 for start, stop in zip(bounds[:-1], bounds[1:]))


def _unbind(xp, input, dim):
    return [input[(slice(None),) * dim + (i, Ellipsis)] for i in range(input.shape[dim])]


unbind_op = defop(_unbind, name="unbind", node="UnbindBackward0", outputs=2, kind=L,
                  function=False, backward=lambda grad, dim: (stack(list(grad), dim),),
                  samples=[samples.Sample(((3, 4),), args=(0,)),
                           samples.Sample(((2, 3, 2),), args=(1,)),
                           samples.Sample(((3, 4),), args=(2,), error=True)])


@public(methods=("unbind",))
def unbind(input, dim=0):
    """The slices along ``dim`` (views); see torch.unbind."""
    dim = normalize_dim(dim, input.ndim)
    return tuple(multi_output_views(unbind_op.function(input, dim), input, "Unbind"))


@public(methods=("narrow",))
def narrow(input, dim, start, length):
    """``length`` elements from ``start`` along ``dim`` (a view); see torch.narrow."""
    from .indexing import slice_op

    dim = normalize_dim(dim, input.ndim)
    size = input.shape[dim]
    start = int(start)
    if not -size <= start <= size:
        raise IndexError(f"start out of range (expected to be in range of [{-size}, {size}], "
                         f"but got {start})")
    if start < 0:
        start += size
    if start + length > size:
        raise RuntimeError(f"start ({start}) + length ({length}) exceeds dimension size "
                           f"({size}).")
    if length < 0:
        raise RuntimeError("narrow(): length must be non-negative.")
    return slice_op.function(input, dim, start, start + length, 1)


# --- diagonals and triangles ----------------------------------------------------------------
def diagonal_view(xp, array, offset, dim1, dim2):
    """A writable NumPy view of a diagonal (the diagonal's dim last), as torch.diagonal."""
    ndim = array.ndim
    dim1, dim2 = normalize_dim(dim1, ndim), normalize_dim(dim2, ndim)
    if dim1 == dim2:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    start = [slice(None)] * ndim
    if offset >= 0:
        start[dim2] = slice(min(offset, array.shape[dim2]), None)
        length = max(0, min(array.shape[dim1], array.shape[dim2] - offset))
    else:
        start[dim1] = slice(min(-offset, array.shape[dim1]), None)
        length = max(0, min(array.shape[dim1] + offset, array.shape[dim2]))
    corner = array[tuple(start)]
    keep = [k for k in range(ndim) if k not in (dim1, dim2)]
    shape = tuple(corner.shape[k] for k in keep) + (length,)
    strides = tuple(corner.strides[k] for k in keep) + (corner.strides[dim1]
                                                         + corner.strides[dim2],)
    return xp.lib.stride_tricks.as_strided(corner, shape, strides,
                                           writeable=corner.flags.writeable)


def _diagonal(xp, input, offset=0, dim1=0, dim2=1):
    return diagonal_view(xp, input, offset, dim1, dim2)


def _diagonal_backward(xp, grad, input_shape, offset, dim1, dim2):
    output = xp.zeros(input_shape, dtype=grad.dtype)
    diagonal_view(xp, output, offset, dim1, dim2)[...] = grad
    return output


diagonal_backward_op = defop(
    _diagonal_backward, name="diagonal_backward", node="DiagonalBackwardBackward0", kind=L,
    function=False, grads={"grad": lambda grad, offset, dim1, dim2: diagonal_op.function(
        grad, offset, dim1, dim2)},
    samples=[samples.Sample(((3,),), args=((3, 4), 0, 0, 1)),
             samples.Sample(((2, 2),), args=((2, 3, 4), 1, -1, 1))])

_DIAGONAL_SAMPLES = [samples.Sample(((3, 4),)), samples.Sample(((3, 4),), args=(1,)),
                     samples.Sample(((4, 3),), args=(-2,)),
                     samples.Sample(((2, 3, 4),), args=(1, -1, 1)),
                     samples.Sample(((3, 4),), args=(0, 1, 1), error=True),
                     samples.Sample(((3, 4),), args=(0, 0, 2), error=True)]
diagonal_op = defop(_diagonal, name="diagonal", node="DiagonalBackward0", kind=L, view=True,
                    methods=("diagonal",),
                    grads={"input": lambda grad, input_shape, offset, dim1, dim2:
                           diagonal_backward_op.function(grad, input_shape, offset, dim1, dim2)},
                    samples=_DIAGONAL_SAMPLES)


def _diagonal_copy(xp, input, offset=0, dim1=0, dim2=1):
    return diagonal_view(xp, input, offset, dim1, dim2).copy()


diagonal_copy_op = defop(
    _diagonal_copy, name="diagonal_copy", node="DiagonalBackward0_copy", kind=L,
    grads={"input": lambda grad, input_shape, offset, dim1, dim2:
           diagonal_backward_op.function(grad, input_shape, offset, dim1, dim2)},
    samples=_DIAGONAL_SAMPLES[:2] + _DIAGONAL_SAMPLES[-2:])


def _diag_embed(xp, input, offset=0, dim1=-2, dim2=-1):
    ndim = input.ndim + 1
    first, second = normalize_dim(dim1, ndim), normalize_dim(dim2, ndim)
    if first == second:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    size = (input.shape[-1] if input.ndim else 1) + abs(offset)
    rest = iter(input.shape[:-1])
    shape = tuple(size if k in (first, second) else next(rest) for k in range(ndim))
    output = xp.zeros(shape, dtype=input.dtype)
    diagonal_view(xp, output, offset, first, second)[...] = input
    return output


diag_embed_op = defop(_diag_embed, name="diag_embed", node="DiagEmbedBackward0", kind=L,
                      methods=("diag_embed",),
                      grads={"input": lambda grad, offset, dim1, dim2: diagonal_op.function(
                          grad, offset, dim1, dim2)},
                      samples=[samples.Sample(((3,),)), samples.Sample(((2, 3),), args=(1,)),
                               samples.Sample(((2, 3),), args=(-1, 0, 2)),
                               samples.Sample(((2, 3),), args=(0, 0, 0), error=True),
                               samples.Sample(((2, 3),), args=(0, 0, 3), error=True)])


@public(methods=("diag",))
def diag(input, diagonal=0):
    """A diagonal matrix from a vector, or a matrix's diagonal (a copy); see torch.diag."""
    if input.ndim == 1:
        return diag_embed_op.function(input, diagonal, 0, 1)
    if input.ndim == 2:
        return diagonal_copy_op.function(input, diagonal, 0, 1)
    raise RuntimeError(f"diag(): Supports 1D or 2D tensors. Got {input.ndim}D")


def _triangle(kind):
    def forward(xp, input, diagonal=0):
        if input.ndim < 2:
            raise RuntimeError(f"{kind}: input tensor must have at least 2 dimensions")
        return getattr(xp, kind)(input, diagonal)

    forward.__name__ = "_" + kind
    return forward


_TRIANGLE_SAMPLES = [samples.Sample(((3, 4),)), samples.Sample(((4, 3),), args=(1,)),
                     samples.Sample(((2, 3, 3),), args=(-1,)),
                     samples.Sample(((5,),), error=True)]  # not a matrix
tril_op = defop(_triangle("tril"), name="tril", node="TrilBackward0", kind=L, methods=("tril",),
                inplace="tril_", grads={"input": lambda grad, diagonal: grad.tril(diagonal)},
                samples=_TRIANGLE_SAMPLES)
triu_op = defop(_triangle("triu"), name="triu", node="TriuBackward0", kind=L, methods=("triu",),
                inplace="triu_", grads={"input": lambda grad, diagonal: grad.triu(diagonal)},
                samples=_TRIANGLE_SAMPLES)


def _trace(xp, input):
    if input.ndim != 2:
        raise RuntimeError(f"trace: expected a matrix, but got tensor with dim {input.ndim}")
    return xp.trace(input, dtype=input.dtype if input.dtype.kind in "fc" else "int64")


def _trace_backward(grad, input_shape):
    from .._creation import eye

    return grad * eye(*input_shape, dtype=grad.dtype)


defop(_trace, name="trace", node="TraceBackward0", kind=L, methods=("trace",),
      grads={"input": _trace_backward},
      samples=[samples.Sample(((3, 3),)), samples.Sample(((2, 4),)),
               samples.Sample(((5,),), error=True), samples.Sample(((2, 3, 4),), error=True)])


# --- meshgrid -------------------------------------------------------------------------------
@public()
def meshgrid(*tensors, indexing=None):
    """Coordinate grids from 1-D tensors ('ij' or 'xy' order); see torch.meshgrid."""
    import warnings

    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    if indexing is None:
        warnings.warn("torch.meshgrid: in an upcoming release, it will be required to pass the "
                      "indexing argument.", UserWarning, stacklevel=2)
        indexing = "ij"
    if indexing not in ("ij", "xy"):
        raise RuntimeError(f"torch.meshgrid: indexing must be one of \"xy\" or \"ij\", but "
                           f"received: {indexing}")
    for t in tensors:
        if t.ndim > 1:
            raise RuntimeError(f"torch.meshgrid: Expected 0D or 1D tensor in the tensor list "
                               f"but got: {t}")
    swap = indexing == "xy" and len(tensors) >= 2
    order = list(tensors)
    if swap:
        order[0], order[1] = order[1], order[0]
    shape = tuple(t.numel() for t in order)
    grids = []
    for position, t in enumerate(order):
        view_shape = [1] * len(order)
        view_shape[position] = -1
        grids.append(expand(reshape(t, tuple(view_shape)), shape))
    if swap:  # 'xy' is 'ij' of the first two inputs swapped, their grids swapped back
        grids[0], grids[1] = grids[1], grids[0]
    return tuple(grids)


# --- padding --------------------------------------------------------------------------------
def _check_pad(pad, ndim):
    if len(pad) % 2:
        raise RuntimeError("Padding length must be divisible by 2")
    if len(pad) // 2 > ndim:
        raise RuntimeError("Padding length should be less than or equal to two times the input "
                           f"dimension but got padding length {len(pad)} and input of dimension "
                           f"{ndim}")


def _constant_pad(xp, input, pad, value=0):
    _check_pad(pad, input.ndim)
    shape = list(input.shape)
    source = [slice(None)] * input.ndim
    target = [slice(None)] * input.ndim
    for i in range(len(pad) // 2):
        axis = input.ndim - 1 - i
        before, after = pad[2 * i], pad[2 * i + 1]
        size = shape[axis] + before + after
        if size < 0:  # PyTorch narrows the input by the negative padding: its error
            raise RuntimeError("narrow(): length must be non-negative.")
        source[axis] = slice(max(-before, 0), shape[axis] - max(-after, 0))
        target[axis] = slice(max(before, 0), size - max(after, 0))
        shape[axis] = size
    output = xp.full(shape, value, dtype=input.dtype)
    output[tuple(target)] = input[tuple(source)]
    return output


constant_pad_op = defop(
    _constant_pad, name="constant_pad_nd", node="ConstantPadNdBackward0",
    function=False, grads={"input": lambda grad, pad: constant_pad_op.function(
        grad, tuple(-p for p in pad))},
    # Affine, not linear, when value != 0: the tangent is padded with zeros.
    jvp=lambda input_tangent, pad: constant_pad_op.function(input_tangent, pad),
    samples=[samples.Sample(((2, 3, 4),), args=((1, 2),)),
             samples.Sample(((2, 3),), args=((1, 0, -1, 2),), kwargs={"value": 0.5}),
             samples.Sample(((2, 3),), args=((1,),), error=True),  # odd length
             samples.Sample(((2, 3),), args=((1, 1, 1, 1, 1, 1),), error=True),  # too long
             samples.Sample(((2, 3),), args=((-2, -2),), error=True)])  # negative size


def _pad_indices(xp, input_shape, pad, mode):
    """Per padded dim, the input position each output position reads (trailing dims)."""
    indices = []
    for i in range(len(pad) // 2 - 1, -1, -1):
        axis = len(input_shape) - 1 - i
        size = input_shape[axis]
        before, after = pad[2 * i], pad[2 * i + 1]
        positions = xp.arange(-before, size + after)
        if mode == "reflect":
            if before >= size or after >= size:
                raise RuntimeError(
                    f"Argument #{4 + 2 * i}: Padding size should be less than the corresponding "
                    f"input "
                    f"dimension, but got: padding ({before}, {after}) at dimension {axis} of "
                    f"input {list(input_shape)}")
            period = 2 * (size - 1) if size > 1 else 1
            positions = xp.abs(positions) % period
            positions = xp.where(positions >= size, period - positions, positions)
        elif mode == "replicate":
            positions = xp.clip(positions, 0, size - 1)
        else:
            if before > size or after > size:
                raise RuntimeError("Padding value causes wrapping around more than once.")
            positions = positions % size
        indices.append(positions)
    return indices


def _index_pad_key(xp, input_shape, pad, mode):
    indices = _pad_indices(xp, input_shape, pad, mode)
    lead = len(input_shape) - len(indices)
    return (slice(None),) * lead + tuple(xp.ix_(*indices))


def _index_pad(xp, input, pad, mode):
    return input[_index_pad_key(xp, input.shape, pad, mode)]


def _index_pad_backward(grad, input_shape, pad, mode):
    from .indexing import index_backward_op

    return index_backward_op.function(grad, tuple(input_shape),
                                      _index_pad_key(np, tuple(input_shape), pad, mode))


def _pad_error_samples(mode: str, dims: int) -> list:
    """Misuse of non-constant padding, reaching the op through F.pad."""
    shape = (2, 3, 4, 5)[:dims + 1]
    pad = (1, 1) * dims
    big = (1, 1) * (dims - 1) + (shape[1] + 1, 1)  # more than the first padded dim holds
    errors = [samples.Sample((shape[1:],), args=(pad, mode)),  # a missing batch/channel dim
              samples.Sample((shape,), args=(pad[:-1], mode)),  # odd length
              samples.Sample((shape,), args=(pad, mode, 1.0)),  # a value with this mode
              samples.Sample((shape,), args=(pad, "wrap"))]  # no such mode
    if mode != "replicate":  # reflection and wrapping are limited by the input's size
        errors.append(samples.Sample((shape,), args=(big, mode)))
    if mode == "replicate" or dims == 1 and mode == "reflect":
        # Negative padding past the input (PyTorch's 2-D and 3-D reflection words this error
        # as an integer overflow: not compared).
        shrink = (1, 1) * (dims - 1) + (-shape[-1], -1)
        errors.append(samples.Sample((shape,), args=(shrink, mode)))
    return [sample._replace(error=True) for sample in errors]


_PAD_OPS = {}
for _mode, _prefix in (("reflect", "Reflection"), ("replicate", "Replication"),
                       ("circular", None)):
    for _dims in (1, 2, 3):
        _shape = (2, 3, 4, 5)[:_dims + 1]
        _pad = (1, 2, 2, 1, 1, 1)[:2 * _dims]
        _PAD_OPS[_mode, _dims] = defop(
            _index_pad, name=f"pad_{_mode}{_dims}d",
            # PyTorch writes circular padding as copies into slices: its node is CopySlices.
            node=f"{_prefix}Pad{_dims}DBackward0" if _prefix else "CopySlices", kind=L,
            function=False, grads={"input": _index_pad_backward},
            samples=[samples.Sample((_shape,), args=(_pad, _mode)),
                     *_pad_error_samples(_mode, _dims)])


def pad(input, pad, mode="constant", value=None):
    """Pad the last dims (``pad`` lists before/after sizes from the last dim backward);
    see torch.nn.functional.pad."""
    pad = tuple(int(p) for p in pad)
    if mode == "constant":
        return constant_pad_op.function(input, pad, 0 if value is None else value)
    if mode not in ("reflect", "replicate", "circular"):
        raise NotImplementedError(f"Unrecognised padding mode {mode}")
    if value is not None and value != 0:
        raise RuntimeError(f"Padding mode \"{mode}\" doesn't take in value argument")
    if len(pad) % 2:
        raise RuntimeError("Padding length must be divisible by 2")
    dims = len(pad) // 2
    if dims not in (1, 2, 3) or input.ndim not in (dims + 1, dims + 2):
        raise NotImplementedError(
            f"Padding size {len(pad)} is not supported for {input.ndim}D input tensor.\n"
            "Supported combinations for non-constant padding:\n"
            "  - 2D or 3D input: padding size = 2 (pads last dimension)\n"
            "  - 3D or 4D input: padding size = 4 (pads last 2 dimensions)\n"
            "  - 4D or 5D input: padding size = 6 (pads last 3 dimensions)")
    _check_padded_sizes(tuple(input.shape), pad, mode)
    return _PAD_OPS[mode, dims].function(input, pad, mode)


def _check_padded_sizes(shape: tuple, pad: tuple, mode: str) -> None:
    """Negative padding must leave a size PyTorch accepts: each mode words its error its own
    way (1-D reflect and replicate padding also refuse an empty result)."""
    output = list(shape)
    for i in range(len(pad) // 2):
        output[-1 - i] += pad[2 * i] + pad[2 * i + 1]
    if mode != "circular" and len(pad) == 2 and output[-1] < 1:
        raise RuntimeError(f"input (W: {shape[-1]}) is too small. Calculated output W: "
                           f"{output[-1]}")
    for size in output:
        if size < 0:
            if mode == "circular":
                raise RuntimeError("Negative padding value is resulting in an empty dimension")
            raise RuntimeError(f"Trying to create tensor with negative dimension {size}: "
                               f"{output}")


__all__ = ["pad"]


# --- in-place view ops: t_, transpose_, squeeze_, unsqueeze_ ---------------------------------
# They change the tensor's shape in place (its memory stays), and PyTorch records them under
# node names of their own (TBackward1, ...): one primitive each, sharing the view's forward.
t_inplace_op = defop(
    _t_inplace, name="t_inplace", node="TBackward1", kind=L, view=True, function=False,
    grads={"input": lambda grad: grad.t()},
    samples=[samples.Sample(((3, 4),)), samples.Sample(((2, 3, 4),), error=True)])
transpose_inplace_op = defop(
    _transpose, name="transpose_inplace", node="TransposeBackward1", kind=L, view=True,
    function=False, grads={"input": lambda grad, dim0, dim1: grad.transpose(dim0, dim1)},
    samples=[samples.Sample(((2, 3, 4),), args=(0, 2)),
             samples.Sample(((2, 3),), args=(0, 2), error=True)])
unsqueeze_inplace_op = defop(
    _unsqueeze, name="unsqueeze_inplace", node="UnsqueezeBackward1", kind=L, view=True,
    function=False, grads=_RESHAPED_BACK, array_grads=_RESHAPED_BACK,
    samples=[samples.Sample(((3, 4),), args=(1,)),
             samples.Sample(((3, 4),), args=(3,), error=True)])
squeeze_all_inplace_op = defop(
    _squeeze_all, name="squeeze_all_inplace", node="SqueezeBackward3", kind=L, view=True,
    function=False, grads=_RESHAPED_BACK, array_grads=_RESHAPED_BACK,
    samples=[samples.Sample(((3, 1, 4, 1),))])
squeeze_dim_inplace_op = defop(
    _squeeze_dims, name="squeeze_dim_inplace", node="SqueezeBackward4", kind=L, view=True,
    function=False, grads=_RESHAPED_BACK, array_grads=_RESHAPED_BACK,
    samples=[samples.Sample(((3, 1),), args=((1,),)),
             samples.Sample(((3, 1),), args=((2,),), error=True)])
squeeze_dims_inplace_op = defop(
    _squeeze_dims, name="squeeze_dims_inplace", node="SqueezeBackward5", kind=L, view=True,
    function=False, grads=_RESHAPED_BACK, array_grads=_RESHAPED_BACK,
    samples=[samples.Sample(((1, 3, 1),), args=((0, 2),)),
             samples.Sample(((1, 3, 1),), args=((0, 3),), error=True),
             samples.Sample(((1, 3, 1),), args=((0, 0),), error=True)])


def _reshape_in_place(input, result):
    """Give ``input`` the view ``result`` computed of it: new shape, same memory, its history."""
    from .._dispatch import check_inplace

    check_inplace(input)
    input._data = result._data
    input._bump_version()
    if result.grad_fn is not None:
        input.grad_fn = result.grad_fn
        input._output_nr = 0
        input._requires_grad = True
    tangent = result.__dict__.get("_tangent")
    if tangent is not None:  # forward mode: the tangent takes the new shape too
        from ..autograd.forward_ad import set_tangent

        set_tangent(input, tangent)
    return input


@public(methods=("t_",), function=False)
def t_(input):
    """Transpose a matrix in place; see torch.Tensor.t_."""
    return _reshape_in_place(input, t_inplace_op.function(input))


@public(methods=("transpose_", "swapaxes_", "swapdims_"), function=False)
def transpose_(input, dim0, dim1):
    """Swap two dims in place; see torch.Tensor.transpose_."""
    return _reshape_in_place(input, transpose_inplace_op.function(input, dim0, dim1))


@public(methods=("unsqueeze_",), function=False)
def unsqueeze_(input, dim):
    """Insert a size-1 dim in place; see torch.Tensor.unsqueeze_."""
    return _reshape_in_place(input, unsqueeze_inplace_op.function(input, dim))


@public(methods=("squeeze_",), function=False)
def squeeze_(input, dim=None):
    """Drop size-1 dims in place; see torch.Tensor.squeeze_."""
    if dim is None:
        result = squeeze_all_inplace_op.function(input)
    elif isinstance(dim, (tuple, list)):
        result = squeeze_dims_inplace_op.function(input, tuple(dim))
    else:
        result = squeeze_dim_inplace_op.function(input, (dim,))
    return _reshape_in_place(input, result)
