"""Indexing: ``x[key]`` (select, slice, None, Ellipsis, advanced), ``x[key] = v``, masked_fill,
and the history rewrite when a view is written in place."""

from __future__ import annotations

import numpy as np

from .._tensor import Tensor, normalize_dim, wrap
from . import _samples as samples
from ._registry import defop, public


# --- the scatters that indexing rules use (each the transpose of one indexing op) ----------
def _place(xp, grad, shape, key, accumulate):
    """Zeros of ``shape`` with ``grad`` put (or added, for repeated indices) at ``key``."""
    output = xp.zeros(shape, dtype=grad.dtype)
    if accumulate:
        xp.add.at(output, key, grad)
    else:
        output[key] = grad
    return output


def _select_backward(xp, grad, input_shape, dim, index):
    return _place(xp, grad, input_shape, (slice(None),) * dim + (index, Ellipsis), False)


select_backward_op = defop(
    _select_backward, name="select_backward", node="SelectBackwardBackward0", kind="linear",
    function=False, grads={"grad": lambda grad, dim, index: select_op.function(grad, dim, index)},
    samples=[samples.Sample(((2,),), args=((2, 3), 1, 1))])


def _slice_backward(xp, grad, input_shape, dim, start, stop, step):
    return _place(xp, grad, input_shape, (slice(None),) * dim + (slice(start, stop, step),),
                  False)


slice_backward_op = defop(
    _slice_backward, name="slice_backward", node="SliceBackwardBackward0", kind="linear",
    function=False,
    grads={"grad": lambda grad, dim, start, stop, step: slice_op.function(grad, dim, start, stop,
                                                                          step)},
    samples=[samples.Sample(((2, 2),), args=((5, 2), 0, 1, 4, 2))])


def _index_backward(xp, grad, input_shape, key):
    return _place(xp, grad, input_shape, key, True)


index_backward_op = defop(
    _index_backward, name="index_backward", node="IndexPutImplBackward0", kind="linear",
    function=False, grads={"grad": lambda grad, key: index_op.function(grad, key)},
    samples=[samples.Sample(((3, 3),), args=((5, 3), (np.array([0, 2, 2]),)))])


# --- x[key] ---------------------------------------------------------------------------------
def _select(xp, input, dim, index):
    size = input.shape[dim]
    if not -size <= index < size:
        raise IndexError(f"index {index} is out of bounds for dimension {dim} with size {size}")
    return input[(slice(None),) * dim + (index, Ellipsis)]  # Ellipsis keeps a 0-d view


select_op = defop(
    _select, name="select", node="SelectBackward0", kind="linear", view=True, function=False,
    grads={"input": lambda grad, input_shape, dim, index: select_backward_op.function(
        grad, input_shape, dim, index)},
    array_grads={"input": lambda grad, input_shape, dim, index: _select_backward(
        np, grad, input_shape, dim, index)},
    samples=[samples.Sample(((3, 4),), args=(1, 2)), samples.Sample(((3, 4),), args=(0, -1)),
             samples.Sample(((3, 4),), args=(1, 7), error=True),  # index out of range
             samples.Sample(((3, 4),), args=(0, -4), error=True),
             samples.Sample(((3, 4),), args=(2, 0), error=True),  # dim out of range
             samples.Sample(((),), args=(0, 0), error=True)])


@public(methods=("select",))
def select(input, dim, index):
    """The slice at ``index`` along ``dim`` (a view); see torch.select."""
    if input.ndim == 0:
        raise IndexError("select() cannot be applied to a 0-dim tensor.")
    dim, index = normalize_dim(dim, input.ndim), int(index)
    size = input.shape[dim]
    if not -size <= index < size:
        raise IndexError(f"select(): index {index} out of range for tensor of size "
                         f"{list(input.shape)} at dimension {dim}")
    return select_op.function(input, dim, index)


def _slice(xp, input, dim, start, stop, step):
    return input[(slice(None),) * dim + (slice(start, stop, step),)]


slice_op = defop(
    _slice, name="slice", node="SliceBackward0", kind="linear", view=True, function=False,
    grads={"input": lambda grad, input_shape, dim, start, stop, step: slice_backward_op.function(
        grad, input_shape, dim, start, stop, step)},
    array_grads={"input": lambda grad, input_shape, dim, start, stop, step: _slice_backward(
        np, grad, input_shape, dim, start, stop, step)},
    samples=[samples.Sample(((5, 4),), args=(0, 1, 4, 2)),
             samples.Sample(((3, 4),), args=(1, -3, None, 1)),
             samples.Sample(((5, 4),), args=(0, 1, 4, 0), error=True),  # step 0
             samples.Sample(((5, 4),), args=(0, 4, 1, -1), error=True),  # negative step
             samples.Sample(((5, 4),), args=(2, 0, 1, 1), error=True)])  # too many indices


def _index(xp, input, key):
    try:
        return input[key]
    except IndexError as error:
        raise _indexing_error(input.shape, key) or error from None


def _out_of_range(index, size: int, negative: bool = True) -> int | None:
    """The first entry of ``index`` (in row-major order) outside [-size, size), or outside
    [0, size) when negative entries are refused; None when all are in range."""
    bad = (index >= size) | (index < (-size if negative else 0))
    if not bad.any():
        return None
    return int(index.reshape(-1)[int(np.argmax(bad.reshape(-1)))])


def _check_in_bounds(input, index, dim: int) -> None:
    """PyTorch's RuntimeError for an entry of ``index`` outside [0, size of ``dim``)."""
    size = input.shape[dim] if input.ndim else 1
    bad = _out_of_range(index, size, negative=False) if index.size else None
    if bad is not None:
        raise RuntimeError(f"index {bad} is out of bounds for dimension {dim} with size {size}")


def _indexing_error(shape: tuple, key: tuple) -> IndexError | None:
    """PyTorch's IndexError for an advanced-index ``key`` that NumPy refused on ``shape``
    (worked out only after a failure, so that indexing pays nothing for it)."""
    position = 0
    arrays: list[tuple[int, np.ndarray]] = []  # (the dim each index array indexes, array)
    for item in key:
        if isinstance(item, np.ndarray) and item.dtype == np.bool_:
            for offset, size in enumerate(item.shape):
                if position + offset >= len(shape) or shape[position + offset] != size:
                    return IndexError(
                        f"The shape of the mask {list(item.shape)} at index {offset} does not "
                        f"match the shape of the indexed tensor {list(shape)} at index "
                        f"{position + offset}")
            arrays += [(position + offset, positions)
                       for offset, positions in enumerate(np.nonzero(item))]
            position += item.ndim
        elif isinstance(item, np.ndarray):
            arrays.append((position, item))
            position += 1
        elif isinstance(item, slice):
            position += 1
    try:
        broadcast = np.broadcast_arrays(*(array for _, array in arrays))
    except ValueError:
        shapes = ", ".join(str(list(array.shape)) for _, array in arrays)
        return IndexError(f"shape mismatch: indexing tensors could not be broadcast together "
                          f"with shapes {shapes}")
    if not broadcast or not broadcast[0].size:
        return None
    # PyTorch walks the broadcast positions in order, each position's indices in key order,
    # and names the index by its place among the index tensors.
    entries = np.stack([array.reshape(-1) for array in broadcast], axis=1)
    sizes = np.array([shape[dim] for dim, _ in arrays])
    bad = (entries >= sizes) | (entries < -sizes)
    if not bad.any():
        return None
    first = int(np.argmax(bad.reshape(-1)))
    element, which = divmod(first, len(arrays))
    return IndexError(f"index {int(entries[element, which])} is out of bounds for dimension "
                      f"{which} with size {sizes[which]}")


