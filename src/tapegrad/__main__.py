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


def main(argv: list[str]) -> int:
    if argv[:1] == ["demo"] or not argv:
        demo()
        return 0
    print("usage: python -m tapegrad demo", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
