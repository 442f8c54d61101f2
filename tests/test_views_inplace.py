"""In-place and view semantics compared with PyTorch: memory sharing, versions, errors, and
gradients through in-place ops on views and non-leaves."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import tapegrad

from .helpers import assert_close

LIBS = (tapegrad, torch)


def _leaf(lib, shape, seed=0):
    data = np.random.default_rng(seed).standard_normal(shape)
    return lib.tensor(data, requires_grad=True)


def _both(function):
    """Run ``function(lib)`` in both libraries; return (ours, theirs)."""
    return function(tapegrad), function(torch)


def _grads_match(function, shapes, seeds=None):
    """``function(lib, *leaves)`` returns a tensor; compare values and every leaf's grad."""
    results = []
    for lib in LIBS:
        leaves = [_leaf(lib, shape, i) for i, shape in enumerate(shapes)]
        output = function(lib, *leaves)
        cotangent = lib.tensor(np.random.default_rng(9).standard_normal(tuple(output.shape)))
        output.backward(cotangent)
        results.append((output, [leaf.grad for leaf in leaves]))
    (ours, our_grads), (theirs, their_grads) = results
    assert_close(ours, theirs, what="value")
    for a, b in zip(our_grads, their_grads):
        if b is None:
            assert a is None
        else:
            assert_close(a, b, what="grad")


VIEW_MAKERS = {
    "view": lambda x: x.view(4, 3),
    "reshape": lambda x: x.reshape(2, 6),
    "expand": lambda x: x[:1].expand(5, 4),
    "permute": lambda x: x.permute(1, 0),
    "transpose": lambda x: x.transpose(0, 1),
    "t": lambda x: x.t(),
    "T": lambda x: x.T,
    "mT": lambda x: x.mT,
    "squeeze": lambda x: x.unsqueeze(0).squeeze(0),
    "unsqueeze": lambda x: x.unsqueeze(1),
    "select": lambda x: x.select(0, 1),
    "slice": lambda x: x[1:, ::2],
    "narrow": lambda x: x.narrow(1, 1, 2),
    "diagonal": lambda x: x.diagonal(),
    "unbind": lambda x: x.unbind(0)[1],
    "split": lambda x: x.split(2, 1)[1],
    "chunk": lambda x: x.chunk(2, 0)[0],
    "unflatten": lambda x: x.unflatten(1, (2, 2)),
    "movedim": lambda x: x.movedim(0, 1),
    "view_as": lambda x: x.view_as(x),
    "alias": lambda x: x[...],
    "swapaxes": lambda x: x.swapaxes(0, 1),
    "tensor_split": lambda x: x.tensor_split(2, 1)[0],
}


@pytest.mark.parametrize("name", sorted(VIEW_MAKERS))
def test_views_share_memory_base_and_version(name):
    make = VIEW_MAKERS[name]
    facts = []
    for lib in LIBS:
        base = lib.zeros(3, 4)
        view = make(base)
        before = base._version
        with lib.no_grad():
            base.add_(1)
        facts.append((view._base is base, view._version == base._version, base._version - before,
                       float(view.sum())))
    assert facts[0] == facts[1]
    assert facts[0][0] and facts[0][1]


def test_copies_are_not_views():
    for make in (lambda x: x.t().reshape(-1), lambda x: x.flip(0), lambda x: x[[0, 1]],
                 lambda x: x.clone(), lambda x: x.repeat(1, 2), lambda x: torch_free_diag(x)):
        base = tapegrad.zeros(3, 4)
        result = make(base)
        assert result._base is None
        assert not np.shares_memory(result._data, base._data)


def torch_free_diag(x):
    return x.diag()


