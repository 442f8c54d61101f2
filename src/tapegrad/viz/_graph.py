"""draw_graph: the recorded graph as a picture (SVG with our own layout, DOT, HTML, Jupyter)."""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from xml.sax.saxutils import escape

from .._tensor import Tensor
from ..autograd.graph import AccumulateGrad, Node
from . import _html, _layout
from ._format import dtype_text, full_text, size_text, tensor_summary, values_text
from ._nodes import input_names, node_label, output_metas, saved_values, walk

# torchviz's colours: ops grey, leaves light blue, outputs light green, saved tensors orange.
FILL = {"op": "#d3d3d3", "leaf": "#add8e6", "output": "#caff70", "saved": "#ffa500"}
FONT_SIZE = 12
CHAR_WIDTH = 7.4  # a monospace glyph at 12px is 7.2px wide; a little slack keeps text inside
LINE_HEIGHT = 15.0
PAD_X = 10.0
PAD_Y = 6.0

_prefixes = itertools.count()


@dataclass
class GraphNode:
    """One box: an autograd node, a leaf or output tensor, or a saved value."""

    id: str
    kind: str  # op | leaf | output | saved
    lines: list[str]
    info: dict
    node: Node | None = None

    @property
    def label(self) -> str:
        return "\n".join(self.lines)

    @property
    def size(self) -> tuple[float, float]:
        width = max(len(line) for line in self.lines) * CHAR_WIDTH + 2 * PAD_X
        return width, len(self.lines) * LINE_HEIGHT + 2 * PAD_Y


@dataclass
class GraphEdge:
    """An arrow in the direction data flows forward (input -> op -> output)."""

    source: str
    target: str
    label: str = ""
    dashed: bool = False


@dataclass
class Graph:
    """A picture of a recorded graph; see draw_graph."""

    nodes: list[GraphNode] = field(default_factory=list)
    edges: list[GraphEdge] = field(default_factory=list)
    title: str = "tapegrad graph"
    _layout_cache: Any = None
    _keep_alive: list = field(default_factory=list, repr=False)

    # --- lookup ------------------------------------------------------------------------------
    def node_id(self, node: Node) -> str | None:
        """The picture id of an autograd node (None when it is not in the picture)."""
        for item in self.nodes:
            if item.node is node and item.kind == "op":
                return item.id
        return None

    def layout(self) -> _layout.Layout:
        if self._layout_cache is None:
            index = {node.id: position for position, node in enumerate(self.nodes)}
            self._layout_cache = _layout.layout(
                [node.size for node in self.nodes],
                [(index[edge.source], index[edge.target]) for edge in self.edges])
        return self._layout_cache

    # --- outputs -----------------------------------------------------------------------------
    def to_svg(self, prefix: str | None = None) -> str:
        """An SVG document (our own layered layout; no Graphviz needed)."""
        return render_svg(self, prefix or f"tg{next(_prefixes)}")

    def to_dot(self) -> str:
        """Graphviz source, for those who have Graphviz (``dot -Tpng``)."""
        lines = ["digraph {",
                 '    graph [size="12,12"]',
                 '    node [align=left fontname=monospace fontsize=10 height=0.2 ranksep=0.1 '
                 'shape=box style=filled]']
        for node in self.nodes:
            label = node.label.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
            lines.append(f'    {node.id} [label="{label}" fillcolor="{FILL[node.kind]}"]')
        for edge in self.edges:
            style = " [style=dashed]" if edge.dashed else ""
            lines.append(f"    {edge.source} -> {edge.target}{style}")
        lines.append("}")
        return "\n".join(lines) + "\n"

    def to_html(self, title: str | None = None) -> str:
        """A self-contained page: the SVG with pan/zoom and a tooltip per node."""
        prefix = f"tg{next(_prefixes)}"
        return _html.graph_page(render_svg(self, prefix), self.tooltips(), title or self.title)

    def tooltips(self) -> dict:
        return {node.id: node.info for node in self.nodes}

    def save(self, path: str | os.PathLike) -> str:
        """Write ``.svg``, ``.html`` or ``.dot``/``.gv`` by the file's extension."""
        path = os.fspath(path)
        extension = os.path.splitext(path)[1].lower()
        writers = {".svg": self.to_svg, ".html": self.to_html, ".htm": self.to_html,
                   ".dot": self.to_dot, ".gv": self.to_dot}
        if extension not in writers:
            raise ValueError(f"cannot save a graph as {extension!r}: use .svg, .html or .dot")
        with open(path, "w", encoding="utf-8") as file:
            file.write(writers[extension]())
        return path

    def _repr_svg_(self) -> str:
        return self.to_svg()

    def __repr__(self) -> str:
        return f"<tapegrad.viz.Graph: {len(self.nodes)} nodes, {len(self.edges)} edges>"


