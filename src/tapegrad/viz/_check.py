"""check_graph: a float64 gradient check of every node of the user's own recorded graph."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._tensor import Tensor, wrap
from ..autograd.graph import FREED, AccumulateGrad, Node
from ._nodes import input_names, node_label, walk

_MISSING = object()


@dataclass
class InputCheck:
    """One input of one node: the rule's directional derivative against finite differences."""

    name: str
    analytic: float
    numeric: float
    ok: bool


@dataclass
class NodeCheck:
    """The verdict on one node: ``ok``, ``mismatch`` or ``skipped`` (with the reason)."""

    node: Node
    status: str
    inputs: list[InputCheck] = field(default_factory=list)
    reason: str = ""

    @property
    def name(self) -> str:
        return node_label(self.node)

    @property
    def function(self) -> str | None:
        """The custom autograd.Function's class name, for nodes made by one."""
        forward_cls = getattr(self.node, "_forward_cls", None)
        return getattr(forward_cls, "__name__", None)

    def __str__(self) -> str:
        what = self.name + (f" (autograd.Function {self.function})" if self.function else "")
        if self.status == "skipped":
            return f"{what}: skipped, {self.reason}"
        if self.reason:
            return f"{what}: {self.status}; {self.reason}"
        parts = [f"{item.name}: {'ok' if item.ok else 'WRONG'} (rule {item.analytic:.6g}, "
                 f"finite differences {item.numeric:.6g})" for item in self.inputs]
        return f"{what}: {self.status}; " + "; ".join(parts)


@dataclass
class GraphCheck:
    """The per-node results of check_graph, in the engine's order (newest node first)."""

    nodes: list[NodeCheck]

    @property
    def ok(self) -> bool:
        return not self.failures

    @property
    def failures(self) -> list[NodeCheck]:
        return [item for item in self.nodes if item.status == "mismatch"]

    @property
    def skipped(self) -> list[NodeCheck]:
        return [item for item in self.nodes if item.status == "skipped"]

    def __str__(self) -> str:
        checked = sum(item.status != "skipped" for item in self.nodes)
        lines = [f"check_graph: {checked} nodes checked, {len(self.failures)} wrong, "
                 f"{len(self.skipped)} skipped"]
        lines += ["  " + str(item) for item in self.nodes]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (f"<tapegrad.viz.GraphCheck: {len(self.failures)} wrong of "
                f"{len(self.nodes)} nodes>")


def _data(value: Any) -> Any:
    return value._data if isinstance(value, Tensor) else value


def _as_float64(value: Any) -> Any:
    if isinstance(value, np.ndarray) and value.dtype.kind == "f" and value.dtype != np.float64:
        return value.astype(np.float64)
    return value


def _saved_input(node: Node, index: int) -> Any:
    """The forward input ``index`` if the node saved it (and it was not modified since)."""
    saved = node._saved
    if saved is FREED or not saved or index >= len(saved) or saved[index] is None:
        return _MISSING
    try:
        return _data(node.unpack_input(index))
    except RuntimeError:  # modified in place since the forward: not the value it saw
        return _MISSING


class _Rerun:
    """How to run a node's forward again on float64 copies of its inputs."""

    def __init__(self, run: Callable, differentiable: tuple | None, count: int) -> None:
        self.run = run
        self.differentiable = differentiable
        self.count = count  # number of forward arguments (one per edge)


def _rerun_for(node: Node) -> _Rerun | str:
    """The forward behind a node, or the reason it cannot be run again."""
    op = getattr(node, "_op", None)
    if op is not None:
        from .. import _dispatch

        params = node._params

        def run_op(inputs: list) -> tuple:
            result = _dispatch.dispatch(op, tuple(inputs), params)
            return tuple(result) if isinstance(result, tuple) else (result,)

        return _Rerun(run_op, op.differentiable_outputs, len(node._edges))
    forward_cls = getattr(node, "_forward_cls", None)
    if forward_cls is not None:
        # A Function's node keeps one edge per tensor argument (as PyTorch's does), not the
        # other arguments: it can run again only when every argument was a tensor in the graph.
        is_tensor = tuple(getattr(node, "_arg_is_tensor", ()) or ())
        if not is_tensor or not all(is_tensor) or len(is_tensor) != len(node._edges):
            return (f"autograd.Function {forward_cls.__name__}: the node does not keep its "
                    "non-tensor forward arguments, so its forward cannot be run again")
        if any(child is None for child, _ in node._edges):
            return (f"autograd.Function {forward_cls.__name__}: a tensor argument that needs "
                    "no gradient is not kept by the node")

        def run_function(inputs: list) -> tuple:
            result = forward_cls.apply(*inputs)
            return tuple(result) if isinstance(result, (tuple, list)) else (result,)

        return _Rerun(run_function, None, len(node._edges))
    return f"{node_label(node)} exposes no forward to run again"


