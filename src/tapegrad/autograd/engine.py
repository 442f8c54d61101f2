"""Backward execution: a dependency-counted, newest-first walk of the graph (no recursion)."""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from operator import attrgetter
from typing import TYPE_CHECKING, Any

import numpy as np

from .._backend import ignore_errors, restore_errors
from . import anomaly_mode
from .grad_mode import STATE
from .graph import BACKWARD_ERRORS, FREED, AccumulateGrad, Node, accumulate_into

if TYPE_CHECKING:
    from .._tensor import Tensor

Edge = tuple  # (Node, output_nr)
_ndarray = np.ndarray
_asarray = np.asarray


# tapegrad._tensor.wrap: that module imports this one, then sets it (_register_with_graph).
_wrap: Any = None
_creation_order = attrgetter("_sequence_nr")


def _count_dependencies(roots: Sequence[Node]) -> dict[Node, int]:
    """Number of edges pointing at each node reachable from the roots."""
    dependencies: dict[Node, int] = {}
    count = dependencies.get
    roots = set(roots)
    stack = list(roots)
    pop, push = stack.pop, stack.append
    while stack:
        node = pop()
        while node is not None:  # a node's first new child is walked next, without the stack
            following = None
            for child, _ in node._edges:
                if child is not None:
                    edges_so_far = count(child)
                    if edges_so_far is None:  # first edge to it: walk it (unless it is a root)
                        dependencies[child] = 1
                        if child not in roots:
                            if following is None:
                                following = child
                            else:
                                push(child)
                    else:
                        dependencies[child] = edges_so_far + 1
            node = following
    return dependencies


def _nodes_leading_to(roots: Sequence[Node], dependencies: dict[Node, int],
                      targets: set[Node]) -> set[Node]:
    """The nodes from which some target node can be reached (they must run). A node is made
    after the nodes its edges point to, so one pass in order of creation (sequence numbers)
    settles each node after its children; a graph out of that order gets more passes, until
    one adds nothing."""
    nodes = sorted({*dependencies, *roots}, key=_creation_order)
    leading: set[Node] = set()
    add = leading.add
    while True:
        size, out_of_order = len(leading), False
        for node in nodes:
            sequence = node._sequence_nr
            for child, _ in node._edges:
                if child is not None:
                    if child in targets or child in leading:
                        add(node)
                        break
                    if child._sequence_nr > sequence and child._edges:
                        out_of_order = True
        if not out_of_order or len(leading) == size:
            return leading


def is_expandable_to(shape: Sequence[int], desired: Sequence[int]) -> bool:
    """Whether ``shape`` broadcasts to ``desired`` (so a gradient of ``desired`` sums to it)."""
    if len(shape) > len(desired):
        return False
    for size, target in zip(reversed(shape), reversed(desired)):
        if size != target and size != 1:
            return False
    return True


def _fit_gradient(node: Node, where: int | tuple, grad: Tensor, meta: tuple) -> Tensor:
    """Undo broadcasting and cast to the input's dtype: once, at the node boundary. ``where``
    is the input's index, or what finds it for the error: (edges, outputs, child, output_nr)
    (the engine's loop does not count positions)."""
    shape, dtype = meta
    if grad._data.shape != shape:
        if not is_expandable_to(shape, grad._data.shape):
            index = where if type(where) is int else _position(*where, grad)
            raise RuntimeError(
                f"Function {node.name()} returned an invalid gradient at index {index} - got "
                f"{list(grad._data.shape)} but expected shape compatible with {list(shape)}")
        if STATE.enabled:  # create_graph: the reduction is part of the gradient's graph
            from ..ops.reduction import sum_to_size

            grad = sum_to_size(grad, shape)
        else:
            grad = _wrap(summed_to(grad._data, shape))
    if grad._data.dtype != dtype:
        from .._dtype import FROM_NUMPY

        grad = grad.to(FROM_NUMPY[dtype])
    return grad


def _position(edges: tuple, outputs: list, child: Node, output_nr: int, grad: Tensor) -> int:
    """The index of the (first) output sending ``grad`` to ``child``'s ``output_nr``."""
    return next(index for index, ((target, number), value) in enumerate(zip(edges, outputs))
                if target is child and number == output_nr and value is grad)


def summed_to(array: Any, shape: tuple) -> Any:
    """``array`` summed over the dims broadcasting added to ``shape`` (NumPy rules too)."""
    if array.shape[1:] == shape:  # a bias: one leading dim added
        total = array.sum(0)
        return total if type(total) is _ndarray else _asarray(total)
    leading = array.ndim - len(shape)
    dims = tuple(range(leading)) + tuple(
        leading + i for i, size in enumerate(shape) if size == 1 and array.shape[leading + i] != 1)
    total = array.sum(axis=dims, keepdims=True).reshape(shape)
    return total if type(total) is _ndarray else _asarray(total)


