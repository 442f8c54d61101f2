"""Element-wise ops: arithmetic, powers, exponentials, trigonometry, rounding, clamping,
comparisons, logical and bitwise ops.

Rules are written with tapegrad ops so that create_graph gives higher derivatives. For these
element-wise ops the same per-input rule, applied to a tangent instead of a gradient, is the
forward-mode (JVP) rule; ``kind="elementwise"`` marks that. Subgradients at kinks are PyTorch's;
tests/test_pointwise_semantics.py checks each one against torch.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from .._backend import constant, quiet
from .._dispatch import FAST_TYPES, broadcast_mismatch, check_inplace, common_dtype, write_inplace
from .._tensor import Tensor, wrap
from . import _samples as samples
from ._registry import FUNCTIONS, METHODS, OPS, defop, public

E = "elementwise"
Sample = samples.Sample
NAN = float("nan")

# PyTorch's legacy scalar-type names, as its kernels print them in dtype errors.
_LEGACY_NAMES = {"int64": "Long", "int32": "Int", "int16": "Short", "int8": "Char",
                 "uint8": "Byte", "bool": "Bool", "float16": "Half", "float32": "Float",
                 "float64": "Double", "complex64": "ComplexFloat", "complex128": "ComplexDouble"}


def legacy_name(array: Any) -> str:
    """PyTorch's kernel name for an array's dtype ('Long', 'Float', ...)."""
    return _LEGACY_NAMES[array.dtype.name]


def not_implemented_for(kernel: str, array: Any) -> NotImplementedError:
    """The error PyTorch raises when a kernel has no implementation for a dtype."""
    return NotImplementedError(f'"{kernel}" not implemented for \'{legacy_name(array)}\'')


def _is_number(value: Any) -> bool:
    return value is not None and not hasattr(value, "dtype")


def _require_tensor(op_name: str, value: Any, name: str = "other", position: int = 2) -> None:
    if _is_number(value):
        raise TypeError(f"{op_name}(): argument '{name}' (position {position}) must be Tensor, "
                        f"not {type(value).__name__}")


def _check_zero_division(xp, input: Any, other: Any) -> None:
    """Integer division by zero raises in PyTorch (floats give inf/nan)."""
    if xp.result_type(input, other).kind in "iub" and xp.any(xp.asarray(other) == 0):
        raise RuntimeError("ZeroDivisionError")


def alias_of(name: str, alias: str) -> None:
    """Register ``alias`` (and ``alias_``) for the function/method/in-place variant ``name``."""
    if name in FUNCTIONS:
        FUNCTIONS[alias] = FUNCTIONS[name]
    for suffix in ("", "_"):
        if name + suffix in METHODS:
            METHODS[alias + suffix] = METHODS[name + suffix]


def _inplace(function: Callable, name: str) -> Callable:
    """The in-place variant of a composite: compute out of place, write into ``input``."""
    def inplace(input, *args, **kwargs):
        check_inplace(input)
        write_inplace(input, function(input, *args, **kwargs))
        return input

    inplace.__name__ = name + "_"
    inplace.__doc__ = f"In-place {name}; see torch.Tensor.{name}_."
    return inplace


# --- arithmetic -----------------------------------------------------------------------------
def add(xp, input, other, *, alpha=1):
    """input + alpha * other; see torch.add."""
    return xp.add(input, other if alpha == 1 else xp.multiply(other, alpha))


defop(add, node="AddBackward0", inputs=2, promote="promote", kind=E,
      grads={"input": lambda grad: grad,
             "other": lambda grad, alpha: grad if alpha == 1 else grad * alpha},
      methods=("add", "__add__", "__radd__"), inplace="add_", ufunc=np.add,
      samples=samples.binary() + [Sample(((3, 4), (4,)), kwargs={"alpha": 2.5}),
                                  Sample(((3, 4), None), kwargs={"alpha": -2, "_scalar": 3})])


def sub(xp, input, other, *, alpha=1):
    """input - alpha * other; see torch.sub."""
    if getattr(input, "dtype", None) is not None and input.dtype.kind == "b":
        raise RuntimeError("Subtraction, the `-` operator, with two bool tensors is not "
                           "supported. Use the `^` or `logical_xor()` operator instead.")
    return xp.subtract(input, other if alpha == 1 else xp.multiply(other, alpha))


# The same formulas serve tensors (create_graph) and arrays (a plain backward's NumPy rules).
_SUB_RULES = {"input": lambda grad: grad,
              "other": lambda grad, alpha: -grad if alpha == 1 else grad * -alpha}
defop(sub, node="SubBackward0", inputs=2, promote="promote", kind=E, grads=_SUB_RULES,
      array_grads=_SUB_RULES,
      methods=("sub", "__sub__"), inplace="sub_",
      samples=samples.binary() + [Sample(((3, 4), (3, 1)), kwargs={"alpha": 0.5})])
alias_of("sub", "subtract")


def rsub(xp, input, other, *, alpha=1):
    """other - alpha * input for a Python number ``other`` (``1 - x``); see torch.rsub."""
    return xp.subtract(other, input if alpha == 1 else xp.multiply(input, alpha))


defop(rsub, name="rsub_scalar", node="RsubBackward1", inputs=1, promote="promote", kind=E,
      grads={"input": lambda grad, alpha: -grad if alpha == 1 else grad * -alpha},
      function=False, samples=[samples.Sample(((3, 4),), args=(2.5,))])


def mul(xp, input, other):
    """input * other; see torch.mul."""
    return xp.multiply(input, other)


defop(mul, node="MulBackward0", inputs=2, promote="promote", kind=E,
      grads={"input": lambda grad, other: grad * other,
             "other": lambda grad, input: grad * input},
      array_grads={"input": lambda grad, other: grad * other,
                   "other": lambda grad, input: grad * input},
      methods=("mul", "__mul__", "__rmul__"), inplace="mul_", ufunc=np.multiply,
      samples=samples.binary())
alias_of("mul", "multiply")


def _div(xp, input, other):
    return xp.true_divide(input, other)


div_op = defop(_div, name="div", node="DivBackward0", inputs=2, promote="float", kind=E,
               grads={"input": lambda grad, other: grad / other,
                      "other": lambda grad, input, other: -grad * input / (other * other)},
               array_grads={"input": lambda grad, other: grad / other,
                            "other": lambda grad, input, other: -grad * input / (other * other)},
               function=False, samples=samples.binary(domain=(0.5, 2.0)),
               ufunc=np.true_divide)


def _integer_trunc_divide(xp, input, other):
    quotient = xp.floor_divide(input, other)
    inexact = (quotient * other != input) & ((input < 0) != (other < 0))
    return quotient + inexact


def _divide_rounded(xp, input, other, rounding_mode):
    if rounding_mode is None:
        return xp.true_divide(input, other)
    if getattr(input, "dtype", None) is not None and input.dtype.kind == "b":
        raise not_implemented_for(f"div_{rounding_mode}_cpu", input)
    _check_zero_division(xp, input, other)
    if rounding_mode == "floor":
        # numpy's float floor_divide is the exact fmod-based quotient PyTorch computes too
        return xp.floor_divide(input, other)
    if xp.asarray(input).dtype.kind in "iub":
        return _integer_trunc_divide(xp, input, other)
    return xp.trunc(xp.true_divide(input, other))


def _div_mode(xp, input, other, rounding_mode):
    with quiet():
        return _divide_rounded(xp, input, other, rounding_mode)


def _div_mode_input_rule(grad, other, rounding_mode):
    # A rounded quotient is piecewise constant: PyTorch's derivative is zero.
    return grad * 0 if rounding_mode is not None else grad / other


def _div_mode_other_rule(grad, input, other, rounding_mode):
    if rounding_mode is not None:
        return grad * 0
    return -grad * input / (other * other)


div_mode_op = defop(
    _div_mode, name="div_rounding", node="DivBackward2", inputs=2, promote="promote", kind=E,
    grads={"input": _div_mode_input_rule, "other": _div_mode_other_rule}, function=False,
    samples=[Sample(((3, 4), (3, 4)), args=("floor",), domain=(-3.0, 3.0)),
             Sample(((3, 4), (4,)), args=("trunc",), domain=(-3.0, 3.0)),
             Sample(((3, 4), None), args=("floor",), kwargs={"_scalar": 0.7}, domain=(-3.0, 3.0)),
             Sample(((3, 4), (3, 4)), args=("round",), error=True),  # no such rounding mode
             Sample(((3, 4), (5,)), args=("floor",), error=True),
             # integer division by zero (floats give inf)
             Sample(((3, 4), (3, 4)), args=("floor",), domain=(0.0, 0.0), integer=True,
                    error=True),
             Sample(((3, 4), (3, 4)), args=("trunc",), domain=(0.0, 0.0), integer=True,
                    error=True)])


@public(methods=("div", "divide", "__truediv__"))
def div(input, other, *, rounding_mode=None):
    """input / other, optionally rounded ('trunc' or 'floor'); see torch.div."""
    if rounding_mode is None:
        return div_op.function(input, other)
    if rounding_mode not in ("trunc", "floor"):
        raise RuntimeError("div expected rounding_mode to be one of None, 'trunc', or 'floor' "
                           f"but found '{rounding_mode}'")
    return div_mode_op.function(input, other, rounding_mode)


public(function="divide")(div)
public(methods=("div_", "divide_"), function=False)(_inplace(div, "div"))


@public(methods=("true_divide",))
def true_divide(input, other):
    """input / other, always true division; see torch.true_divide."""
    return div_op.function(input, other)


public(methods=("true_divide_",), function=False)(_inplace(true_divide, "true_divide"))


def _raise_not_implemented(name: str) -> Callable:
    def rule(grad):
        raise RuntimeError(f"derivative for aten::{name} is not implemented")

    return rule


# PyTorch records a node without a derivative for floor_divide (and for a number % tensor):
# the result requires grad, and backward through it raises.
_NOT_IMPLEMENTED = "torch::autograd::NotImplemented"


def floor_divide(xp, input, other):
    """input // other rounded toward minus infinity; see torch.floor_divide."""
    with quiet():
        return _divide_rounded(xp, input, other, "floor")


