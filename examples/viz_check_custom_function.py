"""check_graph finds the node whose backward rule is wrong, here in a custom autograd.Function.

Run: python examples/viz_check_custom_function.py
"""

import tapegrad as torch
from tapegrad import viz


class Softplus(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return (x.exp() + 1).log()

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * x.exp()  # a typo: the derivative is exp(x) / (1 + exp(x)) = sigmoid(x)


x = torch.tensor([-1.0, 0.5, 2.0], requires_grad=True)
loss = (Softplus.apply(x * 2) ** 2).sum()
report = viz.check_graph(loss)
print(report)
for failure in report.failures:
    print(f"wrong rule: {failure.name} (autograd.Function {failure.function})")
