"""tapegrad.viz: pictures of the recorded graph, a backward trace, per-op checks and plots."""

from ._check import GraphCheck, InputCheck, NodeCheck, check_graph
from ._graph import Graph, GraphEdge, GraphNode, draw_graph
from ._plot import Plot, plot_function, plot_losses
from ._trace import BackwardStep, BackwardTrace, trace_backward

__all__ = ["Graph", "GraphEdge", "GraphNode", "draw_graph", "BackwardStep", "BackwardTrace",
           "trace_backward", "GraphCheck", "InputCheck", "NodeCheck", "check_graph", "Plot",
           "plot_function", "plot_losses"]