defop(floor_divide, node=_NOT_IMPLEMENTED, inputs=2, promote="promote", kind=E,
      grads={"input": _raise_not_implemented("floor_divide"),
             "other": _raise_not_implemented("floor_divide")},
      methods=("floor_divide", "__floordiv__"), inplace="floor_divide_",
      samples=[Sample(((3, 4), (3, 4)), domain=(-9.0, 9.0), integer=True),
               Sample(((3, 4), (4,)), domain=(1.0, 9.0), integer=True),
               Sample(((5,), None), kwargs={"_scalar": 3}, domain=(-9.0, 9.0), integer=True),
               Sample(((3, 4), (3, 4)), domain=(0.0, 0.0), integer=True, error=True),
               Sample(((3, 4), (5,)), domain=(1.0, 9.0), integer=True, error=True)])


@public(methods=("__rfloordiv__",), function=False)
def rfloordiv_operator(input, other):
    """``other // input``."""
    return OPS["floor_divide"].function(other, input)


def _remainder(xp, input, other):
    if getattr(input, "dtype", None) is not None and input.dtype.kind == "b":
        raise not_implemented_for("remainder_cpu", input)
    _check_zero_division(xp, input, other)
    with quiet():
        return xp.remainder(input, other)


def _fmod(xp, input, other):
    _check_zero_division(xp, input, other)
    with quiet():
        return xp.fmod(input, other)


_MODULO_SAMPLES = [Sample(((3, 4), (3, 4)), domain=(0.5, 2.0)),
                   Sample(((3, 4), (4,)), domain=(0.5, 2.0)),
                   Sample(((3, 4), (5,)), error=True),
                   Sample(((3, 4), (3, 4)), domain=(0.0, 0.0), integer=True, error=True)]
# input % number: the number is an input slot (so it takes part in type promotion) that is
# never differentiated.
_MODULO_SCALAR_SAMPLES = [Sample(((3, 4), None), kwargs={"_scalar": 0.7}),
                          Sample(((5,), None), kwargs={"_scalar": -0.3}),
                          Sample(((5,), None), kwargs={"_scalar": 0}, domain=(1.0, 5.0),
                                 integer=True, error=True)]

remainder_op = defop(
    _remainder, name="remainder", node="RemainderBackward1", inputs=2, promote="promote", kind=E,
    grads={"input": lambda grad: grad,
           "other": lambda grad, input, other: -grad * div(input, other, rounding_mode="floor")},
    function=False, samples=_MODULO_SAMPLES)
remainder_scalar_op = defop(
    _remainder, name="remainder_scalar", node="RemainderBackward0", inputs=2, promote="promote",
    kind=E, grads={"input": lambda grad: grad}, function=False, samples=_MODULO_SCALAR_SAMPLES)
remainder_self_scalar_op = defop(
    _remainder, name="remainder_self_scalar", node=_NOT_IMPLEMENTED, inputs=2,
    promote="promote", kind=E, grads={"other": _raise_not_implemented("remainder")},
    function=False, samples=[Sample((None, (5,)), kwargs={"_scalar": 7}, domain=(1.0, 5.0),
                                    integer=True),
                             Sample((None, (5,)), kwargs={"_scalar": 7}, domain=(0.0, 0.0),
                                    integer=True, error=True)])


@public(methods=("remainder", "__mod__"))
def remainder(input, other):
    """Python-style modulus (the sign of other); see torch.remainder."""
    if _is_number(input):
        return remainder_self_scalar_op.function(input, other)
    if _is_number(other):
        return remainder_scalar_op.function(input, other)
    return remainder_op.function(input, other)


@public(methods=("__rmod__",), function=False)
def rmod_operator(input, other):
    """``other % input``."""
    return remainder(other, input)


public(methods=("remainder_", "__imod__"), function=False)(_inplace(remainder, "remainder"))

fmod_op = defop(
    _fmod, name="fmod", node="FmodBackward1", inputs=2, promote="promote", kind=E,
    grads={"input": lambda grad: grad,
           "other": lambda grad, input, other: -grad * div(input, other, rounding_mode="trunc")},
    function=False, samples=_MODULO_SAMPLES)
fmod_scalar_op = defop(
    _fmod, name="fmod_scalar", node="FmodBackward0", inputs=2, promote="promote", kind=E,
    grads={"input": lambda grad: grad}, function=False, samples=_MODULO_SCALAR_SAMPLES)


@public(methods=("fmod",))
def fmod(input, other):
    """C-style modulus (the sign of input); see torch.fmod."""
    _require_tensor("fmod", input, "input", 1)
    if _is_number(other):
        return fmod_scalar_op.function(input, other)
    return fmod_op.function(input, other)


public(methods=("fmod_",), function=False)(_inplace(fmod, "fmod"))


def neg(xp, input):
    """-input; see torch.neg."""
    if input.dtype.kind == "b":
        raise RuntimeError("Negation, the `-` operator, on a bool tensor is not supported. If "
                           "you are trying to invert a mask, use the `~` or `logical_not()` "
                           "operator instead.")
    return xp.negative(input)


defop(neg, node="NegBackward0", promote="promote", kind=E, grads={"input": lambda grad: -grad},
      array_grads={"input": lambda grad: -grad},
      methods=("neg", "__neg__"), inplace="neg_", samples=samples.unary())
alias_of("neg", "negative")


def reciprocal(xp, input):
    """1 / input; see torch.reciprocal."""
    return xp.reciprocal(input)


defop(reciprocal, node="ReciprocalBackward0", promote="float", kind=E,
      grads={"input": lambda grad, result: -grad * result * result},
      methods=("reciprocal",), inplace="reciprocal_", samples=samples.unary((0.5, 2.0)))


def _addcmul(xp, input, tensor1, tensor2, *, value=1):
    return input + value * tensor1 * tensor2


