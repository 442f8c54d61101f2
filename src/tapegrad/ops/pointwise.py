"""Element-wise ops: arithmetic, powers, exponentials, trigonometry, activations, comparisons.

Rules are written with tapegrad ops so that create_graph gives higher derivatives. For these
element-wise ops the same per-input rule, applied to a tangent instead of a gradient, is the
forward-mode (JVP) rule; ``kind="elementwise"`` marks that.
"""

from __future__ import annotations

from . import _samples as samples
from ._registry import defop, public

E = "elementwise"


# --- arithmetic -----------------------------------------------------------------------------
def add(xp, input, other, *, alpha=1):
    """input + alpha * other; see torch.add."""
    return xp.add(input, other if alpha == 1 else xp.multiply(other, alpha))


defop(add, node="AddBackward0", inputs=2, promote="promote", kind=E,
      grads={"input": lambda grad: grad,
             "other": lambda grad, alpha: grad if alpha == 1 else grad * alpha},
      methods=("add", "__add__", "__radd__"), inplace="add_", samples=samples.binary())


def sub(xp, input, other, *, alpha=1):
    """input - alpha * other; see torch.sub."""
    return xp.subtract(input, other if alpha == 1 else xp.multiply(other, alpha))


defop(sub, node="SubBackward0", inputs=2, promote="promote", kind=E,
      grads={"input": lambda grad: grad,
             "other": lambda grad, alpha: -grad if alpha == 1 else grad * -alpha},
      methods=("sub", "subtract", "__sub__"), inplace="sub_", samples=samples.binary())


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
      methods=("mul", "multiply", "__mul__", "__rmul__"), inplace="mul_",
      samples=samples.binary())


def div(xp, input, other):
    """input / other (true division); see torch.div."""
    return xp.true_divide(input, other)


defop(div, node="DivBackward0", inputs=2, promote="float", kind=E,
      grads={"input": lambda grad, other: grad / other,
             "other": lambda grad, input, other: -grad * input / (other * other)},
      methods=("div", "divide", "true_divide", "__truediv__"), inplace="div_",
      samples=samples.binary(other_domain=(0.5, 2.0)))


def neg(xp, input):
    """-input; see torch.neg."""
    return xp.negative(input)


defop(neg, node="NegBackward0", promote="promote", kind=E, grads={"input": lambda grad: -grad},
      methods=("neg", "negative", "__neg__"), inplace="neg_", samples=samples.unary())


def reciprocal(xp, input):
    """1 / input; see torch.reciprocal."""
    return xp.reciprocal(input)


defop(reciprocal, node="ReciprocalBackward0", promote="float", kind=E,
      grads={"input": lambda grad, result: -grad * result * result},
      methods=("reciprocal",), inplace="reciprocal_", samples=samples.unary((0.5, 2.0)))


# --- powers ---------------------------------------------------------------------------------
def _pow_scalar_rule(grad, input, exponent):
    if exponent == 0:
        return grad * 0
    return grad * exponent * pow_tensor_scalar.function(input, exponent - 1)


def _pow(xp, input, exponent):
    return xp.power(input, exponent)


pow_tensor_scalar = defop(
    _pow, name="pow_tensor_scalar", node="PowBackward0", inputs=1, promote="promote", kind=E,
    grads={"input": _pow_scalar_rule}, function=False,
    samples=[samples.Sample(((3, 4),), args=(2,)), samples.Sample(((5,),), args=(3,)),
             samples.Sample(((3, 4),), args=(0.5,), domain=(0.5, 2.0)),
             samples.Sample(((),), args=(-1.5,), domain=(0.5, 2.0))])


def _pow_tensor_tensor(xp, input, exponent):
    return xp.power(input, exponent)


def _pow_exponent_rule(grad, input, result):
    # d/dy x**y = x**y * log(x); at x == 0 PyTorch uses 0 (masked), so do we.
    safe = where(input == 0, 1.0, input)  # the public where, defined below
    return grad * result * safe.log()


pow_tensor_tensor = defop(
    _pow_tensor_tensor, name="pow_tensor_tensor", node="PowBackward1", inputs=2,
    promote="promote", kind=E,
    grads={"input": lambda grad, input, exponent: grad * exponent * pow(input, exponent - 1),
           "exponent": _pow_exponent_rule},
    function=False, samples=samples.binary(domain=(0.5, 2.0), scalar=None))


