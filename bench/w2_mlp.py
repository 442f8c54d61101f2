"""W2: one SGD training step of a 784-256-256-10 ReLU MLP, softmax cross-entropy, batch 128."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ._harness import NotAvailable, Part, Target, load_library

TITLE = "W2 MLP training step: 784-256-256-10, ReLU, cross-entropy, batch 128, float32, SGD"
SIZES = (784, 256, 256, 10)
BATCH = 128
LEARNING_RATE = 0.01
PARTS = [
    Part("mlp step", ("torch", "tapegrad", "numpy"),
         metrics={"step": "ms"},
         targets=[Target("step", "numpy", 1.05), Target("step", "torch", 0.9)],
         agree={"losses of steps 1-3": 1e-4}),
]


def initial_parameters() -> list[np.ndarray]:
    """Weights (out, in) and biases, as nn.Linear stores them, the same for every implementation."""
    rng = np.random.default_rng(0)
    parameters = []
    for fan_in, fan_out in zip(SIZES[:-1], SIZES[1:]):
        bound = 1 / np.sqrt(fan_in)
        parameters.append(rng.uniform(-bound, bound, (fan_out, fan_in)).astype(np.float32))
        parameters.append(rng.uniform(-bound, bound, fan_out).astype(np.float32))
    return parameters


def batch() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1)
    x = rng.standard_normal((BATCH, SIZES[0])).astype(np.float32)
    target = rng.integers(0, SIZES[-1], BATCH)
    return x, target


def cross_entropy_for(lib: Any, notes: list[str]) -> Callable[[Any, Any], Any]:
    """nn.functional.cross_entropy where the library has it, else log-softmax by hand."""
    functional = lib.nn.functional
    if hasattr(functional, "cross_entropy"):
        notes.append("loss: nn.functional.cross_entropy")
        return functional.cross_entropy
    notes.append("loss: log-softmax written with exp/log/sum and a one-hot mask "
                 "(nn.functional.cross_entropy not available yet)")

    def cross_entropy(logits: Any, target: Any) -> Any:
        # The shift by the row maximum only keeps exp finite; it cancels in the gradient, so it
        # is taken as a constant.
        if hasattr(logits, "amax"):
            shift = logits.detach().amax(1, keepdim=True)
        else:
            shift = lib.from_numpy(logits.detach().numpy().max(1, keepdims=True))
        shifted = logits - shift
        log_probabilities = shifted - shifted.exp().sum(1, keepdim=True).log()
        onehot = lib.from_numpy(np.eye(logits.shape[1], dtype=np.float32)[target.numpy()])
        return -(log_probabilities * onehot).sum() / logits.shape[0]

    return cross_entropy


def linear_for(lib: Any, notes: list[str]) -> Callable[[Any, Any, Any], Any]:
    functional = lib.nn.functional
    if hasattr(functional, "linear"):
        notes.append("layers: nn.functional.linear")
        return functional.linear
    notes.append("layers: input @ weight.t() + bias (nn.functional.linear not available yet)")
    return lambda input, weight, bias: input @ weight.t() + bias


def sgd_for(lib: Any, parameters: list) -> Any:
    if not hasattr(lib, "optim") or not hasattr(lib.optim, "SGD"):
        raise NotAvailable("optim.SGD")
    return lib.optim.SGD(parameters, lr=LEARNING_RATE)


def make_step(lib: Any, notes: list[str]) -> Callable[[], Any]:
    """The same source for tapegrad and torch: forward, backward and SGD update."""
    parameters = [lib.tensor(array, requires_grad=True) for array in initial_parameters()]
    x_array, target_array = batch()
    x, target = lib.tensor(x_array), lib.tensor(target_array)
    linear = linear_for(lib, notes)
    cross_entropy = cross_entropy_for(lib, notes)
    relu = lib.nn.functional.relu if hasattr(lib.nn.functional, "relu") else lib.relu
    optimizer = sgd_for(lib, parameters)
    w1, b1, w2, b2, w3, b3 = parameters

    def step() -> Any:
        hidden = relu(linear(x, w1, b1))
        hidden = relu(linear(hidden, w2, b2))
        loss = cross_entropy(linear(hidden, w3, b3), target)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return loss

    return step


def make_numpy_step() -> Callable[[], float]:
    """Forward, gradients written out by hand, and the SGD update in place."""
    parameters = initial_parameters()
    x, target = batch()
    rows = np.arange(BATCH)

    def step() -> float:
        w1, b1, w2, b2, w3, b3 = parameters
        a1 = x @ w1.T + b1
        h1 = np.maximum(a1, 0)
        a2 = h1 @ w2.T + b2
        h2 = np.maximum(a2, 0)
        logits = h2 @ w3.T + b3
        shifted = logits - logits.max(1, keepdims=True)
        exp = np.exp(shifted)
        total = exp.sum(1, keepdims=True)
        loss = float((np.log(total[:, 0]) - shifted[rows, target]).mean())
        grad_logits = exp / total
        grad_logits[rows, target] -= 1
        grad_logits /= BATCH
        grad_a2 = (grad_logits @ w3) * (a2 > 0)  # relu'(0) = 0, as torch
        grad_a1 = (grad_a2 @ w2) * (a1 > 0)
        gradients = (grad_a1.T @ x, grad_a1.sum(0), grad_a2.T @ h1, grad_a2.sum(0),
                     grad_logits.T @ h2, grad_logits.sum(0))
        for parameter, gradient in zip(parameters, gradients):
            parameter -= LEARNING_RATE * gradient
        return loss

    return step


def run(part: str, implementation: str, measure: Any, quick: bool = False) -> dict:
    notes: list[str] = []
    if implementation == "numpy":
        step = make_numpy_step()
        losses = [step() for _ in range(3)]
    else:
        lib = load_library(implementation)
        step = make_step(lib, notes)
        losses = [step().item() for _ in range(3)]
    samples = measure(step)
    return {"metrics": {"step": [t * 1e3 for t in samples]},
            "values": {"losses of steps 1-3": losses}, "notes": notes}


def profile(part: str, quick: bool) -> dict:
    """cProfile of tapegrad's training step."""
    from ._harness import profile_calls

    step = make_step(load_library("tapegrad"), [])
    result = profile_calls(step, 5 if quick else 30)
    result["title"] = "one MLP training step (forward, backward, SGD update)"
    return result
