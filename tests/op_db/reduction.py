"""op_db entries for ops/reduction.py."""

from ._entry import OpEntry

ENTRIES = [
    OpEntry("sum_all", "sum"),
    OpEntry("sum_dim", "sum"),
    OpEntry("mean_all", "mean"),
    OpEntry("mean_dim", "mean"),
    OpEntry("vector_norm", "linalg.vector_norm"),
]
