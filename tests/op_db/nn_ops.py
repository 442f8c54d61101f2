"""op_db entries for ops/nn_ops.py."""

from ._entry import OpEntry

ENTRIES: list[OpEntry] = []
