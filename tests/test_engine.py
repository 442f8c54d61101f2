"""Engine semantics against PyTorch: accumulation, retain_graph, freed graphs, leaf/non-leaf,
version counters, grad modes across threads, deep graphs, no leaks after backward."""

from __future__ import annotations

import gc
import threading
import weakref

import numpy as np
import pytest
import torch

import tapegrad

LIBS = [tapegrad, torch]


def both(fn):
    """Run ``fn(lib)`` for tapegrad and torch; return the two results."""
    return fn(tapegrad), fn(torch)


def error_of(fn, lib):
    try:
        fn(lib)
    except Exception as error:  # noqa: BLE001 - we compare the type with torch's
        return type(error), str(error)
    return None, None


def assert_same_error(fn):
    (ours, our_message), (theirs, their_message) = error_of(fn, tapegrad), error_of(fn, torch)
    assert theirs is not None, "torch raised nothing"
    assert ours is theirs, f"{ours}: {our_message} != {theirs}: {their_message}"
    return our_message, their_message


def numpy_of(tensor):
    return tensor.detach().numpy()


def test_gradients_accumulate_until_zeroed():
    def run(lib):
        w = lib.ones(4, requires_grad=True)
        seen = []
        for _ in range(3):
            (w * 3).sum().backward()
            seen.append(numpy_of(w.grad).copy())
        w.grad.zero_()
        (w * 2).sum().backward()
        seen.append(numpy_of(w.grad).copy())
        return seen

    ours, theirs = both(run)
    for a, b in zip(ours, theirs):
        np.testing.assert_array_equal(a, b)


def test_second_backward_raises_freed_graph_error():
    def run(lib):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        y = (x * x).sum()
        y.backward()
        y.backward()

    ours, theirs = assert_same_error(run)
    assert ours == theirs


def test_retain_graph_allows_second_backward():
    def run(lib):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        y = (x * x).sum()
        y.backward(retain_graph=True)
        y.backward()
        return numpy_of(x.grad)

    ours, theirs = both(run)
    np.testing.assert_array_equal(ours, theirs)


def test_nodes_without_saved_values_can_run_twice():
    # PyTorch only complains when a node needs a freed saved value; additions save nothing.
    def run(lib):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        y = x + 1
        y.backward(lib.ones(2))
        y.backward(lib.ones(2))
        return numpy_of(x.grad)

    ours, theirs = both(run)
    np.testing.assert_array_equal(ours, theirs)


def test_non_scalar_backward_needs_gradient():
    def run(lib):
        x = lib.ones(3, requires_grad=True)
        (x * 2).backward()

    ours, theirs = assert_same_error(run)
    assert ours == theirs


def test_gradient_shape_mismatch():
    def run(lib):
        x = lib.ones(3, requires_grad=True)
        (x * 2).backward(lib.ones(2))

    assert_same_error(run)


def test_backward_without_grad_raises():
    def run(lib):
        lib.ones(3).sum().backward()

    ours, theirs = assert_same_error(run)
    assert ours == theirs


def test_integer_tensors_cannot_require_grad():
    def run(lib):
        lib.tensor([1, 2], requires_grad=True)

    ours, theirs = assert_same_error(run)
    assert ours == theirs


def test_requires_grad_flag_only_on_leaves():
    def run(lib):
        x = lib.ones(2, requires_grad=True)
        (x * 2).requires_grad_(False)

    ours, theirs = assert_same_error(run)
    assert ours == theirs


def test_inplace_on_leaf_requiring_grad():
    def run(lib):
        x = lib.ones(2, requires_grad=True)
        x.add_(1)

    ours, theirs = assert_same_error(run)
    assert ours == theirs


def test_modified_saved_tensor_is_detected():
    def run(lib):
        x = lib.ones(3, requires_grad=True)
        a = x.clone()
        b = a * a
        a.add_(1)
        b.sum().backward()

    ours, theirs = assert_same_error(run)
    assert "modified by an inplace operation" in ours
    assert "is at version 1; expected version 0 instead" in ours


@pytest.mark.parametrize("write", ["in place", "through a later view"])
def test_modification_after_save_is_detected_for_fresh_results(write):
    """A fresh result has no version counter until one is needed: saving it records version
    0, and a later write (to it, or to a view made after the save) still gets caught."""
    def run(lib):
        x = lib.ones(3, requires_grad=True)
        fresh = x * 2
        saved_by_sin = fresh.sin()
        if write == "in place":
            fresh.mul_(3)
        else:
            fresh[1:].mul_(3)
        saved_by_sin.sum().backward()

    ours, theirs = assert_same_error(run)
    assert "is at version 1; expected version 0 instead" in ours


