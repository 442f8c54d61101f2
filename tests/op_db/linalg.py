"""op_db entries for ops/linalg.py."""

from ._entry import OpEntry


def _well_conditioned(lib, A):
    """A + 3 I: keeps random samples far from singular, so finite differences are stable."""
    return A + 3 * lib.eye(A.shape[-1], dtype=A.dtype)


def _positive_definite(lib, A):
    return A @ A.mT + lib.eye(A.shape[-1], dtype=A.dtype)


def _eigh(lib, A, UPLO="L"):
    """Eigenvectors are unique up to sign, which LAPACK builds may choose differently: fix the
    sign by the first row so both libraries are compared on the same vectors."""
    values, vectors = lib.linalg.eigh(A + A.mT, UPLO)
    return values, vectors * vectors[..., :1, :].sign()


def _svd(lib, A, full_matrices=True):
    """Singular vectors fixed up to sign as in _eigh (U's column signs carried over to Vh)."""
    U, S, Vh = lib.linalg.svd(A, full_matrices=full_matrices)
    k = S.shape[-1]
    signs = U[..., :1, :k].sign()
    return U[..., :, :k] * signs, S, Vh[..., :k, :] * signs.mT


ENTRIES = [
    OpEntry("dot", "dot"),
    OpEntry("vdot", "vdot"),
    OpEntry("mm", "mm"),
    OpEntry("mv", "mv"),
    OpEntry("bmm", "bmm"),
    OpEntry("addmm", "addmm"),
    OpEntry("addmv", "addmv"),
    OpEntry("baddbmm", "baddbmm"),
    OpEntry("matmul_batched", "matmul"),
    OpEntry("matmul_squeeze", "matmul"),
    OpEntry("matmul_unsafe_view", "matmul"),
    OpEntry("cross", lambda lib, a, b, dim=-1: lib.linalg.cross(a, b, dim=dim)),
    OpEntry("inv", lambda lib, A: lib.linalg.inv(_well_conditioned(lib, A))),
    OpEntry("det", "linalg.det"),
    OpEntry("slogdet", lambda lib, A: lib.linalg.slogdet(_well_conditioned(lib, A))),
    OpEntry("solve", lambda lib, A, B, **kwargs: lib.linalg.solve(_well_conditioned(lib, A), B,
                                                                   **kwargs)),
    OpEntry("linalg_cholesky", lambda lib, A, upper=False: lib.linalg.cholesky(
        _positive_definite(lib, A), upper=upper)),
    OpEntry("cholesky", lambda lib, A, upper=False: lib.cholesky(_positive_definite(lib, A),
                                                                 upper)),
    OpEntry("qr", "linalg.qr"),
    OpEntry("eigh", _eigh),
    OpEntry("svd", _svd),
    OpEntry("pinv", "linalg.pinv"),
    OpEntry("lstsq", "linalg.lstsq"),
    OpEntry("matrix_exp", "linalg.matrix_exp"),
]