index_op = defop(
    _index, name="index", node="IndexBackward0", kind="linear", function=False,
    grads={"input": lambda grad, input_shape, key: index_backward_op.function(grad, input_shape,
                                                                              key)},
    samples=[samples.Sample(((5, 3),), args=((np.array([0, 2, 2]),),)),
             samples.Sample(((4, 3),), args=((np.array([True, False, True, True]),),)),
             *(samples.Sample(((5, 3),), args=(key,), error=True) for key in (
                 (np.array([0, 5]),), (np.array([0, -6]),),  # out of range
                 (np.array([0, 1]), np.array([0, 3])),
                 (np.array([0.0, 1.0]),),  # not an integer index
                 (np.array([True, False, True]),),  # a mask of the wrong shape
                 (np.array([0, 1]), np.array([0, 1, 2])),  # indices that do not broadcast
                 (np.array([0, 1]), np.array([0, 1]), np.array([0, 1])),  # too many
                 (slice(None), np.ones((3, 2), dtype=bool))))])


def _to_index_array(value):
    if isinstance(value, Tensor):
        array = value._data
    else:
        array = np.asarray(value)
    if array.dtype.kind not in "iub":
        raise IndexError("tensors used as indices must be long, int, byte or bool tensors")
    if array.dtype == np.uint8:  # a byte tensor indexes as a mask, as in PyTorch
        array = array.astype(bool)
    return array


def _is_advanced(item) -> bool:
    if isinstance(item, Tensor):
        # A 0-d integer tensor indexes like a Python int (PyTorch records a select).
        return item._data.ndim != 0 or item._data.dtype.kind == "b"
    return isinstance(item, (list, np.ndarray)) or type(item) is bool


def _dims_used(item) -> int:
    """How many dims of the indexed tensor an index item consumes."""
    if item is None or item is Ellipsis or type(item) is bool:
        return 0
    if _is_advanced(item):
        array = _to_index_array(item)
        return array.ndim if array.dtype == np.bool_ else 1
    return 1


def _split_key(key: tuple, ndim: int) -> tuple[tuple, tuple]:
    """Split a key holding advanced indices into the basic part PyTorch applies first (ints
    select, slices slice, None unsqueezes) and the advanced part applied to that view (with
    ':' in place of the kept dims). Applying ints first is where PyTorch and NumPy differ:
    ``x[0, :, [0, 1]]`` has shape (n1, 2) in PyTorch."""
    used = builtins_sum(_dims_used(item) for item in key)
    if used > ndim:
        raise IndexError(f"too many indices for tensor of dimension {ndim}")
    if builtins_sum(1 for item in key if item is Ellipsis) > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    basic: list = []
    advanced: list = []
    for item in key:
        if item is Ellipsis:
            basic += [slice(None)] * (ndim - used)
            advanced += [slice(None)] * (ndim - used)
        elif _is_advanced(item):
            basic += [slice(None)] * _dims_used(item)
            advanced.append(_to_index_array(item) if type(item) is not bool else item)
        elif item is None or isinstance(item, slice):
            basic.append(item)
            advanced.append(slice(None))
        else:
            basic.append(item)  # an int: selected away, nothing left for the advanced part
    return tuple(basic), tuple(advanced)


def _is_trivial(key: tuple) -> bool:
    return all(isinstance(item, slice) and item == slice(None) for item in key)


def getitem(input, key):
    """``input[key]`` with PyTorch's semantics and node names (Select/Slice/Unsqueeze/Index)."""
    kind = type(key)
    if (kind is int or kind is slice) and input.ndim:  # x[i] and x[a:b], first
        return select_op.function(input, 0, key) if kind is int else _sliced(input, 0, key)
    if not isinstance(key, tuple):
        key = (key,)
    if any(_is_advanced(item) for item in key):
        key = tuple(int(item) if isinstance(item, (np.integer,)) or (
            isinstance(item, Tensor) and not _is_advanced(item)) else item for item in key)
        basic, advanced = _split_key(key, input.ndim)
        view = input if _is_trivial(basic) else _basic_getitem(input, basic)
        return index_op.function(view, advanced)
    return _basic_getitem(input, key)


def _basic_getitem(input, key):
    specified = builtins_sum(1 for item in key if item is not None and item is not Ellipsis)
    if input.ndim == 0 and any(isinstance(item, (int, np.integer, Tensor))
                               and type(item) is not bool for item in key):
        raise IndexError("invalid index of a 0-dim tensor. Use `tensor.item()` in Python or "
                         "`tensor.item<T>()` in C++ to convert a 0-dim tensor to a number")
    if specified > input.ndim:
        raise IndexError(f"too many indices for tensor of dimension {input.ndim}")
    if builtins_sum(1 for item in key if item is Ellipsis) > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    key = tuple(int(item) if isinstance(item, Tensor) else item for item in key)
    result = input
    dim = 0
    for item in key:
        if item is Ellipsis:
            dim += input.ndim - specified
        elif item is None:
            result = result.unsqueeze(dim)
            dim += 1
        elif isinstance(item, slice):
            result = _sliced(result, dim, item, new_view=False)
            dim += 1
        elif isinstance(item, (int, np.integer)):
            result = select_op.function(result, dim, int(item))
        else:
            raise IndexError("only integers, slices (`:`), ellipsis (`...`), None and long or byte "
                             "Variables are valid indices (got " + type(item).__name__ + ")")
    if result is input:
        # ``x[...]`` (and ``x[:]``, which PyTorch records as a full slice): still a new view.
        if any(isinstance(item, slice) for item in key):
            return slice_op.function(input, 0, 0, input.shape[0], 1)
        return alias_op.function(input)
    return result


def _sliced(input, dim, item, new_view=True):
    """``input`` sliced along ``dim`` by the slice ``item`` (PyTorch's checks and clamping).
    A slice that keeps everything gives ``input`` itself, or, with ``new_view``, a full
    SliceBackward0 view (``x[:]`` is a new tensor in PyTorch)."""
    size = input.shape[dim]  # the logical shape (under vmap, without the batch dim)
    start, stop, step = item.start, item.stop, item.step
    if step is not None and int(step) == 0:
        raise ValueError("slice step cannot be zero")
    if step is not None and int(step) < 0:
        raise ValueError("step must be greater than zero")
    if not (start in (None, 0) and stop is None and step in (None, 1)):
        begin, end, stride = slice(start, stop, step).indices(size)
        if not (begin == 0 and end >= size and stride == 1):
            return slice_op.function(input, dim, begin, max(end, begin), stride)
    return slice_op.function(input, dim, 0, size, 1) if new_view else input


builtins_sum = sum


def _alias(xp, input):
    return input.view()


alias_op = defop(_alias, name="alias", node="AliasBackward0", kind="linear", view=True,
                 function=False, grads={"input": lambda grad: grad},
                 samples=[samples.Sample(((3, 4),))])


# --- x[key] = value -------------------------------------------------------------------------
def _index_put(xp, input, values, key):
    output = input.copy()
    try:
        output[key] = values
    except IndexError as error:
        raise _indexing_error(input.shape, key) or error from None
    except ValueError:
        raise RuntimeError(f"shape mismatch: value tensor of shape {list(values.shape)} cannot "
                           f"be broadcast to indexing result of shape "
                           f"{list(input[key].shape)}") from None
    return output


def _values_rule(grad, values_shape, key):
    return index_op.function(grad, key).sum_to_size(values_shape)


index_put_op = defop(
    _index_put, name="index_put", node="IndexPutBackward0", inputs=2, promote="promote",
    function=False,
    grads={"input": lambda grad, key: grad * _mask_out(grad.shape, key, grad.dtype),
           "values": _values_rule},
    samples=[samples.Sample(((4, 3), (3,)), args=((1,),)),
             samples.Sample(((4, 3), ()), args=((slice(1, 3), 0),)),
             samples.Sample(((4, 3), (5,)), args=((1,),), error=True),  # value of a wrong size
             samples.Sample(((4, 3), (2, 3)), args=((1,),), error=True),
             samples.Sample(((4, 3), (3, 3)), args=((np.array([0, 1]),),), error=True),
             samples.Sample(((4, 3), (3,)), args=((np.array([0, 4]),),), error=True),
             samples.Sample(((4, 3), (3,)), args=((np.array([0.5]),),), error=True),
             samples.Sample(((4, 3), (3,)), args=((np.array([True, False]),),), error=True)])