def test_inplace_on_non_leaf_gives_correct_gradient():
    def run(lib):
        x = lib.tensor([1.0, -2.0, 3.0], requires_grad=True)
        y = x * 2
        y.mul_(x)
        y.add_(1)
        y.exp_()
        (y / 100).sum().backward()
        return numpy_of(x.grad), y.grad_fn.name()

    (ours, our_name), (theirs, their_name) = both(run)
    np.testing.assert_allclose(ours, theirs, rtol=1e-6)
    assert our_name == their_name


def test_version_counter_and_views_share_it():
    def run(lib):
        x = lib.zeros(2, 3)
        view = x[0]
        versions = [x._version]
        view.add_(1)
        versions.append(x._version)
        x.mul_(2)
        versions.append(view._version)
        return versions, numpy_of(x).copy()

    (ours, our_values), (theirs, their_values) = both(run)
    assert ours == theirs
    np.testing.assert_array_equal(our_values, their_values)


def test_autograd_grad_several_inputs_and_outputs():
    def run(lib):
        x1 = lib.tensor(1.0, requires_grad=True)
        x2 = lib.tensor(2.0, requires_grad=True)
        y1, y2 = x1 * x2, x1 + x2
        first = lib.autograd.grad(y1, [x1, x2], retain_graph=True)
        both_outputs = lib.autograd.grad([y1, y2], [x1, x2])
        return [t.item() for t in first + both_outputs], x1.grad

    (ours, our_grad), (theirs, their_grad) = both(run)
    assert ours == theirs
    assert our_grad is None and their_grad is None


def test_autograd_grad_unused_and_materialize():
    def run(lib):
        x = lib.tensor(1.0, requires_grad=True)
        unused = lib.tensor(2.0, requires_grad=True)
        y = x * 3
        grads = lib.autograd.grad(y, [x, unused], allow_unused=True, retain_graph=True)
        materialized = lib.autograd.grad(y, [x, unused], materialize_grads=True)
        return grads[1], materialized[1].item()

    (ours_none, ours_zero), (theirs_none, theirs_zero) = both(run)
    assert ours_none is None and theirs_none is None
    assert ours_zero == theirs_zero == 0.0

    def run_error(lib):
        x = lib.tensor(1.0, requires_grad=True)
        unused = lib.tensor(2.0, requires_grad=True)
        lib.autograd.grad(x * 3, [x, unused])

    assert_same_error(run_error)


def test_autograd_grad_of_non_leaf_input():
    def run(lib):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        hidden = x * x
        y = (hidden * 3).sum()
        (value,) = lib.autograd.grad(y, hidden)
        return numpy_of(value), x.grad

    (ours, our_grad), (theirs, their_grad) = both(run)
    np.testing.assert_array_equal(ours, theirs)
    assert our_grad is None and their_grad is None


def test_second_and_third_derivatives():
    def run(lib):
        x = lib.tensor(1.5, requires_grad=True)
        y = lib.sin(x) * x**3
        (first,) = lib.autograd.grad(y, x, create_graph=True)
        (second,) = lib.autograd.grad(first, x, create_graph=True)
        (third,) = lib.autograd.grad(second, x)
        return first.item(), second.item(), third.item(), first.grad_fn.name()

    ours, theirs = both(run)
    np.testing.assert_allclose(ours[:3], theirs[:3], rtol=1e-6)
    assert ours[3] == theirs[3]


def test_autograd_grad_finds_every_path_when_creation_order_is_broken():
    # The engine settles which nodes lead to the inputs in order of creation; a graph whose
    # sequence numbers disagree with its edges (swapped here by hand) must still run every
    # node on a path to the inputs, and none off them.
    x = tapegrad.tensor([1.0, 2.0], requires_grad=True)
    w = tapegrad.tensor([5.0, 7.0], requires_grad=True)
    hidden = x * 2
    outer = hidden * 3
    y = (outer + w * hidden).sum()
    first, second = hidden.grad_fn, outer.grad_fn
    first._sequence_nr, second._sequence_nr = second._sequence_nr, first._sequence_nr
    (value,) = tapegrad.autograd.grad(y, x, retain_graph=True)
    np.testing.assert_array_equal(value.numpy(), [16.0, 20.0])  # 2 * (3 + w)
    (value,) = tapegrad.autograd.grad(y, w)
    np.testing.assert_array_equal(value.numpy(), [2.0, 4.0])
    assert x.grad is None and w.grad is None


