"""RMSprop, Adagrad, Adadelta, Adamax, NAdam and RAdam, as torch.optim (single-tensor path)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from .adam import check_betas, run_closure
from .optimizer import (
    Optimizer,
    addcdiv_,
    addcmul_,
    lerp_,
    new_step,
    stepped,
    updated,
    updating,
    zeros_like_param,
)


def _check(name: str, value: float) -> None:
    if not 0.0 <= value:
        raise ValueError(f"Invalid {name}: {value}")


class RMSprop(Optimizer):
    """See torch.optim.RMSprop (centered, momentum)."""

    def __init__(self, params: Iterable[Any], lr: float = 1e-2, alpha: float = 0.99,
                 eps: float = 1e-8, weight_decay: float = 0, momentum: float = 0,
                 centered: bool = False, capturable: bool = False, foreach: Any = None,
                 maximize: bool = False, differentiable: bool = False) -> None:
        _check("learning rate", lr)
        _check("epsilon value", eps)
        _check("momentum value", momentum)
        _check("weight_decay value", weight_decay)
        _check("alpha value", alpha)
        defaults = dict(lr=lr, momentum=momentum, alpha=alpha, eps=eps, centered=centered,
                        weight_decay=weight_decay, capturable=capturable, foreach=foreach,
                        maximize=maximize, differentiable=differentiable)
        super().__init__(params, defaults)

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        loss = run_closure(closure)
        with updating():
            for group in self.param_groups:
                lr, alpha, eps = group["lr"], group["alpha"], group["eps"]
                momentum, weight_decay = group["momentum"], group["weight_decay"]
                buffers = {"square_avg": 0.0}
                if momentum > 0:
                    buffers["momentum_buffer"] = 0.0
                if group["centered"]:
                    buffers["grad_avg"] = 0.0
                for param, grad, state in stepped(self, group, buffers):
                    data = param._data
                    kind = data.dtype.type
                    if weight_decay != 0:
                        grad = grad + kind(weight_decay) * data
                    square_avg = state["square_avg"]._data
                    square_avg *= kind(alpha)
                    addcmul_(square_avg, grad, grad, 1 - alpha)
                    if group["centered"]:
                        grad_avg = state["grad_avg"]._data
                        lerp_(grad_avg, grad, 1 - alpha)
                        average = np.sqrt(square_avg + kind(-1) * grad_avg * grad_avg)
                    else:
                        average = np.sqrt(square_avg)
                    average = average + kind(eps)
                    if momentum > 0:
                        buffer = state["momentum_buffer"]._data
                        buffer *= kind(momentum)
                        buffer += grad / average
                        data += kind(-lr) * buffer
                    else:
                        addcdiv_(data, grad, average, -lr)
                    updated(param)
        return loss


class Adagrad(Optimizer):
    """See torch.optim.Adagrad (lr_decay, initial_accumulator_value)."""

    def __init__(self, params: Iterable[Any], lr: float = 1e-2, lr_decay: float = 0,
                 weight_decay: float = 0, initial_accumulator_value: float = 0,
                 eps: float = 1e-10, foreach: Any = None, *, maximize: bool = False,
                 differentiable: bool = False, fused: Any = None) -> None:
        _check("learning rate", lr)
        _check("lr_decay value", lr_decay)
        _check("weight_decay value", weight_decay)
        _check("initial_accumulator_value value", initial_accumulator_value)
        _check("epsilon value", eps)
        defaults = dict(lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, foreach=foreach,
                        maximize=maximize, differentiable=differentiable, fused=fused)
        super().__init__(params, defaults)
        # Adagrad's state exists from construction, as PyTorch's.
        for group in self.param_groups:
            for param in group["params"]:
                self.state[param] = {"step": new_step(), "sum": zeros_like_param(
                    param, group["initial_accumulator_value"])}

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        loss = run_closure(closure)
        with updating():
            for group in self.param_groups:
                lr, eps, weight_decay = group["lr"], group["eps"], group["weight_decay"]
                buffers = {"sum": group["initial_accumulator_value"]}
                for param, grad, state in stepped(self, group, buffers):
                    data = param._data
                    kind = data.dtype.type
                    step = float(state["step"]._data)
                    if weight_decay != 0:
                        grad = grad + kind(weight_decay) * data
                    current_lr = lr / (1 + (step - 1) * group["lr_decay"])
                    total = state["sum"]._data
                    addcmul_(total, grad, grad, 1)
                    addcdiv_(data, grad, np.sqrt(total) + kind(eps), -current_lr)
                    updated(param)
        return loss


class Adadelta(Optimizer):
    """See torch.optim.Adadelta."""

    def __init__(self, params: Iterable[Any], lr: float = 1.0, rho: float = 0.9,
                 eps: float = 1e-6, weight_decay: float = 0, foreach: Any = None, *,
                 capturable: bool = False, maximize: bool = False,
                 differentiable: bool = False) -> None:
        _check("learning rate", lr)
        if not 0.0 <= rho <= 1.0:
            raise ValueError(f"Invalid rho value: {rho}")
        _check("epsilon value", eps)
        _check("weight_decay value", weight_decay)
        defaults = dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize,
                        capturable=capturable, foreach=foreach, differentiable=differentiable)
        super().__init__(params, defaults)

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        loss = run_closure(closure)
        with updating():
            for group in self.param_groups:
                lr, rho, eps = group["lr"], group["rho"], group["eps"]
                weight_decay = group["weight_decay"]
                for param, grad, state in stepped(self, group,
                                                  {"square_avg": 0.0, "acc_delta": 0.0}):
                    data = param._data
                    kind = data.dtype.type
                    if weight_decay != 0:
                        grad = grad + kind(weight_decay) * data
                    square_avg, acc_delta = state["square_avg"]._data, state["acc_delta"]._data
                    square_avg *= kind(rho)
                    addcmul_(square_avg, grad, grad, 1 - rho)
                    std = np.sqrt(square_avg + kind(eps))
                    delta = np.sqrt(acc_delta + kind(eps))
                    delta = delta / std * grad
                    acc_delta *= kind(rho)
                    addcmul_(acc_delta, delta, delta, 1 - rho)
                    data += kind(-lr) * delta
                    updated(param)
        return loss


class Adamax(Optimizer):
    """Adam with the infinity norm; see torch.optim.Adamax."""

    def __init__(self, params: Iterable[Any], lr: float = 2e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, foreach: Any = None, *, maximize: bool = False,
                 differentiable: bool = False, capturable: bool = False) -> None:
        check_betas(lr, eps, betas, weight_decay)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, foreach=foreach,
                        maximize=maximize, differentiable=differentiable, capturable=capturable)
        super().__init__(params, defaults)

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        loss = run_closure(closure)
        with updating():
            for group in self.param_groups:
                beta1, beta2 = group["betas"]
                lr, eps, weight_decay = group["lr"], group["eps"], group["weight_decay"]
                for param, grad, state in stepped(self, group, {"exp_avg": 0.0, "exp_inf": 0.0}):
                    data = param._data
                    kind = data.dtype.type
                    if weight_decay != 0:
                        grad = grad + kind(weight_decay) * data
                    exp_avg, exp_inf = state["exp_avg"]._data, state["exp_inf"]._data
                    lerp_(exp_avg, grad, 1 - beta1)
                    exp_inf *= kind(beta2)
                    np.maximum(exp_inf, np.abs(grad) + kind(eps), out=exp_inf)
                    current_lr = lr / (1 - beta1 ** float(state["step"]._data))
                    addcdiv_(data, exp_avg, exp_inf, -current_lr)
                    updated(param)
        return loss


class NAdam(Optimizer):
    """Adam with Nesterov momentum; see torch.optim.NAdam."""

    def __init__(self, params: Iterable[Any], lr: float = 2e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, momentum_decay: float = 4e-3,
                 decoupled_weight_decay: bool = False, *, foreach: Any = None,
                 maximize: bool = False, capturable: bool = False,
                 differentiable: bool = False) -> None:
        check_betas(lr, eps, betas, weight_decay)
        _check("momentum_decay value", momentum_decay)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                        momentum_decay=momentum_decay,
                        decoupled_weight_decay=decoupled_weight_decay, maximize=maximize,
                        foreach=foreach, capturable=capturable, differentiable=differentiable)
        super().__init__(params, defaults)

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        from .._tensor import wrap

        loss = run_closure(closure)
        with updating():
            for group in self.param_groups:
                beta1, beta2 = group["betas"]
                lr, eps, weight_decay = group["lr"], group["eps"], group["weight_decay"]
                momentum_decay = group["momentum_decay"]
                buffers = {"mu_product": lambda param: wrap(np.ones((), dtype=np.float32)),
                           "exp_avg": 0.0, "exp_avg_sq": 0.0}
                for param, grad, state in stepped(self, group, buffers):
                    data = param._data
                    kind = data.dtype.type
                    step = float(state["step"]._data)
                    correction2 = 1 - beta2**step
                    if weight_decay != 0:
                        if group["decoupled_weight_decay"]:
                            data *= kind(1 - lr * weight_decay)
                        else:
                            grad = grad + kind(weight_decay) * data
                    mu = beta1 * (1.0 - 0.5 * (0.96 ** (step * momentum_decay)))
                    mu_next = beta1 * (1.0 - 0.5 * (0.96 ** ((step + 1) * momentum_decay)))
                    mu_product = state["mu_product"]._data
                    mu_product *= np.float32(mu)
                    exp_avg, exp_avg_sq = state["exp_avg"]._data, state["exp_avg_sq"]._data
                    lerp_(exp_avg, grad, 1 - beta1)
                    exp_avg_sq *= kind(beta2)
                    addcmul_(exp_avg_sq, grad, grad, 1 - beta2)
                    denom = np.sqrt(exp_avg_sq / kind(correction2)) + kind(eps)
                    product = float(mu_product)
                    product_next = product * mu_next
                    addcdiv_(data, grad, denom, -lr * (1.0 - mu) / (1.0 - product))
                    addcdiv_(data, exp_avg, denom, (-lr * mu_next) / (1.0 - product_next))
                    updated(param)
        return loss


class RAdam(Optimizer):
    """Rectified Adam; see torch.optim.RAdam."""

    def __init__(self, params: Iterable[Any], lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, decoupled_weight_decay: bool = False, *,
                 foreach: Any = None, maximize: bool = False, capturable: bool = False,
                 differentiable: bool = False) -> None:
        check_betas(lr, eps, betas, weight_decay)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                        maximize=maximize, foreach=foreach, capturable=capturable,
                        decoupled_weight_decay=decoupled_weight_decay,
                        differentiable=differentiable)
        super().__init__(params, defaults)

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        loss = run_closure(closure)
        with updating():
            for group in self.param_groups:
                beta1, beta2 = group["betas"]
                lr, eps, weight_decay = group["lr"], group["eps"], group["weight_decay"]
                for param, grad, state in stepped(self, group,
                                                  {"exp_avg": 0.0, "exp_avg_sq": 0.0}):
                    data = param._data
                    kind = data.dtype.type
                    step = float(state["step"]._data)
                    if weight_decay != 0:
                        if group["decoupled_weight_decay"]:
                            data *= kind(1 - lr * weight_decay)
                        else:
                            grad = grad + kind(weight_decay) * data
                    exp_avg, exp_avg_sq = state["exp_avg"]._data, state["exp_avg_sq"]._data
                    lerp_(exp_avg, grad, 1 - beta1)
                    exp_avg_sq *= kind(beta2)
                    addcmul_(exp_avg_sq, grad, grad, 1 - beta2)
                    correction1 = 1 - beta1**step
                    correction2 = 1 - beta2**step
                    corrected = exp_avg / kind(correction1)
                    rho_inf = 2 / (1 - beta2) - 1
                    rho_t = rho_inf - 2 * step * (beta2**step) / correction2
                    if rho_t > 5.0:
                        adaptive = kind(correction2**0.5) / (np.sqrt(exp_avg_sq) + kind(eps))
                        rect = ((rho_t - 4) * (rho_t - 2) * rho_inf
                                / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) ** 0.5
                        data -= corrected * kind(lr) * adaptive * kind(rect)
                    else:
                        data -= corrected * kind(lr)
                    updated(param)
        return loss
