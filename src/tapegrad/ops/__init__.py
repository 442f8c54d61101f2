"""Every differentiable primitive, grouped by family; importing this registers them all."""

from . import indexing, linalg, pointwise, reduction, shape  # noqa: F401
from ._registry import FUNCTIONS, METHODS, OPS, install_methods

install_methods()

__all__ = ["FUNCTIONS", "METHODS", "OPS"]
