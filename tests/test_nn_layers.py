"""Every layer, activation and loss module against PyTorch: with torch's weights copied in,
forward outputs, input gradients and every parameter gradient match; state_dict keys and
printouts are equal."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
import torch

import tapegrad


@dataclass
class Case:
    name: str
    build: Callable[[Any], Any]  # lib -> module (lib.nn.X(...))
    inputs: Callable[[np.random.Generator], list]  # arrays (float: differentiable) or numbers
    train: bool = True
    kwargs: dict = field(default_factory=dict)  # forward keyword arguments (arrays allowed)
    tol: float = 1e-9
    grad_positions: tuple | None = None  # inputs that require grad (None: every float input)


def _x(*shape: int) -> Callable:
    return lambda rng: [rng.standard_normal(shape)]


def _rnn_inputs(rng: np.random.Generator) -> list:
    return [rng.standard_normal((5, 3, 4))]


CASES = [
    Case("Linear", lambda lib: lib.nn.Linear(4, 3), _x(5, 4)),
    Case("Linear-nobias-3d", lambda lib: lib.nn.Linear(4, 3, bias=False), _x(2, 5, 4)),
    Case("Bilinear", lambda lib: lib.nn.Bilinear(3, 4, 2),
         lambda rng: [rng.standard_normal((5, 3)), rng.standard_normal((5, 4))]),
    Case("Conv1d", lambda lib: lib.nn.Conv1d(2, 3, 3, padding=1), _x(2, 2, 7)),
    Case("Conv2d", lambda lib: lib.nn.Conv2d(2, 4, 3, stride=2, padding=1, groups=2),
         _x(2, 2, 7, 6)),
    Case("Conv2d-same-reflect", lambda lib: lib.nn.Conv2d(2, 3, 3, padding="same",
                                                          padding_mode="reflect"),
         _x(1, 2, 5, 5)),
    Case("ConvTranspose2d", lambda lib: lib.nn.ConvTranspose2d(2, 3, 3, stride=2, padding=1,
                                                               output_padding=1),
         _x(2, 2, 4, 3)),
    Case("MaxPool1d", lambda lib: lib.nn.MaxPool1d(2), _x(2, 3, 8)),
    Case("MaxPool2d", lambda lib: lib.nn.MaxPool2d(3, stride=2, padding=1), _x(2, 3, 7, 6)),
    Case("AvgPool1d", lambda lib: lib.nn.AvgPool1d(3, stride=2), _x(2, 3, 9)),
    Case("AvgPool2d", lambda lib: lib.nn.AvgPool2d(2), _x(2, 3, 6, 6)),
    Case("AdaptiveAvgPool2d", lambda lib: lib.nn.AdaptiveAvgPool2d((2, 3)), _x(2, 3, 7, 8)),
    Case("BatchNorm1d-train", lambda lib: lib.nn.BatchNorm1d(3), _x(6, 3)),
    Case("BatchNorm1d-eval", lambda lib: lib.nn.BatchNorm1d(3), _x(6, 3, 4), train=False),
    Case("BatchNorm1d-cumulative", lambda lib: lib.nn.BatchNorm1d(3, momentum=None), _x(6, 3)),
    Case("BatchNorm1d-untracked", lambda lib: lib.nn.BatchNorm1d(3, affine=False,
                                                                 track_running_stats=False),
         _x(6, 3)),
    Case("BatchNorm2d", lambda lib: lib.nn.BatchNorm2d(3), _x(2, 3, 4, 4)),
    Case("LayerNorm", lambda lib: lib.nn.LayerNorm(4), _x(3, 5, 4)),
    Case("LayerNorm-2d", lambda lib: lib.nn.LayerNorm([5, 4]), _x(3, 5, 4)),
    Case("GroupNorm", lambda lib: lib.nn.GroupNorm(2, 4), _x(3, 4, 5)),
    Case("Dropout-eval", lambda lib: lib.nn.Dropout(0.5), _x(4, 5), train=False),
    Case("Dropout-p0", lambda lib: lib.nn.Dropout(0.0), _x(4, 5)),
    Case("Embedding", lambda lib: lib.nn.Embedding(10, 3, padding_idx=0),
         lambda rng: [rng.integers(0, 10, (4, 5))]),
    Case("Flatten", lambda lib: lib.nn.Flatten(), _x(2, 3, 4)),
    Case("Unflatten", lambda lib: lib.nn.Unflatten(1, (2, 3)), _x(4, 6)),
    Case("Identity", lambda lib: lib.nn.Identity(), _x(4, 6)),
    Case("RNN", lambda lib: lib.nn.RNN(4, 5, num_layers=2), _rnn_inputs),
    Case("RNN-relu-h0", lambda lib: lib.nn.RNN(4, 5, nonlinearity="relu"),
         lambda rng: [rng.standard_normal((5, 3, 4)), rng.standard_normal((1, 3, 5))]),
    Case("LSTM", lambda lib: lib.nn.LSTM(4, 5, num_layers=2, bidirectional=True,
                                         batch_first=True), _rnn_inputs),
    Case("LSTM-h0c0", lambda lib: lib.nn.LSTM(4, 5),
         lambda rng: [rng.standard_normal((5, 3, 4)), (rng.standard_normal((1, 3, 5)),
                                                       rng.standard_normal((1, 3, 5)))]),
    Case("LSTM-unbatched", lambda lib: lib.nn.LSTM(4, 5), _x(6, 4)),
    Case("GRU", lambda lib: lib.nn.GRU(4, 5, bidirectional=True), _rnn_inputs),
    Case("GRU-dropout-eval", lambda lib: lib.nn.GRU(4, 5, num_layers=2, dropout=0.5),
         _rnn_inputs, train=False),
    Case("MultiheadAttention", lambda lib: lib.nn.MultiheadAttention(8, 2),
         lambda rng: [rng.standard_normal((5, 3, 8)), rng.standard_normal((4, 3, 8)),
                      rng.standard_normal((4, 3, 8))]),
    Case("MultiheadAttention-masks", lambda lib: lib.nn.MultiheadAttention(8, 4,
                                                                          batch_first=True),
         lambda rng: [rng.standard_normal((3, 5, 8))] * 3,
         kwargs={"attn_mask": np.triu(np.ones((5, 5), dtype=bool), 1),
                 "key_padding_mask": np.array([[False] * 5, [False] * 4 + [True],
                                               [False] * 3 + [True] * 2]),
                 "average_attn_weights": False}),
    Case("MultiheadAttention-noweights", lambda lib: lib.nn.MultiheadAttention(8, 2),
         lambda rng: [rng.standard_normal((5, 3, 8))] * 3, kwargs={"need_weights": False}),
    Case("TransformerEncoderLayer", lambda lib: lib.nn.TransformerEncoderLayer(
        8, 2, dim_feedforward=16, dropout=0.0), _x(5, 3, 8)),
    Case("TransformerEncoderLayer-norm-first-gelu", lambda lib: lib.nn.TransformerEncoderLayer(
        8, 2, dim_feedforward=16, dropout=0.0, norm_first=True, activation="gelu",
        batch_first=True), _x(3, 5, 8)),
    Case("Sequential", lambda lib: lib.nn.Sequential(lib.nn.Linear(4, 6), lib.nn.ReLU(),
                                                     lib.nn.Linear(6, 2)), _x(5, 4)),
]

ACTIVATIONS = [
    ("ReLU", ()), ("LeakyReLU", (0.2,)), ("GELU", ()), ("GELU", ("tanh",)), ("Softmax", (1,)),
    ("LogSoftmax", (1,)), ("Softmin", (1,)), ("Sigmoid", ()), ("Tanh", ()), ("SiLU", ()),
    ("ELU", (0.7,)), ("CELU", (0.7,)), ("SELU", ()), ("Mish", ()), ("Softplus", (2.0, 5.0)),
    ("Softsign", ()), ("Hardtanh", (-0.5, 0.5)), ("ReLU6", ()), ("Hardswish", ()),
    ("Hardsigmoid", ()), ("Hardshrink", (0.3,)), ("Softshrink", (0.3,)), ("Tanhshrink", ()),
    ("LogSigmoid", ()), ("GLU", (1,)), ("Threshold", (0.1, -1.0)), ("PReLU", ()),
]
for _name, _args in ACTIVATIONS:
    CASES.append(Case(f"{_name}{_args}", lambda lib, n=_name, a=_args: getattr(lib.nn, n)(*a),
                      _x(4, 6)))


def _probabilities(rng: np.random.Generator, shape: tuple) -> np.ndarray:
    values = rng.random(shape) + 0.1
    return values / values.sum(-1, keepdims=True)


LOSSES = [
    ("MSELoss", {}, lambda rng: [rng.standard_normal((4, 3)), rng.standard_normal((4, 3))]),
    ("L1Loss", {"reduction": "sum"},
     lambda rng: [rng.standard_normal((4, 3)), rng.standard_normal((4, 3))]),
    ("CrossEntropyLoss", {}, lambda rng: [rng.standard_normal((4, 5)), rng.integers(0, 5, 4)]),
    ("CrossEntropyLoss", {"label_smoothing": 0.1, "ignore_index": 1},
     lambda rng: [rng.standard_normal((4, 5, 2)), rng.integers(0, 5, (4, 2))]),
    ("CrossEntropyLoss", {"reduction": "none"},
     lambda rng: [rng.standard_normal((4, 5)), _probabilities(rng, (4, 5))]),
    ("NLLLoss", {}, lambda rng: [rng.standard_normal((4, 5)), rng.integers(0, 5, 4)]),
    ("BCELoss", {}, lambda rng: [rng.random((4, 3)) * 0.8 + 0.1, rng.random((4, 3))]),
    ("BCEWithLogitsLoss", {}, lambda rng: [rng.standard_normal((4, 3)), rng.random((4, 3))]),
    ("SmoothL1Loss", {"beta": 0.5},
     lambda rng: [rng.standard_normal((4, 3)), rng.standard_normal((4, 3))]),
    ("HuberLoss", {"delta": 0.7},
     lambda rng: [rng.standard_normal((4, 3)), rng.standard_normal((4, 3))]),
    ("KLDivLoss", {"reduction": "batchmean"},
     lambda rng: [np.log(_probabilities(rng, (4, 5))), _probabilities(rng, (4, 5))]),
    ("SoftMarginLoss", {}, lambda rng: [rng.standard_normal((4, 3)),
                                        np.sign(rng.standard_normal((4, 3)))]),
    ("MarginRankingLoss", {"margin": 0.2},
     lambda rng: [rng.standard_normal(4), rng.standard_normal(4),
                  np.sign(rng.standard_normal(4))]),
    ("HingeEmbeddingLoss", {}, lambda rng: [rng.standard_normal((4, 3)),
                                            np.sign(rng.standard_normal((4, 3)))]),
    ("CosineEmbeddingLoss", {}, lambda rng: [rng.standard_normal((4, 3)),
                                             rng.standard_normal((4, 3)),
                                             np.sign(rng.standard_normal(4))]),
    ("MultiMarginLoss", {}, lambda rng: [rng.standard_normal((4, 5)), rng.integers(0, 5, 4)]),
    ("MultiLabelSoftMarginLoss", {},
     lambda rng: [rng.standard_normal((4, 5)), (rng.random((4, 5)) > 0.5) * 1.0]),
    ("TripletMarginLoss", {}, lambda rng: [rng.standard_normal((4, 3)) for _ in range(3)]),
    ("PoissonNLLLoss", {}, lambda rng: [rng.standard_normal((4, 3)), rng.random((4, 3)) * 3]),
    ("GaussianNLLLoss", {}, lambda rng: [rng.standard_normal((4, 3)),
                                         rng.standard_normal((4, 3)),
                                         rng.random((4, 3)) + 0.5]),
]
# Which inputs of a loss are differentiated: the predictions (and variances), not targets.
_LOSS_GRAD_POSITIONS = {"MarginRankingLoss": (0, 1), "CosineEmbeddingLoss": (0, 1),
                        "TripletMarginLoss": (0, 1, 2), "GaussianNLLLoss": (0, 2)}
for _name, _kwargs, _inputs in LOSSES:
    CASES.append(Case(f"{_name}{_kwargs}", lambda lib, n=_name, k=_kwargs: getattr(lib.nn, n)(**k),
                      _inputs, grad_positions=_LOSS_GRAD_POSITIONS.get(_name, (0,))))


def _convert(value: Any, lib: Any, requires_grad: bool) -> Any:
    if isinstance(value, tuple):
        return tuple(_convert(v, lib, requires_grad) for v in value)
    if isinstance(value, np.ndarray):
        tensor = lib.tensor(value)
        if requires_grad and value.dtype.kind == "f":
            tensor.requires_grad_(True)
        return tensor
    return value


def _tensors(value: Any) -> list:
    if isinstance(value, (tuple, list)):
        return [t for item in value for t in _tensors(item)]
    return [] if value is None else [value]


def _copy_weights(source: torch.nn.Module, target: tapegrad.nn.Module) -> None:
    state = {key: tapegrad.tensor(value.detach().numpy()) for key, value in
             source.state_dict().items()}
    target.load_state_dict(state)


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_layer_matches_torch(case: Case) -> None:
    rng = np.random.default_rng(abs(hash(case.name)) % 2**32)
    torch.manual_seed(0)
    reference = case.build(torch).double()
    module = case.build(tapegrad).double()
    assert list(module.state_dict()) == list(reference.state_dict())
    assert repr(module) == repr(reference)
    _copy_weights(reference, module)
    reference.train(case.train)
    module.train(case.train)
    arrays = case.inputs(rng)
    kwargs_t = {k: _convert(v, torch, False) for k, v in case.kwargs.items()}
    kwargs_g = {k: _convert(v, tapegrad, False) for k, v in case.kwargs.items()}
    grad_inputs = [case.grad_positions is None or i in case.grad_positions
                   for i in range(len(arrays))]
    inputs_t = [_convert(a, torch, g) for a, g in zip(arrays, grad_inputs)]
    inputs_g = [_convert(a, tapegrad, g) for a, g in zip(arrays, grad_inputs)]
    outputs_t = _tensors(reference(*inputs_t, **kwargs_t))
    outputs_g = _tensors(module(*inputs_g, **kwargs_g))
    assert len(outputs_t) == len(outputs_g)
    total_t, total_g = 0, 0
    for out_t, out_g in zip(outputs_t, outputs_g):
        assert tuple(out_g.shape) == tuple(out_t.shape)
        np.testing.assert_allclose(out_g.detach().numpy(), out_t.detach().numpy(),
                                   rtol=1e-7, atol=case.tol)
        expected = None if out_t.grad_fn is None else out_t.grad_fn.name()
        actual = None if out_g.grad_fn is None else out_g.grad_fn.name()
        assert actual == expected, f"grad_fn {actual} != {expected}"
        if out_t.requires_grad:
            weights = rng.standard_normal(tuple(out_t.shape))
            total_t = total_t + (out_t * torch.tensor(weights)).sum()
            total_g = total_g + (out_g * tapegrad.tensor(weights)).sum()
    for name, buffer in reference.named_buffers():
        np.testing.assert_allclose(module.get_buffer(name).numpy(), buffer.numpy(), rtol=1e-7,
                                   atol=1e-12, err_msg=f"buffer {name}")
    if not isinstance(total_t, torch.Tensor):
        return
    total_t.backward()
    total_g.backward()
    for tensor_t, tensor_g in zip(_tensors(inputs_t), _tensors(inputs_g)):
        if isinstance(tensor_t, torch.Tensor) and tensor_t.requires_grad:
            np.testing.assert_allclose(tensor_g.grad.numpy(), tensor_t.grad.numpy(), rtol=1e-7,
                                       atol=1e-9)
    params_g = dict(module.named_parameters())
    for name, param in reference.named_parameters():
        if param.grad is None:
            assert params_g[name].grad is None, name
            continue
        np.testing.assert_allclose(params_g[name].grad.numpy(), param.grad.numpy(), rtol=1e-7,
                                   atol=1e-9, err_msg=f"gradient of {name}")


@pytest.mark.parametrize("name,builder,bound", [
    ("Linear", lambda lib: lib.nn.Linear(20, 30), 1 / np.sqrt(20)),
    ("Conv2d", lambda lib: lib.nn.Conv2d(4, 16, 3), 1 / np.sqrt(4 * 9)),
    ("ConvTranspose2d", lambda lib: lib.nn.ConvTranspose2d(4, 16, 3), 1 / np.sqrt(16 * 9)),
    ("Bilinear", lambda lib: lib.nn.Bilinear(10, 12, 30), 1 / np.sqrt(10)),
    ("LSTM", lambda lib: lib.nn.LSTM(10, 25), 1 / np.sqrt(25)),
])
def test_default_initialisation_bounds(name: str, builder: Callable, bound: float) -> None:
    """Every parameter is drawn from U(-bound, bound) with PyTorch's bound (checked on torch's
    own parameters too): nothing beyond it, and the spread of a uniform distribution."""
    tapegrad.manual_seed(0)
    torch.manual_seed(0)
    for module in (builder(torch), builder(tapegrad)):
        for key, param in module.named_parameters():
            values = param.detach().numpy()
            assert np.abs(values).max() <= bound * (1 + 1e-6), (name, key)
            if values.size >= 500:  # enough draws for the moments to be tight
                assert np.abs(values).max() >= 0.95 * bound, (name, key)
                assert abs(values.std() - bound / np.sqrt(3)) < 0.08 * bound, (name, key)
                assert abs(values.mean()) < 0.1 * bound, (name, key)


def test_embedding_and_norm_defaults() -> None:
    embedding = tapegrad.nn.Embedding(2000, 8, padding_idx=3)
    weight = embedding.weight.detach().numpy()
    assert np.all(weight[3] == 0)
    assert abs(weight.mean()) < 0.02 and abs(weight.std() - 1) < 0.02
    norm = tapegrad.nn.LayerNorm(5)
    assert np.all(norm.weight.detach().numpy() == 1) and np.all(norm.bias.detach().numpy() == 0)
    attention = tapegrad.nn.MultiheadAttention(40, 4)
    bound = np.sqrt(6 / (40 + 120))
    assert np.abs(attention.in_proj_weight.detach().numpy()).max() <= bound
    assert np.all(attention.in_proj_bias.detach().numpy() == 0)


def test_batchnorm_running_stats_and_errors() -> None:
    layer = tapegrad.nn.BatchNorm1d(3, momentum=0.3)
    reference = torch.nn.BatchNorm1d(3, momentum=0.3)
    data = np.random.default_rng(0).standard_normal((8, 3))
    for _ in range(3):
        layer(tapegrad.tensor(data, dtype=tapegrad.float32))
        reference(torch.tensor(data, dtype=torch.float32))
    np.testing.assert_allclose(layer.running_var.numpy(), reference.running_var.numpy(),
                               rtol=1e-6)
    assert layer.num_batches_tracked.item() == 3
    with pytest.raises(ValueError, match="expected 2D or 3D input"):
        layer(tapegrad.zeros(2, 3, 4, 5))


def test_dropout_training_scales_kept_values() -> None:
    tapegrad.manual_seed(0)
    layer = tapegrad.nn.Dropout(0.25)
    result = layer(tapegrad.ones(400, 50)).numpy()
    kept = result[result != 0]
    np.testing.assert_allclose(kept, 1 / 0.75, rtol=1e-6)
    assert abs((result == 0).mean() - 0.25) < 0.02
    with pytest.raises(ValueError, match="dropout probability"):
        tapegrad.nn.Dropout(1.5)


# --- LSTM: PyTorch's fused float32 layer and its float64 composite -----------------------------
# (module keyword arguments, input shape, initial state given)
LSTM_CONFIGS = {
    "plain": ({}, (5, 3, 4), False),
    "batch_first": ({"batch_first": True}, (3, 5, 4), False),
    "bidirectional": ({"bidirectional": True}, (5, 3, 4), False),
    "two-layers": ({"num_layers": 2}, (5, 3, 4), False),
    "two-layers-bidirectional-batch_first": (
        {"num_layers": 2, "bidirectional": True, "batch_first": True}, (3, 5, 4), False),
    "h0c0": ({"num_layers": 2}, (5, 3, 4), True),
    "h0c0-bidirectional": ({"bidirectional": True}, (5, 3, 4), True),
    "unbatched": ({}, (6, 4), False),
    "unbatched-h0c0": ({"bidirectional": True}, (6, 4), True),
    "no-bias": ({"bias": False}, (5, 3, 4), False),
    "dropout-eval": ({"num_layers": 2, "dropout": 0.5}, (5, 3, 4), False),
    "one-step": ({}, (1, 2, 4), True),
}
_LSTM_HIDDEN = 6


def _lstm_pair(config: str, dtype: str) -> tuple:
    """The same LSTM (torch's weights copied) and inputs in both libraries."""
    kwargs, shape, with_state = LSTM_CONFIGS[config]
    torch.manual_seed(0)
    reference = torch.nn.LSTM(4, _LSTM_HIDDEN, dtype=getattr(torch, dtype), **kwargs)
    module = tapegrad.nn.LSTM(4, _LSTM_HIDDEN, dtype=getattr(tapegrad, dtype), **kwargs)
    _copy_weights(reference, module)
    if kwargs.get("dropout"):
        reference.eval()
        module.eval()
    rng = np.random.default_rng(len(config))
    arrays = [rng.standard_normal(shape)]
    if with_state:
        layers = kwargs.get("num_layers", 1) * (2 if kwargs.get("bidirectional") else 1)
        state_shape = (layers, _LSTM_HIDDEN) if len(shape) == 2 else (
            layers, shape[0] if kwargs.get("batch_first") else shape[1], _LSTM_HIDDEN)
        arrays += [rng.standard_normal(state_shape), rng.standard_normal(state_shape)]
    return reference, module, [a.astype(dtype) for a in arrays]


def _run_lstm(lib: Any, module: Any, arrays: list) -> tuple[list, list]:
    """(inputs, [output, h_n, c_n]) with every input requiring grad."""
    inputs = [lib.tensor(a, requires_grad=True) for a in arrays]
    state = tuple(inputs[1:]) if len(inputs) == 3 else None
    output, (h_n, c_n) = module(inputs[0], state)
    return inputs, [output, h_n, c_n]


def _node_names(tensor: Any) -> tuple:
    """The tensor's node and the nodes it feeds from, by name (the layers' nodes for h_n)."""
    node = tensor.grad_fn
    return node.name(), tuple(None if child is None else child.name()
                              for child, _ in node.next_functions)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("config", list(LSTM_CONFIGS))
def test_lstm_matches_torch(config: str, dtype: str) -> None:
    """Values, node names (fused layers in float32, the composite in float64, as PyTorch
    records them) and the gradients of the input, initial state and every weight."""
    reference, module, arrays = _lstm_pair(config, dtype)
    inputs_t, outputs_t = _run_lstm(torch, reference, arrays)
    inputs_g, outputs_g = _run_lstm(tapegrad, module, arrays)
    rtol, atol = (1e-4, 1e-5) if dtype == "float32" else (1e-7, 1e-9)
    for out_g, out_t in zip(outputs_g, outputs_t):
        assert out_g.dtype == getattr(tapegrad, dtype)
        np.testing.assert_allclose(out_g.detach().numpy(), out_t.detach().numpy(), rtol=rtol,
                                   atol=atol)
        assert _node_names(out_g) == _node_names(out_t)
    layers = {child.name() for child, _ in outputs_g[1].grad_fn.next_functions}
    if len(arrays[0].shape) == 3:  # h_n stacks the layers' final states directly
        assert layers == ({"MkldnnRnnLayerBackward0"} if dtype == "float32" else
                          {"MulBackward0"})
    rng = np.random.default_rng(1)
    cotangents = [rng.standard_normal(tuple(out.shape)).astype(dtype) for out in outputs_t]
    torch.autograd.backward(outputs_t, [torch.tensor(c) for c in cotangents])
    tapegrad.autograd.backward(outputs_g, [tapegrad.tensor(c) for c in cotangents])
    for tensor_g, tensor_t in zip(inputs_g, inputs_t):
        np.testing.assert_allclose(tensor_g.grad.numpy(), tensor_t.grad.numpy(), rtol=rtol,
                                   atol=atol)
    params_g = dict(module.named_parameters())
    for name, param in reference.named_parameters():
        np.testing.assert_allclose(params_g[name].grad.numpy(), param.grad.numpy(), rtol=rtol,
                                   atol=atol, err_msg=f"gradient of {name}")


@pytest.mark.parametrize("config", ["plain", "two-layers-bidirectional-batch_first",
                                    "unbatched-h0c0"])
def test_lstm_float32_double_backward_matches_torch(config: str) -> None:
    """create_graph through the fused layer gives differentiable gradients (the layer is
    recomputed in tapegrad ops); their own gradients match PyTorch's."""
    reference, module, arrays = _lstm_pair(config, "float32")
    results = {}
    for lib, net in ((torch, reference), (tapegrad, module)):
        inputs, outputs = _run_lstm(lib, net, arrays)
        rng = np.random.default_rng(2)
        total = sum((out * lib.tensor(rng.standard_normal(tuple(out.shape)).astype("float32")))
                    .sum() for out in outputs)
        sources = inputs + list(net.parameters())
        grads = lib.autograd.grad(total, sources, create_graph=True)
        assert all(grad.requires_grad for grad in grads)
        second = lib.autograd.grad(sum((grad * grad).sum() for grad in grads), sources)
        results[lib.__name__] = [t.detach().numpy() for t in (*grads, *second)]
    for ours, theirs in zip(results["tapegrad"], results["torch"]):
        np.testing.assert_allclose(ours, theirs, rtol=2e-3, atol=2e-4)


@pytest.mark.parametrize("used", [(0,), (1,), (2,), (1, 2), (0, 2)])
@pytest.mark.parametrize("create_graph", [False, True])
def test_lstm_float32_gradients_of_some_outputs_match_torch(used: tuple,
                                                            create_graph: bool) -> None:
    """A loss on some of (output, h_n, c_n) only: the fused layer gets no gradient for the
    others (and skips their work); gradients, and with create_graph their own gradients,
    match PyTorch's."""
    reference, module, arrays = _lstm_pair("two-layers-bidirectional-batch_first", "float32")
    results = {}
    for lib, net in ((torch, reference), (tapegrad, module)):
        inputs, outputs = _run_lstm(lib, net, arrays)
        rng = np.random.default_rng(4)
        total = sum((outputs[index] * lib.tensor(rng.standard_normal(
            tuple(outputs[index].shape)).astype("float32"))).sum() for index in used)
        sources = inputs + list(net.parameters())
        grads = lib.autograd.grad(total, sources, create_graph=create_graph)
        found = list(grads)
        if create_graph:
            found += lib.autograd.grad(sum((grad * grad).sum() for grad in grads), sources)
        results[lib.__name__] = [t.detach().numpy() for t in found]
    tolerance = {"rtol": 2e-3, "atol": 2e-4} if create_graph else {"rtol": 1e-4, "atol": 1e-5}
    for ours, theirs in zip(results["tapegrad"], results["torch"], strict=True):
        np.testing.assert_allclose(ours, theirs, **tolerance)


def _layer_inputs(bias: bool, seed: int = 0) -> list:
    rng = np.random.default_rng(seed)
    shapes = [(3, 2, 3), (8, 3), (8, 2), (8,), (8,), (2, 2), (2, 2)]
    return [tapegrad.tensor(rng.uniform(-1, 1, shape), requires_grad=True)
            if bias or index not in (3, 4) else None for index, shape in enumerate(shapes)]


@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("bias", [True, False])
def test_lstm_layer_primitive_gradcheck_float64(reverse: bool, bias: bool) -> None:
    """The fused primitive itself in float64 (nn.LSTM routes only float32 to it): first and
    second derivatives against finite differences, biases present or not."""
    from tapegrad.ops.rnn import lstm_layer

    values = _layer_inputs(bias)
    tensors = tuple(v for v in values if v is not None)

    def layer(*args: Any) -> tuple:
        it = iter(args)
        return lstm_layer(*(None if v is None else next(it) for v in values), reverse)

    assert tapegrad.autograd.gradcheck(layer, tensors, eps=1e-6, atol=1e-5, rtol=1e-4)
    assert tapegrad.autograd.gradgradcheck(layer, tensors, eps=1e-6, atol=1e-4, rtol=1e-3)


@pytest.mark.parametrize("reverse", [False, True])
def test_lstm_layer_primitive_matches_composite_float64(reverse: bool) -> None:
    """The fused primitive and nn.LSTM's float64 composite agree to rounding, values and
    gradients (hand-written backpropagation through time against autograd's)."""
    from tapegrad.ops.rnn import lstm_layer

    module = tapegrad.nn.LSTM(3, 2, bidirectional=reverse, dtype=tapegrad.float64)
    values = _layer_inputs(True, seed=3)
    suffix = "_l0_reverse" if reverse else "_l0"
    with tapegrad.no_grad():
        for name, value in zip(("weight_ih", "weight_hh", "bias_ih", "bias_hh"), values[1:5]):
            getattr(module, name + suffix).copy_(value)
    fused = lstm_layer(*values, reverse)
    cotangents = [tapegrad.randn(*out.shape, dtype=tapegrad.float64) for out in fused]
    fused_grads = tapegrad.autograd.grad(fused, values, cotangents)
    input = values[0].detach().requires_grad_(True)
    state = [v.detach().requires_grad_(True) for v in values[5:]]
    index = 1 if reverse else 0
    full_state = tuple(tapegrad.stack([s.detach()] * index + [s]) for s in state)
    output, (h_n, c_n) = module(input, full_state)
    hidden = values[2].shape[1]
    composite = [output[..., index * hidden:], h_n[index], c_n[index]]
    assert composite[0].grad_fn.name() != "MkldnnRnnLayerBackward0"
    weights = [getattr(module, name + suffix) for name in
               ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
    composite_grads = tapegrad.autograd.grad(composite, [input, *weights, *state], cotangents)
    for a, b in zip(fused, composite):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-12,
                                   atol=1e-14)
    for a, b in zip(fused_grads, composite_grads):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-10, atol=1e-13)