def _mask_out(shape, key, dtype):
    mask = np.ones(tuple(shape), dtype=dtype.numpy)
    mask[key] = 0
    return wrap(mask)


def _numpy_key(key):
    if not isinstance(key, tuple):
        key = (key,)
    return tuple(_to_index_array(item) if _is_advanced(item) else
                 int(item) if isinstance(item, (np.integer,)) else item for item in key)


def setitem(input, key, value) -> None:
    """``input[key] = value`` in place, recorded so gradients flow to input's history and
    to ``value``."""
    from .._dispatch import check_inplace, write_inplace

    if isinstance(value, Tensor) and value._data.dtype != input._data.dtype:
        value = value.to(input.dtype)
    if not isinstance(value, Tensor):
        value = wrap(np.asarray(value, dtype=input._data.dtype))
    key = key if isinstance(key, tuple) else (key,)
    if not any(_is_advanced(item) for item in key):
        # Basic indexing: write through the view, as PyTorch does (the base records CopySlices).
        view = getitem(input, key)
        shape = tuple(value.shape)
        while len(shape) > view.ndim and shape[0] == 1:  # PyTorch drops leading 1s
            shape = shape[1:]
        if shape != tuple(value.shape):
            value = value.reshape(shape)
        if shape != tuple(view.shape):
            from .shape import expand_op

            # Raises expand's error where the value does not fit (shapes only: a stand-in
            # array of the value's shape, without memory).
            stand_in = np.broadcast_to(np.zeros((), value._data.dtype), shape)
            expand_op.forward(np, stand_in, tuple(view.shape))
        view.copy_(value)
        return
    check_inplace(input)
    key = tuple(int(item) if isinstance(item, (np.integer,)) or (
        isinstance(item, Tensor) and not _is_advanced(item)) else item for item in key)
    basic, advanced = _split_key(key, input.ndim)
    if not _is_trivial(basic):
        # Ints and slices first (a view), then the advanced part written into that view.
        setitem(_basic_getitem(input, basic), advanced, value)
        return
    result = index_put_op.function(input, value, advanced)
    write_inplace(input, result)


# --- masked_fill ----------------------------------------------------------------------------
# C++ type names, as masked_fill's dtype error prints them.
_CPP_NAMES = {"float64": "double", "float32": "float", "float16": "c10::Half",
              "int64": "long int", "int32": "int", "int16": "short int", "int8": "signed char",
              "uint8": "unsigned char", "complex64": "c10::complex<float>",
              "complex128": "c10::complex<double>"}


def _masked_fill(xp, input, mask, value):
    from .._dispatch import broadcast_mismatch

    if mask.dtype != np.bool_:
        raise RuntimeError(f"masked_fill_ only supports boolean masks, but got mask with dtype "
                           f"{_CPP_NAMES.get(mask.dtype.name, mask.dtype.name)}")
    fill = value._data if isinstance(value, Tensor) else value
    if getattr(fill, "ndim", 0):
        raise RuntimeError(f"masked_fill_ only supports a 0-dimensional value tensor, but got "
                           f"tensor with {fill.ndim} dimension(s).")
    mismatch = broadcast_mismatch(mask.shape, input.shape)
    if mismatch is not None:
        raise mismatch
    return xp.where(mask, xp.asarray(fill, dtype=input.dtype), input)


masked_fill_op = defop(
    _masked_fill, name="masked_fill", node="MaskedFillBackward0", array_params=True,
    methods=("masked_fill",), inplace="masked_fill_",
    grads={"input": lambda grad, mask: grad.masked_fill(mask, 0)},
    samples=[samples.Sample(((3, 4),), args=("mask", 0.5)),
             *(samples.Sample(((3, 4),), args=(mask, 0.5), error=True) for mask in (
                 np.ones((3, 4)), np.ones((3, 4), dtype=np.int64),  # not a bool mask
                 np.ones((3, 4), dtype=np.uint8), np.ones(5, dtype=bool))),
             samples.Sample(((3, 4),), args=("mask", np.array([1.0, 2.0])), error=True)])


# --- writing through a view -----------------------------------------------------------------
def _byte_offsets(array: np.ndarray) -> np.ndarray:
    offsets = np.zeros(array.shape, dtype=np.int64)
    for axis, (size, stride) in enumerate(zip(array.shape, array.strides)):
        shape = [1] * array.ndim
        shape[axis] = size
        offsets = offsets + (np.arange(size, dtype=np.int64) * stride).reshape(shape)
    return offsets


def view_positions(view: np.ndarray, base: np.ndarray) -> np.ndarray:
    """For each element of ``view``, its flat (C-order) position in ``base`` (shared memory)."""
    start = view.__array_interface__["data"][0] - base.__array_interface__["data"][0]
    base_offsets = _byte_offsets(base).ravel()
    order = np.argsort(base_offsets, kind="stable")
    view_offsets = start + _byte_offsets(view)
    return order[np.searchsorted(base_offsets[order], view_offsets)]


def _copy_slices(xp, base, values, positions):
    output = base.copy().reshape(-1)
    output[positions] = values
    return output.reshape(base.shape)


def _copy_slices_base_rule(grad, positions):
    mask = np.ones(grad.numel(), dtype=grad._data.dtype)
    mask[positions] = 0
    return grad * wrap(mask.reshape(tuple(grad.shape)))


copy_slices_op = defop(
    _copy_slices, name="copy_slices", node="CopySlices", inputs=2, promote="promote",
    function=False, array_params=True,
    grads={"base": _copy_slices_base_rule,
           "values": lambda grad, positions: index_op.function(grad.reshape(-1), (positions,))},
    samples=[samples.Sample(((4,), (2,)), args=(np.array([1, 3]),))])


def rebase_view_history(view: Tensor, result: Tensor) -> None:
    """After an in-place op on ``view`` gave ``result``: the base's history becomes a
    CopySlices of its old history and ``result``; the view's (and every other live view's)
    history is read out of that, as PyTorch does."""
    base = view._base
    positions = view_positions(view._data, base._data)
    new_base = copy_slices_op.function(_history_of(base), result, positions)
    base.grad_fn = new_base.grad_fn
    base._output_nr = 0
    base._requires_grad = True
    regenerate_view_history(view, base)
    refresh_views(base, view)


public(methods=("__getitem__",), function=False)(getitem)
public(methods=("__setitem__",), function=False)(setitem)


def _copy(xp, input, src):
    from .._dispatch import broadcast_mismatch

    mismatch = broadcast_mismatch(input.shape, xp.shape(src))
    if mismatch is not None:
        raise mismatch
    shape = xp.broadcast_shapes(input.shape, xp.shape(src))
    if shape != input.shape:
        raise RuntimeError(f"output with shape {list(input.shape)} doesn't match the broadcast "
                           f"shape {list(shape)}")
    return xp.broadcast_to(src, input.shape).astype(input.dtype, copy=True)


# ``x.copy_(src)``: the old values of x get no gradient; src gets the (summed, cast) gradient.
copy_op = defop(_copy, name="copy", node="CopyBackwards", inputs=2, function=False,
                inplace="copy_", grads={"input": lambda grad: grad * 0,
                                        "src": lambda grad: grad},
                samples=[samples.Sample(((3, 4), (4,))), samples.Sample(((3, 4), (5,)), error=True),
                         samples.Sample(((3, 4), (2, 3, 4)), error=True)])


# --- regenerated view histories (as_strided) -------------------------------------------------
def _strided_positions(size, stride, storage_offset):
    positions = np.full(tuple(size), storage_offset, dtype=np.int64)
    for axis, (count, step) in enumerate(zip(size, stride)):
        shape = [1] * len(size)
        shape[axis] = count
        positions = positions + (np.arange(count, dtype=np.int64) * step).reshape(shape)
    return positions


