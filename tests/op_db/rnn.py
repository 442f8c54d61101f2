"""op_db entries for ops/rnn.py."""

from ._entry import OpEntry

_WEIGHT_NAMES = ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0")


def _lstm_layer(lib, input, weight_ih, weight_hh, bias_ih, bias_hh, hx, cx, reverse=False):
    """nn.LSTM with the given weights (through functional_call, so gradients reach them): the
    fused layer in float32 in both libraries, their composites in float64. A reverse layer is
    reached as the second direction of a bidirectional LSTM whose directions share weights."""
    module = lib.nn.LSTM(input.shape[-1], weight_hh.shape[1], bidirectional=reverse,
                         dtype=input.dtype)
    weights = dict(zip(_WEIGHT_NAMES, (weight_ih, weight_hh, bias_ih, bias_hh)))
    directions = 1
    if reverse:
        weights.update({f"{name}_reverse": value for name, value in list(weights.items())})
        directions = 2
    state = (lib.stack([hx] * directions), lib.stack([cx] * directions))
    output, (h_n, c_n) = lib.func.functional_call(module, weights, (input, state))
    return output, h_n, c_n


ENTRIES = [
    OpEntry("mkldnn_rnn_layer", _lstm_layer),
]