defop(_addcmul, name="addcmul", node="AddcmulBackward0", inputs=3, promote="promote", kind=E,
      grads={"input": lambda grad: grad,
             "tensor1": lambda grad, tensor2, value: grad * tensor2 * value,
             "tensor2": lambda grad, tensor1, value: grad * tensor1 * value},
      methods=("addcmul",), inplace="addcmul_",
      samples=[Sample(((3, 4), (3, 4), (3, 4))), Sample(((3, 4), (4,), (3, 1)),
                                                        kwargs={"value": 0.5}),
               Sample(((3, 4), (5,), (3, 4)), error=True),
               Sample(((3, 4), (3, 4), (2, 1, 5)), error=True)])


def _addcdiv(xp, input, tensor1, tensor2, *, value=1):
    if input.dtype.kind in "iub":
        raise RuntimeError(
            "Integer division with addcdiv is no longer supported, and in a future  release "
            "addcdiv will perform a true division of tensor1 and tensor2. The historic addcdiv "
            "behavior can be implemented as (input + value * torch.trunc(tensor1 / tensor2))."
            "to(input.dtype) for integer inputs and as (input + value * tensor1 / tensor2) for "
            "float inputs. The future addcdiv behavior is just the latter implementation: "
            "(input + value * tensor1 / tensor2), for all dtypes.")
    with quiet():
        return input + value * (tensor1 / tensor2)


defop(_addcdiv, name="addcdiv", node="AddcdivBackward0", inputs=3, promote="promote", kind=E,
      grads={"input": lambda grad: grad,
             "tensor1": lambda grad, tensor2, value: grad * value / tensor2,
             "tensor2": lambda grad, tensor1, tensor2, value:
             -grad * value * tensor1 / (tensor2 * tensor2)},
      methods=("addcdiv",), inplace="addcdiv_",
      samples=[Sample(((3, 4), (3, 4), (3, 4)), domain=(0.5, 2.0)),
               Sample(((3, 4), (4,), (3, 1)), kwargs={"value": -2.0}, domain=(0.5, 2.0)),
               Sample(((3, 4), (3, 4), (5,)), domain=(0.5, 2.0), error=True),
               Sample(((3, 4), (3, 4), (3, 4)), domain=(1.0, 5.0), integer=True, error=True)])


# --- powers ---------------------------------------------------------------------------------
# grad * (exponent * input ** (exponent - 1)), grouped as PyTorch groups it. A zero exponent
# gives zeros, not grad * 0 (which is nan where grad is infinite), outside the graph as there.
def _pow_scalar_rule(grad, input, exponent):
    if exponent == 0:
        return wrap(np.zeros_like(input._data))
    return grad * (exponent * pow_tensor_scalar.function(input, exponent - 1))


def _pow_scalar_array_rule(grad, input, exponent):
    if exponent == 0:
        return np.zeros_like(input)
    if exponent == 2:  # input ** 1 is input: one multiplication fewer for the commonest power
        return grad * (input + input)  # the same bits as input * 2, without a Python number
    return grad * (exponent * input ** (exponent - 1))


def _pow(xp, input, exponent):
    if input.dtype.kind in "iub" and type(exponent) is int and exponent < 0:
        raise RuntimeError("Integers to negative integer powers are not allowed.")
    # ``**`` takes NumPy's shortcuts for the exponents 2, 0.5, -1 (square, sqrt,
    # reciprocal), as PyTorch's kernel special-cases them; np.power does not.
    return input ** exponent


def _integer_power(xp, base, exponent):
    """base ** exponent in integers, where NumPy refuses negative exponents: PyTorch gives
    1 for a base of 1, +-1 for -1 (by the exponent's parity) and 0 for every other base."""
    base, exponent = xp.asarray(base), xp.asarray(exponent)
    if base.dtype.kind == "b" and exponent.dtype.kind in "iu":
        base = base.astype(exponent.dtype)  # True ** ints: the bool counts as an integer
    if base.dtype.kind not in "iu" or exponent.dtype.kind not in "iu" or not (exponent < 0).any():
        with quiet():
            return xp.power(base, exponent)
    with quiet():
        result = xp.power(base, xp.maximum(exponent, 0))
    reciprocal = xp.where(base == 1, 1, xp.where(base == -1, 1 - 2 * (exponent % 2), 0))
    return xp.where(exponent < 0, reciprocal, result).astype(result.dtype, copy=False)


pow_tensor_scalar = defop(
    _pow, name="pow_tensor_scalar", node="PowBackward0", inputs=1, promote="promote", kind=E,
    grads={"input": _pow_scalar_rule}, array_grads={"input": _pow_scalar_array_rule},
    function=False,
    samples=[samples.Sample(((3, 4),), args=(2,)), samples.Sample(((5,),), args=(3,)),
             samples.Sample(((3, 4),), args=(0.5,), domain=(0.5, 2.0)),
             samples.Sample(((),), args=(-1.5,), domain=(0.5, 2.0)),
             # integers to a negative integer power
             samples.Sample(((3, 4),), args=(-2,), domain=(1.0, 5.0), integer=True, error=True)])


def _pow_tensor_tensor(xp, input, exponent):
    return _integer_power(xp, input, exponent)


def _pow_input_rule(grad, input, exponent):
    # A zero exponent contributes zero, even where input ** -1 is infinite (as PyTorch).
    return where(exponent == 0, 0.0, grad * exponent * pow(input, exponent - 1))


def _pow_exponent_rule(grad, input, result):
    # d/dy x**y = x**y * log(x); at x == 0 PyTorch uses 0 (masked), so do we.
    safe = where(input == 0, 1.0, input)
    return grad * result * safe.log()


pow_tensor_tensor = defop(
    _pow_tensor_tensor, name="pow_tensor_tensor", node="PowBackward1", inputs=2,
    promote="promote", kind=E,
    grads={"input": _pow_input_rule, "exponent": _pow_exponent_rule},
    function=False, samples=samples.binary(domain=(0.5, 2.0), scalar=None))


def _pow_scalar_tensor(xp, exponent, base):
    return _integer_power(xp, base, exponent)


pow_scalar_tensor = defop(
    _pow_scalar_tensor, name="pow_scalar_tensor", node="PowBackward2", inputs=1,
    promote="promote", kind=E,
    grads={"exponent": lambda grad, result, base: grad * result * _log_of_number(base)},
    function=False, samples=[samples.Sample(((3, 4),), args=(2.0,))])


def _log_of_number(value):
    return math.log(value) if value > 0 else float("nan") if value < 0 else float("-inf")


@public(methods=("pow", "__pow__"))
def pow(input, exponent):  # noqa: A001 - torch.pow
    """input ** exponent, with a tensor or a number on either side; see torch.pow."""
    kind = type(exponent)
    if (kind is int or kind is float) and type(input) in FAST_TYPES and \
            input._data.dtype.kind in "fc":
        return pow_tensor_scalar.function(input, exponent)  # the common case, first
    if _is_number(input):
        # The number is a param, not an input: promote with it here (2.5 ** ints is float).
        target = common_dtype((input, exponent))
        if target.numpy.kind == "b":
            raise NotImplementedError("\"pow\" not implemented for 'Bool'")
        if target != exponent.dtype:
            exponent = exponent.to(target)
        return pow_scalar_tensor.function(exponent, input)
    if not _is_number(exponent):
        if input._data.dtype.kind == "b" and exponent._data.dtype.kind == "b":
            raise NotImplementedError("\"pow\" not implemented for 'Bool'")
        return pow_tensor_tensor.function(input, exponent)
    if input._data.dtype.kind not in "fc" or isinstance(exponent, complex):
        target = common_dtype((input, exponent))
        if target != input.dtype:
            input = input.to(target)  # ints ** 0.5 are floats, bools ** 2 are ints
    return pow_tensor_scalar.function(input, exponent)


@public(methods=("square",))
def square(input):
    """input ** 2; see torch.square."""
    if input._data.dtype.kind == "b":
        from .._dtype import int64

        input = input.to(int64)  # bool squares are integers, as in PyTorch
    return pow_tensor_scalar.function(input, 2)


public(methods=("square_",), function=False)(_inplace(square, "square"))


