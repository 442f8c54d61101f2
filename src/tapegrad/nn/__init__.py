"""torch.nn for tapegrad (Parameter today; modules and functional build on the op table)."""

from .parameter import Parameter

__all__ = ["Parameter"]
