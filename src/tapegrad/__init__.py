"""tapegrad: PyTorch's autograd rebuilt in Python on NumPy.

``import tapegrad as torch`` gives tensors that record the operations done on them and play the
graph backward for gradients, with PyTorch's names, defaults, dtypes, printing and errors.
"""

from __future__ import annotations

import builtins  # `bool`, `int` and `float` are dtypes in this namespace
from typing import Any

from . import _dtype, autograd
from . import ops as _ops
from ._creation import (
    Generator,
    arange,
    as_tensor,
    bernoulli,
    default_generator,
    empty,
    empty_like,
    eye,
    from_numpy,
    full,
    full_like,
    get_rng_state,
    initial_seed,
    linspace,
    logspace,
    manual_seed,
    multinomial,
    normal,
    ones,
    ones_like,
    rand,
    rand_like,
    randint,
    randint_like,
    randn,
    randn_like,
    randperm,
    seed,
    set_rng_state,
    tensor,
    zeros,
    zeros_like,
)
from ._dtype import (
    bool,
    complex64,
    complex128,
    dtype,
    float16,
    float32,
    float64,
    get_default_dtype,
    int8,
    int16,
    int32,
    int64,
    promote_types,
    set_default_dtype,
    uint8,
)
from ._printing import get_printoptions, set_printoptions
from ._tensor import Size, Tensor, device
from .autograd.grad_mode import (
    enable_grad,
    inference_mode,
    is_grad_enabled,
    is_inference_mode_enabled,
    no_grad,
    set_grad_enabled,
)

__version__ = "0.1.0"

# Dtype aliases, as torch spells them.
half, float, double = float16, float32, float64  # noqa: A001
cfloat, cdouble = complex64, complex128
short, int, long = int16, int32, int64  # noqa: A001

strided = "torch.strided"
contiguous_format = preserve_format = channels_last = None

globals().update(_ops.FUNCTIONS)


def is_tensor(obj: Any) -> builtins.bool:
    """See torch.is_tensor."""
    return isinstance(obj, Tensor)


def is_floating_point(input: Tensor) -> builtins.bool:
    return input.is_floating_point()


def is_complex(input: Tensor) -> builtins.bool:
    return input.is_complex()


def numel(input: Tensor) -> builtins.int:
    return input.numel()


def result_type(tensor1: Any, tensor2: Any) -> dtype:
    """See torch.result_type."""
    from ._dispatch import common_dtype

    return common_dtype((tensor1, tensor2))


def can_cast(from_: dtype, to: dtype) -> builtins.bool:
    return from_.category <= to.category if from_.category != to.category else True


def save(obj: Any, f: Any, **kwargs: Any) -> None:
    """Save tensors and state_dicts in a data-only format; see tapegrad.serialization.save."""
    from .serialization import save as save_data

    save_data(obj, f, **kwargs)


def load(f: Any, **kwargs: Any) -> Any:
    """Load what save wrote (never runs code); see tapegrad.serialization.load."""
    from .serialization import load as load_data

    return load_data(f, **kwargs)


# Submodules load on first use, which keeps `import tapegrad` quick; `tapegrad.nn`,
# `import tapegrad.nn` and `from tapegrad import nn` all work as with torch.
_LAZY_SUBMODULES = ("nn", "optim", "func", "utils", "linalg", "special", "viz", "fft",
                    "testing", "serialization")


def __getattr__(name: str) -> Any:
    import importlib

    if name in _LAZY_SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'tapegrad' has no attribute '{name}'")
