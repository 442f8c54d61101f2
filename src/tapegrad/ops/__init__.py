"""Every differentiable primitive, grouped by family; importing this registers them all."""

from . import (  # noqa: F401 - imported for their registrations
    activation,
    indexing,
    linalg,
    loss,
    nn_ops,
    pointwise,
    reduction,
    rnn,
    shape,
    special,
)
from ._code_cache import save_code_cache
from ._registry import FUNCTIONS, METHODS, OPS, install_methods

install_methods()
save_code_cache()

__all__ = ["FUNCTIONS", "METHODS", "OPS"]