def _as_strided(xp, input, size, stride, storage_offset=0):
    size, stride = tuple(size), tuple(stride)
    if len(size) != len(stride):
        raise RuntimeError("mismatch in length of strides and shape")
    if any(step < 0 for step in stride):
        raise RuntimeError(f"as_strided: Negative strides are not supported at the moment, got "
                           f"strides: {list(stride)}")
    if storage_offset < 0:
        raise RuntimeError(f"Tensor: invalid storage offset {storage_offset}")
    positions = _strided_positions(size, stride, storage_offset)
    needed = int(positions.max()) + 1 if positions.size else 0
    if needed > input.size:
        raise RuntimeError(
            f"setStorage: sizes {list(size)}, strides {list(stride)}, storage offset "
            f"{storage_offset}, and itemsize {input.itemsize} requiring a storage size of "
            f"{needed * input.itemsize} are out of bounds for storage of size "
            f"{input.size * input.itemsize}")
    if input.flags.c_contiguous:
        flat = input.reshape(-1)[storage_offset:]
        return xp.lib.stride_tricks.as_strided(
            flat, size, tuple(s * input.itemsize for s in stride), writeable=flat.flags.writeable)
    return input.reshape(-1)[positions]  # only for regenerated histories: values unused


def _as_strided_backward(grad, input_shape, size, stride, storage_offset):
    positions = _strided_positions(tuple(size), tuple(stride), storage_offset)
    key = np.unravel_index(positions, tuple(input_shape)) if len(input_shape) else ()
    return index_backward_op.function(grad, tuple(input_shape), key)


as_strided_op = defop(
    _as_strided, name="as_strided", node="AsStridedBackward0", kind="linear", view=True,
    function=False, grads={"input": _as_strided_backward},
    samples=[samples.Sample(((4, 3),), args=((4,), (3,), 1)),
             samples.Sample(((3, 3),), args=((2, 2), (1, 2), 0)),
             samples.Sample(((3, 3),), args=((2, 2), (1, 2), 8), error=True),  # past the end
             samples.Sample(((3, 3),), args=((2, 2), (1,)), error=True),
             samples.Sample(((3, 3),), args=((2, 2), (1, -1)), error=True),
             samples.Sample(((3, 3),), args=((2, 2), (1, 2), -1), error=True)])


@public(methods=("as_strided",))
def as_strided(input, size, stride, storage_offset=0):
    """A view with the given sizes and strides over ``input``'s elements in row-major order
    (its storage, when contiguous); see torch.as_strided."""
    from .shape import contiguous

    return as_strided_op.function(contiguous(input), tuple(size), tuple(stride),
                                  int(storage_offset or 0))


def _history_of(root: Tensor) -> Tensor:
    """A tensor over ``root``'s data carrying ``root``'s current history (to build nodes on)."""
    holder = wrap(root._data)
    holder.grad_fn = root.grad_fn
    holder._output_nr = root._output_nr
    holder._requires_grad = root._requires_grad
    if root.grad_fn is None and root._requires_grad:
        holder._accumulator = root.grad_accumulator()  # edges must reach root's own sink
    return holder


def regenerate_view_history(view: Tensor, root: Tensor) -> None:
    """Give ``view`` a fresh node reading it out of ``root``'s current history (PyTorch's
    AsStridedBackward0), so that a write elsewhere in the base is seen by its gradient."""
    positions = view_positions(view._data, root._data)
    size = tuple(view._data.shape)
    if positions.size:
        offset = int(positions.reshape(-1)[0])
        stride = tuple(int(positions[(0,) * axis + (1,) + (0,) * (len(size) - axis - 1)])
                       - offset if count > 1 else 0 for axis, count in enumerate(size))
    else:
        offset, stride = 0, (0,) * len(size)
    from ..autograd.grad_mode import enable_grad

    with enable_grad():
        node = as_strided_op.function(_history_of(root), size, stride, offset).grad_fn
    view.grad_fn = node
    view._output_nr = 0
    view._requires_grad = True


def refresh_views(root: Tensor, written: Tensor | None) -> None:
    """After ``root``'s history changed in place, every other live view of it gets a history
    read from the new one (instead of a stale node that would give a wrong gradient)."""
    views = root.__dict__.get("_views")
    if not views or not root._requires_grad:
        return
    for other in views.live():
        if other is written or other._base is not root:
            continue
        if not np.shares_memory(other._data, root._data):
            continue
        regenerate_view_history(other, root)


# --- gather / scatter --------------------------------------------------------------------------
def _check_index(name, input, index, dim, src=None):
    """gather's and scatter's checks, with PyTorch's messages: an integer index with as many
    dims as input (and src), no larger than them, its entries in [0, size)."""
    if index.dtype.kind not in "iu":
        raise RuntimeError(f"{name}(): Expected dtype int32/int64 for index")
    this = "input" if name == "gather" else "self"
    if index.ndim != input.ndim and not (index.ndim <= 1 and input.ndim <= 1):
        raise RuntimeError(f"Index tensor must have the same number of dimensions as {this} "
                           "tensor")
    has_src = src is not None and src.ndim > 0
    if has_src and index.ndim != src.ndim and not (index.ndim <= 1 and src.ndim <= 1):
        raise RuntimeError("Index tensor must have the same number of dimensions as src tensor")
    if index.ndim == input.ndim:
        for axis in range(index.ndim):
            beyond_input = axis != dim and index.shape[axis] > input.shape[axis]
            if name == "gather" and beyond_input:
                raise RuntimeError(
                    f"Size does not match at dimension {axis} expected index "
                    f"{list(index.shape)} to be no larger than self {list(input.shape)} apart "
                    f"from dimension {dim}")
            if beyond_input or has_src and index.shape[axis] > src.shape[axis]:
                extra = f" and to be no larger size than src {list(src.shape)}" if has_src else ""
                raise RuntimeError(
                    f"Expected index {list(index.shape)} to be no larger than self "
                    f"{list(input.shape)} apart from dimension {dim}{extra}")
    _check_in_bounds(input, index, dim)


def _full_index(xp, index, dim):
    """Advanced-index arrays addressing ``out[i0, .., index[i], .., in]`` for every i."""
    if index.ndim == 0:
        return (index,)
    grids = list(xp.indices(index.shape, sparse=True))
    grids[dim] = index
    return tuple(grids)


def _dim(dim, input):
    return normalize_dim(dim, input.ndim) if input.ndim else 0


def _gather(xp, input, dim, index, *, sparse_grad=False):
    dim = _dim(dim, input)
    _check_index("gather", input, index, dim)
    if input.ndim == 0:
        return input.reshape(index.shape).copy() if index.ndim == 0 else input.reshape(1)[index]
    return input[_full_index(xp, index, dim)]


gather_op = defop(
    _gather, name="gather", node="GatherBackward0", kind="linear", methods=("gather",),
    array_params=True,
    grads={"input": lambda grad, input_shape, dim, index: zeros_of(input_shape, grad).scatter_add(
        dim, index, grad)},
    samples=[samples.Sample(((3, 4),), args=(1, np.array([[0, 3, 3], [1, 1, 0], [2, 0, 1]]))),
             samples.Sample(((3, 4),), args=(0, np.array([[0, 2, 2, 1]]))),
             samples.Sample(((3, 4),), args=(1, np.array([[0, 7]])), error=True),
             *(samples.Sample(((3, 4),), args=(dim, index), error=True) for dim, index in (
                 (1, np.array([[0, -1]])),  # negative indices are out of range here
                 (2, np.array([[0, 1]])),
                 (1, np.array([[0.0, 1.0]])),
                 (1, np.array([0, 1])),  # fewer dims than input
                 (1, np.array([[0], [1], [2], [0]]))))])  # larger than input in dim 0


def zeros_of(shape, like):
    from .._creation import zeros

    return zeros(tuple(shape), dtype=like.dtype)


def _src_part(xp, src, index):
    if src.ndim == 0:
        return src
    return src[tuple(slice(0, size) for size in index.shape)]


