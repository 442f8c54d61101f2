"""Printing is character-for-character PyTorch's; creation functions give PyTorch's dtypes,
shapes and errors; SGD matches PyTorch step for step."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import tapegrad

ARRAYS = [
    np.array(28.0),
    np.array([1.4249, 1.5390, -1.2503]),
    np.array([[0.0, 0.0], [1.0, 2.0]]),
    np.array([1e-5, 1.0]),
    np.array([1e10, 1.0]),
    np.array([1.0, 2.0, np.nan, np.inf, -np.inf]),
    np.array([-0.0, 0.0]),
    np.arange(2000.0),
    np.arange(24.0).reshape(2, 3, 4) - 11.5,
    np.random.default_rng(0).standard_normal((5, 12)) * 100,
    np.random.default_rng(1).standard_normal((40, 40)),
    np.array([123456789.0, 0.001]),
    np.array([[1e-8, 1.0], [3.0, 4.0]]),
    np.zeros((0, 3)),
    np.zeros((0,)),
    np.array([0.1, 0.25, 100.5]),
]


@pytest.mark.parametrize("index", range(len(ARRAYS)))
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_float_repr_matches_torch(index, dtype):
    array = ARRAYS[index].astype(dtype)
    ours = tapegrad.tensor(array)
    theirs = torch.tensor(array)
    assert repr(ours) == repr(theirs)
    assert str(ours) == str(theirs)


@pytest.mark.parametrize("values,dtype", [
    ([True, False, True], "bool"), ([1, -20, 300], "int64"), ([[1, 2], [3, 4]], "int32"),
    (list(range(2000)), "int64"), ([7], "uint8"), ([], "int64"), (5, "int64"), (True, "bool"),
    ([1.5, 2.5], "float16"),
])
def test_other_dtype_repr_matches_torch(values, dtype):
    ours = tapegrad.tensor(values, dtype=getattr(tapegrad, dtype))
    theirs = torch.tensor(values, dtype=getattr(torch, dtype))
    assert repr(ours) == repr(theirs)


def test_autograd_suffixes_match_torch():
    def build(lib):
        x = lib.tensor([[1.0, -2.0, 3.5]] * 3, requires_grad=True)
        y = x * 2
        z = y.sum()
        w = lib.tensor([1.0, 2.0], dtype=lib.float64, requires_grad=True)
        long_row = lib.tensor(np.linspace(-1, 1, 12), requires_grad=True)
        return [x, y, z, w, w * 3, long_row, long_row.exp()]

    for ours, theirs in zip(build(tapegrad), build(torch)):
        assert repr(ours) == repr(theirs)


def test_printoptions():
    try:
        for lib in (tapegrad, torch):
            lib.set_printoptions(precision=2, sci_mode=False)
        array = np.array([1e-5, 1.23456, 100.0])
        assert repr(tapegrad.tensor(array)) == repr(torch.tensor(array))
    finally:
        for lib in (tapegrad, torch):
            lib.set_printoptions(profile="default")


def test_size_dtype_and_device_repr():
    assert repr(tapegrad.ones(2, 3).shape) == repr(torch.ones(2, 3).shape)
    assert repr(tapegrad.float64) == repr(torch.float64)
    assert str(tapegrad.ones(1).device) == str(torch.ones(1).device)
    assert repr(tapegrad.ones(1).device) == repr(torch.ones(1).device)


@pytest.mark.parametrize("data", [
    1.0, 3, True, [1, 2], [1.0, 2], [[1, 2], [3, 4.5]], [True, False], np.float64(2.0),
    np.arange(3, dtype=np.int32), np.arange(3.0), np.arange(3.0, dtype=np.float32),
])
def test_tensor_infers_dtype_like_torch(data):
    assert str(tapegrad.tensor(data).dtype) == str(torch.tensor(data).dtype)


CREATIONS = [
    lambda lib: lib.zeros(2, 3), lambda lib: lib.ones((2, 3), dtype=lib.int64),
    lambda lib: lib.full((2,), 7), lambda lib: lib.full((2,), 7.0),
    lambda lib: lib.full((1,), True),
    lambda lib: lib.eye(3), lambda lib: lib.eye(2, 3), lambda lib: lib.arange(5),
    lambda lib: lib.arange(1, 4, 0.5), lambda lib: lib.arange(0, 1, 0.1),
    lambda lib: lib.arange(4.0),
    lambda lib: lib.linspace(0, 1, 5), lambda lib: lib.linspace(-3, 7, 11),
    lambda lib: lib.zeros_like(lib.ones(2, dtype=lib.int32)),
    lambda lib: lib.ones_like(lib.ones(2)),
    lambda lib: lib.full_like(lib.ones(2, 2), 3.5), lambda lib: lib.empty(0),
    lambda lib: lib.zeros(size=(2,)), lambda lib: lib.tensor([]), lambda lib: lib.logspace(0, 2, 3),
]


@pytest.mark.parametrize("index", range(len(CREATIONS)))
def test_creation_matches_torch(index):
    ours, theirs = CREATIONS[index](tapegrad), CREATIONS[index](torch)
    assert str(ours.dtype) == str(theirs.dtype)
    assert tuple(ours.shape) == tuple(theirs.shape)
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6, atol=1e-7)


def test_random_creation_shapes_dtypes_and_seeding():
    tapegrad.manual_seed(3)
    first = tapegrad.randn(3, 4)
    tapegrad.manual_seed(3)
    again = tapegrad.randn(3, 4)
    assert first.tolist() == again.tolist()
    assert str(tapegrad.randn(size=()).dtype) == "torch.float32"
    assert tapegrad.randn(size=()).shape == torch.randn(size=()).shape
    assert tapegrad.rand(2, 2, dtype=tapegrad.float64).dtype == tapegrad.float64
    values = tapegrad.randint(0, 5, (1000,))
    assert values.dtype == tapegrad.int64 and set(values.tolist()) == {0, 1, 2, 3, 4}
    assert tapegrad.randint(3, (2,)).shape == (2,)
    assert sorted(tapegrad.randperm(5).tolist()) == [0, 1, 2, 3, 4]
    normal = tapegrad.normal(2.0, 0.5, size=(20000,))
    assert abs(normal.numpy().mean() - 2.0) < 0.02 and abs(normal.numpy().std() - 0.5) < 0.02
    generator = tapegrad.Generator().manual_seed(1)
    a = tapegrad.rand(3, generator=generator)
    generator.manual_seed(1)
    assert a.tolist() == tapegrad.rand(3, generator=generator).tolist()


def test_from_numpy_shares_memory_and_tensor_copies():
    array = np.zeros(3, dtype=np.float32)
    shared = tapegrad.from_numpy(array)
    copied = tapegrad.tensor(array)
    array[0] = 5
    assert shared[0].item() == 5 and copied[0].item() == 0
    assert tapegrad.as_tensor(array).numpy() is array


def test_conversions_and_python_protocols():
    def run(lib):
        x = lib.tensor([[1.5, -2.0], [3.0, 4.0]])
        return [str(x.long().dtype), str(x.double().dtype), str(x.bool().dtype),
                str(x.to(lib.int32).dtype), str(x.float().dtype), x.size(), x.size(-1), x.dim(),
                x.numel(), len(x), x[0, 0].item(), float(x[1, 1]), int(x[0, 1]), bool(x[0, 0]),
                x.tolist(), [row.tolist() for row in x], x.T.tolist(), x.t().tolist(),
                str(x.type()), x.is_leaf, x.requires_grad, x.ndim, x.is_floating_point()]

    ours, theirs = run(tapegrad), run(torch)
    assert [str(v) for v in ours] == [str(v) for v in theirs]


def test_creation_errors_match_torch():
    for call in (lambda lib: lib.zeros(-1), lambda lib: lib.arange(0, 5, 0),
                 lambda lib: lib.ones(2, 2).item(), lambda lib: bool(lib.ones(2)),
                 lambda lib: lib.ones(2).view(3), lambda lib: lib.ones(2, 3).t().view(6)):
        errors = []
        for lib in (tapegrad, torch):
            try:
                call(lib)
                errors.append(None)
            except Exception as error:  # noqa: BLE001
                errors.append(type(error))
        assert errors[0] is errors[1] and errors[0] is not None, (call, errors)


@pytest.mark.parametrize("options", [
    dict(lr=0.1), dict(lr=0.05, momentum=0.9), dict(lr=0.05, momentum=0.9, dampening=0.3),
    dict(lr=0.05, momentum=0.9, nesterov=True), dict(lr=0.1, weight_decay=0.01),
    dict(lr=0.1, maximize=True), dict(lr=0.02, momentum=0.5, weight_decay=0.1, nesterov=True),
])
def test_sgd_matches_torch_step_for_step(options):
    start = np.random.default_rng(0).standard_normal((3, 2)).astype(np.float32)

    def train(lib):
        weight = lib.tensor(start, requires_grad=True)
        optimizer = lib.optim.SGD([weight], **options)
        history = []
        for step in range(25):
            optimizer.zero_grad()
            loss = ((weight * weight).sum() - (weight * (step % 3)).sum()) ** 2 / 10
            if options.get("maximize"):
                loss = -loss
            loss.backward()
            optimizer.step()
            history.append(weight.detach().numpy().copy())
        return history

    for ours, theirs in zip(train(tapegrad), train(torch)):
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)


def test_sgd_zero_grad_sets_none_by_default():
    weight = tapegrad.ones(2, requires_grad=True)
    optimizer = tapegrad.optim.SGD([weight], lr=0.1)
    weight.sum().backward()
    optimizer.zero_grad()
    assert weight.grad is None
    weight.sum().backward()
    optimizer.zero_grad(set_to_none=False)
    assert weight.grad.tolist() == [0.0, 0.0]