def _float_unary(name: str, compute: Callable, node: str, rule: Callable, *,
                 domain: tuple[float, float] = (-2.0, 2.0), aliases: tuple = (),
                 doc: str = "", array_rule: Callable | None = None) -> Any:
    """Declare a unary op that computes in floating point (integers become the default float).
    ``compute``: a NumPy ufunc, or ``f(xp, input)`` where the op is more than one ufunc.
    ``array_rule``: the same rule on arrays, for a plain backward (see defop's array_grads)."""
    ufunc = compute if isinstance(compute, np.ufunc) else None

    def forward(xp, input):  # (dispatch turns NumPy's warnings off: sin(inf), log(0)...)
        return ufunc(input) if ufunc is not None else compute(xp, input)

    forward.__name__ = name
    forward.__doc__ = f"{doc}; see torch.{name}."
    op = defop(forward, name=name, node=node, promote="float", kind=E, grads={"input": rule},
               array_grads={"input": array_rule} if array_rule is not None else None,
               methods=(name,), inplace=f"{name}_", samples=samples.unary(domain),
               ufunc=ufunc)
    for alias in aliases:
        alias_of(name, alias)
    return op


# --- exponentials and logarithms ------------------------------------------------------------
LN2 = math.log(2.0)
LN10 = math.log(10.0)

_float_unary("exp", np.exp, "ExpBackward0",
             lambda grad, result: grad * result, doc="e ** input",
             array_rule=lambda grad, result: grad * result)
_float_unary("exp2", np.exp2, "Exp2Backward0",
             lambda grad, result: grad * result * LN2, doc="2 ** input")
_float_unary("expm1", np.expm1, "Expm1Backward0",
             lambda grad, result: grad * (result + 1), doc="e ** input - 1")
_float_unary("log", np.log, "LogBackward0",
             lambda grad, input: grad / input, domain=(0.5, 3.0), doc="Natural logarithm",
             array_rule=lambda grad, input: grad / input)
_float_unary("log2", np.log2, "Log2Backward0",
             lambda grad, input: grad / (input * LN2), domain=(0.5, 3.0),
             doc="Base-2 logarithm")
_float_unary("log10", np.log10, "Log10Backward0",
             lambda grad, input: grad / (input * LN10), domain=(0.5, 3.0),
             doc="Base-10 logarithm")
_float_unary("log1p", np.log1p, "Log1PBackward0",
             lambda grad, input: grad / (input + 1), domain=(-0.5, 2.0),
             doc="log(1 + input)")
_float_unary("sqrt", np.sqrt, "SqrtBackward0",
             lambda grad, result: grad / (2 * result), domain=(0.5, 3.0), doc="Square root",
             array_rule=lambda grad, result: grad / (2 * result))
_float_unary("rsqrt", lambda xp, x: 1 / xp.sqrt(x), "RsqrtBackward0",
             lambda grad, result: -0.5 * grad * result * result * result, domain=(0.5, 3.0),
             doc="1 / sqrt(input)")

# --- trigonometric and hyperbolic -----------------------------------------------------------
_float_unary("sin", np.sin, "SinBackward0",
             lambda grad, input: grad * input.cos(), doc="Sine",
             array_rule=lambda grad, input: grad * np.cos(input))
_float_unary("cos", np.cos, "CosBackward0",
             lambda grad, input: grad * -input.sin(), doc="Cosine",
             array_rule=lambda grad, input: grad * -np.sin(input))
_float_unary("tan", np.tan, "TanBackward0",
             lambda grad, result: grad * (1 + result * result), domain=(-1.2, 1.2),
             doc="Tangent")
_float_unary("asin", np.arcsin, "AsinBackward0",
             lambda grad, input: grad / (1 - input * input).sqrt(), domain=(-0.9, 0.9),
             aliases=("arcsin",), doc="Inverse sine")
_float_unary("acos", np.arccos, "AcosBackward0",
             lambda grad, input: -grad / (1 - input * input).sqrt(), domain=(-0.9, 0.9),
             aliases=("arccos",), doc="Inverse cosine")
_float_unary("atan", np.arctan, "AtanBackward0",
             lambda grad, input: grad / (1 + input * input), aliases=("arctan",),
             doc="Inverse tangent")
_float_unary("sinh", np.sinh, "SinhBackward0",
             lambda grad, input: grad * input.cosh(), doc="Hyperbolic sine")
_float_unary("cosh", np.cosh, "CoshBackward0",
             lambda grad, input: grad * input.sinh(), doc="Hyperbolic cosine")
# tanh and sigmoid backward are primitives of their own, as in PyTorch: one dispatch instead
# of three per node, and double backward records PyTorch's node names.
def _tanh_backward(xp, grad_output, output):
    return grad_output * (constant(1, output.dtype) - output * output)


tanh_backward_op = defop(
    _tanh_backward, name="tanh_backward", node="TanhBackwardBackward0", inputs=2,
    promote="promote", kind=E, function=False,
    grads={"grad_output": lambda grad, output: tanh_backward_op.function(grad, output),
           "output": lambda grad, grad_output, output: grad * grad_output * -2 * output},
    samples=[Sample(((3, 4), (3, 4)), domain=(-0.9, 0.9)),
             Sample(((5,), ()), domain=(-0.9, 0.9)), Sample(((3, 4), (5,)), error=True)])


def _sigmoid_backward(xp, grad_output, output):
    return grad_output * output * (constant(1, output.dtype) - output)


sigmoid_backward_op = defop(
    _sigmoid_backward, name="sigmoid_backward", node="SigmoidBackwardBackward0", inputs=2,
    promote="promote", kind=E, function=False,
    grads={"grad_output": lambda grad, output: sigmoid_backward_op.function(grad, output),
           "output": lambda grad, grad_output, output: grad * grad_output * (1 - 2 * output)},
    samples=[Sample(((3, 4), (3, 4)), domain=(0.1, 0.9)),
             Sample(((5,), ()), domain=(0.1, 0.9)), Sample(((3, 4), (5,)), error=True)])


_float_unary("tanh", np.tanh, "TanhBackward0",
             lambda grad, result: tanh_backward_op.function(grad, result),
             doc="Hyperbolic tangent",
             array_rule=lambda grad, result: _tanh_backward(np, grad, result))
_float_unary("asinh", np.arcsinh, "AsinhBackward0",
             lambda grad, input: grad / (input * input + 1).sqrt(), aliases=("arcsinh",),
             doc="Inverse hyperbolic sine")
_float_unary("acosh", np.arccosh, "AcoshBackward0",
             lambda grad, input: grad / ((input - 1) * (input + 1)).sqrt(), domain=(1.2, 3.0),
             aliases=("arccosh",), doc="Inverse hyperbolic cosine")
_float_unary("atanh", np.arctanh, "AtanhBackward0",
             lambda grad, input: grad / (1 - input * input), domain=(-0.9, 0.9),
             aliases=("arctanh",), doc="Inverse hyperbolic tangent")


def _sigmoid(xp, x):
    # 1 / (1 + e^-x) has no cancellation anywhere; e^-x may overflow to inf for very negative
    # x, giving 0 (only denormal results are lost); the float-unary forward around this keeps
    # NumPy from warning. This is several times faster than selecting between two stable
    # branches with np.where.
    return xp.reciprocal(1 + xp.exp(-x)).astype(x.dtype, copy=False)


_float_unary("sigmoid", _sigmoid, "SigmoidBackward0",
             lambda grad, result: sigmoid_backward_op.function(grad, result),
             doc="1 / (1 + e ** -input)",
             array_rule=lambda grad, result: _sigmoid_backward(np, grad, result))


def logit(xp, input, eps=None):
    """log(input / (1 - input)), input clamped to [eps, 1 - eps] when eps is given; see
    torch.logit."""
    if eps is not None:
        input = xp.clip(input, eps, 1 - eps)
    with quiet():
        return xp.log(input / (1 - input))


def _logit_rule(grad, input, eps):
    derivative = grad / (input * (1 - input))
    if eps is None:
        # Outside [0, 1] the logit is undefined: PyTorch gives nan there.
        return where((input < 0) | (input > 1), NAN, derivative)
    # With eps the clamp cuts the gradient off outside [eps, 1 - eps] (bounds included).
    return where((input < eps) | (input > 1 - eps), 0.0, derivative)


