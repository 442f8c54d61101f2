"""W5: a small CNN training step (conv 3x3 8->16, 28x28, batch 64) and an LSTM training step."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ._harness import NotAvailable, Part, Target, load_library
from .w2_mlp import cross_entropy_for, sgd_for

TITLE = ("W5 CNN step (conv3x3 8->16, relu, maxpool2, linear, cross-entropy; 64x8x28x28) and "
         "LSTM step (hidden 128, sequence 32, batch 32, input 32)")
BATCH, CHANNELS, FILTERS, SIDE, CLASSES = 64, 8, 16, 28, 10
POOLED = SIDE // 2
SEQUENCE, LSTM_BATCH, LSTM_INPUT, HIDDEN = 32, 32, 32, 128
LEARNING_RATE = 0.01
PARTS = [
    Part("cnn step", ("torch", "tapegrad", "numpy"), metrics={"step": "ms"},
         targets=[Target("step", "torch", 1.2)], agree={"losses of steps 1-3": 1e-4}),
    Part("lstm step", ("torch", "tapegrad"), metrics={"step": "ms"},
         targets=[Target("step", "torch", 1.2)], agree={"losses of steps 1-3": 1e-4}),
]


def cnn_parameters() -> list[np.ndarray]:
    """Conv weight (16, 8, 3, 3) and bias, linear weight (10, 16*14*14) in NCHW flatten order."""
    rng = np.random.default_rng(0)
    bound = 1 / np.sqrt(CHANNELS * 9)
    features = FILTERS * POOLED * POOLED
    return [rng.uniform(-bound, bound, (FILTERS, CHANNELS, 3, 3)).astype(np.float32),
            rng.uniform(-bound, bound, FILTERS).astype(np.float32),
            rng.uniform(-features ** -0.5, features ** -0.5, (CLASSES, features)).astype(
                np.float32),
            rng.uniform(-features ** -0.5, features ** -0.5, CLASSES).astype(np.float32)]


def cnn_batch() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1)
    return (rng.standard_normal((BATCH, CHANNELS, SIDE, SIDE)).astype(np.float32),
            rng.integers(0, CLASSES, BATCH))


def make_cnn_step(lib: Any, notes: list[str]) -> Callable[[], Any]:
    """The same source for tapegrad and torch."""
    functional = lib.nn.functional
    missing = [name for name in ("conv2d", "max_pool2d") if not hasattr(functional, name)]
    if missing:
        raise NotAvailable(", ".join(f"nn.functional.{name}" for name in missing))
    parameters = [lib.tensor(array, requires_grad=True) for array in cnn_parameters()]
    x_array, target_array = cnn_batch()
    x, target = lib.tensor(x_array), lib.tensor(target_array)
    cross_entropy = cross_entropy_for(lib, notes)
    relu = functional.relu if hasattr(functional, "relu") else lib.relu
    optimizer = sgd_for(lib, parameters)
    conv_weight, conv_bias, weight, bias = parameters

    def step() -> Any:
        hidden = relu(functional.conv2d(x, conv_weight, conv_bias, padding=1))
        hidden = functional.max_pool2d(hidden, 2).flatten(1)
        loss = cross_entropy(hidden @ weight.t() + bias, target)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return loss

    return step


def make_numpy_cnn_step() -> Callable[[], float]:
    """im2col convolution, pooling by reshape, all gradients by hand. Inside, activations are
    filter-major (C, N, H, W), so the kernel and the linear weight keep torch's layouts."""
    conv_weight, conv_bias, weight, bias = cnn_parameters()
    kernel = conv_weight.reshape(FILTERS, -1)  # a view: the update below writes conv_weight
    x, target = cnn_batch()
    rows = np.arange(BATCH)

    def step() -> float:
        # Padding and columns are rebuilt each step, as a framework does for a new batch.
        padded = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
        columns = np.empty((CHANNELS, 3, 3, BATCH, SIDE, SIDE), np.float32)
        for row in range(3):
            for column in range(3):
                columns[:, row, column] = padded[:, :, row:row + SIDE,
                                                 column:column + SIDE].transpose(1, 0, 2, 3)
        columns = columns.reshape(CHANNELS * 9, -1)
        conv = kernel @ columns + conv_bias[:, None]  # (F, N*H*W)
        # max-pool then relu equals relu then max-pool (relu is monotone), on 4x fewer numbers;
        # the pool is the maximum of the four strided corners of each 2x2 window.
        image = conv.reshape(FILTERS, BATCH, SIDE, SIDE)
        corners = [image[:, :, row::2, column::2] for row in (0, 1) for column in (0, 1)]
        block_max = np.maximum(np.maximum(corners[0], corners[1]),
                               np.maximum(corners[2], corners[3]))
        pooled = np.maximum(block_max, 0)
        flat = pooled.transpose(1, 0, 2, 3).reshape(BATCH, -1)  # torch's NCHW flatten order
        logits = flat @ weight.T + bias
        shifted = logits - logits.max(1, keepdims=True)
        exp = np.exp(shifted)
        total = exp.sum(1, keepdims=True)
        loss = float((np.log(total[:, 0]) - shifted[rows, target]).mean())
        grad_logits = exp / total
        grad_logits[rows, target] -= 1
        grad_logits /= BATCH
        grad_weight = grad_logits.T @ flat
        grad_bias = grad_logits.sum(0)
        # relu'(0) = 0 at the pooled size; then the gradient goes to each window's maximum.
        grad_pooled = ((grad_logits @ weight).reshape(BATCH, FILTERS, POOLED, POOLED)
                       .transpose(1, 0, 2, 3) * (block_max > 0))
        grad_image = np.zeros_like(image)
        for index, corner in enumerate(corners):  # ties between corners: measure zero here
            grad_image[:, :, index // 2::2, index % 2::2] = (corner == block_max) * grad_pooled
        grad_conv = grad_image.reshape(FILTERS, -1)
        grad_kernel = grad_conv @ columns.T
        grad_conv_bias = grad_conv.sum(1)
        for parameter, gradient in ((kernel, grad_kernel), (conv_bias, grad_conv_bias),
                                    (weight, grad_weight), (bias, grad_bias)):
            parameter -= LEARNING_RATE * gradient
        return loss

    return step


def lstm_parameters() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(2)
    bound = HIDDEN ** -0.5
    shapes = {"weight_ih_l0": (4 * HIDDEN, LSTM_INPUT), "weight_hh_l0": (4 * HIDDEN, HIDDEN),
              "bias_ih_l0": (4 * HIDDEN,), "bias_hh_l0": (4 * HIDDEN,)}
    return {name: rng.uniform(-bound, bound, shape).astype(np.float32)
            for name, shape in shapes.items()}


def make_lstm_step(lib: Any, notes: list[str]) -> Callable[[], Any]:
    """The same source for tapegrad and torch: nn.LSTM, loss on the last hidden state."""
    if not hasattr(lib.nn, "LSTM"):
        raise NotAvailable("nn.LSTM")
    lstm = lib.nn.LSTM(LSTM_INPUT, HIDDEN)
    arrays = lstm_parameters()
    with lib.no_grad():
        for name, parameter in lstm.named_parameters():
            parameter.copy_(lib.tensor(arrays[name]))
    rng = np.random.default_rng(3)
    x = lib.tensor(rng.standard_normal((SEQUENCE, LSTM_BATCH, LSTM_INPUT)).astype(np.float32))
    goal = lib.tensor(rng.standard_normal((LSTM_BATCH, HIDDEN)).astype(np.float32))
    optimizer = sgd_for(lib, list(lstm.parameters()))

    def step() -> Any:
        _, (hidden, _) = lstm(x)
        loss = ((hidden[-1] - goal) ** 2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return loss

    return step


def run(part: str, implementation: str, measure: Any, quick: bool = False) -> dict:
    notes: list[str] = []
    if implementation == "numpy":
        step = make_numpy_cnn_step()
        losses = [step() for _ in range(3)]
    else:
        lib = load_library(implementation)
        maker = make_cnn_step if part == "cnn step" else make_lstm_step
        step = maker(lib, notes)
        losses = [step().item() for _ in range(3)]
    samples = measure(step)
    return {"metrics": {"step": [t * 1e3 for t in samples]},
            "values": {"losses of steps 1-3": losses}, "notes": notes}
