"""op_db entries for ops/shape.py."""

from ._entry import OpEntry

ENTRIES = [
    OpEntry("view", "Tensor.view"),
    OpEntry("expand", "Tensor.expand"),
    OpEntry("permute", "permute"),
    OpEntry("transpose", "transpose"),
    OpEntry("t", "t"),
    OpEntry("unsqueeze", "unsqueeze"),
    OpEntry("squeeze_all", "squeeze"),
    OpEntry("squeeze_dim", "squeeze"),
    OpEntry("squeeze_dims", "squeeze"),
    OpEntry("clone", "clone"),
    OpEntry("to_dtype", "Tensor.to", gradcheck=False, gradgradcheck=False,
            skip={"gradcheck": "float32 output: finite differences too coarse",
                  "gradgradcheck": "float32 output: finite differences too coarse"}),
]