defop(logit, node="LogitBackward0", promote="float", kind=E, grads={"input": _logit_rule},
      methods=("logit",), inplace="logit_",
      samples=samples.unary((0.05, 0.95)) + [Sample(((3, 4),), kwargs={"eps": 0.2},
                                                    domain=(0.0, 1.0))])


# --- rounding (derivative zero almost everywhere; PyTorch still records a node) --------------
def _rounding(name: str, compute: Callable, node: str, doc: str, aliases: tuple = ()) -> Any:
    def forward(xp, input):
        if input.dtype.kind == "b":
            raise not_implemented_for(f"{name}_vml_cpu", input)
        if input.dtype.kind in "iu":
            return input.copy()  # integers are already whole: the value, in a new tensor
        return compute(xp, input)

    forward.__name__ = name
    forward.__doc__ = f"{doc}; see torch.{name}."
    op = defop(forward, name=name, node=node, promote="promote", kind=E,
               grads={"input": lambda grad: grad * 0}, methods=(name,), inplace=f"{name}_",
               samples=samples.unary((-3.0, 3.0)))
    for alias in aliases:
        alias_of(name, alias)
    return op


_rounding("floor", lambda xp, x: xp.floor(x), "FloorBackward0", "Largest integer <= input")
_rounding("ceil", lambda xp, x: xp.ceil(x), "CeilBackward0", "Smallest integer >= input")
_rounding("trunc", lambda xp, x: xp.trunc(x), "TruncBackward0", "input rounded toward zero",
          aliases=("fix",))


def _round(xp, input):
    if input.dtype.kind == "b":
        raise not_implemented_for("round_cpu", input)
    # Halves go to the even neighbour, in numpy as in PyTorch.
    return input.copy() if input.dtype.kind in "iu" else xp.round(input)


def _round_decimals(xp, input, decimals):
    if input.dtype.kind in "iub":
        raise not_implemented_for("round_cpu", input)
    return xp.round(input, decimals)


round_op = defop(_round, name="round", node="RoundBackward0", promote="promote", kind=E,
                 grads={"input": lambda grad: grad * 0}, function=False,
                 samples=samples.unary((-3.0, 3.0)))
round_decimals_op = defop(
    _round_decimals, name="round_decimals", node="RoundBackward1", promote="promote", kind=E,
    grads={"input": lambda grad: grad * 0}, function=False,
    samples=[Sample(((3, 4),), args=(2,)), Sample(((5,),), args=(-1,), domain=(-300.0, 300.0)),
             samples.integer_error((3, 4), args=(2,))])


@public(methods=("round",))
def round(input, *, decimals=0):  # noqa: A001 - torch.round
    """Round half to even, to ``decimals`` places; see torch.round."""
    if decimals == 0:
        return round_op.function(input)
    return round_decimals_op.function(input, decimals)


public(methods=("round_",), function=False)(_inplace(round, "round"))


def frac(xp, input):
    """input - trunc(input); see torch.frac."""
    if input.dtype.kind in "iub":
        raise not_implemented_for("frac_cpu", input)
    return input - xp.trunc(input)


defop(frac, node="FracBackward0", promote="promote", kind=E, grads={"input": lambda grad: grad},
      methods=("frac",), inplace="frac_",
      samples=samples.unary((-3.0, 3.0)) + [samples.integer_error((5,))])


# --- sign and magnitude ---------------------------------------------------------------------
def abs(xp, input):  # noqa: A001 - torch.abs
    """|input|; see torch.abs."""
    if input.dtype.kind == "b":
        raise not_implemented_for("abs_cpu", input)
    return xp.abs(input)


# abs'(0) = sign(0) = 0, as PyTorch.
defop(abs, node="AbsBackward0", promote="promote", kind=E,
      grads={"input": lambda grad, input: grad * input.sign()},
      methods=("abs", "__abs__"), inplace="abs_", samples=samples.unary())
alias_of("abs", "absolute")


def sign(xp, input):
    """-1, 0 or 1 by the sign of input; see torch.sign."""
    return input.copy() if input.dtype.kind == "b" else xp.sign(input)


defop(sign, node="SignBackward0", promote="promote", kind=E,
      grads={"input": lambda grad: grad * 0},
      methods=("sign",), inplace="sign_", samples=samples.unary())


def sgn(xp, input):
    """sign for real tensors, input / |input| for complex ones; see torch.sgn."""
    if input.dtype.kind == "c":
        magnitude = xp.abs(input)
        with quiet():
            return xp.where(magnitude == 0, 0, input / magnitude)
    return input.copy() if input.dtype.kind == "b" else xp.sign(input)


defop(sgn, node="SgnBackward0", promote="promote", kind=E,
      grads={"input": lambda grad: grad * 0},
      methods=("sgn",), inplace="sgn_", samples=samples.unary())


def _copysign(xp, input, other):
    return xp.copysign(input, other)


def _copysign_input_rule(grad, input, result):
    # d(|x| sign(y))/dx = result / input, and PyTorch takes 0 where input == 0.
    return grad * where(input == 0, 0.0, result / where(input == 0, 1.0, input))


copysign_op = defop(
    _copysign, name="copysign", node="CopysignBackward0", inputs=2, promote="float", kind=E,
    grads={"input": _copysign_input_rule, "other": lambda grad: grad * 0}, function=False,
    samples=samples.binary(scalar=None))
copysign_scalar_op = defop(
    _copysign, name="copysign_scalar", node="CopysignBackward1", inputs=2, promote="float",
    kind=E, grads={"input": _copysign_input_rule}, function=False,
    samples=[Sample(((3, 4), None), kwargs={"_scalar": -1.0})])


@public(methods=("copysign",))
def copysign(input, other):
    """|input| with the sign of other; see torch.copysign."""
    if _is_number(other):
        return copysign_scalar_op.function(input, other)
    return copysign_op.function(input, other)


public(methods=("copysign_",), function=False)(_inplace(copysign, "copysign"))


def nan_to_num(xp, input, nan=0.0, posinf=None, neginf=None):
    """NaN, +inf and -inf replaced by finite numbers; see torch.nan_to_num."""
    if input.dtype.kind not in "fc":
        return input.copy()
    return xp.nan_to_num(input, nan=nan, posinf=posinf, neginf=neginf)


defop(nan_to_num, node="NanToNumBackward0", promote="promote", kind=E,
      grads={"input": lambda grad, input: where(input.isfinite(), grad, 0.0)},
      methods=("nan_to_num",), inplace="nan_to_num_",
      samples=samples.unary() + [Sample(((5,),), kwargs={"nan": 1.5, "posinf": 2.0})])


# --- clamping -------------------------------------------------------------------------------
def _clamp_bounds_error() -> RuntimeError:
    return RuntimeError("torch.clamp: At least one of 'min' or 'max' must not be None")


def _clamp(xp, input, min, max):  # noqa: A002 - PyTorch's parameter names
    if min is None and max is None:
        raise _clamp_bounds_error()
    if input.dtype.kind == "b" and not (hasattr(min, "dtype") or hasattr(max, "dtype")):
        raise not_implemented_for("clamp_scalar_cpu", input)
    # maximum then minimum: where min > max every element becomes max, as in PyTorch; NaN
    # inputs stay NaN.
    result = input if min is None else xp.maximum(input, min)
    return result if max is None else xp.minimum(result, max)


def _clamp_input_rule(grad, input, min, max):  # noqa: A002
    # Subgradient at the bounds: 1 (the bounds are inclusive), as PyTorch; NaN gets 0.
    inside = None
    if min is not None:
        inside = input >= min
    if max is not None:
        inside = input <= max if inside is None else inside & (input <= max)
    return where(inside, grad, 0.0)


# Scalar bounds: the numbers sit in input slots so that they take part in type promotion
# (an int tensor clamped to 0.5 is float), but are never differentiated.
clamp_scalar_op = defop(
    _clamp, name="clamp_scalar", node="ClampBackward1", inputs=3, promote="promote", kind=E,
    grads={"input": _clamp_input_rule}, function=False,
    samples=[Sample(((5,),), args=(-0.5, 0.5)), Sample(((3, 4),), args=(None, 0.3)),
             Sample(((),), args=(-0.3,)), Sample(((3, 4),), args=(0.5, -0.5)),
             Sample(((3, 4),), args=(None, None), error=True)])  # no bound at all


