"""Generic op tests driven by the op table: every (op, sample) is compared with PyTorch for
values, dtypes, shapes, gradients and grad_fn names, and checked against finite differences."""

from __future__ import annotations

import inspect
import re

import numpy as np
import pytest
import torch

import tapegrad
from tapegrad.ops import OPS

from .helpers import as_numpy, assert_close, convert_arg, make_arrays, resolve, rng_for, to_lib
from .op_db import OP_DB

CASES = [(name, index) for name, op in sorted(OPS.items())
         for index, sample in enumerate(op.samples or ()) if not sample.error]
ERROR_CASES = [(name, index) for name, op in sorted(OPS.items())
               for index, sample in enumerate(op.samples or ()) if sample.error]


def test_inventory():
    """Every primitive has samples and a PyTorch reference; every reference names a primitive."""
    missing_entry = sorted(set(OPS) - set(OP_DB))
    missing_samples = sorted(name for name, op in OPS.items() if not op.samples)
    unknown = sorted(set(OP_DB) - set(OPS))
    assert not missing_entry, f"ops without an op_db entry: {missing_entry}"
    assert not missing_samples, f"ops without samples: {missing_samples}"
    assert not unknown, f"op_db entries for unknown ops: {unknown}"
    print(f"\n{len(OPS)} primitives, {len(CASES)} samples, {len(ERROR_CASES)} error samples")


def _run(name: str, index: int, lib, dtype=np.float64, requires_grad: bool = True):
    op, entry = OPS[name], OP_DB[name]
    sample = op.samples[index]
    arrays = make_arrays(sample, rng_for(name, index), dtype)
    inputs = to_lib(arrays, lib, requires_grad and op.node_class is not None)
    first_shape = sample.shapes[0] if sample.shapes and sample.shapes[0] is not None else ()
    state: dict = {"dtype": dtype}
    args = [convert_arg(a, lib, first_shape, state) for a in sample.args]
    kwargs = {k: convert_arg(v, lib, first_shape, state) for k, v in sample.kwargs.items()
              if not k.startswith("_")}
    function = resolve(lib, entry.call)
    return inputs, function(*inputs, *args, **kwargs), (function, args, kwargs)


def _outputs(result):
    return result if isinstance(result, tuple) else (result,)


@pytest.mark.parametrize("name,index", CASES)
def test_forward_and_backward_match_torch(name, index):
    entry = OP_DB[name]
    ours_inputs, ours, _ = _run(name, index, tapegrad)
    torch_inputs, theirs, _ = _run(name, index, torch)
    ours_outputs, their_outputs = _outputs(ours), _outputs(theirs)
    assert len(ours_outputs) == len(their_outputs)
    for a, b in zip(ours_outputs, their_outputs):
        assert_close(a, b, entry.atol, entry.rtol, f"{name}[{index}] forward")
    # grad_fn names, as PyTorch records them
    for a, b in zip(ours_outputs, their_outputs):
        if isinstance(b, torch.Tensor):
            expected = None if b.grad_fn is None else b.grad_fn.name()
            actual = None if a.grad_fn is None else a.grad_fn.name()
            assert actual == expected, f"{name}[{index}]: grad_fn {actual} != {expected}"
    differentiable = [i for i, b in enumerate(their_outputs)
                      if isinstance(b, torch.Tensor) and b.requires_grad]
    sources = [i for i, t in enumerate(torch_inputs)
               if isinstance(t, torch.Tensor) and t.requires_grad]
    if not differentiable or not sources:
        return
    rng = rng_for(name, index, "cotangent")
    cotangents = [rng.standard_normal(their_outputs[i].shape) for i in differentiable]
    their_grads = torch.autograd.grad(
        [their_outputs[i] for i in differentiable], [torch_inputs[i] for i in sources],
        [torch.tensor(c) for c in cotangents], allow_unused=True)
    our_grads = tapegrad.autograd.grad(
        [ours_outputs[i] for i in differentiable], [ours_inputs[i] for i in sources],
        [tapegrad.tensor(c) for c in cotangents], allow_unused=True)
    for position, (a, b) in enumerate(zip(our_grads, their_grads)):
        if b is None:
            assert a is None or np.all(as_numpy(a) == 0), f"{name}[{index}] grad {position}"
            continue
        assert a is not None, f"{name}[{index}]: no gradient for input {position}"
        assert_close(a, b, max(entry.atol, 1e-7), max(entry.rtol, 1e-6),
                     f"{name}[{index}] grad of input {sources[position]}")


@pytest.mark.parametrize("name,index", CASES)
def test_float32_dtype_matches_torch(name, index):
    _, ours, _ = _run(name, index, tapegrad, np.float32, requires_grad=False)
    _, theirs, _ = _run(name, index, torch, np.float32, requires_grad=False)
    for a, b in zip(_outputs(ours), _outputs(theirs)):
        if isinstance(b, torch.Tensor):
            assert str(a.dtype) == str(b.dtype)
            assert tuple(a.shape) == tuple(b.shape)
            np.testing.assert_allclose(as_numpy(a), as_numpy(b), rtol=1e-4, atol=1e-5)


