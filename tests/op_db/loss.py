"""op_db entries for ops/loss.py."""

from ._entry import OpEntry

ENTRIES: list[OpEntry] = []
