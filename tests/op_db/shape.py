"""op_db entries for ops/shape.py."""

from ._entry import OpEntry


def _pad(lib, x, pad, mode="constant", value=None):
    return lib.nn.functional.pad(x, pad, mode=mode, value=value)


ENTRIES = [
    OpEntry("view", "Tensor.view"),
    OpEntry("unsafe_view", lambda lib, x, shape: x.t().reshape(shape)),
    OpEntry("reshape_alias", lambda lib, x, shape: x.t().reshape(shape)),
    OpEntry("expand", "Tensor.expand"),
    OpEntry("permute", "permute"),
    OpEntry("transpose", "transpose"),
    OpEntry("t", "t"),
    OpEntry("unsqueeze", "unsqueeze"),
    OpEntry("squeeze_all", "squeeze"),
    OpEntry("squeeze_dim", "squeeze"),
    OpEntry("squeeze_dims", "squeeze"),
    OpEntry("clone", "clone"),
    OpEntry("to_dtype", "Tensor.to", gradcheck=False, gradgradcheck=False,
            skip={"gradcheck": "float32 output: finite differences too coarse",
                  "gradgradcheck": "float32 output: finite differences too coarse"}),
    OpEntry("repeat", "Tensor.repeat"),
    OpEntry("flip", "flip"),
    OpEntry("roll", "roll"),
    OpEntry("rot90", "rot90"),
    OpEntry("cat", lambda lib, *args: lib.cat(args[:-2], args[-2])),
    OpEntry("stack", lambda lib, *args: lib.stack(args[:-1], args[-1])),
    OpEntry("split", lambda lib, x, sizes, dim: x.split(sizes[0], dim)),
    OpEntry("split_with_sizes", lambda lib, x, sizes, dim: x.split(list(sizes), dim)),
    OpEntry("unbind", "unbind"),
    OpEntry("diagonal", "diagonal"),
    OpEntry("diagonal_copy", "diagonal_copy"),
    OpEntry("diagonal_backward", lambda lib, grad, shape, offset, dim1, dim2: _transpose_of(
        lib, grad, shape, lambda x: x.diagonal(offset, dim1, dim2))),
    OpEntry("diag_embed", "diag_embed"),
    OpEntry("tril", "tril"),
    OpEntry("triu", "triu"),
    OpEntry("trace", "trace"),
    OpEntry("constant_pad_nd", _pad),
    *(OpEntry(f"pad_{mode}{dims}d", _pad) for mode in ("reflect", "replicate", "circular")
      for dims in (1, 2, 3)),
]


def _transpose_of(lib, grad, shape, function):
    x = lib.zeros(shape, dtype=grad.dtype, requires_grad=True)
    (result,) = lib.autograd.grad(function(x), x, grad, create_graph=True)
    return result
# In-place view ops, on a non-leaf (PyTorch refuses them on leaves that require grad).
ENTRIES += [
    OpEntry("t_inplace", lambda lib, x: x.clone().t_()),
    OpEntry("transpose_inplace", lambda lib, x, dim0, dim1: x.clone().transpose_(dim0, dim1)),
    OpEntry("unsqueeze_inplace", lambda lib, x, dim: x.clone().unsqueeze_(dim)),
    OpEntry("squeeze_all_inplace", lambda lib, x: x.clone().squeeze_()),
    OpEntry("squeeze_dim_inplace", lambda lib, x, dims: x.clone().squeeze_(dims[0])),
    OpEntry("squeeze_dims_inplace", lambda lib, x, dims: x.clone().squeeze_(dims)),
]
