"""op_db entries for ops/reduction.py."""

from ._entry import OpEntry

_PIECEWISE = {"gradcheck": "finite differences straddle the selection's kinks",
              "gradgradcheck": "finite differences straddle the selection's kinks"}

ENTRIES = [
    OpEntry("sum_all", "sum"),
    OpEntry("sum_dim", "sum"),
    OpEntry("mean_all", "mean"),
    OpEntry("mean_dim", "mean"),
    OpEntry("vector_norm", "linalg.vector_norm"),
    OpEntry("nansum", "nansum"),
    OpEntry("prod_all", "prod"),
    OpEntry("prod_dim", "prod"),
    OpEntry("max_all", "max"),
    OpEntry("min_all", "min"),
    OpEntry("max_dim", "max"),
    OpEntry("min_dim", "min"),
    OpEntry("amax", "amax"),
    OpEntry("amin", "amin"),
    OpEntry("aminmax", "aminmax"),
    OpEntry("argmax", "argmax"),
    OpEntry("argmin", "argmin"),
    OpEntry("var", lambda lib, x, dim=None, correction=1, keepdim=False: lib.var(
        x, dim, correction=correction, keepdim=keepdim)),
    OpEntry("std", lambda lib, x, dim=None, correction=1, keepdim=False: lib.std(
        x, dim, correction=correction, keepdim=keepdim)),
    OpEntry("var_mean", lambda lib, x, dim=None, correction=1, keepdim=False: lib.var_mean(
        x, dim, correction=correction, keepdim=keepdim)),
    OpEntry("std_mean", lambda lib, x, dim=None, correction=1, keepdim=False: lib.std_mean(
        x, dim, correction=correction, keepdim=keepdim)),
    OpEntry("logsumexp", "logsumexp"),
    OpEntry("cumsum", "cumsum"),
    OpEntry("cumprod", "cumprod"),
    OpEntry("cummax", "cummax"),
    OpEntry("cummin", "cummin"),
    OpEntry("all", "all"),
    OpEntry("any", "any"),
    OpEntry("count_nonzero", "count_nonzero"),
    OpEntry("sort", "sort"),
    OpEntry("sort_stable", "sort"),
    OpEntry("topk", "topk"),
    OpEntry("kthvalue", "kthvalue"),
    OpEntry("median_all", "median"),
    OpEntry("median_dim", "median"),
    OpEntry("mode", "mode"),
    # unique's outputs are integers here (no gradient in either library to compare).
    OpEntry("unique", lambda lib, x: lib.unique(x, return_inverse=True, return_counts=True),
            gradcheck=False, gradgradcheck=False,
            skip={"gradcheck": "not differentiable (PyTorch raises at backward too)",
                  "gradgradcheck": "not differentiable (PyTorch raises at backward too)"}),
    OpEntry("unique_dim", lambda lib, x, s, i, c, dim: lib.unique(
        x, return_inverse=True, return_counts=True, dim=dim),
            gradcheck=False, gradgradcheck=False,
            skip={"gradcheck": "not differentiable (PyTorch raises at backward too)",
                  "gradgradcheck": "not differentiable (PyTorch raises at backward too)"}),
]
