"""A function with its first and second derivatives (by autograd), and a training curve.

Run: python examples/viz_plots.py  (HTML with plotly when installed: pip install 'tapegrad[viz]';
tapegrad's own SVG plot otherwise)
"""

import os

import tapegrad as torch
from tapegrad import viz

os.makedirs("viz_output", exist_ok=True)
curve = viz.plot_function(lambda x: torch.sin(x) * x, (-6, 6))
print(curve, curve.save("viz_output/x_sin_x.html"), curve.save("viz_output/x_sin_x.svg"))

w = torch.tensor(5.0, requires_grad=True)
optimizer = torch.optim.SGD([w], lr=0.1)
history = []
for _ in range(50):
    optimizer.zero_grad()
    loss = (w - 1) ** 2
    loss.backward()
    optimizer.step()
    history.append(loss.item())
print(viz.plot_losses(history, logy=True).save("viz_output/loss.html"))
