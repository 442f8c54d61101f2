"""SGD with momentum, dampening, Nesterov, weight decay and maximize, as torch.optim.SGD."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from ..autograd.grad_mode import enable_grad
from .optimizer import Optimizer, add_scaled_, updating


class SGD(Optimizer):
    """Stochastic gradient descent; the update order matches PyTorch step for step."""

    def __init__(self, params: Iterable[Any], lr: float = 1e-3, momentum: float = 0,
                 dampening: float = 0, weight_decay: float = 0, nesterov: bool = False, *,
                 maximize: bool = False, foreach: Any = None, differentiable: bool = False,
                 fused: Any = None) -> None:
        if lr < 0.0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if momentum < 0.0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if weight_decay < 0.0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening,
                        weight_decay=weight_decay, nesterov=nesterov, maximize=maximize,
                        foreach=foreach, differentiable=differentiable, fused=fused)
        super().__init__(params, defaults)

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """One update of every parameter that has a gradient."""
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        with updating():
            for group in self.param_groups:
                lr, momentum, dampening = group["lr"], group["momentum"], group["dampening"]
                weight_decay, nesterov = group["weight_decay"], group["nesterov"]
                for param in group["params"]:
                    grad = param._grad
                    if grad is None:
                        continue
                    grad = -grad if group["maximize"] else grad
                    if weight_decay != 0:
                        grad = grad + weight_decay * param
                    if momentum != 0:
                        state = self.state.setdefault(param, {})
                        buffer = state.get("momentum_buffer")
                        if buffer is None:
                            buffer = state["momentum_buffer"] = grad.clone()
                        else:
                            buffer.mul_(momentum).add_(grad, alpha=1 - dampening)
                        grad = grad + momentum * buffer if nesterov else buffer
                    add_scaled_(param, grad, -lr)
        return loss