def _checkable(name, index):
    op = OPS[name]
    return op.node_class is not None and any(
        s is not None for s in op.samples[index].shapes)


@pytest.mark.parametrize("name,index", [c for c in CASES if _checkable(*c)])
def test_gradcheck(name, index):
    entry = OP_DB[name]
    if not entry.gradcheck:
        pytest.skip(entry.skip.get("gradcheck", "derivative is zero almost everywhere"))
    inputs, _, (function, args, kwargs) = _run(name, index, tapegrad)

    def call(*values):
        return function(*values, *args, **kwargs)

    assert tapegrad.autograd.gradcheck(call, tuple(inputs), eps=1e-6, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("name,index", [c for c in CASES if _checkable(*c)])
def test_gradgradcheck(name, index):
    entry = OP_DB[name]
    if not entry.gradgradcheck:
        pytest.skip(entry.skip.get("gradgradcheck", "second derivative not meaningful"))
    inputs, _, (function, args, kwargs) = _run(name, index, tapegrad)

    def call(*values):
        return function(*values, *args, **kwargs)

    assert tapegrad.autograd.gradgradcheck(call, tuple(inputs), eps=1e-6, atol=1e-4, rtol=1e-3)


def _raised(name: str, index: int, lib) -> Exception | None:
    try:
        _run(name, index, lib)
    except Exception as error:  # noqa: BLE001 - the type and message are what is compared
        return error
    return None


def message_key(error: Exception) -> str:
    """The first line of an error's message, normalised where the two libraries may only
    differ in form: runs of whitespace, tensor reprs, memory addresses, and whole floats
    printed as C++ prints them (``1`` for ``1.0``)."""
    text = str(error.args[0]) if isinstance(error, KeyError) and error.args else str(error)
    line = text.strip().split("\n", 1)[0]
    line = re.sub(r"tensor\(.*", "<tensor>", line)
    line = re.sub(r"0x[0-9a-fA-F]+", "<address>", line)
    line = re.sub(r"(?<![\w.])(-?\d+)\.0(?![\d.])", r"\1", line)
    return re.sub(r"\s+", " ", line).strip()


@pytest.mark.parametrize("name,index", ERROR_CASES)
def test_error_samples_raise_like_torch(name, index):
    """Bad input raises PyTorch's exception type (never a wrong answer), and the first line of
    our message equals PyTorch's after ``message_key``'s normalisation: the same words, dims,
    sizes and dtype names, so that the message means the same."""
    theirs = _raised(name, index, torch)
    assert theirs is not None, f"{name}[{index}]: torch accepted the error sample"
    ours = _raised(name, index, tapegrad)
    assert ours is not None, f"{name}[{index}]: tapegrad accepted the error sample"
    assert type(ours) is type(theirs), (
        f"{name}[{index}]: raised {type(ours).__name__}({ours}), PyTorch raises "
        f"{type(theirs).__name__}({theirs})")
    assert message_key(ours) == message_key(theirs), (
        f"{name}[{index}]: message differs from PyTorch's\n  ours:  {message_key(ours)}\n"
        f"  torch: {message_key(theirs)}")


@pytest.mark.parametrize("text,key", [
    ("index 7 is out of range\n  extra detail", "index 7 is out of range"),
    ("got tensor([1., 2.]) here", "got <tensor>"),
    ("lambda  -1.0 and 0.5 and 2.05", "lambda -1 and 0.5 and 2.05"),
])
def test_message_key_normalises_form_only(text, key):
    assert message_key(RuntimeError(text)) == key


ARRAY_RULE_CASES = [(name, index) for name, index in CASES
                    if OPS[name].array_grads and _checkable(name, index)]


@pytest.mark.parametrize("name,index", ARRAY_RULE_CASES)
def test_array_rules_equal_the_tapegrad_rules(name, index):
    """Ops with NumPy rules for plain backward give the gradients their tapegrad rules give
    (the path create_graph takes), in float64 and float32."""
    for dtype in (np.float64, np.float32):
        inputs, output, _ = _run(name, index, tapegrad, dtype)
        sources = [t for t in inputs if isinstance(t, tapegrad.Tensor) and t.requires_grad]
        cotangent = tapegrad.tensor(rng_for(name, index, "cotangent").standard_normal(
            tuple(output.shape)).astype(dtype))
        plain = tapegrad.autograd.grad(output, sources, cotangent, retain_graph=True)
        recorded = tapegrad.autograd.grad(output, sources, cotangent, create_graph=True)
        for a, b in zip(plain, recorded):
            assert a.grad_fn is None and b.dtype == a.dtype
            np.testing.assert_allclose(as_numpy(a), as_numpy(b), rtol=1e-6, atol=1e-7)


UFUNC_CASES = [(name, index) for name, index in CASES
               if OPS[name].ufunc is not None and not OPS[name].samples[index].args
               and not OPS[name].samples[index].kwargs]


@pytest.mark.parametrize("name,index", UFUNC_CASES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int64, np.bool_])
def test_declared_ufunc_is_the_forward(name, index, dtype):
    """An op's declared ufunc (which the fast path calls in place of its forward) computes
    what the forward computes, for every dtype that could reach it."""
    op = OPS[name]
    arrays = make_arrays(op.samples[index], rng_for(name, index), np.float64)
    arrays = [np.asarray(a).astype(dtype) if isinstance(a, np.ndarray) else a for a in arrays]
    with np.errstate(all="ignore"):
        by_ufunc = op.ufunc(*arrays)
    defaults = [parameter.default for parameter in
                list(inspect.signature(op.function).parameters.values())[len(arrays):]]
    by_forward = op.forward(np, *arrays, *defaults)
    assert np.asarray(by_forward).dtype == np.asarray(by_ufunc).dtype
    np.testing.assert_array_equal(by_forward, by_ufunc)