def test_lstm_fused_backward_twice_and_inplace_error() -> None:
    """retain_graph: a second backward through the fused layer gives the same gradients (its
    saved workspace is left intact); an in-place change of its output is refused."""
    torch_module, module, arrays = _lstm_pair("two-layers-bidirectional-batch_first", "float32")
    inputs, outputs = _run_lstm(tapegrad, module, arrays)
    total = sum(out.sum() for out in outputs)
    total.backward(retain_graph=True)
    first = [p.grad.numpy().copy() for p in module.parameters()] + [inputs[0].grad.numpy()]
    for tensor in [*module.parameters(), inputs[0]]:
        tensor.grad = None
    total.backward()
    second = [p.grad.numpy() for p in module.parameters()] + [inputs[0].grad.numpy()]
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
    output, _ = tapegrad.nn.LSTM(4, 3)(tapegrad.randn(5, 2, 4, requires_grad=True))
    output.add_(1)
    with pytest.raises(RuntimeError, match="output 0 of MkldnnRnnLayerBackward0"):
        output.sum().backward()


def test_lstm_bad_input_raises_like_torch() -> None:
    """An empty sequence, and an input whose dtype is not the weights' (never computed in a
    promoted dtype)."""
    for lib in (torch, tapegrad):
        with pytest.raises(RuntimeError, match="Expected sequence length to be larger than 0"):
            lib.nn.LSTM(4, 5)(lib.zeros(0, 3, 4))
        with pytest.raises(ValueError, match=r"RNN input dtype \(torch.float32\) does not "
                                             r"match weight dtype \(torch.float64\)"):
            lib.nn.LSTM(4, 5, dtype=lib.float64)(lib.zeros(2, 3, 4))
        # float32 input with a float64 initial state: PyTorch's fused layer refuses it.
        with pytest.raises(RuntimeError, match="unsupported data type"):
            lib.nn.LSTM(4, 5)(lib.zeros(2, 3, 4), (lib.zeros(1, 3, 5, dtype=lib.float64),
                                                   lib.zeros(1, 3, 5)))