def render_svg(graph: Graph, prefix: str) -> str:
    """Boxes and arrows from the graph's layout; every element carries data-id for scripts."""
    placed = graph.layout()
    width, height = placed.width, placed.height
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="tapegrad-graph" id="{prefix}" '
           f'width="{width:.0f}" height="{height:.0f}" viewBox="0 0 {width:.1f} {height:.1f}" '
           f'font-family="DejaVu Sans Mono, Menlo, Consolas, monospace" '
           f'font-size="{FONT_SIZE}">',
           f"<title>{escape(graph.title)}</title>",
           f'<defs><marker id="{prefix}-arrow" viewBox="0 0 10 10" refX="10" refY="5" '
           'markerWidth="8" markerHeight="8" markerUnits="userSpaceOnUse" orient="auto">'
           '<path d="M 0 0 L 10 5 L 0 10 z" fill="#333"/></marker></defs>',
           '<g class="edges">']
    for index, (edge, route) in enumerate(zip(graph.edges, placed.routes)):
        dash = ' stroke-dasharray="5 3"' if edge.dashed else ""
        title = f"{edge.source} \u2192 {edge.target}" + (f" ({edge.label})" if edge.label else "")
        out.append(f'<path class="edge" id="{prefix}-e{index}" data-source="{edge.source}" '
                   f'data-target="{edge.target}" data-label="{escape(edge.label)}" '
                   f'd="{_path(route)}" fill="none" stroke="#333" stroke-width="1.2"{dash} '
                   f'marker-end="url(#{prefix}-arrow)"><title>{escape(title)}</title></path>')
    out.append('</g><g class="nodes">')
    for node, (x, y, w, h) in zip(graph.nodes, placed.boxes):
        out.append(f'<g class="node {node.kind}" id="{prefix}-{node.id}" data-id="{node.id}">'
                   f"<title>{escape(node.label)}</title>"
                   f'<rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}" rx="3" '
                   f'fill="{FILL[node.kind]}" stroke="#222" stroke-width="1"/>')
        out.append(f'<text x="{x + PAD_X:.1f}" y="{y + PAD_Y - 2:.1f}" fill="#000" '
                   'xml:space="preserve">')
        for line in node.lines:
            out.append(f'<tspan x="{x + PAD_X:.1f}" dy="{LINE_HEIGHT:.0f}">{escape(line)}</tspan>')
        out.append("</text></g>")
    out.append("</g></svg>")
    return "\n".join(out)


def _path(points: list[tuple[float, float]]) -> str:
    """Curves with vertical tangents across the gaps between layers, lines through layers."""
    (x0, y0), rest = points[0], points[1:]
    parts = [f"M {x0:.1f} {y0:.1f}"]
    previous = (x0, y0)
    for index, (x, y) in enumerate(rest):
        px, py = previous
        if index % 2 == 1 and index < len(rest) - 1:  # through a dummy slot: straight down
            parts.append(f"L {x:.1f} {y:.1f}")
        else:
            middle = (py + y) / 2
            parts.append(f"C {px:.1f} {middle:.1f} {x:.1f} {middle:.1f} {x:.1f} {y:.1f}")
        previous = (x, y)
    return " ".join(parts)


def _parameter_names(params: Any) -> dict[int, str]:
    if params is None:
        return {}
    items: Iterable = params.items() if isinstance(params, Mapping) else params
    names = {}
    for name, tensor in items:
        if not isinstance(tensor, Tensor):
            raise TypeError(f"params: expected tensors, got {type(tensor).__name__} for {name!r}")
        names[id(tensor)] = str(name)
    return names


def _tensor_rows(tensor: Tensor, show_value: bool = True) -> list[list[str]]:
    rows = [["shape", size_text(tensor.shape)], ["dtype", dtype_text(tensor)]]
    if show_value:
        rows.append(["value", full_text(tensor, 600)])
    if tensor._grad is not None:
        rows.append(["grad", full_text(tensor._grad, 600)])
    return rows


