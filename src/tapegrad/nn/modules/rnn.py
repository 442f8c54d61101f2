"""Recurrent layers RNN, LSTM, GRU (multi-layer, bidirectional, batch_first, dropout between
layers), written as loops over time of tapegrad ops, so autograd differentiates them; a float32
LSTM runs each layer and direction as one fused node, where PyTorch does."""

from __future__ import annotations

import math
from typing import Any

from ... import _creation, _dtype
from ..._tensor import Tensor
from ...ops.rnn import lstm_layer
from .. import functional as F
from .. import init
from ..parameter import Parameter
from .module import Module

_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


def _stack(tensors: list[Tensor], dim: int) -> Tensor:
    import tapegrad

    return tapegrad.stack(tensors, dim)


def _cat(tensors: list[Tensor], dim: int) -> Tensor:
    import tapegrad

    return tapegrad.cat(tensors, dim)


class RNNBase(Module):
    """Weights named as PyTorch's (weight_ih_l0, bias_hh_l1_reverse, ...), all drawn from
    U(-1/sqrt(hidden_size), 1/sqrt(hidden_size))."""

    def __init__(self, mode: str, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, proj_size: int = 0, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__()
        if not isinstance(dropout, (int, float)) or not 0 <= dropout <= 1 or isinstance(
                dropout, bool):
            raise ValueError("dropout should be a number in range [0, 1] representing the "
                             "probability of an element being zeroed")
        if not isinstance(hidden_size, int):
            raise TypeError(f"hidden_size should be of type int, got: "
                            f"{type(hidden_size).__name__}")
        if hidden_size <= 0:
            raise ValueError("hidden_size must be greater than zero")
        if num_layers <= 0:
            raise ValueError("num_layers must be greater than zero")
        if proj_size != 0:
            raise NotImplementedError("proj_size is not supported by tapegrad's LSTM")
        self.mode = mode
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = float(dropout)
        self.bidirectional = bidirectional
        self.proj_size = proj_size
        directions = 2 if bidirectional else 1
        gate_size = _GATES[mode] * hidden_size
        self._flat_weights_names: list[str] = []
        for layer in range(num_layers):
            layer_input = input_size if layer == 0 else hidden_size * directions
            for direction in range(directions):
                suffix = f"_l{layer}" + ("_reverse" if direction == 1 else "")
                shapes = [("weight_ih", (gate_size, layer_input)),
                          ("weight_hh", (gate_size, hidden_size))]
                if bias:
                    shapes += [("bias_ih", (gate_size,)), ("bias_hh", (gate_size,))]
                for name, shape in shapes:
                    setattr(self, name + suffix, Parameter(_creation.empty(shape, dtype=dtype)))
                    self._flat_weights_names.append(name + suffix)
        self.reset_parameters()

    @property
    def _flat_weights(self) -> list[Tensor]:
        return [getattr(self, name) for name in self._flat_weights_names]

    @property
    def all_weights(self) -> list[list[Tensor]]:
        per = 4 if self.bias else 2
        weights = self._flat_weights
        return [weights[i:i + per] for i in range(0, len(weights), per)]

    def flatten_parameters(self) -> None:
        """A no-op here (cuDNN weight packing); kept for PyTorch code that calls it."""

    def reset_parameters(self) -> None:
        bound = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for weight in self.parameters():
            init.uniform_(weight, -bound, bound)

    def extra_repr(self) -> str:
        text = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size != 0:
            text += f", proj_size={self.proj_size}"
        if self.num_layers != 1:
            text += f", num_layers={self.num_layers}"
        if self.bias is not True:
            text += f", bias={self.bias}"
        if self.batch_first is not False:
            text += f", batch_first={self.batch_first}"
        if self.dropout != 0:
            text += f", dropout={self.dropout}"
        if self.bidirectional is not False:
            text += f", bidirectional={self.bidirectional}"
        return text

    # --- the recurrence --------------------------------------------------------------------
    def _cell(self, gates_x: Tensor, state: Any, weight_hh: Tensor,
              bias_hh: Tensor | None) -> Any:
        """One time step: ``gates_x`` is the input's projection; returns the new state."""
        hidden = state[0] if self.mode == "LSTM" else state
        gates_h = hidden.matmul(weight_hh.t())
        if bias_hh is not None:
            gates_h = gates_h + bias_hh
        size = self.hidden_size
        if self.mode == "RNN_TANH":
            return (gates_x + gates_h).tanh()
        if self.mode == "RNN_RELU":
            return (gates_x + gates_h).relu()
        if self.mode == "GRU":
            reset = (gates_x[..., :size] + gates_h[..., :size]).sigmoid()
            update = (gates_x[..., size:2 * size] + gates_h[..., size:2 * size]).sigmoid()
            candidate = (gates_x[..., 2 * size:] + reset * gates_h[..., 2 * size:]).tanh()
            return (1 - update) * candidate + update * hidden
        # chunk, not four slices: its backward is one concatenation rather than four
        # zero-filled full-size gradients summed.
        input_gate, forget_gate, cell_gate, output_gate = (gates_x + gates_h).chunk(4, -1)
        input_gate, forget_gate = input_gate.sigmoid(), forget_gate.sigmoid()
        cell_gate, output_gate = cell_gate.tanh(), output_gate.sigmoid()
        cell = forget_gate * state[1] + input_gate * cell_gate
        return (output_gate * cell.tanh(), cell)

    def _run_direction(self, input: Tensor, state: Any, suffix: str, reverse: bool,
                       fused: bool = False) -> tuple[Tensor, Any]:
        weight_ih = getattr(self, "weight_ih" + suffix)
        weight_hh = getattr(self, "weight_hh" + suffix)
        bias_ih = getattr(self, "bias_ih" + suffix) if self.bias else None
        bias_hh = getattr(self, "bias_hh" + suffix) if self.bias else None
        if fused:
            output, h_n, c_n = lstm_layer(input, weight_ih, weight_hh, bias_ih, bias_hh,
                                          state[0], state[1], reverse)
            return output, (h_n, c_n)
        projected = input.matmul(weight_ih.t())  # (L, N, gates) for all steps at once
        if bias_ih is not None:
            projected = projected + bias_ih
        steps = range(input.shape[0] - 1, -1, -1) if reverse else range(input.shape[0])
        outputs: list[Tensor] = [None] * input.shape[0]  # type: ignore[list-item]
        # unbind once: per-step indexing would give each step's backward a full-size
        # zero-filled gradient to sum (quadratic in the sequence length).
        projected_steps = projected.unbind(0)
        for step in steps:
            state = self._cell(projected_steps[step], state, weight_hh, bias_hh)
            outputs[step] = state[0] if self.mode == "LSTM" else state
        return _stack(outputs, 0), state

    def forward(self, input: Tensor, hx: Any = None) -> Any:
        is_lstm = self.mode == "LSTM"
        batched = input.dim() == 3
        if input.dim() not in (2, 3):
            raise ValueError(f"{type(self).__name__}: Expected input to be 2D or 3D, got "
                             f"{input.dim()}D instead")
        if not batched:
            input = input.unsqueeze(1)
            if hx is not None:
                hx = tuple(h.unsqueeze(1) for h in hx) if is_lstm else hx.unsqueeze(1)
        elif self.batch_first:
            input = input.transpose(0, 1)
        weight_dtype = getattr(self, self._flat_weights_names[0]).dtype
        if input.dtype != weight_dtype:
            raise ValueError(f"RNN input dtype ({input.dtype}) does not match weight dtype "
                             f"({weight_dtype}). Convert input: input.to({weight_dtype}), or "
                             f"convert model: model.to({input.dtype})")
        if input.shape[-1] != self.input_size:
            raise RuntimeError(f"input.size(-1) must be equal to input_size. Expected "
                               f"{self.input_size}, got {input.shape[-1]}")
        if input.shape[0] == 0:
            raise RuntimeError("Expected sequence length to be larger than 0 in RNN")
        directions = 2 if self.bidirectional else 1
        batch = input.shape[1]
        expected = (self.num_layers * directions, batch, self.hidden_size)
        if hx is None:
            zeros = _creation.zeros(expected, dtype=input.dtype)
            hx = (zeros, zeros) if is_lstm else zeros
        for state in (hx if is_lstm else (hx,)):
            if tuple(state.shape) != expected:
                raise RuntimeError(f"Expected hidden size {expected}, got {list(state.shape)}")
        # PyTorch's CPU LSTM runs each layer and direction as one fused node
        # (MkldnnRnnLayerBackward0) for non-empty float32 input without projections; other
        # dtypes take its composite path, as here.
        fused = (is_lstm and input.dtype == _dtype.float32 and self.proj_size == 0
                 and input.numel() != 0
                 and all(weight.dtype == _dtype.float32 for weight in self._flat_weights))
        if fused and any(state.dtype != _dtype.float32 for state in hx):
            raise RuntimeError("get_mkldnn_dtype: unsupported data type")  # PyTorch's words
        final_h: list[Tensor] = []
        final_c: list[Tensor] = []
        layer_input = input
        for layer in range(self.num_layers):
            outputs = []
            for direction in range(directions):
                index = layer * directions + direction
                state = (hx[0][index], hx[1][index]) if is_lstm else hx[index]
                suffix = f"_l{layer}" + ("_reverse" if direction == 1 else "")
                output, state = self._run_direction(layer_input, state, suffix, direction == 1,
                                                    fused)
                outputs.append(output)
                if is_lstm:
                    final_h.append(state[0])
                    final_c.append(state[1])
                else:
                    final_h.append(state)
            layer_input = outputs[0] if directions == 1 else _cat(outputs, 2)
            if self.dropout and self.training and layer < self.num_layers - 1:
                layer_input = F.dropout(layer_input, self.dropout, True)
        output = layer_input
        h_n = _stack(final_h, 0)
        state_out: Any = (h_n, _stack(final_c, 0)) if is_lstm else h_n
        if not batched:
            output = output.squeeze(1)
            state_out = (tuple(s.squeeze(1) for s in state_out) if is_lstm
                         else state_out.squeeze(1))
        elif self.batch_first:
            output = output.transpose(0, 1)
        return output, state_out


class RNN(RNNBase):
    """Elman RNN with tanh or relu; see torch.nn.RNN."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 nonlinearity: str = "tanh", bias: bool = True, batch_first: bool = False,
                 dropout: float = 0.0, bidirectional: bool = False, device: Any = None,
                 dtype: Any = None) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or "
                             f"'relu'.")
        self.nonlinearity = nonlinearity
        super().__init__("RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU", input_size,
                         hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         device=device, dtype=dtype)


class LSTM(RNNBase):
    """See torch.nn.LSTM (gates in PyTorch's order: input, forget, cell, output)."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, proj_size: int = 0, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, bidirectional, proj_size, device, dtype)


class GRU(RNNBase):
    """See torch.nn.GRU (gates in PyTorch's order: reset, update, new)."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, device: Any = None, dtype: Any = None) -> None:
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, bidirectional, device=device, dtype=dtype)
