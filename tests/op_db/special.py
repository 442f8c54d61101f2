"""op_db entries for ops/special.py."""

from ._entry import OpEntry

ENTRIES: list[OpEntry] = []
