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
#
# Each step works on feature-major blocks: a step's gates are one (4H, N) array, so each gate
# is a contiguous (H, N) block and every element-wise call runs over contiguous memory (NumPy
# is about three times slower on the strided column blocks of an (N, 4H) array). One tanh call
# gives all four gates: sigmoid(x) = (1 + tanh(x / 2)) / 2, with the sigmoid gates' rows of
# the weights and bias halved beforehand (exact in floating point).


def _gate_order(xp, array, hidden_size):
    """Rows (dim 0) of a (4H, ...) array from PyTorch's gate order to the layer's, or back."""
    h = hidden_size
    return xp.concatenate([array[:2 * h], array[3 * h:], array[2 * h:3 * h]])


def _halved_sigmoid_rows(xp, array, hidden_size):
    """The rows of a (4H, ...) array in the layer's order, the sigmoid gates' rows halved, so
    that tanh of a step's pre-activations gives tanh(x / 2) for them and tanh(x) for the cell."""
    ordered = _gate_order(xp, array, hidden_size)
    ordered[:3 * hidden_size] *= 0.5
    return ordered


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
    """Gates (L, 4H, N) after their nonlinearities, cell states (L, H, N) and their tanh
    (L, H, N), all contiguous views of the flat workspace."""
    gates_end = length * batch * 4 * hidden_size
    cells_end = gates_end + length * batch * hidden_size
    gates = workspace[:gates_end].reshape(length, 4 * hidden_size, batch)
    cells = workspace[gates_end:cells_end].reshape(length, hidden_size, batch)
    tanh_cells = workspace[cells_end:].reshape(length, hidden_size, batch)
    return gates, cells, tanh_cells


