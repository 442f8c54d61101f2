"""See the graph of a small MLP loss, then watch backward run through it step by step.

Run: python examples/viz_graph_and_trace.py  (writes viz_output/*.svg|html and prints the trace)
"""

import os

import tapegrad as torch
from tapegrad import viz

os.makedirs("viz_output", exist_ok=True)
torch.manual_seed(0)
inputs, targets = torch.randn(16, 3), torch.randn(16, 1)
params = {"w1": torch.randn(3, 8, requires_grad=True), "b1": torch.zeros(8, requires_grad=True),
          "w2": torch.randn(8, 1, requires_grad=True)}
hidden = (inputs @ params["w1"] + params["b1"]).relu()
loss = ((hidden @ params["w2"] - targets) ** 2).sum() / 16

graph = viz.draw_graph(loss, params=params, show_saved=True)
print("graph:", graph.save("viz_output/mlp_graph.svg"), graph.save("viz_output/mlp_graph.html"))
print(graph.to_dot())

trace = viz.trace_backward(loss, params=params)
print(trace)
print("stepper:", trace.save("viz_output/mlp_backward.html"))
