"""vmap's machinery: BatchedTensor (batch dims in front of the physical array, hidden from the
user) and the batching rules that run each op once on the batched arrays.

Rules, chosen from the op's declaration (``batching_rule_kind``):

- ``elementwise`` ops (and comparisons): batch dims in front, logical dims right-aligned, so
  NumPy broadcasting batches them;
- ops whose params are dims, sizes or plain flags (sum over dim, softmax, transpose, view,
  select, slice, cat...): non-negative dims shift past the batch dims (negative dims count from
  the end and stay), sizes get the batch sizes in front;
- a few ops have their own rule (full reductions, t, permute, expand, index, the matrix
  products, which all become one broadcast matmul);
- any other op runs once per example and the results are stacked: the documented fallback
  (``fallback_ops()`` lists them).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import numpy as np

from .._tensor import Size, Tensor, wrap
from ..autograd._modes import MODES, suspend

_level_ids = itertools.count(1)


class BatchedTensor(Tensor):
    """A tensor inside vmap: its array holds the batch dims first; shape and dims are logical.

    ``_levels`` (in the instance dict) names the vmap levels of the leading array dims, in
    increasing order (the outermost vmap first).
    """

    __slots__ = ()

    @property
    def _nb(self) -> int:
        return len(self._levels)

    @property
    def shape(self) -> Size:
        return Size(self._data.shape[len(self._levels):])

    @property
    def ndim(self) -> int:
        return self._data.ndim - len(self._levels)

    def dim(self) -> int:
        return self._data.ndim - len(self._levels)

    ndimension = dim

    def size(self, dim: int | None = None) -> Any:
        shape = self.shape
        if dim is None:
            return shape
        from .._tensor import normalize_dim

        return shape[normalize_dim(dim, len(shape))]

    def numel(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    nelement = numel

    def __len__(self) -> int:
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    def __iter__(self) -> Any:
        if self.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return iter([self.select(0, i) for i in range(self.shape[0])])

    def detach(self) -> Tensor:
        with suspend(forward=True, vmap=True):
            result = Tensor.detach(self)
        return _batched(result, self._levels)

    def _no_data(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("vmap: It looks like you're calling .item() (or reading the values) of "
                           "a Tensor inside vmap. We don't support vmap over reading data-"
                           "dependent values: each example would give a different Python value.")

    item = tolist = numpy = __bool__ = __float__ = __int__ = __index__ = _no_data

    def __repr__(self, *, tensor_contents: str | None = None) -> str:
        plain = _physical(self)
        return (f"BatchedTensor(lvl={self._levels[-1]}, bdim=0, value=\n    "
                + repr(plain).replace("\n", "\n    ") + "\n)")


def _batched(tensor: Tensor, levels: tuple) -> Tensor:
    """Mark a fresh physical tensor as batched at ``levels`` (or plain when there are none)."""
    if levels:
        tensor.__class__ = BatchedTensor
        tensor.__dict__["_levels"] = levels
    elif type(tensor) is BatchedTensor:
        tensor.__class__ = Tensor
        tensor.__dict__.pop("_levels", None)
    return tensor


def levels_of(value: Any) -> tuple:
    return value.__dict__.get("_levels", ()) if type(value) is BatchedTensor else ()


def _physical(value: Any) -> Any:
    """A plain tensor with the same array, graph position and version counter."""
    if type(value) is not BatchedTensor:
        return value
    plain = wrap(value._data)
    plain._requires_grad = value._requires_grad
    plain.grad_fn = value.grad_fn
    plain._output_nr = value._output_nr
    plain._base = value._base
    plain._version_counter = value.version_counter()
    if value._requires_grad and value.grad_fn is None:
        plain._accumulator = value.grad_accumulator()
    return plain


def _sizes() -> dict:
    return dict(MODES.vmap_levels)


def _align(value: Any, levels: tuple, expand: bool) -> Any:
    """The physical tensor of ``value`` with one leading dim per level in ``levels`` (size 1
    where it is not batched at that level, or the batch size when ``expand``)."""
    from ..ops.shape import expand_op, unsqueeze_op

    own = levels_of(value)
    result = _physical(value)
    for position, level in enumerate(levels):
        if level not in own:
            result = unsqueeze_op.function(result, position)
    if expand and len(own) != len(levels):
        sizes = _sizes()
        target = tuple(sizes[level] for level in levels) + (-1,) * (result._data.ndim -
                                                                    len(levels))
        result = expand_op.function(result, target)
    return result


def _pad_logical(value: Any, nb: int, rank: int) -> Any:
    """Insert size-1 dims right after the batch dims up to logical rank ``rank``."""
    from ..ops.shape import unsqueeze_op

    for _ in range(rank - (value._data.ndim - nb)):
        value = unsqueeze_op.function(value, nb)
    return value


def _logical_ndim(value: Any) -> int:
    return value._data.ndim - len(levels_of(value))


# --- rules -------------------------------------------------------------------------------------
class Fallback(Exception):
    """Raised by a rule that cannot batch this call; the per-example loop runs instead."""


def _elementwise(op: Any, inputs: tuple, params: tuple, levels: tuple) -> Any:
    from .. import _dispatch

    tensors = [v for v in inputs + params if isinstance(v, Tensor)]
    rank = max(_logical_ndim(v) for v in tensors)
    nb = len(levels)

    def convert(value: Any) -> Any:
        if type(value) is BatchedTensor:
            return _pad_logical(_align(value, levels, False), nb, rank)
        return value

    return _dispatch.dispatch(op, tuple(convert(v) for v in inputs),
                              tuple(convert(v) for v in params))


# Params that are dims (non-negative values shift past the batch dims).
_DIM_PARAMS = frozenset({"dim", "dims", "dim0", "dim1", "dim2", "start_dim", "end_dim"})
# Params that are logical shapes (the batch sizes go in front).
_SIZE_PARAMS = frozenset({"shape", "input_shape"})
# Params that do not depend on where the batch dims are (when they are not arrays).
_PLAIN_PARAMS = frozenset({
    "keepdim", "dtype", "index", "start", "stop", "step", "alpha", "memory_format", "ord",
    "value", "exponent", "other", "base", "correction", "unbiased", "k", "sorted", "largest",
    "descending", "stable", "offset", "diagonal", "eps", "beta", "half_to_float", "p", "n",
})
# Ops whose ``dim=None`` means "every dim" (a full reduction over the logical dims).
# Ops without dims that keep the shape, or that work on the last dims of any batch (as
# NumPy's tril/triu do).
_SHAPE_PRESERVING = frozenset({"clone", "alias", "to_dtype", "fill", "zero", "tril", "triu"})
# Params that are sizes or shifts along the op's dim (cat's and split's sizes, roll's shifts):
# batch-independent when the op names its dim.
_ALONG_DIM_PARAMS = frozenset({"sizes", "shifts", "split_size"})
_NONE_IS_ALL = frozenset({"vector_norm", "amax", "amin", "logsumexp", "std", "var", "std_mean",
                          "var_mean", "nansum", "count_nonzero"})


def _shift(dim: Any, nb: int) -> Any:
    if isinstance(dim, (tuple, list)):
        return type(dim)(_shift(d, nb) for d in dim)
    if isinstance(dim, (int, np.integer)) and not isinstance(dim, bool):
        return int(dim) + nb if dim >= 0 else int(dim)
    raise Fallback


def _by_dims(op: Any, inputs: tuple, params: tuple, levels: tuple) -> Any:
    from .. import _dispatch

    nb = len(levels)
    sizes = _sizes()
    batch = tuple(sizes[level] for level in levels)
    first = next(v for v in inputs if isinstance(v, Tensor))
    ndim = _logical_ndim(first)
    if ndim == 0 and any(name in _DIM_PARAMS for name in op.param_names):
        raise Fallback  # dim 0 of a 0-d tensor names no physical dim
    new_params = []
    for name, value in zip(op.param_names, params):
        if isinstance(value, (Tensor, np.ndarray)):
            raise Fallback
        if name in _DIM_PARAMS:
            if isinstance(value, (tuple, list)) and not value:
                raise Fallback  # dim=() means "every dim" for some ops
            if value is None:
                if name != "dim" or op.name not in _NONE_IS_ALL:
                    raise Fallback
                value = tuple(range(nb, nb + ndim))
            else:
                value = _shift(value, nb)
        elif name in _SIZE_PARAMS or (name == "size" and op.name != "expand"):
            value = batch + tuple(value)
        new_params.append(value)
    aligned = tuple(_align(v, levels, True) if isinstance(v, Tensor) else v for v in inputs)
    return _dispatch.dispatch(op, aligned, tuple(new_params))


def _all_dims_reduction(dim_op_name: str) -> Callable:
    def rule(op: Any, inputs: tuple, params: tuple, levels: tuple) -> Any:
        from ..ops import OPS
        from ..ops.shape import clone_op, to_dtype_op

        (value,) = inputs
        nb = len(levels)
        ndim = _logical_ndim(value)
        physical = _align(value, levels, True)
        dtype = params[0] if params else None
        if ndim == 0:
            result = clone_op.function(physical)
            return result if dtype is None else to_dtype_op.function(result, dtype)
        return OPS[dim_op_name].function(physical, tuple(range(nb, nb + ndim)), False,
                                         dtype=dtype)
    return rule


def _squeeze_all_rule(op: Any, inputs: tuple, params: tuple, levels: tuple) -> Any:
    from ..ops.shape import squeeze_dims

    (value,) = inputs
    nb = len(levels)
    physical = _align(value, levels, True)
    dims = tuple(nb + i for i, size in enumerate(value.shape) if size == 1)
    return squeeze_dims.function(physical, dims)


def _t_rule(op: Any, inputs: tuple, params: tuple, levels: tuple) -> Any:
    from ..ops.shape import squeeze_dims, transpose_op

    (value,) = inputs
    nb = len(levels)
    physical = _align(value, levels, True)
    if _logical_ndim(value) < 2:
        return squeeze_dims.function(physical, ())  # a fresh view, as t() of a vector
    return transpose_op.function(physical, nb, nb + 1)


def _permute_rule(op: Any, inputs: tuple, params: tuple, levels: tuple) -> Any:
    from ..ops.shape import permute_op

    (value,) = inputs
    nb = len(levels)
    ndim = _logical_ndim(value)
    dims = tuple(range(nb)) + tuple(nb + (d % ndim if ndim else 0) for d in params[0])
    return permute_op.function(_align(value, levels, True), dims)


def _expand_rule(op: Any, inputs: tuple, params: tuple, levels: tuple) -> Any:
    from ..ops.shape import expand_op

    (value,) = inputs
    nb = len(levels)
    size = tuple(params[0])
    physical = _pad_logical(_align(value, levels, True), nb, len(size))
    batch = tuple(_sizes()[level] for level in levels)
    return expand_op.function(physical, batch + size)


def _index_rule(op: Any, inputs: tuple, params: tuple, levels: tuple) -> Any:
    from .. import _dispatch

    key = params[-1]
    key = key if isinstance(key, tuple) else (key,)
    advanced = [isinstance(k, (np.ndarray, list, Tensor)) for k in key]
    if any(isinstance(k, Tensor) for k in key) or any(
            isinstance(p, Tensor) for p in params[:-1]):
        raise Fallback
    positions = [i for i, a in enumerate(advanced) if a]
    if positions and positions[-1] - positions[0] + 1 != len(positions):
        raise Fallback  # NumPy would move the advanced dims to the front
    nb = len(levels)
    new_params = []
    for name, value in zip(op.param_names[:-1], params[:-1]):
        if name in _SIZE_PARAMS:
            value = tuple(_sizes()[level] for level in levels) + tuple(value)
        elif name not in _PLAIN_PARAMS:
            raise Fallback
        new_params.append(value)
    new_key = (slice(None),) * nb + key
    aligned = tuple(_align(v, levels, True) if isinstance(v, Tensor) else v for v in inputs)
    return _dispatch.dispatch(op, aligned, tuple(new_params) + (new_key,))


def _matmul_rule(kind: str) -> Callable:
    """dot, mm, mv, bmm and batched matmul as one broadcast matmul over the batch dims."""

    def rule(op: Any, inputs: tuple, params: tuple, levels: tuple) -> Any:
        from ..ops.linalg import matmul_batched
        from ..ops.shape import squeeze_dims, unsqueeze_op

        left, right = inputs
        nb = len(levels)
        a = _align(left, levels, True)
        b = _align(right, levels, True)
        if kind in ("dot", "mv"):
            b = unsqueeze_op.function(b, -1)
        if kind == "dot":
            a = unsqueeze_op.function(a, -2)
        rank = max(a._data.ndim, b._data.ndim) - nb
        a = _pad_logical(a, nb, rank)
        b = _pad_logical(b, nb, rank)
        result = matmul_batched.function(a, b)
        if kind == "dot":
            return squeeze_dims.function(result, (-2, -1))
        if kind == "mv":
            return squeeze_dims.function(result, (-1,))
        return result

    return rule


def _first_row_rule(op: Any, inputs: tuple, params: tuple, levels: tuple) -> Any:
    """``input[0]`` (vector @ matrix squeezes the product's first dim)."""
    from ..ops.indexing import select_op

    (value,) = inputs
    return select_op.function(_align(value, levels, True), len(levels), 0)


def _repeat_rule(op: Any, inputs: tuple, params: tuple, levels: tuple) -> Any:
    """repeat: the batch dims repeat once; new leading dims go after them."""
    (value,) = inputs
    nb = len(levels)
    repeats = tuple(params[0])
    physical = _pad_logical(_align(value, levels, True), nb, len(repeats))
    from .. import _dispatch

    return _dispatch.dispatch(op, (physical,), ((1,) * nb + repeats,) + tuple(params[1:]))


_OWN_RULES: dict[str, Callable] = {
    "repeat": _repeat_rule,
    "matmul_squeeze": _first_row_rule,
    "sum_all": _all_dims_reduction("sum_dim"),
    "mean_all": _all_dims_reduction("mean_dim"),
    "squeeze_all": _squeeze_all_rule,
    "t": _t_rule,
    "permute": _permute_rule,
    "expand": _expand_rule,
    "index": _index_rule,
    "index_backward": _index_rule,
    "dot": _matmul_rule("dot"),
    "mm": _matmul_rule("mm"),
    "mv": _matmul_rule("mv"),
    "bmm": _matmul_rule("bmm"),
    "matmul_batched": _matmul_rule("matmul"),
}


def batching_rule_kind(op: Any) -> str:
    """'own', 'elementwise', 'dims' or 'fallback' (one example at a time)."""
    from .._dispatch import COMPARE

    if op.name in _OWN_RULES:
        return "own"
    if (op.kind == "elementwise" or op.promotion == COMPARE) and op.num_outputs == 1:
        return "elementwise"
    known = _DIM_PARAMS | _SIZE_PARAMS | _PLAIN_PARAMS | {"size"}
    if "dim" in op.param_names or "dims" in op.param_names:
        known = known | _ALONG_DIM_PARAMS
    locating = _DIM_PARAMS | _SIZE_PARAMS | {"size"}
    # An op without dim or size params may still assume a rank (t, trace, x[0]...): only the
    # listed shape-preserving ones batch without knowing where the dims are.
    if all(name in known for name in op.param_names) and (
            any(name in locating for name in op.param_names) or op.name in _SHAPE_PRESERVING):
        return "dims"
    return "fallback"


def fallback_ops() -> list[str]:
    """Ops that vmap runs one example at a time (their results are stacked)."""
    from ..ops import OPS

    return sorted(name for name, op in OPS.items() if batching_rule_kind(op) == "fallback")


def _loop(op: Any, inputs: tuple, params: tuple, levels: tuple) -> Any:
    """The fallback: flatten the batch dims, run the op per example, stack the results."""
    from .. import _dispatch
    from ..autograd.functional import _stack
    from ..ops.indexing import select_op
    from ..ops.shape import view_op

    sizes = _sizes()
    batch = tuple(sizes[level] for level in levels)
    total = int(np.prod(batch, dtype=np.int64))
    nb = len(levels)

    batched_ids: set = set()  # the flattened (batch-first) tensors: one row per example

    def flatten(value: Any) -> Any:
        if isinstance(value, (tuple, list)) and any(type(v) is BatchedTensor for v in value):
            return type(value)(flatten(v) for v in value)
        if type(value) is not BatchedTensor:
            return value
        physical = _align(value, levels, True)
        if not physical._data.flags.c_contiguous:
            from ..ops.shape import clone_op

            physical = clone_op.function(physical)
        flat = view_op.function(physical, (total,) + tuple(physical._data.shape[nb:]))
        batched_ids.add(id(flat))
        return flat

    def pick(value: Any, index: int) -> Any:
        if isinstance(value, (tuple, list)) and any(isinstance(v, Tensor) for v in value):
            return type(value)(pick(v, index) for v in value)
        if isinstance(value, Tensor) and id(value) in batched_ids:
            return select_op.function(value, 0, index)
        return value

    flat_inputs = tuple(flatten(v) for v in inputs)
    flat_params = tuple(flatten(v) for v in params)
    results = [_dispatch.dispatch(op, tuple(pick(v, i) for v in flat_inputs),
                                  tuple(pick(v, i) for v in flat_params)) for i in range(total)]
    if isinstance(results[0], tuple):
        outputs = []
        for k in range(len(results[0])):
            stacked = _stack([r[k] for r in results])
            outputs.append(view_op.function(stacked, batch + tuple(stacked._data.shape[1:])))
        return tuple(outputs)
    stacked = _stack(results)
    return view_op.function(stacked, batch + tuple(stacked._data.shape[1:]))


def dispatch_batched(op: Any, inputs: tuple, params: tuple) -> Any:
    """Run ``op`` on batched tensors (interposed by dispatch while vmap is on)."""
    levels = set()
    for value in inputs + params:
        if isinstance(value, (tuple, list)):
            for item in value:
                levels.update(levels_of(item))
        else:
            levels.update(levels_of(value))
    ordered = tuple(sorted(levels))
    kind = batching_rule_kind(op)
    sequence_input = any(isinstance(v, (tuple, list)) for v in inputs)
    with suspend(forward=True, vmap=True):
        result = None
        try:
            if kind == "own":
                result = _OWN_RULES[op.name](op, inputs, params, ordered)
            elif kind == "elementwise" and not sequence_input:
                result = _elementwise(op, inputs, params, ordered)
            elif kind == "dims":
                result = _by_dims(op, inputs, params, ordered)
            else:
                raise Fallback
        except Fallback:
            result = _loop(op, inputs, params, ordered)
    if isinstance(result, tuple):
        for item in result:
            if isinstance(item, Tensor):
                _batched(item, ordered)
        return result
    return _batched(result, ordered)


# --- entering and leaving a vmap level -------------------------------------------------------
def enter(value: Tensor, in_dim: int, level: int) -> Tensor:
    """The batched view of ``value`` at ``level``, mapped over its logical dim ``in_dim``."""
    from .._tensor import normalize_dim
    from ..ops.shape import permute_op

    own = levels_of(value)
    nb = len(own)
    logical = value._data.ndim - nb
    dim = normalize_dim(in_dim, logical) + nb
    order = list(range(value._data.ndim))
    order.remove(dim)
    order.insert(nb, dim)  # the new level is the innermost: it goes after the older ones
    with suspend(forward=True, vmap=True):
        result = permute_op.function(_physical(value), tuple(order))
    _batched(result, own + (level,))
    tangent = getattr(value, "_tangent", None)
    if tangent is not None and MODES.dual_levels:
        from ..autograd.forward_ad import set_tangent

        set_tangent(result, enter(tangent, in_dim, level))
    return result


def leave(value: Any, out_dim: int | None, level: int, size: int) -> Any:
    """The result of vmap at ``level``: the batch dim becomes logical dim ``out_dim``."""
    from .._tensor import normalize_dim
    from ..ops.shape import expand_op, permute_op, unsqueeze_op

    own = levels_of(value)
    if out_dim is None:
        if level in own:
            raise ValueError("vmap: out_dims=None was given for an output that is batched over "
                             "the vmapped dim; it must be independent of the mapped inputs.")
        return value
    rest = tuple(lv for lv in own if lv != level)
    nb_rest = len(rest)
    with suspend(forward=True, vmap=True):
        physical = _physical(value)
        if level not in own:
            logical = physical._data.ndim - len(own)
            position = nb_rest + normalize_dim(out_dim, logical + 1)
            result = unsqueeze_op.function(physical, position)
            target = [-1] * result._data.ndim
            target[position] = size
            result = expand_op.function(result, tuple(target))
        else:
            logical = physical._data.ndim - len(own)
            source = own.index(level)
            position = nb_rest + normalize_dim(out_dim, logical + 1)
            order = list(range(physical._data.ndim))
            order.remove(source)
            order.insert(position, source)
            result = permute_op.function(physical, tuple(order))
    _batched(result, rest)
    tangent = getattr(value, "_tangent", None)
    if tangent is not None and MODES.dual_levels:
        from ..autograd.forward_ad import set_tangent

        set_tangent(result, leave(tangent, out_dim, level, size))
    return result


def new_level(size: int) -> int:
    level = next(_level_ids)
    MODES.vmap_levels.append((level, size))
    MODES.refresh()
    return level


def close_level(level: int) -> None:
    MODES.vmap_levels = [entry for entry in MODES.vmap_levels if entry[0] != level]
    MODES.refresh()
