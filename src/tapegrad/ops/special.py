"""Special functions NumPy lacks: erf, erfc, erfinv, lgamma, digamma, polygamma (float64-exact
NumPy implementations; float32 inputs are computed in float64 and rounded)."""

from __future__ import annotations

import math

from .._backend import quiet
from . import _samples as samples
from ._registry import defop, public

E = "elementwise"
TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)
SQRT_PI_OVER_TWO = math.sqrt(math.pi) / 2.0


def _elementwise(xp, function, input):
    """Apply a float -> float function of the math module to every element, in float64."""
    values = xp.frompyfunc(function, 1, 1)(input.astype("float64"))
    return xp.asarray(values, dtype="float64")


def _lgamma_scalar(value: float) -> float:
    try:
        return math.lgamma(value)
    except ValueError:  # the poles 0, -1, -2, ...
        return math.inf


def erf(xp, input):
    """The error function; see torch.erf."""
    return _elementwise(xp, math.erf, input)


defop(erf, node="ErfBackward0", promote="float", kind=E,
      grads={"input": lambda grad, input: grad * TWO_OVER_SQRT_PI * (-input * input).exp()},
      methods=("erf",), inplace="erf_", samples=samples.unary())


def erfc(xp, input):
    """1 - erf(input), accurate where erf is close to 1; see torch.erfc."""
    return _elementwise(xp, math.erfc, input)


defop(erfc, node="ErfcBackward0", promote="float", kind=E,
      grads={"input": lambda grad, input: grad * -TWO_OVER_SQRT_PI * (-input * input).exp()},
      methods=("erfc",), inplace="erfc_", samples=samples.unary())


def _erfinv_array(xp, y):
    y = y.astype("float64")
    magnitude = xp.abs(y)
    with quiet():
        # Winitzki's closed-form estimate (relative error below 2e-3) ...
        log_term = xp.log((1 - magnitude) * (1 + magnitude))
        a = 0.147
        middle = 2 / (math.pi * a) + log_term / 2
        x = xp.sqrt(xp.sqrt(middle * middle - log_term / a) - middle)
        x = xp.where(xp.isfinite(x), x, 0.0)
        # ... refined by Halley steps on erf(x) = |y|. Where |y| > 0.5 the residual is taken
        # from erfc so that the tail keeps its relative accuracy (1 - |y| is exact there).
        tail = magnitude > 0.5
        for _ in range(4):
            residual = xp.where(tail, (1 - magnitude) - _elementwise(xp, math.erfc, x),
                                _elementwise(xp, math.erf, x) - magnitude)
            step = residual / (TWO_OVER_SQRT_PI * xp.exp(-x * x))
            step = xp.where(xp.isfinite(step), step, 0.0)
            x = x - step / (1 + x * step)
        result = xp.copysign(x, y)
        result = xp.where(magnitude == 1, xp.copysign(math.inf, y), result)
        return xp.where((magnitude > 1) | xp.isnan(y), math.nan, result)


def erfinv(xp, input):
    """The inverse of erf on (-1, 1); see torch.erfinv."""
    return _erfinv_array(xp, input)


defop(erfinv, node="ErfinvBackward0", promote="float", kind=E,
      grads={"input": lambda grad, result: grad * SQRT_PI_OVER_TWO * (result * result).exp()},
      methods=("erfinv",), inplace="erfinv_", samples=samples.unary((-0.9, 0.9)))


def lgamma(xp, input):
    """log |Gamma(input)|; see torch.lgamma."""
    return _elementwise(xp, _lgamma_scalar, input)


defop(lgamma, node="LgammaBackward0", promote="float", kind=E,
      grads={"input": lambda grad, input: grad * input.digamma()},
      methods=("lgamma",), inplace="lgamma_", samples=samples.unary((0.1, 4.0)))

# Asymptotic series of digamma: log(x) - 1/(2x) - sum B_2k / (2k x^2k), B_2k Bernoulli numbers.
_BERNOULLI = (1 / 6, -1 / 30, 1 / 42, -1 / 30, 5 / 66, -691 / 2730, 7 / 6, -3617 / 510)
_SHIFT_TO = 12.0  # recurrence moves x up to here; the series is then exact to double precision


