"""tapegrad.utils.checkpoint against PyTorch: same values and gradients (both variants), the
recomputation really happens in backward, and the peak memory drops."""

from __future__ import annotations

import tracemalloc
import warnings

import numpy as np
import pytest
import torch
import torch.utils.checkpoint as torch_checkpoint

import tapegrad
from tapegrad.utils.checkpoint import checkpoint, checkpoint_sequential

DATA = np.linspace(-1.0, 1.0, 12).reshape(3, 4)
WEIGHT = np.cos(np.arange(16.0)).reshape(4, 4)


def _segment(x, weight, scale):
    return ((x @ weight).tanh() * scale).exp()


@pytest.mark.parametrize("use_reentrant", [False, True])
def test_values_and_gradients_match_torch(use_reentrant):
    results = []
    for lib, run in ((tapegrad, checkpoint), (torch, torch_checkpoint.checkpoint)):
        x = lib.tensor(DATA, requires_grad=True)
        weight = lib.tensor(WEIGHT, requires_grad=True)
        hidden = run(_segment, x, weight, 0.5, use_reentrant=use_reentrant)
        out = run(_segment, hidden, weight, 0.25, use_reentrant=use_reentrant)
        out.sum().backward()
        results.append([out.detach().numpy().copy(), x.grad.numpy().copy(),
                        weight.grad.numpy().copy()])
    for ours, theirs in zip(*results):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12)


def test_node_names_match_torch():
    for use_reentrant, expected in ((False, "ExpBackward0"),
                                    (True, "CheckpointFunctionBackward")):
        x = tapegrad.tensor(DATA, requires_grad=True)
        y = checkpoint(_segment, x, tapegrad.tensor(WEIGHT), 1.0, use_reentrant=use_reentrant)
        theirs = torch_checkpoint.checkpoint(_segment, torch.tensor(DATA, requires_grad=True),
                                             torch.tensor(WEIGHT), 1.0,
                                             use_reentrant=use_reentrant)
        assert y.grad_fn.name() == theirs.grad_fn.name() == expected


def test_forward_is_recomputed_in_backward():
    calls = []

    def counted(x):
        calls.append(tapegrad.is_grad_enabled())
        return x.sin().exp()

    for use_reentrant in (False, True):
        calls.clear()
        x = tapegrad.tensor(DATA, requires_grad=True)
        checkpoint(counted, x, use_reentrant=use_reentrant).sum().backward()
        assert len(calls) == 2, use_reentrant  # forward, then the recomputation
        np.testing.assert_allclose(x.grad.numpy(), np.cos(DATA) * np.exp(np.sin(DATA)))


def test_missing_use_reentrant_warns_like_torch():
    x = tapegrad.tensor(DATA, requires_grad=True)
    with pytest.warns(UserWarning, match="use_reentrant parameter should be passed explicitly"):
        checkpoint(_segment, x, tapegrad.tensor(WEIGHT), 1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        checkpoint(_segment, x, tapegrad.tensor(WEIGHT), 1.0, use_reentrant=False)


def test_random_ops_are_replayed_in_the_recomputation():
    def noisy(x):
        return x * tapegrad.rand(x.shape, dtype=x.dtype)

    tapegrad.manual_seed(0)
    x = tapegrad.tensor(DATA, requires_grad=True)
    out = checkpoint(noisy, x, use_reentrant=False)
    out.sum().backward()
    # d(x * r)/dx = r: the gradient equals the noise used in forward.
    np.testing.assert_allclose(x.grad.numpy(), (out / x).detach().numpy(), rtol=1e-12)


def _chain(x):
    for _ in range(5):
        x = (x * 1.01).sin()
    return x


def _peak_bytes(use_checkpoint: bool, use_reentrant: bool = False) -> tuple[int, np.ndarray]:
    x = tapegrad.tensor(np.linspace(0.0, 1.0, 200_000), requires_grad=True)
    tracemalloc.start()
    tracemalloc.reset_peak()
    hidden = x
    for _ in range(4):
        hidden = checkpoint(_chain, hidden, use_reentrant=use_reentrant) if use_checkpoint \
            else _chain(hidden)
    hidden.sum().backward()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak, x.grad.numpy().copy()


@pytest.mark.parametrize("use_reentrant", [False, True])
def test_checkpointing_lowers_peak_memory(use_reentrant):
    """Four segments of five ops on 1.6 MB arrays: without checkpointing all 20 steps keep
    their saved tensors; with it only the segment being recomputed does."""
    plain_peak, plain_grad = _peak_bytes(False)
    checkpointed_peak, checkpointed_grad = _peak_bytes(True, use_reentrant)
    np.testing.assert_allclose(checkpointed_grad, plain_grad, rtol=1e-12)
    print(f"\npeak without checkpoint {plain_peak / 1e6:.1f} MB, with "
          f"{checkpointed_peak / 1e6:.1f} MB (use_reentrant={use_reentrant})")
    assert checkpointed_peak < 0.75 * plain_peak


def test_checkpoint_sequential_matches_plain_run():
    functions = [lambda t: t.sin(), lambda t: t * 2, lambda t: t.exp(), lambda t: t.tanh()]
    x = tapegrad.tensor(DATA, requires_grad=True)
    out = checkpoint_sequential(functions, 2, x, use_reentrant=False)
    out.sum().backward()
    reference = tapegrad.tensor(DATA, requires_grad=True)
    expected = reference
    for f in functions:
        expected = f(expected)
    expected.sum().backward()
    np.testing.assert_allclose(out.detach().numpy(), expected.detach().numpy())
    np.testing.assert_allclose(x.grad.numpy(), reference.grad.numpy())