def test_backward_with_inputs_accumulates_only_there():
    def run(lib):
        a = lib.tensor(2.0, requires_grad=True)
        b = lib.tensor(3.0, requires_grad=True)
        (a * b).backward(inputs=[a])
        return a.grad.item(), b.grad

    (our_a, our_b), (their_a, their_b) = both(run)
    assert our_a == their_a and our_b is None and their_b is None


def test_retain_grad_and_hooks_on_non_leaf():
    def run(lib):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        hidden = x * 2
        hidden.retain_grad()
        calls = []
        hidden.register_hook(lambda grad: calls.append("hidden") or grad * 10)
        x.register_hook(lambda grad: calls.append("x"))
        (hidden * hidden).sum().backward()
        return numpy_of(hidden.grad), numpy_of(x.grad), calls

    (our_hidden, our_x, our_calls), (their_hidden, their_x, their_calls) = both(run)
    np.testing.assert_array_equal(our_hidden, their_hidden)
    np.testing.assert_array_equal(our_x, their_x)
    assert our_calls == their_calls


def test_removable_hook_handle():
    def run(lib):
        x = lib.tensor([1.0], requires_grad=True)
        handle = x.register_hook(lambda grad: grad * 100)
        handle.remove()
        (x * 2).sum().backward()
        return x.grad.item()

    ours, theirs = both(run)
    assert ours == theirs


def test_grad_fn_next_functions_structure():
    def run(lib):
        x = lib.tensor([1.0], requires_grad=True)
        y = (x * 2 + x).sum()
        node = y.grad_fn
        names = [node.name()]
        add = node.next_functions[0][0]
        names.append(add.name())
        names += [n.name() if n is not None else None for n, _ in add.next_functions]
        mul = add.next_functions[0][0]
        names += [n.name() if n is not None else None for n, _ in mul.next_functions]
        accumulate = mul.next_functions[0][0]
        return names, accumulate.variable is x, x.grad_fn

    (ours, our_same, our_fn), (theirs, their_same, their_fn) = both(run)
    assert ours == theirs
    assert our_same and their_same and our_fn is None and their_fn is None


def test_no_grad_enable_grad_set_grad_enabled():
    def run(lib):
        x = lib.ones(2, requires_grad=True)
        with lib.no_grad():
            a = x * 2
            with lib.enable_grad():
                b = x * 2
        with lib.set_grad_enabled(False):
            c = x * 2

        @lib.no_grad()
        def decorated(t):
            return t * 2

        lib.set_grad_enabled(False)
        d = x * 2
        lib.set_grad_enabled(True)
        return [t.requires_grad for t in (a, b, c, decorated(x), d)], lib.is_grad_enabled()

    ours, theirs = both(run)
    assert ours == theirs


def test_grad_mode_is_thread_local():
    results = {}

    def worker():
        x = tapegrad.ones(2, requires_grad=True)
        results["worker"] = (x * 2).requires_grad

    with tapegrad.no_grad():
        thread = threading.Thread(target=worker)
        thread.start()
        thread.join()
        results["main"] = (tapegrad.ones(2, requires_grad=True) * 2).requires_grad
    assert results == {"worker": True, "main": False}


def test_detach_and_requires_grad_():
    def run(lib):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        y = x * x
        u = y.detach()
        z = u * x
        z.sum().backward()
        shares = np.shares_memory(numpy_of(u), numpy_of(y))
        return numpy_of(x.grad), shares, u.requires_grad, u.is_leaf

    ours, theirs = both(run)
    np.testing.assert_array_equal(ours[0], theirs[0])
    assert ours[1:] == theirs[1:]


def test_deep_chain_backward_without_recursion_error():
    x = tapegrad.tensor(1.0, requires_grad=True)
    y = x
    for _ in range(100_000):
        y = y * 1.0
    y.backward()
    assert x.grad.item() == 1.0


def test_graph_is_freed_after_backward():
    x = tapegrad.randn(100, requires_grad=True)
    y = (x * x).exp()
    node = weakref.ref(y.grad_fn)
    y.sum().backward()
    del y
    gc.collect()
    assert node() is None


