"""Recurrent primitives: one LSTM layer over a whole sequence as one node (PyTorch's fused
float32 CPU path, MkldnnRnnLayerBackward0), with hand-written backpropagation through time."""

from __future__ import annotations

import threading

from .._backend import quiet
from .._tensor import Tensor, wrap
from ..autograd.grad_mode import STATE
from . import _samples as samples
from ._registry import defop

Sample = samples.Sample

# Inside the layer the gates are kept in the order (input, forget, output, cell) rather than
# PyTorch's (input, forget, cell, output): the three sigmoid gates are then one contiguous
# block. Swapping the last two blocks is its own inverse, so the same function maps back.


def _gate_order(xp, array, hidden_size):
    """Rows (dim 0) of a (4H, ...) array from PyTorch's gate order to the layer's, or back."""
    h = hidden_size
    return xp.concatenate([array[:2 * h], array[3 * h:], array[2 * h:3 * h]])


def _exponent_scale(xp, array, hidden_size):
    """The layer's rows scaled so that one exp gives every gate: exp(-x) for the sigmoid gates
    and exp(-2x) for the cell gate, whose tanh(x) = 2 sigmoid(2x) - 1. Scaling by -1 and -2 is
    exact in floating point, so nothing is lost before the exp."""
    scaled = _gate_order(xp, array, hidden_size)
    scaled[:3 * hidden_size] *= -1
    scaled[3 * hidden_size:] *= -2
    return scaled


_SCRATCH = threading.local()


def _scratch(xp, name, shape, dtype):
    """A scratch array kept per thread for temporaries that never leave one call: fresh
    megabyte-sized arrays every step cost more in page faults than the arithmetic on them."""
    buffers = _SCRATCH.__dict__.setdefault("buffers", {})
    array = buffers.get(name)
    if array is None or array.shape != shape or array.dtype != dtype:
        array = buffers[name] = xp.empty(shape, dtype)
    return array


def _workspace_views(workspace, length, batch, hidden_size):
    """Gates (L, N, 4H) after their nonlinearities, cell states (L, N, H) and their tanh
    (L, N, H), all contiguous views of the flat workspace."""
    gates_end = length * batch * 4 * hidden_size
    cells_end = gates_end + length * batch * hidden_size
    gates = workspace[:gates_end].reshape(length, batch, 4 * hidden_size)
    cells = workspace[gates_end:cells_end].reshape(length, batch, hidden_size)
    tanh_cells = workspace[cells_end:].reshape(length, batch, hidden_size)
    return gates, cells, tanh_cells


def _lstm_layer(xp, input, weight_ih, weight_hh, bias_ih, bias_hh, hx, cx, reverse=False):
    """One LSTM layer over a (L, N, input_size) sequence from state (hx, cx), each (N, H);
    returns (output (L, N, H), h_n, c_n, workspace). The workspace holds what backward needs."""
    length, batch, _ = input.shape
    hidden_size = weight_hh.shape[1]
    gate_size = 4 * hidden_size
    dtype = input.dtype
    workspace = xp.empty(length * batch * 6 * hidden_size, dtype)
    gates, cells, tanh_cells = _workspace_views(workspace, length, batch, hidden_size)
    # The input's projection for every step at once (biases folded in), written where each
    # step's gates will go: a step reads its projection there, then overwrites it.
    xp.matmul(input.reshape(length * batch, -1), _exponent_scale(xp, weight_ih, hidden_size).T,
              out=gates.reshape(length * batch, gate_size))
    if bias_ih is not None:
        gates += _exponent_scale(xp, bias_ih + bias_hh, hidden_size)
    weight_hh_scaled = xp.ascontiguousarray(_exponent_scale(xp, weight_hh, hidden_size).T)
    output = xp.empty((length, batch, hidden_size), dtype)
    pre = xp.empty((batch, gate_size), dtype)
    product = xp.empty((batch, hidden_size), dtype)
    h, c = hx, cx
    forget = slice(hidden_size, 2 * hidden_size)
    out_gate = slice(2 * hidden_size, 3 * hidden_size)
    cell_gate = slice(3 * hidden_size, None)
    with quiet():  # exp overflows to inf for saturated gates: 1 / (1 + inf) is the right 0
        for step in range(length):
            time = length - 1 - step if reverse else step
            gate = gates[time]
            xp.matmul(h, weight_hh_scaled, out=pre)
            pre += gate
            xp.exp(pre, out=pre)
            pre += 1
            xp.divide(1, pre, out=gate)  # sigmoid of every gate (of 2x for the cell gate)
            candidate = gate[:, cell_gate]
            candidate *= 2
            candidate -= 1  # tanh(x) = 2 sigmoid(2x) - 1
            c_new = cells[time]
            xp.multiply(gate[:, forget], c, out=c_new)
            xp.multiply(gate[:, :hidden_size], candidate, out=product)
            c_new += product
            tanh_cell = tanh_cells[time]
            xp.tanh(c_new, out=tanh_cell)
            h = output[time]
            xp.multiply(gate[:, out_gate], tanh_cell, out=h)
            c = c_new
    return output, h.copy(), c.copy(), workspace