def _grad_for_src(grad_index, src_shape):
    """A gradient of the index's shape, zero-extended to the source's shape."""
    if tuple(grad_index.shape) == tuple(src_shape):
        return grad_index
    if len(src_shape) == 0:
        return grad_index.sum()
    from .shape import constant_pad_op

    pads = []
    for have, want in zip(reversed(tuple(grad_index.shape)), reversed(tuple(src_shape))):
        pads += [0, want - have]
    return constant_pad_op.function(grad_index, tuple(pads))


_UFUNCS = {"add": "add", "multiply": "multiply", "sum": "add", "prod": "multiply",
           "amax": "maximum", "amin": "minimum"}


# (src shape, dim, index) misuses of scatter and scatter_add on a (3, 4) input.
_SCATTER_ERRORS = (
    ((3, 2), 1, np.array([[0, 7], [1, 2], [2, 0]])),  # index out of range
    ((3, 2), 1, np.array([[0, -1], [1, 2], [2, 0]])),
    ((3, 2), 1, np.array([[0, 3, 1], [1, 2, 1], [2, 0, 1]])),  # index larger than src
    ((4, 2), 1, np.array([[0, 3], [1, 2], [2, 0], [1, 1]])),  # larger than input
    ((3, 2), 1, np.array([[0.0, 3.0], [1.0, 2.0], [2.0, 0.0]])),
    ((3, 2), 1, np.array([0, 3])),
    ((3, 1, 1), 1, np.array([[0, 1], [0, 1], [0, 1]])),  # src of more dims
    ((3, 2), 2, np.array([[0, 3], [1, 2], [2, 0]])))


def _scatter(xp, input, src, dim, index, reduce=None):
    dim = _dim(dim, input)
    _check_index("scatter", input, index, dim, src)
    output = input.copy()
    target = output.reshape(1) if output.ndim == 0 else output
    values = _src_part(xp, src, index)
    key = _full_index(xp, index, dim)
    if reduce is None:
        target[key] = values
    else:
        getattr(xp, _UFUNCS[reduce]).at(target, key, values)
    return output


scatter_op = defop(
    _scatter, name="scatter", node="ScatterBackward0", inputs=2, array_params=True,
    function=False,
    grads={"input": lambda grad, dim, index: grad.scatter(dim, index, 0.0),
           "src": lambda grad, src_shape, dim, index: _grad_for_src(grad.gather(dim, index),
                                                                     src_shape)},
    samples=[samples.Sample(((3, 4), (3, 2)), args=(1, np.array([[0, 3], [1, 2], [2, 0]]))),
             samples.Sample(((3, 4), (2, 4)), args=(0, np.array([[0, 2, 1, 0], [1, 0, 2, 2]]))),
             *(samples.Sample(((3, 4), source), args=(dim, index), error=True)
               for source, dim, index in _SCATTER_ERRORS)])


def _scatter_value(xp, input, dim, index, value, reduce=None):
    return _scatter(xp, input, xp.asarray(value, dtype=input.dtype), dim, index, reduce)


scatter_value_op = defop(
    _scatter_value, name="scatter_value", node="ScatterBackward1", array_params=True,
    function=False, grads={"input": lambda grad, dim, index: grad.scatter(dim, index, 0.0)},
    samples=[samples.Sample(((3, 4),), args=(1, np.array([[0, 3], [1, 2], [2, 0]]), 1.5)),
             *(samples.Sample(((3, 4),), args=(dim, index, 1.5), error=True)
               for _, dim, index in (_SCATTER_ERRORS[i] for i in (0, 1, 3, 4, 5, 7)))])


def _dispatch_inplace(op, target, inputs, params):
    from .._dispatch import dispatch_inplace

    return dispatch_inplace(op, target, inputs, params)


def _scatter_call(input, dim, index, src, value, reduce, inplace):
    if reduce is not None and reduce not in ("add", "multiply"):
        raise RuntimeError("reduce argument must be either add or multiply.")
    if isinstance(src, Tensor):
        op, inputs, params = scatter_op, (input, src), (dim, index, reduce)
    else:
        fill = value if src is None else src
        if isinstance(fill, Tensor):
            fill = fill.item()
        op, inputs, params = scatter_value_op, (input,), (dim, index, fill, reduce)
    if inplace:
        return _dispatch_inplace(op, input, inputs, params)
    return op.function(*inputs, *params)


@public(methods=("scatter",))
def scatter(input, dim, index, src=None, value=None, *, reduce=None):
    """``input`` with ``src`` (or ``value``) written at ``index`` along ``dim``; see
    torch.scatter."""
    return _scatter_call(input, dim, index, src, value, reduce, False)


@public(methods=("scatter_",), function=False)
def scatter_(input, dim, index, src=None, value=None, *, reduce=None):
    """In-place scatter; see torch.Tensor.scatter_."""
    return _scatter_call(input, dim, index, src, value, reduce, True)


def _scatter_add(xp, input, src, dim, index):
    return _scatter(xp, input, src, dim, index, "add")


scatter_add_op = defop(
    _scatter_add, name="scatter_add", node="ScatterAddBackward0", inputs=2, array_params=True,
    function=False, kind="linear",
    grads={"input": lambda grad: grad,
           "src": lambda grad, src_shape, dim, index: _grad_for_src(grad.gather(dim, index),
                                                                     src_shape)},
    samples=[samples.Sample(((3, 4), (3, 3)), args=(1, np.array([[0, 3, 3], [1, 1, 0],
                                                                  [2, 0, 2]]))),
             samples.Sample(((2, 3), (4, 3)), args=(0, np.array([[0, 1, 1], [1, 0, 1],
                                                                  [0, 0, 0], [1, 1, 0]]))),
             *(samples.Sample(((3, 4), source), args=(dim, index), error=True)
               for source, dim, index in _SCATTER_ERRORS)])


@public(methods=("scatter_add",))
def scatter_add(input, dim, index, src):
    """``input`` plus ``src`` summed into the positions ``index`` names; see torch.scatter_add."""
    return scatter_add_op.function(input, src, dim, index)


@public(methods=("scatter_add_",), function=False)
def scatter_add_(input, dim, index, src):
    return _dispatch_inplace(scatter_add_op, input, (input, src), (dim, index))


_REDUCE_IDENTITY = {"sum": 0, "mean": 0, "prod": 1, "amax": -np.inf, "amin": np.inf}
# PyTorch's forward also takes the names max and min for amax and amin (its backward refuses
# them; ours differentiates them as amax and amin).
_REDUCE_ALIASES = {"max": "amax", "min": "amin"}


def _touched(input_shape, dim, index):
    """Which input positions receive at least one scattered element."""
    mask = np.zeros(tuple(input_shape) or (1,), dtype=bool)
    mask[_full_index(np, np.asarray(index), dim)] = True
    return mask.reshape(tuple(input_shape))


def _scatter_counts(input_shape, dim, index):
    counts = np.zeros(tuple(input_shape) or (1,), dtype=np.int64)
    np.add.at(counts, _full_index(np, np.asarray(index), dim), 1)
    return counts.reshape(tuple(input_shape))


def _scatter_reduce(xp, input, src, dim, index, reduce, include_self=True):
    if reduce not in _REDUCE_IDENTITY:
        raise RuntimeError("reduce argument must be either sum, prod, mean, amax or amin, got "
                           f"{reduce}")
    dim = _dim(dim, input)
    _check_index("scatter", input, index, dim, src)
    output = input.copy()
    touched = _touched(input.shape, dim, index)
    if not include_self:
        identity = _REDUCE_IDENTITY[reduce]
        if input.dtype.kind not in "fc" and identity in (np.inf, -np.inf):
            info = xp.iinfo(input.dtype) if input.dtype.kind in "iu" else None
            identity = (info.min if identity < 0 else info.max) if info else identity
        output[touched] = identity
    target = output.reshape(1) if output.ndim == 0 else output
    ufunc = "add" if reduce == "mean" else _UFUNCS[reduce]
    getattr(xp, ufunc).at(target, _full_index(xp, index, dim), _src_part(xp, src, index))
    if reduce == "mean":
        counts = _scatter_counts(input.shape, dim, index) + (1 if include_self else 0)
        counts = xp.maximum(counts, 1)
        if output.dtype.kind in "fc":
            output = output / counts
        else:
            output = output // counts
    return output.astype(input.dtype, copy=False)


