"""nn.Module and the containers against PyTorch: registration, iteration, modes, state_dict
(keys, strict loading, errors), hooks (forward and full backward), printing."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pytest
import torch

import tapegrad


def _net(lib):
    nn = lib.nn

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.features = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.ReLU())
            self.heads = nn.ModuleDict({"a": nn.Linear(8, 3), "b": nn.Identity()})
            self.blocks = nn.ModuleList([nn.Linear(3, 3) for _ in range(3)] + [nn.Tanh()])
            self.scale = nn.Parameter(lib.ones(3))
            self.extra = nn.ParameterList([nn.Parameter(lib.zeros(2)), lib.ones(4)])
            self.table = nn.ParameterDict({"w": nn.Parameter(lib.ones(2, 2))})
            self.register_buffer("steps", lib.zeros(1))
            self.register_buffer("cache", lib.zeros(2), persistent=False)
            self.shared = self.blocks[0]

        def forward(self, input):
            hidden = self.features(input).flatten(1)[:, :8]
            hidden = self.heads["a"](hidden)
            for block in self.blocks:
                hidden = block(hidden)
            return hidden * self.scale

    return Net()


def test_names_iteration_and_printing_match_torch() -> None:
    reference, model = _net(torch), _net(tapegrad)
    assert repr(model) == repr(reference)
    assert list(model.state_dict()) == list(reference.state_dict())
    for method in ("named_parameters", "named_buffers", "named_modules", "named_children"):
        assert [n for n, _ in getattr(model, method)()] == \
            [n for n, _ in getattr(reference, method)()], method
    assert [n for n, _ in model.named_parameters(remove_duplicate=False)] == \
        [n for n, _ in reference.named_parameters(remove_duplicate=False)]
    assert len(list(model.parameters())) == len(list(reference.parameters()))
    assert len(list(model.modules())) == len(list(reference.modules()))
    assert [type(m).__name__ for m in model.children()] == \
        [type(m).__name__ for m in reference.children()]
    assert model.get_submodule("blocks.2") is model.blocks[2]
    assert model.get_parameter("heads.a.bias") is model.heads["a"].bias
    for target in ("blocks.9", "scale.x", "heads.a.weight.x"):
        with pytest.raises(AttributeError) as error_t:
            reference.get_submodule(target)
        with pytest.raises(AttributeError) as error_g:
            model.get_submodule(target)
        assert str(error_g.value) == str(error_t.value)


def test_forward_matches_after_loading_torch_weights() -> None:
    reference, model = _net(torch), _net(tapegrad)
    result = model.load_state_dict({k: tapegrad.tensor(v.numpy()) for k, v in
                                    reference.state_dict().items()})
    assert repr(result) == "<All keys matched successfully>"
    inputs = np.random.default_rng(0).standard_normal((2, 1, 5, 5)).astype(np.float32)
    for mode in (True, False):
        reference.train(mode)
        model.train(mode)
        assert all(m.training == mode for m in model.modules())
        ours, theirs = model(tapegrad.tensor(inputs)), reference(torch.tensor(inputs))
        np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=1e-5,
                                   atol=1e-6)
        assert ours.grad_fn.name() == theirs.grad_fn.name()


def test_load_state_dict_strictness_and_errors() -> None:
    reference = torch.nn.Linear(2, 3)
    model = tapegrad.nn.Linear(2, 3)
    state_t = OrderedDict(reference.state_dict())
    state_t.pop("bias")
    state_t["extra"] = torch.zeros(1)
    state_g = OrderedDict((k, tapegrad.tensor(v.numpy())) for k, v in state_t.items())
    with pytest.raises(RuntimeError) as error_t:
        reference.load_state_dict(state_t)
    with pytest.raises(RuntimeError) as error_g:
        model.load_state_dict(state_g)
    assert str(error_g.value) == str(error_t.value)
    result_t = reference.load_state_dict(state_t, strict=False)
    result_g = model.load_state_dict(state_g, strict=False)
    assert result_g.missing_keys == result_t.missing_keys == ["bias"]
    assert result_g.unexpected_keys == result_t.unexpected_keys == ["extra"]
    with pytest.raises(RuntimeError) as error_t:
        reference.load_state_dict({"weight": torch.zeros(3, 3), "bias": torch.zeros(3)})
    with pytest.raises(RuntimeError) as error_g:
        model.load_state_dict({"weight": tapegrad.zeros(3, 3), "bias": tapegrad.zeros(3)})
    assert str(error_g.value) == str(error_t.value)
    weight = model.weight
    model.load_state_dict({"weight": tapegrad.ones(3, 2), "bias": tapegrad.ones(3)})
    assert model.weight is weight and np.all(weight.detach().numpy() == 1)
    state = model.state_dict()
    assert not state["weight"].requires_grad
    state["weight"].numpy()[0, 0] = 5.0  # shares storage, as PyTorch's state_dict
    assert model.weight[0, 0].item() == 5.0
    model.load_state_dict({"weight": tapegrad.zeros(3, 2), "bias": tapegrad.zeros(3)},
                          assign=True)
    assert model.weight is not weight and isinstance(model.weight, tapegrad.nn.Parameter)


def test_registration_errors_match_torch() -> None:
    cases = [
        lambda lib, m: setattr(m, "weight", lib.zeros(3, 2)),
        lambda lib, m: m.register_buffer("a.b", lib.zeros(1)),
        lambda lib, m: m.register_buffer("weight", lib.zeros(1)),
        lambda lib, m: m.register_parameter("p", lib.zeros(1)),
        lambda lib, m: m.add_module("child", 3),
        lambda lib, m: m.register_parameter("", None),
        lambda lib, m: m.train("yes"),
        lambda lib, m: m.missing,
    ]
    for case in cases:
        with pytest.raises(Exception) as error_t:
            case(torch, torch.nn.Linear(2, 3))
        with pytest.raises(Exception) as error_g:
            case(tapegrad, tapegrad.nn.Linear(2, 3))
        assert type(error_g.value) is type(error_t.value)
        assert str(error_g.value) == str(error_t.value)


def test_module_utilities() -> None:
    model = tapegrad.nn.Sequential(tapegrad.nn.Linear(2, 3), tapegrad.nn.ReLU())
    model.requires_grad_(False)
    assert not any(p.requires_grad for p in model.parameters())
    model.requires_grad_()
    model(tapegrad.ones(1, 2)).sum().backward()
    model.zero_grad(set_to_none=False)
    assert np.all(model[0].weight.grad.numpy() == 0)
    model.zero_grad()
    assert model[0].weight.grad is None
    visited = []
    model.apply(lambda m: visited.append(type(m).__name__))
    assert visited == ["Linear", "ReLU", "Sequential"]
    weight = model[0].weight
    model.double()
    assert model[0].weight is weight and weight.dtype == tapegrad.float64
    model.to(tapegrad.float32)
    assert weight.dtype == tapegrad.float32
    model.float()
    del model[1]
    assert len(model) == 1
    model.append(tapegrad.nn.Tanh()).insert(0, tapegrad.nn.Identity())
    assert [type(m).__name__ for m in model] == ["Identity", "Linear", "Tanh"]
    assert list(model._modules) == ["0", "1", "2"]
    assert isinstance(model[1:], tapegrad.nn.Sequential) and len(model[1:]) == 2
    model.extend([tapegrad.nn.ReLU()])
    assert len(model) == 4 and type(model[-1]).__name__ == "ReLU"
    with pytest.raises(IndexError, match="index 9 is out of range"):
        model[9]


def test_forward_hooks() -> None:
    model = tapegrad.nn.Linear(2, 2)
    calls = []
    handle_pre = model.register_forward_pre_hook(lambda m, args: (args[0] * 2,))
    handle = model.register_forward_hook(lambda m, args, output: output + 1)
    model.register_forward_hook(lambda m, args, output: calls.append("first"), prepend=True)
    inputs = tapegrad.ones(1, 2)
    expected = inputs * 2 @ model.weight.t() + model.bias + 1
    np.testing.assert_allclose(model(inputs).detach().numpy(), expected.detach().numpy())
    assert calls == ["first"]
    handle_pre.remove()
    handle.remove()
    expected = inputs @ model.weight.t() + model.bias
    np.testing.assert_allclose(model(inputs).detach().numpy(), expected.detach().numpy())


def test_full_backward_hooks_match_torch() -> None:
    records = {}
    for lib in (torch, tapegrad):
        torch.manual_seed(0)
        layer = lib.nn.Bilinear(2, 3, 2)
        if lib is tapegrad:
            layer.load_state_dict({k: tapegrad.tensor(v.numpy()) for k, v in
                                   records["torch"]["state"].items()})
        log = []

        def pre_hook(module, grad_output, log=log):
            log.append(("pre", [g.numpy().copy() for g in grad_output]))
            return (grad_output[0] * 3,)

        def hook(module, grad_input, grad_output, log=log):
            log.append(("post", [None if g is None else g.numpy().copy() for g in grad_input],
                        [g.numpy().copy() for g in grad_output]))
            return (grad_input[0] * 10, grad_input[1])

        layer.register_full_backward_pre_hook(pre_hook)
        layer.register_full_backward_hook(hook)
        first = lib.tensor([[1.0, -2.0]], requires_grad=True)
        second = lib.tensor([[0.5, 1.0, 2.0]], requires_grad=True)
        output = layer(first, second)
        (output ** 2).sum().backward()
        records[lib.__name__] = {"state": layer.state_dict(), "log": log, "node": output.grad_fn,
                                 "grads": [first.grad.numpy(), second.grad.numpy()]}
    log_t, log_g = records["torch"]["log"], records["tapegrad"]["log"]
    # The hooks wrap the output in a BackwardHookFunction node, under the same name.
    assert records["tapegrad"]["node"].name() == records["torch"]["node"].name()
    assert [entry[0] for entry in log_g] == [entry[0] for entry in log_t] == ["pre", "post"]
    for entry_t, entry_g in zip(log_t, log_g):
        for part_t, part_g in zip(entry_t[1:], entry_g[1:]):
            for value_t, value_g in zip(part_t, part_g):
                np.testing.assert_allclose(value_g, value_t, rtol=1e-5)
    for grad_t, grad_g in zip(records["torch"]["grads"], records["tapegrad"]["grads"]):
        np.testing.assert_allclose(grad_g, grad_t, rtol=1e-5)


def test_backward_hook_when_no_input_requires_grad() -> None:
    seen = []
    layer = tapegrad.nn.Linear(2, 1)
    layer.register_full_backward_hook(lambda m, gi, go: seen.append((gi, go[0].shape)))
    layer(tapegrad.ones(3, 2)).sum().backward()
    assert seen == [((None,), (3, 1))]
    assert layer.weight.grad is not None
