"""op_db entries for ops/special.py."""

from ._entry import OpEntry

ENTRIES = [
    OpEntry("erf", "erf"),
    OpEntry("erfc", "erfc"),
    OpEntry("erfinv", "erfinv"),
    OpEntry("lgamma", "lgamma"),
    OpEntry("digamma", "digamma"),
    OpEntry("polygamma", lambda lib, x, n: lib.polygamma(n, x)),
]
