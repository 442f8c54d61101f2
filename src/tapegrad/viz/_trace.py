"""trace_backward: run backward and record, node by node, the gradients that flowed."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any
from xml.sax.saxutils import escape

from .._tensor import Tensor
from ..autograd.graph import AccumulateGrad, Node
from . import _html
from ._format import tensor_summary
from ._graph import Graph, draw_graph, render_svg
from ._nodes import input_names, node_label, walk


@dataclass
class BackwardStep:
    """One node run by the engine: the gradients it received and the ones it sent on.

    ``outgoing`` holds, per input edge, ``(input name, next node or None, gradient)``; the
    gradient is what the next node receives from this one (broadcasting already undone, as the
    engine does at the node boundary), None for inputs that need no gradient.
    """

    index: int
    node: Node
    incoming: tuple
    outgoing: list
    accumulated: Tensor | None = None  # an AccumulateGrad's leaf .grad right after the step

    @property
    def name(self) -> str:
        return node_label(self.node)


@dataclass
class BackwardTrace:
    """The steps of one backward pass, in the engine's order (newest node first)."""

    steps: list[BackwardStep]
    graph: Graph
    leaf_names: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.steps)

    def __iter__(self):
        return iter(self.steps)

    def __getitem__(self, index: int) -> BackwardStep:
        return self.steps[index]

    def _leaf_name(self, node: AccumulateGrad) -> str:
        return self.leaf_names.get(id(node.variable), "leaf")

    def rows(self, limit: int = 48) -> list[tuple[str, str, str, str]]:
        """(step, rule, gradient in, gradient out) lines of the table."""
        rows = []
        for step in self.steps:
            incoming = [tensor_summary(grad, limit, dtype=False) if grad is not None else "None"
                        for grad in step.incoming] or ["None"]
            if isinstance(step.node, AccumulateGrad):
                outgoing = [f"{self._leaf_name(step.node)}.grad = "
                            + tensor_summary(step.accumulated, limit, dtype=False)]
            else:
                outgoing = []
                for name, child, grad in step.outgoing:
                    if child is None:
                        outgoing.append(f"{name}: no gradient (needs none)")
                        continue
                    value = tensor_summary(grad, limit, dtype=False) if grad is not None \
                        else "None"
                    outgoing.append(f"{name} -> {node_label(child)}: {value}")
            for line in range(max(len(incoming), len(outgoing), 1)):
                rows.append((str(step.index + 1) if line == 0 else "",
                             step.name if line == 0 else "",
                             incoming[line] if line < len(incoming) else "",
                             outgoing[line] if line < len(outgoing) else ""))
        return rows

    def __str__(self) -> str:
        header = ("step", "rule (node)", "grad in", "grads out")
        rows = self.rows()
        widths = [max(len(row[column]) for row in [header, *rows]) for column in range(3)]
        lines = []
        for row in [header, *rows]:
            lines.append("  ".join(cell.ljust(width) if column else cell.rjust(width)
                                   for column, (cell, width) in enumerate(zip(row, widths)))
                         + "  " + row[3])
            if row is header:
                lines.append("-" * (sum(widths) + 6 + len("grads out")))
        return "\n".join(line.rstrip() for line in lines)

    def __repr__(self) -> str:
        return f"<tapegrad.viz.BackwardTrace: {len(self.steps)} steps>"

    def to_html(self, title: str = "tapegrad backward, step by step") -> str:
        """The graph with a stepper: buttons or arrow keys walk through the backward pass."""
        steps = []
        table = ['<pre id="detail"></pre><table id="steps"><tr><th>#</th><th>rule</th>'
                 "<th>grad in</th></tr>"]
        for step in self.steps:
            incoming = [[f"{index}", tensor_summary(grad, 200) if grad is not None else "None"]
                        for index, grad in enumerate(step.incoming)]
            if isinstance(step.node, AccumulateGrad):
                outgoing = [[f"-> {self._leaf_name(step.node)}.grad",
                             tensor_summary(step.accumulated, 200)]]
            else:
                outgoing = [[f"{name} -> {node_label(child) if child is not None else '-'}",
                             tensor_summary(grad, 200) if grad is not None else "None"]
                            for name, child, grad in step.outgoing]
            text = [f"step {step.index + 1}: {step.name} (sequence_nr {step.node._sequence_nr})",
                    "gradient in:"] + [f"  [{a}] {b}" for a, b in incoming]
            text += ["gradients out:"] + [f"  {a}: {b}" for a, b in outgoing]
            steps.append({"node": self.graph.node_id(step.node), "text": "\n".join(text),
                          "incoming": incoming, "outgoing": outgoing})
            first_in = incoming[0][1] if incoming else "None"
            table.append(f'<tr data-step="{step.index}"><td>{step.index + 1}</td>'
                         f"<td>{escape(step.name)}</td><td><code>{escape(first_in)}</code>"
                         "</td></tr>")
        table.append("</table>")
        svg = render_svg(self.graph, "trace")
        return _html.graph_page(svg, self.graph.tooltips(), title, steps, "".join(table))

    def save(self, path: str | os.PathLike) -> str:
        """Write the stepper page (``.html``) or the text table (``.txt``)."""
        path = os.fspath(path)
        text = str(self) + "\n" if path.lower().endswith(".txt") else self.to_html()
        with open(path, "w", encoding="utf-8") as file:
            file.write(text)
        return path


