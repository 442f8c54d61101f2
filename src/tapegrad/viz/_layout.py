"""Layered drawing of a DAG: layers by longest path, barycentre ordering, non-overlapping boxes."""

from __future__ import annotations

from dataclasses import dataclass, field

# Spacing in SVG pixels.
MARGIN = 20.0
NODE_GAP = 24.0  # between two boxes of one layer
DUMMY_WIDTH = 10.0  # the slot a long edge takes when it passes through a layer
LAYER_GAP = 46.0  # between two layers (room for the edges' curves and arrowheads)
DUMMY_BUDGET = 6000  # at most this many pass-through slots for long edges


@dataclass
class Layout:
    """Box centres and sizes per node, and a polyline per edge (from source to target)."""

    boxes: list[tuple[float, float, float, float]]  # (x, y, width, height): top-left corner
    routes: list[list[tuple[float, float]]]
    width: float
    height: float
    layers: list[int] = field(default_factory=list)


def _longest_path_layers(count: int, edges: list[tuple[int, int]]) -> list[int]:
    """Layer 0 holds the sinks (the roots of the autograd graph); every edge goes down >= 1."""
    successors: list[list[int]] = [[] for _ in range(count)]
    predecessors: list[list[int]] = [[] for _ in range(count)]
    for source, target in edges:
        successors[source].append(target)
        predecessors[target].append(source)
    pending = [len(set(successors[node])) for node in range(count)]
    layer = [0] * count
    ready = [node for node in range(count) if pending[node] == 0]
    seen_edges: list[set] = [set() for _ in range(count)]
    while ready:  # Kahn's order from the sinks, no recursion (deep graphs work)
        node = ready.pop()
        for source in predecessors[node]:
            if node in seen_edges[source]:
                continue
            seen_edges[source].add(node)
            layer[source] = max(layer[source], layer[node] + 1)
            pending[source] -= 1
            if pending[source] == 0:
                ready.append(source)
    return layer


def _count_crossings(upper: list[int], lower_position: dict[int, int],
                     down: dict[int, list[int]], upper_position: dict[int, int]) -> int:
    """Crossings between the edges joining one layer to the layer below it (a Fenwick count)."""
    pairs = sorted((upper_position[node], lower_position[target])
                   for node in upper for target in down.get(node, ()))
    if not pairs:
        return 0
    size = max(p for _, p in pairs) + 2
    tree = [0] * (size + 1)
    crossings = 0
    for seen, (_, position) in enumerate(pairs):
        index = position + 1
        not_greater = 0
        while index > 0:
            not_greater += tree[index]
            index -= index & -index
        crossings += seen - not_greater
        index = position + 1
        while index <= size:
            tree[index] += 1
            index += index & -index
    return crossings


def _isotonic(targets: list[float], weights: list[float]) -> list[float]:
    """Least-squares non-decreasing fit (pool adjacent violators)."""
    blocks: list[list[float]] = []  # [mean, weight, count]
    for value, weight in zip(targets, weights):
        blocks.append([value, weight, 1])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            mean2, weight2, count2 = blocks.pop()
            mean1, weight1, count1 = blocks.pop()
            total = weight1 + weight2
            blocks.append([(mean1 * weight1 + mean2 * weight2) / total, total, count1 + count2])
    result: list[float] = []
    for mean, _, count in blocks:
        result.extend([mean] * int(count))
    return result


def _place_row(order: list[int], widths: list[float], desired: list[float]) -> list[float]:
    """Centres closest to ``desired`` that keep ``order`` and leave NODE_GAP between boxes."""
    offsets = [0.0]
    for left, right in zip(order, order[1:]):
        offsets.append(offsets[-1] + (widths[left] + widths[right]) / 2 + NODE_GAP)
    shifted = [want - offset for want, offset in zip(desired, offsets)]
    fitted = _isotonic(shifted, [1.0] * len(order))
    return [value + offset for value, offset in zip(fitted, offsets)]