def _pow_scalar_tensor(xp, exponent, base):
    return xp.power(base, exponent)


pow_scalar_tensor = defop(
    _pow_scalar_tensor, name="pow_scalar_tensor", node="PowBackward2", inputs=1,
    promote="promote", kind=E,
    grads={"exponent": lambda grad, result, base: grad * result * _log_of_number(base)},
    function=False, samples=[samples.Sample(((3, 4),), args=(2.0,))])


def _log_of_number(value):
    import math

    return math.log(value) if value > 0 else float("nan") if value < 0 else float("-inf")


@public(methods=("pow", "__pow__"))
def pow(input, exponent):  # noqa: A001 - torch.pow
    """input ** exponent, with a tensor or a number on either side; see torch.pow."""
    from .._tensor import Tensor

    if not isinstance(input, Tensor):
        return pow_scalar_tensor.function(exponent, input)
    if isinstance(exponent, Tensor):
        return pow_tensor_tensor.function(input, exponent)
    return pow_tensor_scalar.function(input, exponent)


@public(methods=("square",))
def square(input):
    """input ** 2; see torch.square."""
    return pow_tensor_scalar.function(input, 2)


# --- exponentials and logarithms ------------------------------------------------------------
def exp(xp, input):
    """e ** input; see torch.exp."""
    return xp.exp(input)


defop(exp, node="ExpBackward0", promote="float", kind=E, grads={"input": lambda grad, result:
                                                                 grad * result},
      methods=("exp",), inplace="exp_", samples=samples.unary())


def log(xp, input):
    """Natural logarithm; see torch.log."""
    return xp.log(input)


defop(log, node="LogBackward0", promote="float", kind=E,
      grads={"input": lambda grad, input: grad / input},
      methods=("log",), inplace="log_", samples=samples.unary((0.5, 3.0)))


def sqrt(xp, input):
    """Square root; see torch.sqrt."""
    return xp.sqrt(input)


defop(sqrt, node="SqrtBackward0", promote="float", kind=E,
      grads={"input": lambda grad, result: grad / (2 * result)},
      methods=("sqrt",), inplace="sqrt_", samples=samples.unary((0.5, 3.0)))


# --- trigonometric and hyperbolic -----------------------------------------------------------
def sin(xp, input):
    """Sine; see torch.sin."""
    return xp.sin(input)


defop(sin, node="SinBackward0", promote="float", kind=E,
      grads={"input": lambda grad, input: grad * input.cos()},
      methods=("sin",), inplace="sin_", samples=samples.unary())


def cos(xp, input):
    """Cosine; see torch.cos."""
    return xp.cos(input)


defop(cos, node="CosBackward0", promote="float", kind=E,
      grads={"input": lambda grad, input: grad * -input.sin()},
      methods=("cos",), inplace="cos_", samples=samples.unary())


def tanh(xp, input):
    """Hyperbolic tangent; see torch.tanh."""
    return xp.tanh(input)


defop(tanh, node="TanhBackward0", promote="float", kind=E,
      grads={"input": lambda grad, result: grad * (1 - result * result)},
      methods=("tanh",), inplace="tanh_", samples=samples.unary())


def sigmoid(xp, input):
    """1 / (1 + e ** -input); see torch.sigmoid."""
    # Split by sign so that neither branch overflows.
    positive = input >= 0
    exp_neg_abs = xp.exp(-xp.abs(input))
    return xp.where(positive, 1 / (1 + exp_neg_abs), exp_neg_abs / (1 + exp_neg_abs)).astype(
        input.dtype, copy=False)


defop(sigmoid, node="SigmoidBackward0", promote="float", kind=E,
      grads={"input": lambda grad, result: grad * result * (1 - result)},
      methods=("sigmoid",), inplace="sigmoid_", samples=samples.unary())


# --- piecewise ------------------------------------------------------------------------------
def relu(xp, input):
    """max(input, 0); see torch.relu."""
    return xp.maximum(input, 0) if input.dtype.kind != "b" else input.copy()


