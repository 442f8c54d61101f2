"""op_db entries for ops/nn_ops.py."""

import numpy as np
import torch

from ._entry import OpEntry


def _indices(lib, array):
    return array if lib is torch else lib.as_tensor(array)


def _embedding(lib, weight, indices, padding_idx=None):
    return lib.nn.functional.embedding(_indices(lib, indices), weight, padding_idx)


def _batch_norm(lib, input, weight, bias, running_mean, running_var, training, momentum, eps):
    # Running statistics are copied per call: batch_norm updates them in place.
    def copy(value):
        return None if value is None else lib.tensor(np.array(value), dtype=input.dtype)

    return lib.nn.functional.batch_norm(input, copy(running_mean), copy(running_var), weight,
                                        bias, training, momentum, eps)


def _aten(name, overload):
    """A primitive that PyTorch's C++ composites record (e.g. add with a Scalar: AddBackward1),
    reached in torch through torch.ops.aten and in tapegrad through its op."""

    def call(lib, *args):
        if lib is torch:
            return getattr(getattr(torch.ops.aten, name), overload)(*args)
        from tapegrad.ops import OPS

        return OPS[name if overload == "ScalarOpt_dim" else f"{name}_scalar"].function(*args)

    return call


def _interpolate(mode):
    def call(lib, input, output_size, scales, _mode, align_corners):
        if scales is not None:
            return lib.nn.functional.interpolate(input, scale_factor=scales, mode=mode,
                                                 align_corners=align_corners)
        return lib.nn.functional.interpolate(input, size=output_size, mode=mode,
                                             align_corners=align_corners)

    return call


ENTRIES = [
    OpEntry("unfold", "nn.functional.unfold"),
    OpEntry("fold", "nn.functional.fold"),
    OpEntry("convolution", "convolution"),
    OpEntry("max_pool2d_with_indices",
            lambda lib, x, *args: lib.nn.functional.max_pool2d(x, *args, return_indices=True)),
    OpEntry("avg_pool2d", "nn.functional.avg_pool2d"),
    OpEntry("adaptive_avg_pool2d", "nn.functional.adaptive_avg_pool2d"),
    OpEntry("adaptive_max_pool2d", lambda lib, x, size: lib.nn.functional.adaptive_max_pool2d(
        x, size, return_indices=True)),
    OpEntry("upsample_nearest1d", _interpolate("nearest")),
    OpEntry("upsample_nearest2d", _interpolate("nearest")),
    OpEntry("upsample_linear1d", _interpolate("linear")),
    OpEntry("upsample_bilinear2d", _interpolate("bilinear")),
    OpEntry("embedding", _embedding),
    OpEntry("native_layer_norm", lambda lib, x, w, b, shape, eps=1e-5:
            lib.nn.functional.layer_norm(x, shape, w, b, eps)),
    OpEntry("native_batch_norm", _batch_norm),
    OpEntry("native_group_norm", lambda lib, x, w, b, groups, eps=1e-5:
            lib.nn.functional.group_norm(x, groups, w, b, eps)),
    OpEntry("cdist", "cdist"),
    OpEntry("add_scalar", _aten("add", "Scalar")),
    OpEntry("sub_scalar", _aten("sub", "Scalar")),
    OpEntry("mul_scalar", _aten("mul", "Scalar")),
    OpEntry("div_scalar", _aten("div", "Scalar")),
    OpEntry("norm", _aten("norm", "ScalarOpt_dim")),
    OpEntry("scaled_dot_product_attention", "nn.functional.scaled_dot_product_attention"),
]
