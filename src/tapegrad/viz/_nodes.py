"""What a recorded Node holds, read generically: input names, saved values, the graph's nodes."""

from __future__ import annotations

from typing import Any

from ..autograd.graph import FREED, AccumulateGrad, Node


def node_label(node: Node) -> str:
    """The class name PyTorch shows in pictures: ``MulBackward0``, ``AccumulateGrad``."""
    return type(node).__name__


def input_names(node: Node) -> list[str]:
    """One name per edge: the op's parameter names (``input``, ``other``), else ``input i``."""
    edges = node._edges
    op = getattr(node, "_op", None)
    names = list(getattr(op, "input_names", ()) or ())
    if len(names) == len(edges):
        return names
    if len(names) == 1 and edges:  # a sequence input (cat, stack): one name, many tensors
        return [f"{names[0]}[{index}]" for index in range(len(edges))]
    return [f"input {index}" for index in range(len(edges))]


def saved_values(node: Node) -> list[tuple[str, Any]] | None:
    """``[(name, tensor or number), ...]`` the node saved for its rule; None once freed."""
    if isinstance(node, AccumulateGrad):
        return []
    saved = node._saved
    if saved is FREED or node._saved_result is FREED:
        return None
    result: list[tuple[str, Any]] = []
    op = getattr(node, "_op", None)
    if op is not None:
        names = input_names(node)
        for index, value in enumerate(saved or ()):
            if value is not None:
                name = names[index] if index < len(names) else f"input {index}"
                result.append((name, value))
        outputs = node._saved_result
        if outputs is not None:
            for index, array in enumerate(outputs):
                result.append(("result" if len(outputs) == 1 else f"result{index}", array))
        return result
    # Nodes that are not made by defop (custom Functions): whatever they keep in _saved.
    tensors = getattr(node, "_saved_tensors_for_display", None)
    values = tensors if tensors is not None else saved
    try:
        values = list(values or ())
    except TypeError:
        values = []
    return [(f"saved {index}", value) for index, value in enumerate(values)
            if value is not None]


def walk(roots: list[Node]) -> list[Node]:
    """Every node reachable from ``roots``, each once, in depth-first discovery order."""
    seen: set[int] = set()
    order: list[Node] = []
    stack = list(reversed(roots))
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        order.append(node)
        for child, _ in reversed(node._edges):
            if child is not None and id(child) not in seen:
                stack.append(child)
    return order


def output_metas(roots: list[tuple[Node, int, Any]], nodes: list[Node]) -> dict[int, dict]:
    """``{id(node): {output_nr: (shape, dtype)}}`` read from the consumers' recorded inputs."""
    metas: dict[int, dict] = {}
    for node, output_nr, tensor in roots:
        metas.setdefault(id(node), {})[output_nr] = (tuple(tensor.shape), tensor._data.dtype)
    for node in nodes:
        multi = node._output_meta
        if multi:
            for index, meta in enumerate(multi):
                metas.setdefault(id(node), {})[index] = (tuple(meta[0]), meta[1])
        for (child, output_nr), meta in zip(node._edges, node._input_meta):
            if child is not None and meta is not None:
                metas.setdefault(id(child), {}).setdefault(output_nr, (tuple(meta[0]), meta[1]))
    return metas