@pytest.mark.parametrize("method,args", [
    ("add_", (1.0,)), ("mul_", (2.0,)), ("zero_", ()), ("fill_", (3.0,)), ("cumsum_", (0,)),
    ("tril_", ()), ("triu_", (1,)), ("masked_fill_", ("mask", 0.0)),
    ("index_fill_", (1, "index", 2.0)), ("scatter_", (1, "index2", 5.0)),
    ("index_add_", (0, "index", "source")), ("clamp_", (-0.5, 0.5)),
])
def test_inplace_bumps_version_and_matches_torch(method, args):
    outcomes = []
    for lib in LIBS:
        x = lib.tensor(np.arange(12.0).reshape(3, 4) / 7 - 0.8)
        resolved = []
        for a in args:
            if a == "mask":
                a = x > 0
            elif a == "index":
                a = lib.tensor([0, 2])
            elif a == "index2":
                a = lib.tensor([[0], [3], [1]])
            elif a == "source":
                a = lib.ones(2, 4, dtype=lib.float64)
            resolved.append(a)
        if not hasattr(x, method):
            pytest.skip(f"{method} is another family's op, not available yet")
        before = x._version
        result = getattr(x, method)(*resolved)
        outcomes.append((result is x, x._version - before, x.tolist()))
    assert outcomes[0][:2] == outcomes[1][:2]
    assert outcomes[0][1] >= 1
    np.testing.assert_allclose(outcomes[0][2], outcomes[1][2])


@pytest.mark.parametrize("write", [
    lambda x: x.mul_(2), lambda x: x.add_(1), lambda x: x.__setitem__(0, 1.0),
    lambda x: x.masked_fill_(x > 0, 0.0), lambda x: x.cumsum_(0),
    lambda x: x.index_add_(0, (x > 5).long().nonzero().reshape(-1)[:1] * 0,
                           x.detach()[:1]),
])
def test_inplace_on_leaf_requiring_grad_raises(write):
    messages = []
    for lib in LIBS:
        x = lib.ones(3, 4, requires_grad=True)
        with pytest.raises(RuntimeError) as info:
            write(x)
        messages.append(str(info.value))
    assert "leaf Variable that requires grad" in messages[0]
    assert messages[0].split(".")[0] == messages[1].split(".")[0]


def test_inplace_on_view_of_leaf_raises():
    for lib in LIBS:
        x = lib.ones(3, 4, requires_grad=True)
        with pytest.raises(RuntimeError, match="view of a leaf Variable"):
            x[0].mul_(2)


SAVING_OPS = {"exp": lambda x: x.exp(), "sigmoid": lambda x: x.sigmoid(),
              "sin": lambda x: x.sin(), "mul": lambda x: x * x, "pow": lambda x: x ** 3,
              "prod": lambda x: x.prod(), "cumprod": lambda x: x.cumprod(1),
              "std": lambda x: x.std()}


@pytest.mark.parametrize("case", sorted(SAVING_OPS))
def test_modified_saved_tensor_raises_at_backward(case):
    messages = []
    for lib in LIBS:
        a = _leaf(lib, (3, 4))
        x = a * 1.0
        y = SAVING_OPS[case](x)
        # exp and sigmoid save their output, the others their input.
        (y if case in ("exp", "sigmoid") else x).add_(1)
        with pytest.raises(RuntimeError) as info:
            y.sum().backward()
        messages.append(str(info.value))
    assert "modified by an inplace operation" in messages[0]
    assert messages[0].split("[")[0] == messages[1].split("[")[0]


def test_modified_view_of_saved_tensor_raises():
    for lib in LIBS:
        a = _leaf(lib, (3, 4))
        x = a * 1.0
        y = x.sin()
        x[0].mul_(2)  # a view shares the version counter with its base
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            y.sum().backward()


def test_multi_output_views_refuse_inplace():
    messages = []
    for lib in LIBS:
        x = _leaf(lib, (4, 3)) * 1.0
        for pieces in (x.split(2), x.unbind(0), x.chunk(2)):
            with pytest.raises(RuntimeError) as info:
                pieces[0].mul_(2)
            messages.append(str(info.value))
    assert messages[:3] == messages[3:]


