"""torch.autograd.functional for tapegrad against PyTorch: vjp, jvp, jacobian (strategies,
create_graph, strict), hessian, hvp, vhp; tensors and tuples in and out, same structures."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import tapegrad

RNG = np.random.default_rng(3)
A = RNG.standard_normal((3, 4))
B = RNG.standard_normal(4)
V = RNG.standard_normal((3, 4))


def _call(lib, name, function, inputs, *rest, **kwargs):
    def convert(array):
        return lib.tensor(array)

    wrapped = tuple(convert(a) for a in inputs) if isinstance(inputs, tuple) else convert(inputs)
    extra = [tuple(convert(a) for a in r) if isinstance(r, tuple) else convert(r) for r in rest]
    return getattr(lib.autograd.functional, name)(function, wrapped, *extra, **kwargs)


def _same(ours, theirs):
    # PyTorch's forward-mode jacobian returns lists where reverse mode returns tuples; tapegrad
    # returns tuples in both (the documented structure), so lists compare as tuples here.
    if isinstance(theirs, (tuple, list)):
        assert isinstance(ours, tuple) and len(ours) == len(theirs), (type(ours), theirs)
        for a, b in zip(ours, theirs):
            _same(a, b)
        return
    assert isinstance(ours, tapegrad.Tensor)
    assert tuple(ours.shape) == tuple(theirs.shape)
    np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=1e-10,
                               atol=1e-12)


def scalar(x):
    return (x.exp() * x.sin()).sum()


def vector(x):
    return x.tanh() * x.sum()


def two_in_two_out(x, y):
    return (x @ y).sin(), (x * x).sum(0) + y


def two_in_scalar(x, y):
    return ((x @ y).sin() * (y * y).sum()).sum()


JACOBIAN_CASES = [
    ("scalar output", scalar, A),
    ("matrix output", vector, A),
    ("tuple in, tuple out", two_in_two_out, (A, B)),
    ("tuple in, scalar out", two_in_scalar, (A, B)),
    ("1-tuple in", vector, (B,)),
]


@pytest.mark.parametrize("label,function,inputs", JACOBIAN_CASES,
                         ids=[c[0] for c in JACOBIAN_CASES])
@pytest.mark.parametrize("strategy", ["reverse-mode", "forward-mode"])
def test_jacobian_matches_torch(label, function, inputs, strategy):
    ours = _call(tapegrad, "jacobian", function, inputs, vectorize=True, strategy=strategy)
    theirs = _call(torch, "jacobian", function, inputs, vectorize=True, strategy=strategy)
    _same(ours, theirs)


@pytest.mark.parametrize("function,inputs", [(scalar, A), (two_in_scalar, (A, B)),
                                             (scalar, (B,))])
def test_hessian_matches_torch(function, inputs):
    _same(_call(tapegrad, "hessian", function, inputs), _call(torch, "hessian", function, inputs))


def test_vjp_jvp_hvp_vhp_match_torch():
    _same(_call(tapegrad, "vjp", vector, A, V), _call(torch, "vjp", vector, A, V))
    cotangents = (RNG.standard_normal(3), B)
    _same(_call(tapegrad, "vjp", two_in_two_out, (A, B), cotangents),
          _call(torch, "vjp", two_in_two_out, (A, B), cotangents))
    _same(_call(tapegrad, "jvp", two_in_two_out, (A, B), (V, B)),
          _call(torch, "jvp", two_in_two_out, (A, B), (V, B)))
    for name in ("hvp", "vhp"):
        _same(_call(tapegrad, name, scalar, A, V), _call(torch, name, scalar, A, V))
        _same(_call(tapegrad, name, two_in_scalar, (A, B), (V, B)),
              _call(torch, name, two_in_scalar, (A, B), (V, B)))


def test_create_graph_gives_differentiable_results():
    for lib in (tapegrad, torch):
        x = lib.tensor(B, requires_grad=True)
        jacobian = lib.autograd.functional.jacobian(vector, x, create_graph=True)
        assert jacobian.requires_grad
        (second,) = lib.autograd.grad(jacobian.sum(), x)
        plain = lib.autograd.functional.jacobian(vector, x)
        assert not plain.requires_grad
    np.testing.assert_allclose(second.numpy(), second.numpy())


def test_second_derivative_through_create_graph_matches_torch():
    results = []
    for lib in (tapegrad, torch):
        x = lib.tensor(B, requires_grad=True)
        jacobian = lib.autograd.functional.jacobian(vector, x, create_graph=True)
        (second,) = lib.autograd.grad((jacobian * jacobian).sum(), x)
        results.append(second.detach().numpy())
    np.testing.assert_allclose(results[0], results[1], rtol=1e-10)


def test_strict_and_argument_errors_match_torch():
    def independent(x, y):
        return x * 2

    for lib in (tapegrad, torch):
        functional = lib.autograd.functional
        x, y = lib.tensor(B), lib.tensor(B)
        with pytest.raises(RuntimeError, match="independent of input 1"):
            functional.jacobian(independent, (x, y), strict=True)
        zeros = functional.jacobian(independent, (x, y))[1]
        assert float(zeros.abs().sum()) == 0.0
        with pytest.raises(RuntimeError, match="independent of input 1"):
            functional.vjp(independent, (x, y), lib.ones(4), strict=True)
        with pytest.raises(TypeError, match="must be either a Tensor or a tuple of Tensors"):
            functional.vjp(independent, (x, 3.0), lib.ones(4))
        with pytest.raises(RuntimeError, match="v can only be None"):
            functional.vjp(vector, x)
        with pytest.raises(RuntimeError, match="single Tensor with a single element|single "
                                               "element"):
            functional.hessian(vector, x)
        with pytest.raises(NotImplementedError, match="implemented for `vectorize=True`"):
            functional.jacobian(vector, x, strategy="forward-mode")
