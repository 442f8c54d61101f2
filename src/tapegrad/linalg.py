"""torch.linalg for tapegrad: the decompositions, solvers and norms declared in ops/linalg.py
(vector_norm lives with the reductions)."""

from __future__ import annotations

from .ops.linalg import (
    LinAlgError,
    det,
    eigh,
    eigvalsh,
    inv,
    lstsq,
    matmul,
    matrix_exp,
    matrix_norm,
    matrix_power,
    norm,
    pinv,
    qr,
    slogdet,
    solve,
    svd,
    svdvals,
    vecdot,
)
from .ops.linalg import cholesky_linalg as cholesky
from .ops.linalg import linalg_cross as cross
from .ops.reduction import vector_norm

__all__ = ["LinAlgError", "cholesky", "cross", "det", "eigh", "eigvalsh", "inv", "lstsq",
           "matmul", "matrix_exp", "matrix_norm", "matrix_power", "norm", "pinv", "qr", "slogdet",
           "solve", "svd", "svdvals", "vecdot", "vector_norm"]
