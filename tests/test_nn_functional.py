"""Composites of torch.nn.functional and torch.linalg (losses, conv wrappers, pooling, norms,
einsum...) against PyTorch: values, gradients, dtypes and error types."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import tapegrad

from .helpers import as_numpy, assert_close

REDUCTIONS = ("none", "mean", "sum")


def _data(seed, *specs):
    """Arrays from specs: a shape tuple (uniform in [-2, 2]) or an array used as it is."""
    rng = np.random.default_rng(seed)
    return [spec if isinstance(spec, np.ndarray) else rng.uniform(-2, 2, spec) for spec in specs]


def _lib_inputs(lib, arrays, dtype):
    tensors = []
    for array in arrays:
        if array.dtype.kind == "f":
            tensor = lib.tensor(array.astype(dtype))
            tensor.requires_grad_(True)
        else:
            tensor = lib.tensor(array)
        tensors.append(tensor)
    return tensors


def compare(function, *specs, seed=0, dtype=np.float64, atol=1e-7, rtol=1e-6):
    """Run ``function(lib, *tensors)`` in both libraries; compare outputs and input gradients."""
    arrays = _data(seed, *specs)
    results = {}
    for lib in (tapegrad, torch):
        inputs = _lib_inputs(lib, arrays, dtype)
        output = function(lib, *inputs)
        outputs = output if isinstance(output, tuple) else (output,)
        differentiable = [o for o in outputs if o.requires_grad]
        grads = []
        if differentiable:
            rng = np.random.default_rng(seed + 1)
            cotangents = [lib.tensor(rng.standard_normal(tuple(o.shape)).astype(dtype))
                          for o in differentiable]
            sources = [t for t in inputs if t.requires_grad]
            grads = lib.autograd.grad(differentiable, sources, cotangents, allow_unused=True)
        results[lib] = (outputs, grads)
    (ours, our_grads), (theirs, their_grads) = results[tapegrad], results[torch]
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        assert_close(a, b, atol, rtol, "forward")
    for a, b in zip(ours, theirs):
        expected = None if b.grad_fn is None else b.grad_fn.name()
        actual = None if a.grad_fn is None else a.grad_fn.name()
        assert actual == expected, f"grad_fn {actual} != {expected}"
    for a, b in zip(our_grads, their_grads):
        if b is None:
            assert a is None or not as_numpy(a).any()
        else:
            assert_close(a, b, max(atol, 1e-7), max(rtol, 1e-6), "grad")


def _classes(*shape, high=3):
    return np.random.default_rng(7).integers(0, high, shape).astype(np.int64)


def _signs(*shape):
    return np.where(np.random.default_rng(8).random(shape) > 0.5, 1.0, -1.0)


def _probabilities(*shape):
    values = np.random.default_rng(9).random(shape) + 0.1
    return values / values.sum(1, keepdims=True)


# --- losses ---------------------------------------------------------------------------------
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_regression_losses(reduction, dtype):
    tolerance = {"atol": 1e-5, "rtol": 1e-4} if dtype == np.float32 else {}
    for name, kwargs in [("mse_loss", {}), ("l1_loss", {}), ("smooth_l1_loss", {"beta": 0.7}),
                         ("huber_loss", {"delta": 0.6})]:
        compare(lambda lib, x, t, name=name, kwargs=kwargs: getattr(lib.nn.functional, name)(
            x, t, reduction=reduction, **kwargs),
                (3, 4), (3, 4), dtype=dtype, **tolerance)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_class_indices(reduction):
    target = _classes(5, high=4)
    weight = np.array([0.3, 1.0, 2.0, 0.5])
    target_ignored = target.copy()
    target_ignored[1] = 2
    for kwargs in [{}, {"label_smoothing": 0.2}, {"ignore_index": 2},
                   {"ignore_index": 2, "label_smoothing": 0.1}]:
        compare(lambda lib, x, t, kwargs=kwargs: lib.nn.functional.cross_entropy(
            x, t, reduction=reduction, **kwargs), (5, 4), target_ignored)
        compare(lambda lib, x, t, w, kwargs=kwargs: lib.nn.functional.cross_entropy(
            x, t, weight=w.detach(), reduction=reduction, **kwargs),
            (5, 4), target_ignored, weight)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_probabilities_and_spatial(reduction):
    for kwargs in [{}, {"label_smoothing": 0.3}]:
        compare(lambda lib, x, t, kwargs=kwargs: lib.nn.functional.cross_entropy(
            x, t.detach(), reduction=reduction, **kwargs),
                (4, 3), _probabilities(4, 3))
    compare(lambda lib, x, t: lib.nn.functional.cross_entropy(x, t, reduction=reduction),
            (2, 3, 2, 2), _classes(2, 2, 2))
    compare(lambda lib, x, t: lib.nn.functional.nll_loss(x, t, reduction=reduction),
            (2, 3, 4), _classes(2, 4))
    compare(lambda lib, x, t: lib.nn.functional.nll_loss(x, t, reduction=reduction),
            (2, 3, 2, 1, 2), _classes(2, 2, 1, 2))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("with_weight", [False, True])
def test_nll_loss_gradient_is_zero_off_the_target_even_for_infinite_grad(reduction, with_weight):
    """PyTorch writes -w * grad at each element's class and leaves zeros elsewhere (and at
    ignored elements), so an infinite incoming gradient gives no nan: in a plain backward
    and with create_graph, whose rule is written in tapegrad ops."""
    cases = [((4, 3), np.array([0, 2, -100, 1])),
             ((2, 3, 2, 2), np.array([[[0, 1], [2, 1]], [[1, -100], [0, 2]]])),
             ((3,), np.array(1)), ((3,), np.array(-100))]
    weight = np.array([0.2, 1.0, 0.5])
    for shape, target in cases:
        values = np.random.default_rng(5).uniform(-2, 2, shape)
        for upstream, create_graph in [(2.0, False), (np.inf, False), (np.inf, True)]:
            grads = []
            for lib in (tapegrad, torch):
                x = lib.tensor(values, requires_grad=True)
                loss = lib.nn.functional.nll_loss(
                    x, lib.tensor(target), lib.tensor(weight) if with_weight else None,
                    reduction=reduction)
                (grad,) = lib.autograd.grad(
                    loss, x, lib.full(tuple(loss.shape), upstream, dtype=lib.float64),
                    create_graph=create_graph)
                grads.append(as_numpy(grad.detach()))
            np.testing.assert_array_equal(grads[0], grads[1])


def test_cross_entropy_is_stable_for_large_logits():
    logits = np.array([[1000.0, -1000.0, 0.0], [-5e3, 5e3, 1.0]])
    compare(lambda lib, x, t: lib.nn.functional.cross_entropy(x, t), logits,
            np.array([0, 1]))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_binary_losses(reduction):
    probabilities = np.random.default_rng(3).uniform(0.05, 0.95, (3, 4))
    targets = np.random.default_rng(4).uniform(0, 1, (3, 4))
    weight = np.array([0.5, 1.0, 2.0, 0.3])
    compare(lambda lib, x, t: lib.nn.functional.binary_cross_entropy(x, t, reduction=reduction),
            probabilities, targets)
    compare(lambda lib, x, t, w: lib.nn.functional.binary_cross_entropy(
        x, t, weight=w.detach(), reduction=reduction), probabilities, targets, weight)
    compare(lambda lib, x, t, w, p: lib.nn.functional.binary_cross_entropy_with_logits(
        x, t, weight=w.detach(), pos_weight=p.detach(), reduction=reduction),
        (3, 4), targets, weight, np.array([2.0, 0.5, 1.0, 3.0]))


@pytest.mark.parametrize("reduction", REDUCTIONS + ("batchmean",))
def test_kl_div(reduction):
    log_input = np.log(_probabilities(3, 4))
    target = _probabilities(3, 4)
    compare(lambda lib, x, t: lib.nn.functional.kl_div(x, t, reduction=reduction), log_input,
            target)
    compare(lambda lib, x, t: lib.nn.functional.kl_div(x, t, reduction=reduction,
                                                       log_target=True),
            log_input, np.log(target))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_margin_and_embedding_losses(reduction):
    compare(lambda lib, a, b, y: lib.nn.functional.margin_ranking_loss(
        a, b, y.detach(), margin=0.3, reduction=reduction), (5,), (5,), _signs(5))
    compare(lambda lib, x, y: lib.nn.functional.hinge_embedding_loss(
        x, y.detach(), margin=0.8, reduction=reduction), (3, 4), _signs(3, 4))
    compare(lambda lib, a, b, y: lib.nn.functional.cosine_embedding_loss(
        a, b, y.detach(), margin=0.1, reduction=reduction), (4, 3), (4, 3), _signs(4))
    compare(lambda lib, a, p, n: lib.nn.functional.triplet_margin_loss(
        a, p, n, margin=0.5, reduction=reduction), (4, 3), (4, 3), (4, 3))
    compare(lambda lib, a, p, n: lib.nn.functional.triplet_margin_loss(
        a, p, n, p=1, swap=True, reduction=reduction), (4, 3), (4, 3), (4, 3))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_likelihood_losses(reduction):
    counts = np.random.default_rng(5).integers(0, 5, (3, 4)).astype(np.float64)
    compare(lambda lib, x, t: lib.nn.functional.poisson_nll_loss(x, t.detach(),
                                                                 reduction=reduction),
            (3, 4), counts)
    compare(lambda lib, x, t: lib.nn.functional.poisson_nll_loss(
        x, t.detach(), log_input=False, full=True, reduction=reduction),
        np.random.default_rng(6).uniform(0.5, 3, (3, 4)), counts)
    variance = np.random.default_rng(6).uniform(0.1, 2, (3, 4))
    compare(lambda lib, x, t, v: lib.nn.functional.gaussian_nll_loss(x, t, v,
                                                                     reduction=reduction),
            (3, 4), (3, 4), variance)
    compare(lambda lib, x, t, v: lib.nn.functional.gaussian_nll_loss(
        x, t, v, full=True, reduction=reduction), (3, 4), (3, 4), variance[:, 0])


def test_loss_errors():
    for lib in (tapegrad, torch):
        F = lib.nn.functional
        x = lib.zeros(3, 4)
        with pytest.raises(ValueError):
            F.mse_loss(x, x, reduction="average")
        with pytest.raises(IndexError):
            F.cross_entropy(x, lib.tensor([0, 1, 7]))
        with pytest.raises(RuntimeError):
            F.nll_loss(x, lib.tensor([0.0, 1.0, 2.0]))
        with pytest.raises(ValueError):
            F.nll_loss(x, lib.tensor([0, 1]))
        with pytest.raises(RuntimeError):
            F.binary_cross_entropy(x + 2, x)
        with pytest.raises(ValueError):
            F.binary_cross_entropy_with_logits(x, lib.zeros(3))
        with pytest.raises(ValueError):
            F.gaussian_nll_loss(x, x, -lib.ones(3, 4))


# --- nn functionals -------------------------------------------------------------------------
def test_linear_and_bilinear():
    compare(lambda lib, x, w, b: lib.nn.functional.linear(x, w, b), (2, 3), (4, 3), (4,))
    compare(lambda lib, x, w, b: lib.nn.functional.linear(x, w, b), (5, 2, 3), (4, 3), (4,))
    compare(lambda lib, x, w: lib.nn.functional.linear(x, w), (5, 2, 3), (4, 3))
    compare(lambda lib, x, w, b: lib.nn.functional.linear(x, w, b), (3,), (4, 3), (4,))
    compare(lambda lib, a, b, w, bias: lib.nn.functional.bilinear(a, b, w, bias),
            (2, 3), (2, 4), (5, 3, 4), (5,))


def test_linear_node_names():
    for shape in [(2, 3), (5, 2, 3), (3,)]:
        names = []
        for lib in (tapegrad, torch):
            x = lib.ones(*shape, requires_grad=True)
            w = lib.ones(4, 3, requires_grad=True)
            names.append(lib.nn.functional.linear(x, w, lib.ones(4)).grad_fn.name())
        assert names[0] == names[1]


@pytest.mark.parametrize("padding", ["same", "valid", 1, (0, 2)])
def test_conv2d_options(padding):
    compare(lambda lib, x, w, b: lib.nn.functional.conv2d(x, w, b, padding=padding),
            (2, 3, 6, 5), (4, 3, 3, 3), (4,))
    compare(lambda lib, x, w: lib.nn.functional.conv2d(x, w, padding=padding, dilation=2,
                                                       groups=2),
            (1, 4, 7, 7), (2, 2, 2, 2))


def test_conv_variants():
    compare(lambda lib, x, w: lib.nn.functional.conv1d(x, w, stride=2, padding=1), (2, 3, 9),
            (4, 3, 3))
    compare(lambda lib, x, w: lib.nn.functional.conv1d(x, w, padding="same"), (3, 8), (2, 3, 4))
    compare(lambda lib, x, w, b: lib.nn.functional.conv_transpose2d(
        x, w, b, stride=2, padding=1, output_padding=1), (1, 2, 3, 4), (2, 3, 3, 3), (3,))
    compare(lambda lib, x, w: lib.nn.functional.conv_transpose2d(x, w, groups=2, dilation=2),
            (2, 4, 3, 3), (4, 1, 2, 2))
    compare(lambda lib, x, w: lib.nn.functional.conv2d(x, w), (3, 5, 5), (2, 3, 3, 3),
            dtype=np.float32, atol=1e-5, rtol=1e-4)


def test_conv_errors():
    for lib in (tapegrad, torch):
        with pytest.raises(RuntimeError):
            lib.nn.functional.conv2d(lib.zeros(1, 4, 5, 5), lib.zeros(2, 3, 3, 3))
        with pytest.raises(RuntimeError):
            lib.nn.functional.conv2d(lib.zeros(4, 5), lib.zeros(2, 3, 3, 3))
        with pytest.raises(RuntimeError):
            lib.nn.functional.conv2d(lib.zeros(1, 3, 5, 5), lib.zeros(2, 3, 3, 3), stride=2,
                                     padding="same")


def test_pooling():
    compare(lambda lib, x: lib.nn.functional.max_pool2d(x, 3, 2, 1, ceil_mode=True,
                                                        return_indices=True), (2, 2, 7, 6))
    compare(lambda lib, x: lib.nn.functional.max_pool1d(x, 2, return_indices=True), (2, 3, 7))
    compare(lambda lib, x: lib.nn.functional.max_pool1d(x, 3, 2, 1, dilation=2, ceil_mode=True),
            (2, 3, 9))
    compare(lambda lib, x: lib.nn.functional.avg_pool1d(x, 3, 2, 1, count_include_pad=False),
            (2, 3, 8))
    compare(lambda lib, x: lib.nn.functional.avg_pool2d(x, 3, 2, 1, ceil_mode=True,
                                                        count_include_pad=False), (1, 2, 6, 7))
    compare(lambda lib, x: lib.nn.functional.adaptive_avg_pool2d(x, 1), (2, 3, 5, 4))
    compare(lambda lib, x: lib.nn.functional.adaptive_avg_pool2d(x, (2, 3)), (2, 3, 5, 7))
    compare(lambda lib, x: lib.nn.functional.adaptive_max_pool2d(x, (3, 2),
                                                                 return_indices=True),
            (2, 3, 5, 7))


def test_interpolate():
    for kwargs in [{"scale_factor": 2}, {"size": (5, 3)}, {"scale_factor": 1.5}]:
        compare(lambda lib, x, kwargs=kwargs: lib.nn.functional.interpolate(x, **kwargs),
                (1, 2, 3, 4))
        for align in (True, False):
            compare(lambda lib, x, align=align, kwargs=kwargs: lib.nn.functional.interpolate(
                x, mode="bilinear", align_corners=align, **kwargs), (1, 2, 3, 4))
    compare(lambda lib, x: lib.nn.functional.interpolate(x, scale_factor=3), (2, 2, 4))
    for lib in (tapegrad, torch):
        with pytest.raises(ValueError):
            lib.nn.functional.interpolate(lib.zeros(1, 1, 2, 2), size=3, scale_factor=2)


def test_dropout():
    tapegrad.manual_seed(0)
    x = tapegrad.ones(1000, requires_grad=True)
    y = tapegrad.nn.functional.dropout(x, 0.3)
    kept = y.detach().numpy() != 0
    assert 0.6 < kept.mean() < 0.8
    np.testing.assert_allclose(y.detach().numpy()[kept], 1 / 0.7, rtol=1e-6)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), y.detach().numpy())
    assert y.grad_fn.name() == "MulBackward0"
    assert tapegrad.nn.functional.dropout(x, 0.3, training=False) is x
    tapegrad.manual_seed(1)
    first = tapegrad.nn.functional.dropout(tapegrad.ones(50), 0.5)
    tapegrad.manual_seed(1)
    second = tapegrad.nn.functional.dropout(tapegrad.ones(50), 0.5)
    assert np.array_equal(first.numpy(), second.numpy())
    with pytest.raises(ValueError):
        tapegrad.nn.functional.dropout(x, 1.5)


def test_embedding_and_one_hot():
    indices = np.array([[1, 2, 1], [0, 3, 1]])
    compare(lambda lib, w, i: lib.nn.functional.embedding(i, w, padding_idx=1), (4, 3), indices)
    compare(lambda lib, w, i: lib.nn.functional.embedding(i, w), (4, 3), indices)
    for lib in (tapegrad, torch):
        with pytest.raises(IndexError):
            lib.nn.functional.embedding(lib.tensor([4]), lib.zeros(4, 3))
    ours = tapegrad.nn.functional.one_hot(tapegrad.tensor([[0, 2], [1, 1]]), 4)
    theirs = torch.nn.functional.one_hot(torch.tensor([[0, 2], [1, 1]]), 4)
    assert_close(ours, theirs)
    assert_close(tapegrad.nn.functional.one_hot(tapegrad.tensor([3, 0])),
                 torch.nn.functional.one_hot(torch.tensor([3, 0])))
    for lib in (tapegrad, torch):
        with pytest.raises(RuntimeError):
            lib.nn.functional.one_hot(lib.tensor([0, 3]), 2)


def test_batch_norm_updates_running_statistics():
    arrays = _data(1, (4, 3, 2), (3,), (3,))
    stats = {}
    for lib in (tapegrad, torch):
        x, w, b = _lib_inputs(lib, arrays, np.float64)
        mean, var = lib.zeros(3, dtype=lib.float64), lib.ones(3, dtype=lib.float64)
        y = lib.nn.functional.batch_norm(x, mean, var, w, b, training=True, momentum=0.2)
        y.backward(lib.ones_like(y) * lib.arange(24.0, dtype=lib.float64).reshape(4, 3, 2))
        evaluation = lib.nn.functional.batch_norm(x, mean, var, w, b, training=False)
        stats[lib] = (y, mean, var, x.grad, w.grad, b.grad, evaluation)
    for a, b in zip(stats[tapegrad], stats[torch]):
        assert_close(a, b, 1e-7, 1e-6)
    for lib in (tapegrad, torch):
        with pytest.raises(ValueError):
            lib.nn.functional.batch_norm(lib.zeros(1, 3), None, None, training=True)


def test_normalization_layers():
    compare(lambda lib, x, w, b: lib.nn.functional.layer_norm(x, (3, 4), w, b), (2, 3, 4),
            (3, 4), (3, 4))
    compare(lambda lib, x, w, b: lib.nn.functional.group_norm(x, 2, w, b), (2, 4, 3, 2), (4,),
            (4,))
    compare(lambda lib, x: lib.nn.functional.instance_norm(x), (2, 3, 4))
    compare(lambda lib, x, w, b: lib.nn.functional.instance_norm(x, weight=w, bias=b),
            (2, 3, 2, 2), (3,), (3,))
    stats = []
    for lib in (tapegrad, torch):
        mean, var = lib.zeros(3, dtype=lib.float64), lib.ones(3, dtype=lib.float64)
        x = lib.tensor(_data(2, (2, 3, 4))[0])
        lib.nn.functional.instance_norm(x, mean, var, momentum=0.3)
        stats.append((mean, var))
    assert_close(stats[0][0], stats[1][0])
    assert_close(stats[0][1], stats[1][1])


def test_distances():
    compare(lambda lib, x: lib.nn.functional.normalize(x), (3, 4))
    compare(lambda lib, x: lib.nn.functional.normalize(x, p=1, dim=0), (3, 4))
    compare(lambda lib, a, b: lib.nn.functional.cosine_similarity(a, b), (3, 4), (3, 4))
    compare(lambda lib, a, b: lib.nn.functional.cosine_similarity(a, b, dim=-1), (3, 4), (4,))
    compare(lambda lib, a, b: lib.nn.functional.pairwise_distance(a, b), (3, 4), (3, 4))
    compare(lambda lib, a, b: lib.nn.functional.pairwise_distance(a, b, p=1, keepdim=True),
            (3, 4), (3, 4))
    compare(lambda lib, a, b: lib.cdist(a, b), (3, 4), (5, 4))


def test_attention():
    compare(lambda lib, q, k, v: lib.nn.functional.scaled_dot_product_attention(q, k, v),
            (2, 3, 4), (2, 5, 4), (2, 5, 3))
    mask = np.random.default_rng(3).uniform(-1, 1, (3, 5))
    compare(lambda lib, q, k, v, m: lib.nn.functional.scaled_dot_product_attention(
        q, k, v, attn_mask=m.detach()), (1, 2, 3, 4), (1, 2, 5, 4), (1, 2, 5, 4), mask)
    compare(lambda lib, q, k, v: lib.nn.functional.scaled_dot_product_attention(
        q, k, v, is_causal=True), (1, 2, 4, 4), (1, 2, 4, 4), (1, 2, 4, 4))
    square_mask = np.random.default_rng(4).uniform(-1, 1, (4, 4))
    compare(lambda lib, q, k, v, m: lib.nn.functional.scaled_dot_product_attention(
        q, k, v, attn_mask=m.detach(), is_causal=True), (1, 2, 4, 4), (1, 2, 4, 4),
        (1, 2, 4, 4), square_mask)
    for lib in (tapegrad, torch):
        q = lib.zeros(1, 1, 2, 2)
        with pytest.raises(RuntimeError):
            lib.nn.functional.scaled_dot_product_attention(
                q, q, q, attn_mask=lib.zeros(2, 2, dtype=lib.int64))


# --- linear algebra composites --------------------------------------------------------------
@pytest.mark.parametrize("shapes", [((3,), (3, 4)), ((3,), (2, 3, 4)), ((2, 3, 4), (4,)),
                                    ((3, 4), (2, 4, 5)), ((2, 1, 3, 4), (3, 4, 2)),
                                    ((3,), (3,)), ((3, 4), (4,))])
def test_matmul_rank_combinations(shapes):
    compare(lambda lib, a, b: lib.matmul(a, b), *shapes)
    names = []
    for lib in (tapegrad, torch):
        a, b = (lib.ones(*s, requires_grad=True) for s in shapes)
        names.append((a @ b).grad_fn.name())
    assert names[0] == names[1]


def test_products():
    compare(lambda lib, a, b: lib.outer(a, b), (3,), (4,))
    compare(lambda lib, a, b: lib.inner(a, b), (2, 3), (4, 3))
    compare(lambda lib, a, b: lib.kron(a, b), (2, 3), (2, 2))
    compare(lambda lib, a, b: lib.kron(a, b), (2,), (3, 2))
    compare(lambda lib, a, b: lib.tensordot(a, b, dims=2), (2, 3, 4), (3, 4, 5))
    compare(lambda lib, a, b: lib.tensordot(a, b, dims=([0, 2], [2, 0])), (2, 3, 4), (4, 5, 2))
    compare(lambda lib, a, b: lib.cross(a, b), (3, 4), (3, 4))
    compare(lambda lib, a, b: lib.linalg.vecdot(a, b), (3, 4), (3, 4))


@pytest.mark.parametrize("equation,shapes", [
    ("ij,jk->ik", ((2, 3), (3, 4))), ("ii->", ((3, 3),)), ("ii->i", ((3, 3),)),
    ("bij,bjk->bik", ((2, 2, 3), (2, 3, 4))), ("i,j->ij", ((3,), (4,))),
    ("ij->ji", ((2, 3),)), ("...ij,...jk", ((2, 2, 3), (3, 4))), ("ijk,k,j->i", ((2, 3, 4), (4,),
                                                                                (3,))),
    ("ij,ij->", ((2, 3), (2, 3))), ("bhqd,bhkd->bhqk", ((1, 2, 3, 4), (1, 2, 5, 4))),
])
def test_einsum(equation, shapes):
    compare(lambda lib, *operands: lib.einsum(equation, *operands), *shapes)


def test_einsum_errors():
    for lib in (tapegrad, torch):
        with pytest.raises(RuntimeError):
            lib.einsum("ij,jk->ik", lib.zeros(2, 3), lib.zeros(2, 3))


@pytest.mark.parametrize("ord", ["fro", "nuc", 1, -1, 2, -2, float("inf"), -float("inf")])
def test_matrix_norm(ord):
    compare(lambda lib, a: lib.linalg.matrix_norm(a, ord), (3, 4))
    compare(lambda lib, a: lib.linalg.matrix_norm(a, ord, dim=(0, 2), keepdim=True), (3, 2, 4))
    compare(lambda lib, a: lib.linalg.norm(a, ord), (3, 3))


def test_norms_and_powers():
    compare(lambda lib, a: lib.linalg.norm(a), (3, 4))
    compare(lambda lib, a: lib.linalg.norm(a, 3), (5,))
    compare(lambda lib, a: lib.linalg.norm(a, dim=1), (3, 4))
    well = np.eye(3) * 3 + _data(4, (3, 3))[0]
    for n in (0, 1, 2, 3, 5, -1, -2):
        compare(lambda lib, a, n=n: lib.linalg.matrix_power(a, n), well, atol=1e-6)
    compare(lambda lib, a: lib.linalg.svdvals(a), (4, 3))
    compare(lambda lib, a: lib.linalg.eigvalsh(a + a.mT), (3, 3))
    compare(lambda lib, a: lib.logdet(a), well)
    compare(lambda lib, a: lib.det(a), well)
    compare(lambda lib, a: lib.inverse(a), well)
    compare(lambda lib, a: lib.pinverse(a), (4, 3))
    compare(lambda lib, a: lib.linalg.matrix_exp(a * 3), (3, 3), atol=1e-6)


def test_linalg_errors():
    for lib in (tapegrad, torch):
        singular = lib.tensor([[1.0, 2.0], [2.0, 4.0]])
        with pytest.raises(RuntimeError):
            lib.linalg.inv(singular)
        with pytest.raises(RuntimeError):
            lib.linalg.inv(lib.ones(2, 3))
        with pytest.raises(RuntimeError):
            lib.linalg.cholesky(-lib.eye(2))
        with pytest.raises(RuntimeError):
            lib.linalg.det(lib.ones(3))
        with pytest.raises(RuntimeError):
            lib.linalg.cross(lib.ones(2), lib.ones(2))
        with pytest.raises(RuntimeError):
            lib.linalg.matrix_norm(lib.ones(3, 3), 3)
        with pytest.raises(RuntimeError):
            lib.addmm(lib.ones(2, 2), lib.ones(2, 3), lib.ones(2, 3))
    assert issubclass(tapegrad.linalg.LinAlgError, RuntimeError)


@pytest.mark.parametrize("p", [1, 2])
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_margin_losses_with_weights_match_torch(p, reduction):
    rng = np.random.default_rng(p)
    logits = rng.standard_normal((5, 4))
    labels = np.array([0, 3, 1, 1, 2])
    weight = rng.uniform(0.5, 2.0, 4)
    multilabel = (rng.random((5, 4)) > 0.5).astype(np.float64)

    def run(lib):
        x = lib.tensor(logits, requires_grad=True)
        functional = lib.nn.functional
        first = functional.multi_margin_loss(x, lib.tensor(labels), p=p, margin=0.7,
                                             weight=lib.tensor(weight), reduction=reduction)
        second = functional.multilabel_soft_margin_loss(
            x, lib.tensor(multilabel), weight=lib.tensor(weight), reduction=reduction)
        (first.sum() + second.sum()).backward()
        return first.detach().numpy(), second.detach().numpy(), x.grad.numpy()

    for ours, theirs in zip(run(tapegrad), run(torch)):
        np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("norm_type", [2.0, 1.0, float("inf")])
def test_embedding_max_norm_renormalizes_rows_in_place_like_torch(norm_type):
    results = []
    for lib in (tapegrad, torch):
        weight = lib.tensor(np.arange(24.0, dtype=np.float32).reshape(6, 4) / 3,
                            requires_grad=True)
        indices = lib.tensor([[0, 2], [5, 2]])
        output = lib.nn.functional.embedding(indices, weight, max_norm=3.0, norm_type=norm_type)
        output.sum().backward()
        results.append((output, weight.detach().clone(), weight.grad, weight._version))
    (output, weight, grad, version), (t_output, t_weight, t_grad, t_version) = results
    assert_close(output, t_output)
    assert_close(weight, t_weight)  # rows 0, 2 and 5 rescaled in place, the others untouched
    assert_close(grad, t_grad)
    assert version == t_version
