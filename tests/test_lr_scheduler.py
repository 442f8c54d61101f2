"""Learning-rate schedulers against PyTorch: 50 steps of an optimizer driven by each scheduler
give the same learning rates and parameters, also across a state_dict round trip."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import tapegrad


def _make(lib, name: str, optimizer, **extra):
    schedulers = lib.optim.lr_scheduler
    builders = {
        "StepLR": lambda: schedulers.StepLR(optimizer, step_size=7, gamma=0.5),
        "MultiStepLR": lambda: schedulers.MultiStepLR(optimizer, [5, 12, 12, 30], gamma=0.3),
        "ExponentialLR": lambda: schedulers.ExponentialLR(optimizer, gamma=0.95),
        "CosineAnnealingLR": lambda: schedulers.CosineAnnealingLR(optimizer, T_max=12,
                                                                  eta_min=0.001),
        "CosineAnnealingWarmRestarts": lambda: schedulers.CosineAnnealingWarmRestarts(
            optimizer, T_0=5, T_mult=2, eta_min=0.01),
        "LambdaLR": lambda: schedulers.LambdaLR(optimizer, lambda epoch: 1 / (1 + epoch)),
        "MultiplicativeLR": lambda: schedulers.MultiplicativeLR(optimizer, lambda e: 0.97),
        "LinearLR": lambda: schedulers.LinearLR(optimizer, start_factor=0.2, total_iters=10),
        "ConstantLR": lambda: schedulers.ConstantLR(optimizer, factor=0.5, total_iters=8),
        "PolynomialLR": lambda: schedulers.PolynomialLR(optimizer, total_iters=30, power=2.0),
        "OneCycleLR": lambda: schedulers.OneCycleLR(optimizer, max_lr=0.5, total_steps=60),
        "OneCycleLR-3": lambda: schedulers.OneCycleLR(optimizer, max_lr=0.5, total_steps=60,
                                                      three_phase=True,
                                                      anneal_strategy="linear"),
        "CyclicLR": lambda: schedulers.CyclicLR(optimizer, 0.01, 0.3, step_size_up=6,
                                                mode="triangular2"),
        "CyclicLR-exp": lambda: schedulers.CyclicLR(optimizer, 0.01, 0.3, step_size_up=4,
                                                    step_size_down=7, mode="exp_range",
                                                    gamma=0.97),
        "SequentialLR": lambda: schedulers.SequentialLR(
            optimizer, [schedulers.LinearLR(optimizer, start_factor=0.1, total_iters=5),
                        schedulers.ExponentialLR(optimizer, gamma=0.9)], milestones=[5]),
        "ChainedScheduler": lambda: schedulers.ChainedScheduler(
            [schedulers.ConstantLR(optimizer, factor=0.5, total_iters=4),
             schedulers.ExponentialLR(optimizer, gamma=0.9)]),
    }
    return builders[name]()


NAMES = ["StepLR", "MultiStepLR", "ExponentialLR", "CosineAnnealingLR",
         "CosineAnnealingWarmRestarts", "LambdaLR", "MultiplicativeLR", "LinearLR", "ConstantLR",
         "PolynomialLR", "OneCycleLR", "OneCycleLR-3", "CyclicLR", "CyclicLR-exp",
         "SequentialLR", "ChainedScheduler"]


def _setup(lib):
    rng = np.random.default_rng(0)
    weight = lib.tensor(rng.standard_normal((4, 3)).astype(np.float32), requires_grad=True)
    inputs = lib.tensor(rng.standard_normal((8, 4)).astype(np.float32))
    optimizer = lib.optim.SGD([weight], lr=0.1, momentum=0.9)
    return weight, inputs, optimizer


@pytest.mark.parametrize("name", NAMES)
def test_scheduler_matches_torch(name: str) -> None:
    runs = {}
    for lib in (torch, tapegrad):
        weight, inputs, optimizer = _setup(lib)
        scheduler = _make(lib, name, optimizer)
        lrs = [scheduler.get_last_lr()]
        momenta = []
        for step in range(50):
            optimizer.zero_grad()
            ((inputs @ weight).tanh() ** 2).mean().backward()
            optimizer.step()
            scheduler.step()
            lrs.append(scheduler.get_last_lr())
            momenta.append(optimizer.param_groups[0]["momentum"])
            if step == 20 and name not in ("LambdaLR", "MultiplicativeLR"):
                # Restore a new scheduler from the old one's state (PyTorch's protocol).
                state = scheduler.state_dict()
                scheduler = _make(lib, name, optimizer)
                scheduler.load_state_dict(state)
        runs[lib.__name__] = (lrs, momenta, weight.detach().numpy())
    np.testing.assert_allclose(runs["tapegrad"][0], runs["torch"][0], rtol=1e-12)
    np.testing.assert_allclose(runs["tapegrad"][1], runs["torch"][1], rtol=1e-12)
    np.testing.assert_allclose(runs["tapegrad"][2], runs["torch"][2], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("mode,threshold_mode", [("min", "rel"), ("max", "abs")])
def test_reduce_lr_on_plateau(mode: str, threshold_mode: str) -> None:
    metrics = [1.0, 0.9, 0.95, 0.93, 0.96, 0.97, 0.5, 0.6, 0.6, 0.7, 0.8, 0.7, 0.9, 0.9] * 3
    lrs = {}
    for lib in (torch, tapegrad):
        _, _, optimizer = _setup(lib)
        scheduler = lib.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, mode=mode, factor=0.5, patience=2, cooldown=1, min_lr=0.002,
            threshold_mode=threshold_mode)
        history = []
        for index, metric in enumerate(metrics):
            scheduler.step(metric)
            history.append(scheduler.get_last_lr()[0])
            if index == 10:
                state = scheduler.state_dict()
                scheduler = lib.optim.lr_scheduler.ReduceLROnPlateau(optimizer)
                scheduler.load_state_dict(state)
        lrs[lib.__name__] = history
    assert lrs["tapegrad"] == lrs["torch"]


def test_state_dict_keys_and_errors() -> None:
    _, _, optimizer_t = _setup(torch)
    _, _, optimizer_g = _setup(tapegrad)
    for builder in (lambda lib, o: lib.optim.lr_scheduler.StepLR(o, 3),
                    lambda lib, o: lib.optim.lr_scheduler.CosineAnnealingLR(o, 10)):
        assert sorted(builder(tapegrad, optimizer_g).state_dict()) == \
            sorted(builder(torch, optimizer_t).state_dict())
    with pytest.raises(KeyError, match="initial_lr"):
        _, _, fresh = _setup(tapegrad)
        tapegrad.optim.lr_scheduler.StepLR(fresh, 3, last_epoch=4)
    with pytest.raises(TypeError, match="is not an Optimizer"):
        tapegrad.optim.lr_scheduler.StepLR(object(), 3)
    with pytest.raises(ValueError, match="Factor should be < 1.0"):
        tapegrad.optim.lr_scheduler.ReduceLROnPlateau(optimizer_g, factor=2.0)