def _clamp_min_rule(grad, input, min, max):  # noqa: A002
    # The lower bound gets the gradient where it is active, unless it exceeds the upper bound.
    below = input < min
    return where(below if max is None else below & (min < max), grad, 0.0)


def _clamp_max_rule(grad, input, min, max):  # noqa: A002
    # The upper bound is active above it, and everywhere when it is below the lower bound.
    above = input > max
    return where(above if min is None else above | (max < min), grad, 0.0)


clamp_tensor_op = defop(
    _clamp, name="clamp_tensor", node="ClampBackward0", inputs=3, promote="promote", kind=E,
    grads={"input": _clamp_input_rule, "min": _clamp_min_rule, "max": _clamp_max_rule},
    function=False,
    samples=[Sample(((3, 4), (3, 4), (3, 4))), Sample(((3, 4), (4,)), args=(None,)),
             Sample(((5,), (5,)), args=("max",)),
             Sample(((2, 3), (3,), (2, 1)), domain=(-1.0, 1.0)),
             Sample(((3, 4), (5,), (3, 4)), error=True),
             Sample(((3, 4), (3, 4), (2, 1, 5)), error=True)])


@public(methods=("clamp",))
def clamp(input, min=None, max=None):  # noqa: A002
    """input limited to [min, max] (either bound may be None); see torch.clamp."""
    if min is None and max is None:
        raise _clamp_bounds_error()
    if not (hasattr(min, "dtype") or hasattr(max, "dtype")):
        return clamp_scalar_op.function(input, min, max)
    from .._creation import tensor

    # A number next to a tensor bound becomes a tensor.
    min = tensor(min) if _is_number(min) else min  # noqa: A001
    max = tensor(max) if _is_number(max) else max  # noqa: A001
    return clamp_tensor_op.function(input, min, max)


# clamp_min / clamp_max: one bound, a number or a tensor (PyTorch records them apart from
# clamp). The bound is inclusive for the input's gradient, as clamp's.
def _clamp_min(xp, input, min):  # noqa: A002 - PyTorch's parameter names
    return xp.maximum(input, min)


def _clamp_max(xp, input, max):  # noqa: A002
    return xp.minimum(input, max)


clamp_min_scalar_op = defop(
    _clamp_min, name="clamp_min_scalar", node="ClampMinBackward0", promote="promote", kind=E,
    function=False, grads={"input": lambda grad, input, min: where(input >= min, grad, 0.0)},
    samples=[Sample(((3, 4),), args=(0.25,)), Sample(((5,),), args=(-0.5,))])
clamp_min_tensor_op = defop(
    _clamp_min, name="clamp_min_tensor", node="ClampMinBackward1", inputs=2, promote="promote",
    kind=E, function=False,
    grads={"input": lambda grad, input, min: where(input >= min, grad, 0.0),
           "min": lambda grad, input, min: where(input < min, grad, 0.0)},
    samples=[Sample(((3, 4), (3, 4))), Sample(((3, 4), (4,))), Sample(((3, 4), (5,)), error=True)])
clamp_max_scalar_op = defop(
    _clamp_max, name="clamp_max_scalar", node="ClampMaxBackward0", promote="promote", kind=E,
    function=False, grads={"input": lambda grad, input, max: where(input <= max, grad, 0.0)},
    samples=[Sample(((3, 4),), args=(0.25,)), Sample(((5,),), args=(-0.5,))])
clamp_max_tensor_op = defop(
    _clamp_max, name="clamp_max_tensor", node="ClampMaxBackward1", inputs=2, promote="promote",
    kind=E, function=False,
    grads={"input": lambda grad, input, max: where(input <= max, grad, 0.0),
           "max": lambda grad, input, max: where(input > max, grad, 0.0)},
    samples=[Sample(((3, 4), (3, 4))), Sample(((3, 4), (4,))), Sample(((3, 4), (5,)), error=True)])


@public(methods=("clamp_min",))
def clamp_min(input, min):  # noqa: A002
    """max(input, min); see torch.clamp_min."""
    if hasattr(min, "dtype"):
        return clamp_min_tensor_op.function(input, min)
    return clamp_min_scalar_op.function(input, min)


@public(methods=("clamp_max",))
def clamp_max(input, max):  # noqa: A002
    """min(input, max); see torch.clamp_max."""
    if hasattr(max, "dtype"):
        return clamp_max_tensor_op.function(input, max)
    return clamp_max_scalar_op.function(input, max)


public(methods=("clamp_min_",), function=False)(_inplace(clamp_min, "clamp_min"))
public(methods=("clamp_max_",), function=False)(_inplace(clamp_max, "clamp_max"))
alias_of("clamp", "clip")
public(methods=("clamp_",), function=False)(_inplace(clamp, "clamp"))
METHODS["clip_"] = METHODS["clamp_"]


# --- two-input math -------------------------------------------------------------------------
def atan2(xp, input, other):
    """Angle of (other, input) in radians; see torch.atan2."""
    _require_tensor("atan2", other)
    return xp.arctan2(input, other)


def _atan2_scale(input, other):
    # 1 / (x**2 + y**2), with PyTorch's 0 at the origin instead of inf
    denominator = input * input + other * other
    return where(denominator == 0, 0.0, 1 / where(denominator == 0, 1.0, denominator))


defop(atan2, node="Atan2Backward0", inputs=2, promote="float", kind=E,
      grads={"input": lambda grad, input, other: grad * other * _atan2_scale(input, other),
             "other": lambda grad, input, other: grad * -input * _atan2_scale(input, other)},
      methods=("atan2",), inplace="atan2_", samples=samples.binary(scalar=None, tensor_only=True))
alias_of("atan2", "arctan2")


def _extremum(name: str, numpy_name: str, node: str, rules: dict, doc: str) -> Any:
    def forward(xp, input, other):
        _require_tensor(name, other)
        return getattr(xp, numpy_name)(input, other)

    forward.__name__ = name
    forward.__doc__ = f"{doc}; see torch.{name}."
    return defop(forward, name=name, node=node, inputs=2, promote="promote", kind=E,
                 grads=rules, methods=(name,),
                 samples=samples.binary(scalar=None, tensor_only=True))


def _tie_split(grad, mine, theirs, losing):
    # maximum/minimum ties: each side gets half the gradient, as PyTorch. Where a NaN makes
    # every comparison false, both sides get the whole gradient (PyTorch's masks do the same).
    return where(mine == theirs, grad / 2, where(losing, 0.0, grad))


_extremum("maximum", "maximum", "MaximumBackward0",
          {"input": lambda grad, input, other: _tie_split(grad, input, other, input < other),
           "other": lambda grad, input, other: _tie_split(grad, other, input, other < input)},
          "Element-wise maximum, propagating NaN")
_extremum("minimum", "minimum", "MinimumBackward0",
          {"input": lambda grad, input, other: _tie_split(grad, input, other, input > other),
           "other": lambda grad, input, other: _tie_split(grad, other, input, other > input)},
          "Element-wise minimum, propagating NaN")


def _input_wins_max(input, other):
    # fmax: ties go to input; a NaN loses to a number.
    return (input >= other) | other.isnan()


def _input_wins_min(input, other):
    return (input <= other) | other.isnan()


_extremum("fmax", "fmax", "FmaxBackward0",
          {"input": lambda grad, input, other: where(_input_wins_max(input, other), grad, 0.0),
           "other": lambda grad, input, other: where(_input_wins_max(input, other), 0.0, grad)},
          "Element-wise maximum, ignoring NaN")
_extremum("fmin", "fmin", "FminBackward0",
          {"input": lambda grad, input, other: where(_input_wins_min(input, other), grad, 0.0),
           "other": lambda grad, input, other: where(_input_wins_min(input, other), 0.0, grad)},
          "Element-wise minimum, ignoring NaN")


