"""op_db entries for ops/indexing.py."""

from ._entry import OpEntry

ENTRIES = [
    OpEntry("select_backward", lambda lib, grad, shape, dim, index: _transpose_of(
        lib, grad, shape, lambda x: x.select(dim, index))),
    OpEntry("slice_backward", lambda lib, grad, shape, dim, start, stop, step: _transpose_of(
        lib, grad, shape, lambda x: x[(slice(None),) * dim + (slice(start, stop, step),)])),
    OpEntry("index_backward", lambda lib, grad, shape, key: _transpose_of(
        lib, grad, shape, lambda x: x[key])),
    OpEntry("select", "select"),
    OpEntry("slice", lambda lib, x, dim, start, stop, step: x[(slice(None),) * dim
                                                              + (slice(start, stop, step),)]),
    OpEntry("index", lambda lib, x, key: x[key]),
    OpEntry("alias", lambda lib, x: x[...]),
    OpEntry("index_put", lambda lib, x, v, key: _setitem(x, key, v)),
    OpEntry("masked_fill", "masked_fill"),
    OpEntry("copy_slices", lambda lib, base, values, positions: _copy_slices(lib, base, values,
                                                                             positions)),
    OpEntry("copy", lambda lib, x, src: x.clone().copy_(src)),
    OpEntry("as_strided", "as_strided"),
    OpEntry("gather", "gather"),
    OpEntry("scatter", lambda lib, x, src, dim, index: lib.scatter(x, dim, index, src)),
    OpEntry("scatter_value", lambda lib, x, dim, index, value: lib.scatter(x, dim, index,
                                                                           value=value)),
    OpEntry("scatter_add", lambda lib, x, src, dim, index: lib.scatter_add(x, dim, index, src)),
    OpEntry("scatter_reduce", lambda lib, x, src, dim, index, reduce, include_self:
            lib.scatter_reduce(x, dim, index, src, reduce, include_self=include_self)),
    OpEntry("index_select", "index_select"),
    OpEntry("index_add", lambda lib, x, source, dim, index, alpha=1: lib.index_add(
        x, dim, index, source, alpha=alpha)),
    OpEntry("index_copy", lambda lib, x, source, dim, index: lib.index_copy(x, dim, index,
                                                                            source)),
    OpEntry("index_fill", "index_fill"),
    OpEntry("index_fill_tensor", lambda lib, x, value, dim, index: x.index_fill(dim, index, value)),
    OpEntry("masked_select", "masked_select"),
    OpEntry("masked_scatter", lambda lib, x, source, mask: x.masked_scatter(mask, source)),
    OpEntry("take", "take"),
    OpEntry("nonzero", "nonzero"),
]


def _transpose_of(lib, grad, shape, indexing):
    # The scatters indexing rules use are reached as the backward of the indexing op.
    x = lib.zeros(shape, dtype=grad.dtype, requires_grad=True)
    (result,) = lib.autograd.grad(indexing(x), x, grad, create_graph=True)
    return result


def _setitem(x, key, value):
    result = x.clone()
    result[key] = value
    return result


def _copy_slices(lib, base, values, positions):
    # Writing through a view of a tensor in a graph is what records CopySlices.
    result = base.clone()
    result.view(-1)[lib.as_tensor(positions)] = values
    return result