def _generated_fast_path(op) -> bool:
    """Whether the registry wrote the op's common case into its function (see _registry)."""
    return op.num_outputs == 1 and len(op.input_names) <= 3 and not op.array_params \
        and op.function is not None and "_dispatch" in op.function.__code__.co_names \
        and "_fast" in op.function.__code__.co_names


def _calls_the_function(name: str, index: int) -> bool:
    """Whether the sample's args are a call of the op's own function (some describe the
    op_db call around it instead)."""
    op, sample = OPS[name], OPS[name].samples[index]
    kwargs = {k: v for k, v in sample.kwargs.items() if not k.startswith("_")}
    try:
        inspect.signature(op.function).bind(*op.input_names, *sample.args, **kwargs)
    except TypeError:
        return False
    return True


FAST_PATH_CASES = [(name, index) for name, index in CASES
                   if _generated_fast_path(OPS[name]) and _calls_the_function(name, index)]


@pytest.mark.parametrize("name,index", FAST_PATH_CASES)
@pytest.mark.parametrize("grad_inputs", ["all", "first", "last"])
def test_fast_path_records_what_dispatch_records(name, index, grad_inputs):
    """An op's generated function (the common case written out) gives the value, dtype and
    node that dispatch and record (the reference) give: the same edges, input metadata,
    params and saved values, for different inputs needing grad."""
    from tapegrad import _dispatch

    op = OPS[name]
    sample = op.samples[index]
    arrays = make_arrays(sample, rng_for(name, index), np.float64)
    inputs = to_lib(arrays, tapegrad, False)
    tensors = [i for i, value in enumerate(inputs) if isinstance(value, tapegrad.Tensor)]
    chosen = {"all": tensors, "first": tensors[:1], "last": tensors[-1:]}[grad_inputs]
    for position in chosen:
        if inputs[position].is_floating_point():
            inputs[position] = inputs[position].requires_grad_()
    first_shape = sample.shapes[0] if sample.shapes and sample.shapes[0] is not None else ()
    state: dict = {"dtype": np.float64}
    args = [convert_arg(a, tapegrad, first_shape, state) for a in sample.args]
    kwargs = {k: convert_arg(v, tapegrad, first_shape, state) for k, v in sample.kwargs.items()
              if not k.startswith("_")}
    bound = inspect.signature(op.function).bind(*inputs[:len(op.input_names)], *args, **kwargs)
    bound.apply_defaults()
    values = list(bound.arguments.values())
    count = len(op.input_names)
    try:
        reference = _dispatch.dispatch(op, tuple(values[:count]), tuple(values[count:]))
    except Exception as error:  # inputs the op refuses (op_db prepares them for torch)
        with pytest.raises(type(error)):
            op.function(*bound.args, **bound.kwargs)
        return
    fast = op.function(*bound.args, **bound.kwargs)
    assert fast.dtype == reference.dtype and fast.shape == reference.shape
    np.testing.assert_array_equal(as_numpy(fast), as_numpy(reference))
    assert fast.requires_grad == reference.requires_grad
    if reference.grad_fn is None:
        assert fast.grad_fn is None
        return
    ours, theirs = fast.grad_fn, reference.grad_fn
    assert type(ours) is type(theirs)
    assert ours._edges == theirs._edges and ours._input_meta == theirs._input_meta
    assert ours._params == theirs._params
    assert [value is None for value in ours._saved] == [value is None for value in theirs._saved]
    assert all(a is b for a, b in zip(ours._saved, theirs._saved))
    assert list(ours._saved_versions) == list(theirs._saved_versions)
    assert (ours._saved_result is None) == (theirs._saved_result is None)
