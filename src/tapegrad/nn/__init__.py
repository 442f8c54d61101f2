"""torch.nn for tapegrad: Parameter, functional, and (growing) modules and init."""

from . import functional
from .parameter import Parameter

__all__ = ["Parameter", "functional"]
