"""op_db entries for ops/pointwise.py."""

from ._entry import OpEntry

_NO_DERIVATIVE = {"gradcheck": "PyTorch defines no derivative here (NotImplemented node); "
                               "checked in test_pointwise_semantics",
                  "gradgradcheck": "PyTorch defines no derivative here"}
_INTEGER_ONLY = {"gradcheck": "integer samples: nothing to differentiate",
                 "gradgradcheck": "integer samples: nothing to differentiate"}


def _clamp(lib, x, *bounds):
    if len(bounds) == 2 and isinstance(bounds[1], str):
        return lib.clamp(x, max=bounds[0])
    return lib.clamp(x, *bounds)


ENTRIES = [
    OpEntry("add", "add"),
    OpEntry("sub", "sub"),
    OpEntry("rsub_scalar", lambda lib, x, s: s - x),
    OpEntry("mul", "mul"),
    OpEntry("div", "div"),
    OpEntry("div_rounding", lambda lib, x, y, mode: lib.div(x, y, rounding_mode=mode)),
    OpEntry("floor_divide", "floor_divide", gradcheck=False, gradgradcheck=False,
            skip=_NO_DERIVATIVE),
    OpEntry("remainder", "remainder"),
    OpEntry("remainder_scalar", "remainder"),
    OpEntry("remainder_self_scalar", "remainder", gradcheck=False, gradgradcheck=False,
            skip=_NO_DERIVATIVE),
    OpEntry("fmod", "fmod"),
    OpEntry("fmod_scalar", "fmod"),
    OpEntry("neg", "neg"),
    OpEntry("reciprocal", "reciprocal"),
    OpEntry("addcmul", "addcmul"),
    OpEntry("addcdiv", "addcdiv"),
    OpEntry("pow_tensor_scalar", "pow"),
    OpEntry("pow_tensor_tensor", "pow"),
    OpEntry("pow_scalar_tensor", lambda lib, x, base: base ** x),
    OpEntry("exp", "exp"),
    OpEntry("exp2", "exp2"),
    OpEntry("expm1", "expm1"),
    OpEntry("log", "log"),
    OpEntry("log2", "log2"),
    OpEntry("log10", "log10"),
    OpEntry("log1p", "log1p"),
    OpEntry("sqrt", "sqrt"),
    OpEntry("rsqrt", "rsqrt"),
    OpEntry("sin", "sin"),
    OpEntry("cos", "cos"),
    OpEntry("tan", "tan"),
    OpEntry("asin", "asin"),
    OpEntry("acos", "acos"),
    OpEntry("atan", "atan"),
    OpEntry("sinh", "sinh"),
    OpEntry("cosh", "cosh"),
    OpEntry("tanh", "tanh"),
    OpEntry("asinh", "asinh"),
    OpEntry("acosh", "acosh"),
    OpEntry("atanh", "atanh"),
    OpEntry("sigmoid", "sigmoid"),
    OpEntry("logit", "logit"),
    OpEntry("floor", "floor"),
    OpEntry("ceil", "ceil"),
    OpEntry("trunc", "trunc"),
    OpEntry("round", "round"),
    OpEntry("round_decimals", lambda lib, x, decimals: lib.round(x, decimals=decimals)),
    OpEntry("frac", "frac"),
    OpEntry("abs", "abs"),
    OpEntry("sign", "sign"),
    # PyTorch's sgn gradient for real inputs is a ZeroTensor, which cannot become a numpy array
    # in the generic test: adding a real-zero path keeps the values; the node name of sgn is
    # checked in test_pointwise_semantics.
    OpEntry("sgn", lambda lib, x: lib.sgn(x) + x * 0),
    OpEntry("copysign", "copysign"),
    OpEntry("copysign_scalar", "copysign"),
    OpEntry("nan_to_num", "nan_to_num"),
    OpEntry("clamp_scalar", "clamp"),
    OpEntry("clamp_tensor", _clamp),
    OpEntry("atan2", "atan2"),
    OpEntry("maximum", "maximum"),
    OpEntry("minimum", "minimum"),
    OpEntry("fmax", "fmax"),
    OpEntry("fmin", "fmin"),
    OpEntry("hypot", "hypot"),
    OpEntry("lerp_scalar", "lerp"),
    OpEntry("lerp_tensor", "lerp"),
    OpEntry("xlogy", "xlogy"),
    OpEntry("xlogy_self_scalar", lambda lib, number, y: lib.xlogy(number, y)),
    OpEntry("xlogy_other_scalar", "xlogy"),
    OpEntry("where", lambda lib, x, y, mask: lib.where(mask, x, y)),
    OpEntry("eq", "eq"),
    OpEntry("ne", "ne"),
    OpEntry("lt", "lt"),
    OpEntry("le", "le"),
    OpEntry("gt", "gt"),
    OpEntry("ge", "ge"),
    OpEntry("isclose", "isclose"),
    OpEntry("isnan", "isnan"),
    OpEntry("isinf", "isinf"),
    OpEntry("isfinite", "isfinite"),
    OpEntry("isposinf", "isposinf"),
    OpEntry("isneginf", "isneginf"),
    OpEntry("logical_and", "logical_and"),
    OpEntry("logical_or", "logical_or"),
    OpEntry("logical_xor", "logical_xor"),
    OpEntry("logical_not", "logical_not"),
    OpEntry("bitwise_and", "bitwise_and", gradcheck=False, gradgradcheck=False,
            skip=_INTEGER_ONLY),
    OpEntry("bitwise_or", "bitwise_or", gradcheck=False, gradgradcheck=False,
            skip=_INTEGER_ONLY),
    OpEntry("bitwise_xor", "bitwise_xor", gradcheck=False, gradgradcheck=False,
            skip=_INTEGER_ONLY),
    OpEntry("bitwise_not", "bitwise_not", gradcheck=False, gradgradcheck=False,
            skip=_INTEGER_ONLY),
    OpEntry("fill", lambda lib, x, v: x.clone().fill_(v)),
    OpEntry("zero", lambda lib, x: x.clone().zero_()),
]


def _aten(name):
    """A backward primitive: torch.ops.aten.<name> in PyTorch, the op's function here."""

    def call(lib, *args):
        if lib.__name__ == "torch":
            return getattr(lib.ops.aten, name)(*args)
        return lib.ops.OPS[name].function(*args)

    return call


ENTRIES += [
    OpEntry("tanh_backward", _aten("tanh_backward")),
    OpEntry("sigmoid_backward", _aten("sigmoid_backward")),
]
ENTRIES += [
    OpEntry("clamp_min_scalar", "clamp_min"),
    OpEntry("clamp_min_tensor", "clamp_min"),
    OpEntry("clamp_max_scalar", "clamp_max"),
    OpEntry("clamp_max_tensor", "clamp_max"),
]
