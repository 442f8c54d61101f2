"""Optimizers against PyTorch: 50 steps on the same model and data give the same parameters
(float32), also across a state_dict round trip (through tapegrad.save/load) in the middle;
param_groups, state structure and errors follow PyTorch."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch

import tapegrad

CONFIGS = [
    ("SGD", {"lr": 0.1}),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 1e-2}),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "dampening": 0.1, "maximize": True}),
    ("Adam", {"lr": 1e-2}),
    ("Adam", {"lr": 1e-2, "amsgrad": True, "weight_decay": 0.1}),
    ("Adam", {"lr": 1e-2, "maximize": True, "betas": (0.8, 0.99)}),
    ("AdamW", {"lr": 1e-2}),
    ("AdamW", {"lr": 1e-2, "amsgrad": True, "weight_decay": 0.3}),
    ("RMSprop", {"lr": 1e-2}),
    ("RMSprop", {"lr": 1e-2, "centered": True, "momentum": 0.5, "weight_decay": 0.1}),
    ("Adagrad", {"lr": 0.1}),
    ("Adagrad", {"lr": 0.1, "lr_decay": 0.01, "initial_accumulator_value": 0.1,
                 "weight_decay": 0.1}),
    ("Adadelta", {"lr": 1.0}),
    ("Adadelta", {"lr": 0.5, "rho": 0.8, "weight_decay": 0.1, "maximize": True}),
    ("Adamax", {"lr": 1e-2}),
    ("Adamax", {"lr": 1e-2, "weight_decay": 0.1}),
    ("NAdam", {"lr": 1e-2}),
    ("NAdam", {"lr": 5e-3, "weight_decay": 0.1, "momentum_decay": 0.01}),
    ("NAdam", {"lr": 1e-2, "weight_decay": 0.1, "decoupled_weight_decay": True}),
    ("RAdam", {"lr": 1e-2}),
    ("RAdam", {"lr": 1e-2, "weight_decay": 0.1, "decoupled_weight_decay": True}),
]


def _models(dtype: str = "float32") -> tuple:
    torch.manual_seed(0)
    reference = torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.Tanh(), torch.nn.Linear(8, 2))
    model = tapegrad.nn.Sequential(tapegrad.nn.Linear(3, 8), tapegrad.nn.Tanh(),
                                   tapegrad.nn.Linear(8, 2))
    reference.to(getattr(torch, dtype))
    model.to(getattr(tapegrad, dtype))
    model.load_state_dict({k: tapegrad.tensor(v.numpy()) for k, v in
                           reference.state_dict().items()})
    return reference, model


def _data(dtype: str = "float32") -> tuple:
    rng = np.random.default_rng(0)
    inputs = rng.standard_normal((16, 3)).astype(dtype)
    targets = rng.standard_normal((16, 2)).astype(dtype)
    return inputs, targets


def _loss(lib, model, inputs, targets, sign: float = 1.0):
    return sign * ((model(lib.tensor(inputs)) - lib.tensor(targets)) ** 2).mean()


def _round_trip(state: dict) -> dict:
    buffer = io.BytesIO()
    tapegrad.save(state, buffer)
    return tapegrad.load(io.BytesIO(buffer.getvalue()))


def _assert_same_params(model, reference, rtol: float = 1e-4, atol: float = 1e-5) -> None:
    for (name, param_t), param_g in zip(reference.named_parameters(), model.parameters()):
        np.testing.assert_allclose(param_g.detach().numpy(), param_t.detach().numpy(),
                                   rtol=rtol, atol=atol, err_msg=name)


# float64 checks the update formulas and their order to 1e-10; float32 checks that the
# trajectories agree to float32 rounding (rounding noise can grow where a second-moment
# estimate is near zero, so float32 is compared to 1e-4 relative).
TOLERANCES = {"float64": (1e-10, 1e-12), "float32": (1e-4, 1e-5)}


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name,options", CONFIGS, ids=[f"{n}-{o}" for n, o in CONFIGS])
def test_fifty_steps_match_torch(name: str, options: dict, dtype: str) -> None:
    reference, model = _models(dtype)
    inputs, targets = _data(dtype)
    # With maximize, the objective is the negated loss, so that both runs stay bounded.
    sign = -1.0 if options.get("maximize") else 1.0
    optimizer_t = getattr(torch.optim, name)(reference.parameters(), **options)
    optimizer_g = getattr(tapegrad.optim, name)(model.parameters(), **options)
    for step in range(50):
        for lib, net, optimizer in ((torch, reference, optimizer_t),
                                    (tapegrad, model, optimizer_g)):
            optimizer.zero_grad()
            _loss(lib, net, inputs, targets, sign).backward()
            optimizer.step()
        if step == 24:
            # A fresh optimizer restored from the saved state continues the same trajectory.
            state_t = optimizer_t.state_dict()
            state_g = optimizer_g.state_dict()
            assert state_g["param_groups"] == state_t["param_groups"]
            assert list(state_g["state"]) == list(state_t["state"])
            for index, values in state_t["state"].items():
                assert list(state_g["state"][index]) == list(values)
                for key, value in values.items():
                    if isinstance(value, torch.Tensor):
                        assert state_g["state"][index][key].dtype.name == \
                            str(value.dtype).split(".")[1]
            optimizer_g = getattr(tapegrad.optim, name)(model.parameters(), **options)
            optimizer_g.load_state_dict(_round_trip(state_g))
    _assert_same_params(model, reference, *TOLERANCES[dtype])


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("line_search_fn", [None, "strong_wolfe"])
def test_lbfgs_matches_torch(line_search_fn, dtype: str) -> None:
    # A least-squares fit (convex), so that the two runs cannot drift apart chaotically.
    torch.manual_seed(0)
    reference = torch.nn.Linear(3, 2).to(getattr(torch, dtype))
    model = tapegrad.nn.Linear(3, 2).to(getattr(tapegrad, dtype))
    model.load_state_dict({k: tapegrad.tensor(v.numpy()) for k, v in
                           reference.state_dict().items()})
    inputs, targets = _data(dtype)
    options = {"lr": 0.5 if line_search_fn is None else 1, "max_iter": 3, "history_size": 5,
               "line_search_fn": line_search_fn}
    optimizer_t = torch.optim.LBFGS(reference.parameters(), **options)
    optimizer_g = tapegrad.optim.LBFGS(model.parameters(), **options)
    for _ in range(50):
        for lib, net, optimizer in ((torch, reference, optimizer_t),
                                    (tapegrad, model, optimizer_g)):
            def closure(lib=lib, net=net, optimizer=optimizer):
                optimizer.zero_grad()
                loss = _loss(lib, net, inputs, targets)
                loss.backward()
                return loss

            optimizer.step(closure)
    assert optimizer_g.state_dict()["state"][0]["func_evals"] == \
        optimizer_t.state_dict()["state"][0]["func_evals"]
    _assert_same_params(model, reference, *TOLERANCES[dtype])


def test_param_groups_per_group_options_and_add_param_group() -> None:
    reference, model = _models()
    inputs, targets = _data()
    groups_t = [{"params": reference[0].parameters()},
                {"params": reference[2].parameters(), "lr": 0.01, "betas": (0.5, 0.9)}]
    groups_g = [{"params": model[0].parameters()},
                {"params": model[2].parameters(), "lr": 0.01, "betas": (0.5, 0.9)}]
    optimizer_t = torch.optim.Adam(groups_t[:1], lr=0.1)
    optimizer_g = tapegrad.optim.Adam(groups_g[:1], lr=0.1)
    optimizer_t.add_param_group(groups_t[1])
    optimizer_g.add_param_group(groups_g[1])
    assert [{k: v for k, v in g.items() if k != "params"} for g in optimizer_g.param_groups] == \
        [{k: v for k, v in g.items() if k != "params"} for g in optimizer_t.param_groups]
    for _ in range(10):
        for lib, net, optimizer in ((torch, reference, optimizer_t),
                                    (tapegrad, model, optimizer_g)):
            optimizer.zero_grad()
            _loss(lib, net, inputs, targets).backward()
            optimizer.step()
    _assert_same_params(model, reference)
    with pytest.raises(ValueError, match="more than one parameter group"):
        optimizer_g.add_param_group({"params": model[0].weight})


def test_zero_grad_and_errors() -> None:
    _, model = _models()
    optimizer = tapegrad.optim.SGD(model.parameters(), lr=0.1)
    _loss(tapegrad, model, *_data()).backward()
    optimizer.zero_grad(set_to_none=False)
    assert all(np.all(p.grad.numpy() == 0) for p in model.parameters())
    optimizer.zero_grad()
    assert all(p.grad is None for p in model.parameters())
    with pytest.raises(ValueError, match="Invalid learning rate"):
        tapegrad.optim.Adam(model.parameters(), lr=-1)
    with pytest.raises(ValueError, match="Invalid beta parameter at index 1"):
        tapegrad.optim.Adam(model.parameters(), betas=(0.9, 1.0))
    with pytest.raises(ValueError, match="empty parameter list"):
        tapegrad.optim.RMSprop([])
    with pytest.raises(TypeError, match="iterable of Tensors or dicts"):
        tapegrad.optim.Adagrad(model[0].weight)


def test_clip_grad_and_vector_conversion() -> None:
    reference, model = _models()
    inputs, targets = _data()
    for lib, net in ((torch, reference), (tapegrad, model)):
        (_loss(lib, net, inputs, targets) * 100).backward()
    for norm_type in (2.0, 1.0, float("inf")):
        total_t = torch.nn.utils.clip_grad_norm_(reference.parameters(), 0.5, norm_type)
        total_g = tapegrad.nn.utils.clip_grad_norm_(model.parameters(), 0.5, norm_type)
        np.testing.assert_allclose(total_g.item(), total_t.item(), rtol=1e-5)
        for param_t, param_g in zip(reference.parameters(), model.parameters()):
            np.testing.assert_allclose(param_g.grad.numpy(), param_t.grad.numpy(), rtol=1e-5,
                                       atol=1e-7)
    torch.nn.utils.clip_grad_value_(reference.parameters(), 0.01)
    tapegrad.nn.utils.clip_grad_value_(model.parameters(), 0.01)
    for param_t, param_g in zip(reference.parameters(), model.parameters()):
        np.testing.assert_allclose(param_g.grad.numpy(), param_t.grad.numpy(), rtol=1e-6,
                                   atol=1e-8)
    model[0].weight.grad[0, 0] = float("nan")
    with pytest.raises(RuntimeError, match="non-finite"):
        tapegrad.nn.utils.clip_grad_norm_(model.parameters(), 1.0, error_if_nonfinite=True)
    vector = tapegrad.nn.utils.parameters_to_vector(model.parameters())
    expected = torch.nn.utils.parameters_to_vector(reference.parameters())
    np.testing.assert_allclose(vector.detach().numpy(), expected.detach().numpy(), rtol=1e-6)
    tapegrad.nn.utils.vector_to_parameters(vector.detach() * 0 + 1, model.parameters())
    assert all(np.all(p.detach().numpy() == 1) for p in model.parameters())
    assert model[0].weight.shape == (8, 3)


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta",
                                  "Adamax", "NAdam", "RAdam"])
def test_diverging_step_overflows_without_warnings_as_torch(name: str) -> None:
    """A step that overflows float32 gives inf/nan as PyTorch's does, and, as PyTorch, no
    NumPy RuntimeWarning (an error under warnings-as-errors test settings)."""
    import warnings

    results = []
    for lib in (tapegrad, torch):
        param = lib.tensor([3e38, 1.0, -2.0], requires_grad=True)
        optimizer = getattr(lib.optim, name)([param], lr=1.0)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            for _ in range(2):
                optimizer.zero_grad()
                (param * -3e38).sum().backward()
                optimizer.step()
        results.append(param.detach().numpy().copy())
    np.testing.assert_allclose(results[0], results[1], rtol=1e-5, equal_nan=True)

