"""op_db entries for ops/loss.py."""

import torch

from ._entry import OpEntry


def _tensor(lib, value, dtype=None):
    if value is None or isinstance(value, (str, int, float)):
        return value
    tensor = value if lib is torch else lib.as_tensor(value)
    return tensor if dtype is None else tensor.to(dtype)


def _nll(lib, input, target, weight=None, reduction="mean", ignore_index=-100):
    return lib.nn.functional.nll_loss(input, _tensor(lib, target),
                                      _tensor(lib, weight, input.dtype),
                                      ignore_index=ignore_index, reduction=reduction)


def _bce(lib, input, target, weight=None, reduction="mean"):
    return lib.nn.functional.binary_cross_entropy(input, target,
                                                  _tensor(lib, weight, input.dtype),
                                                  reduction=reduction)


def _bce_logits(lib, input, target, weight=None, pos_weight=None, reduction="mean"):
    return lib.nn.functional.binary_cross_entropy_with_logits(
        input, target, _tensor(lib, weight, input.dtype), reduction=reduction,
        pos_weight=_tensor(lib, pos_weight, input.dtype))


ENTRIES = [
    OpEntry("mse_loss", lambda lib, x, t, reduction: lib.nn.functional.mse_loss(
        x, t, reduction=reduction)),
    OpEntry("smooth_l1_loss", lambda lib, x, t, reduction, beta: lib.nn.functional.smooth_l1_loss(
        x, t, reduction=reduction, beta=beta)),
    OpEntry("huber_loss", lambda lib, x, t, reduction, delta: lib.nn.functional.huber_loss(
        x, t, reduction=reduction, delta=delta)),
    OpEntry("nll_loss", _nll),
    OpEntry("nll_loss2d", _nll),
    OpEntry("binary_cross_entropy", _bce),
    OpEntry("binary_cross_entropy_with_logits", _bce_logits),
]
ENTRIES += [
    OpEntry("soft_margin_loss", lambda lib, x, target, reduction: lib.nn.functional
            .soft_margin_loss(x, target, reduction=reduction)),
    OpEntry("multi_margin_loss", lambda lib, x, target, p, margin, weight, reduction: lib.nn
            .functional.multi_margin_loss(x, target, p=p, margin=margin, weight=weight,
                                          reduction=reduction)),
]
