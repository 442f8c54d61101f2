"""L-BFGS with an optional strong-Wolfe line search, as torch.optim.LBFGS."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from .._tensor import wrap
from ..autograd.grad_mode import enable_grad, no_grad
from .optimizer import Optimizer


def _cubic_minimum(x1: float, f1: float, g1: float, x2: float, f2: float, g2: float,
                   bounds: tuple[float, float] | None = None) -> float:
    """The minimiser of the cubic through two points with slopes, kept within bounds."""
    low, high = bounds if bounds is not None else ((x1, x2) if x1 <= x2 else (x2, x1))
    d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
    d2_square = d1**2 - g1 * g2
    if d2_square < 0:
        return (low + high) / 2.0
    d2 = d2_square**0.5
    if x1 <= x2:
        position = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
    else:
        position = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
    return min(max(position, low), high)


def _dot(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.dot(a, b))


def _strong_wolfe(evaluate: Callable, t: float, d: np.ndarray, loss: float, grad: np.ndarray,
                  gtd: float, c1: float = 1e-4, c2: float = 0.9,
                  tolerance_change: float = 1e-9,
                  max_ls: int = 25) -> tuple[float, np.ndarray, float, int]:
    """Find a step t meeting the strong Wolfe conditions: bracket, then zoom by cubic fits."""
    d_norm = float(np.abs(d).max())
    grad = grad.copy()
    loss_new, grad_new = evaluate(t)
    evaluations = 1
    gtd_new = _dot(grad_new, d)
    t_prev, loss_prev, grad_prev, gtd_prev = 0.0, loss, grad, gtd
    done = False
    iteration = 0
    bracket: list[float] = []
    bracket_loss: list[float] = []
    bracket_grad: list[np.ndarray] = []
    bracket_gtd: list[float] = []
    while iteration < max_ls:
        if loss_new > loss + c1 * t * gtd or (iteration > 1 and loss_new >= loss_prev):
            bracket, bracket_loss = [t_prev, t], [loss_prev, loss_new]
            bracket_grad, bracket_gtd = [grad_prev, grad_new.copy()], [gtd_prev, gtd_new]
            break
        if abs(gtd_new) <= -c2 * gtd:
            bracket, bracket_loss, bracket_grad = [t], [loss_new], [grad_new]
            done = True
            break
        if gtd_new >= 0:
            bracket, bracket_loss = [t_prev, t], [loss_prev, loss_new]
            bracket_grad, bracket_gtd = [grad_prev, grad_new.copy()], [gtd_prev, gtd_new]
            break
        # Extrapolate between 1.01 t and 10 t.
        previous = t
        t = _cubic_minimum(t_prev, loss_prev, gtd_prev, t, loss_new, gtd_new,
                           bounds=(t + 0.01 * (t - t_prev), t * 10))
        t_prev, loss_prev, grad_prev, gtd_prev = previous, loss_new, grad_new.copy(), gtd_new
        loss_new, grad_new = evaluate(t)
        evaluations += 1
        gtd_new = _dot(grad_new, d)
        iteration += 1
    if iteration == max_ls:
        bracket, bracket_loss, bracket_grad = [0.0, t], [loss, loss_new], [grad, grad_new]
    insufficient_progress = False
    low, high = (0, 1) if bracket_loss[0] <= bracket_loss[-1] else (1, 0)
    while not done and iteration < max_ls:
        if abs(bracket[1] - bracket[0]) * d_norm < tolerance_change:
            break
        t = _cubic_minimum(bracket[0], bracket_loss[0], bracket_gtd[0], bracket[1],
                           bracket_loss[1], bracket_gtd[1])
        # Stay at least 10% of the interval away from its ends, unless progress stalls.
        eps = 0.1 * (max(bracket) - min(bracket))
        if min(max(bracket) - t, t - min(bracket)) < eps:
            if insufficient_progress or t >= max(bracket) or t <= min(bracket):
                t = (max(bracket) - eps if abs(t - max(bracket)) < abs(t - min(bracket))
                     else min(bracket) + eps)
                insufficient_progress = False
            else:
                insufficient_progress = True
        else:
            insufficient_progress = False
        loss_new, grad_new = evaluate(t)
        evaluations += 1
        gtd_new = _dot(grad_new, d)
        iteration += 1
        if loss_new > loss + c1 * t * gtd or loss_new >= bracket_loss[low]:
            bracket[high], bracket_loss[high] = t, loss_new
            bracket_grad[high], bracket_gtd[high] = grad_new.copy(), gtd_new
            low, high = (0, 1) if bracket_loss[0] <= bracket_loss[1] else (1, 0)
        else:
            if abs(gtd_new) <= -c2 * gtd:
                done = True
            elif gtd_new * (bracket[high] - bracket[low]) >= 0:
                bracket[high], bracket_loss[high] = bracket[low], bracket_loss[low]
                bracket_grad[high], bracket_gtd[high] = bracket_grad[low], bracket_gtd[low]
            bracket[low], bracket_loss[low] = t, loss_new
            bracket_grad[low], bracket_gtd[low] = grad_new.copy(), gtd_new
    return bracket_loss[low], bracket_grad[low], bracket[low], evaluations


class LBFGS(Optimizer):
    """Limited-memory BFGS over all parameters as one vector; see torch.optim.LBFGS."""

    def __init__(self, params: Iterable[Any], lr: float = 1, max_iter: int = 20,
                 max_eval: int | None = None, tolerance_grad: float = 1e-7,
                 tolerance_change: float = 1e-9, history_size: int = 100,
                 line_search_fn: str | None = None) -> None:
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if max_eval is None:
            max_eval = max_iter * 5 // 4
        defaults = dict(lr=lr, max_iter=max_iter, max_eval=max_eval,
                        tolerance_grad=tolerance_grad, tolerance_change=tolerance_change,
                        history_size=history_size, line_search_fn=line_search_fn)
        super().__init__(params, defaults)
        if len(self.param_groups) != 1:
            raise ValueError("LBFGS doesn't support per-parameter options (parameter groups)")
        self._params = self.param_groups[0]["params"]

    def _flat_grad(self) -> np.ndarray:
        return np.concatenate([np.zeros(p._data.size, p._data.dtype) if p._grad is None
                               else p._grad._data.reshape(-1) for p in self._params])

    def _add_step(self, step_size: float, update: np.ndarray) -> None:
        offset = 0
        for param in self._params:
            count = param._data.size
            data = param._data
            data += data.dtype.type(step_size) * update[offset:offset + count].reshape(data.shape)
            param._bump_version()
            offset += count

    def _set_params(self, arrays: list[np.ndarray]) -> None:
        for param, array in zip(self._params, arrays):
            param._data[...] = array
            param._bump_version()

    def step(self, closure: Callable[[], Any]) -> Any:  # type: ignore[override]
        """Run up to max_iter L-BFGS iterations; ``closure`` recomputes and returns the loss."""
        with no_grad():
            return self._step(closure)

    def _step(self, closure: Callable[[], Any]) -> Any:
        def evaluate() -> Any:
            with enable_grad():
                return closure()

        group = self.param_groups[0]
        lr, max_iter, max_eval = group["lr"], group["max_iter"], group["max_eval"]
        tolerance_grad, tolerance_change = group["tolerance_grad"], group["tolerance_change"]
        line_search_fn, history_size = group["line_search_fn"], group["history_size"]
        state = self.state.setdefault(self._params[0], {})
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)
        original_loss = evaluate()
        loss = float(original_loss)
        current_evals = 1
        state["func_evals"] += 1
        flat_grad = self._flat_grad()
        if np.abs(flat_grad).max() <= tolerance_grad:
            return original_loss
        unpack = lambda key: None if state.get(key) is None else state[key]._data  # noqa: E731
        d = unpack("d")
        t = state.get("t")
        old_dirs = [v._data for v in state.get("old_dirs", [])]
        old_steps = [v._data for v in state.get("old_stps", [])]
        ro = [float(v) for v in state.get("ro", [])]
        h_diag = state.get("H_diag", 1)
        h_diag = float(h_diag) if h_diag is not None else 1
        previous_grad = unpack("prev_flat_grad")
        previous_loss = state.get("prev_loss")
        dtype = flat_grad.dtype.type
        iteration = 0
        while iteration < max_iter:
            iteration += 1
            state["n_iter"] += 1
            if state["n_iter"] == 1:
                d = -flat_grad
                old_dirs, old_steps, ro, h_diag = [], [], [], 1
            else:
                y = flat_grad - previous_grad
                s = d * dtype(t)
                ys = _dot(y, s)
                if ys > 1e-10:
                    if len(old_dirs) == history_size:  # forget the oldest pair
                        old_dirs.pop(0)
                        old_steps.pop(0)
                        ro.pop(0)
                    old_dirs.append(y)
                    old_steps.append(s)
                    ro.append(float(dtype(1.0) / dtype(ys)))
                    h_diag = float(dtype(ys) / dtype(_dot(y, y)))
                # The two-loop recursion: d = -H grad.
                alphas = [0.0] * len(old_dirs)
                q = -flat_grad
                for i in range(len(old_dirs) - 1, -1, -1):
                    alphas[i] = float(dtype(_dot(old_steps[i], q)) * dtype(ro[i]))
                    q = q + dtype(-alphas[i]) * old_dirs[i]
                d = r = q * dtype(h_diag)
                for i in range(len(old_dirs)):
                    beta = float(dtype(_dot(old_dirs[i], r)) * dtype(ro[i]))
                    r += dtype(alphas[i] - beta) * old_steps[i]
            previous_grad = flat_grad.copy()
            previous_loss = loss
            if state["n_iter"] == 1:
                t = min(1.0, 1.0 / float(np.abs(flat_grad).sum())) * lr
            else:
                t = lr
            gtd = _dot(flat_grad, d)
            if gtd > -tolerance_change:
                break
            evaluations = 0
            if line_search_fn is not None:
                if line_search_fn != "strong_wolfe":
                    raise RuntimeError("only 'strong_wolfe' is supported")
                start = [p._data.copy() for p in self._params]

                def directional(step: float, start: list = start,
                                direction: np.ndarray = d) -> tuple[float, np.ndarray]:
                    self._add_step(step, direction)
                    value = float(evaluate())
                    grad = self._flat_grad()
                    self._set_params(start)
                    return value, grad

                loss, flat_grad, t, evaluations = _strong_wolfe(
                    directional, t, d, loss, flat_grad, gtd, max_ls=max_eval - current_evals)
                self._add_step(t, d)
                optimal = np.abs(flat_grad).max() <= tolerance_grad
            else:
                self._add_step(t, d)
                optimal = False
                if iteration != max_iter:
                    loss = float(evaluate())
                    flat_grad = self._flat_grad()
                    optimal = np.abs(flat_grad).max() <= tolerance_grad
                    evaluations = 1
            current_evals += evaluations
            state["func_evals"] += evaluations
            if iteration == max_iter or current_evals >= max_eval or optimal:
                break
            if np.abs(d * dtype(t)).max() <= tolerance_change:
                break
            if abs(loss - previous_loss) < tolerance_change:
                break
        pack = lambda array: None if array is None else wrap(np.array(array))  # noqa: E731
        state["d"] = pack(d)
        state["t"] = t
        state["old_dirs"] = [pack(v) for v in old_dirs]
        state["old_stps"] = [pack(v) for v in old_steps]
        state["ro"] = [wrap(np.asarray(v, dtype=dtype)) for v in ro]
        state["H_diag"] = wrap(np.asarray(h_diag, dtype=dtype))
        state["prev_flat_grad"] = pack(previous_grad)
        state["prev_loss"] = previous_loss
        return original_loss