def _add(left: Tensor | None, right: Tensor, create_graph: bool) -> Tensor:
    if left is None:
        return right
    if create_graph:
        return left + right
    total = left._data + right._data
    return _wrap(total if type(total) is _ndarray else _asarray(total))  # 0-d sums are scalars


def execute(roots: Sequence[Edge], root_grads: Sequence[Tensor], keep_graph: bool,
            create_graph: bool, targets: Sequence[Edge] | None = None,
            accumulate: bool = True) -> list:
    """Run backward from ``roots`` seeded with ``root_grads``.

    With ``targets`` (autograd.grad or backward(inputs=...)), only nodes leading to a target run,
    and the gradient arriving at each target edge is returned; ``accumulate`` then says whether
    the targeted leaves' AccumulateGrad nodes run (autograd.grad returns, backward accumulates).
    Without targets every node runs.
    """
    root_nodes = [node for node, _ in roots]
    dependencies = _count_dependencies(root_nodes)
    captured: list = []
    capture_at: dict[Node, list] = {}
    target_nodes: set[Node] = set()
    leading: set[Node] | None = None
    running: set[Node] | None = None  # None: every node runs
    if targets is not None:
        captured = [None] * len(targets)
        for position, (node, output_nr) in enumerate(targets):
            capture_at.setdefault(node, []).append((output_nr, position))
            target_nodes.add(node)
        leading = _nodes_leading_to(root_nodes, dependencies, target_nodes)
        # What runs: the nodes leading to a target, and targeted leaves' sinks if they accumulate.
        running = leading | {node for node in target_nodes
                             if accumulate and type(node) is AccumulateGrad}

    buffers: dict[Node, list] = {}
    for (node, output_nr), grad in zip(roots, root_grads):
        _deposit(buffers, node, output_nr, grad, create_graph)
    # Gradients that may be seen elsewhere (the roots' seeds, what a node passed through
    # unchanged or sent twice): a leaf must copy these rather than keep them as its .grad.
    # By id, the value kept alive so that the id cannot be reused by a fresh gradient.
    shared = {id(grad): grad for grad in root_grads}
    # Buffer sums the engine made (and may add into in place), by id; the value keeps each
    # alive, so that its id cannot be reused by another tensor during this backward.
    owned: dict[int, Tensor] = {}

    ready: list = []
    tie = 0
    for node in dict.fromkeys(root_nodes):
        if dependencies.get(node, 0) == 0:
            ready.append((-node._sequence_nr, tie, node))
            tie += 1
    heapq.heapify(ready)

    pop, push = heapq.heappop, heapq.heappush
    take = buffers.pop
    anomaly = anomaly_mode.STATE
    previous_mode = STATE.enabled
    STATE.enabled = create_graph
    # The next node, when a node readied exactly one child while the queue was empty (a
    # chain): the queue would hand it back at once, so it skips the queue; when its only
    # gradient came from that node, the gradient skips the buffers too (following_grads).
    following = following_grads = None
    # A plain backward turns NumPy's floating-point warnings off (PyTorch has none) once for
    # tapegrad's rules, not per node, and back on for user code (hooks, custom Functions).
    quiet = not create_graph
    errors = None  # the token of the ignored error state, while it is held
    try:
        while following is not None or ready:
            if following is None:
                node = pop(ready)[2]
                grads = take(node, None) or []
            else:
                node, following = following, None
                grads, following_grads = following_grads or take(node, None) or [], None
            if owned:  # once handed to its node, a sum may be passed on: no more in-place adds
                for grad in grads:
                    if grad is not None:
                        owned.pop(id(grad), None)
            run = running is None or node in running
            hooked = node._hooked  # one flag for the four kinds of hooks a node can carry
            if quiet and (not hooked and node._own_rules and not anomaly.enabled) is (
                    errors is None):
                errors = _switch_errors(errors)
            if hooked and (node._tensor_prehooks is not None
                           or node._retain_grad_hooks is not None):
                node.run_tensor_prehooks(grads)
            if capture_at and node in capture_at:
                _capture(node, grads, capture_at[node], captured)
            edges = node._edges
            if run and (grads[0] is not None if len(grads) == 1 else
                        any(grad is not None for grad in grads)):
                if type(node) is AccumulateGrad and not hooked:
                    grad = grads[0]
                    accumulate_into(node.variable, grad, id(grad) not in shared)
                    continue  # a leaf's sink has no edges
                if hooked or anomaly.enabled:
                    outputs = _call_node(node, grads)
                else:
                    try:
                        outputs = node.apply(grads)
                    except Exception as error:
                        anomaly_mode.annotate(node, error)
                        raise
                if not keep_graph and (node._saved or node._saved_result is not None):
                    node._saved = FREED  # Node.release, inline: this runs once per node
                    node._saved_result = FREED
                if len(outputs) != len(edges):
                    outputs = list(outputs)[:len(edges)]
                    outputs += [None] * (len(edges) - len(outputs))
            else:
                outputs = [None] * len(edges)
            for (child, output_nr), grad, meta in zip(edges, outputs, node._input_meta):
                if child is None:
                    continue
                remaining = dependencies[child] - 1
                dependencies[child] = remaining
                if grad is not None:
                    if type(child) is AccumulateGrad and not create_graph and \
                            _passed_on(grad, grads, outputs):
                        shared[id(grad)] = grad
                    if meta is not None:
                        data = grad._data
                        dtype = data.dtype
                        # dtype objects are usually the same instance: try `is` first
                        if data.shape != meta[0] or (dtype is not meta[1] and dtype != meta[1]):
                            grad = _fit_gradient(node, (edges, outputs, child, output_nr),
                                                 grad, meta)
                    if output_nr == 0 and child not in buffers:
                        if remaining == 0 and following is None and not ready and targets is None:
                            following, following_grads = child, [grad]
                            continue
                        buffers[child] = [grad]
                    else:
                        _deposit(buffers, child, output_nr, grad, create_graph, owned)
                if remaining == 0 and (targets is None or child in leading
                                       or child in target_nodes):
                    if following is None and not ready:
                        following = child
                    else:
                        if following is not None:
                            if following_grads is not None:
                                buffers[following], following_grads = following_grads, None
                            push(ready, (-following._sequence_nr, tie, following))
                            tie += 1
                            following = None
                        push(ready, (-child._sequence_nr, tie, child))
                        tie += 1
    finally:
        STATE.enabled = previous_mode
        if errors is not None:
            _switch_errors(errors)
    return captured