# relu'(0) = 0, as PyTorch (the gradient mask is result > 0).
defop(relu, node="ReluBackward0", promote="promote", kind=E,
      grads={"input": lambda grad, result: grad * (result > 0)},
      methods=("relu",), inplace="relu_", samples=samples.unary())


def abs(xp, input):  # noqa: A001 - torch.abs
    """|input|; see torch.abs."""
    return xp.abs(input)


# abs'(0) = sign(0) = 0, as PyTorch.
defop(abs, node="AbsBackward0", promote="promote", kind=E,
      grads={"input": lambda grad, input: grad * input.sign()},
      methods=("abs", "absolute", "__abs__"), inplace="abs_", samples=samples.unary())


def sign(xp, input):
    """-1, 0 or 1 by the sign of input; see torch.sign."""
    return xp.sign(input)


defop(sign, node="SignBackward0", promote="promote", kind=E,
      grads={"input": lambda grad: grad * 0},
      methods=("sign",), inplace="sign_", samples=samples.unary())


def where(condition, input, other):
    """Elements of input where condition holds, else of other; see torch.where."""
    import numpy as np

    from .._tensor import Tensor, wrap

    if not isinstance(condition, Tensor):
        condition = wrap(np.asarray(condition, dtype=bool))
    return where_op.function(input, other, condition)


def _where(xp, input, other, condition):
    return xp.where(condition, input, other)


where_op = defop(
    _where, name="where", node="WhereBackward0", inputs=2, promote="promote", kind=E,
    array_params=True, function=False,
    grads={"input": lambda grad, condition: where(condition, grad, 0.0),
           "other": lambda grad, condition: where(condition, 0.0, grad)},
    samples=[samples.Sample(((3, 4), (3, 4)), args=("mask",)),
             samples.Sample(((3, 4), (4,)), args=("mask",))])
public(methods=())(where)


# --- comparisons (no gradient) --------------------------------------------------------------
def _comparison(name: str, numpy_name: str, dunder: str, reflected: str | None = None) -> None:
    def forward(xp, input, other):
        return getattr(xp, numpy_name)(input, other)

    forward.__name__ = name
    forward.__doc__ = f"Element-wise {numpy_name} giving a bool tensor; see torch.{name}."
    methods = [name, dunder] + ([reflected] if reflected else [])
    defop(forward, name=name, inputs=2, promote="compare", methods=methods,
          samples=samples.binary())


_comparison("eq", "equal", "__eq__")
_comparison("ne", "not_equal", "__ne__")
_comparison("lt", "less", "__lt__")
_comparison("le", "less_equal", "__le__")
_comparison("gt", "greater", "__gt__")
_comparison("ge", "greater_equal", "__ge__")


# --- reflected and in-place operators -------------------------------------------------------
@public(methods=("__rsub__",), function=False)
def rsub_operator(input, other):
    """``other - input`` for a number or tensor ``other`` (PyTorch records RsubBackward1)."""
    from .._tensor import Tensor

    if isinstance(other, Tensor):
        return other - input
    from ._registry import OPS

    return OPS["rsub_scalar"].function(input, other)


@public(methods=("__rtruediv__", "__rdiv__"), function=False)
def rdiv_operator(input, other):
    """``other / input``: PyTorch computes it as reciprocal(input) * other."""
    from ._registry import OPS

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
                       ("__itruediv__", "div_"), ("__ipow__", "pow_")):
    _inplace_operator(_name, _method)


@public(methods=("pow_",), function=False)
def pow_(input, exponent):
    from .._dispatch import check_inplace, write_inplace

    check_inplace(input)
    write_inplace(input, pow(input, exponent), "pow")
    return input


def fill(xp, input, value):
    """A tensor like input filled with value (used as ``fill_``)."""
    return xp.full_like(input, value._data if hasattr(value, "_data") else value)


defop(fill, node="FillBackward2", grads={"input": lambda grad: grad * 0}, function=False,
      inplace="fill_", samples=[samples.Sample(((3, 4),), args=(2.0,))])


def zero(xp, input):
    """Zeros like input (used as ``zero_``)."""
    return xp.zeros_like(input)


defop(zero, node="ZeroBackward0", grads={"input": lambda grad: grad * 0}, function=False,
      inplace="zero_", samples=[samples.Sample(((3, 4),))])