def _composite_layer(input, weight_ih, weight_hh, bias_ih, bias_hh, hx, cx, reverse):
    """The same layer in tapegrad ops (differentiable to any order), for create_graph."""
    import tapegrad

    projected = input.matmul(weight_ih.t())
    if bias_ih is not None:
        projected = projected + bias_ih
    steps = projected.unbind(0)
    length = len(steps)
    outputs: list = [None] * length
    h, c = hx, cx
    for step in range(length):
        time = length - 1 - step if reverse else step
        gates = steps[time] + h.matmul(weight_hh.t())
        if bias_hh is not None:
            gates = gates + bias_hh
        input_gate, forget_gate, cell_gate, output_gate = gates.chunk(4, -1)
        c = forget_gate.sigmoid() * c + input_gate.sigmoid() * cell_gate.tanh()
        h = output_gate.sigmoid() * c.tanh()
        outputs[time] = h
    return tapegrad.stack(outputs, 0), h, c


def _lstm_layer_rule(grad, input, weight_ih, weight_hh, bias_ih, bias_hh, hx, cx, reverse,
                     results, ctx):
    needs = ctx.needs_input_grad
    inputs = (input, weight_ih, weight_hh, bias_ih, bias_hh, hx, cx)
    if STATE.enabled:  # create_graph: differentiate the recomputed layer, keeping its graph
        from ..autograd import grad as autograd_grad

        wanted = [index for index, needed in enumerate(needs) if needed]
        # Each input through its own alias: a tensor given twice (hx as cx) then gets the
        # gradient of each use at its own edge, not their sum at both.
        aliases = tuple(None if value is None else value.view_as(value) for value in inputs)
        outputs = _composite_layer(*aliases, reverse)
        found = autograd_grad(outputs, [aliases[index] for index in wanted], grad[:3],
                              create_graph=True, allow_unused=True)
        grads: list = [None] * len(inputs)
        for index, value in zip(wanted, found):
            grads[index] = value
        return tuple(grads)
    return _backpropagate(grad, inputs, reverse, results, needs)


