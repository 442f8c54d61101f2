"""W3: full Hessian of sum(log(1 + exp(A @ x))) + 0.5 * ||x||^2, x of size 64, float64."""

from __future__ import annotations

from typing import Any

import numpy as np

from ._harness import Part, Target, load_library

TITLE = "W3 Hessian of sum(log(1+exp(A@x))) + 0.5||x||^2, A 128x64, float64"
ROWS, SIZE = 128, 64
TOLERANCE = 1e-10
PARTS = [
    Part("hessian", ("torch", "tapegrad"),
         metrics={"functional.hessian": "ms", "double-backward loop": "ms"},
         targets=[Target("functional.hessian", "torch", 1.0),
                  Target("double-backward loop", "torch", 1.0)]),
]


def problem() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.standard_normal((ROWS, SIZE)) / np.sqrt(SIZE), rng.standard_normal(SIZE)


def closed_form(a: np.ndarray, x: np.ndarray) -> np.ndarray:
    """A^T diag(s (1 - s)) A + I with s = sigmoid(A x)."""
    s = 1 / (1 + np.exp(-(a @ x)))
    return a.T @ (a * (s * (1 - s))[:, None]) + np.eye(len(x))


def objective(lib: Any, a: Any) -> Any:
    """The same source for tapegrad and torch."""
    def f(x: Any) -> Any:
        return lib.log(1 + lib.exp(a @ x)).sum() + 0.5 * (x * x).sum()

    return f


def hessian_by_loop(lib: Any, f: Any, x: Any) -> np.ndarray:
    """One autograd.grad per row of the Hessian, through the gradient built with create_graph."""
    x = x.detach().requires_grad_(True)
    (gradient,) = lib.autograd.grad(f(x), x, create_graph=True)
    rows = [lib.autograd.grad(gradient[i], x, retain_graph=True)[0] for i in range(SIZE)]
    return np.stack([row.detach().numpy() for row in rows])


def run(part: str, implementation: str, measure: Any, quick: bool = False) -> dict:
    lib = load_library(implementation)
    a_array, x_array = problem()
    expected = closed_form(a_array, x_array)
    a, x = lib.tensor(a_array), lib.tensor(x_array)
    f = objective(lib, a)
    metrics, checks, notes = {}, {}, []

    loop_result = hessian_by_loop(lib, f, x)
    error = float(np.abs(loop_result - expected).max())
    checks["double-backward loop equals the closed form"] = [
        error <= TOLERANCE, f"max abs error {error:.1e}"]
    metrics["double-backward loop"] = [t * 1e3 for t in measure(
        lambda: hessian_by_loop(lib, f, x))]

    try:
        from importlib import import_module

        functional = import_module(f"{lib.__name__}.autograd.functional")
        hessian = functional.hessian
    except (ImportError, AttributeError):
        notes.append("autograd.functional.hessian not available yet")
        return {"metrics": metrics, "checks": checks, "notes": notes}
    result = hessian(f, x).detach().numpy()
    error = float(np.abs(result - expected).max())
    checks["functional.hessian equals the closed form"] = [
        error <= TOLERANCE, f"max abs error {error:.1e}"]
    metrics["functional.hessian"] = [t * 1e3 for t in measure(lambda: hessian(f, x))]
    return {"metrics": metrics, "checks": checks, "notes": notes}
