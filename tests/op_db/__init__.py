"""The op table for the generic tests: each primitive's PyTorch reference, how to call it, and
tolerances. One family file per ops/ family file; an entry is one line."""

from __future__ import annotations

from ._entry import OpEntry
from .activation import ENTRIES as _ACTIVATION
from .indexing import ENTRIES as _INDEXING
from .linalg import ENTRIES as _LINALG
from .loss import ENTRIES as _LOSS
from .nn_ops import ENTRIES as _NN_OPS
from .pointwise import ENTRIES as _POINTWISE
from .reduction import ENTRIES as _REDUCTION
from .rnn import ENTRIES as _RNN
from .shape import ENTRIES as _SHAPE
from .special import ENTRIES as _SPECIAL

OP_DB: dict[str, OpEntry] = {}
for _entry in (*_POINTWISE, *_SPECIAL, *_ACTIVATION, *_REDUCTION, *_SHAPE, *_INDEXING,
               *_LINALG, *_NN_OPS, *_LOSS, *_RNN):
    if _entry.op in OP_DB:
        raise ValueError(f"op {_entry.op} listed twice in op_db")
    OP_DB[_entry.op] = _entry

__all__ = ["OP_DB", "OpEntry"]