def _fitted(node: Node, index: int, grad: Tensor | None) -> Tensor | None:
    """The gradient as the next node receives it (the engine's own boundary fitting)."""
    if grad is None or node._input_meta[index] is None:
        return grad
    from ..autograd.engine import _fit_gradient
    from ..autograd.grad_mode import no_grad

    with no_grad():
        return _fit_gradient(node, index, grad, node._input_meta[index])


def trace_backward(loss: Tensor, retain_graph: bool = False, gradient: Tensor | None = None,
                   params: Any = None) -> BackwardTrace:
    """Run ``loss.backward()`` (or run it again on a retained graph) and record every step.

    The gradients accumulated into leaves are exactly those of ``loss.backward()``: the trace
    watches the engine through node hooks and changes nothing.
    """
    if not isinstance(loss, Tensor):
        raise TypeError(f"trace_backward(): expected Tensor, got {type(loss).__name__}")
    graph = draw_graph(loss, params=params)  # before backward frees the saved values
    root = loss.grad_fn
    if root is None:
        if not loss._requires_grad:
            raise RuntimeError("element 0 of tensors does not require grad and does not have a "
                               "grad_fn")
        root = loss.grad_accumulator()
    steps: list[BackwardStep] = []

    def watcher(node: Node):
        def hook(grad_inputs: tuple, grad_outputs: tuple) -> None:
            outgoing = []
            if not isinstance(node, AccumulateGrad):
                for index, (name, (child, _)) in enumerate(zip(input_names(node), node._edges)):
                    grad = grad_inputs[index] if index < len(grad_inputs) else None
                    outgoing.append((name, child,
                                     _fitted(node, index, grad) if child is not None else None))
            accumulated = None
            if isinstance(node, AccumulateGrad) and node.variable._grad is not None:
                accumulated = node.variable._grad.detach().clone()
            steps.append(BackwardStep(len(steps), node, tuple(grad_outputs), outgoing,
                                      accumulated))
        return hook

    handles = [node.register_hook(watcher(node)) for node in walk([root])]
    try:
        loss.backward(gradient, retain_graph=retain_graph)
    finally:
        for handle in handles:
            handle.remove()
    leaf_names = {}
    for item in graph.nodes:
        if item.kind == "op" and isinstance(item.node, AccumulateGrad):
            leaf_names[id(item.node.variable)] = _leaf_title(graph, item.node)
    return BackwardTrace(steps, graph, leaf_names)


def _leaf_title(graph: Graph, node: AccumulateGrad) -> str:
    node_id = graph.node_id(node)
    for edge in graph.edges:
        if edge.target == node_id:
            for item in graph.nodes:
                if item.id == edge.source and item.kind == "leaf":
                    title = item.info.get("title", "leaf")
                    return title if title not in ("leaf", "leaf tensor") else \
                        f"<leaf {item.lines[-1]}>"
    return "leaf"
