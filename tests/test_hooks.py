"""Hooks and grad modes against PyTorch: tensor hooks (replace, remove), post-accumulate hooks,
retain_grad, node hooks and pre-hooks (call order), saved-tensor pack/unpack hooks,
inference_mode."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import tapegrad

LIBS = (tapegrad, torch)
DATA = np.array([0.5, -1.0, 2.0])


def _events(lib):
    log = []
    x = lib.tensor(DATA, requires_grad=True)
    y = x * 2
    z = y.exp()
    w = z * y
    loss = w.sum()
    x.register_hook(lambda g: log.append(("x hook", g.tolist())))
    x.register_post_accumulate_grad_hook(lambda t: log.append(("x post", t.grad.tolist())))
    y.register_hook(lambda g: log.append(("y hook 1", g.tolist())))
    y.register_hook(lambda g: g * 10)  # replaces the gradient seen by later hooks and nodes
    y.register_hook(lambda g: log.append(("y hook 3", g.tolist())))
    y.retain_grad()
    y.grad_fn.register_prehook(lambda grads: log.append(("MulBackward prehook",
                                                         grads[0].tolist())))
    y.grad_fn.register_hook(lambda grad_inputs, grad_outputs: log.append(
        ("MulBackward hook", grad_inputs[0].tolist(), grad_outputs[0].tolist())))
    z.grad_fn.register_hook(lambda grad_inputs, grad_outputs: log.append(("ExpBackward hook",)))
    w.grad_fn.register_prehook(lambda grads: log.append(("w prehook",)))
    loss.backward()
    log.append(("y.grad", y.grad.tolist()))
    log.append(("x.grad", x.grad.tolist()))
    return log


def test_hook_call_order_and_values_match_torch():
    ours, theirs = _events(tapegrad), _events(torch)
    assert [e[0] for e in ours] == [e[0] for e in theirs]
    for a, b in zip(ours, theirs):
        for left, right in zip(a[1:], b[1:]):
            np.testing.assert_allclose(left, right, rtol=1e-6)


def test_removed_hooks_do_not_run_and_handles_work_as_context_managers():
    for lib in LIBS:
        calls = []
        x = lib.tensor(DATA, requires_grad=True)
        handle = x.register_hook(lambda g, log=calls: log.append("removed"))
        handle.remove()
        with x.register_hook(lambda g, log=calls: log.append("scoped")):
            (x * 2).sum().backward()
        (x * 2).sum().backward()
        assert calls == ["scoped"], lib.__name__


def test_node_hook_replacing_grad_inputs_matches_torch():
    results = []
    for lib in LIBS:
        x = lib.tensor(DATA, requires_grad=True)
        y = x.sin()
        y.grad_fn.register_hook(lambda grad_inputs, grad_outputs: (grad_inputs[0] * 0 + 1,))
        y.sum().backward()
        results.append(x.grad.tolist())
    assert results[0] == results[1] == [1.0, 1.0, 1.0]


def test_hook_errors_match_torch():
    for lib in LIBS:
        plain = lib.tensor(DATA)
        with pytest.raises(RuntimeError, match="doesn't require gradient"):
            plain.register_hook(lambda g: g)
        with pytest.raises(RuntimeError, match="non-leaf"):
            (lib.tensor(DATA, requires_grad=True) * 2).register_post_accumulate_grad_hook(
                lambda t: None)


def _saved_hook_events(lib):
    log = []

    def pack(tensor):
        log.append(("pack", tuple(tensor.shape)))
        return tensor

    def unpack(tensor):
        log.append(("unpack", tuple(tensor.shape)))
        return tensor

    x = lib.tensor(DATA, requires_grad=True)
    with lib.autograd.graph.saved_tensors_hooks(pack, unpack):
        y = x.exp() * x.sin()
    log.append(("backward",))
    y.sum().backward()
    return log, x.grad.tolist()


def test_saved_tensors_hooks_pack_and_unpack_like_torch():
    (ours, our_grad), (theirs, their_grad) = _saved_hook_events(tapegrad), \
        _saved_hook_events(torch)
    assert sorted(ours[:ours.index(("backward",))]) == sorted(
        theirs[:theirs.index(("backward",))])
    assert len(ours) == len(theirs)
    np.testing.assert_allclose(our_grad, their_grad, rtol=1e-6)


def test_pack_hook_can_replace_what_is_stored():
    """Pack to a NumPy copy and unpack to a new tensor: gradients are unchanged."""
    for lib in LIBS:
        x = lib.tensor(DATA, requires_grad=True)
        with lib.autograd.graph.saved_tensors_hooks(lambda t: t.detach().numpy().copy(),
                                                    lambda a, lib=lib: lib.tensor(a)):
            y = (x * x).sum()
        y.backward()
        np.testing.assert_allclose(x.grad.tolist(), 2 * DATA)


def test_save_on_cpu_gives_the_same_gradients():
    grads = []
    for lib in LIBS:
        x = lib.tensor(DATA, requires_grad=True)
        with lib.autograd.graph.save_on_cpu():
            y = (x.exp() * x).sum()
        y.backward()
        grads.append(x.grad.tolist())
    np.testing.assert_allclose(grads[0], grads[1], rtol=1e-6)


def test_inference_mode_matches_torch():
    for lib in LIBS:
        x = lib.tensor(DATA)
        w = lib.tensor(DATA, requires_grad=True)
        assert lib.is_grad_enabled() and not lib.is_inference_mode_enabled()
        with lib.inference_mode():
            assert not lib.is_grad_enabled() and lib.is_inference_mode_enabled()
            y = x * 2
        assert y.is_inference() and not x.is_inference() and not y.requires_grad
        assert (y + w).grad_fn is not None  # add saves nothing: allowed, as PyTorch
        with pytest.raises(RuntimeError, match="Inference tensors cannot be saved for "
                                               "backward"):
            y * w
        with pytest.raises(RuntimeError, match="Setting requires_grad=True on inference "
                                               "tensor outside InferenceMode"):
            y.requires_grad_()
        with pytest.raises(RuntimeError, match="Inplace update to inference tensor outside "
                                               "InferenceMode"):
            y.add_(1)
        (y.clone() * w).sum().backward()  # a clone is a normal tensor
        with lib.inference_mode(False):
            assert lib.is_grad_enabled()


def test_inference_mode_as_decorator_matches_torch():
    for lib in LIBS:
        @lib.inference_mode()
        def double(t):
            return t * 2

        assert double(lib.tensor(DATA, requires_grad=True)).requires_grad is False