INPLACE_GRAPHS = {
    "nonleaf_mul": lambda lib, a: (a * 1.0).mul_(a),
    "nonleaf_chain": lambda lib, a: (a.sin()).add_(1).mul_(a).cos_(),
    "view_write": lambda lib, a: _write(a * 1.0, lambda b: b[1].mul_(3)),
    "view_setitem_tensor": lambda lib, a: _write(a * 1.0, lambda b: b.__setitem__(
        (slice(None), 1), a[:, 0] ** 2)),
    "advanced_setitem": lambda lib, a: _write(a * 1.0, lambda b: b.__setitem__(
        lib.tensor([0, 2]), a[1] * 2)),
    "mixed_setitem": lambda lib, a: _write(a * 1.0, lambda b: b.__setitem__(
        (1, [0, 2]), a[0, :2] * a[2, :2])),
    "view_of_view": lambda lib, a: _write(a * 1.0, lambda b: b.t()[1:, 0].mul_(a[0, 1:])),
    "diagonal_write": lambda lib, a: _write((a * 1.0)[:, :3], lambda b: b.diagonal().mul_(2)),
    "expand_read_after": lambda lib, a: _read_view_after(a),
    "other_view_after_write": lambda lib, a: _other_view(a),
    "other_view_after_base_write": lambda lib, a: _other_view_base_write(a),
    "zero_grad_through_base": lambda lib, a: _write(a * 2.0, lambda b: b.view(-1)[::2].zero_()),
    "scatter_inplace": lambda lib, a: (a * 1.0).scatter_(1, lib.tensor([[0], [1], [3]]), a[:, 1:2]),
    "index_copy_inplace": lambda lib, a: (a * 1.0).index_copy_(0, lib.tensor([2, 0]), a[:2] * 3),
    "masked_scatter_inplace": lambda lib, a: (a * 1.0).masked_scatter_(a > 0, a.flip(0) * 2),
}


def _write(base, action):
    action(base)
    return base


def _read_view_after(a):
    b = a * 1.0
    row = b[0]
    b.mul_(2)  # the base changes in place after the view was taken
    return row * 1.0 + b.sum()


def _other_view(a):
    b = a * 1.0
    first, column = b[0], b[:, 1]
    first.mul_(a[1])  # written through one view ...
    return column * 1.0  # ... read through another one taken before the write


def _other_view_base_write(a):
    b = a * 1.0
    column = b[:, 2]
    b.mul_(a)
    return column * a[:, 0]


@pytest.mark.parametrize("name", sorted(INPLACE_GRAPHS))
def test_gradients_through_inplace_match_torch(name):
    _grads_match(INPLACE_GRAPHS[name], [(3, 4)])


def test_regenerated_view_history_names_match_torch():
    names = []
    for lib in LIBS:
        b = _leaf(lib, (3, 4)) * 1.0
        first, column, transposed = b[0], b[:, 1], b.t()
        first.mul_(2)
        names.append([t.grad_fn.name() for t in (b, first, column, transposed)])
    assert names[0] == names[1]


def test_inplace_into_tensor_without_grad_takes_history():
    for lib in LIBS:
        w = _leaf(lib, (4,))
        b = lib.zeros(4)
        view = b[:2]
        b.copy_(w)
        assert view.requires_grad and b.requires_grad
        (view * 3).sum().backward()
        np.testing.assert_allclose(np.asarray(w.grad.tolist()), [3, 3, 0, 0])


def test_setitem_into_plain_tensor_from_graph():
    _grads_match(lambda lib, a: _write(lib.zeros(3, 4), lambda b: b.__setitem__(
        (slice(0, 2), slice(None)), a[1:] * a[:2])), [(3, 4)])


def test_modified_saved_output_through_view_raises():
    for lib in LIBS:
        y = _leaf(lib, (3, 4)).exp()
        y.t()[0].mul_(2)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            y.sum().backward()


def test_version_counter_shared_with_detach():
    for lib in LIBS:
        x = lib.ones(3)
        d = x.detach()
        d.add_(1)
        assert x._version == d._version == 1


def test_inplace_result_is_self_and_grad_fn_names():
    names = []
    for lib in LIBS:
        b = _leaf(lib, (3, 4)) * 1.0
        b.cumsum_(1)
        b.tril_()
        names.append(b.grad_fn.name())
    assert names[0] == names[1]


@pytest.mark.parametrize("call", ["max", "sort", "topk"])
def test_inplace_write_to_saved_indices_raises_at_backward_like_torch(call):
    # The indices have no grad_fn, but the node saved them: PyTorch refuses the backward.
    messages = []
    for lib in (tapegrad, torch):
        x = lib.tensor([[1.0, 3.0, 2.0], [4.0, 0.0, 5.0]], requires_grad=True)
        values, indices = getattr(x, call)(*((2, 1) if call == "topk" else (1,)))
        indices.zero_()
        with pytest.raises(RuntimeError) as error:
            values.sum().backward()
        messages.append(str(error.value).split(" Hint:")[0])
    assert messages[0] == messages[1]