def _digamma_array(xp, x):
    x = x.astype("float64")
    with quiet():
        # Reflection for x < 1/2: psi(x) = psi(1 - x) - pi / tan(pi x); the period of tan lets
        # pi x be reduced first, which keeps large negative x accurate.
        reflect = x < 0.5
        y = xp.where(reflect, 1 - x, x)
        total = xp.zeros_like(y)
        for _ in range(int(_SHIFT_TO)):  # psi(y) = psi(y + 1) - 1 / y
            low = y < _SHIFT_TO
            total = total - xp.where(low, 1 / y, 0.0)
            y = xp.where(low, y + 1, y)
        inverse_square = 1 / (y * y)
        series = xp.zeros_like(y)
        for k in range(len(_BERNOULLI), 0, -1):
            series = (series + _BERNOULLI[k - 1] / (2 * k)) * inverse_square
        result = total + xp.log(y) - 0.5 / y - series
        reduced = x - xp.round(x)
        result = xp.where(reflect, result - math.pi / xp.tan(math.pi * reduced), result)
        # Poles: -inf at +0 and +inf at -0 (as PyTorch), NaN at negative integers.
        result = xp.where(x == 0, xp.where(xp.signbit(x), math.inf, -math.inf), result)
        return xp.where((x < 0) & (reduced == 0), math.nan, result)


def digamma(xp, input):
    """The logarithmic derivative of Gamma; see torch.digamma."""
    return _digamma_array(xp, input)


defop(digamma, node="DigammaBackward0", promote="float", kind=E,
      grads={"input": lambda grad, input: grad * polygamma_op.function(input, 1)},
      methods=("digamma",), inplace="digamma_", samples=samples.unary((0.1, 4.0)))


def _polygamma_array(xp, x, n):
    """psi^(n)(x) for n >= 1: (-1)^(n+1) n! sum_k 1 / (x + k)^(n+1)."""
    x = x.astype("float64")
    sign = 1.0 if n % 2 == 1 else -1.0
    factorial = math.factorial(n)
    threshold = _SHIFT_TO + n  # the asymptotic series needs y well above n
    with quiet():
        y = x.copy()
        total = xp.zeros_like(y)
        steps = int(max(0.0, math.ceil(threshold - float(xp.nanmin(y))))) if y.size else 0
        for _ in range(steps):  # psi^(n)(y) = psi^(n)(y + 1) + (-1)^(n+1) n! / y^(n+1)
            low = y < threshold
            total = total + xp.where(low, 1 / y ** (n + 1), 0.0)
            y = xp.where(low, y + 1, y)
        # (n-1)!/y^n + n!/(2 y^(n+1)) + sum_k B_2k (2k+n-1)! / ((2k)! y^(2k+n))
        series = math.factorial(n - 1) / y ** n + factorial / (2 * y ** (n + 1))
        for k, bernoulli in enumerate(_BERNOULLI, start=1):
            coefficient = bernoulli * math.factorial(2 * k + n - 1) / math.factorial(2 * k)
            series = series + coefficient / y ** (2 * k + n)
        return sign * (factorial * total + series)


def _polygamma(xp, input, n):
    if n < 0:
        raise RuntimeError("polygamma(n, x) does not support negative n.")
    if n == 0:
        return _digamma_array(xp, input)
    return _polygamma_array(xp, input, n)


polygamma_op = defop(
    _polygamma, name="polygamma", node="PolygammaBackward0", promote="float", kind=E,
    grads={"input": lambda grad, input, n: grad * polygamma_op.function(input, n + 1)},
    function=False,
    samples=[samples.Sample(((3, 4),), args=(1,), domain=(0.2, 4.0)),
             samples.Sample(((5,),), args=(2,), domain=(0.2, 4.0)),
             samples.Sample(((),), args=(0,), domain=(0.2, 4.0)),
             samples.Sample(((3, 4),), args=(-1,), error=True),  # no negative order
             samples.Sample(((3, 4),), args=(1.5,), error=True)])  # a fractional order


def _check_order(n) -> None:
    if isinstance(n, bool) or not hasattr(n, "__index__"):  # ints and NumPy's integers
        raise TypeError(f"polygamma(): argument 'n' (position 1) must be int, not "
                        f"{type(n).__name__}")


@public()
def polygamma(n, input):
    """The n-th derivative of digamma; see torch.polygamma."""
    _check_order(n)
    return polygamma_op.function(input, n)


@public(methods=("polygamma",), function=False)
def polygamma_method(input, n):
    """``input.polygamma(n)``; see torch.Tensor.polygamma."""
    _check_order(n)
    return polygamma_op.function(input, n)


@public(methods=("polygamma_",), function=False)
def polygamma_inplace(input, n):
    from .._dispatch import check_inplace, write_inplace

    _check_order(n)
    check_inplace(input)
    write_inplace(input, polygamma_op.function(input, n))
    return input
