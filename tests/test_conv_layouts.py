"""Convolution and max pooling fast paths (stacked im2col products, per-position pooling,
scatter backward for disjoint windows) against PyTorch: values, indices, gradients of only the
inputs that need them, ties and nan, and second derivatives."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import tapegrad

from .helpers import assert_close


def _pair_of(array, requires_grad=True):
    ours = tapegrad.tensor(array, requires_grad=requires_grad)
    theirs = torch.tensor(array, requires_grad=requires_grad)
    return ours, theirs


@pytest.mark.parametrize("needs", [(True, True, True), (False, True, True), (True, False, False),
                                   (False, False, True)])
@pytest.mark.parametrize("groups", [1, 2])
def test_conv2d_gradients_of_needed_inputs(needs, groups):
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal((3, 4, 7, 6)), rng.standard_normal((6, 4 // groups, 3, 2)),
              rng.standard_normal(6)]
    pairs = [_pair_of(a, n) for a, n in zip(arrays, needs)]
    grad = rng.standard_normal((3, 6, 4, 8))
    results = []
    for index, lib in enumerate((tapegrad, torch)):
        x, w, b = (pair[index] for pair in pairs)
        out = lib.nn.functional.conv2d(x, w, b, stride=(2, 1), padding=(1, 2), dilation=(1, 2),
                                       groups=groups)
        out.backward(lib.tensor(grad))
        results.append((out, [t.grad for t in (x, w, b)]))
    (ours, our_grads), (theirs, their_grads) = results
    assert_close(ours, theirs, 1e-10, 1e-10, "forward")
    for ours_grad, theirs_grad, need in zip(our_grads, their_grads, needs):
        assert (ours_grad is None) == (not need)
        if need:
            assert_close(ours_grad, theirs_grad, 1e-10, 1e-10, "grad")


def test_conv1d_and_float32_layout():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 3, 9)).astype(np.float32)
    w = rng.standard_normal((4, 3, 3)).astype(np.float32)
    b = rng.standard_normal(4).astype(np.float32)
    ours = tapegrad.nn.functional.conv1d(tapegrad.tensor(x), tapegrad.tensor(w),
                                         tapegrad.tensor(b), padding=1)
    theirs = torch.nn.functional.conv1d(torch.tensor(x), torch.tensor(w), torch.tensor(b),
                                        padding=1)
    assert ours.dtype == tapegrad.float32 and ours.is_contiguous()
    assert_close(ours, theirs, 1e-5, 1e-5, "forward")


def _pool_both(array, *args, requires_grad=True, **kwargs):
    results = []
    for lib in (tapegrad, torch):
        x = lib.tensor(array, requires_grad=requires_grad)
        values, indices = lib.nn.functional.max_pool2d(x, *args, return_indices=True, **kwargs)
        results.append((x, values, indices))
    return results


@pytest.mark.parametrize("args, kwargs", [
    ((2,), {}),
    ((3,), {}),                                   # leftover rows and columns no window covers
    ((2, 3), {}),                                 # stride past the kernel: disjoint, gaps
    (((3, 2),), {}),                              # tiling windows of a non-square kernel
    (((1, 3),), {"ceil_mode": True}),             # a partial window at the far side
    ((2,), {"ceil_mode": True}),
    ((3, 2, 1), {}),                              # overlapping windows with padding
    ((2, 1, 0, 2), {}),                           # dilation
    (((2, 3), (2, 3), (1, 1)), {"ceil_mode": True}),
])
@pytest.mark.parametrize("batched", [True, False])
def test_max_pool2d_values_indices_and_grad(args, kwargs, batched):
    rng = np.random.default_rng(2)
    shape = (2, 3, 7, 8) if batched else (3, 7, 8)
    # Rounded values make ties between window positions common: the first one must win.
    array = np.round(rng.standard_normal(shape) * 2) / 2
    (x, values, indices), (tx, tvalues, tindices) = _pool_both(array, *args, **kwargs)
    assert_close(values, tvalues, 0, 0, "values")
    np.testing.assert_array_equal(indices.numpy(), tindices.numpy())
    assert indices.dtype == tapegrad.int64
    grad = rng.standard_normal(tuple(values.shape))
    values.backward(tapegrad.tensor(grad))
    tvalues.backward(torch.tensor(grad))
    assert_close(x.grad, tx.grad, 1e-12, 1e-12, "grad")


def test_max_pool2d_nan_and_infinite_windows():
    nan, inf = float("nan"), float("inf")
    array = np.array([[[[1.0, nan, 2.0, -inf], [nan, 3.0, -inf, -inf]],
                       [[5.0, 5.0, 4.0, 4.0], [5.0, 1.0, 4.0, 9.0]]]])
    (x, values, indices), (tx, tvalues, tindices) = _pool_both(array, 2)
    np.testing.assert_array_equal(values.detach().numpy(), tvalues.detach().numpy())
    np.testing.assert_array_equal(indices.numpy(), tindices.numpy())
    values.sum().backward()
    tvalues.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), tx.grad.numpy())


def test_max_pool2d_of_cnn_shape_float32():
    rng = np.random.default_rng(3)
    array = rng.standard_normal((4, 16, 28, 28)).astype(np.float32)
    (x, values, indices), (tx, tvalues, tindices) = _pool_both(array, 2)
    np.testing.assert_array_equal(values.detach().numpy(), tvalues.detach().numpy())
    np.testing.assert_array_equal(indices.numpy(), tindices.numpy())
    assert values.dtype == tapegrad.float32
    values.sum().backward()
    tvalues.sum().backward()
    assert x.grad.dtype == tapegrad.float32
    np.testing.assert_array_equal(x.grad.numpy(), tx.grad.numpy())


@pytest.mark.parametrize("args", [(2,), (3, 2, 1), (2, 3)])
def test_max_pool2d_second_derivative(args):
    rng = np.random.default_rng(4)
    x = tapegrad.tensor(rng.standard_normal((1, 2, 6, 7)), requires_grad=True)
    function = lambda t: tapegrad.nn.functional.max_pool2d(t, *args)  # noqa: E731
    assert tapegrad.autograd.gradgradcheck(function, (x,))


def test_conv2d_second_derivative_weight_only():
    rng = np.random.default_rng(5)
    x = tapegrad.tensor(rng.standard_normal((2, 2, 5, 5)))
    w = tapegrad.tensor(rng.standard_normal((3, 2, 3, 3)), requires_grad=True)
    function = lambda weight: tapegrad.nn.functional.conv2d(x, weight, padding=1)  # noqa: E731
    assert tapegrad.autograd.gradgradcheck(function, (w,))


@pytest.mark.parametrize("padding", [0, 1])
def test_max_pool2d_integer_input(padding):
    array = np.arange(32).reshape(1, 2, 4, 4) - 100
    (_, values, indices), (_, tvalues, tindices) = _pool_both(array, 2, padding=padding,
                                                               requires_grad=False)
    np.testing.assert_array_equal(values.numpy(), tvalues.numpy())
    np.testing.assert_array_equal(indices.numpy(), tindices.numpy())
    assert values.dtype == tapegrad.int64


def _inplace_relu_chain(lib, arrays, needs, pool_first):
    """conv2d, then max_pool2d and an in-place relu (in either order), summed and backward."""
    x, w, b = (lib.tensor(a, requires_grad=n) for a, n in zip(arrays, needs))
    functional = lib.nn.functional
    hidden = functional.conv2d(x, w, b, padding=1)
    if pool_first:
        hidden = functional.relu(functional.max_pool2d(hidden, 2), inplace=True)
    else:
        hidden = functional.max_pool2d(functional.relu(hidden, inplace=True), 2)
    (hidden * lib.tensor(arrays[3])).sum().backward()
    return [t.grad for t in (x, w, b)]


@pytest.mark.parametrize("pool_first", [False, True])
@pytest.mark.parametrize("needs", [(False, True, True), (True, True, True), (True, False, False)])
def test_inplace_relu_on_conv_and_pool_outputs(needs, pool_first):
    """Neither ConvolutionBackward0 nor MaxPool2DWithIndicesBackward0 reads its own output
    values (PyTorch saves the input and the indices), so writing those in place is allowed."""
    rng = np.random.default_rng(6)
    arrays = [rng.standard_normal((2, 3, 6, 6)), rng.standard_normal((4, 3, 3, 3)),
              rng.standard_normal(4), rng.standard_normal((2, 4, 3, 3))]
    ours = _inplace_relu_chain(tapegrad, arrays, needs, pool_first)
    theirs = _inplace_relu_chain(torch, arrays, needs, pool_first)
    for our_grad, their_grad, need in zip(ours, theirs, needs):
        assert (our_grad is None) == (not need)
        if need:
            assert_close(our_grad, their_grad, 1e-10, 1e-10, "grad")


def test_inplace_write_on_pool_indices_still_checked_for_values_readers():
    """Only the written output is marked: a node that reads the pooled values after they were
    modified in place still raises PyTorch's error (here exp's saved result)."""
    rng = np.random.default_rng(7)
    x = tapegrad.tensor(rng.standard_normal((1, 2, 4, 4)), requires_grad=True)
    values = tapegrad.nn.functional.max_pool2d(x, 2).exp()
    values.mul_(2)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        values.sum().backward()


@pytest.mark.parametrize("weight_needs_grad", [True, False])
def test_conv2d_backward_twice_with_retain_graph(weight_needs_grad):
    rng = np.random.default_rng(8)
    arrays = [rng.standard_normal((2, 3, 5, 5)), rng.standard_normal((4, 3, 3, 3)),
              rng.standard_normal(4)]
    grads = []
    for lib in (tapegrad, torch):
        x = lib.tensor(arrays[0], requires_grad=True)
        w = lib.tensor(arrays[1], requires_grad=weight_needs_grad)
        b = lib.tensor(arrays[2], requires_grad=True)
        loss = lib.nn.functional.conv2d(x, w, b, stride=2, padding=1).square().sum()
        loss.backward(retain_graph=True)
        loss.backward()
        grads.append([t.grad for t in (x, w, b)])
    for ours, theirs in zip(*grads):
        assert (ours is None) == (theirs is None)
        if theirs is not None:
            assert_close(ours, theirs, 1e-10, 1e-10, "accumulated grad")