def draw_graph(*tensors: Tensor, params: Any = None, show_saved: bool = False,
               show_grads: bool = False) -> Graph:
    """The graph that computed ``tensors``, as torchviz's make_dot draws it.

    ``params`` (e.g. ``dict(model.named_parameters())``) names leaves; ``show_saved`` adds the
    values each node saved for backward; ``show_grads`` writes leaves' ``.grad`` into their box.
    """
    if not tensors:
        raise ValueError("draw_graph() needs at least one tensor")
    for tensor in tensors:
        if not isinstance(tensor, Tensor):
            raise TypeError(f"draw_graph(): expected Tensor, got {type(tensor).__name__}")
    names = _parameter_names(params)
    graph = Graph()
    box_of_tensor: dict[int, str] = {}
    keep_alive: list = []  # ids are only unique while their objects live

    def tensor_lines(tensor: Tensor) -> list[str]:
        lines = [names[id(tensor)]] if id(tensor) in names else []
        lines.append(size_text(tensor.shape))
        if show_grads and tensor._grad is not None:
            lines.append("grad " + values_text(tensor._grad, 40))
        return lines

    roots: list[tuple[Node, int, Tensor]] = []
    for position, tensor in enumerate(tensors):
        if id(tensor) in box_of_tensor:
            continue
        kind = "leaf" if tensor.grad_fn is None and tensor._requires_grad else "output"
        box = f"t{position}"
        box_of_tensor[id(tensor)] = box
        keep_alive.append(tensor)
        title = names.get(id(tensor), f"output {position}" if kind == "output" else "leaf")
        graph.nodes.append(GraphNode(box, kind, tensor_lines(tensor),
                                     {"title": title, "rows": _tensor_rows(tensor)}))
        if tensor.grad_fn is not None:
            roots.append((tensor.grad_fn, tensor._output_nr, tensor))

    nodes = walk([node for node, _, _ in roots])
    metas = output_metas(roots, nodes)
    op_ids = {id(node): f"n{index}" for index, node in enumerate(nodes)}
    for node in nodes:
        node_id = op_ids[id(node)]
        rows = [["node", node.name()], ["sequence_nr", str(node._sequence_nr)]]
        for output_nr, (shape, dtype) in sorted(metas.get(id(node), {}).items()):
            which = "output" if len(metas[id(node)]) == 1 else f"output {output_nr}"
            rows.append([which, f"{size_text(shape)} {dtype_text(_Dtype(dtype))}"])
        saved = saved_values(node)
        if saved is None:
            rows.append(["saved", "freed by backward (use retain_graph=True to keep it)"])
        else:
            for name, value in saved:
                rows.append([f"saved {name}", tensor_summary(value, 80)])
        graph.nodes.append(GraphNode(node_id, "op", [node_label(node)],
                                     {"title": node_label(node), "rows": rows}, node))
        if isinstance(node, AccumulateGrad):
            variable = node.variable
            keep_alive.append(variable)
            box = box_of_tensor.get(id(variable))
            if box is None:
                box = f"v{op_ids[id(node)][1:]}"
                box_of_tensor[id(variable)] = box
                graph.nodes.append(GraphNode(
                    box, "leaf", tensor_lines(variable),
                    {"title": names.get(id(variable), "leaf tensor"),
                     "rows": _tensor_rows(variable)}))
            graph.edges.append(GraphEdge(box, node_id))
        if show_saved and saved:
            for index, (name, value) in enumerate(saved):
                saved_id = f"{node_id}s{index}"
                shape = getattr(value, "shape", None)
                lines = [name, size_text(shape) if shape is not None else values_text(value, 30)]
                graph.nodes.append(GraphNode(
                    saved_id, "saved", lines,
                    {"title": f"saved by {node_label(node)}: {name}",
                     "rows": [["value", tensor_summary(value, 200)]]}))
                graph.edges.append(GraphEdge(saved_id, node_id, name, dashed=True))
    for node in nodes:
        for name, (child, _) in zip(input_names(node), node._edges):
            if child is not None:
                graph.edges.append(GraphEdge(op_ids[id(child)], op_ids[id(node)], name))
    for node, output_nr, tensor in roots:
        label = f"output {output_nr}" if node._output_meta else ""
        graph.edges.append(GraphEdge(op_ids[id(node)], box_of_tensor[id(tensor)], label))
    graph._keep_alive = keep_alive
    return graph


class _Dtype:
    """Adapts a NumPy dtype to dtype_text's ``.dtype`` lookup."""

    def __init__(self, dtype: Any) -> None:
        from .._dtype import FROM_NUMPY

        self.dtype = FROM_NUMPY.get(dtype, dtype)


def info_json(graph: Graph) -> str:
    return json.dumps(graph.tooltips())