def test_saved_values_released_without_retain_graph():
    x = tapegrad.randn(5, requires_grad=True)
    y = x.exp()
    z = (y * 2).sum()
    z.backward()
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        y.grad_fn.apply([tapegrad.ones(5)])


def test_broadcasting_gradients_match_torch():
    def run(lib):
        a = lib.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
        b = lib.tensor(np.arange(3.0), requires_grad=True)
        c = lib.tensor(2.0, requires_grad=True)
        ((a * b + c) / (b + 1)).sum().backward()
        return [numpy_of(t.grad) for t in (a, b, c)]

    ours, theirs = both(run)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-6)


def test_mixed_dtype_gradients_keep_input_dtypes():
    def run(lib):
        a = lib.ones(3, dtype=lib.float32, requires_grad=True)
        b = lib.ones(3, dtype=lib.float64, requires_grad=True)
        (a * b).sum().backward()
        return str(a.grad.dtype), str(b.grad.dtype), str((a * b).dtype)

    ours, theirs = both(run)
    assert ours == theirs


def test_leaf_grad_is_not_aliased():
    # Both inputs of an add receive the same incoming gradient: .grad must not alias.
    a = tapegrad.ones(2, requires_grad=True)
    b = tapegrad.ones(2, requires_grad=True)
    (a + b).sum().backward()
    a.grad.zero_()
    assert b.grad.tolist() == [1.0, 1.0]


def test_leaf_grad_never_aliases_the_seed_or_a_shared_gradient():
    # The engine keeps a gradient it made as .grad without copying; seeds, pass-through
    # gradients and gradients sent to two places must still be copied.
    x = tapegrad.ones(3, requires_grad=True)
    seed = tapegrad.ones(3)
    x.clone().backward(seed)
    seed.mul_(5)
    assert x.grad.tolist() == [1.0, 1.0, 1.0]

    a = tapegrad.ones(2, requires_grad=True)
    b = tapegrad.ones(2, requires_grad=True)
    (a * 2 + b * 1).sum().backward()
    a.grad.zero_()
    assert b.grad.tolist() == [1.0, 1.0]

    w = tapegrad.ones(2, 2, requires_grad=True)
    (w * 3).sum().backward()
    kept = w.grad
    (w * 3).sum().backward()
    assert kept is w.grad and w.grad.tolist() == [[6.0, 6.0], [6.0, 6.0]]


def test_numpy_rule_passing_the_gradient_through_does_not_alias():
    # addmm's NumPy rule for its input returns the incoming gradient's array unchanged: the
    # leaf must still not keep the caller's seed as its .grad.
    m = tapegrad.ones(2, 2, requires_grad=True)
    a, b = tapegrad.ones(2, 3, requires_grad=True), tapegrad.ones(3, 2, requires_grad=True)
    seed = tapegrad.ones(2, 2)
    tapegrad.addmm(m, a, b).backward(seed)
    seed.mul_(7)
    assert m.grad.tolist() == [[1.0, 1.0], [1.0, 1.0]]
    assert a.grad.tolist() == [[2.0] * 3] * 2


def test_linear_weight_gradient_is_kept_contiguous_and_unaliased():
    # F.linear's weight gradient is computed in the weight's layout and kept without a copy;
    # it must still be a contiguous, independent tensor equal to PyTorch's.
    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal((4, 3)), rng.standard_normal((2, 3)), rng.standard_normal(2)

    def run(lib):
        weight = lib.tensor(w, requires_grad=True)
        bias = lib.tensor(b, requires_grad=True)
        lib.nn.functional.linear(lib.tensor(x), weight, bias).sum().backward()
        return weight.grad, bias.grad

    (our_weight, our_bias), (their_weight, their_bias) = run(tapegrad), run(torch)
    np.testing.assert_allclose(our_weight.numpy(), their_weight.numpy(), rtol=1e-12)
    np.testing.assert_allclose(our_bias.numpy(), their_bias.numpy(), rtol=1e-12)
    assert our_weight.is_contiguous()
    before = our_bias.numpy().copy()
    our_weight.zero_()
    np.testing.assert_array_equal(our_bias.numpy(), before)