def _backpropagate(grad, inputs, reverse, results, needs):
    """Backpropagation through time on arrays (the engine is not recording a graph)."""
    from .._backend import numpy_namespace as xp

    input, weight_ih, weight_hh, bias_ih, _, hx, cx = (
        None if value is None else value._data for value in inputs)
    grad_output, grad_hy, grad_cy = (value._data for value in grad[:3])
    output, workspace = results[0]._data, results[3]._data
    length, batch, input_size = input.shape
    hidden_size = weight_hh.shape[1]
    gate_size = 4 * hidden_size
    dtype = output.dtype
    gates, cells, tanh_cells = _workspace_views(workspace, length, batch, hidden_size)
    sigmoid_end = 3 * hidden_size
    # Batched over all steps: each gate's derivative at its pre-activation (s (1 - s) for
    # the sigmoids, 1 - g^2 for the tanh), and o (1 - tanh(c)^2), the path from h to c.
    derivative = xp.square(gates, out=_scratch(xp, "derivative", gates.shape, dtype))
    xp.subtract(gates[..., :sigmoid_end], derivative[..., :sigmoid_end],
                out=derivative[..., :sigmoid_end])
    xp.subtract(1, derivative[..., sigmoid_end:], out=derivative[..., sigmoid_end:])
    through_cell = xp.square(tanh_cells, out=_scratch(xp, "through_cell", tanh_cells.shape,
                                                      dtype))
    xp.subtract(1, through_cell, out=through_cell)
    through_cell *= gates[..., 2 * hidden_size:sigmoid_end]
    weight_hh_ordered = _gate_order(xp, weight_hh, hidden_size)
    grad_pre = _scratch(xp, "grad_pre", gates.shape, dtype)
    grad_h = grad_hy.astype(dtype, copy=True)
    grad_c = grad_cy.astype(dtype, copy=True)
    product = xp.empty((batch, hidden_size), dtype)
    forget = slice(hidden_size, 2 * hidden_size)
    out_gate = slice(2 * hidden_size, sigmoid_end)
    cell_gate = slice(sigmoid_end, None)
    for step in range(length - 1, -1, -1):
        time = length - 1 - step if reverse else step
        grad_h += grad_output[time]
        gate, grad_gate = gates[time], grad_pre[time]
        if step:
            c_previous = cells[time + 1] if reverse else cells[time - 1]
        else:
            c_previous = cx
        xp.multiply(grad_h, through_cell[time], out=product)
        grad_c += product
        xp.multiply(grad_h, tanh_cells[time], out=grad_gate[:, out_gate])
        xp.multiply(grad_c, gate[:, cell_gate], out=grad_gate[:, :hidden_size])
        xp.multiply(grad_c, c_previous, out=grad_gate[:, forget])
        xp.multiply(grad_c, gate[:, :hidden_size], out=grad_gate[:, cell_gate])
        grad_c *= gate[:, forget]
        grad_gate *= derivative[time]
        if step or needs[5]:
            xp.matmul(grad_gate, weight_hh_ordered, out=grad_h)
    flat = grad_pre.reshape(length * batch, gate_size)
    grads: list = [None] * 7
    if needs[0]:
        weight_ih_ordered = _gate_order(xp, weight_ih, hidden_size)
        grads[0] = xp.matmul(flat, weight_ih_ordered).reshape(length, batch, input_size)
    if needs[1]:
        grads[1] = _gate_order(xp, xp.matmul(input.reshape(length * batch, -1).T, flat).T,
                               hidden_size)
    if needs[2]:
        # h before each step: hx at the first step processed, else the neighbouring output.
        if reverse:
            grad_weight = xp.matmul(output[1:].reshape(-1, hidden_size).T,
                                    grad_pre[:-1].reshape(-1, gate_size))
            grad_weight += xp.matmul(hx.T, grad_pre[-1])
        else:
            grad_weight = xp.matmul(output[:-1].reshape(-1, hidden_size).T,
                                    grad_pre[1:].reshape(-1, gate_size))
            grad_weight += xp.matmul(hx.T, grad_pre[0])
        grads[2] = _gate_order(xp, grad_weight.T, hidden_size)
    if bias_ih is not None and (needs[3] or needs[4]):
        grad_bias = _gate_order(xp, flat.sum(0), hidden_size)
        grads[3] = grad_bias if needs[3] else None
        grads[4] = grad_bias.copy() if needs[4] else None
    if needs[5]:
        grads[5] = grad_h
    if needs[6]:
        grads[6] = grad_c
    return tuple(None if value is None else wrap(value) for value in grads)


_SHAPES = ((5, 3, 4), (20, 4), (20, 5), (20,), (20,), (3, 5), (3, 5))
_SHORT = ((1, 2, 3), (8, 3), (8, 2), (8,), (8,), (2, 2), (2, 2))

lstm_layer_op = defop(
    _lstm_layer, name="mkldnn_rnn_layer", node="MkldnnRnnLayerBackward0", inputs=7,
    outputs=4, differentiable_outputs=(0, 1, 2), function=False, backward=_lstm_layer_rule,
    samples=[Sample(_SHAPES, args=(False,), domain=(-1.0, 1.0)),
             Sample(_SHAPES, args=(True,), domain=(-1.0, 1.0)),
             Sample(_SHORT, args=(False,), domain=(-1.5, 1.5))])


def lstm_layer(input: Tensor, weight_ih: Tensor, weight_hh: Tensor, bias_ih: Tensor | None,
               bias_hh: Tensor | None, hx: Tensor, cx: Tensor,
               reverse: bool = False) -> tuple[Tensor, Tensor, Tensor]:
    """One LSTM layer (one direction) over a (L, N, input_size) sequence as one node, as
    PyTorch's fused CPU path records it; returns (output, h_n, c_n)."""
    output, h_n, c_n, _ = lstm_layer_op.function(input, weight_ih, weight_hh, bias_ih, bias_hh,
                                                 hx, cx, reverse)
    return output, h_n, c_n