def _switch_errors(token: Any) -> Any:
    """Turn NumPy's floating-point errors off (``token`` None; returns the new token), or
    back to the user's state (returns None)."""
    if token is None:
        BACKWARD_ERRORS.ignored = True
        return ignore_errors()
    restore_errors(token)
    BACKWARD_ERRORS.ignored = False
    return None


def _passed_on(grad: Tensor, incoming: list, outputs: list) -> bool:
    """Whether a node passed an incoming gradient through unchanged, or sent one gradient to
    two places (then a leaf must not keep it as its own .grad)."""
    for value in incoming:
        if value is grad:
            return True
    if len(outputs) > 1:
        return sum(1 for value in outputs if value is grad) > 1
    return False


def _deposit(buffers: dict, node: Node, output_nr: int, grad: Tensor,
             create_graph: bool, owned: dict | None = None) -> None:
    """Add ``grad`` into the input buffer of ``node`` at ``output_nr``.

    A sum the engine made itself (ids in ``owned``) is added into in place: a tensor used
    many times (a weight at every time step) then costs one buffer, not one per use.
    """
    buffer = buffers.get(node)
    if buffer is None:
        buffer = buffers[node] = []
    if len(buffer) <= output_nr:
        buffer.extend([None] * (output_nr + 1 - len(buffer)))
    current = buffer[output_nr]
    if owned is not None and current is not None and owned.get(id(current)) is current:
        array = current._data
        addend = grad._data
        if array.shape == addend.shape and array.dtype == addend.dtype:
            array += addend
            return
    total = _add(current, grad, create_graph)
    if owned is not None and current is not None and not create_graph:
        owned[id(total)] = total
    buffer[output_nr] = total


def _capture(node: Node, grads: list, positions: list, captured: list) -> None:
    """Keep the gradient arriving at a target edge (autograd.grad, backward(inputs=))."""
    for output_nr, position in positions:
        grad = grads[output_nr] if output_nr < len(grads) else None
        if type(node) is AccumulateGrad and grad is not None and node.variable._hooks:
            for hook in list(node.variable._hooks.values()):
                replaced = hook(grad)
                if replaced is not None:
                    grad = replaced
        captured[position] = grad


def _call_node(node: Node, grads: list) -> list:
    """Run one node's rule with its pre- and post-hooks."""
    prehooks = node._prehooks
    if prehooks:
        for hook in list(prehooks.values()):
            replaced = hook(tuple(grads))
            if replaced is not None:
                grads = list(replaced)
    if type(node) is AccumulateGrad:
        accumulate_into(node.variable, grads[0] if grads else None)
        outputs: list = []
    else:
        if anomaly_mode.STATE.enabled:
            outputs = anomaly_mode.checked_apply(node, grads)
        else:
            try:
                outputs = node.apply(grads)
            except Exception as error:
                anomaly_mode.annotate(node, error)
                raise
    hooks = node._hooks
    if hooks:
        for hook in list(hooks.values()):
            replaced = hook(tuple(outputs), tuple(grads))
            if replaced is not None:
                outputs = list(replaced)
    return outputs
