"""Indexing (``x[key]``, ``x[key] = v``, gather/scatter family) and the index-chosen
subgradients of value-selecting reductions, compared with PyTorch."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import tapegrad

from .helpers import assert_close

LIBS = (tapegrad, torch)


def _compare(function, shape=(4, 5, 3), integer_values=False):
    """``function(lib, x)`` in both libraries: values, dtypes, grad_fn names and gradients."""
    runs = []
    for lib in LIBS:
        data = np.random.default_rng(3).standard_normal(shape)
        x = lib.tensor(data, requires_grad=True)
        output = function(lib, x)
        outputs = output if isinstance(output, tuple) else (output,)
        names = [None if o.grad_fn is None else o.grad_fn.name() for o in outputs]
        differentiable = [o for o in outputs if o.requires_grad]
        if differentiable:
            cotangents = [lib.tensor(np.random.default_rng(4).standard_normal(tuple(o.shape)))
                          for o in differentiable]
            (grad,) = lib.autograd.grad(differentiable, [x], cotangents, allow_unused=True)
        else:
            grad = None
        runs.append((outputs, names, grad))
    (ours, our_names, our_grad), (theirs, their_names, their_grad) = runs
    assert our_names == their_names
    for a, b in zip(ours, theirs):
        assert_close(a, b, what="value")
    if their_grad is None:
        assert our_grad is None
    else:
        assert_close(our_grad, their_grad, what="grad")


KEYS = {
    "int": lambda lib: 1,
    "negative_int": lambda lib: -1,
    "slice_step": lambda lib: slice(None, None, 2),
    "negative_slice": lambda lib: slice(-3, -1),
    "slice_out_of_range": lambda lib: slice(2, 100),
    "none": lambda lib: (None, 1),
    "ellipsis": lambda lib: (Ellipsis, 0),
    "ellipsis_none": lambda lib: (0, Ellipsis, None),
    "int_list": lambda lib: [0, 2, 2],
    "int_tensor": lambda lib: lib.tensor([3, 0, 3, 1]),
    "int_tensor_2d": lambda lib: lib.tensor([[0, 1], [1, 1]]),
    "zero_d_tensor": lambda lib: lib.tensor(2),
    "negative_index_tensor": lambda lib: lib.tensor([-1, -4]),
    "bool_mask_full": lambda lib: lib.tensor(
        np.random.default_rng(0).random((4, 5, 3)) > 0.5),
    "bool_mask_leading": lambda lib: lib.tensor([True, False, True, True]),
    "bool_mask_2d": lambda lib: lib.tensor(np.random.default_rng(1).random((4, 5)) > 0.3),
    "mixed_slice_array": lambda lib: (slice(1, 3), [0, 4, 4]),
    "mixed_array_slice_array": lambda lib: ([0, 1], slice(None), [2, 0]),
    "int_slice_array": lambda lib: (0, slice(None), [0, 2]),
    "array_int": lambda lib: ([1, 3], 2),
    "adjacent_arrays": lambda lib: (slice(None), [0, 1, 4], [2, 2, 0]),
    "none_array": lambda lib: (None, [0, 3], Ellipsis, 1),
    "mask_and_slice": lambda lib: (lib.tensor([True, False, True, False]), slice(1, None, 2)),
    "broadcast_arrays": lambda lib: (lib.tensor([[0], [3]]), lib.tensor([1, 2, 4])),
    "step_and_int": lambda lib: (slice(None, None, 3), 2, slice(None, None, -1) if False else 1),
    "python_bool": lambda lib: True,
    "full_slice": lambda lib: slice(None),
}


@pytest.mark.parametrize("name", sorted(KEYS))
def test_getitem_matches_torch(name):
    _compare(lambda lib, x: x[KEYS[name](lib)])


def test_getitem_repeated_indices_accumulate_gradient():
    _compare(lambda lib, x: x[lib.tensor([0, 0, 0, 2])] * 2, shape=(3, 2))
    _compare(lambda lib, x: x[[1, 1], :, [0, 0]], shape=(3, 2, 2))


@pytest.mark.parametrize("key,error", [
    (10, IndexError), ((0, 0, 0, 0), IndexError),
    (slice(None, None, -1), ValueError), ("text", IndexError),
])
def test_getitem_errors_match_torch(key, error):
    for lib in LIBS:
        with pytest.raises(error):
            lib.zeros(4, 5, 3)[key]


def test_index_tensor_out_of_range_raises_index_error():
    for lib in LIBS:
        with pytest.raises(IndexError):
            lib.zeros(4, 5)[lib.tensor([4])]


@pytest.mark.parametrize("name", ["int", "slice_step", "int_tensor", "bool_mask_leading",
                                  "mixed_slice_array", "int_slice_array", "adjacent_arrays",
                                  "ellipsis", "array_int"])
def test_setitem_differentiable_matches_torch(name):
    def function(lib, x):
        base = x * 1.0
        target = base[KEYS[name](lib)]
        base[KEYS[name](lib)] = target.detach() * 0 + x.sum() * 0.5
        return base

    _compare(function)


# --- gather / scatter family, with torch's argument order and in-place forms ---------------
INDEX = [[0, 4, 4], [1, 1, 0], [3, 0, 2], [2, 2, 2]]


CALLS = {
    "gather": lambda lib, x: x.gather(1, lib.tensor(INDEX)),
    "take_along_dim": lambda lib, x: lib.take_along_dim(x, lib.tensor(INDEX), 1),
    "take_along_dim_broadcast": lambda lib, x: lib.take_along_dim(x, lib.tensor([[0, 2]]), 1),
    "take_along_dim_flat": lambda lib, x: lib.take_along_dim(x, lib.tensor([0, 7, 7])),
    "take": lambda lib, x: x.take(lib.tensor([[0, 19], [3, 3]])),
    "scatter": lambda lib, x: x.scatter(1, lib.tensor(INDEX)[:, :2], x[:, 2:4] * 3),
    "scatter_value": lambda lib, x: x.scatter(1, lib.tensor(INDEX), 0.5),
    "scatter_add": lambda lib, x: x.scatter_add(1, lib.tensor(INDEX), x[:, :3] ** 2),
    "index_select": lambda lib, x: x.index_select(1, lib.tensor([4, 0, 4])),
    "index_add": lambda lib, x: x.index_add(0, lib.tensor([1, 1]), x[2:] * 2, alpha=1.5),
    "index_copy": lambda lib, x: x.index_copy(1, lib.tensor([3, 1]), x[:, :2] * 2),
    "index_fill": lambda lib, x: x.index_fill(1, lib.tensor([0, 2]), -1.0),
    "masked_select": lambda lib, x: x.masked_select(x > 0),
    "masked_select_broadcast": lambda lib, x: x.masked_select(lib.tensor([True, False] * 2 +
                                                                          [True])),
    "masked_scatter": lambda lib, x: x.masked_scatter(x < 0, x.flip(0) * 2),
    "masked_fill": lambda lib, x: x.masked_fill(x > 0.5, 2.0),
    "nonzero": lambda lib, x: (x > 0).nonzero(),
    "nonzero_tuple": lambda lib, x: (x > 0).nonzero(as_tuple=True),
    "argwhere": lambda lib, x: lib.argwhere(x > 0),
    "scatter_inplace": lambda lib, x: (x * 1).scatter_(1, lib.tensor(INDEX), x[:, :3]),
    "scatter_add_inplace": lambda lib, x: (x * 1).scatter_add_(1, lib.tensor(INDEX), x[:, :3]),
    "index_add_inplace": lambda lib, x: (x * 1).index_add_(1, lib.tensor([0, 0]), x[:, 1:3]),
}
for _reduce in ("sum", "prod", "mean", "amax", "amin"):
    for _include in (True, False):
        CALLS[f"scatter_reduce_{_reduce}_{_include}"] = (
            lambda lib, x, reduce=_reduce, include=_include: x.scatter_reduce(
                1, lib.tensor(INDEX), x[:, :3] * 1.5, reduce, include_self=include))


@pytest.mark.parametrize("name", sorted(CALLS))
def test_index_ops_match_torch(name):
    _compare(CALLS[name], shape=(4, 5))


@pytest.mark.parametrize("reduce", ["prod", "amax", "amin", "mean", "sum"])
@pytest.mark.parametrize("include_self", [True, False])
def test_scatter_reduce_ties_and_zeros_match_torch(reduce, include_self):
    # Ties and zeros in both input and source: amax/amin share the gradient evenly among all
    # equal contributors, prod's gradient is the product of the other contributors.
    data = np.array([[1.0, 0.0, 2.0], [2.0, 2.0, 0.0]])
    source = np.array([[2.0, 0.0, 2.0, 1.0], [0.0, 2.0, 0.0, 2.0]])
    index = [[0, 0, 1, 2], [1, 1, 2, 2]]
    results = []
    for lib in LIBS:
        x = lib.tensor(data, requires_grad=True)
        s = lib.tensor(source, requires_grad=True)
        y = x.scatter_reduce(1, lib.tensor(index), s, reduce, include_self=include_self)
        y.backward(lib.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]))
        results.append((y, x.grad, s.grad))
    for a, b in zip(*results):
        assert_close(a, b)


# --- value-selecting reductions at ties ---------------------------------------------------
TIES = np.array([[1.0, 3.0, 3.0, 2.0, 3.0, 1.0], [2.0, 2.0, 1.0, 1.0, 5.0, 5.0],
                 [0.0, 0.0, 0.0, 0.0, 0.0, 0.0]])

TIE_CALLS = {
    # max/min over everything, amax/amin and median (full): spread evenly over the ties.
    "max_all": lambda lib, x: x.max(),
    "min_all": lambda lib, x: x.min(),
    "amax": lambda lib, x: x.amax(1),
    "amin_dims": lambda lib, x: x.amin((0, 1)),
    "aminmax": lambda lib, x: lib.aminmax(x, dim=1),
    "median_all": lambda lib, x: x.median(),
    # max(dim)/min(dim)/median(dim)/sort/kthvalue/mode/cummax: the index PyTorch returns.
    "max_dim": lambda lib, x: x.max(1),
    "min_dim": lambda lib, x: x.min(1, keepdim=True),
    "median_dim": lambda lib, x: x.median(1),
    "kthvalue": lambda lib, x: x.kthvalue(2, 1),
    "kthvalue_3": lambda lib, x: x.kthvalue(3, 1),
    # topk: the partial sort's (or nth_element's) leftover order, also when unsorted.
    "topk": lambda lib, x: x.topk(3, 1),
    "topk_smallest": lambda lib, x: x.topk(2, 1, largest=False),
    "topk_unsorted": lambda lib, x: x.topk(4, 1, sorted=False),
    "sort": lambda lib, x: x.sort(1),
    "sort_descending": lambda lib, x: x.sort(1, descending=True),
    "sort_stable": lambda lib, x: x.sort(dim=1, stable=True),
    "msort": lambda lib, x: lib.msort(x.t()),
    "argsort": lambda lib, x: x.argsort(dim=1, descending=True, stable=True),
    "mode": lambda lib, x: x.mode(1),
    "cummax": lambda lib, x: x.cummax(1),
    "cummin": lambda lib, x: x.cummin(1),
    "prod_with_zeros": lambda lib, x: (x - 1).prod(1),
    "prod_all_one_zero": lambda lib, x: (x[:2] - 1.0).prod(),
    "cumprod_with_zeros": lambda lib, x: (x - 2).cumprod(1),
    "std_constant_rows": lambda lib, x: x.std(1),
    "norm_inf": lambda lib, x: x.norm(float("inf")),
    "norm_zero_rows": lambda lib, x: x.norm(dim=1),
    "logsumexp": lambda lib, x: x.logsumexp(1),
}


@pytest.mark.parametrize("name", sorted(TIE_CALLS))
def test_subgradients_at_ties_match_torch(name):
    runs = []
    for lib in LIBS:
        x = lib.tensor(TIES, requires_grad=True)
        output = TIE_CALLS[name](lib, x)
        outputs = tuple(output) if isinstance(output, tuple) else (output,)
        names = [None if o.grad_fn is None else o.grad_fn.name() for o in outputs]
        values = outputs[0]
        if values.requires_grad:
            weights = lib.tensor(np.arange(1.0, values.numel() + 1).reshape(tuple(values.shape)))
            (values * weights).sum().backward()
        runs.append((outputs, names, x.grad))
    (ours, our_names, our_grad), (theirs, their_names, their_grad) = runs
    assert our_names == their_names
    for a, b in zip(ours, theirs):
        assert_close(a, b, what=f"{name} output")
    if their_grad is None:
        assert our_grad is None
    else:
        assert_close(our_grad, their_grad, what=f"{name} grad")


def test_selection_ties_match_torch_on_random_rows():
    """topk, kthvalue, median(dim) and mode choose among equal values (and NaNs) as PyTorch's
    CPU kernels do, over row lengths that take each of their code paths (partial sort when
    64 * k <= length, nth_element otherwise; insertion sort below 17 elements)."""
    rng = np.random.default_rng(5)
    for length in (2, 3, 5, 16, 17, 40, 200):
        for trial in range(6):
            data = rng.integers(0, 3, (3, length)).astype(float)
            if trial % 3 == 0:
                data[rng.integers(0, 3, 2), rng.integers(0, length, 2)] = np.nan
            for k in sorted({1, 2, length // 2 + 1, length}):
                for largest in (True, False):
                    for sorted_ in (True, False):
                        ours = tapegrad.tensor(data).topk(k, 1, largest, sorted_)
                        theirs = torch.tensor(data).topk(k, 1, largest, sorted_)
                        assert_close(ours.indices, theirs.indices, what=f"topk {length} {k}")
                        assert_close(ours.values, theirs.values, what=f"topk {length} {k}")
                ours = tapegrad.tensor(data).kthvalue(k, 1)
                theirs = torch.tensor(data).kthvalue(k, 1)
                assert_close(ours.indices, theirs.indices, what=f"kthvalue {length} {k}")
            for call in ("median", "mode"):
                ours = getattr(tapegrad.tensor(data), call)(1)
                theirs = getattr(torch.tensor(data), call)(1)
                assert_close(ours.indices, theirs.indices, what=f"{call} {length}")
                assert_close(ours.values, theirs.values, what=f"{call} {length}")


def test_named_tuple_results_print_as_torch():
    for call in ("max", "min", "mode", "sort", "cummax", "cummin"):
        ours = getattr(tapegrad.tensor(TIES), call)(1)
        theirs = getattr(torch.tensor(TIES), call)(1)
        assert repr(ours) == repr(theirs)
        assert ours.values is ours[0] and ours.indices is ours[1]
    assert repr(tapegrad.aminmax(tapegrad.tensor(TIES))) == repr(torch.aminmax(torch.tensor(TIES)))


def test_unique_matches_torch():
    data = np.array([[3, 1, 3], [1, 1, 2], [3, 1, 3]])
    for kwargs in ({}, {"return_inverse": True}, {"return_counts": True},
                   {"return_inverse": True, "return_counts": True, "dim": 0},
                   {"return_counts": True, "dim": 1}):
        ours = tapegrad.unique(tapegrad.tensor(data), **kwargs)
        theirs = torch.unique(torch.tensor(data), **kwargs)
        ours, theirs = (ours, theirs) if isinstance(theirs, tuple) else ((ours,), (theirs,))
        for a, b in zip(ours, theirs):
            assert_close(a, b)
    x = tapegrad.tensor([1.0, 2.0, 1.0], requires_grad=True)
    values = tapegrad.unique(x)
    assert values.grad_fn.name() == torch.unique(
        torch.tensor([1.0], requires_grad=True)).grad_fn.name()
    with pytest.raises(RuntimeError, match="not implemented"):
        values.sum().backward()
