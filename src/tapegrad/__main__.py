"""``python -m tapegrad demo``: a short walkthrough of what the seed tutorials teach."""

from __future__ import annotations

import sys


def demo() -> None:
    import tapegrad as torch

    print("tapegrad", torch.__version__, "- PyTorch's autograd on NumPy\n")

    print("1. First and second derivatives of y = x**3 at x = 2")
    x = torch.tensor(2.0, requires_grad=True)
    y = x**3
    (dy_dx,) = torch.autograd.grad(y, x, create_graph=True)
    (d2y_dx2,) = torch.autograd.grad(dy_dx, x)
    print("   y      =", y)
    print("   dy/dx  =", dy_dx, "  (3x^2 = 12)")
    print("   d2y/dx2 =", d2y_dx2, "  (6x = 12)\n")

    print("2. A non-scalar backward: y = x * x with gradient=ones")
    x = torch.tensor([[0.0, 1.0], [2.0, 3.0]], requires_grad=True)
    y = x * x
    y.backward(gradient=torch.ones_like(y))
    print("   x.grad =", x.grad, "\n")

    print("3. Minimise f(x) = x**2 - 2x + 1 with optim.SGD")
    x = torch.tensor(0.0, requires_grad=True)
    optimizer = torch.optim.SGD([x], lr=0.1)
    for _ in range(100):
        optimizer.zero_grad()
        loss = x**2 - 2 * x + 1
        loss.backward()
        optimizer.step()
    print(f"   x = {x.item():.4f} (the minimum is at 1), f(x) = {(x**2 - 2 * x + 1).item():.6f}\n")

    print("4. Fit a line y = 3x + 2 with a dynamic graph (a fresh graph every step)")
    torch.manual_seed(0)
    inputs = torch.linspace(-1, 1, 50).reshape(50, 1)
    targets = 3 * inputs + 2 + 0.1 * torch.randn(50, 1)
    weight = torch.zeros(1, 1, requires_grad=True)
    bias = torch.zeros(1, requires_grad=True)
    optimizer = torch.optim.SGD([weight, bias], lr=0.5)
    for step in range(200):
        optimizer.zero_grad()
        prediction = inputs @ weight + bias
        loss = ((prediction - targets) ** 2).mean()
        loss.backward()
        optimizer.step()
        if step in (0, 199):
            print(f"   step {step:3d}: loss = {loss.item():.5f}")
    print(f"   learned: y = {weight.item():.3f} x + {bias.item():.3f}")
    print("   the last loss was", loss, "\n")

    print("5. Differentiating through Python control flow")
    a = torch.tensor(0.7, requires_grad=True)
    b = a * 2
    while b.norm() < 1000:
        b = b * 2
    c = b if b.sum() > 0 else 100 * b
    c.backward()
    print(f"   d = {c.item():.1f}; d(d)/da = {a.grad.item():.1f} = d / a = {(c / a).item():.1f}")
    demo_pictures()
    demo_training()


def demo_pictures(directory: str = "demo_output") -> list[str]:
    """Pictures of the demo: the linear-regression graph, a function with its autograd
    derivatives, and the training curve, written into ``directory``."""
    import os

    import tapegrad as torch
    from tapegrad import viz

    print("\n6. Pictures (tapegrad.viz)")
    os.makedirs(directory, exist_ok=True)
    torch.manual_seed(0)
    inputs = torch.linspace(-1, 1, 50).reshape(50, 1)
    targets = 3 * inputs + 2 + 0.1 * torch.randn(50, 1)
    weight = torch.zeros(1, 1, requires_grad=True)
    bias = torch.zeros(1, requires_grad=True)
    optimizer = torch.optim.SGD([weight, bias], lr=0.5)
    history = []
    for _ in range(60):
        optimizer.zero_grad()
        loss = ((inputs @ weight + bias - targets) ** 2).mean()
        loss.backward()
        optimizer.step()
        history.append(loss.item())
    loss = ((inputs @ weight + bias - targets) ** 2).mean()
    params = {"weight": weight, "bias": bias}
    graph = viz.draw_graph(loss, params=params, show_saved=True)
    paths = [graph.save(os.path.join(directory, "linear_regression_graph.svg")),
             graph.save(os.path.join(directory, "linear_regression_graph.html")),
             graph.save(os.path.join(directory, "linear_regression_graph.dot"))]
    trace = viz.trace_backward(loss, params=params)
    paths.append(trace.save(os.path.join(directory, "linear_regression_backward.html")))
    curve = viz.plot_function(lambda x: torch.tanh(2 * x) * x, (-3, 3),
                              title="f(x) = x tanh(2x) with f' and f'' by autograd")
    paths.append(curve.save(os.path.join(directory, "function_and_derivatives.html")))
    paths.append(curve.save(os.path.join(directory, "function_and_derivatives.svg")))
    losses = viz.plot_losses(history, title="linear regression: training loss", logy=True)
    paths.append(losses.save(os.path.join(directory, "training_curve.html")))
    for path in paths:
        print("   wrote", path)
    return paths


