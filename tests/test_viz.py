"""tapegrad.viz: graph pictures (SVG/DOT/HTML), the backward trace, check_graph and plots."""

from __future__ import annotations

import re
import sys
import xml.etree.ElementTree as ET

import numpy as np
import pytest
import torch as real_torch

import tapegrad as torch
from tapegrad import viz

SVG = "{http://www.w3.org/2000/svg}"


# --- programs to draw -----------------------------------------------------------------------
def seed_tutorial():
    """Seed 000: y = a*x**2 + b*x + c on a matrix, backward with gradient=ones."""
    x = torch.tensor([[0.0, 0.0], [1.0, 2.0]], requires_grad=True)
    y = 1 * torch.pow(x, 2) + -2 * x + 1
    return y, {"x": x}


def seed_dot_control_flow():
    """Seed 003: 2 * dot(x, x), then a while loop of doublings."""
    x = torch.arange(4.0).requires_grad_(True)
    y = 2 * torch.dot(x, x)
    b = (y * 2)
    while b.norm() < 1000:
        b = b * 2
    return b, {"x": x}


def mlp_loss():
    """A two-layer MLP loss built from matmul, relu and mean."""
    torch.manual_seed(0)
    inputs = torch.randn(8, 4)
    targets = torch.randn(8, 1)
    params = {"w1": torch.randn(4, 6, requires_grad=True), "b1": torch.zeros(6, requires_grad=True),
              "w2": torch.randn(6, 1, requires_grad=True), "b2": torch.zeros(1, requires_grad=True)}
    hidden = (inputs @ params["w1"] + params["b1"]).relu()
    loss = ((hidden @ params["w2"] + params["b2"] - targets) ** 2).mean()
    return loss, params


def shared_subexpressions():
    """One intermediate used three times, and a leaf used by four nodes."""
    x = torch.tensor([0.5, -1.0, 2.0], requires_grad=True)
    w = torch.tensor([1.5, 0.5, -0.5], requires_grad=True)
    s = x * w
    y = (s * s + s.exp() - s.sin() * x).sum()
    return y, {"x": x, "w": w}


