"""torch.linalg for tapegrad: norms (decompositions and solvers build on ops/linalg.py)."""

from __future__ import annotations

from .ops.reduction import vector_norm

__all__ = ["vector_norm"]
