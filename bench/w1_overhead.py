"""W1: per-op overhead, a chain of 1000 element-wise ops on a 16-element float32 vector."""

from __future__ import annotations

from typing import Any

import numpy as np

from ._harness import Part, Target, load_library

TITLE = "W1 per-op overhead: 1000 element-wise ops (add, mul, sin, pow, tanh) on 16 float32"
LENGTH = 1000
SIZE = 16
# Everyday small calls beyond the chain's five element-wise ops, each on a 16-element vector
# that requires grad or a 4x4 matrix (context rows: the issue sets no target for them).
SMALL_OPS = {
    "x[i]": "x[3]", "x[a:b]": "x[2:9]", "x.sum()": "x.sum()", "x.mean()": "x.mean()",
    "x.view(4, 4)": "x.view(4, 4)", "m.sum(0)": "m.sum(0)", "m @ m": "m @ m",
    "softmax(m, 1)": "lib.softmax(m, 1)", "m.max(1)": "m.max(1)", "cat([m, m])": "lib.cat([m, m])",
    "x.to(float64)": "x.to(lib.float64)", "x[0].item()": "x[0].item()",
}
PARTS = [
    Part("chain", ("torch", "tapegrad", "numpy"),
         metrics={"forward+backward": "µs/op", "forward (grad on)": "µs/op",
                  "forward (grad off)": "µs/op"},
         targets=[Target("forward+backward", "torch", 0.8),
                  Target("forward (grad off)", "numpy", 1.5)],
         agree={"gradient": 1e-2}),  # float32 through 1000 ops
    Part("small ops", ("torch", "tapegrad"),
         metrics={name: "µs/call" for name in SMALL_OPS}),
]


def _data() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Start, shift and scale, drawn so that each element's gradient through the whole chain
    stays between 1e-12 and 1e-2: no denormal numbers (slow on x86) and no overflow."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal(SIZE).astype(np.float32)
    shift = np.empty(SIZE, np.float32)
    scale = np.empty(SIZE, np.float32)
    for index in range(SIZE):
        while True:
            shift[index] = rng.uniform(0.1, 0.7)
            scale[index] = rng.uniform(0.8, 2.6)
            if _gradient_in_range(float(x[index]), float(shift[index]), float(scale[index])):
                break
    return x, shift, scale


