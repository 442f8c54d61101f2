"""Element-wise ops and activations beyond the op table: subgradients at kinks, type promotion,
error types, in-place node names, and special-function accuracy, each compared with PyTorch."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import tapegrad

from .helpers import as_numpy

NAN, INF = float("nan"), float("inf")


def _grads(lib, function, values):
    inputs = [lib.tensor(np.asarray(v, dtype=np.float64), requires_grad=True) for v in values]
    result = function(lib, *inputs)
    grads = lib.autograd.grad(result.sum(), inputs, allow_unused=True)
    return as_numpy(result), [None if g is None else as_numpy(g) for g in grads]


def _F(lib):
    return lib.nn.functional


K = [-1.0, 0.0, 0.5, 1.0, 2.0]
# (name, function(lib, *inputs), input values hitting the kinks)
KINKS = [
    ("relu at 0", lambda lib, x: lib.relu(x), [K]),
    ("abs at 0", lambda lib, x: lib.abs(x), [K]),
    ("clamp at its bounds", lambda lib, x: lib.clamp(x, 0.0, 1.0), [K]),
    ("clamp min > max", lambda lib, x: lib.clamp(x, 1.0, 0.0), [K]),
    ("clamp min only", lambda lib, x: lib.clamp(x, min=0.5), [K]),
    ("clamp max only", lambda lib, x: lib.clamp(x, max=0.5), [K]),
    ("clamp at NaN", lambda lib, x: lib.clamp(x, 0.0, 1.0), [[NAN, 0.5]]),
    ("clamp tensor bounds", lambda lib, x, a, b: lib.clamp(x, a, b), [K, [0.0] * 5, [1.0] * 5]),
    ("clamp tensor min > max", lambda lib, x, a, b: lib.clamp(x, a, b),
     [K, [1.0] * 5, [0.0] * 5]),
    ("clamp tensor min == max", lambda lib, x, a, b: lib.clamp(x, a, b),
     [K, [0.5] * 5, [0.5] * 5]),
    ("clamp tensor min only", lambda lib, x, a: lib.clamp(x, min=a), [K, [0.5] * 5]),
    ("clamp tensor max only", lambda lib, x, b: lib.clamp(x, max=b), [K, [0.5] * 5]),
    ("maximum ties", lambda lib, x, y: lib.maximum(x, y),
     [[1.0, 2.0, 3.0, NAN], [1.0, 1.0, 4.0, 1.0]]),
    ("minimum ties", lambda lib, x, y: lib.minimum(x, y),
     [[1.0, 2.0, 3.0, NAN], [1.0, 1.0, 4.0, 1.0]]),
    ("fmax ties and NaN", lambda lib, x, y: lib.fmax(x, y),
     [[1.0, 2.0, NAN, 1.0], [1.0, 1.0, 4.0, NAN]]),
    ("fmin ties and NaN", lambda lib, x, y: lib.fmin(x, y),
     [[1.0, 2.0, NAN, 1.0], [1.0, 1.0, 4.0, NAN]]),
    ("hardtanh bounds", lambda lib, x: _F(lib).hardtanh(x), [K]),
    ("relu6 bounds", lambda lib, x: _F(lib).relu6(x), [[0.0, 6.0, 3.0, -1.0, 7.0]]),
    ("leaky_relu at 0", lambda lib, x: _F(lib).leaky_relu(x, 0.2), [K]),
    ("threshold at the threshold", lambda lib, x: _F(lib).threshold(x, 0.5, 2.0), [K]),
    ("threshold_ in place", lambda lib, x: _F(lib).threshold(x * 1, 0.5, 2.0, inplace=True),
     [K]),
    ("elu at 0", lambda lib, x: _F(lib).elu(x, 2.0), [K]),
    ("selu at 0", lambda lib, x: _F(lib).selu(x), [K]),
    ("celu at 0", lambda lib, x: _F(lib).celu(x, 2.0), [K]),
    ("hardswish at -3 and 3", lambda lib, x: _F(lib).hardswish(x), [[-3.0, 3.0, 0.0, -4.0]]),
    ("hardsigmoid at -3 and 3", lambda lib, x: _F(lib).hardsigmoid(x), [[-3.0, 3.0, 0.0, 1.0]]),
    ("hardshrink at lambd", lambda lib, x: _F(lib).hardshrink(x), [[-0.5, 0.5, 0.0, 1.0]]),
    ("softshrink at lambd", lambda lib, x: _F(lib).softshrink(x), [[-0.5, 0.5, 0.0, 1.0]]),
    ("prelu at 0", lambda lib, x, w: _F(lib).prelu(x, w), [[-1.0, 0.0, 1.0], [0.25]]),
    ("rrelu at 0", lambda lib, x: _F(lib).rrelu(x), [K]),
    ("softplus at its threshold", lambda lib, x: _F(lib).softplus(x, 2.0, 1.0),
     [[0.5, 0.4, 0.6]]),
    ("logit at 0, 1 and outside", lambda lib, x: lib.logit(x), [[-0.5, 0.0, 0.5, 1.0, 1.5]]),
    ("logit eps bounds", lambda lib, x: lib.logit(x, eps=0.1), [[0.05, 0.1, 0.5, 0.9, 0.95]]),
    ("copysign at 0", lambda lib, x, y: lib.copysign(x, y),
     [[0.0, -0.0, 1.0, -2.0], [1.0, -1.0, -1.0, 2.0]]),
    ("xlogy at x = 0", lambda lib, x, y: lib.xlogy(x, y), [[0.0, 0.0, 1.0], [0.0, 1.0, 0.0]]),
    ("atan2 at the origin", lambda lib, x, y: lib.atan2(x, y), [[0.0, 1.0], [0.0, 2.0]]),
    ("hypot at the origin", lambda lib, x, y: lib.hypot(x, y), [[0.0, 3.0], [0.0, 4.0]]),
    ("pow at 0 ** 0", lambda lib, x, y: lib.pow(x, y), [[0.0, 0.0, 2.0], [0.0, 2.0, 0.0]]),
    ("nan_to_num", lambda lib, x: lib.nan_to_num(x), [[1.0, NAN, INF, -INF]]),
    ("sqrt at 0", lambda lib, x: lib.sqrt(x), [[0.0, 4.0]]),
    ("remainder other", lambda lib, x, y: lib.remainder(x, y), [[1.0, 2.5, -1.0], [2.0, 1.0, 0.7]]),
    ("fmod other", lambda lib, x, y: lib.fmod(x, y), [[1.0, 2.5, -1.0], [2.0, 1.0, 0.7]]),
    ("floor, round, sign", lambda lib, x: lib.floor(x) + lib.round(x) + lib.sign(x),
     [[0.5, 1.5, -2.5, 0.0]]),
]


@pytest.mark.parametrize("name,function,values", KINKS, ids=[k[0] for k in KINKS])
def test_subgradients_at_kinks_match_torch(name, function, values):
    ours, our_grads = _grads(tapegrad, function, values)
    theirs, their_grads = _grads(torch, function, values)
    np.testing.assert_array_equal(ours, theirs)
    for mine, reference in zip(our_grads, their_grads):
        assert (mine is None) == (reference is None), name
        if reference is not None:
            # Exact equality, NaN and infinities included; hardsigmoid's 1/6 is float32's.
            np.testing.assert_array_equal(mine, reference, err_msg=name)


# --- type promotion -------------------------------------------------------------------------
def _make(lib, spec):
    kind, value = spec
    if kind == "number":
        return value
    dtype = getattr(lib, kind)
    return lib.tensor(value, dtype=dtype)


OPERANDS = [("int64", [1, 2, 3]), ("int32", [1, -2, 3]), ("bool", [True, False, True]),
            ("float32", [0.5, 1.5, 2.5]), ("float64", [0.25, 1.0, 2.0]), ("int64", 2),
            ("float32", 1.5), ("number", 2), ("number", 1.5), ("number", True)]
BINARY = {
    "add": lambda lib, a, b: lib.add(a, b), "mul": lambda lib, a, b: a * b,
    "div": lambda lib, a, b: lib.div(a, b), "floor": lambda lib, a, b: lib.div(
        a, b, rounding_mode="floor"),
    "remainder": lambda lib, a, b: lib.remainder(a, b), "atan2": lambda lib, a, b: lib.atan2(
        a, b), "maximum": lambda lib, a, b: lib.maximum(a, b),
    "eq": lambda lib, a, b: lib.eq(a, b), "xlogy": lambda lib, a, b: lib.xlogy(a, b),
    "copysign": lambda lib, a, b: lib.copysign(a, b), "where": lambda lib, a, b: lib.where(
        lib.tensor([True, False, True]), a, b),
    "bitwise_and": lambda lib, a, b: a & b, "clamp": lambda lib, a, b: lib.clamp(a, min=b),
    "logical_xor": lambda lib, a, b: lib.logical_xor(a, b),
    # pow both ways round: ints ** 0.5 are floats, bools ** 2 ints, 2.5 ** ints floats, and
    # integers to negative integer powers give 0 or +-1 (or raise, for a number exponent).
    "pow": lambda lib, a, b: lib.pow(a, b), "rpow": lambda lib, a, b: b ** a,
}


def _outcome(lib, name, left, right):
    try:
        result = BINARY[name](lib, _make(lib, left), _make(lib, right))
    except Exception as error:  # noqa: BLE001 - the exception type is what is compared
        return type(error).__name__
    return str(result.dtype).replace("torch.", ""), as_numpy(result)


PAIRS = [(a, b) for a in OPERANDS[:7] for b in OPERANDS]


@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_promotion_and_errors_match_torch(name):
    for left, right in PAIRS:
        ours, theirs = _outcome(tapegrad, name, left, right), _outcome(torch, name, left, right)
        if isinstance(theirs, str) or isinstance(ours, str):
            assert ours == theirs, (name, left, right)
            continue
        assert ours[0] == theirs[0], (name, left, right)
        np.testing.assert_allclose(ours[1].astype(np.float64), theirs[1].astype(np.float64),
                                   rtol=1e-6, equal_nan=True, err_msg=f"{name} {left} {right}")


UNARY = ["neg", "abs", "sign", "sgn", "exp", "exp2", "log1p", "sqrt", "rsqrt", "square",
         "reciprocal", "sin", "sigmoid", "floor", "ceil", "round", "trunc", "frac", "erf",
         "lgamma", "digamma", "nan_to_num", "relu", "isnan", "isfinite", "logical_not",
         "bitwise_not", "erfinv", "logit"]


@pytest.mark.parametrize("name", UNARY)
@pytest.mark.parametrize("dtype", ["int64", "int32", "bool", "float32", "float64"])
def test_unary_dtypes_and_errors_match_torch(name, dtype):
    values = [True, False] if dtype == "bool" else [0.25, 1.0, 3.0]

    def run(lib):
        try:
            result = getattr(lib, name)(lib.tensor(values, dtype=getattr(lib, dtype)))
        except Exception as error:  # noqa: BLE001
            return type(error).__name__
        return str(result.dtype).replace("torch.", ""), as_numpy(result)

    ours, theirs = run(tapegrad), run(torch)
    if isinstance(theirs, str) or isinstance(ours, str):
        assert ours == theirs
        return
    assert ours[0] == theirs[0]
    np.testing.assert_allclose(ours[1].astype(np.float64), theirs[1].astype(np.float64),
                               rtol=1e-6, equal_nan=True)


def test_error_types_match_torch():
    cases = [
        lambda lib: lib.ones(3) & lib.ones(3),
        lambda lib: ~lib.ones(3),
        lambda lib: lib.bitwise_xor(lib.ones(3), 1),
        lambda lib: -lib.tensor([True]),
        lambda lib: lib.clamp(lib.ones(3)),
        lambda lib: lib.div(lib.arange(3), 0, rounding_mode="floor"),
        lambda lib: lib.remainder(lib.arange(3), 0),
        lambda lib: lib.div(lib.ones(3), 2, rounding_mode="round"),
        lambda lib: lib.maximum(lib.ones(3), 1.0),
        lambda lib: lib.logical_and(lib.ones(3), 1.5),
        lambda lib: lib.lerp(lib.ones(3), lib.ones(3, dtype=lib.float64), 0.5),
        lambda lib: lib.addcdiv(lib.arange(3), lib.arange(3), lib.arange(3)),
        lambda lib: lib.round(lib.arange(3), decimals=1),
        lambda lib: lib.relu(lib.tensor([True])),
        lambda lib: lib.nn.functional.glu(lib.ones(3)),
        lambda lib: lib.nn.functional.softmax(lib.arange(3), 0),
        lambda lib: lib.hypot(lib.arange(3), lib.arange(3)),
        lambda lib: lib.arange(3).div_(2),
        lambda lib: lib.where(lib.ones(3), lib.ones(3), lib.zeros(3)),
    ]
    for index, case in enumerate(cases):
        errors = []
        for lib in (tapegrad, torch):
            try:
                case(lib)
                errors.append(None)
            except Exception as error:  # noqa: BLE001
                errors.append(type(error))
        assert errors[0] is not None and errors[0] is errors[1], (index, errors)


# --- nodes ----------------------------------------------------------------------------------
NODES = [
    lambda lib, x, y: lib.sgn(x),
    lambda lib, x, y: lib.div(x, y, rounding_mode="trunc"),
    lambda lib, x, y: x // y,
    lambda lib, x, y: 2.0 % x,
    lambda lib, x, y: x % y,
    lambda lib, x, y: x % 0.3,
    lambda lib, x, y: lib.clamp(x, y),
    lambda lib, x, y: lib.clamp(x, 0.2, 0.7),
    lambda lib, x, y: lib.round(x, decimals=2),
    lambda lib, x, y: lib.square(x),
    lambda lib, x, y: lib.xlogy(2.0, x),
    lambda lib, x, y: lib.nn.functional.relu6(x),
    lambda lib, x, y: lib.nn.functional.softsign(x),
    lambda lib, x, y: lib.nn.functional.tanhshrink(x),
    lambda lib, x, y: lib.nn.functional.softmin(x, 0),
    lambda lib, x, y: lib.nn.functional.elu(x * 1, inplace=True),
    lambda lib, x, y: lib.nn.functional.selu(x * 1, inplace=True),
    lambda lib, x, y: lib.nn.functional.celu(x * 1, inplace=True),
    lambda lib, x, y: lib.nn.functional.leaky_relu(x * 1, inplace=True),
    lambda lib, x, y: lib.nn.functional.relu(x * 1, inplace=True),
    lambda lib, x, y: lib.nn.functional.hardtanh(x * 1, inplace=True),
    lambda lib, x, y: lib.nn.functional.threshold(x * 1, 0.5, 0.0, inplace=True),
    lambda lib, x, y: lib.nn.functional.rrelu(x * 1, inplace=True),
    lambda lib, x, y: lib.rrelu(x),
    lambda lib, x, y: lib.selu(x),
    lambda lib, x, y: lib.celu(x, 2.0),
    lambda lib, x, y: x.softmax(0),
    lambda lib, x, y: lib.log_softmax(x, 0, dtype=lib.float32),
    lambda lib, x, y: x.where(x > 0.5, y),
    lambda lib, x, y: lib.polygamma(2, x),
    lambda lib, x, y: lib.lerp(x, y, 0.25),
    lambda lib, x, y: lib.lerp(x, y, y),
    lambda lib, x, y: x.abs().exp_(),
    lambda lib, x, y: x.abs().clamp_(max=0.5),
    lambda lib, x, y: x.abs().div_(y, rounding_mode="floor"),
]


@pytest.mark.parametrize("index", range(len(NODES)))
def test_node_names_match_torch(index):
    names = []
    for lib in (tapegrad, torch):
        x = lib.tensor([0.3, 0.6, 0.9], dtype=lib.float64, requires_grad=True)
        y = lib.tensor([0.5, 0.4, 1.2], dtype=lib.float64, requires_grad=True)
        result = NODES[index](lib, x, y)
        names.append(result.grad_fn.name())
    assert names[0] == names[1]


def test_no_derivative_ops_raise_on_backward_like_torch():
    for lib in (tapegrad, torch):
        x = lib.tensor([1.5, 2.5], requires_grad=True)
        for result in (x // 2, 3.0 % x):
            assert result.requires_grad
            with pytest.raises(RuntimeError, match="derivative for aten::"):
                result.sum().backward()


def test_softmax_implicit_dim_warns_like_torch():
    for lib in (tapegrad, torch):
        x = lib.tensor([[1.0, 2.0], [3.0, 5.0]])
        with pytest.warns(UserWarning, match="Implicit dimension choice for softmin"):
            result = lib.nn.functional.softmin(x)
        np.testing.assert_allclose(as_numpy(result), _softmax_rows(-as_numpy(x)), rtol=1e-6)


def _softmax_rows(array):
    exp = np.exp(array - array.max(axis=1, keepdims=True))
    return exp / exp.sum(axis=1, keepdims=True)


def test_comparison_helpers_and_operators_match_torch():
    def run(lib):
        a = lib.tensor([1.0, 2.0, NAN, INF])
        b = lib.tensor([1.0 + 1e-9, 2.1, NAN, INF])
        i = lib.tensor([5, -3, 12, 0])
        j = lib.tensor([3, 4, -5, 7])
        masks = lib.tensor([True, False, True, False])
        return [lib.isclose(a, b), lib.isclose(a, b, equal_nan=True), lib.allclose(a, a),
                lib.allclose(a, a, equal_nan=True), lib.equal(i, i), lib.equal(i, j),
                lib.isposinf(a), lib.isneginf(-a), lib.isinf(a), lib.isfinite(a), i & j, i | j,
                i ^ j, ~i, ~masks, masks & True, i // j, i % j, 7 // j, 7 % j, -7.5 // j,
                lib.fmod(i, j), lib.remainder(i, -3), lib.div(i, j, rounding_mode="trunc"),
                lib.floor_divide(i, 2.5), lib.logical_or(i, masks), lib.logical_not(i)]

    for ours, theirs in zip(run(tapegrad), run(torch)):
        if isinstance(theirs, bool):
            assert ours is theirs
            continue
        assert str(ours.dtype) == str(theirs.dtype)
        np.testing.assert_array_equal(as_numpy(ours), as_numpy(theirs))


def test_inplace_operators_keep_dtype_and_values():
    results = []
    for lib in (tapegrad, torch):
        x = lib.tensor([1, 7, -4])
        x &= 6
        x |= 1
        x ^= 2
        x //= 2
        x %= 3
        results.append(x)
    assert str(results[0].dtype) == str(results[1].dtype)
    np.testing.assert_array_equal(as_numpy(results[0]), as_numpy(results[1]))


# --- special functions ----------------------------------------------------------------------
@pytest.mark.parametrize("name", ["erf", "erfc", "erfinv", "lgamma", "digamma"])
def test_special_functions_are_float64_accurate(name):
    rng = np.random.default_rng(7)
    if name == "erfinv":
        values = np.concatenate([rng.uniform(-1, 1, 500), 1 - 10.0 ** -np.arange(1, 16),
                                 [-1.0, 1.0, 0.0, 1.5, NAN]])
    else:
        values = np.concatenate([rng.uniform(-8, 8, 500), rng.uniform(0.9, 2.1, 100),
                                 [0.0, -1.0, -2.5, 1e-8, 30.0, 1e5, INF, -INF, NAN]])
    ours = as_numpy(getattr(tapegrad, name)(tapegrad.tensor(values)))
    theirs = as_numpy(getattr(torch, name)(torch.tensor(values)))
    finite = np.isfinite(theirs)
    np.testing.assert_array_equal(np.isfinite(ours), finite)
    np.testing.assert_array_equal(ours[~finite], theirs[~finite])
    # lgamma/digamma pass through zeros near x = 1, 2 and 1.46: compare with an absolute floor.
    np.testing.assert_allclose(ours[finite], theirs[finite], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("n", [1, 2, 3])
def test_polygamma_matches_torch(n):
    values = np.concatenate([np.linspace(0.05, 30, 200), np.linspace(-4.95, -0.05, 50)])
    ours = as_numpy(tapegrad.polygamma(n, tapegrad.tensor(values)))
    theirs = as_numpy(torch.polygamma(n, torch.tensor(values)))
    np.testing.assert_allclose(ours, theirs, rtol=1e-8)


@pytest.mark.parametrize("create_graph", [False, True])
def test_zero_power_gradient_is_zeros_even_for_infinite_gradients(create_graph):
    """d(x ** 0)/dx is zeros outside the graph, not grad * 0 (nan where grad is infinite)."""
    results = []
    for lib in (tapegrad, torch):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        seed = lib.tensor([float("inf"), 1.0])
        gradient, = lib.autograd.grad(x ** 0, x, seed, create_graph=create_graph)
        results.append((as_numpy(gradient), gradient.requires_grad, gradient.grad_fn is None))
    (ours, our_flag, our_leaf), (theirs, their_flag, their_leaf) = results
    np.testing.assert_array_equal(ours, theirs)
    assert (our_flag, our_leaf) == (their_flag, their_leaf)


@pytest.mark.parametrize("exponent", [2, 3, 0.5, -1.5])
def test_power_gradient_matches_torch_in_float32(exponent):
    """The NumPy rule groups grad * (exponent * x ** (exponent - 1)) as PyTorch does."""
    values = np.random.default_rng(3).uniform(0.5, 2.0, 64).astype(np.float32)
    seed = np.random.default_rng(4).standard_normal(64).astype(np.float32)
    gradients = []
    for lib in (tapegrad, torch):
        x = lib.tensor(values, requires_grad=True)
        (x ** exponent).backward(lib.tensor(seed))
        gradients.append(as_numpy(x.grad))
    np.testing.assert_allclose(gradients[0], gradients[1], rtol=1e-6, atol=0)


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
@pytest.mark.parametrize("name", ["relu", "threshold", "relu_"])
@pytest.mark.parametrize("create_graph", [False, True])
def test_threshold_gradient_at_nan_and_infinite_gradients_matches_torch(dtype, name,
                                                                          create_graph):
    """Zero where the saved value is <= the threshold (so nan passes the gradient on, as in
    PyTorch), and exact elsewhere: an infinite or nan gradient is zeroed, never made nan."""
    values = [NAN, -1.0, 2.0, 0.0, 3.0, -0.0, 0.5, INF, -INF] * 3
    seed = [1.0, INF, 3.0, NAN, -INF, 2.0, -0.0, 4.0, NAN] * 3
    apply = {"relu": lambda lib, x: lib.relu(x),
             "threshold": lambda lib, x: lib.nn.functional.threshold(x, 0.5, -2.0),
             "relu_": lambda lib, x: (x * 1).relu_()}[name]
    results = []
    for lib in (tapegrad, torch):
        x = lib.tensor(values, dtype=getattr(lib, dtype), requires_grad=True)
        gradient, = lib.autograd.grad(apply(lib, x), x, lib.tensor(seed, dtype=getattr(lib, dtype)),
                                      create_graph=create_graph)
        results.append(as_numpy(gradient))
    np.testing.assert_array_equal(results[0], results[1])
    np.testing.assert_array_equal(np.signbit(results[0]), np.signbit(results[1]))


SPECIAL = [INF, -INF, NAN, 0.0, -0.0, 3e38, -3e38, 1e-45, 1.0, -1.0, 2.0, 0.5]
# Calls whose NumPy form warns (overflow, inf * 0, inf - inf, casts of nan and inf); PyTorch
# computes them silently, and so must tapegrad, or code run with warnings as errors breaks.
SILENT = {
    "mul": lambda lib, x, y: x * y, "add": lambda lib, x, y: x + y,
    "sub": lambda lib, x, y: x - y, "rsub": lambda lib, x, y: 1.0 - x * 3e38,
    "div": lambda lib, x, y: x / y, "pow": lambda lib, x, y: x ** 2,
    "entropy": lambda lib, x, y: x.abs() * x.abs().log(),
    "sum": lambda lib, x, y: x.sum(), "mean": lambda lib, x, y: x.mean(),
    "dot": lambda lib, x, y: x.dot(y), "matmul": lambda lib, x, y: x.view(3, 4) @ y.view(4, 3),
    "outer": lambda lib, x, y: lib.outer(x, y), "frac": lambda lib, x, y: x.frac(),
    "hypot": lambda lib, x, y: lib.hypot(x, y), "lgamma": lambda lib, x, y: x.lgamma(),
    "xlogy": lambda lib, x, y: lib.xlogy(x, y),
    "mul_": lambda lib, x, y: x.clone().mul_(y), "add_": lambda lib, x, y: x.clone().add_(y),
    "double to float": lambda lib, x, y: (x.double() * 1e10).float(),
    "int": lambda lib, x, y: x[3:].int(),
}


@pytest.mark.parametrize("name", sorted(SILENT))
def test_special_values_compute_without_warnings_as_torch(name):
    import warnings

    results = []
    for lib in (tapegrad, torch):
        x = lib.tensor(SPECIAL, dtype=lib.float32)
        y = lib.tensor(SPECIAL[::-1], dtype=lib.float32)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            results.append(as_numpy(SILENT[name](lib, x, y)))
    np.testing.assert_allclose(results[0], results[1], rtol=1e-5, equal_nan=True)


def test_inplace_narrowing_cast_overflows_without_warnings_as_torch() -> None:
    import warnings

    results = []
    for lib in (tapegrad, torch):
        x = lib.tensor([1.0, 2.0])
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            x.add_(lib.tensor([1e300, 1.0], dtype=lib.float64))
        results.append(as_numpy(x))
    np.testing.assert_array_equal(results[0], results[1])


@pytest.mark.parametrize("size", [8, 4096])  # below and above relu's zero-array threshold
@pytest.mark.parametrize("dtype", ["float32", "float64", "int32", "uint8"])
def test_relu_matches_torch_on_special_values_small_and_large(size, dtype):
    """relu compares against a 0-d zero for small inputs and an array of zeros for large ones
    (NumPy vectorizes only the latter): both give PyTorch's values, nan kept, dtype kept."""
    rng = np.random.default_rng(0)
    if dtype.startswith("float"):
        values = rng.standard_normal(size).astype(dtype)
        values[:5] = [NAN, INF, -INF, 0.0, -3.0]
    else:
        values = rng.integers(0 if dtype == "uint8" else -100, 100, size).astype(dtype)
    ours = tapegrad.relu(tapegrad.tensor(values))
    theirs = torch.relu(torch.tensor(values))
    assert str(ours.dtype) == str(theirs.dtype)
    np.testing.assert_array_equal(as_numpy(ours), theirs.numpy())


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_tanh_sigmoid_and_square_gradients_keep_dtype_and_match_torch(dtype):
    """Their backward rules use cached 0-d constants and input + input: the same values and
    dtypes as PyTorch's, for 0-d inputs too."""
    rng = np.random.default_rng(1)
    for shape in [(), (5,), (3, 4)]:
        values = rng.standard_normal(shape).astype(dtype)
        for name in ("tanh", "sigmoid", "square"):
            def apply(lib, x, name=name):
                return lib.pow(x, 2) if name == "square" else getattr(lib, name)(x)
            x = tapegrad.tensor(values, requires_grad=True)
            apply(tapegrad, x).sum().backward()
            reference = torch.tensor(values, requires_grad=True)
            apply(torch, reference).sum().backward()
            assert x.grad.dtype == getattr(tapegrad, dtype) and x.grad.shape == reference.shape
            np.testing.assert_allclose(as_numpy(x.grad), reference.grad.numpy(), rtol=1e-6)
