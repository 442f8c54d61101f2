"""op_db entries for ops/activation.py."""

from ._entry import OpEntry
from .pointwise import _aten

SELU_ALPHA = 1.6732632423543772


def _elu_like(lib, x, alpha, scale, input_scale, inplace=False):
    # The op's (alpha, scale, input_scale) samples reach elu, selu and celu as PyTorch has them.
    functional = lib.nn.functional
    if input_scale != 1.0:
        return functional.celu(x.clone() if inplace else x, alpha, inplace=inplace)
    if alpha == SELU_ALPHA:
        return functional.selu(x.clone() if inplace else x, inplace=inplace)
    return functional.elu(x.clone() if inplace else x, alpha, inplace=inplace)


def _celu(lib, x, alpha, scale, input_scale, inplace=False):
    return lib.nn.functional.celu(x.clone() if inplace else x, alpha, inplace=inplace)


ENTRIES = [
    OpEntry("relu", "relu"),
    OpEntry("hardtanh", "nn.functional.hardtanh"),
    OpEntry("leaky_relu", "nn.functional.leaky_relu"),
    OpEntry("leaky_relu_inplace",
            lambda lib, x, slope: lib.nn.functional.leaky_relu(x.clone(), slope, inplace=True)),
    OpEntry("elu", _elu_like),
    OpEntry("elu_inplace", lambda lib, *args: _elu_like(lib, *args, inplace=True)),
    OpEntry("celu", _celu),
    OpEntry("celu_inplace", lambda lib, *args: _celu(lib, *args, inplace=True)),
    OpEntry("gelu", lambda lib, x, approximate: lib.nn.functional.gelu(x, approximate=approximate)),
    OpEntry("silu", "nn.functional.silu"),
    OpEntry("mish", "nn.functional.mish"),
    OpEntry("softplus", "nn.functional.softplus"),
    OpEntry("hardsigmoid", "nn.functional.hardsigmoid"),
    OpEntry("hardswish", "nn.functional.hardswish"),
    OpEntry("logsigmoid", "nn.functional.logsigmoid"),
    OpEntry("threshold", "nn.functional.threshold"),
    OpEntry("threshold_inplace",
            lambda lib, x, t, v: lib.nn.functional.threshold(x.clone(), t, v, inplace=True)),
    OpEntry("hardshrink", "nn.functional.hardshrink"),
    OpEntry("softshrink", "nn.functional.softshrink"),
    OpEntry("prelu", "nn.functional.prelu"),
    OpEntry("rrelu", "nn.functional.rrelu"),
    OpEntry("rrelu_inplace",
            lambda lib, x, lower, upper: lib.nn.functional.rrelu(x.clone(), lower, upper,
                                                                 inplace=True)),
    OpEntry("glu", "nn.functional.glu"),
    OpEntry("softmax", "nn.functional.softmax"),
    OpEntry("log_softmax", "nn.functional.log_softmax"),
]

ENTRIES.append(OpEntry("threshold_backward", _aten("threshold_backward")))
