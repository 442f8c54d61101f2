"""op_db entries for ops/activation.py."""

from ._entry import OpEntry

ENTRIES: list[OpEntry] = []
