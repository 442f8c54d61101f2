"""Adam and AdamW (amsgrad, weight decay coupled or decoupled, maximize), as torch.optim."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from ..autograd.grad_mode import enable_grad
from .optimizer import (
    Optimizer,
    addcdiv_,
    addcmul_,
    lerp_,
    stepped,
    updated,
    updating,
)


def check_betas(lr: float, eps: float, betas: tuple[float, float], weight_decay: float) -> None:
    if not 0.0 <= lr:
        raise ValueError(f"Invalid learning rate: {lr}")
    if not 0.0 <= eps:
        raise ValueError(f"Invalid epsilon value: {eps}")
    if not 0.0 <= betas[0] < 1.0:
        raise ValueError(f"Invalid beta parameter at index 0: {betas[0]}")
    if not 0.0 <= betas[1] < 1.0:
        raise ValueError(f"Invalid beta parameter at index 1: {betas[1]}")
    if not 0.0 <= weight_decay:
        raise ValueError(f"Invalid weight_decay value: {weight_decay}")


def run_closure(closure: Callable[[], Any] | None) -> Any:
    if closure is None:
        return None
    with enable_grad():
        return closure()


class Adam(Optimizer):
    """See torch.optim.Adam; the update order matches PyTorch's single-tensor path."""

    def __init__(self, params: Iterable[Any], lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, amsgrad: bool = False, *, foreach: Any = None,
                 maximize: bool = False, capturable: bool = False, differentiable: bool = False,
                 fused: Any = None, decoupled_weight_decay: bool = False) -> None:
        check_betas(lr, eps, betas, weight_decay)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                        maximize=maximize, foreach=foreach, capturable=capturable,
                        differentiable=differentiable, fused=fused,
                        decoupled_weight_decay=decoupled_weight_decay)
        super().__init__(params, defaults)

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """One Adam update of every parameter that has a gradient."""
        loss = run_closure(closure)
        with updating():
            for group in self.param_groups:
                beta1, beta2 = group["betas"]
                lr, eps, weight_decay = group["lr"], group["eps"], group["weight_decay"]
                buffers = {"exp_avg": 0.0, "exp_avg_sq": 0.0}
                if group["amsgrad"]:
                    buffers["max_exp_avg_sq"] = 0.0
                for param, grad, state in stepped(self, group, buffers):
                    data = param._data
                    exp_avg, exp_avg_sq = state["exp_avg"]._data, state["exp_avg_sq"]._data
                    if weight_decay != 0:
                        if group["decoupled_weight_decay"]:
                            data *= data.dtype.type(1 - lr * weight_decay)
                        else:
                            grad = grad + data.dtype.type(weight_decay) * data
                    lerp_(exp_avg, grad, 1 - beta1)
                    exp_avg_sq *= exp_avg_sq.dtype.type(beta2)
                    addcmul_(exp_avg_sq, grad, grad, 1 - beta2)
                    step = float(state["step"]._data)
                    step_size = lr / (1 - beta1**step)
                    correction2_sqrt = (1 - beta2**step) ** 0.5
                    if group["amsgrad"]:
                        maximum = state["max_exp_avg_sq"]._data
                        np.maximum(maximum, exp_avg_sq, out=maximum)
                        denom = np.sqrt(maximum) / correction2_sqrt + data.dtype.type(eps)
                    else:
                        denom = np.sqrt(exp_avg_sq) / correction2_sqrt + data.dtype.type(eps)
                    addcdiv_(data, exp_avg, denom, -step_size)
                    updated(param)
        return loss


class AdamW(Adam):
    """Adam with decoupled weight decay; see torch.optim.AdamW."""

    def __init__(self, params: Iterable[Any], lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 1e-2, amsgrad: bool = False, *, maximize: bool = False,
                 foreach: Any = None, capturable: bool = False, differentiable: bool = False,
                 fused: Any = None) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, foreach=foreach,
                         maximize=maximize, capturable=capturable,
                         differentiable=differentiable, fused=fused,
                         decoupled_weight_decay=True)
