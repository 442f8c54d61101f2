"""Forward-mode AD: dual tensors as PyTorch's (make_dual, unpack_dual, printing, levels), and
for every (op, sample) of the op table, the forward-mode JVP equals the reverse-mode one."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.autograd.forward_ad as torch_fwad

import tapegrad
import tapegrad.autograd.forward_ad as fwad
from tapegrad.autograd import functional
from tapegrad.ops import OPS

from .helpers import assert_close, rng_for
from .test_ops import CASES, _run


def _float_outputs(result):
    outputs = result if isinstance(result, tuple) else (result,)
    return [i for i, o in enumerate(outputs)
            if isinstance(o, tapegrad.Tensor) and o.dtype.is_floating_point]


@pytest.mark.parametrize("name,index", CASES)
def test_jvp_matches_reverse_mode(name, index):
    """Forward mode (rules derived from each op's declaration) against the double-vjp trick."""
    op = OPS[name]
    inputs, result, (function, args, kwargs) = _run(name, index, tapegrad, requires_grad=False)
    positions = [i for i, v in enumerate(inputs)
                 if isinstance(v, tapegrad.Tensor) and v.dtype.is_floating_point]
    keep = _float_outputs(result)
    if not positions or not keep:
        return
    rng = rng_for(name, index, "tangent")
    tangents = [tapegrad.tensor(rng.standard_normal(tuple(inputs[i].shape))) for i in positions]

    def call(*values):
        full = list(inputs)
        for i, value in zip(positions, values):
            full[i] = value
        out = function(*full, *args, **kwargs)
        out = out if isinstance(out, tuple) else (out,)
        return tuple(out[i] for i in keep)

    with fwad.dual_level():
        duals = [fwad.make_dual(inputs[i], t) for i, t in zip(positions, tangents)]
        outputs = call(*duals)
        forward = [fwad.unpack_dual(o).tangent for o in outputs]
    if op.node_class is None:
        assert all(t is None for t in forward), f"{name}: a non-differentiable op made a tangent"
        return
    _, reverse = functional.jvp(call, tuple(inputs[i] for i in positions), tuple(tangents))
    for k, (f, r) in enumerate(zip(forward, reverse)):
        if f is None:
            np.testing.assert_allclose(r.numpy(), 0, atol=1e-12, err_msg=f"{name} output {k}")
            continue
        assert tuple(f.shape) == tuple(r.shape), f"{name}[{index}] output {k}"
        np.testing.assert_allclose(f.detach().numpy(), r.numpy(), rtol=1e-6, atol=1e-8,
                                   err_msg=f"{name}[{index}] output {k}")


def test_every_op_has_a_jvp_rule_kind():
    kinds = {name: fwad.jvp_rule_kind(op) for name, op in OPS.items()}
    assert set(kinds.values()) <= {None, "explicit", "elementwise", "linear", "bilinear",
                                   "double_backward"}
    assert fwad.double_backward_ops() == sorted(
        n for n, k in kinds.items() if k == "double_backward")
    print("\nops using the double-backward trick:", ", ".join(fwad.double_backward_ops()))


def _both(function):
    """Run the same dual-number code in both libraries; return both results."""
    results = []
    for lib, ad in ((tapegrad, fwad), (torch, torch_fwad)):
        results.append(function(lib, ad))
    return results


def test_values_and_tangents_match_torch_on_a_composite():
    data = np.linspace(-1, 1, 6).reshape(2, 3)
    direction = np.cos(np.arange(6.0)).reshape(2, 3)
    weight = np.sin(np.arange(12.0)).reshape(3, 4)

    def compute(lib, ad):
        with ad.dual_level():
            x = ad.make_dual(lib.tensor(data), lib.tensor(direction))
            y = ((x @ lib.tensor(weight)).tanh() * x.sum(1, keepdim=True)).exp().sum(0)
            primal, tangent = ad.unpack_dual(y)
            return primal.detach().numpy().copy(), tangent.detach().numpy().copy()

    (p1, t1), (p2, t2) = _both(compute)
    np.testing.assert_allclose(p1, p2, rtol=1e-12)
    np.testing.assert_allclose(t1, t2, rtol=1e-10)


def test_make_dual_unpack_dual_and_printing():
    with fwad.dual_level():
        x = tapegrad.tensor([1.0, 2.0])
        dual = fwad.make_dual(x, tapegrad.tensor([1.0, 0.5]))
        unpacked = fwad.unpack_dual(dual)
        assert type(unpacked).__name__ == "UnpackedDualTensor"
        assert unpacked.primal is not dual and unpacked.tangent is not None
        assert repr(dual * 2) == repr_torch_dual()
        plain = fwad.unpack_dual(x)
        assert plain.tangent is None and plain.primal is x
    # Tangents are dropped when the level closes, as PyTorch.
    assert fwad.unpack_dual(dual).tangent is None
    assert "tangent" not in repr(dual)


def repr_torch_dual():
    with torch_fwad.dual_level():
        dual = torch_fwad.make_dual(torch.tensor([1.0, 2.0]), torch.tensor([1.0, 0.5]))
        return repr(dual * 2)


def test_errors_match_torch():
    for lib, ad in ((tapegrad, fwad), (torch, torch_fwad)):
        with pytest.raises(RuntimeError, match="no level exists"):
            ad.make_dual(lib.ones(2), lib.ones(2))
        with ad.dual_level():
            with pytest.raises(RuntimeError, match="different size"):
                ad.make_dual(lib.ones(2), lib.ones(3))
            with pytest.raises(ValueError, match="floating point"):
                ad.make_dual(lib.ones(2, dtype=lib.int64), lib.ones(2))
            with pytest.raises(RuntimeError, match="Nested forward mode AD is not supported"):
                with ad.dual_level():
                    pass


def test_inplace_on_dual_moves_the_tangent():
    def compute(lib, ad):
        with ad.dual_level():
            x = ad.make_dual(lib.tensor([1.0, 2.0]), lib.tensor([1.0, 1.0]))
            y = x * 1
            y.mul_(3)
            y.add_(x)
            return ad.unpack_dual(y).tangent.numpy().copy()

    ours, theirs = _both(compute)
    np.testing.assert_allclose(ours, theirs)


def test_tangent_is_differentiable_in_reverse_mode():
    """The tangent of exp carries a graph back to the primal, as PyTorch's does."""

    def compute(lib, ad):
        x = lib.tensor([0.5, -1.0], requires_grad=True)
        with ad.dual_level():
            dual = ad.make_dual(x, lib.tensor([1.0, 2.0]))
            tangent = ad.unpack_dual(dual.exp() * dual).tangent
            (gradient,) = lib.autograd.grad(tangent.sum(), x)
        return gradient.numpy().copy()

    ours, theirs = _both(compute)
    np.testing.assert_allclose(ours, theirs, rtol=1e-6)


def test_jacobian_forward_mode_strategy_matches_torch():
    data = np.array([[0.3, -0.2, 1.0], [0.5, 0.1, -0.7]])

    def f(x):
        return (x.sin() * x.sum()).t()

    ours = functional.jacobian(f, tapegrad.tensor(data), vectorize=True, strategy="forward-mode")
    theirs = torch.autograd.functional.jacobian(f, torch.tensor(data), vectorize=True,
                                                strategy="forward-mode")
    assert_close(ours, theirs, 1e-12, 1e-10)
