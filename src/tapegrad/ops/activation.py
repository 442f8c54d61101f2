"""Activation functions (torch.nn.functional's and their torch.* / Tensor forms): rectifiers,
exponential units, smooth gates, shrinkage, softmax family.

Subgradients at kinks follow PyTorch and are checked against it in
tests/test_pointwise_semantics.py.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from .. import _dispatch
from .._backend import constant, quiet
from .._tensor import normalize_dim
from . import _samples as samples
from ._registry import defop, public
from .pointwise import legacy_name, not_implemented_for, where

E = "elementwise"
Sample = samples.Sample

__all__ = [
    "relu", "relu_", "relu6", "leaky_relu", "leaky_relu_", "elu", "elu_", "selu", "selu_",
    "celu", "celu_", "gelu", "silu", "mish", "softplus", "softsign", "hardtanh", "hardtanh_",
    "hardsigmoid", "hardswish", "logsigmoid", "tanhshrink", "threshold", "threshold_", "glu",
    "softmax", "log_softmax", "softmin", "hardshrink", "softshrink", "prelu", "rrelu", "rrelu_",
    "sigmoid", "tanh",
]


def _require_float(input: Any, kernel: str) -> None:
    if input.dtype.kind not in "fc":
        raise not_implemented_for(kernel, input)


def _maybe_inplace(op: Any, inplace_op: Any, input: Any, *params: Any) -> Any:
    """Out of place, or written into ``input`` (recording ``inplace_op``'s node)."""
    if inplace_op is None:
        return op.function(input, *params)
    return _dispatch.dispatch_inplace(inplace_op, input, (input,), params)


# --- rectifiers -----------------------------------------------------------------------------
# NumPy's maximum is vectorized only between arrays: against a number (or a 0-d array) it
# takes two to three times as long on large inputs, so from this size relu gets an array of
# zeros; below it, a cached 0-d zero saves the conversion of the number instead.
_RELU_ZEROS_ARRAY_FROM = 512


def _relu(xp, input):
    if input.dtype.kind == "b":
        raise RuntimeError("Boolean inputs not supported for relu")
    zero = constant(0, input.dtype) if input.size < _RELU_ZEROS_ARRAY_FROM else \
        xp.zeros(input.shape, input.dtype)
    return xp.maximum(input, zero).astype(input.dtype, copy=False)


# Floating-point dtypes by the signed integer of their size, for bitwise selection.
_SAME_SIZE_INTEGER = {np.dtype(np.float16): np.int16, np.dtype(np.float32): np.int32,
                      np.dtype(np.float64): np.int64}


def _threshold_backward(xp, grad_output, output, threshold):
    # (Inputs are not named grad/result: rules use those names for the incoming gradient
    # and this op's own result.)
    # As PyTorch: zero where output <= threshold, so a nan output passes its gradient on.
    blocked = xp.asarray(output <= threshold)  # (an array for 0-d inputs too)
    bits = _SAME_SIZE_INTEGER.get(grad_output.dtype)
    if bits is not None and grad_output.shape == blocked.shape:
        # The gradient's bits, zeroed where blocked: exact for every value (a product would
        # make 0 * inf nan), in three passes where np.where is ten times slower. Blocked (1)
        # minus one is 0, open (0) minus one is all ones. The result owns its memory, so a
        # leaf can keep it as its .grad without a copy.
        result = xp.empty(grad_output.shape, grad_output.dtype)
        keep = result.view(bits)
        xp.subtract(blocked.view(np.int8), np.int8(1), out=keep)
        xp.bitwise_and(grad_output.view(bits), keep, out=keep)
        return result
    mask = ~blocked
    # A product with the mask is several times faster than np.where; where a gradient is not
    # finite, 0 * inf would be nan, so select instead (PyTorch gives 0 there).
    try:  # (a mask of the gradient's dtype: NumPy multiplies mixed dtypes a third slower)
        result = xp.multiply(grad_output, mask.astype(grad_output.dtype))
    except ValueError as error:  # PyTorch names output's shape first
        raise _dispatch.broadcast_mismatch(output.shape, grad_output.shape) or error from None
    if not xp.isfinite(result).all():
        result = xp.where(mask, grad_output, xp.zeros((), grad_output.dtype))
    return result


# The gradient of relu and threshold-like ops: grad, except 0 where result <= threshold.
threshold_backward_op = defop(
    _threshold_backward, name="threshold_backward", node="ThresholdBackwardBackward0", inputs=2,
    promote="promote", function=False,
    grads={"grad_output": lambda grad, output, threshold: threshold_backward_op.function(
        grad, output, threshold),
           "output": lambda grad: grad * 0},
    samples=[Sample(((3, 4), (3, 4)), args=(0.0,)), Sample(((5,), (5,)), args=(0.5,)),
             Sample(((3, 4), (5,)), args=(0.0,), error=True)])


# relu'(0) = 0, as PyTorch (the gradient passes where the result is positive).
relu_op = defop(_relu, name="relu", node="ReluBackward0", promote="promote", kind=E,
                grads={"input": lambda grad, result: threshold_backward_op.function(
                    grad, result, 0)},
                array_grads={"input": lambda grad, result: _threshold_backward(
                    np, grad, result, 0)},
                methods=("relu",), inplace="relu_", samples=samples.unary())


def relu(input, inplace: bool = False):
    """max(input, 0); see torch.nn.functional.relu."""
    return _maybe_inplace(relu_op, relu_op if inplace else None, input)


@public(methods=())
def relu_(input):
    """In-place relu; see torch.relu_."""
    return relu(input, inplace=True)


def _hardtanh(xp, input, min_val, max_val):
    if input.dtype.kind == "b":
        raise not_implemented_for("hardtanh_cpu", input)
    return xp.minimum(xp.maximum(input, min_val), max_val).astype(input.dtype, copy=False)


# Zero gradient at both bounds (they are exclusive in PyTorch's hardtanh_backward).
hardtanh_op = defop(
    _hardtanh, name="hardtanh", node="HardtanhBackward0", kind=E, function=False,
    grads={"input": lambda grad, input, min_val, max_val:
           where((input > min_val) & (input < max_val), grad, 0.0)},
    samples=[Sample(((3, 4),), args=(-1.0, 1.0)), Sample(((5,),), args=(-0.5, 1.5)),
             Sample(((2, 3, 2),), args=(0.0, 6.0), domain=(-3.0, 8.0)),
             Sample(((3, 4),), args=(1.0, -1.0), error=True)])  # min_val above max_val


def hardtanh(input, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False):
    """input clamped to [min_val, max_val]; see torch.nn.functional.hardtanh."""
    if min_val > max_val:
        raise ValueError("min_val cannot be greater than max_val")
    return _maybe_inplace(hardtanh_op, hardtanh_op if inplace else None, input, min_val,
                          max_val)


def hardtanh_(input, min_val: float = -1.0, max_val: float = 1.0):
    """In-place hardtanh; see torch.nn.functional.hardtanh_."""
    return hardtanh(input, min_val, max_val, inplace=True)


def relu6(input, inplace: bool = False):
    """min(max(input, 0), 6): hardtanh(0, 6), as PyTorch records it; see
    torch.nn.functional.relu6."""
    return hardtanh(input, 0.0, 6.0, inplace)


def _leaky_relu(xp, input, negative_slope):
    _require_float(input, "leaky_relu_cpu")
    return xp.where(input > 0, input, input * negative_slope).astype(input.dtype, copy=False)


def _leaky_relu_rule(grad, input, negative_slope):
    # At 0 the negative slope is used, as PyTorch (input > 0 picks the identity).
    return where(input > 0, grad, grad * negative_slope)


leaky_relu_op = defop(_leaky_relu, name="leaky_relu", node="LeakyReluBackward0", kind=E,
                      function=False, grads={"input": _leaky_relu_rule},
                      samples=[Sample(((3, 4),), args=(0.01,)), Sample(((5,),), args=(0.2,)),
                               samples.integer_error((3, 4), args=(0.01,))])
leaky_relu_inplace_op = defop(
    _leaky_relu, name="leaky_relu_inplace", node="LeakyReluBackward1", kind=E, function=False,
    grads={"input": _leaky_relu_rule},
    samples=[Sample(((3, 4),), args=(0.2,)), samples.integer_error((3, 4), args=(0.2,))])


def leaky_relu(input, negative_slope: float = 0.01, inplace: bool = False):
    """input where positive, else negative_slope * input; see torch.nn.functional.leaky_relu."""
    return _maybe_inplace(leaky_relu_op, leaky_relu_inplace_op if inplace else None, input,
                          negative_slope)


def leaky_relu_(input, negative_slope: float = 0.01):
    """In-place leaky_relu; see torch.nn.functional.leaky_relu_."""
    return leaky_relu(input, negative_slope, inplace=True)


# --- exponential units ----------------------------------------------------------------------
def _elu(xp, input, alpha, scale, input_scale):
    _require_float(input, "elu_cpu")
    negative = alpha * scale * xp.expm1(xp.minimum(input, 0) * input_scale)
    return xp.where(input > 0, input * scale, negative).astype(input.dtype, copy=False)


def _elu_rule(grad, input, alpha, scale, input_scale):
    # At 0 the exponential branch is used (x <= 0), as PyTorch: slope alpha * scale * input_scale.
    negative = grad * (alpha * scale * input_scale) * (input * input_scale).exp()
    return where(input > 0, grad * scale, negative)


_ELU_SAMPLES = [Sample(((3, 4),), args=(1.0, 1.0, 1.0)), Sample(((5,),), args=(2.0, 1.0, 1.0)),
                Sample(((2, 3),), args=(1.6732632423543772, 1.0507009873554805, 1.0)),
                samples.integer_error((3, 4), args=(1.0, 1.0, 1.0))]
_CELU_SAMPLES = [Sample(((3, 4),), args=(1.0, 1.0, 1.0)), Sample(((5,),), args=(2.0, 1.0, 0.5)),
                 Sample(((3, 4),), args=(0.0, 1.0, 1.0), error=True),  # alpha 0 divides by 0
                 samples.integer_error((3, 4), args=(1.0, 1.0, 1.0))]

elu_op = defop(_elu, name="elu", node="EluBackward0", kind=E, function=False,
               grads={"input": _elu_rule}, samples=_ELU_SAMPLES)
elu_inplace_op = defop(_elu, name="elu_inplace", node="EluBackward1", kind=E, function=False,
                       grads={"input": _elu_rule},
                       samples=[_ELU_SAMPLES[0], _ELU_SAMPLES[-1]])
celu_op = defop(_elu, name="celu", node="CeluBackward0", kind=E, function=False,
                grads={"input": _elu_rule}, samples=_CELU_SAMPLES)
celu_inplace_op = defop(_elu, name="celu_inplace", node="CeluBackward1", kind=E,
                        function=False, grads={"input": _elu_rule}, samples=_CELU_SAMPLES[1:])

SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def elu(input, alpha: float = 1.0, inplace: bool = False):
    """input where positive, else alpha * (exp(input) - 1); see torch.nn.functional.elu."""
    return _maybe_inplace(elu_op, elu_inplace_op if inplace else None, input, alpha, 1.0, 1.0)


def elu_(input, alpha: float = 1.0):
    """In-place elu; see torch.nn.functional.elu_."""
    return elu(input, alpha, inplace=True)


def selu(input, inplace: bool = False):
    """scale * elu(input, alpha) with the self-normalizing constants; see torch.selu."""
    return _maybe_inplace(elu_op, elu_inplace_op if inplace else None, input, SELU_ALPHA,
                          SELU_SCALE, 1.0)


def selu_(input):
    """In-place selu; see torch.selu_."""
    return selu(input, inplace=True)


def _check_celu_alpha(alpha: float) -> None:
    if alpha == 0:
        raise RuntimeError("ZeroDivisionError: alpha cannot be 0 for CELU")


def celu(input, alpha: float = 1.0, inplace: bool = False):
    """max(0, x) + min(0, alpha * (exp(x / alpha) - 1)); see torch.celu."""
    _check_celu_alpha(alpha)
    return _maybe_inplace(celu_op, celu_inplace_op if inplace else None, input, alpha, 1.0,
                          1.0 / alpha)


def celu_(input, alpha: float = 1.0):
    """In-place celu; see torch.celu_."""
    return celu(input, alpha, inplace=True)


@public(function="selu")
def _torch_selu(input):
    """See torch.selu."""
    return selu(input)


public(function="selu_")(selu_)
public(function="celu_")(celu_)


@public(function="celu")
def _torch_celu(input, alpha: float = 1.0):
    """See torch.celu."""
    return celu(input, alpha)


# --- smooth gates ---------------------------------------------------------------------------
SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
GELU_CUBIC = 0.044715


def _gelu(xp, input, approximate):
    _require_float(input, "GeluKernelImpl")
    if approximate == "tanh":
        inner = SQRT_2_OVER_PI * (input + GELU_CUBIC * input * input * input)
        return 0.5 * input * (1 + xp.tanh(inner))
    from .special import _elementwise

    cdf = 0.5 * _elementwise(xp, math.erfc, -input / math.sqrt(2.0))
    return (input * cdf).astype(input.dtype, copy=False)


def _gelu_rule(grad, input, approximate):
    if approximate == "tanh":
        square = input * input
        inner = ((input + GELU_CUBIC * square * input) * SQRT_2_OVER_PI).tanh()
        slope = SQRT_2_OVER_PI * (1 + 3 * GELU_CUBIC * square)
        return grad * (0.5 * (1 + inner) + 0.5 * input * (1 - inner * inner) * slope)
    cdf = 0.5 * (1 + (input * (1 / math.sqrt(2.0))).erf())
    pdf = (input * input * -0.5).exp() * (1 / math.sqrt(2 * math.pi))
    return grad * (cdf + input * pdf)


gelu_op = defop(_gelu, name="gelu", node="GeluBackward0", kind=E, function=False,
                grads={"input": _gelu_rule},
                samples=[Sample(((3, 4),), args=("none",)), Sample(((5,),), args=("tanh",)),
                         Sample(((),), args=("none",)),
                         Sample(((3, 4),), args=("fast",), error=True),  # no such approximation
                         samples.integer_error((3, 4), args=("none",))])


def gelu(input, *, approximate: str = "none"):
    """input * Phi(input), or its tanh approximation; see torch.nn.functional.gelu."""
    if approximate not in ("none", "tanh"):
        raise RuntimeError("approximate argument must be either none or tanh.")
    return gelu_op.function(input, approximate)


def _sigmoid_array(xp, input):
    exp_neg_abs = xp.exp(-xp.abs(input))
    return xp.where(input >= 0, 1 / (1 + exp_neg_abs), exp_neg_abs / (1 + exp_neg_abs))


def _silu(xp, input):
    _require_float(input, "silu_cpu")
    return (input * _sigmoid_array(xp, input)).astype(input.dtype, copy=False)


def _silu_rule(grad, input):
    gate = input.sigmoid()
    return grad * gate * (1 + input * (1 - gate))


silu_op = defop(_silu, name="silu", node="SiluBackward0", kind=E, function=False,
                grads={"input": _silu_rule},
                samples=samples.unary() + [samples.integer_error((3, 4))])


def silu(input, inplace: bool = False):
    """input * sigmoid(input); see torch.nn.functional.silu."""
    return _maybe_inplace(silu_op, silu_op if inplace else None, input)


def _softplus_array(xp, input):
    # log(1 + e^x) without overflow
    return xp.maximum(input, 0) + xp.log1p(xp.exp(-xp.abs(input)))


def _mish(xp, input):
    _require_float(input, "mish_cpu")
    return (input * xp.tanh(_softplus_array(xp, input))).astype(input.dtype, copy=False)


def _mish_rule(grad, input):
    soft = softplus_op.function(input, 1.0, 20.0).tanh()
    return grad * (soft + input * input.sigmoid() * (1 - soft * soft))


mish_op = defop(_mish, name="mish", node="MishBackward0", kind=E, function=False,
                grads={"input": _mish_rule},
                samples=samples.unary() + [samples.integer_error((3, 4))])


def mish(input, inplace: bool = False):
    """input * tanh(softplus(input)); see torch.nn.functional.mish."""
    return _maybe_inplace(mish_op, mish_op if inplace else None, input)


def _softplus(xp, input, beta, threshold):
    _require_float(input, "softplus_cpu")
    scaled = input * beta
    with quiet():
        smooth = xp.log1p(xp.exp(scaled)) / beta
    # Above the threshold softplus is the identity (PyTorch's linear regime).
    return xp.where(scaled > threshold, input, smooth).astype(input.dtype, copy=False)


def _softplus_rule(grad, input, beta, threshold):
    scaled = input * beta
    return where(scaled > threshold, grad, grad * scaled.sigmoid())


softplus_op = defop(_softplus, name="softplus", node="SoftplusBackward0", kind=E,
                    function=False, grads={"input": _softplus_rule},
                    samples=[Sample(((3, 4),), args=(1.0, 20.0)),
                             Sample(((5,),), args=(2.0, 1.0), domain=(-1.0, 0.4)),
                             Sample(((2, 3),), args=(0.5, 0.3), domain=(1.0, 3.0)),
                             samples.integer_error((3, 4), args=(1.0, 20.0))])


def softplus(input, beta: float = 1.0, threshold: float = 20.0):
    """log(1 + exp(beta * input)) / beta; see torch.nn.functional.softplus."""
    return softplus_op.function(input, beta, threshold)


def softsign(input):
    """input / (1 + |input|), as the composite PyTorch records; see
    torch.nn.functional.softsign."""
    return input / (input.abs() + 1)


# hardsigmoid's derivative is 1/6 between the bounds; PyTorch uses the float32 value of 1/6
# even for float64 tensors, and so do we (checked against torch).
_ONE_SIXTH_FLOAT32 = 0.1666666716337204


def _hardsigmoid(xp, input):
    _require_float(input, "hardsigmoid_cpu")
    return (xp.minimum(xp.maximum(input + 3, 0), 6) / 6).astype(input.dtype, copy=False)


hardsigmoid_op = defop(
    _hardsigmoid, name="hardsigmoid", node="HardsigmoidBackward0", kind=E, function=False,
    # zero at both kinks (x = -3 and x = 3): PyTorch's mask is -3 < x < 3
    grads={"input": lambda grad, input:
           where((input > -3) & (input < 3), grad * _ONE_SIXTH_FLOAT32, 0.0)},
    samples=samples.unary((-4.0, 4.0)) + [samples.integer_error((3, 4))])


def hardsigmoid(input, inplace: bool = False):
    """relu6(input + 3) / 6; see torch.nn.functional.hardsigmoid."""
    return _maybe_inplace(hardsigmoid_op, hardsigmoid_op if inplace else None, input)


def _hardswish(xp, input):
    _require_float(input, "hardswish_cpu")
    return (input * xp.minimum(xp.maximum(input + 3, 0), 6) / 6).astype(input.dtype, copy=False)


def _hardswish_rule(grad, input):
    # At x = -3 the gradient is 0 and at x = 3 it is 1, as PyTorch (x <= -3: 0, x < 3: x/3 + 1/2).
    middle = where(input < 3, grad * (input / 3 + 0.5), grad)
    return where(input <= -3, 0.0, middle)


hardswish_op = defop(_hardswish, name="hardswish", node="HardswishBackward0", kind=E,
                     function=False, grads={"input": _hardswish_rule},
                     samples=samples.unary((-4.0, 4.0)) + [samples.integer_error((3, 4))])


def hardswish(input, inplace: bool = False):
    """input * relu6(input + 3) / 6; see torch.nn.functional.hardswish."""
    return _maybe_inplace(hardswish_op, hardswish_op if inplace else None, input)


def _logsigmoid(xp, input):
    _require_float(input, "log_sigmoid_cpu")
    return (-_softplus_array(xp, -input)).astype(input.dtype, copy=False)


logsigmoid_op = defop(
    _logsigmoid, name="logsigmoid", node="LogSigmoidBackward0", kind=E, function=False,
    grads={"input": lambda grad, input: grad * (-input).sigmoid()},
    samples=samples.unary((-4.0, 4.0)) + [samples.integer_error((3, 4))])


def logsigmoid(input):
    """log(sigmoid(input)); see torch.nn.functional.logsigmoid."""
    return logsigmoid_op.function(input)


def tanhshrink(input):
    """input - tanh(input), as the composite PyTorch records; see
    torch.nn.functional.tanhshrink."""
    return input - input.tanh()


# --- thresholds and shrinkage ---------------------------------------------------------------
def _threshold(xp, input, threshold, value):
    # value where input <= threshold, as PyTorch (a nan input stays nan)
    return xp.where(input <= threshold, value, input).astype(input.dtype, copy=False)


# The gradient passes only strictly above the threshold (0 at the threshold itself), and
# where the input is nan, as PyTorch's threshold_backward.
def _threshold_rule(grad, input, threshold):
    return threshold_backward_op.function(grad, input, threshold)


_THRESHOLD_SAMPLES = [Sample(((3, 4),), args=(0.5, 2.0)), Sample(((5,),), args=(-0.2, -3.0))]
threshold_op = defop(_threshold, name="threshold", node="ThresholdBackward0", kind=E,
                     function=False, grads={"input": _threshold_rule},
                     samples=_THRESHOLD_SAMPLES)
threshold_inplace_op = defop(
    _threshold, name="threshold_inplace", node="ThresholdBackward1", kind=E, function=False,
    grads={"input": _threshold_rule}, samples=_THRESHOLD_SAMPLES[:1])


def threshold(input, threshold: float, value: float, inplace: bool = False):
    """input where input > threshold, else value; see torch.nn.functional.threshold."""
    return _maybe_inplace(threshold_op, threshold_inplace_op if inplace else None, input,
                          threshold, value)


def threshold_(input, threshold: float, value: float):
    """In-place threshold; see torch.threshold_."""
    return _maybe_inplace(threshold_op, threshold_inplace_op, input, threshold, value)


@public(function="threshold")
def _torch_threshold(input, threshold: float, value: float):
    """See torch.threshold."""
    return threshold_op.function(input, threshold, value)


public(function="threshold_")(threshold_)


def _hardshrink(xp, input, lambd=0.5):
    _require_float(input, "hardshrink_cpu")
    return xp.where(xp.abs(input) > lambd, input, 0).astype(input.dtype, copy=False)


# Both shrinks pass the gradient only where |x| > lambd (0 at the kinks x = +-lambd).
hardshrink_op = defop(
    _hardshrink, name="hardshrink", node="HardshrinkBackward0", kind=E,
    grads={"input": lambda grad, input, lambd: where(input.abs() > lambd, grad, 0.0)},
    methods=("hardshrink",),
    samples=[Sample(((3, 4),), args=(0.5,)), Sample(((5,),), args=(1.2,)),
             samples.integer_error((3, 4), args=(0.5,))])


def hardshrink(input, lambd: float = 0.5):
    """input where |input| > lambd, else 0; see torch.nn.functional.hardshrink."""
    return hardshrink_op.function(input, lambd)


def _softshrink(xp, input, lambd):
    _require_float(input, "softshrink_check")
    if lambd < 0:
        largest = xp.finfo(input.dtype).max
        raise RuntimeError(f"lambda must be in range [0, {largest:g}] for input dtype "
                           f"{legacy_name(input)}, but found {lambd:g}")
    shrunk = input - xp.sign(input) * lambd
    return xp.where(xp.abs(input) > lambd, shrunk, 0).astype(input.dtype, copy=False)


softshrink_op = defop(
    _softshrink, name="softshrink", node="SoftshrinkBackward0", kind=E, function=False,
    grads={"input": lambda grad, input, lambd: where(input.abs() > lambd, grad, 0.0)},
    samples=[Sample(((3, 4),), args=(0.5,)), Sample(((5,),), args=(1.2,)),
             Sample(((3, 4),), args=(-0.5,), error=True),  # a negative lambda
             samples.integer_error((3, 4), args=(0.5,))])


def softshrink(input, lambd: float = 0.5):
    """input shrunk toward 0 by lambd; see torch.nn.functional.softshrink."""
    return softshrink_op.function(input, lambd)


# --- parametric and randomized rectifiers ---------------------------------------------------
def _prelu_weight_shape(weight_size: int, ndim: int) -> tuple:
    # One weight per channel (dim 1), or a single weight shared by all elements.
    if weight_size == 1 or ndim < 2:
        return (weight_size,) if ndim else ()
    return (weight_size,) + (1,) * (ndim - 2)


def _prelu(xp, input, weight):
    _require_float(input, "prelu_cpu")
    if weight.ndim > 1:
        raise RuntimeError(f"prelu: Expected `weight` to be a scalar or 1D tensor, but got: "
                           f"ndim = {weight.ndim}")
    if weight.dtype != input.dtype:
        raise RuntimeError(f"prelu: Type promoting not supported. Got {legacy_name(input)} and "
                           f"{legacy_name(weight)}")
    if weight.size != 1 and (input.ndim < 2 or input.shape[1] != weight.size):
        channels = input.shape[1] if input.ndim >= 2 else 1
        raise RuntimeError(f"Mismatch of parameter numbers and input channel size. Found "
                           f"parameter numbers = {weight.size} and channel size = {channels}.")
    slope = weight.reshape(_prelu_weight_shape(weight.size, input.ndim))
    if input.ndim == 0:
        slope = slope.reshape(())
    return xp.where(input > 0, input, slope * input).astype(input.dtype, copy=False)


def _prelu_slope(weight, ndim):
    shape = _prelu_weight_shape(weight.numel(), ndim)
    return weight.reshape(shape) if shape else weight.reshape(())


def _prelu_input_rule(grad, input, weight):
    # At 0 the slope is used (input > 0 picks the identity), as PyTorch.
    return where(input > 0, grad, grad * _prelu_slope(weight, input.ndim))


def _prelu_weight_rule(grad, input, weight):
    contribution = where(input > 0, 0.0, input * grad)
    if weight.numel() == 1 or input.ndim < 2:
        return contribution.sum().reshape(weight.shape)
    dims = tuple(d for d in range(input.ndim) if d != 1)
    return contribution.sum(dims).reshape(weight.shape)


def _prelu_jvp(input, weight, input_tangent, weight_tangent):
    # Not element-wise in the weight (one slope per channel), so the JVP is written out.
    total = None
    if input_tangent is not None:
        total = _prelu_input_rule(input_tangent, input, weight)
    if weight_tangent is not None:
        term = where(input > 0, 0.0, input * _prelu_slope(weight_tangent, input.ndim))
        total = term if total is None else total + term
    return total


prelu_op = defop(_prelu, name="prelu", node="PreluKernelBackward0", inputs=2, jvp=_prelu_jvp,
                 grads={"input": _prelu_input_rule, "weight": _prelu_weight_rule},
                 methods=("prelu",),
                 samples=[Sample(((2, 3, 4), (3,))), Sample(((3, 4), (1,))),
                          Sample(((5,), (1,))), Sample(((2, 3), (3,))),
                          Sample(((2, 3, 4), (4,)), error=True),  # one weight per channel
                          Sample(((5,), (2,)), error=True),
                          Sample(((2, 3, 4), (3, 1)), error=True),
                          samples.integer_error((2, 3), (3,))])


def prelu(input, weight):
    """input where positive, else weight * input (one weight per channel); see
    torch.nn.functional.prelu."""
    return prelu_op.function(input, weight)


def _rrelu(xp, input, noise):
    return (input * noise).astype(input.dtype, copy=False)


# The gradient is the slope used in the forward pass (at 0 the negative slope, as PyTorch).
_RRELU_SAMPLES = [Sample(((3, 4),), args=(0.125, 1 / 3)), Sample(((5,),), args=(0.1, 0.3)),
                  Sample(((3, 4),), args=(0.5, 0.1), error=True),  # lower above upper
                  samples.integer_error((3, 4), args=(0.1, 0.3))]
rrelu_op = defop(_rrelu, name="rrelu", node="RreluWithNoiseBackward0", kind=E, function=False,
                 array_params=True, grads={"input": lambda grad, noise: grad * noise},
                 samples=_RRELU_SAMPLES)
rrelu_inplace_op = defop(
    _rrelu, name="rrelu_inplace", node="RreluWithNoiseBackward1", kind=E, function=False,
    array_params=True, grads={"input": lambda grad, noise: grad * noise},
    samples=[_RRELU_SAMPLES[0], *_RRELU_SAMPLES[2:]])


def _rrelu_noise(input, lower: float, upper: float, training: bool, generator: Any = None):
    from .._creation import default_generator, ones_like
    from .._tensor import wrap

    if lower > upper:
        raise RuntimeError("Lower bound should be less than or equal to the upper bound")
    # Out of training PyTorch runs leaky_relu with the mean slope: its kernel is named.
    _require_float(input._data, "rrelu_with_noise_out_cpu" if training else "leaky_relu_cpu")
    positive = input.detach() > 0
    if training:
        rng = (generator or default_generator)._rng
        slopes = wrap(rng.uniform(lower, upper, tuple(input.shape)).astype(input._data.dtype))
    else:
        slopes = ones_like(input.detach()) * ((lower + upper) / 2)
    return where(positive, 1.0, slopes)


def rrelu(input, lower: float = 1.0 / 8, upper: float = 1.0 / 3, training: bool = False,
          inplace: bool = False):
    """leaky_relu with a random slope in [lower, upper] when training, else their mean; see
    torch.nn.functional.rrelu."""
    noise = _rrelu_noise(input, lower, upper, training)
    return _maybe_inplace(rrelu_op, rrelu_inplace_op if inplace else None, input, noise)


def rrelu_(input, lower: float = 1.0 / 8, upper: float = 1.0 / 3, training: bool = False):
    """In-place rrelu; see torch.rrelu_."""
    return rrelu(input, lower, upper, training, inplace=True)


@public(function="rrelu")
def _torch_rrelu(input, lower: float = 1.0 / 8, upper: float = 1.0 / 3, training: bool = False,
                 generator: Any = None):
    """See torch.rrelu."""
    return rrelu_op.function(input, _rrelu_noise(input, lower, upper, training, generator))


@public(function="rrelu_")
def _torch_rrelu_(input, lower: float = 1.0 / 8, upper: float = 1.0 / 3,
                  training: bool = False, generator: Any = None):
    """See torch.rrelu_."""
    noise = _rrelu_noise(input, lower, upper, training, generator)
    return _maybe_inplace(rrelu_op, rrelu_inplace_op, input, noise)


# --- gated linear unit ----------------------------------------------------------------------
def _glu_halves(shape: tuple, dim: int) -> tuple[int, int]:
    if not shape:
        raise RuntimeError("glu does not support scalars because halving size must be even")
    axis = normalize_dim(dim, len(shape))
    if shape[axis] % 2:
        raise RuntimeError(f"Halving dimension must be even, but dimension {axis} is size "
                           f"{shape[axis]}")
    return axis, shape[axis] // 2


def _glu(xp, input, dim):
    axis, half = _glu_halves(input.shape, dim)
    _require_float(input, "glu_cpu")
    first, second = xp.split(input, 2, axis=axis)
    return first * _sigmoid_array(xp, second).astype(input.dtype, copy=False)


def _glu_rule(grad, input, dim):
    from .indexing import slice_backward_op

    shape = tuple(input.shape)
    axis, half = _glu_halves(shape, dim)
    index = (slice(None),) * axis
    first = input[index + (slice(0, half),)]
    gate = input[index + (slice(half, 2 * half),)].sigmoid()
    grad_first = grad * gate
    grad_second = grad * first * gate * (1 - gate)
    place = slice_backward_op.function
    return place(grad_first, shape, axis, 0, half, 1) + place(grad_second, shape, axis, half,
                                                             2 * half, 1)


glu_op = defop(_glu, name="glu", node="GluBackward0", function=False,
               grads={"input": _glu_rule},
               samples=[Sample(((3, 4),)), Sample(((4, 3),), args=(0,)),
                        Sample(((2, 3, 6),), args=(-1,)),
                        Sample(((3, 5),), error=True),  # an odd size cannot be halved
                        Sample(((3, 4),), args=(2,), error=True), Sample(((),), error=True),
                        samples.integer_error((3, 4))])


def glu(input, dim: int = -1):
    """first half * sigmoid(second half) along dim; see torch.nn.functional.glu."""
    return glu_op.function(input, dim)


# --- softmax family -------------------------------------------------------------------------
def _softmax_axis(input, dim, kernel: str) -> int | None:
    axis = normalize_dim(dim, input.ndim)
    if input.dtype.kind not in "fc":
        last = "_lastdim" if axis == input.ndim - 1 or input.ndim == 0 else ""
        raise not_implemented_for(f"{kernel}{last}_kernel_impl", input)
    return axis if input.ndim else None


def _softmax(xp, input, dim):
    axis = _softmax_axis(input, dim, "softmax")
    if axis is None:
        return xp.ones_like(input)
    # The ufuncs' reduce: NumPy's functions and array methods add a Python layer each.
    shifted = input - xp.maximum.reduce(input, axis=axis, keepdims=True) if input.size \
        else input
    exponentials = xp.exp(shifted)
    return exponentials / xp.add.reduce(exponentials, axis=axis, keepdims=True)


def _log_softmax(xp, input, dim):
    axis = _softmax_axis(input, dim, "log_softmax")
    if axis is None:
        return xp.zeros_like(input)
    shifted = input - xp.maximum.reduce(input, axis=axis, keepdims=True) if input.size \
        else input
    return shifted - xp.log(xp.add.reduce(xp.exp(shifted), axis=axis, keepdims=True))


def _reduce_dim(tensor, dim):
    return tensor.sum(dim, keepdim=True) if tensor.ndim else tensor


def _reduce_axis(array, dim):
    """_reduce_dim on arrays, for the NumPy rules of a plain backward."""
    return array.sum(axis=dim, keepdims=True) if array.ndim else array


_SOFTMAX_SAMPLES = [Sample(((3, 4),), args=(1,)), Sample(((3, 4),), args=(0,)),
                    Sample(((2, 3, 4),), args=(-2,)), Sample(((5,),), args=(0,)),
                    Sample(((),), args=(0,)),
                    Sample(((3, 4),), args=(2,), error=True),  # dim out of range
                    Sample(((),), args=(1,), error=True),
                    samples.integer_error((3, 4), args=(1,)),
                    samples.integer_error((3, 4), args=(0,))]
softmax_op = defop(
    _softmax, name="softmax", node="SoftmaxBackward0", function=False,
    grads={"input": lambda grad, result, dim: result * (grad - _reduce_dim(grad * result, dim))},
    array_grads={"input": lambda grad, result, dim:
                 result * (grad - _reduce_axis(grad * result, dim))},
    samples=_SOFTMAX_SAMPLES)
log_softmax_op = defop(
    _log_softmax, name="log_softmax", node="LogSoftmaxBackward0", function=False,
    grads={"input": lambda grad, result, dim: grad - result.exp() * _reduce_dim(grad, dim)},
    array_grads={"input": lambda grad, result, dim:
                 grad - np.exp(result) * _reduce_axis(grad, dim)},
    samples=_SOFTMAX_SAMPLES)


def _implicit_dim(name: str, ndim: int, stacklevel: int) -> int:
    warnings.warn(f"Implicit dimension choice for {name} has been deprecated. Change the call "
                  "to include dim=X as an argument.", UserWarning, stacklevel=stacklevel)
    return 0 if ndim in (0, 1, 3) else 1


def _softmax_call(op: Any, name: str, input, dim, stacklevel: int, dtype, negate: bool = False):
    if dim is None:
        dim = _implicit_dim(name, input.ndim, stacklevel + 1)
    if negate:
        input = -input
    if dtype is not None:
        input = input.to(dtype)
    return op.function(input, dim)


def softmax(input, dim: int | None = None, _stacklevel: int = 3, dtype: Any = None):
    """exp(input) normalized to sum 1 along dim; see torch.nn.functional.softmax."""
    return _softmax_call(softmax_op, "softmax", input, dim, _stacklevel, dtype)


def log_softmax(input, dim: int | None = None, _stacklevel: int = 3, dtype: Any = None):
    """log(softmax(input)) computed stably; see torch.nn.functional.log_softmax."""
    return _softmax_call(log_softmax_op, "log_softmax", input, dim, _stacklevel, dtype)


def softmin(input, dim: int | None = None, _stacklevel: int = 3, dtype: Any = None):
    """softmax(-input); see torch.nn.functional.softmin."""
    return _softmax_call(softmax_op, "softmin", input, dim, _stacklevel, dtype, negate=True)


@public(function="softmax", methods=("softmax",))
def _torch_softmax(input, dim: int, dtype: Any = None):
    """See torch.softmax."""
    if dtype is not None:
        input = input.to(dtype)
    return softmax_op.function(input, dim)


@public(function="log_softmax", methods=("log_softmax",))
def _torch_log_softmax(input, dim: int, dtype: Any = None):
    """See torch.log_softmax."""
    if dtype is not None:
        input = input.to(dtype)
    return log_softmax_op.function(input, dim)


def sigmoid(input):
    """See torch.nn.functional.sigmoid (torch.sigmoid)."""
    return input.sigmoid()


def tanh(input):
    """See torch.nn.functional.tanh (torch.tanh)."""
    return input.tanh()