def test_gradient_sums_are_not_changed_after_being_passed_on():
    # s's two gradients are summed in a buffer the engine owns; AddBackward then passes that
    # sum on to both p and q. p later receives more gradient (from p * 11): adding it in
    # place would change q's gradient too.
    def run(lib):
        x = lib.tensor([1.5, -0.5], requires_grad=True)
        p = x * 3
        q = x * 5
        later = p * 11  # made before s, so its backward runs after s's
        s = p + q
        out = (s * 2 + s * 3 + later).sum()
        return lib.autograd.grad(out, [x, p, q])

    for ours, theirs in zip(run(tapegrad), run(torch)):
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6)


def test_leaf_keeps_a_view_gradient_only_when_nothing_else_holds_its_memory():
    # x's gradient is a reshaped view of a product the engine made: x keeps that memory.
    x = tapegrad.tensor(np.arange(12.0).reshape(4, 3), requires_grad=True)
    weight = tapegrad.tensor(np.arange(12.0))
    (x.view(12) * weight).sum().backward()
    assert x.grad._data.base is not None and x.grad._base is None
    np.testing.assert_array_equal(x.grad.numpy(), np.arange(12.0).reshape(4, 3))
    # With the intermediate's gradient retained, the same memory is visible there: x copies.
    x.grad = None
    flat = x.view(12)
    flat.retain_grad()
    (flat * weight).sum().backward()
    assert not np.shares_memory(x.grad.numpy(), flat.grad.numpy())
    x.grad.add_(1.0)
    np.testing.assert_array_equal(flat.grad.numpy(), np.arange(12.0))


def test_invalid_gradient_names_its_index():
    """A backward returning a gradient that cannot fit its input names that input's index,
    also where the same tensor goes to two inputs and only the second does not fit."""
    def run(lib):
        class SameGradientTwice(lib.autograd.Function):
            @staticmethod
            def forward(ctx, first, second):
                return first * 1.0

            @staticmethod
            def backward(ctx, grad):
                shared = grad.expand(2, 3)
                return shared, shared

        first = lib.ones(2, 3, requires_grad=True)
        second = lib.ones(4, requires_grad=True)
        SameGradientTwice.apply(first, second).sum().backward()

    ours, theirs = assert_same_error(run)
    assert "at index 1" in theirs
    assert ours == theirs


def test_wrapped_fields_name_every_slot_wrap_sets():
    """Generated applies make gradient tensors inline from WRAPPED_FIELDS: it must name every
    slot but _data, with the values wrap gives them."""
    from tapegrad._tensor import WRAPPED_FIELDS, Tensor, wrap

    tensor = wrap(np.ones(2))
    slots = set(Tensor.__slots__) - {"_data", "__dict__", "__weakref__"}
    assert {name for name, _ in WRAPPED_FIELDS} == slots
    for name, value in WRAPPED_FIELDS:
        assert getattr(tensor, name) == value


def test_plain_backward_holds_numpy_errors_off_only_for_its_own_rules():
    """tapegrad's rules never warn (PyTorch has no such warnings), even where the user asks
    NumPy to raise; hooks and custom Functions run under the user's error state, and the
    state is the user's again after backward, also when backward fails."""
    seen = []

    def record_state(name):
        def hook(*args):
            seen.append((name, np.geterr()["divide"]))
        return hook

    class Halve(tapegrad.autograd.Function):
        @staticmethod
        def forward(ctx, value):
            return value / 2

        @staticmethod
        def backward(ctx, grad):
            record_state("function")()
            return grad / 2

    x = tapegrad.tensor([0.0, 1.0], requires_grad=True)
    x.register_hook(record_state("leaf hook"))
    x.register_post_accumulate_grad_hook(record_state("post-accumulate hook"))
    logs = x.log()
    logs.grad_fn.register_hook(record_state("node hook"))
    halves = Halve.apply(logs)  # a node without hooks
    scaled = halves * 3
    scaled.register_hook(record_state("tensor hook"))
    with np.errstate(divide="raise"):
        scaled.sum().backward()  # log's rule divides by zero
        assert np.geterr()["divide"] == "raise"
        with pytest.raises(RuntimeError, match="Trying to backward through the graph"):
            halves.sum().backward()
        assert np.geterr()["divide"] == "raise"
    assert set(seen) == {("tensor hook", "raise"), ("function", "raise"), ("node hook", "raise"),
                         ("leaf hook", "raise"), ("post-accumulate hook", "raise")}
    torch_x = torch.tensor([0.0, 1.0], requires_grad=True)
    (torch_x.log() / 2 * 3).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), torch_x.grad.numpy())
