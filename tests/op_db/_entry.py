"""OpEntry: how the generic tests reach one primitive in tapegrad and in PyTorch."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class OpEntry:
    """``call`` is a dotted path resolved in both libraries ("add", "nn.functional.relu",
    "Tensor.expand") or ``f(lib, *args, **kwargs)`` written once for both."""

    op: str
    call: str | Callable[..., Any]
    atol: float = 1e-7
    rtol: float = 1e-6
    gradcheck: bool = True
    gradgradcheck: bool = True
    # Element-wise ops whose derivative jumps (abs, relu...) keep samples away from the kinks.
    skip: dict[str, str] = field(default_factory=dict)  # test name -> reason
