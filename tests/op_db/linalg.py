"""op_db entries for ops/linalg.py."""

from ._entry import OpEntry

ENTRIES = [
    OpEntry("dot", "dot"),
    OpEntry("mm", "mm"),
    OpEntry("mv", "mv"),
    OpEntry("bmm", "bmm"),
    OpEntry("matmul_batched", "matmul"),
]