def layout(sizes: list[tuple[float, float]], edges: list[tuple[int, int]]) -> Layout:
    """Lay out nodes of the given (width, height) joined by ``edges`` (source drawn above)."""
    count = len(sizes)
    if count == 0:
        return Layout([], [], 2 * MARGIN, 2 * MARGIN)
    layer = _longest_path_layers(count, edges)
    widths = [w for w, _ in sizes]
    heights = [h for _, h in sizes]

    # Long edges get one dummy node per layer they pass, so that ordering sees them.
    # Very large graphs would need too many: there the longest edges go straight (a curve that
    # may pass behind boxes), which keeps the layout fast; boxes still never overlap.
    spans = sorted(range(len(edges)), key=lambda e: layer[edges[e][0]] - layer[edges[e][1]])
    budget, routed = DUMMY_BUDGET, set()
    for index in spans:
        cost = layer[edges[index][0]] - layer[edges[index][1]] - 1
        if cost > budget:
            break
        budget -= cost
        routed.add(index)
    chains: list[list[int]] = []
    for index, (source, target) in enumerate(edges):
        chain = [source]
        if index not in routed:
            chains.append([source, target])
            continue
        for between in range(layer[source] - 1, layer[target], -1):
            layer.append(between)
            widths.append(DUMMY_WIDTH)
            heights.append(0.0)
            chain.append(len(layer) - 1)
        chain.append(target)
        chains.append(chain)
    total = len(layer)
    down: dict[int, list[int]] = {}
    up: dict[int, list[int]] = {}
    for chain in chains:
        for source, target in zip(chain, chain[1:]):
            down.setdefault(source, []).append(target)
            up.setdefault(target, []).append(source)

    depth = max(layer) + 1
    rows: list[list[int]] = [[] for _ in range(depth)]
    # Initial order: a depth-first walk from the sinks, inputs left to right.
    visited = [False] * total
    for start in range(total):
        if visited[start] or down.get(start):
            continue
        stack = [start]
        while stack:
            node = stack.pop()
            if visited[node]:
                continue
            visited[node] = True
            rows[layer[node]].append(node)
            stack.extend(reversed(up.get(node, [])))
    for node in range(total):
        if not visited[node]:
            rows[layer[node]].append(node)

    position = {node: index for row in rows for index, node in enumerate(row)}

    def crossings() -> int:
        return sum(_count_crossings(rows[level + 1], position, down, position)
                   for level in range(depth - 1))

    best = [list(row) for row in rows]
    best_crossings = crossings()
    sweeps = 12 if total < 5000 else 4
    for sweep in range(sweeps):
        if best_crossings == 0:
            break
        levels = range(1, depth) if sweep % 2 == 0 else range(depth - 2, -1, -1)
        neighbours = down if sweep % 2 == 0 else up
        for level in levels:
            keyed = []
            for index, node in enumerate(rows[level]):
                near = neighbours.get(node)
                centre = (sum(position[n] for n in near) / len(near)) if near else index
                keyed.append((centre, index, node))
            rows[level] = [node for _, _, node in sorted(keyed)]
            for index, node in enumerate(rows[level]):
                position[node] = index
        current = crossings()
        if current < best_crossings:
            best_crossings = current
            best = [list(row) for row in rows]
    rows = best

    # x: pack each row, then pull nodes towards their neighbours' centres (keeping the gaps).
    centre_x = [0.0] * total
    for row in rows:
        cursor = 0.0
        for node in row:
            centre_x[node] = cursor + widths[node] / 2
            cursor += widths[node] + NODE_GAP
    for sweep in range(8):
        levels = range(depth) if sweep % 2 == 0 else range(depth - 1, -1, -1)
        for level in levels:
            row = rows[level]
            desired = []
            for node in row:
                near = (up.get(node, []) + down.get(node, [])) if sweep >= 2 else (
                    down.get(node, []) if sweep % 2 == 0 else up.get(node, []))
                desired.append(sum(centre_x[n] for n in near) / len(near) if near
                               else centre_x[node])
            for node, x in zip(row, _place_row(row, widths, desired)):
                centre_x[node] = x
    left = min(centre_x[node] - widths[node] / 2 for node in range(total))
    centre_x = [x - left + MARGIN for x in centre_x]

    # y: the deepest layer (the leaves) on top, each row as tall as its tallest box.
    row_top = [0.0] * depth
    row_height = [max((heights[node] for node in row), default=0.0) for row in rows]
    cursor = MARGIN
    for level in range(depth - 1, -1, -1):
        row_top[level] = cursor
        cursor += row_height[level] + LAYER_GAP
    height = cursor - LAYER_GAP + MARGIN
    centre_y = [row_top[layer[node]] + row_height[layer[node]] / 2 for node in range(total)]
    width = max(centre_x[node] + widths[node] / 2 for node in range(total)) + MARGIN

    boxes = [(centre_x[node] - widths[node] / 2, centre_y[node] - heights[node] / 2,
              widths[node], heights[node]) for node in range(count)]
    routes = _route(chains, centre_x, row_top, row_height, layer, widths, heights, centre_y)
    return Layout(boxes, routes, width, height, layer[:count])


def _route(chains: list[list[int]], centre_x: list[float], row_top: list[float],
           row_height: list[float], layer: list[int], widths: list[float],
           heights: list[float], centre_y: list[float]) -> list[list[tuple[float, float]]]:
    """Polylines: leave the source's bottom, pass dummies vertically, enter the target's top.

    Several edges at one box side get ports spread along it, ordered by where the edge goes,
    so that they neither overlap nor cross right at the box.
    """
    outgoing: dict[int, list[tuple[float, int]]] = {}
    incoming: dict[int, list[tuple[float, int]]] = {}
    for index, chain in enumerate(chains):
        outgoing.setdefault(chain[0], []).append((centre_x[chain[1]], index))
        incoming.setdefault(chain[-1], []).append((centre_x[chain[-2]], index))

    def ports(table: dict[int, list[tuple[float, int]]]) -> dict[tuple[int, int], float]:
        result = {}
        for node, items in table.items():
            items.sort()
            span = min(0.7 * widths[node], 14.0 * (len(items) - 1))
            for rank, (_, index) in enumerate(items):
                offset = 0.0 if len(items) == 1 else -span / 2 + span * rank / (len(items) - 1)
                result[(node, index)] = centre_x[node] + offset
        return result

    out_port = ports(outgoing)
    in_port = ports(incoming)
    routes = []
    for index, chain in enumerate(chains):
        source, target = chain[0], chain[-1]
        points = [(out_port[(source, index)], centre_y[source] + heights[source] / 2)]
        for dummy in chain[1:-1]:
            top = row_top[layer[dummy]]
            points.append((centre_x[dummy], top))
            points.append((centre_x[dummy], top + row_height[layer[dummy]]))
        points.append((in_port[(target, index)], centre_y[target] - heights[target] / 2))
        routes.append(points)
    return routes