def spiral_dataset(points_per_class: int = 200, classes: int = 3, seed: int = 0) -> tuple:
    """The embedded dataset of the training demo: interleaved noisy spiral arms in the plane,
    one class per arm, generated from a fixed seed (nothing is downloaded)."""
    import numpy as np

    import tapegrad as torch

    rng = np.random.default_rng(seed)
    radius = np.tile(np.linspace(0.05, 1.0, points_per_class), classes)
    labels = np.repeat(np.arange(classes), points_per_class)
    angle = (labels * 2 * np.pi / classes + radius * 4.0
             + rng.normal(0, 0.15, points_per_class * classes))
    points = np.stack([radius * np.sin(angle), radius * np.cos(angle)], axis=1)
    return torch.tensor(points, dtype=torch.float32), torch.tensor(labels)


def make_classifier(classes: int = 3) -> object:
    import tapegrad as torch

    nn = torch.nn
    return nn.Sequential(nn.Linear(2, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(),
                         nn.Linear(64, classes))


def accuracy(model: object, inputs: object, labels: object) -> float:
    import tapegrad as torch

    model.eval()
    with torch.no_grad():
        predicted = model(inputs).argmax(dim=1)
    return (predicted == labels).float().mean().item()


def train_classifier(epochs: int = 40, seed: int = 0, progress: bool = True) -> tuple:
    """Train the demo MLP on the spirals with Adam, minibatches from a seeded DataLoader;
    returns (model, inputs, labels)."""
    import tapegrad as torch
    from tapegrad.utils.data import DataLoader, TensorDataset

    torch.manual_seed(seed)
    inputs, labels = spiral_dataset(seed=seed)
    model = make_classifier()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=15, gamma=0.5)
    loss_function = torch.nn.CrossEntropyLoss()
    loader = DataLoader(TensorDataset(inputs, labels), batch_size=32, shuffle=True,
                        generator=torch.Generator().manual_seed(seed))
    try:
        from tqdm import tqdm
    except ImportError:  # the optional 'demo' extra is not installed: print instead
        tqdm = None
    bar = tqdm(range(epochs), desc="   training", ncols=80) if progress and tqdm else None
    for epoch in bar if bar is not None else range(epochs):
        model.train()
        total = 0.0
        for batch_inputs, batch_labels in loader:
            optimizer.zero_grad()
            loss = loss_function(model(batch_inputs), batch_labels)
            loss.backward()
            optimizer.step()
            total += loss.item() * len(batch_labels)
        scheduler.step()
        mean_loss = total / len(labels)
        if bar is not None:
            bar.set_postfix(loss=f"{mean_loss:.4f}")
        elif progress and (epoch % 10 == 9 or epoch == 0):
            print(f"   epoch {epoch + 1:3d}/{epochs}: loss {mean_loss:.4f}")
    return model, inputs, labels


def demo_training() -> None:
    """Train a small MLP, report accuracy, save and reload it with tapegrad.save/load."""
    import os
    import tempfile

    import tapegrad as torch

    print("\n7. Train an MLP (nn, optim.Adam, DataLoader) on an embedded 3-class spiral dataset")
    model, inputs, labels = train_classifier()
    trained = accuracy(model, inputs, labels)
    print(f"   accuracy after training: {trained:.1%}")
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "spiral_mlp.safetensors")
        torch.save(model.state_dict(), path)
        reloaded = make_classifier()
        reloaded.load_state_dict(torch.load(path))
        print(f"   saved {os.path.getsize(path)} bytes with tapegrad.save (safetensors layout)")
    print(f"   reloaded with tapegrad.load: accuracy {accuracy(reloaded, inputs, labels):.1%}")


def main(argv: list[str]) -> int:
    if argv[:1] == ["demo"] or not argv:
        demo()
        return 0
    print("usage: python -m tapegrad demo", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