def check_graph(loss: Tensor, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-4,
                seed: int = 0) -> GraphCheck:
    """Check every node's backward rule at the point the user's graph was recorded.

    Each node's forward inputs are read from what the graph saved, or recomputed from the leaves
    by running the producing nodes' forwards again (in float64). The node's op is then run on
    those inputs with its backward rule, and the directional derivative ``<J^T v, u>`` for random
    ``u`` and ``v`` is compared with central finite differences of the forward. Call it before
    backward (or after ``backward(retain_graph=True)``): backward frees what nodes saved.
    """
    if not isinstance(loss, Tensor):
        raise TypeError(f"check_graph(): expected Tensor, got {type(loss).__name__}")
    if loss.grad_fn is None:
        return GraphCheck([])
    nodes = walk([loss.grad_fn])
    values: dict[tuple[int, int], Any] = {(id(loss.grad_fn), loss._output_nr): loss._data}
    for node in nodes:
        if isinstance(node, AccumulateGrad):
            values[(id(node), 0)] = node.variable._data
            continue
        result = node._saved_result
        if result is not None and result is not FREED and getattr(node, "_op", None):
            for index, array in enumerate(result):
                values[(id(node), index)] = array
        for index, (child, output_nr) in enumerate(node._edges):
            if child is not None and (id(child), output_nr) not in values:
                saved = _saved_input(node, index)
                if saved is not _MISSING:
                    values[(id(child), output_nr)] = saved

    reruns = {id(node): _rerun_for(node) for node in nodes
              if not isinstance(node, AccumulateGrad)}

    def forward_inputs(node: Node) -> list | str:
        inputs = []
        names = input_names(node)
        for index, (child, output_nr) in enumerate(node._edges):
            value = _saved_input(node, index)
            if value is _MISSING and child is not None:
                value = values.get((id(child), output_nr), _MISSING)
            if value is _MISSING:
                if child is None:
                    return f"its input '{names[index]}' (a constant) was not saved"
                return f"its input '{names[index]}' could not be recomputed"
            inputs.append(_as_float64(value))
        return inputs

    # Recompute missing intermediate values, inputs before the nodes that use them.
    from ..autograd.grad_mode import no_grad

    for node in reversed(nodes):
        rerun = reruns.get(id(node))
        if not isinstance(rerun, _Rerun):
            continue
        if all((id(node), k) in values for k in range(max(1, len(node._output_meta or ())))):
            continue
        inputs = forward_inputs(node)
        if isinstance(inputs, str):
            continue
        try:
            with no_grad():
                outputs = rerun.run([wrap(np.asarray(v)) if isinstance(v, np.ndarray) else v
                                     for v in inputs])
        except Exception:  # noqa: BLE001 - an input we could not rebuild exactly
            continue
        for index, output in enumerate(outputs):
            values.setdefault((id(node), index), _data(output))

    rng = np.random.default_rng(seed)
    results = []
    for node in sorted(nodes, key=lambda n: -n._sequence_nr):
        if isinstance(node, AccumulateGrad):
            continue
        rerun = reruns[id(node)]
        if isinstance(rerun, str):
            results.append(NodeCheck(node, "skipped", reason=rerun))
            continue
        inputs = forward_inputs(node)
        if isinstance(inputs, str):
            results.append(NodeCheck(node, "skipped", reason=inputs))
            continue
        results.append(_check_node(node, rerun, inputs, rng, eps, atol, rtol))
    return GraphCheck(results)


def _check_node(node: Node, rerun: _Rerun, inputs: list, rng: np.random.Generator, eps: float,
                atol: float, rtol: float) -> NodeCheck:
    from ..autograd import grad as autograd_grad
    from ..autograd.grad_mode import enable_grad, no_grad

    names = input_names(node)
    wanted = [index for index, (child, _) in enumerate(node._edges)
              if child is not None and isinstance(inputs[index], np.ndarray)
              and inputs[index].dtype.kind == "f"]
    if not wanted:
        return NodeCheck(node, "skipped", reason="no floating-point input needs a gradient")

    def tensors(arrays: list) -> list:
        return [wrap(np.array(v)) if isinstance(v, (np.ndarray, np.generic)) else v
                for v in arrays]

    def forward(arrays: list) -> list[np.ndarray]:
        with no_grad():
            return [np.asarray(_data(output), dtype=np.float64)
                    for output in rerun.run(tensors(arrays))]

    try:
        with enable_grad():
            leaves = tensors(inputs)
            for index in wanted:
                leaves[index].requires_grad_(True)
            outputs = rerun.run(leaves)
            differentiable = [k for k, output in enumerate(outputs)
                              if isinstance(output, Tensor) and output.requires_grad
                              and output.is_floating_point()
                              and (rerun.differentiable is None or k in rerun.differentiable)]
            directions_out = {k: rng.standard_normal(outputs[k].shape) for k in differentiable}
            if not differentiable:
                return NodeCheck(node, "skipped", reason="no output to differentiate")
            grads = autograd_grad([outputs[k] for k in differentiable],
                                  [leaves[index] for index in wanted],
                                  [wrap(directions_out[k]).to(outputs[k].dtype)
                                   for k in differentiable], allow_unused=True)
    except Exception as error:  # noqa: BLE001 - the report says what went wrong
        return NodeCheck(node, "mismatch", reason=f"the rule raised {type(error).__name__}: "
                         f"{error}")

    checks = []
    for index, grad in zip(wanted, grads):
        direction = rng.standard_normal(np.shape(inputs[index]))
        analytic = 0.0 if grad is None else float(np.sum(_data(grad) * direction))
        plus = list(inputs)
        minus = list(inputs)
        plus[index] = np.asarray(inputs[index] + eps * direction)
        minus[index] = np.asarray(inputs[index] - eps * direction)
        high, low = forward(plus), forward(minus)
        numeric = sum(float(np.sum((high[k] - low[k]) / (2 * eps) * directions_out[k]))
                      for k in differentiable)
        ok = abs(analytic - numeric) <= atol + rtol * max(abs(analytic), abs(numeric))
        checks.append(InputCheck(names[index], analytic, numeric, ok))
    status = "ok" if all(item.ok for item in checks) else "mismatch"
    return NodeCheck(node, status, checks)
