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
    samples=[samples.Sample(((3, 4),), args=(1, 2)), samples.Sample(((3, 4),), args=(0, -1))])


@public(methods=("select",))
def select(input, dim, index):
    """The slice at ``index`` along ``dim`` (a view); see torch.select."""
    return select_op.function(input, normalize_dim(dim, input.ndim), int(index))


def _slice(xp, input, dim, start, stop, step):
    return input[(slice(None),) * dim + (slice(start, stop, step),)]


slice_op = defop(
    _slice, name="slice", node="SliceBackward0", kind="linear", view=True, function=False,
    grads={"input": lambda grad, input_shape, dim, start, stop, step: slice_backward_op.function(
        grad, input_shape, dim, start, stop, step)},
    samples=[samples.Sample(((5, 4),), args=(0, 1, 4, 2)),
             samples.Sample(((3, 4),), args=(1, -3, None, 1))])


def _index(xp, input, key):
    return input[key]


index_op = defop(
    _index, name="index", node="IndexBackward0", kind="linear", function=False,
    grads={"input": lambda grad, input_shape, key: index_backward_op.function(grad, input_shape,
                                                                              key)},
    samples=[samples.Sample(((5, 3),), args=((np.array([0, 2, 2]),),)),
             samples.Sample(((4, 3),), args=((np.array([True, False, True, True]),),))])


def _to_index_array(value):
    if isinstance(value, Tensor):
        array = value._data
    else:
        array = np.asarray(value)
    if array.dtype.kind not in "iub":
        raise IndexError("tensors used as indices must be long, int, byte or bool tensors")
    return array


def _is_advanced(item) -> bool:
    if isinstance(item, Tensor):
        # A 0-d integer tensor indexes like a Python int (PyTorch records a select).
        return item._data.ndim != 0 or item._data.dtype.kind == "b"
    return isinstance(item, (list, np.ndarray)) or type(item) is bool


def getitem(input, key):
    """``input[key]`` with PyTorch's semantics and node names (Select/Slice/Unsqueeze/Index)."""
    if not isinstance(key, tuple):
        key = (key,)
    if any(_is_advanced(item) for item in key):
        numpy_key = tuple(_to_index_array(item) if _is_advanced(item) else
                          int(item) if isinstance(item, (np.integer,)) else item for item in key)
        return index_op.function(input, numpy_key)
    specified = sum(1 for item in key if item is not None and item is not Ellipsis)
    if specified > input.ndim:
        raise IndexError(f"too many indices for tensor of dimension {input.ndim}")
    if sum(1 for item in key if item is Ellipsis) > 1:
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
            size = result.shape[dim]
            start, stop, step = item.start, item.stop, item.step
            if step is not None and int(step) <= 0:
                raise ValueError("step must be greater than zero")
            if not (start in (None, 0) and stop is None and step in (None, 1)):
                begin, end, stride = slice(start, stop, step).indices(size)
                if not (begin == 0 and end >= size and stride == 1):
                    result = slice_op.function(result, dim, begin, max(end, begin), stride)
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


def _alias(xp, input):
    return input.view()


alias_op = defop(_alias, name="alias", node="AliasBackward0", kind="linear", view=True,
                 function=False, grads={"input": lambda grad: grad},
                 samples=[samples.Sample(((3, 4),))])


# --- x[key] = value -------------------------------------------------------------------------
def _index_put(xp, input, values, key):
    output = input.copy()
    output[key] = values
    return output


def _values_rule(grad, values_shape, key):
    return index_op.function(grad, key).sum_to_size(values_shape)


index_put_op = defop(
    _index_put, name="index_put", node="IndexPutBackward0", inputs=2, promote="promote",
    function=False,
    grads={"input": lambda grad, key: grad * _mask_out(grad.shape, key, grad.dtype),
           "values": _values_rule},
    samples=[samples.Sample(((4, 3), (3,)), args=((1,),)),
             samples.Sample(((4, 3), ()), args=((slice(1, 3), 0),))])


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

    check_inplace(input)
    if isinstance(value, Tensor) and value._data.dtype != input._data.dtype:
        value = value.to(input.dtype)
    if not isinstance(value, Tensor):
        value = wrap(np.asarray(value, dtype=input._data.dtype))
    if not any(_is_advanced(item) for item in (key if isinstance(key, tuple) else (key,))):
        # Basic indexing: write through the view, as PyTorch does (the base records CopySlices).
        getitem(input, key).copy_(value)
        return
    numpy_key = _numpy_key(key)
    result = index_put_op.function(input, value, numpy_key)
    write_inplace(input, result, "index_put")


# --- masked_fill ----------------------------------------------------------------------------
def _masked_fill(xp, input, mask, value):
    if mask.dtype != np.bool_:
        raise RuntimeError(f"masked_fill_ only supports boolean masks, but got mask with dtype "
                           f"{mask.dtype}")
    fill = value._data if isinstance(value, Tensor) else value
    return xp.where(mask, xp.asarray(fill, dtype=input.dtype), input)


masked_fill_op = defop(
    _masked_fill, name="masked_fill", node="MaskedFillBackward0", array_params=True,
    methods=("masked_fill",), inplace="masked_fill_",
    grads={"input": lambda grad, mask: grad.masked_fill(mask, 0)},
    samples=[samples.Sample(((3, 4),), args=("mask", 0.5))])


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
    CopySlices of its old history and ``result``; the view's becomes a selection of that."""
    base = view._base
    positions = view_positions(view._data, base._data)
    old_base = wrap(base._data)  # its values are not needed: only its history is
    old_base.grad_fn = base.grad_fn
    old_base._output_nr = base._output_nr
    old_base._requires_grad = base._requires_grad
    old_base._accumulator = base._accumulator
    new_base = copy_slices_op.function(old_base, result, positions)
    base.grad_fn = new_base.grad_fn
    base._output_nr = 0
    base._requires_grad = True
    selection = index_op.function(new_base.reshape(-1), (positions,))
    view.grad_fn = selection.grad_fn
    view._output_nr = 0
    view._requires_grad = True


public(methods=("__getitem__",), function=False)(getitem)
public(methods=("__setitem__",), function=False)(setitem)


def _copy(xp, input, src):
    return xp.broadcast_to(src, input.shape).astype(input.dtype, copy=True)


# ``x.copy_(src)``: the old values of x get no gradient; src gets the (summed, cast) gradient.
copy_op = defop(_copy, name="copy", node="CopyBackwards", inputs=2, function=False,
                inplace="copy_", grads={"input": lambda grad: grad * 0,
                                        "src": lambda grad: grad},
                samples=[samples.Sample(((3, 4), (4,)))])