def _gradient_in_range(x: float, shift: float, scale: float) -> bool:
    """Whether d(chain)/dx lies in [1e-12, 1e-2] for one element (float64 arithmetic)."""
    y, log_gradient = x, 0.0
    for _ in range(LENGTH // 5):
        angle = (y + shift) * scale
        sine = np.sin(angle)
        y = np.tanh(sine * sine)
        derivative = scale * np.cos(angle) * 2 * sine * (1 - y * y)
        if derivative == 0:
            return False
        log_gradient += np.log10(abs(derivative))
        if log_gradient < -12:
            return False
    return log_gradient <= -2


def chain(lib: Any, x: Any, shift: Any, scale: Any) -> Any:
    """The same source for tapegrad and torch: op i is add, mul, sin, pow, tanh (i mod 5)."""
    y = x
    for i in range(LENGTH):
        kind = i % 5
        if kind == 0:
            y = y + shift
        elif kind == 1:
            y = y * scale
        elif kind == 2:
            y = lib.sin(y)
        elif kind == 3:
            y = lib.pow(y, 2)
        else:
            y = lib.tanh(y)
    return y


def numpy_forward(x: np.ndarray, shift: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """Raw NumPy forward, nothing saved (the reference for grad mode off)."""
    y = x
    for i in range(LENGTH):
        kind = i % 5
        if kind == 0:
            y = y + shift
        elif kind == 1:
            y = y * scale
        elif kind == 2:
            y = np.sin(y)
        elif kind == 3:
            y = np.power(y, 2)
        else:
            y = np.tanh(y)
    return y


def numpy_forward_backward(x: np.ndarray, shift: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """Forward saving what each derivative needs, then the hand-written backward of sum(y)."""
    saved = []
    y = x
    for i in range(LENGTH):
        kind = i % 5
        if kind == 0:
            y = y + shift
            saved.append(None)
        elif kind == 1:
            y = y * scale
            saved.append(None)
        elif kind == 2:
            saved.append(y)
            y = np.sin(y)
        elif kind == 3:
            saved.append(y)
            y = np.power(y, 2)
        else:
            y = np.tanh(y)
            saved.append(y)
    grad = np.ones_like(y)
    for i in range(LENGTH - 1, -1, -1):
        kind = i % 5
        if kind == 1:
            grad = grad * scale
        elif kind == 2:
            grad = grad * np.cos(saved[i])
        elif kind == 3:
            grad = grad * (2 * saved[i])
        elif kind == 4:
            grad = grad * (1 - saved[i] * saved[i])
    return grad


def run_small_ops(implementation: str, measure: Any) -> dict:
    """µs per call of each SMALL_OPS expression, grad mode on (x requires grad)."""
    lib = load_library(implementation)
    rng = np.random.default_rng(2)
    x = lib.tensor(rng.standard_normal(SIZE).astype(np.float32), requires_grad=True)
    m = lib.tensor(rng.standard_normal((4, 4)).astype(np.float32))
    metrics = {}
    for name, expression in SMALL_OPS.items():
        # Each call's statement compiled once: the sample times the op, not eval.
        call = eval(f"lambda: {expression}", {"lib": lib, "x": x, "m": m})  # noqa: S307
        metrics[name] = [t * 1e6 for t in measure(call)]
    return {"metrics": metrics}


def run(part: str, implementation: str, measure: Any, quick: bool = False) -> dict:
    if part == "small ops":
        return run_small_ops(implementation, measure)
    x_array, shift_array, scale_array = _data()
    per_op = 1e6 / LENGTH
    if implementation == "numpy":
        forward = measure(lambda: numpy_forward(x_array, shift_array, scale_array))
        both = measure(lambda: numpy_forward_backward(x_array, shift_array, scale_array))
        grad = numpy_forward_backward(x_array, shift_array, scale_array)
        return {"metrics": {"forward (grad off)": [t * per_op for t in forward],
                            "forward+backward": [t * per_op for t in both]},
                "values": {"gradient": grad.tolist()}}

    lib = load_library(implementation)
    x = lib.tensor(x_array, requires_grad=True)
    shift = lib.tensor(shift_array)
    scale = lib.tensor(scale_array)

    def forward_backward() -> None:
        x.grad = None  # as optimizer.zero_grad(): each step starts without a gradient
        chain(lib, x, shift, scale).sum().backward()

    def forward_grad_off() -> None:
        with lib.no_grad():
            chain(lib, x, shift, scale)

    both = measure(forward_backward)
    forward_on = measure(lambda: chain(lib, x, shift, scale))
    forward_off = measure(forward_grad_off)
    forward_backward()
    return {"metrics": {"forward+backward": [t * per_op for t in both],
                        "forward (grad on)": [t * per_op for t in forward_on],
                        "forward (grad off)": [t * per_op for t in forward_off]},
            "values": {"gradient": x.grad.detach().numpy().tolist()}}


def profile(part: str, quick: bool) -> dict:
    """cProfile of tapegrad's forward+backward of the chain."""
    from ._harness import profile_calls

    lib = load_library("tapegrad")
    x_array, shift_array, scale_array = _data()
    x = lib.tensor(x_array, requires_grad=True)
    shift, scale = lib.tensor(shift_array), lib.tensor(scale_array)

    def forward_backward() -> None:
        x.grad = None
        chain(lib, x, shift, scale).sum().backward()

    result = profile_calls(forward_backward, 5 if quick else 20)
    result["title"] = f"forward+backward of the {LENGTH}-op chain"
    return result