def hypot(xp, input, other):
    """sqrt(input ** 2 + other ** 2); see torch.hypot."""
    _require_tensor("hypot", other)
    if input.dtype.kind not in "fc":
        raise not_implemented_for("hypot_cpu", input)
    return xp.hypot(input, other)


defop(hypot, node="HypotBackward0", inputs=2, promote="promote", kind=E,
      grads={"input": lambda grad, input, result: grad * input / result,
             "other": lambda grad, other, result: grad * other / result},
      methods=("hypot",), inplace="hypot_",
      samples=samples.binary(scalar=None, tensor_only=True) + [samples.integer_error((3, 4),
                                                                                    (3, 4))])


def _lerp_forward(xp, input, end, weight):
    if input.dtype != end.dtype:
        raise RuntimeError(f"expected dtype {_TORCH_NAMES[input.dtype.name]} for `end` but got "
                           f"dtype {_TORCH_NAMES[end.dtype.name]}")
    if input.dtype.kind not in "fc":
        raise not_implemented_for("lerp_kernel_scalar", input)
    # Two formulas, chosen by the weight, keep lerp exact at both ends (PyTorch does the same).
    difference = end - input
    small = xp.abs(weight) < 0.5
    return xp.where(small, input + weight * difference,
                    end - difference * (1 - weight)).astype(input.dtype, copy=False)


_TORCH_NAMES = {"float32": "float", "float64": "double", "float16": "half", "int64": "long",
                "int32": "int", "int16": "short", "int8": "signed char", "uint8": "unsigned char",
                "bool": "bool", "complex64": "c10::complex<float>",
                "complex128": "c10::complex<double>"}


def _lerp_scalar(xp, input, end, weight):
    return _lerp_forward(xp, input, end, weight)


def _lerp_tensor(xp, input, end, weight):
    return _lerp_forward(xp, input, end, weight)


lerp_scalar_op = defop(
    _lerp_scalar, name="lerp_scalar", node="LerpBackward0", inputs=2, kind=E, function=False,
    grads={"input": lambda grad, weight: grad * (1 - weight),
           "end": lambda grad, weight: grad * weight},
    samples=[Sample(((3, 4), (3, 4)), args=(0.3,)), Sample(((3, 4), (4,)), args=(0.8,)),
             Sample(((3, 4), (5,)), args=(0.3,), error=True),
             samples.integer_error((3, 4), (3, 4), args=(0.3,))])
lerp_tensor_op = defop(
    _lerp_tensor, name="lerp_tensor", node="LerpBackward1", inputs=3, kind=E, function=False,
    grads={"input": lambda grad, weight: grad * (1 - weight),
           "end": lambda grad, weight: grad * weight,
           "weight": lambda grad, input, end: grad * (end - input)},
    samples=[Sample(((3, 4), (3, 4), (3, 4)), domain=(-1.0, 1.0)),
             Sample(((3, 4), (4,), (3, 1)), domain=(-1.0, 1.0)),
             Sample(((3, 4), (3, 4), (5,)), error=True)])


@public(methods=("lerp",))
def lerp(input, end, weight):
    """input + weight * (end - input); see torch.lerp."""
    if _is_number(weight):
        return lerp_scalar_op.function(input, end, weight)
    return lerp_tensor_op.function(input, end, weight)


public(methods=("lerp_",), function=False)(_inplace(lerp, "lerp"))


def _xlogy(xp, input, other):
    with quiet():
        product = xp.multiply(input, xp.log(other))
        # 0 * log(y) is 0 for every y but NaN.
        return xp.where((xp.asarray(input) == 0) & ~xp.isnan(other), 0, product)


def _xlogy_input_rule(grad, input, other):
    return grad * xlogy(input != 0, other)


def _xlogy_other_rule(grad, input, other):
    return grad * input / other


xlogy_op = defop(_xlogy, name="xlogy", node="XlogyBackward0", inputs=2, promote="float", kind=E,
                 grads={"input": _xlogy_input_rule, "other": _xlogy_other_rule}, function=False,
                 samples=samples.binary(domain=(0.5, 2.0), scalar=None))
xlogy_self_scalar_op = defop(
    _xlogy, name="xlogy_self_scalar", node="XlogyBackward1", inputs=2, promote="float", kind=E,
    grads={"other": _xlogy_other_rule}, function=False,
    samples=[Sample((None, (3, 4)), kwargs={"_scalar": 2.5}, domain=(0.5, 2.0))])
xlogy_other_scalar_op = defop(
    _xlogy, name="xlogy_other_scalar", node="XlogyBackward2", inputs=2, promote="float", kind=E,
    grads={"input": _xlogy_input_rule}, function=False,
    samples=[Sample(((3, 4), None), kwargs={"_scalar": 2.5})])


@public(methods=("xlogy",))
def xlogy(input, other):
    """input * log(other), 0 where input is 0; see torch.xlogy."""
    if _is_number(input):
        if _is_number(other):
            raise TypeError("xlogy() received an invalid combination of arguments - got "
                            f"({type(input).__name__}, {type(other).__name__})")
        return xlogy_self_scalar_op.function(input, other)
    if _is_number(other):
        return xlogy_other_scalar_op.function(input, other)
    return xlogy_op.function(input, other)


public(methods=("xlogy_",), function=False)(_inplace(xlogy, "xlogy"))


# --- selection ------------------------------------------------------------------------------
def where(condition, input, other):
    """Elements of input where condition holds, else of other; see torch.where."""
    if isinstance(condition, np.ndarray):  # an array stands for a tensor: its dtype counts
        condition = wrap(condition)
    if not isinstance(condition, Tensor):
        condition = wrap(np.asarray(condition, dtype=bool))
    elif condition._data.dtype.kind != "b":
        raise RuntimeError(f"where expected condition to be a boolean tensor, but got a tensor "
                           f"with dtype {legacy_name(condition._data)}")
    # PyTorch broadcasts condition, input and other in that order (and names them so).
    mismatch = broadcast_mismatch(*(tuple(value.shape) for value in (condition, input, other)
                                    if isinstance(value, Tensor)))
    if mismatch is not None:
        raise mismatch
    return where_op.function(input, other, condition)


def _where(xp, input, other, condition):
    return xp.where(condition, input, other)


where_op = defop(
    _where, name="where", node="WhereBackward0", inputs=2, promote="promote", kind=E,
    array_params=True, function=False,
    grads={"input": lambda grad, condition: where(condition, grad, 0.0),
           "other": lambda grad, condition: where(condition, 0.0, grad)},
    samples=[samples.Sample(((3, 4), (3, 4)), args=("mask",)),
             samples.Sample(((3, 4), (4,)), args=("mask",)),
             samples.Sample(((3, 4), (5,)), args=("mask",), error=True),
             samples.Sample(((3, 4), (3, 4)), args=(np.ones(5, dtype=bool),), error=True),
             # the condition must be bool
             samples.Sample(((3, 4), (3, 4)), args=(np.ones((3, 4)),), error=True),
             samples.Sample(((3, 4), (3, 4)), args=(np.ones((3, 4), dtype=np.int64),),
                            error=True)])
public(methods=())(where)


@public(methods=("where",), function=False)
def where_method(input, condition, other):
    """``input.where(condition, other)`` is ``where(condition, input, other)``."""
    return where(condition, input, other)


# --- comparisons and tests (no gradient) ----------------------------------------------------
def _comparison(name: str, numpy_name: str, dunder: str, alias: str | None = None) -> None:
    def forward(xp, input, other):
        return getattr(xp, numpy_name)(input, other)

    forward.__name__ = name
    forward.__doc__ = f"Element-wise {numpy_name} giving a bool tensor; see torch.{name}."
    defop(forward, name=name, inputs=2, promote="compare", methods=(name, dunder),
          inplace=f"{name}_", samples=samples.binary())
    if alias is not None:
        alias_of(name, alias)


_comparison("eq", "equal", "__eq__")
_comparison("ne", "not_equal", "__ne__", "not_equal")
_comparison("lt", "less", "__lt__", "less")
_comparison("le", "less_equal", "__le__", "less_equal")
_comparison("gt", "greater", "__gt__", "greater")
_comparison("ge", "greater_equal", "__ge__", "greater_equal")