def _lstm_layer(xp, input, weight_ih, weight_hh, bias_ih, bias_hh, hx, cx, reverse=False):
    """One LSTM layer over a (L, N, input_size) sequence from state (hx, cx), each (N, H);
    returns (output (L, N, H), h_n, c_n, workspace). The workspace holds what backward needs."""
    length, batch, _ = input.shape
    hidden_size = weight_hh.shape[1]
    sigmoid_end = 3 * hidden_size
    dtype = input.dtype
    workspace = xp.empty(length * batch * 6 * hidden_size, dtype)
    gates, cells, tanh_cells = _workspace_views(workspace, length, batch, hidden_size)
    # The input's projection for every step at once, written where each step's gates will go:
    # a step adds its recurrent product there, then overwrites the sum with the gates.
    xp.matmul(_halved_sigmoid_rows(xp, weight_ih, hidden_size),
              xp.ascontiguousarray(input.transpose(0, 2, 1)), out=gates)
    # The bias as a whole (4H, N) block: adding a broadcast column is four times slower.
    bias = None if bias_ih is None else xp.repeat(
        _halved_sigmoid_rows(xp, bias_ih + bias_hh, hidden_size)[:, None], batch, axis=1)
    weight = _halved_sigmoid_rows(xp, weight_hh, hidden_size)
    output = xp.empty((length, batch, hidden_size), dtype)
    recurrent = xp.empty((4 * hidden_size, batch), dtype)
    product = xp.empty((hidden_size, batch), dtype)
    h, c = hx.T, cx.T
    # Each step's h, contiguous (H, N): the next product reads it faster than a transposed view
    hidden = xp.empty((hidden_size, batch), dtype)
    forget = slice(hidden_size, 2 * hidden_size)
    out_gate = slice(2 * hidden_size, sigmoid_end)
    cell_gate = slice(sigmoid_end, None)
    with quiet():  # PyTorch never warns; NumPy would, for inf and nan in the inputs
        for step in range(length):
            time = length - 1 - step if reverse else step
            gate = gates[time]
            xp.matmul(weight, h, out=recurrent)
            gate += recurrent
            if bias is not None:
                gate += bias
            xp.tanh(gate, out=gate)
            sigmoid = gate[:sigmoid_end]
            sigmoid *= 0.5
            sigmoid += 0.5  # sigmoid(x) = (1 + tanh(x / 2)) / 2
            c_new = cells[time]
            xp.multiply(gate[forget], c, out=c_new)
            xp.multiply(gate[:hidden_size], gate[cell_gate], out=product)
            c_new += product
            tanh_cell = tanh_cells[time]
            xp.tanh(c_new, out=tanh_cell)
            h = hidden
            xp.multiply(gate[out_gate], tanh_cell, out=h)
            output[time] = h.T
            c = c_new
    return output, h.T.copy(), c.T.copy(), workspace


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
        reached = [(output, value) for output, value in zip(_composite_layer(*aliases, reverse),
                                                             grad[:3]) if value is not None]
        found = autograd_grad([output for output, _ in reached],
                              [aliases[index] for index in wanted],
                              [value for _, value in reached], create_graph=True,
                              allow_unused=True)
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
    # None where no gradient reached an output (the sequence is often unused): skipped.
    grad_output, grad_hy, grad_cy = (None if value is None else value._data
                                     for value in grad[:3])
    output, workspace = results[0]._data, results[3]._data
    length, batch, input_size = input.shape
    hidden_size = weight_hh.shape[1]
    gate_size = 4 * hidden_size
    sigmoid_end = 3 * hidden_size
    dtype = output.dtype
    gates, cells, tanh_cells = _workspace_views(workspace, length, batch, hidden_size)
    # The weights unscaled: gradients are with respect to each gate's own pre-activation,
    # whatever scaling the forward used to compute the gate.
    weight = _gate_order(xp, weight_hh, hidden_size)
    grad_gates = _scratch(xp, "grad_gates", gates.shape, dtype)  # (L, 4H, N)
    # Fresh (H, N) arrays, added into.
    grad_h = xp.zeros((hidden_size, batch), dtype) if grad_hy is None else \
        xp.array(grad_hy.T, dtype, order="C")
    grad_c = xp.zeros((hidden_size, batch), dtype) if grad_cy is None else \
        xp.array(grad_cy.T, dtype, order="C")
    derivative = xp.empty((gate_size, batch), dtype)
    through_cell = xp.empty((hidden_size, batch), dtype)
    forget = slice(hidden_size, 2 * hidden_size)
    out_gate = slice(2 * hidden_size, sigmoid_end)
    cell_gate = slice(sigmoid_end, None)
    for step in range(length - 1, -1, -1):
        time = length - 1 - step if reverse else step
        if grad_output is not None:
            grad_h += grad_output[time].T
        gate, grad_gate, tanh_cell = gates[time], grad_gates[time], tanh_cells[time]
        if step:
            c_previous = cells[time + 1] if reverse else cells[time - 1]
        else:
            c_previous = cx.T
        xp.multiply(grad_h, tanh_cell, out=grad_gate[out_gate])
        # The path from h to c: grad_c += grad_h * o * (1 - tanh(c)^2).
        xp.multiply(tanh_cell, tanh_cell, out=through_cell)
        xp.subtract(1, through_cell, out=through_cell)
        through_cell *= gate[out_gate]
        through_cell *= grad_h
        grad_c += through_cell
        xp.multiply(grad_c, gate[cell_gate], out=grad_gate[:hidden_size])
        xp.multiply(grad_c, c_previous, out=grad_gate[forget])
        xp.multiply(grad_c, gate[:hidden_size], out=grad_gate[cell_gate])
        grad_c *= gate[forget]
        # Each gate's derivative at its pre-activation: s (1 - s) for the sigmoids, 1 - g^2
        # for the cell gate's tanh.
        xp.multiply(gate, gate, out=derivative)
        xp.subtract(gate[:sigmoid_end], derivative[:sigmoid_end], out=derivative[:sigmoid_end])
        xp.subtract(1, derivative[sigmoid_end:], out=derivative[sigmoid_end:])
        grad_gate *= derivative
        if step or needs[5]:
            xp.matmul(weight.T, grad_gate, out=grad_h)
    # (4H, L*N): the steps' gate gradients side by side, so that each weight's gradient (a sum
    # over steps of products) is one product.
    flat = grad_gates.transpose(1, 0, 2).reshape(gate_size, length * batch)
    grads: list = [None] * 7
    if needs[0]:
        weight_ih_ordered = _gate_order(xp, weight_ih, hidden_size)
        grads[0] = xp.matmul(flat.T, weight_ih_ordered).reshape(length, batch, input_size)
    if needs[1]:
        grads[1] = _gate_order(xp, xp.matmul(flat, input.reshape(length * batch, -1)),
                               hidden_size)
    if needs[2]:
        # h before each step: hx at the first step processed, else the neighbouring output.
        steps = batch * (length - 1)
        if reverse:
            grad_weight = xp.matmul(flat[:, :steps], output[1:].reshape(-1, hidden_size))
            grad_weight += xp.matmul(flat[:, steps:], hx)
        else:
            grad_weight = xp.matmul(flat[:, batch:], output[:-1].reshape(-1, hidden_size))
            grad_weight += xp.matmul(flat[:, :batch], hx)
        grads[2] = _gate_order(xp, grad_weight, hidden_size)
    if bias_ih is not None and (needs[3] or needs[4]):
        # A product with ones: a quarter of the time of sum(1) here.
        grad_bias = _gate_order(xp, xp.matmul(flat, xp.ones(length * batch, dtype)),
                                hidden_size)
        grads[3] = grad_bias if needs[3] else None
        grads[4] = grad_bias.copy() if needs[4] else None
    if needs[5]:
        grads[5] = xp.ascontiguousarray(grad_h.T)
    if needs[6]:
        grads[6] = xp.ascontiguousarray(grad_c.T)
    return tuple(None if value is None else wrap(value) for value in grads)


_SHAPES = ((5, 3, 4), (20, 4), (20, 5), (20,), (20,), (3, 5), (3, 5))
_SHORT = ((1, 2, 3), (8, 3), (8, 2), (8,), (8,), (2, 2), (2, 2))

lstm_layer_op = defop(
    _lstm_layer, name="mkldnn_rnn_layer", node="MkldnnRnnLayerBackward0", inputs=7,
    outputs=4, differentiable_outputs=(0, 1, 2), function=False, backward=_lstm_layer_rule,
    materialize_grads=False,
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
