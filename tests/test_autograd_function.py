"""autograd.Function against PyTorch: forward/backward and setup_context styles, saved
tensors and their version checks, needs_input_grad, mark_dirty, mark_non_differentiable,
set_materialize_grads, once_differentiable, non-tensor arguments, double backward, jvp,
node names, gradcheck and gradgradcheck on users' functions."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import tapegrad

LIBS = (tapegrad, torch)


def functions(lib):
    """The same user Functions written once for either library."""
    Function = lib.autograd.Function

    class StraightThroughClamp(Function):
        """clamp in forward; the gradient passes through unchanged (straight-through)."""

        @staticmethod
        def forward(ctx, x, low, high):
            return x.clamp(low, high)

        @staticmethod
        def backward(ctx, grad):
            return grad, None, None

    class MyExp(Function):
        """exp whose backward reuses the saved result (written in ops: double backward works)."""

        @staticmethod
        def forward(ctx, x):
            result = x.exp()
            ctx.save_for_backward(result)
            return result

        @staticmethod
        def backward(ctx, grad):
            (result,) = ctx.saved_tensors
            return grad * result

    class MyExpJvp(Function):
        @staticmethod
        def forward(ctx, x):
            result = x.exp()
            ctx.save_for_backward(result)
            ctx.result = result
            return result

        @staticmethod
        def backward(ctx, grad):
            (result,) = ctx.saved_tensors
            return grad * result

        @staticmethod
        def jvp(ctx, tangent):
            return tangent * ctx.result

    class ScaleAndSum(Function):
        """Two tensor inputs, a number, two outputs; returns None for the unused gradient."""

        @staticmethod
        def forward(ctx, x, y, scale):
            ctx.scale = scale
            ctx.save_for_backward(x, y)
            return x * y * scale, (x + y).sum()

        @staticmethod
        def backward(ctx, grad_product, grad_sum):
            x, y = ctx.saved_tensors
            grad_x = grad_product * y * ctx.scale + grad_sum if ctx.needs_input_grad[0] else None
            grad_y = grad_product * x * ctx.scale + grad_sum if ctx.needs_input_grad[1] else None
            return grad_x, grad_y, None

    class SetupStyle(Function):
        @staticmethod
        def forward(x, power):
            return x ** power

        @staticmethod
        def setup_context(ctx, inputs, output):
            x, power = inputs
            ctx.save_for_backward(x)
            ctx.power = power

        @staticmethod
        def backward(ctx, grad):
            (x,) = ctx.saved_tensors
            return grad * ctx.power * x ** (ctx.power - 1), None

    class ArgmaxAndDouble(Function):
        @staticmethod
        def forward(ctx, x):
            index = x.argmax()
            ctx.mark_non_differentiable(index)
            return x * 2, index

        @staticmethod
        def backward(ctx, grad, grad_index):
            return grad * 2

    class NoMaterialize(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.set_materialize_grads(False)
            return x * 1, x * 2

        @staticmethod
        def backward(ctx, grad_a, grad_b):
            ctx.seen = (grad_a is None, grad_b is None)
            total = grad_a if grad_a is not None else 0
            return total + (grad_b * 2 if grad_b is not None else 0)

    class InplaceDouble(Function):
        @staticmethod
        def forward(ctx, x):
            x.mul_(2)
            ctx.mark_dirty(x)
            return x

        @staticmethod
        def backward(ctx, grad):
            return grad * 2

    class WrongCount(Function):
        @staticmethod
        def forward(ctx, x, y):
            return x * y

        @staticmethod
        def backward(ctx, grad):
            return grad

    class OnceExp(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x.exp()

        @staticmethod
        @lib.autograd.function.once_differentiable
        def backward(ctx, grad):
            (x,) = ctx.saved_tensors
            return grad * x.exp()

    return dict(StraightThroughClamp=StraightThroughClamp, MyExp=MyExp, MyExpJvp=MyExpJvp,
                ScaleAndSum=ScaleAndSum, SetupStyle=SetupStyle, ArgmaxAndDouble=ArgmaxAndDouble,
                NoMaterialize=NoMaterialize, InplaceDouble=InplaceDouble,
                WrongCount=WrongCount, OnceExp=OnceExp)


FUNCTIONS = {lib: functions(lib) for lib in LIBS}
DATA = np.array([0.3, -0.7, 1.2, -0.1])


def both(compute):
    return [compute(lib, FUNCTIONS[lib]) for lib in LIBS]


def numpy_of(value):
    if isinstance(value, (tuple, list)):
        return [numpy_of(v) for v in value]
    if value is None:
        return None
    return value.detach().numpy().copy()


def assert_same(ours, theirs):
    if isinstance(theirs, list):
        assert len(ours) == len(theirs)
        for a, b in zip(ours, theirs):
            assert_same(a, b)
    elif theirs is None or isinstance(theirs, (str, bool, tuple)):
        assert ours == theirs
    else:
        np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-14)


def test_node_names_and_next_functions_match_torch():
    def compute(lib, fns):
        x = lib.tensor(DATA, requires_grad=True)
        y = fns["MyExp"].apply(x)
        z = fns["ScaleAndSum"].apply(y, x, 3.0)
        return [y.grad_fn.name(), type(y.grad_fn).__name__, z[0].grad_fn.name(),
                z[0].grad_fn is z[1].grad_fn,
                [type(n).__name__ for n, _ in z[0].grad_fn.next_functions]]

    ours, theirs = both(compute)
    assert ours[:4] == theirs[:4]
    assert ours[4] == ["MyExpBackward", "AccumulateGrad"] == theirs[4]


def test_values_gradients_and_needs_input_grad_match_torch():
    def compute(lib, fns):
        x = lib.tensor(DATA, requires_grad=True)
        y = lib.tensor(DATA[::-1].copy())
        product, total = fns["ScaleAndSum"].apply(x, y, 2.5)
        needs = product.grad_fn.needs_input_grad
        (product.sum() + total * 3).backward()
        return [numpy_of(product), numpy_of(total), numpy_of(x.grad), tuple(needs)]

    ours, theirs = both(compute)
    assert_same(ours, theirs)


def test_setup_context_style_and_double_backward_match_torch():
    def compute(lib, fns):
        x = lib.tensor(DATA, requires_grad=True)
        y = fns["SetupStyle"].apply(x, 3)
        (first,) = lib.autograd.grad(y.sum(), x, create_graph=True)
        (second,) = lib.autograd.grad(first.sum(), x)
        z = fns["MyExp"].apply(x)
        (g,) = lib.autograd.grad(z.sum(), x, create_graph=True)
        (gg,) = lib.autograd.grad(g.sum(), x)
        return [numpy_of(y), numpy_of(first), numpy_of(second), numpy_of(gg)]

    ours, theirs = both(compute)
    assert_same(ours, theirs)


def test_mark_non_differentiable_and_materialize_grads_match_torch():
    def compute(lib, fns):
        x = lib.tensor(DATA, requires_grad=True)
        doubled, index = fns["ArgmaxAndDouble"].apply(x)
        doubled.sum().backward()
        a, b = fns["NoMaterialize"].apply(x)
        b.sum().backward()
        return [index.requires_grad, index.grad_fn is None, numpy_of(x.grad),
                b.grad_fn.seen]

    ours, theirs = both(compute)
    assert_same(ours, theirs)


def test_mark_dirty_matches_torch():
    def compute(lib, fns):
        x = lib.tensor(DATA, requires_grad=True)
        with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
            fns["InplaceDouble"].apply(x)
        y = x * 1
        out = fns["InplaceDouble"].apply(y)
        out.sum().backward()
        return [out is y, out.grad_fn.name(), numpy_of(x.grad)]

    ours, theirs = both(compute)
    assert_same(ours, theirs)


def test_returning_an_input_gives_a_view_as_torch():
    def compute(lib, fns):
        class Identity(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                return x

            @staticmethod
            def backward(ctx, grad):
                return grad * 3

        x = lib.tensor(DATA, requires_grad=True)
        y = x * 1
        out = Identity.apply(y)
        out.sum().backward()
        return [out is y, out._base is y, out.grad_fn.name(), numpy_of(x.grad)]

    ours, theirs = both(compute)
    assert_same(ours, theirs)


def test_saved_tensor_version_check_and_freed_graph_errors_match_torch():
    for lib in LIBS:
        fns = FUNCTIONS[lib]
        x = lib.tensor(DATA, requires_grad=True)
        y = fns["MyExp"].apply(x * 1)
        y.add_(1)  # the saved result is modified in place
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            y.sum().backward()
        z = fns["MyExp"].apply(x)
        z.sum().backward()
        with pytest.raises(RuntimeError, match="backward through the graph a second time"):
            _ = z.grad_fn.saved_tensors


def test_wrong_gradient_count_and_once_differentiable_errors_match_torch():
    for lib in LIBS:
        fns = FUNCTIONS[lib]
        x = lib.tensor(DATA, requires_grad=True)
        with pytest.raises(RuntimeError, match="returned an incorrect number of gradients "
                                               r"\(expected 2, got 1\)"):
            fns["WrongCount"].apply(x, x).sum().backward()
        (g,) = lib.autograd.grad(fns["OnceExp"].apply(x).sum(), x, create_graph=True)
        np.testing.assert_allclose(numpy_of(g), np.exp(DATA))


def test_forward_mode_through_a_function_matches_torch():
    def compute(lib, fns):
        ad = lib.autograd.forward_ad
        with ad.dual_level():
            dual = ad.make_dual(lib.tensor(DATA), lib.tensor(np.ones(4)))
            tangent = ad.unpack_dual(fns["MyExpJvp"].apply(dual)).tangent
            with pytest.raises(NotImplementedError, match="implement the jvp function"):
                fns["ScaleAndSum"].apply(dual, dual, 1.0)
        return numpy_of(tangent)

    ours, theirs = both(compute)
    assert_same(ours, theirs)


def test_user_functions_pass_gradcheck_and_gradgradcheck():
    fns = FUNCTIONS[tapegrad]
    inside = tapegrad.tensor(DATA * 0.5, requires_grad=True)  # within the clamp range
    clamp = fns["StraightThroughClamp"]
    assert tapegrad.autograd.gradcheck(lambda x: clamp.apply(x, -1.0, 1.0), (inside,))
    assert tapegrad.autograd.gradgradcheck(lambda x: clamp.apply(x, -1.0, 1.0), (inside,))
    assert tapegrad.autograd.gradcheck(fns["MyExp"].apply, (inside,))
    assert tapegrad.autograd.gradgradcheck(fns["MyExp"].apply, (inside,))
    assert tapegrad.autograd.gradcheck(fns["MyExpJvp"].apply, (inside,), check_forward_ad=True)
    for mode in (False, True):
        assert tapegrad.autograd.gradcheck(fns["MyExp"].apply, (inside,), fast_mode=mode)


def test_straight_through_outside_the_range_fails_gradcheck_as_in_torch():
    """Outside [low, high] the straight-through gradient is not clamp's derivative: both
    libraries report a Jacobian mismatch for output 0 with respect to input 0."""
    for lib in LIBS:
        clamp = FUNCTIONS[lib]["StraightThroughClamp"]
        outside = lib.tensor(DATA * 3, requires_grad=True)
        with pytest.raises(RuntimeError, match="Jacobian mismatch for output 0 with respect "
                                               "to input 0"):
            lib.autograd.gradcheck(lambda x, c=clamp: c.apply(x, -1.0, 1.0), (outside,))
        assert lib.autograd.gradcheck(lambda x, c=clamp: c.apply(x, -1.0, 1.0), (outside,),
                                      raise_exception=False) is False


def test_legacy_construction_is_refused():
    with pytest.raises(RuntimeError, match="Legacy autograd function"):
        FUNCTIONS[tapegrad]["MyExp"]()