def _scatter_reduce_backward(grad, input, src, result, dim, index, reduce, include_self):
    dim = _dim(dim, input)
    shape = tuple(input.shape)
    touched = wrap(_touched(shape, dim, _array(index)))
    src_part = src if src.ndim == 0 else src[tuple(slice(0, s) for s in _array(index).shape)]
    if reduce == "sum":
        grad_input = grad if include_self else grad.masked_fill(touched, 0)
        grad_src = grad.gather(dim, index)
    elif reduce == "mean":
        counts = _scatter_counts(shape, dim, _array(index)) + (1 if include_self else 0)
        scaled = grad / wrap(np.maximum(counts, 1).astype(grad._data.dtype))
        grad_input = scaled if include_self else scaled.masked_fill(touched, 0)
        grad_src = scaled.gather(dim, index)
    elif reduce == "prod":
        grad_input, grad_src = _scatter_prod_backward(grad, input, src_part, dim, index,
                                                      include_self, touched)
    else:
        # amax/amin: the gradient is shared evenly by every element equal to the result. As
        # PyTorch does, the input's own value counts as a tie even when include_self=False
        # (it then gets no share itself); checked against torch in tests/test_indexing.py.
        result_at_src = result.gather(dim, index)
        src_ties = (src_part == result_at_src).to(grad.dtype)
        self_ties = (input == result).to(grad.dtype)
        counts = self_ties.scatter_add(dim, index, src_ties)
        share = grad / counts.masked_fill(counts == 0, 1)
        # Untouched positions keep their value: there self_ties is 1 and the count 1.
        grad_input = share * self_ties
        if not include_self:
            grad_input = grad_input.masked_fill(touched, 0)
        grad_src = share.gather(dim, index) * src_ties
    return grad_input, _grad_for_src(grad_src, tuple(src.shape))


def _array(value):
    return value._data if isinstance(value, Tensor) else np.asarray(value)


def _scatter_prod_backward(grad, input, src, dim, index, include_self, touched):
    """Product of the other contributors to each slot, exact when some of them are zero:
    (product of the non-zero ones) / value, or that product alone for the single zero."""
    src_zero = src == 0
    self_zero = input == 0
    self_value = input.masked_fill(self_zero, 1)
    if not include_self:
        self_value = self_value.masked_fill(touched, 1)
        self_zero = self_zero & ~touched
    nonzero_product = self_value.scatter_reduce(dim, index, src.masked_fill(src_zero, 1), "prod")
    zeros = self_zero.to(grad.dtype).scatter_add(dim, index, src_zero.to(grad.dtype))

    def others(value, zero, product, zero_count):
        alone = product * (zero_count == 1).to(grad.dtype)
        rest = product * (zero_count == 0).to(grad.dtype) / value.masked_fill(zero, 1)
        return alone.masked_fill(~zero, 0) + rest.masked_fill(zero, 0)

    if include_self:
        grad_input = grad * others(input, input == 0, nonzero_product, zeros)
    else:
        grad_input = grad.masked_fill(touched, 0)  # untouched positions pass through
    grad_src = grad.gather(dim, index) * others(src, src_zero, nonzero_product.gather(dim, index),
                                                zeros.gather(dim, index))
    return grad_input, grad_src


_REDUCE_INDEX = np.array([[0, 3, 3], [1, 1, 0], [2, 0, 2]])
scatter_reduce_op = defop(
    _scatter_reduce, name="scatter_reduce", node="ScatterReduceBackward0", inputs=2,
    array_params=True, function=False, backward=_scatter_reduce_backward,
    samples=[samples.Sample(((3, 4), (3, 3)), args=(1, _REDUCE_INDEX, reduce, include_self))
             for reduce in ("sum", "prod", "mean", "amax", "amin")
             for include_self in (True, False)] + [
        samples.Sample(((3, 4), (3, 3)), args=(1, _REDUCE_INDEX, "add", True), error=True),
        *(samples.Sample(((3, 4), source), args=(dim, index, "sum", True), error=True)
          for source, dim, index in _SCATTER_ERRORS)])


@public(methods=("scatter_reduce",))
def scatter_reduce(input, dim, index, src, reduce, *, include_self=True):
    """Reduce ``src`` into ``input`` at ``index`` (sum, prod, mean, amax, amin); see
    torch.scatter_reduce."""
    reduce = _REDUCE_ALIASES.get(reduce, reduce)
    return scatter_reduce_op.function(input, src, dim, index, reduce, include_self)


@public(methods=("scatter_reduce_",), function=False)
def scatter_reduce_(input, dim, index, src, reduce, *, include_self=True):
    reduce = _REDUCE_ALIASES.get(reduce, reduce)
    return _dispatch_inplace(scatter_reduce_op, input, (input, src),
                             (dim, index, reduce, include_self))


# --- index_select / index_add / index_copy / index_fill --------------------------------------
def _zero_slices(grad, dim, index):
    """The gradient with the slices at ``index`` zeroed: what reaches an input whose slices
    there were overwritten (index_copy, index_fill)."""
    return grad.index_fill(dim, index, 0)


def _slice_shape(shape, dim):
    return [size for axis, size in enumerate(shape) if axis != dim]


def _check_index_count(name, source, index, dim, error=RuntimeError):
    count = source.shape[dim] if source.ndim else 1
    if index.size != count:
        detail = f": ({count}), for dim: {dim}" if name == "index_add_" else f" ({count})"
        raise error(f"{name}(): Number of indices ({index.size}) should be equal to "
                    f"source.size(dim){detail}")


def _index_key(input, dim, index):
    return (slice(None),) * dim + (index.reshape(-1),)


def _index_select(xp, input, dim, index):
    if index.ndim > 1:
        raise IndexError("index_select(): Index is supposed to be a vector")
    if index.dtype.kind not in "iu":
        raise RuntimeError("index_select(): Expected dtype int32 or int64 for index")
    dim = _dim(dim, input)
    size = input.shape[dim] if input.ndim else 1
    if index.size and _out_of_range(index, size, negative=False) is not None:
        raise IndexError("index out of range in self")
    if input.ndim == 0:
        return input.reshape(1)[index.reshape(-1)].reshape(index.shape)
    return xp.take(input, index.reshape(-1), axis=dim)


index_select_op = defop(
    _index_select, name="index_select", node="IndexSelectBackward0", kind="linear",
    array_params=True, methods=("index_select",),
    grads={"input": lambda grad, input_shape, dim, index: zeros_of(input_shape, grad).index_add(
        dim, index, grad)},
    samples=[samples.Sample(((4, 3),), args=(0, np.array([0, 2, 2]))),
             samples.Sample(((3, 4),), args=(1, np.array([3, 0]))),
             samples.Sample(((3, 4),), args=(0, np.array([5])), error=True),
             *(samples.Sample(((3, 4),), args=(dim, index), error=True) for dim, index in (
                 (0, np.array([-1])), (0, np.array([[0, 1]])), (0, np.array([0.0, 1.0])),
                 (2, np.array([0]))))])


# (source shape, dim, index) misuses of index_add and index_copy on a (4, 3) input.
_INDEX_ADD_ERRORS = (
    ((2, 3), 0, np.array([0, 2, 2])),  # more indices than source slices
    ((3, 3), 0, np.array([0, 2, 4])),  # index out of range
    ((3, 3), 0, np.array([0, 2, -1])),
    ((3, 3), 0, np.array([0.0, 2.0, 2.0])),
    ((3, 3), 0, np.array([[0, 2, 2]])),
    ((3, 4), 0, np.array([0, 2, 2])),  # source slices of the wrong size
    ((3, 3), 2, np.array([0, 2, 2])),
    ((3, 3, 1), 0, np.array([0, 2, 2])))