def isclose(xp, input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    """|input - other| <= atol + rtol * |other|, element-wise; see torch.isclose."""
    _require_tensor("isclose", other)
    if rtol < 0:
        raise RuntimeError(f"rtol must be greater than or equal to zero, but got {rtol:g}")
    if atol < 0:
        raise RuntimeError(f"atol must be greater than or equal to zero, but got {atol:g}")
    if input.dtype != other.dtype:
        raise RuntimeError(f"{legacy_name(input)} did not match {legacy_name(other)}")
    if input.dtype.kind in "iub":
        input, other = input.astype("float64"), other.astype("float64")
    return xp.isclose(input, other, rtol=rtol, atol=atol, equal_nan=equal_nan)


defop(isclose, inputs=2, methods=("isclose",),
      samples=samples.binary(scalar=None, tensor_only=True) + [
          Sample(((5,), (5,)), kwargs={"atol": 0.5}),
          Sample(((5,), (5,)), kwargs={"rtol": -1.0}, error=True),
          Sample(((5,), (5,)), kwargs={"atol": -0.5}, error=True)])


@public(methods=("allclose",))
def allclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False) -> bool:
    """Whether every element is close; see torch.allclose."""
    return bool(OPS["isclose"].function(input, other, rtol, atol, equal_nan)._data.all())


@public(methods=("equal",))
def equal(input, other) -> bool:
    """Same shape and same elements; see torch.equal."""
    _require_tensor("equal", other)
    return input.shape == other.shape and bool((input._data == other._data).all())


def _test(name: str, compute: Callable, doc: str) -> None:
    def forward(xp, input):
        if input.dtype.kind not in "fc":
            return compute(xp, input.astype("float64"))  # integers are always finite
        return compute(xp, input)

    forward.__name__ = name
    forward.__doc__ = f"{doc}; see torch.{name}."
    defop(forward, name=name, methods=(name,), samples=samples.unary())


_test("isnan", lambda xp, x: xp.isnan(x), "Where input is NaN")
_test("isinf", lambda xp, x: xp.isinf(x), "Where input is +inf or -inf")
_test("isfinite", lambda xp, x: xp.isfinite(x), "Where input is neither NaN nor infinite")
_test("isposinf", lambda xp, x: xp.isposinf(x), "Where input is +inf")
_test("isneginf", lambda xp, x: xp.isneginf(x), "Where input is -inf")


def _logical(name: str, compute: Callable, doc: str) -> None:
    def forward(xp, input, other):
        _require_tensor(name, other)
        return compute(xp, input, other)

    forward.__name__ = name
    forward.__doc__ = f"{doc}, giving a bool tensor; see torch.{name}."
    defop(forward, name=name, inputs=2, methods=(name,), inplace=f"{name}_",
          samples=samples.binary(scalar=None, tensor_only=True))


_logical("logical_and", lambda xp, a, b: xp.logical_and(a, b), "input and other")
_logical("logical_or", lambda xp, a, b: xp.logical_or(a, b), "input or other")
_logical("logical_xor", lambda xp, a, b: xp.logical_xor(a, b), "input xor other")


def logical_not(xp, input):
    """not input, giving a bool tensor; see torch.logical_not."""
    return xp.logical_not(input)


defop(logical_not, methods=("logical_not",), inplace="logical_not_", samples=samples.unary())


# --- bitwise (integer and bool tensors) -----------------------------------------------------
_INTEGER_SAMPLES = [Sample(((3, 4), (3, 4)), domain=(-9.0, 9.0), integer=True),
                    Sample(((3, 4), (4,)), domain=(0.0, 20.0), integer=True),
                    Sample(((5,), None), kwargs={"_scalar": 6}, domain=(-9.0, 9.0),
                           integer=True),
                    Sample(((3, 4), (3, 4)), error=True),  # floats have no bits to combine
                    Sample(((5,), None), kwargs={"_scalar": 1.5}, domain=(-9.0, 9.0),
                           integer=True, error=True),
                    Sample(((3, 4), (5,)), domain=(-9.0, 9.0), integer=True, error=True)]


def _bitwise(name: str, numpy_name: str, dunders: tuple) -> None:
    def forward(xp, input, other):
        if input.dtype.kind not in "iub":
            raise not_implemented_for(f"{name}_cpu", input)
        return getattr(xp, numpy_name)(input, other)

    forward.__name__ = name
    forward.__doc__ = f"Element-wise {numpy_name} of integer or bool tensors; see torch.{name}."
    defop(forward, name=name, inputs=2, promote="promote", methods=(name, *dunders),
          inplace=f"{name}_", samples=_INTEGER_SAMPLES)


_bitwise("bitwise_and", "bitwise_and", ("__and__", "__rand__"))
_bitwise("bitwise_or", "bitwise_or", ("__or__", "__ror__"))
_bitwise("bitwise_xor", "bitwise_xor", ("__xor__", "__rxor__"))


def bitwise_not(xp, input):
    """Element-wise bitwise not (logical not for bool); see torch.bitwise_not."""
    if input.dtype.kind not in "iub":
        raise not_implemented_for("bitwise_not_cpu", input)
    return xp.invert(input)


defop(bitwise_not, methods=("bitwise_not",), inplace="bitwise_not_",
      samples=[Sample(((3, 4),), domain=(-9.0, 9.0), integer=True), Sample(((3, 4),), error=True)])


@public(methods=("__invert__",), function=False)
def invert_operator(input):
    """``~input``: integer and bool tensors only."""
    if input._data.dtype.kind not in "iub":
        raise TypeError("~ (operator.invert) is only implemented on integer and Boolean-type "
                        "tensors")
    return OPS["bitwise_not"].function(input)


# --- reflected and in-place operators -------------------------------------------------------
@public(methods=("__rsub__",), function=False)
def rsub_operator(input, other):
    """``other - input`` for a number or tensor ``other`` (PyTorch records RsubBackward1)."""
    if not _is_number(other):
        return other - input
    return OPS["rsub_scalar"].function(input, other)


@public(methods=("__rtruediv__", "__rdiv__"), function=False)
def rdiv_operator(input, other):
    """``other / input``: PyTorch computes it as reciprocal(input) * other."""
    return OPS["reciprocal"].function(input) * other


@public(methods=("__rpow__",), function=False)
def rpow_operator(input, other):
    """``other ** input`` for a number ``other``."""
    return pow(other, input)


@public(methods=("__pos__",), function=False)
def positive(input):
    return input


def _inplace_operator(name: str, method: str) -> None:
    def operator(input, other):
        return getattr(input, method)(other)

    operator.__name__ = name
    public(methods=(name,), function=False)(operator)


for _name, _method in (("__iadd__", "add_"), ("__isub__", "sub_"), ("__imul__", "mul_"),
                       ("__itruediv__", "div_"), ("__ipow__", "pow_"),
                       ("__ifloordiv__", "floor_divide_"), ("__iand__", "bitwise_and_"),
                       ("__ior__", "bitwise_or_"), ("__ixor__", "bitwise_xor_")):
    _inplace_operator(_name, _method)


public(methods=("pow_",), function=False)(_inplace(pow, "pow"))


def fill(xp, input, value):
    """A tensor like input filled with value (used as ``fill_``)."""
    value = value._data if hasattr(value, "_data") else value
    if getattr(value, "ndim", 0):
        raise RuntimeError(f"fill_ only supports 0-dimension value tensor but got tensor with "
                           f"{value.ndim} dimensions.")
    return xp.full_like(input, value)


defop(fill, node="FillBackward2", grads={"input": lambda grad: grad * 0}, function=False,
      inplace="fill_", samples=[samples.Sample(((3, 4),), args=(2.0,)),
                                Sample(((3, 4),), args=(np.array([1.0, 2.0]),), error=True)])


def zero(xp, input):
    """Zeros like input (used as ``zero_``)."""
    return xp.zeros_like(input)


defop(zero, node="ZeroBackward0", grads={"input": lambda grad: grad * 0}, function=False,
      inplace="zero_", samples=[samples.Sample(((3, 4),))])