def _function_classes():
    Function = torch.autograd.Function

    class Cube(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x**3

        @staticmethod
        def backward(ctx, grad):
            (x,) = ctx.saved_tensors
            return grad * 3 * x**2

    class WrongCube(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x**3

        @staticmethod
        def backward(ctx, grad):
            (x,) = ctx.saved_tensors
            return grad * 2 * x**2  # deliberately wrong: d(x^3)/dx is 3 x^2

    class Scale(Function):
        @staticmethod
        def forward(ctx, x, w):
            ctx.save_for_backward(x, w)
            return x * w

        @staticmethod
        def backward(ctx, grad):
            x, w = ctx.saved_tensors
            return grad * w, grad * x

    return Cube, WrongCube, Scale


def custom_function(wrong: bool = False):
    """Custom autograd.Function nodes among built-in ones."""
    cube, wrong_cube, scale = _function_classes()
    x = torch.tensor([0.5, 1.5, -2.0], requires_grad=True)
    w = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    cubed = (wrong_cube if wrong else cube).apply(x)
    return scale.apply(cubed.sin(), w).sum(), {"x": x, "w": w}


PROGRAMS = {"seed_tutorial": seed_tutorial, "seed_dot_control_flow": seed_dot_control_flow,
            "mlp_loss": mlp_loss, "shared_subexpressions": shared_subexpressions,
            "custom_function": custom_function}


# --- an independent reading of the graph through the public Node interface ------------------
def expected_picture(output, params):
    """Labels of all boxes and (source label, target label) of all arrows, torchviz style."""
    names = {id(t): name for name, t in params.items()}

    def size(shape):
        return "(" + ", ".join(str(n) for n in shape) + ")"

    labels, arrows, seen, stack = [], [], set(), [output.grad_fn]
    out_label = size(output.shape)
    labels.append(out_label)
    arrows.append((type(output.grad_fn).__name__, out_label))
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        labels.append(type(node).__name__)
        if hasattr(node, "variable"):
            leaf = "\n".join([names[id(node.variable)], size(node.variable.shape)])
            labels.append(leaf)
            arrows.append((leaf, "AccumulateGrad"))
        for child, _ in node.next_functions:
            if child is not None:
                arrows.append((type(child).__name__, type(node).__name__))
                stack.append(child)
    return sorted(labels), sorted(arrows)


def parse_svg(svg):
    root = ET.fromstring(svg)
    boxes, labels, ids = [], {}, {}
    for group in root.iter(SVG + "g"):
        if "node" not in group.get("class", "").split():
            continue
        rect = group.find(SVG + "rect")
        text = group.find(SVG + "text")
        lines = [span.text for span in text.findall(SVG + "tspan")]
        box = tuple(float(rect.get(k)) for k in ("x", "y", "width", "height"))
        boxes.append((box, lines))
        ids[group.get("data-id")] = "\n".join(lines)
        labels[group.get("data-id")] = group.get("class")
    arrows = [(ids[path.get("data-source")], ids[path.get("data-target")])
              for path in root.iter(SVG + "path") if path.get("class") == "edge"]
    return root, boxes, ids, arrows


def overlapping(boxes):
    pairs = []
    for i, ((x1, y1, w1, h1), a) in enumerate(boxes):
        for (x2, y2, w2, h2), b in boxes[i + 1:]:
            if x1 < x2 + w2 and x2 < x1 + w1 and y1 < y2 + h2 and y2 < y1 + h1:
                pairs.append((a, b))
    return pairs


@pytest.mark.parametrize("program", sorted(PROGRAMS))
def test_svg_has_every_node_and_edge_and_no_overlap(program):
    output, params = PROGRAMS[program]()
    graph = viz.draw_graph(output, params=params)
    svg = graph.to_svg()
    root, boxes, ids, arrows = parse_svg(svg)  # parses as XML
    assert root.tag == SVG + "svg"
    labels, expected_arrows = expected_picture(output, params)
    assert sorted(ids.values()) == labels
    assert sorted(arrows) == expected_arrows
    assert overlapping(boxes) == []
    for (x, y, width, _), lines in boxes:
        assert width >= max(len(line) for line in lines) * 7.2  # the text fits its box
        assert x >= 0 and y >= 0
    assert float(root.get("width")) >= max(x + w for (x, _, w, _), _ in boxes)
    # Every arrow ends at the top side of its target box.
    for path in root.iter(SVG + "path"):
        if path.get("class") != "edge":
            continue
        end = [float(v) for v in path.get("d").split()[-2:]]
        target = next(b for b, lines in boxes if "\n".join(lines) == ids[path.get("data-target")]
                      and abs(b[1] - end[1]) < 1e-6 and b[0] <= end[0] <= b[0] + b[2])
        assert target is not None


@pytest.mark.parametrize("program", sorted(PROGRAMS))
def test_dot_and_html_describe_the_same_graph(program):
    output, params = PROGRAMS[program]()
    graph = viz.draw_graph(output, params=params)
    dot = graph.to_dot()
    labels, arrows = expected_picture(output, params)
    dot_labels = re.findall(r'\[label="((?:[^"\\]|\\.)*)"', dot)
    assert sorted(label.replace("\\n", "\n") for label in dot_labels) == labels
    assert dot.count(" -> ") == len(arrows)
    html = graph.to_html()
    assert html.startswith("<!DOCTYPE html>") and "<svg" in html and "http" not in html.replace(
        "http://www.w3.org/2000/svg", "")
    assert graph._repr_svg_().startswith("<svg")


def test_leaves_show_shapes_without_params_and_saved_values_when_asked():
    x = torch.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    y = (x * x).sum()
    graph = viz.draw_graph(y, show_saved=True)
    _, boxes, ids, arrows = parse_svg(graph.to_svg())
    assert "(2, 2)" in ids.values()  # the leaf, labelled by its shape
    saved = [label for label in ids.values() if label.startswith(("input", "other"))]
    assert sorted(saved) == ["input\n(2, 2)", "other\n(2, 2)"]  # MulBackward0 saved both
    assert ("input\n(2, 2)", "MulBackward0") in arrows
    assert overlapping(boxes) == []
    y.backward()
    graph = viz.draw_graph(y, show_grads=True, show_saved=True)
    labels = list(parse_svg(graph.to_svg())[2].values())
    assert any("grad [[2., 4.], [6., 8.]]" in label for label in labels)
    info = graph.tooltips()
    mul = next(v for v in info.values() if v["title"] == "MulBackward0")
    assert any("freed" in value for _, value in mul["rows"])


def test_multiple_outputs_and_deep_graphs():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    a, b = x * 2, x.exp()
    graph = viz.draw_graph(a, b)
    _, boxes, ids, arrows = parse_svg(graph.to_svg())
    assert sorted(label for label in ids.values() if label.endswith("Backward0")) == [
        "ExpBackward0", "MulBackward0"]
    assert overlapping(boxes) == []
    y = x
    for _ in range(400):  # deep: no recursion anywhere
        y = y * 1.001
    root, boxes, _, arrows = parse_svg(viz.draw_graph(y).to_svg())
    assert len(boxes) == 403 and len(arrows) == 402
    assert overlapping(boxes) == []
    # Long edges everywhere (one leaf feeds every level): more than the pass-through budget.
    w = torch.tensor([0.5, 0.25], requires_grad=True)
    y = x
    for _ in range(150):
        y = (y * w).sin()
    root, boxes, ids, arrows = parse_svg(viz.draw_graph(y).to_svg())
    assert len(arrows) == 2 + 150 * 3 + 1 and overlapping(boxes) == []


# --- trace_backward -----------------------------------------------------------------------
def _torch_order(build):
    """Node names in the order real PyTorch's engine runs them (its node hooks)."""
    order = []
    x = real_torch.tensor([[0.0, 0.0], [1.0, 2.0]], requires_grad=True)
    y = build(real_torch, x)
    stack, seen = [y.grad_fn], set()
    while stack:
        node = stack.pop()
        if node is None or node in seen:
            continue
        seen.add(node)
        node.register_hook(lambda grads_in, grads_out, node=node: order.append(node.name()))
        stack.extend(child for child, _ in node.next_functions)
    y.backward(real_torch.ones_like(y) if y.dim() else None)
    return [name.split("::")[-1] for name in order], x.grad.numpy()


SEED_BUILDS = {
    "pow_poly": lambda lib, x: 1 * lib.pow(x, 2) + -2 * x + 1,
    "mean": lambda lib, x: (x * 3).mean(),
    "shared": lambda lib, x: (x * x * 2 + x.exp()).sum(),
    "dot": lambda lib, x: 2 * lib.dot(x.reshape(-1), x.reshape(-1)),
}


@pytest.mark.parametrize("name", sorted(SEED_BUILDS))
def test_trace_lists_the_gradients_backward_produces(name):
    build = SEED_BUILDS[name]
    x = torch.tensor([[0.0, 0.0], [1.0, 2.0]], requires_grad=True)
    y = build(torch, x)
    gradient = torch.ones_like(y) if y.dim() else None
    trace = viz.trace_backward(y, gradient=gradient, params={"x": x})
    x2 = torch.tensor([[0.0, 0.0], [1.0, 2.0]], requires_grad=True)
    y2 = build(torch, x2)
    y2.backward(gradient)
    np.testing.assert_array_equal(x.grad.numpy(), x2.grad.numpy())
    # The engine's order and gradients are PyTorch's.
    torch_names, torch_grad = _torch_order(build)
    assert [step.name for step in trace] == torch_names
    np.testing.assert_allclose(x.grad.numpy(), torch_grad, rtol=1e-6)
    last = trace[-1]
    assert last.name == "AccumulateGrad"
    np.testing.assert_array_equal(last.accumulated.numpy(), x.grad.numpy())
    # Each step's outgoing gradient is what the next node received (summed over producers).
    received = {}
    for step in trace:
        for grad in step.incoming:
            if grad is not None:
                received.setdefault(id(step.node), grad.numpy())
    sent = {}
    for step in trace:
        for _, child, grad in step.outgoing:
            if child is not None and grad is not None:
                sent[id(child)] = sent.get(id(child), 0) + grad.numpy()
    for node_id, total in sent.items():
        np.testing.assert_allclose(received[node_id], total, rtol=1e-6)
    text = str(trace)
    assert "AccumulateGrad" in text and "x.grad = " in text
    assert len(text.splitlines()) >= len(trace) + 2
    html = trace.to_html()
    assert html.count('data-step="') == len(trace)


def test_trace_replays_a_retained_graph_and_reports_freed_graphs():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    first = viz.trace_backward(y, retain_graph=True)
    second = viz.trace_backward(y)
    assert [s.name for s in first] == [s.name for s in second]
    np.testing.assert_array_equal(x.grad.numpy(), [4.0, 8.0])  # accumulated twice, as backward
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        viz.trace_backward(y)
    assert x.grad_fn is None and not (y.grad_fn._hooks or {})  # the trace's hooks are removed


# --- check_graph --------------------------------------------------------------------------
@pytest.mark.parametrize("program", ["mlp_loss", "shared_subexpressions", "seed_dot_control_flow",
                                     "custom_function"])
def test_check_graph_passes_correct_rules(program):
    output, _ = PROGRAMS[program]()
    report = viz.check_graph(output)
    assert report.ok, str(report)
    checked = [item for item in report.nodes if item.status == "ok"]
    assert len(checked) >= 3


def test_check_graph_names_a_wrong_rule_in_a_custom_function():
    output, _ = custom_function(wrong=True)
    report = viz.check_graph(output)
    assert not report.ok
    assert [item.name for item in report.failures] == ["WrongCubeBackward"]
    assert report.failures[0].function == "WrongCube"
    assert "WrongCubeBackward" in str(report) and "WRONG" in str(report)
    item = report.failures[0].inputs[0]
    assert item.analytic == pytest.approx(item.numeric * 2 / 3, rel=1e-6)


def test_check_graph_skips_what_it_cannot_rebuild_and_says_why():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    c = torch.tensor([3.0, 4.0])
    y = ((x + c) * x).sum()  # AddBackward0 saves nothing, and c needs no gradient
    report = viz.check_graph(y)
    add = next(item for item in report.nodes if item.name == "AddBackward0")
    assert add.status == "skipped" and "other" in add.reason
    assert report.ok


# --- plots --------------------------------------------------------------------------------
def test_plot_function_uses_autograd_derivatives():
    plot = viz.plot_function(lambda x: x**3 - x, (-2.0, 2.0), num=41, backend="svg")
    (_, x, y), (_, _, first), (_, _, second) = plot.series
    np.testing.assert_allclose(y, x**3 - x)
    np.testing.assert_allclose(first, 3 * x**2 - 1, rtol=1e-12)
    np.testing.assert_allclose(second, 6 * x, rtol=1e-12, atol=1e-12)
    root = ET.fromstring(plot.to_svg())
    lines = [p for p in root.iter(SVG + "polyline")]
    assert [p.get("data-name") for p in lines] == ["f(x)", "f'(x)", "f''(x)"]
    assert all(len(p.get("points").split()) == 41 for p in lines)
    linear = viz.plot_function(lambda x: 2 * x, backend="svg")
    np.testing.assert_array_equal(linear.series[2][2], 0.0)
    with pytest.raises(ValueError, match="element-wise"):
        viz.plot_function(lambda x: x.sum())


def test_plot_losses_and_backends(tmp_path, monkeypatch):
    plot = viz.plot_losses({"train": [1.0, 0.5, 0.25], "valid": [torch.tensor(1.2), 0.7, 0.6]},
                           backend="svg", logy=True)
    assert [name for name, _, _ in plot.series] == ["train", "valid"]
    ET.fromstring(plot.to_svg())
    assert plot.save(tmp_path / "loss.html").endswith("loss.html")
    if "plotly" in sys.modules or viz._plot._have("plotly"):
        html = viz.plot_losses([3.0, 2.0, 1.0]).to_html()
        assert "Plotly.newPlot" in html
    monkeypatch.setitem(sys.modules, "plotly", None)
    monkeypatch.setitem(sys.modules, "plotly.graph_objects", None)
    monkeypatch.setattr(viz._plot, "_have", lambda name: False)
    assert viz.plot_losses([3.0, 2.0]).backend == "svg"  # works with no extra
    with pytest.raises(ImportError, match=r"tapegrad\[viz\]"):
        viz.plot_losses([3.0, 2.0], backend="plotly")
    with pytest.raises(RuntimeError, match="kaleido"):
        viz.plot_losses([3.0, 2.0]).save(tmp_path / "loss.png")


def test_nice_ticks_cover_the_range():
    for low, high in [(-3.0, 3.0), (0.013, 0.92), (1.0, 1.0), (-1e5, 2e5)]:
        ticks = viz._plot.nice_ticks(low, high)
        assert ticks[0] <= low and ticks[-1] >= high and len(ticks) >= 2