def _index_add(xp, input, source, dim, index, alpha=1):
    from .pointwise import legacy_name

    if index.ndim > 1:
        raise IndexError(f"index_add_(): Index is supposed to be a vector, but got dim: "
                         f"{index.ndim} with type: {legacy_name(index)} and size: "
                         f"{list(index.shape)}")
    if index.dtype.kind not in "iu":
        raise RuntimeError(f"index_add_(): Expected dtype int32/int64 for index but got: "
                           f"{legacy_name(index)}")
    _check_same_dtype("index_add_", input, source)
    dim = _dim(dim, input)
    _check_index_count("index_add_", source, index, dim)
    if source.ndim and input.ndim and _slice_shape(source.shape, dim) != _slice_shape(
            input.shape, dim):
        raise RuntimeError(f"source tensor shape must match self tensor shape, excluding the "
                           f"specified dimension. Got self.shape = {list(input.shape)} "
                           f"source.shape = {list(source.shape)}")
    _check_in_bounds(input, index, dim)
    output = input.copy()
    values = source if alpha == 1 else source * alpha
    if output.ndim == 0:
        xp.add.at(output.reshape(1), index.reshape(-1), xp.reshape(values, -1))
    else:
        xp.add.at(output, _index_key(output, dim, index), values)
    return output.astype(input.dtype, copy=False)


index_add_op = defop(
    _index_add, name="index_add", node="IndexAddBackward0", inputs=2,
    array_params=True, function=False, kind="linear",
    grads={"input": lambda grad: grad,
           "source": lambda grad, source_shape, dim, index, alpha: (
               grad.index_select(dim, index) * alpha).reshape(source_shape)},
    samples=[samples.Sample(((4, 3), (3, 3)), args=(0, np.array([0, 2, 2]))),
             samples.Sample(((3, 4), (3, 2)), args=(1, np.array([3, 0]), 2.0)),
             *(samples.Sample(((4, 3), source), args=(dim, index), error=True)
               for source, dim, index in _INDEX_ADD_ERRORS)])


@public(methods=("index_add",))
def index_add(input, dim, index, source, *, alpha=1):
    """``input`` with ``alpha * source`` added at ``index`` along ``dim``; see torch.index_add."""
    return index_add_op.function(input, source, dim, index, alpha)


@public(methods=("index_add_",), function=False)
def index_add_(input, dim, index, source, *, alpha=1):
    return _dispatch_inplace(index_add_op, input, (input, source), (dim, index, alpha))


def _check_same_dtype(name, input, source):
    if input.dtype != source.dtype:
        from .._dtype import FROM_NUMPY

        names = [FROM_NUMPY[a.dtype].name for a in (input, source)]
        legacy = {"float64": "Double", "float32": "Float", "int64": "Long", "int32": "Int",
                  "bool": "Bool", "float16": "Half"}
        raise RuntimeError(f"{name}(): self ({legacy.get(names[0], names[0])}) and source "
                           f"({legacy.get(names[1], names[1])}) must have the same scalar type")


def _index_copy(xp, input, source, dim, index):
    from .pointwise import legacy_name

    if index.ndim > 1:
        raise IndexError(f"index_copy_(): Index should have dimension 1 or 0 (got {index.ndim})")
    if index.dtype != np.int64:
        raise RuntimeError(f"index_copy_(): Expected a long tensor for index, but got "
                           f"{legacy_name(index)}")
    dim = _dim(dim, input)
    if source.ndim and input.ndim and source.ndim != input.ndim:
        raise IndexError(f"index_copy_(): When source and destination are not scalars, their "
                         f"dimensionality must match. Source dimensionality ({source.ndim}), "
                         f"destination dimensionality ({input.ndim})")
    _check_index_count("index_copy_", source, index, dim, IndexError)
    if source.ndim and _slice_shape(source.shape, dim) != _slice_shape(input.shape, dim):
        raise RuntimeError(
            f"index_copy_(): Source/destination tensor must have same slice shapes. Destination "
            f"slice shape: {' '.join(map(str, _slice_shape(input.shape, dim)))} at dimension "
            f"{dim} and source slice shape: {' '.join(map(str, _slice_shape(source.shape, dim)))}"
            f" at dimension {dim}.")
    size = input.shape[dim] if input.ndim else 1
    bad = _out_of_range(index, size, negative=False) if index.size else None
    if bad is not None:
        raise IndexError(f"index_copy_(): index {bad} is out of bounds for dimension {dim} with "
                         f"size {size}")
    output = input.copy()
    if output.ndim == 0:
        output.reshape(1)[index.reshape(-1)] = xp.reshape(source, -1)
    else:
        output[_index_key(output, dim, index)] = source
    return output


index_copy_op = defop(
    _index_copy, name="index_copy", node="IndexCopyBackward0", inputs=2, array_params=True,
    function=False, kind="linear",
    grads={"input": _zero_slices,
           "source": lambda grad, source_shape, dim, index: grad.index_select(
               dim, index).reshape(source_shape)},
    samples=[samples.Sample(((4, 3), (2, 3)), args=(0, np.array([3, 1]))),
             samples.Sample(((3, 4), (3, 2)), args=(1, np.array([0, 2]))),
             *(samples.Sample(((4, 3), source), args=(dim, index), error=True)
               for source, dim, index in _INDEX_ADD_ERRORS)])


@public(methods=("index_copy",))
def index_copy(input, dim, index, source):
    """``input`` with the slices at ``index`` replaced by ``source``; see torch.index_copy."""
    return index_copy_op.function(input, source, dim, index)


@public(methods=("index_copy_",), function=False)
def index_copy_(input, dim, index, source):
    return _dispatch_inplace(index_copy_op, input, (input, source), (dim, index))


def _index_fill(xp, input, dim, index, value):
    if index.ndim > 1:
        raise RuntimeError("Index has to be a vector/scalar")
    if index.dtype != np.int64:
        raise IndexError("index_fill_(): Expected dtype int64 for index.")
    dim = _dim(dim, input)
    size = input.shape[dim] if input.ndim else 1
    bad = _out_of_range(index, size) if index.size else None
    if bad is not None:
        raise IndexError(f"index {bad} is out of bounds for dimension {dim} with size {size}")
    output = input.copy()
    if output.ndim == 0:
        output.reshape(1)[index.reshape(-1)] = value
    else:
        output[_index_key(output, dim, index)] = value
    return output


index_fill_op = defop(
    _index_fill, name="index_fill", node="IndexFillBackward0", array_params=True,
    function=False, grads={"input": _zero_slices},
    samples=[samples.Sample(((4, 3),), args=(0, np.array([3, 1]), 1.5)),
             samples.Sample(((3, 4),), args=(-1, np.array([0]), -2.0)),
             samples.Sample(((4, 3),), args=(0, np.array([-1]), 1.5)),
             *(samples.Sample(((4, 3),), args=(dim, index, value), error=True)
               for dim, index, value in (
                   (0, np.array([4]), 1.5), (0, np.array([-5]), 1.5),
                   (0, np.array([[3, 1]]), 1.5), (0, np.array([3.0]), 1.5),
                   (2, np.array([0]), 1.5), (0, np.array([0]), np.array([1.0, 2.0]))))])


def _index_fill_tensor(xp, input, value, dim, index):
    return _index_fill(xp, input, dim, index, value)


# A value tensor is an input: it receives the sum of the gradient over the filled positions
# (each counted once, however often the index repeats).
index_fill_tensor_op = defop(
    _index_fill_tensor, name="index_fill_tensor", node="IndexFillBackward1", inputs=2,
    array_params=True, function=False,
    grads={"input": _zero_slices,
           "value": lambda grad, dim, index: (grad - _zero_slices(grad, dim, index)).sum()},
    samples=[samples.Sample(((4, 3), ()), args=(0, np.array([3, 1, 3]))),
             samples.Sample(((3, 4), ()), args=(-1, np.array([0])))])


