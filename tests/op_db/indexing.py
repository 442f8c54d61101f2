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