def _fill_value(value):
    """The fill value as a number, or None for a tensor: PyTorch's Tensor overload then
    (IndexFillBackward1; the value is an input, which vmap and forward AD see too)."""
    if getattr(value, "ndim", 0):
        raise RuntimeError(f"index_fill_ only supports a 0-dimensional value tensor, but got "
                           f"tensor with {value.ndim} dimension(s).")
    return None if isinstance(value, Tensor) else value


@public(methods=("index_fill",))
def index_fill(input, dim, index, value):
    """``input`` with the slices at ``index`` set to ``value``; see torch.index_fill."""
    number = _fill_value(value)
    if number is None:
        return index_fill_tensor_op.function(input, value, dim, index)
    return index_fill_op.function(input, dim, index, number)


@public(methods=("index_fill_",), function=False)
def index_fill_(input, dim, index, value):
    number = _fill_value(value)
    if number is None:
        return _dispatch_inplace(index_fill_tensor_op, input, (input, value), (dim, index))
    return _dispatch_inplace(index_fill_op, input, (input,), (dim, index, number))


# --- masked_select / masked_scatter / take / take_along_dim / nonzero -------------------------
def _check_mask_shape(mask, input):
    from .._dispatch import broadcast_mismatch

    mismatch = broadcast_mismatch(mask.shape, input.shape)  # in PyTorch's order
    if mismatch is not None:
        raise mismatch


def _masked_select(xp, input, mask):
    if mask.dtype != np.bool_:
        raise RuntimeError("masked_select: expected BoolTensor for mask")
    _check_mask_shape(mask, input)
    shape = xp.broadcast_shapes(input.shape, mask.shape)
    return xp.broadcast_to(input, shape)[xp.broadcast_to(mask, shape)]


def _masked_select_backward(grad, input_shape, mask):
    shape = np.broadcast_shapes(tuple(input_shape), mask.shape)
    return zeros_of(shape, grad).masked_scatter(mask, grad)


masked_select_op = defop(
    _masked_select, name="masked_select", node="MaskedSelectBackward0", kind="linear",
    array_params=True, methods=("masked_select",),
    grads={"input": lambda grad, input_shape, mask: _masked_select_backward(
        grad, input_shape, _array(mask))},
    samples=[samples.Sample(((3, 4),), args=("mask",)),
             *(samples.Sample(((3, 4),), args=(mask,), error=True) for mask in (
                 np.ones((3, 4)), np.ones((3, 4), dtype=np.uint8), np.ones(5, dtype=bool)))])


def _masked_scatter(xp, input, source, mask):
    from .pointwise import legacy_name

    if mask.dtype == np.uint8:  # still taken by PyTorch (deprecated): nonzero bytes are true
        mask = mask.astype(bool)
    if mask.dtype != np.bool_:
        raise RuntimeError(f"masked_scatter_ only supports boolean masks, but got mask with "
                           f"dtype {legacy_name(mask)}")
    _check_mask_shape(mask, input)
    shape = xp.broadcast_shapes(input.shape, mask.shape)
    input, mask = xp.broadcast_to(input, shape), xp.broadcast_to(mask, shape)
    count = int(mask.sum())
    if source.size < count:
        raise RuntimeError("Number of elements of source < number of ones in mask")
    output = input.copy()
    output[mask] = source.reshape(-1)[:count]
    return output


def _masked_scatter_source_rule(grad, source_shape, mask):
    from .shape import constant_pad_op

    selected = grad.masked_select(mask)
    numel = 1
    for size in source_shape:
        numel *= size
    return constant_pad_op.function(selected, (0, numel - selected.numel())).reshape(
        tuple(source_shape))


masked_scatter_op = defop(
    _masked_scatter, name="masked_scatter", node="MaskedScatterBackward0", inputs=2,
    array_params=True, function=False, kind="linear",
    grads={"input": lambda grad, mask: grad.masked_fill(mask, 0),
           "source": _masked_scatter_source_rule},
    samples=[samples.Sample(((3, 4), (4, 4)), args=("mask",)),
             samples.Sample(((3, 4), (2, 3, 4)), args=(np.ones((2, 1, 4), dtype=bool),)),
             *(samples.Sample(((3, 4), source), args=(mask,), error=True) for source, mask in (
                 ((4, 4), np.ones((3, 4))), ((4, 4), np.ones(5, dtype=bool)),
                 ((2,), np.ones((3, 4), dtype=bool))))])  # fewer elements than the mask


@public(methods=("masked_scatter",))
def masked_scatter(input, mask, source):
    """``input`` with ``source``'s elements written, in order, where ``mask`` is true; see
    torch.masked_scatter."""
    return masked_scatter_op.function(input, source, mask)


@public(methods=("masked_scatter_",), function=False)
def masked_scatter_(input, mask, source):
    return _dispatch_inplace(masked_scatter_op, input, (input, source), (mask,))


def _take(xp, input, index):
    from .pointwise import legacy_name

    if index.dtype != np.int64:
        raise RuntimeError(f"take(): Expected a long tensor for index, but got "
                           f"{legacy_name(index)}")
    flat = input.reshape(-1)
    if index.size and (index.max() >= flat.size or index.min() < -flat.size):
        bad = int(index.max()) if index.max() >= flat.size else int(index.min())
        raise IndexError(f"out of range: tried to access index {bad} on a tensor of {flat.size} "
                         f"elements.")
    return flat[index]


def _take_backward(grad, input_shape, index):
    numel = 1
    for size in input_shape:
        numel *= size
    return index_backward_op.function(grad, (numel,), (_array(index),)).reshape(
        tuple(input_shape))


take_op = defop(_take, name="take", node="TakeBackward0", kind="linear", array_params=True,
                methods=("take",), grads={"input": _take_backward},
                samples=[samples.Sample(((3, 4),), args=(np.array([[0, 5], [11, 5]]),)),
                         samples.Sample(((5,),), args=(np.array([-1, 2]),)),
                         *(samples.Sample(((3, 4),), args=(index,), error=True) for index in (
                             np.array([12]), np.array([-13]), np.array([1.0]),
                             np.array([1], dtype=np.int32)))])


@public(methods=("take_along_dim",))
def take_along_dim(input, indices, dim=None):
    """Values at ``indices`` along ``dim`` (of the flattened tensor without); see
    torch.take_along_dim."""
    if dim is None:
        return gather_op.function(input.reshape(-1), 0, indices.reshape(-1))
    from .shape import broadcast_shapes, expand

    dim = normalize_dim(dim, input.ndim)
    input_shape, index_shape = list(input.shape), list(indices.shape)
    input_shape[dim] = index_shape[dim] = 1
    common = list(broadcast_shapes(tuple(input_shape), tuple(index_shape)))
    target_input, target_index = list(common), list(common)
    target_input[dim], target_index[dim] = input.shape[dim], indices.shape[dim]
    if tuple(input.shape) != tuple(target_input):
        input = expand(input, tuple(target_input))
    if tuple(indices.shape) != tuple(target_index):
        indices = expand(indices, tuple(target_index))
    return gather_op.function(input, dim, indices)


def _nonzero(xp, input, *, as_tuple=False):
    if as_tuple:
        if input.ndim == 0:
            return (xp.zeros(int(bool(input)), dtype="int64"),)
        return tuple(i.astype("int64") for i in xp.nonzero(input))
    return xp.argwhere(input).astype("int64")


def _nonzero_public(input, *, as_tuple=False):
    """Indices of the non-zero elements, as a (n, ndim) tensor or a tuple; see torch.nonzero."""
    if as_tuple:
        from .._tensor import wrap as wrap_array

        return tuple(wrap_array(a) for a in _nonzero(np, input._data, as_tuple=True))
    return nonzero_op.function(input)


nonzero_op = defop(_nonzero, name="nonzero", function=False,
                   samples=[samples.Sample(((3, 4),), integer=True, domain=(-1, 1))])
public(methods=("nonzero",), function="nonzero")(_nonzero_public)


@public(methods=("argwhere",))
def argwhere(input):
    """See torch.argwhere."""
    return nonzero_op.function(input)
