"""Neural-net ops: convolution (im2col on strided windows), pooling, interpolation, embedding,
normalization, distances and attention; the functions of torch.nn.functional built on them."""

from __future__ import annotations

import math

import numpy as np

from .. import _dtype
from .._tensor import Tensor, wrap
from . import _samples as samples
from ._registry import defop
from .indexing import zeros_of
from .linalg import addmm_op, matmul
from .reduction import _vector_norm, _vector_norm_rule

Sample = samples.Sample

__all__ = [
    "adaptive_avg_pool2d", "adaptive_max_pool2d", "avg_pool1d", "avg_pool2d", "batch_norm",
    "bilinear", "conv1d", "conv2d", "conv_transpose1d", "conv_transpose2d",
    "cosine_similarity", "dropout", "embedding", "fold", "group_norm", "instance_norm",
    "interpolate", "layer_norm", "linear", "max_pool1d", "max_pool2d", "normalize", "one_hot",
    "pairwise_distance", "scaled_dot_product_attention", "unfold",
]

_window = np.lib.stride_tricks.sliding_window_view


def _pair(value, name: str = "kernel_size", size: int = 2) -> tuple[int, ...]:
    if isinstance(value, (list, tuple)):
        if len(value) == 1:
            return (int(value[0]),) * size
        if len(value) != size:
            raise RuntimeError(f"{name} must either be a single int, or a tuple of {size} ints")
        return tuple(int(v) for v in value)
    return (int(value),) * size


# --- im2col / col2im on arrays --------------------------------------------------------------
def _out_size(size: int, kernel: int, dilation: int, padding: int, stride: int) -> int:
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def _pad_spatial(xp, input, rows, columns, fill):
    """Pad the last two dims by (before, after) amounts; the input itself when none (np.pad
    copies even then, and is slower than one assignment into a filled canvas)."""
    if not any(rows) and not any(columns):
        return input
    shape = (*input.shape[:-2], input.shape[-2] + sum(rows), input.shape[-1] + sum(columns))
    canvas = xp.full(shape, fill, input.dtype)
    canvas[..., rows[0]:shape[-2] - rows[1], columns[0]:shape[-1] - columns[1]] = input
    return canvas


def _im2col(xp, input, kernel, dilation, padding, stride, fill=0.0):
    """(N, C, H, W) -> strided view (N, C, OH, OW, kh, kw) of the padded input's windows."""
    (kh, kw), (dh, dw), (ph, pw), (sh, sw) = kernel, dilation, padding, stride
    input = _pad_spatial(xp, input, (ph, ph), (pw, pw), fill)
    windows = _window(input, ((kh - 1) * dh + 1, (kw - 1) * dw + 1), axis=(2, 3))
    return windows[:, :, ::sh, ::sw, ::dh, ::dw]


def _col2im(xp, columns, size, kernel, dilation, padding, stride):
    """Sum (N, C, kh, kw, OH, OW) window values back into an (N, C, H, W) canvas: one strided
    accumulation per kernel position (windows overlap, so positions add up)."""
    (kh, kw), (dh, dw), (ph, pw), (sh, sw) = kernel, dilation, padding, stride
    n, c, _, _, oh, ow = columns.shape
    height, width = size
    canvas = xp.zeros((n, c, height + 2 * ph, width + 2 * pw), columns.dtype)
    for i in range(kh):
        for j in range(kw):
            canvas[:, :, i * dh:i * dh + sh * (oh - 1) + 1:sh,
                   j * dw:j * dw + sw * (ow - 1) + 1:sw] += columns[:, :, i, j]
    return canvas[:, :, ph:ph + height, pw:pw + width]


# --- unfold / fold --------------------------------------------------------------------------
def _unfold(xp, input, kernel_size, dilation=1, padding=0, stride=1):
    if input.ndim not in (3, 4):
        raise RuntimeError(f"Input Error: Only 3D or 4D input Tensors are supported (got "
                           f"{input.ndim}D)")
    batched = input.ndim == 4
    if not batched:
        input = input[None]
    kernel, dilation = _pair(kernel_size), _pair(dilation, "dilation")
    padding, stride = _pair(padding, "padding"), _pair(stride, "stride")
    windows = _im2col(xp, input, kernel, dilation, padding, stride)
    n, c, oh, ow, kh, kw = windows.shape
    if oh < 1 or ow < 1:
        raise RuntimeError(f"Given input with spatial size ({input.shape[2]}, {input.shape[3]}), "
                           f"kernel_size={kernel}, dilation={dilation}, padding={padding}, "
                           f"calculated shape of the array of sliding blocks as ({oh}, {ow}), "
                           f"but its components must be at least one.")
    result = windows.transpose(0, 1, 4, 5, 2, 3).reshape(n, c * kh * kw, oh * ow)
    return result if batched else result[0]


def _fold(xp, input, output_size, kernel_size, dilation=1, padding=0, stride=1):
    if input.ndim not in (2, 3):
        raise RuntimeError(f"Input Error: Only unbatched (2D) or batched (3D) input Tensors are "
                           f"supported (got {input.ndim}D)")
    batched = input.ndim == 3
    if not batched:
        input = input[None]
    size, kernel = _pair(output_size, "output_size"), _pair(kernel_size)
    dilation, padding = _pair(dilation, "dilation"), _pair(padding, "padding")
    stride = _pair(stride, "stride")
    n, channels_kernel, blocks = input.shape
    kh, kw = kernel
    if channels_kernel % (kh * kw):
        raise RuntimeError(f"Expected size of input's dimension 1 to be divisible by the product "
                           f"of kernel_size, but got input.size(1)={channels_kernel} and "
                           f"kernel_size={kernel}")
    oh = _out_size(size[0], kh, dilation[0], padding[0], stride[0])
    ow = _out_size(size[1], kw, dilation[1], padding[1], stride[1])
    if oh * ow != blocks:
        raise RuntimeError(f"Given output_size={size}, kernel_size={kernel}, dilation={dilation}, "
                           f"padding={padding}, stride={stride}, expected size of input's "
                           f"dimension 2 to match the calculated number of sliding blocks {oh} * "
                           f"{ow} = {oh * ow}, but got input.size(2)={blocks}.")
    columns = input.reshape(n, channels_kernel // (kh * kw), kh, kw, oh, ow)
    result = _col2im(xp, columns, size, kernel, dilation, padding, stride)
    return result if batched else result[0]


unfold_op = defop(
    _unfold, name="unfold", node="Im2ColBackward0", kind="linear", function=False,
    grads={"input": lambda grad, input_shape, kernel_size, dilation, padding, stride:
           fold_op.function(grad, tuple(input_shape[-2:]), kernel_size, dilation, padding,
                            stride)},
    samples=[Sample(((1, 2, 4, 5),), args=(2,)),
             Sample(((2, 1, 5, 5),), args=((2, 3), 2, 1, (2, 1))),
             Sample(((2, 4, 4),), args=(3,), kwargs={"padding": 1})])


def _fold_rule(grad, kernel_size, dilation, padding, stride):
    return unfold_op.function(grad, kernel_size, dilation, padding, stride)


fold_op = defop(
    _fold, name="fold", node="Col2ImBackward0", kind="linear", function=False,
    grads={"input": _fold_rule},
    samples=[Sample(((1, 8, 12),), args=((4, 5), 2)),
             Sample(((2, 6, 6),), args=((4, 4), (2, 3), 1, 1, 2)),
             Sample(((4, 4),), args=((3, 4), 2), kwargs={"stride": (1, 2)})])


def unfold(input, kernel_size, dilation=1, padding=0, stride=1):
    """Sliding blocks as columns (im2col); see torch.nn.functional.unfold."""
    return unfold_op.function(input, kernel_size, dilation, padding, stride)


def fold(input, output_size, kernel_size, dilation=1, padding=0, stride=1):
    """Sum columns back into an image (col2im); see torch.nn.functional.fold."""
    return fold_op.function(input, output_size, kernel_size, dilation, padding, stride)


# --- convolution ----------------------------------------------------------------------------
def _as_2d(array, spatial: int):
    """Convolutions of one spatial dim run as two-dim ones with a height of 1."""
    return array[:, :, None] if spatial == 1 else array


def _conv_params(stride, padding, dilation, output_padding, spatial):
    lift = (lambda values: (1, *values)) if spatial == 1 else (lambda values: values)
    zero = (lambda values: (0, *values)) if spatial == 1 else (lambda values: values)
    return (lift(_pair(stride, "stride", spatial)), zero(_pair(padding, "padding", spatial)),
            lift(_pair(dilation, "dilation", spatial)),
            zero(_pair(output_padding, "output_padding", spatial)))


def _convolution(xp, input, weight, bias, stride, padding, dilation, transposed, output_padding,
                 groups):
    spatial = input.ndim - 2
    if input.dtype != weight.dtype or (bias is not None and bias.dtype != input.dtype):
        raise RuntimeError(f"Input type ({input.dtype}) and weight type ({weight.dtype}) should "
                           f"be the same" if input.dtype != weight.dtype else
                           f"Input type ({input.dtype}) and bias type ({bias.dtype}) should be "
                           f"the same")
    stride, padding, dilation, output_padding = _conv_params(stride, padding, dilation,
                                                             output_padding, spatial)
    x, w = _as_2d(input, spatial), _as_2d(weight, spatial)
    n, channels, height, width = x.shape
    kernel = w.shape[2:]
    if not transposed:
        out_channels, group_channels = w.shape[:2]
        windows = _im2col(xp, x, kernel, dilation, padding, stride)
        oh, ow = windows.shape[2:4]
        # The one im2col copy lays the columns out per sample, (N, G, Cg*kh*kw, OH*OW), so a
        # stacked product with the (G, Og, Cg*kh*kw) weights lands directly in NCHW order.
        columns = windows.transpose(0, 1, 4, 5, 2, 3).reshape(
            n, groups, group_channels * kernel[0] * kernel[1], oh * ow)
        weights = w.reshape(groups, out_channels // groups, -1)
        result = xp.matmul(weights, columns).reshape(n, out_channels, oh, ow)
        if bias is not None:
            result += bias.reshape(1, -1, 1, 1)
        return result[:, :, 0] if spatial == 1 else result
    group_in = channels // groups
    out_group = w.shape[1]
    out_channels = out_group * groups
    oh = (height - 1) * stride[0] - 2 * padding[0] + dilation[0] * (kernel[0] - 1) \
        + output_padding[0] + 1
    ow = (width - 1) * stride[1] - 2 * padding[1] + dilation[1] * (kernel[1] - 1) \
        + output_padding[1] + 1
    weights = w.reshape(groups, group_in, out_group * kernel[0] * kernel[1])
    columns = xp.matmul(weights.transpose(0, 2, 1)[None],
                        x.reshape(n, groups, group_in, height * width))
    columns = columns.reshape(n, out_channels, kernel[0], kernel[1], height, width)
    result = _col2im(xp, columns, (oh, ow), kernel, dilation, padding, stride)
    if bias is not None:
        result = result + bias.reshape(1, -1, 1, 1)
    result = xp.ascontiguousarray(result)
    return result[:, :, 0] if spatial == 1 else result


def _convolution_rule(ctx, grad, input, weight, bias, stride, padding, dilation, transposed,
                      output_padding, groups):
    spatial = input.ndim - 2
    stride, padding, dilation, output_padding = _conv_params(stride, padding, dilation,
                                                             output_padding, spatial)
    x = input.unsqueeze(2) if spatial == 1 else input
    w = weight.unsqueeze(2) if spatial == 1 else weight
    g = grad.unsqueeze(2) if spatial == 1 else grad
    # A broadcast gradient (from sum or mean) has zero strides, which BLAS cannot take.
    g = g.contiguous()
    n, channels, height, width = x.shape
    kernel = tuple(w.shape[2:])
    kk = kernel[0] * kernel[1]
    # Only the gradients some edge needs are computed (an input image rarely needs one).
    needs = ctx.needs_input_grad
    needs_input, needs_weight = needs[0], needs[1]
    grad_bias = grad.sum((0, *range(2, grad.ndim))) if bias is not None else None
    grad_input = grad_weight = None
    if not transposed:
        out_channels, group_channels = w.shape[0], w.shape[1]
        oh, ow = g.shape[2], g.shape[3]
        # Per-sample stacked products in the forward's (N, G, rows, OH*OW) layout: no copies
        # besides the im2col one, and each product is a BLAS call.
        grad_out = g.reshape(n, groups, out_channels // groups, oh * ow)
        if needs_weight:
            columns = unfold_op.function(x, kernel, dilation, padding, stride).reshape(
                n, groups, group_channels * kk, oh * ow)
            grad_weight = matmul(grad_out, columns.mT).sum(0).reshape(*w.shape)
        if needs_input:
            weights = w.reshape(groups, out_channels // groups, group_channels * kk)
            grad_columns = matmul(weights.mT, grad_out).reshape(n, channels * kk, oh * ow)
            grad_input = fold_op.function(grad_columns, (height, width), kernel, dilation,
                                          padding, stride)
    else:
        group_in = channels // groups
        out_group = w.shape[1]
        columns = unfold_op.function(g, kernel, dilation, padding, stride)
        blocks = [_out_size(g.shape[2 + i], kernel[i], dilation[i], padding[i], stride[i])
                  for i in range(2)]
        if blocks != [height, width]:
            # output_padding >= stride (allowed below the dilation) adds blocks no input made.
            columns = columns.reshape(n, -1, *blocks)[:, :, :height, :width]
        columns = columns.reshape(n, groups, out_group * kk, height * width)
        if needs_input:
            weights = w.reshape(groups, group_in, out_group * kk)
            grad_input = matmul(weights, columns).reshape(n, channels, height, width)
        if needs_weight:
            grad_weight = matmul(x.reshape(n, groups, group_in, height * width), columns.mT)
            grad_weight = grad_weight.sum(0).reshape(*w.shape)
    if spatial == 1:
        grad_input = None if grad_input is None else grad_input.squeeze(2)
        grad_weight = None if grad_weight is None else grad_weight.squeeze(2)
    return grad_input, grad_weight, grad_bias


convolution_op = defop(
    _convolution, name="convolution", node="ConvolutionBackward0", inputs=3,
    backward=_convolution_rule,
    samples=[
        Sample(((1, 2, 5, 5), (3, 2, 3, 3), (3,)),
               args=((1, 1), (0, 0), (1, 1), False, (0, 0), 1)),
        Sample(((2, 4, 6, 5), (4, 2, 2, 3), (4,)),
               args=((2, 1), (1, 2), (1, 2), False, (0, 0), 2)),
        Sample(((2, 2, 7), (3, 2, 3)), args=(None, (2,), (1,), (1,), False, (0,), 1)),
        Sample(((1, 2, 3, 4), (2, 3, 3, 2), (3,)),
               args=((2, 2), (1, 1), (1, 1), True, (1, 1), 1)),
        Sample(((1, 4, 3, 3), (4, 1, 2, 2)), args=(None, (1, 2), (0, 0), (2, 1), True, (0, 0), 2)),
        Sample(((1, 1, 3, 3), (1, 2, 2, 2)), args=(None, (2, 2), (1, 1), (3, 3), True, (2, 2), 1)),
    ])


def _conv_checks(name: str, input, weight, spatial: int, groups: int, transposed: bool):
    if input.ndim not in (spatial + 1, spatial + 2):
        raise RuntimeError(f"Expected {spatial + 1}D (unbatched) or {spatial + 2}D (batched) "
                           f"input to {name}, but got input of size: {list(input.shape)}")
    if weight.ndim != spatial + 2:
        raise RuntimeError("weight should have at least three dimensions" if weight.ndim < 3
                           else f"Expected {spatial + 2}-dimensional weight for "
                           f"{spatial + 2}-dimensional input, but got weight of size "
                           f"{list(weight.shape)} instead")
    channels = input.shape[-spatial - 1]
    if not transposed:
        if weight.shape[0] % groups:
            raise RuntimeError(f"Given groups={groups}, expected weight to be divisible by "
                               f"{groups} at dimension 0, but got weight of size "
                               f"{list(weight.shape)} instead")
        if weight.shape[1] * groups != channels:
            shape = list(input.shape) if input.ndim == spatial + 2 else [1, *input.shape]
            raise RuntimeError(f"Given groups={groups}, weight of size {list(weight.shape)}, "
                               f"expected input{shape} to have {weight.shape[1] * groups} "
                               f"channels, but got {channels} channels instead")
    elif weight.shape[0] != channels:
        shape = list(input.shape) if input.ndim == spatial + 2 else [1, *input.shape]
        raise RuntimeError(f"Given transposed=1, weight of size {list(weight.shape)}, expected "
                           f"input{shape} to have {weight.shape[0]} channels, but got {channels} "
                           f"channels instead")


def _conv(name, input, weight, bias, stride, padding, dilation, groups, spatial):
    _conv_checks(name, input, weight, spatial, groups, False)
    unbatched = input.ndim == spatial + 1
    if unbatched:
        input = input.unsqueeze(0)
    trim = None
    if isinstance(padding, str):
        if padding == "valid":
            padding = 0
        elif padding == "same":
            if any(s != 1 for s in _pair(stride, "stride", spatial)):
                raise RuntimeError("padding='same' is not supported for strided convolutions")
            total = [d * (k - 1) for d, k in
                     zip(_pair(dilation, "dilation", spatial), weight.shape[2:])]
            # Odd totals put the extra row on the far side in PyTorch; pad both sides by the
            # larger half and drop the first output row/column instead.
            padding = tuple((t + 1) // 2 for t in total)
            trim = tuple(t % 2 for t in total)
        else:
            raise ValueError(f"Invalid padding string '{padding}', should be one of "
                             f"{{'valid', 'same'}}")
    result = convolution_op.function(input, weight, bias, stride, padding, dilation, False, 0,
                                     groups)
    if trim is not None and any(trim):
        index = (slice(None), slice(None)) + tuple(slice(t, None) for t in trim)
        result = result[index]
    return result.squeeze(0) if unbatched else result


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """1-D convolution (cross-correlation); see torch.nn.functional.conv1d."""
    return _conv("conv1d", input, weight, bias, stride, padding, dilation, groups, 1)


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D convolution (cross-correlation); see torch.nn.functional.conv2d."""
    return _conv("conv2d", input, weight, bias, stride, padding, dilation, groups, 2)


def _conv_transpose(name, input, weight, bias, stride, padding, output_padding, groups,
                    dilation, spatial):
    _conv_checks(name, input, weight, spatial, groups, True)
    if isinstance(padding, str):
        raise RuntimeError(f"{name}(): argument 'padding' must be tuple of ints, not str")
    for op_size, s, d in zip(_pair(output_padding, "output_padding", spatial),
                             _pair(stride, "stride", spatial), _pair(dilation, "dilation",
                                                                     spatial)):
        if op_size >= s and op_size >= d:
            raise RuntimeError("output padding must be smaller than either stride or dilation, "
                               f"but got output_padding_height: {op_size} stride: {s} "
                               f"dilation: {d}")
    unbatched = input.ndim == spatial + 1
    if unbatched:
        input = input.unsqueeze(0)
    result = convolution_op.function(input, weight, bias, stride, padding, dilation, True,
                                     output_padding, groups)
    return result.squeeze(0) if unbatched else result


def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    """See torch.nn.functional.conv_transpose1d."""
    return _conv_transpose("conv_transpose1d", input, weight, bias, stride, padding,
                           output_padding, groups, dilation, 1)


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    """See torch.nn.functional.conv_transpose2d."""
    return _conv_transpose("conv_transpose2d", input, weight, bias, stride, padding,
                           output_padding, groups, dilation, 2)


# --- pooling --------------------------------------------------------------------------------
def _pool_geometry(size: int, kernel: int, stride: int, padding: int, dilation: int,
                   ceil_mode: bool) -> tuple[int, int]:
    """Output size and the extra far-side padding ceil_mode needs."""
    span = size + 2 * padding - dilation * (kernel - 1) - 1
    out = (span + (stride - 1 if ceil_mode else 0)) // stride + 1
    if ceil_mode and (out - 1) * stride >= size + padding:
        out -= 1  # the last window must start inside the input or its near padding
    extra = max(0, (out - 1) * stride + dilation * (kernel - 1) + 1 - (size + 2 * padding))
    return out, extra


def _pool_args(kernel_size, stride, padding, dilation=1):
    kernel = _pair(kernel_size)
    stride = kernel if stride is None or (isinstance(stride, (list, tuple)) and not stride) \
        else _pair(stride, "stride")
    return kernel, stride, _pair(padding, "padding"), _pair(dilation, "dilation")


def _pool_windows(xp, input, kernel, stride, padding, dilation, ceil_mode, fill):
    height, width = input.shape[-2:]
    oh, extra_h = _pool_geometry(height, kernel[0], stride[0], padding[0], dilation[0],
                                 ceil_mode)
    ow, extra_w = _pool_geometry(width, kernel[1], stride[1], padding[1], dilation[1],
                                 ceil_mode)
    if oh < 1 or ow < 1:
        raise RuntimeError(f"Given input size: ({input.shape[-3]}x{height}x{width}). Calculated "
                           f"output size: ({input.shape[-3]}x{oh}x{ow}). Output size is too "
                           f"small")
    for k, p in zip(kernel, padding):
        if p * 2 > k:
            raise RuntimeError(f"pad should be at most half of effective kernel size, but got "
                               f"pad={p}, kernel_size={k} and dilation={dilation[0]}")
    padded = _pad_spatial(xp, input, (padding[0], padding[0] + extra_h),
                          (padding[1], padding[1] + extra_w), fill)
    windows = _im2col(xp, padded, kernel, dilation, (0, 0), stride)[:, :, :oh, :ow]
    return windows, (extra_h, extra_w)


def _fold_windows(values, size, kernel, stride, padding, dilation, extra):
    """Sum (N, C, kh*kw, OH*OW) window values into an (N, C, H, W) gradient (tapegrad ops)."""
    n, c = values.shape[0], values.shape[1]
    canvas = (size[0] + extra[0], size[1] + extra[1])
    columns = values.reshape(n, c * kernel[0] * kernel[1], values.shape[-1])
    result = fold_op.function(columns, canvas, kernel, dilation, padding, stride)
    if extra != (0, 0):
        result = result[:, :, :size[0], :size[1]]
    return result


def _check_pool_input(name: str, input) -> None:
    if input.ndim not in (3, 4):
        raise RuntimeError(f"{name}: Expected 3D or 4D (batch mode) tensor with optional 0 dim "
                           f"batch size for input, but got:{list(input.shape)}")


def _disjoint_max_pool(xp, x, kernel):
    """Max pooling of (N, C, H, W) over windows that tile it (stride = kernel, no padding or
    dilation): (values, indices), or None where a maximum is nan (the general path then
    reports PyTorch's index for it). The windows' positions are first copied apart into
    contiguous planes, one per position in the window: NumPy compares strided views several
    times slower than contiguous ones, and every later pass here is over a plane."""
    kh, kw = kernel
    n, c, height, width = x.shape
    oh, ow = height // kh, width // kw
    planes = xp.ascontiguousarray(x[:, :, :oh * kh, :ow * kw].reshape(n, c, oh, kh, ow, kw)
                                  .transpose(3, 5, 0, 1, 2, 4))
    # PyTorch's index is the first maximum in row-major order (a later element wins only when
    # strictly larger): the first maximum of each window row, then the first row holding the
    # largest of those.
    rows = []
    for i in range(kh):
        value, column = planes[i, 0], None
        for j in range(1, kw):
            later = planes[i, j] > value
            xp.maximum(value, planes[i, j], out=value)
            column = _advance(xp, column, later, j)
        rows.append((value, column))
    values, column = rows[0]
    row = None
    for i in range(1, kh):
        value, row_column = rows[i]
        later = value > values
        # The first of these allocates: the result must not be a view keeping every plane.
        values = xp.maximum(values, value) if i == 1 else xp.maximum(values, value, out=values)
        row = _advance(xp, row, later, i)
        if kw > 1:  # the column of the row that now holds the maximum
            change = xp.subtract(row_column, column, dtype=np.int8)
            change *= later
            column = column + change.view(np.uint8)
    if values.dtype.kind in "fc" and xp.isnan(values).any():
        return None
    if kh == 1:
        values = values.copy()  # a plane's view otherwise
    if row is None:
        indices = xp.zeros(values.shape, np.int64)
    else:  # cast, then scale: a ufunc casting uint8 to int64 as it multiplies is slower
        indices = row.astype(np.int64)
        indices *= width
    if column is not None:
        indices += column
    indices += (np.arange(oh) * kh * width)[:, None] + np.arange(ow) * kw  # window starts
    return values, indices


def _advance(xp, index, later, position):
    """A uint8 index of the running maximum, set to ``position`` where ``later`` holds."""
    if index is None:
        return later.view(np.uint8) * np.uint8(position)
    step = xp.subtract(np.uint8(position), index)  # positive: the index is below position
    step *= later
    index += step
    return index


def _max_pool2d(xp, input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    _check_pool_input("max_pool2d", input)
    batched = input.ndim == 4
    x = input if batched else input[None]
    kernel, stride, padding, dilation = _pool_args(kernel_size, stride, padding, dilation)
    if stride == kernel and padding == (0, 0) and dilation == (1, 1) and x.size and \
            x.shape[2] >= kernel[0] and x.shape[3] >= kernel[1] and x.dtype.kind in "fiu" \
            and max(kernel) < 128:
        # ceil_mode adds a partial window only where the size is not a multiple of the kernel.
        partial = ceil_mode and (x.shape[2] % kernel[0] or x.shape[3] % kernel[1])
        pooled = None if partial else _disjoint_max_pool(xp, x, kernel)
        if pooled is not None:
            values, indices = pooled
            return (values, indices) if batched else (values[0], indices[0])
    # Padding never wins: -inf, or the lowest value of an integer dtype.
    fill = -np.inf if x.dtype.kind in "fc" else (np.iinfo(x.dtype).min if x.dtype.kind in "iu"
                                                 else False)
    windows, _ = _pool_windows(xp, x, kernel, stride, padding, dilation, ceil_mode, fill)
    kh, kw = kernel
    width = x.shape[3]
    # One strided slice per window position, combined elementwise: no copy of the windows and
    # no arg-reduction over a tiny trailing axis (both slow in NumPy).
    slices = [windows[..., index // kw, index % kw] for index in range(kh * kw)]
    offsets = [(index // kw) * dilation[0] * width + (index % kw) * dilation[1]
               for index in range(kh * kw)]
    values = slices[0].copy()
    for candidate in slices[1:]:
        xp.maximum(values, candidate, out=values)  # nan propagates, as in PyTorch
    # The index is the first position holding the maximum; where the maximum is nan, PyTorch's
    # kernel (a later element wins when strictly larger or nan) reports the last nan.
    found = slices[0] == values
    # Offsets within a window are small: int32 arithmetic, half the memory traffic of int64.
    offset = xp.zeros(values.shape, np.int32)
    for candidate, step in zip(slices[1:], offsets[1:]):
        hit = candidate == values
        xp.greater(hit, found, out=hit)  # equal here and at no earlier position
        found |= hit
        offset += xp.multiply(hit, step, dtype=np.int32)
    if xp.issubdtype(values.dtype, xp.inexact) and xp.isnan(values).any():
        for candidate, step in zip(slices, offsets):
            offset[candidate != candidate] = step
    oh, ow = values.shape[2:]
    start = ((np.arange(oh) * stride[0] - padding[0]) * width)[:, None] \
        + (np.arange(ow) * stride[1] - padding[1])
    indices = offset + start.astype(np.int64)
    if not batched:
        values, indices = values[0], indices[0]
    return values, indices


def _max_pool2d_rule(grads, input_shape, result1, kernel_size, stride, padding, dilation,
                     ceil_mode):
    # Only the indices (result1) are read: in-place ops on the pooled values are allowed, as
    # in PyTorch.
    kernel, stride, padding, dilation = _pool_args(kernel_size, stride, padding, dilation)
    batched = len(input_shape) == 4
    grad = grads[0] if batched else grads[0].unsqueeze(0)
    shape = tuple(input_shape) if batched else (1, *input_shape)
    indices = result1._data if batched else result1._data[None]
    n, c, oh, ow = indices.shape
    height, width = shape[2], shape[3]
    overlap = any(stride[i] < dilation[i] * (kernel[i] - 1) + 1 for i in range(2))
    if padding == (0, 0) and not overlap:
        # Disjoint windows without padding (max_pool2d(x, k) among them): every index is a
        # distinct input position, so the gradient is written there, one flat scatter.
        flat = (np.arange(n * c)[:, None] * (height * width) + indices.reshape(n * c, -1))
        result = zeros_of((n * c * height * width,), grad).scatter(
            0, wrap(flat.reshape(-1)), grad.reshape(-1))
        result = result.reshape(shape)
        return (result if batched else result.squeeze(0),)
    _, extra_h = _pool_geometry(height, kernel[0], stride[0], padding[0], dilation[0], ceil_mode)
    _, extra_w = _pool_geometry(width, kernel[1], stride[1], padding[1], dilation[1], ceil_mode)
    # Which window position held each maximum: a constant one-hot mask over the window, and
    # the windows' sums folded back (overlapping windows add up).
    row, column = indices // width, indices % width
    start_row = (np.arange(oh) * stride[0] - padding[0])[:, None]
    start_column = np.arange(ow) * stride[1] - padding[1]
    position = ((row - start_row) // dilation[0]) * kernel[1] + (column - start_column) \
        // dilation[1]
    mask = (np.arange(kernel[0] * kernel[1]).reshape(-1, 1, 1) ==
            position[:, :, None]).reshape(n, c, -1, oh * ow)
    values = grad.reshape(n, c, 1, oh * ow) * wrap(mask.astype(grad._data.dtype))
    result = _fold_windows(values, (height, width), kernel, stride, padding, dilation,
                           (extra_h, extra_w))
    return (result if batched else result.squeeze(0),)


max_pool2d_op = defop(
    _max_pool2d, name="max_pool2d_with_indices", node="MaxPool2DWithIndicesBackward0",
    outputs=2, differentiable_outputs=(0,), function=False, backward=_max_pool2d_rule,
    samples=[Sample(((1, 2, 4, 6),), args=(2,)),
             Sample(((2, 1, 5, 5),), args=(3, 2, 1)),
             Sample(((1, 2, 5, 7),), args=((2, 3), (2, 2), 1, 1, True)),
             Sample(((2, 5, 5),), args=(2, 1, 0, 2))])


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """2-D max pooling; see torch.nn.functional.max_pool2d."""
    values, indices = max_pool2d_op.function(input, kernel_size, stride, padding, dilation,
                                             ceil_mode)
    return (values, indices) if return_indices else values


def _first(value):
    return value[0] if isinstance(value, (list, tuple)) else value


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """1-D max pooling (a 2-D pool over a height of 1); see torch.nn.functional.max_pool1d."""
    if input.ndim not in (2, 3):
        raise RuntimeError(f"max_pool1d() Expected 2D or 3D input tensor, but got "
                           f"{list(input.shape)}")
    stride = _first(stride) if stride is not None and stride != () else None
    values, indices = max_pool2d_op.function(
        input.unsqueeze(-2), (1, _first(kernel_size)), None if stride is None else (1, stride),
        (0, _first(padding)), (1, _first(dilation)), ceil_mode)
    values, indices = values.squeeze(-2), indices.squeeze(-2)
    return (values, indices) if return_indices else values


def _avg_divisor(xp, size, kernel, stride, padding, out, count_include_pad):
    start = np.arange(out) * stride - padding
    end = np.minimum(start + kernel, size + padding)
    if count_include_pad:
        return end - start
    return np.minimum(end, size) - np.maximum(start, 0)


def _avg_pool2d(xp, input, kernel_size, stride=None, padding=0, ceil_mode=False,
                count_include_pad=True, divisor_override=None):
    _check_pool_input("avg_pool2d", input)
    batched = input.ndim == 4
    x = input if batched else input[None]
    kernel, stride, padding, _ = _pool_args(kernel_size, stride, padding)
    windows, _ = _pool_windows(xp, x, kernel, stride, padding, (1, 1), ceil_mode, 0.0)
    oh, ow = windows.shape[2:4]
    total = windows.sum((-2, -1))
    result = total / _avg_divisors(x.shape[2:], kernel, stride, padding, (oh, ow),
                                   count_include_pad, divisor_override, x.dtype)
    result = result.astype(x.dtype, copy=False)
    return result if batched else result[0]


def _avg_divisors(size, kernel, stride, padding, out, count_include_pad, divisor_override,
                  dtype):
    if divisor_override:
        return np.asarray(divisor_override, dtype)
    rows = _avg_divisor(np, size[0], kernel[0], stride[0], padding[0], out[0], count_include_pad)
    columns = _avg_divisor(np, size[1], kernel[1], stride[1], padding[1], out[1],
                           count_include_pad)
    return (rows[:, None] * columns[None, :]).astype(dtype)


def _avg_pool2d_rule(grad, input_shape, kernel_size, stride, padding, ceil_mode,
                     count_include_pad, divisor_override):
    kernel, stride, padding, _ = _pool_args(kernel_size, stride, padding)
    batched = len(input_shape) == 4
    shape = tuple(input_shape) if batched else (1, *input_shape)
    g = grad if batched else grad.unsqueeze(0)
    n, c, oh, ow = g.shape
    size = shape[2:]
    extra = tuple(_pool_geometry(size[i], kernel[i], stride[i], padding[i], 1, ceil_mode)[1]
                  for i in range(2))
    divisors = _avg_divisors(size, kernel, stride, padding, (oh, ow), count_include_pad,
                             divisor_override, g._data.dtype)
    scaled = (g / wrap(divisors)).reshape(n, c, 1, oh * ow).expand(
        n, c, kernel[0] * kernel[1], oh * ow)
    result = _fold_windows(scaled, size, kernel, stride, padding, (1, 1), extra)
    return result if batched else result.squeeze(0)


avg_pool2d_op = defop(
    _avg_pool2d, name="avg_pool2d", node="AvgPool2DBackward0", kind="linear", function=False,
    grads={"input": _avg_pool2d_rule},
    samples=[Sample(((1, 2, 4, 6),), args=(2,)),
             Sample(((2, 1, 5, 5),), args=(3, 2, 1)),
             Sample(((1, 2, 5, 7),), args=((2, 3), (2, 2), 1, True, False)),
             Sample(((2, 5, 5),), args=(3, 2, 1, True, True)),
             Sample(((1, 1, 4, 4),), args=(2, 1, 0, False, True, 3))])


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None):
    """2-D average pooling; see torch.nn.functional.avg_pool2d."""
    return avg_pool2d_op.function(input, kernel_size, stride, padding, ceil_mode,
                                  count_include_pad, divisor_override)


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True):
    """1-D average pooling (a 2-D pool over a height of 1); see torch.nn.functional.avg_pool1d."""
    if input.ndim not in (2, 3):
        raise RuntimeError(f"avg_pool1d() Expected 2D or 3D input tensor, but got "
                           f"{list(input.shape)}")
    stride = _first(stride) if stride is not None and stride != () else None
    result = avg_pool2d_op.function(input.unsqueeze(-2), (1, _first(kernel_size)),
                                    None if stride is None else (1, stride),
                                    (0, _first(padding)), ceil_mode, count_include_pad, None)
    return result.squeeze(-2)


# --- adaptive pooling -----------------------------------------------------------------------
def _adaptive_bounds(size: int, out: int) -> tuple[np.ndarray, np.ndarray]:
    index = np.arange(out)
    return (index * size) // out, -((-(index + 1) * size) // out)


def _adaptive_matrix(size: int, out: int, dtype) -> np.ndarray:
    """(out, size) averaging matrix: row i averages input[start_i:end_i]."""
    start, end = _adaptive_bounds(size, out)
    positions = np.arange(size)
    inside = (positions >= start[:, None]) & (positions < end[:, None])
    return (inside / (end - start)[:, None]).astype(dtype)


def _adaptive_size(output_size, input_shape) -> tuple[int, int]:
    size = _pair(output_size, "output_size") if not isinstance(output_size, (list, tuple)) \
        else tuple(output_size)
    return tuple(input_shape[-2 + i] if s is None else int(s) for i, s in enumerate(size))


def _adaptive_avg_pool2d(xp, input, output_size):
    _check_pool_input("adaptive_avg_pool2d", input)
    oh, ow = _adaptive_size(output_size, input.shape)
    rows = _adaptive_matrix(input.shape[-2], oh, input.dtype)
    columns = _adaptive_matrix(input.shape[-1], ow, input.dtype)
    return xp.matmul(xp.matmul(rows, input), columns.T)


def _adaptive_avg_rule(grad, input_shape, output_size):
    oh, ow = _adaptive_size(output_size, input_shape)
    dtype = grad._data.dtype
    rows = wrap(_adaptive_matrix(input_shape[-2], oh, dtype))
    columns = wrap(_adaptive_matrix(input_shape[-1], ow, dtype))
    return matmul(matmul(rows.mT, grad), columns)


adaptive_avg_pool2d_op = defop(
    _adaptive_avg_pool2d, name="adaptive_avg_pool2d", node="AdaptiveAvgPool2DBackward0",
    kind="linear", function=False, grads={"input": _adaptive_avg_rule},
    samples=[Sample(((1, 2, 6, 5),), args=((3, 2),)), Sample(((2, 7, 7),), args=(3,)),
             Sample(((1, 1, 5, 4),), args=((None, 3),))])


def adaptive_avg_pool2d(input, output_size):
    """See torch.nn.functional.adaptive_avg_pool2d."""
    if _adaptive_size(output_size, input.shape) == (1, 1):
        return input.mean((-2, -1), keepdim=True)  # PyTorch's shortcut for global pooling
    return adaptive_avg_pool2d_op.function(input, output_size)


def _adaptive_max_pool2d(xp, input, output_size):
    _check_pool_input("adaptive_max_pool2d", input)
    batched = input.ndim == 4
    x = input if batched else input[None]
    height, width = x.shape[2:]
    oh, ow = _adaptive_size(output_size, x.shape)
    row_start, row_end = _adaptive_bounds(height, oh)
    column_start, column_end = _adaptive_bounds(width, ow)
    values = np.empty(x.shape[:2] + (oh, ow), x.dtype)
    indices = np.empty(x.shape[:2] + (oh, ow), np.int64)
    # One vectorized max per output cell (windows differ in size, so no single strided view).
    for i in range(oh):
        for j in range(ow):
            block = x[:, :, row_start[i]:row_end[i], column_start[j]:column_end[j]]
            flat = block.reshape(block.shape[0], block.shape[1], -1)
            position = flat.argmax(-1)
            values[:, :, i, j] = np.take_along_axis(flat, position[..., None], -1)[..., 0]
            block_width = column_end[j] - column_start[j]
            indices[:, :, i, j] = (row_start[i] + position // block_width) * width \
                + column_start[j] + position % block_width
    if not batched:
        values, indices = values[0], indices[0]
    return values, indices


def _scatter_rule(grad, indices, input_shape):
    """Send each output's gradient to the input position in ``indices`` (flat over H*W), summing
    where windows share a maximum: a product of two constant one-hot matrices, so it stays a
    tapegrad expression (linear in grad)."""
    height, width = input_shape[-2:]
    flat = indices.reshape(*indices.shape[:-2], -1)
    dtype = grad._data.dtype
    rows = (flat[..., :, None] // width == np.arange(height)).astype(dtype)
    columns = (flat[..., :, None] % width == np.arange(width)).astype(dtype)
    weighted = wrap(rows).mT * grad.reshape(*grad.shape[:-2], 1, -1)
    return matmul(weighted, wrap(columns))


adaptive_max_pool2d_op = defop(
    _adaptive_max_pool2d, name="adaptive_max_pool2d", node="AdaptiveMaxPool2DBackward0",
    outputs=2, differentiable_outputs=(0,), function=False,
    backward=lambda grads, results, input_shape: (
        _scatter_rule(grads[0], results[1]._data, input_shape),),
    samples=[Sample(((1, 2, 6, 5),), args=((3, 2),)), Sample(((2, 7, 7),), args=(3,)),
             Sample(((1, 1, 5, 4),), args=((None, 3),))])


def adaptive_max_pool2d(input, output_size, return_indices=False):
    """See torch.nn.functional.adaptive_max_pool2d."""
    values, indices = adaptive_max_pool2d_op.function(input, output_size)
    return (values, indices) if return_indices else values


# --- interpolation --------------------------------------------------------------------------
def _nearest_matrix(size: int, out: int, scale, dtype) -> np.ndarray:
    ratio = size / out if scale is None else 1.0 / scale
    source = np.minimum(np.floor(np.arange(out) * ratio).astype(np.int64), size - 1)
    return (source[:, None] == np.arange(size)).astype(dtype)


def _linear_matrix(size: int, out: int, scale, align_corners: bool, dtype) -> np.ndarray:
    positions = np.arange(out, dtype=np.float64)
    if align_corners:
        source = positions * ((size - 1) / (out - 1) if out > 1 else 0.0)
    else:
        ratio = size / out if scale is None else 1.0 / scale
        source = np.maximum((positions + 0.5) * ratio - 0.5, 0.0)
    low = np.minimum(np.floor(source).astype(np.int64), size - 1)
    high = np.minimum(low + 1, size - 1)
    weight = source - low
    matrix = np.zeros((out, size))
    np.add.at(matrix, (np.arange(out), low), 1.0 - weight)
    np.add.at(matrix, (np.arange(out), high), weight)
    return matrix.astype(dtype)


def _interpolation_matrices(mode, input_shape, output_size, scales, align_corners, dtype):
    spatial = len(output_size)
    matrices = []
    for i in range(spatial):
        size = input_shape[-spatial + i]
        scale = scales[i] if scales is not None else None
        if mode == "nearest":
            matrices.append(_nearest_matrix(size, output_size[i], scale, dtype))
        else:
            matrices.append(_linear_matrix(size, output_size[i], scale, align_corners, dtype))
    return matrices


def _upsample(xp, input, output_size, scales, mode, align_corners):
    matrices = _interpolation_matrices(mode, input.shape, output_size, scales, align_corners,
                                       input.dtype)
    if len(matrices) == 1:
        return xp.matmul(input, matrices[0].T)
    return xp.matmul(xp.matmul(matrices[0], input), matrices[1].T)


def _upsample_rule(grad, input_shape, output_size, scales, mode, align_corners):
    matrices = [wrap(m) for m in _interpolation_matrices(mode, input_shape, output_size, scales,
                                                         align_corners, grad._data.dtype)]
    if len(matrices) == 1:
        return matmul(grad, matrices[0])
    return matmul(matmul(matrices[0].mT, grad), matrices[1])


def _upsample_op(name: str, node: str, sample_args: list) -> object:
    return defop(_upsample, name=name, node=node, kind="linear", function=False,
                 grads={"input": _upsample_rule},
                 samples=[Sample((shape,), args=args) for shape, args in sample_args])


upsample_nearest1d_op = _upsample_op(
    "upsample_nearest1d", "UpsampleNearest1DBackward0",
    [((1, 2, 3), ((6,), None, "nearest", None)), ((2, 1, 5), ((3,), None, "nearest", None))])
upsample_nearest2d_op = _upsample_op(
    "upsample_nearest2d", "UpsampleNearest2DBackward0",
    [((1, 2, 3, 3), ((6, 5), None, "nearest", None)),
     ((1, 1, 4, 4), ((6, 6), (1.5, 1.5), "nearest", None))])
upsample_linear1d_op = _upsample_op(
    "upsample_linear1d", "UpsampleLinear1DBackward0",
    [((1, 2, 3), ((5,), None, "linear", False)), ((1, 2, 4), ((7,), None, "linear", True))])
upsample_bilinear2d_op = _upsample_op(
    "upsample_bilinear2d", "UpsampleBilinear2DBackward0",
    [((1, 2, 3, 3), ((5, 4), None, "bilinear", False)),
     ((1, 1, 3, 4), ((6, 5), None, "bilinear", True)),
     ((1, 1, 4, 4), ((6, 6), (1.5, 1.5), "bilinear", False))])

_UPSAMPLE = {("nearest", 1): upsample_nearest1d_op, ("nearest", 2): upsample_nearest2d_op,
             ("linear", 1): upsample_linear1d_op, ("bilinear", 2): upsample_bilinear2d_op}


def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None,
                recompute_scale_factor=None, antialias=False):
    """Resize by nearest or (bi)linear interpolation; see torch.nn.functional.interpolate."""
    spatial = input.ndim - 2
    if mode in ("nearest",) and align_corners is not None:
        raise ValueError("align_corners option can only be set with the interpolating modes: "
                         "linear | bilinear | bicubic | trilinear")
    if (mode, spatial) not in _UPSAMPLE:
        if mode in ("linear", "bilinear", "nearest"):
            expected = {"linear": 3, "bilinear": 4}.get(mode)
            raise NotImplementedError(
                f"Got {input.ndim}D input, but {mode} mode needs {expected}D input"
                if expected else f"Input Error: Only 3D and 4D input Tensors supported (got "
                f"{input.ndim}D) for the modes: nearest | linear | bilinear")
        raise NotImplementedError(f"interpolate: mode '{mode}' is not supported")
    if (size is None) == (scale_factor is None):
        raise ValueError("only one of size or scale_factor should be defined" if size is not None
                         else "either size or scale_factor should be defined")
    scales = None
    if size is not None:
        output_size = _pair(size, "size", spatial)
    else:
        factors = tuple(float(f) for f in (scale_factor if isinstance(scale_factor, (list, tuple))
                                           else (scale_factor,) * spatial))
        output_size = tuple(int(math.floor(input.shape[2 + i] * factors[i]))
                            for i in range(spatial))
        scales = None if recompute_scale_factor else factors
    return _UPSAMPLE[(mode, spatial)].function(input, output_size, scales, mode,
                                               bool(align_corners) if mode != "nearest" else None)


# --- linear layers --------------------------------------------------------------------------
def linear(input, weight, bias=None):
    """input @ weight^T + bias; see torch.nn.functional.linear."""
    if bias is None:
        return matmul(input, weight.t())
    if input.ndim == 2:
        return addmm_op.function(bias, input, weight.t())
    # As PyTorch: flatten the batch dims, one addmm, view back.
    flat = input.reshape(-1, input.shape[-1])
    return addmm_op.function(bias, flat, weight.t()).view(*input.shape[:-1], weight.shape[0])


def bilinear(input1, input2, weight, bias=None):
    """x1^T A x2 + b for each output feature; see torch.nn.functional.bilinear."""
    from .linalg import einsum

    if input1.ndim != input2.ndim:
        raise RuntimeError(f"bilinear(): input dimensions do not match: got {input1.ndim} and "
                           f"{input2.ndim}")
    if weight.ndim != 3 or weight.shape[1] != input1.shape[-1] \
            or weight.shape[2] != input2.shape[-1]:
        raise RuntimeError(f"bilinear(): input size does not match weight size: got "
                           f"{input1.shape[-1]} and {input2.shape[-1]} but expected "
                           f"{weight.shape[1]} and {weight.shape[2]}")
    result = einsum("...i,oij,...j->...o", input1, weight, input2)
    return result if bias is None else result + bias


# --- embedding and one-hot ------------------------------------------------------------------
def _embedding(xp, weight, indices, padding_idx=None):
    if indices.dtype.kind not in "iu":
        raise RuntimeError(f"Expected tensor for argument #1 'indices' to have one of the "
                           f"following scalar types: Long, Int; but got "
                           f"torch.{_float_name(indices)} instead (while checking arguments "
                           f"for embedding)")
    if indices.size and (indices.min() < 0 or indices.max() >= weight.shape[0]):
        raise IndexError("index out of range in self")
    return weight[indices]


def _array(value):
    """A parameter recorded as a Tensor, as its array (None stays None)."""
    return value._data if isinstance(value, Tensor) else value


def _float_name(array) -> str:
    return {"float32": "FloatTensor", "float64": "DoubleTensor"}.get(array.dtype.name,
                                                                     array.dtype.name)


def _embedding_rule(grad, weight_shape, indices, padding_idx):
    flat = np.asarray(_array(indices)).reshape(-1)
    # Rows gather into a (indices x rows) one-hot product; padding_idx rows get no gradient.
    one_hot_rows = (flat[:, None] == np.arange(weight_shape[0])).astype(grad._data.dtype)
    if padding_idx is not None:
        one_hot_rows[:, padding_idx] = 0
    return matmul(wrap(one_hot_rows).mT, grad.reshape(-1, weight_shape[1]))


embedding_op = defop(
    _embedding, name="embedding", node="EmbeddingBackward0", array_params=True, function=False,
    grads={"weight": _embedding_rule},
    # padding_idx rows (zero gradient by definition, so finite differences disagree) are
    # checked in tests/test_nn_functional.py.
    samples=[Sample(((5, 3),), args=(np.array([[0, 2], [4, 2]]),)),
             Sample(((4, 2),), args=(np.array([1, 3, 1]), 0))])


def embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0,
              scale_grad_by_freq=False, sparse=False):
    """Rows of ``weight`` picked by ``input``; see torch.nn.functional.embedding."""
    if padding_idx is not None:
        if padding_idx >= weight.shape[0] or padding_idx < -weight.shape[0]:
            raise AssertionError("Padding_idx must be within num_embeddings")
        padding_idx = padding_idx % weight.shape[0]
    if max_norm is not None:
        _renormalize_rows_(weight, input, max_norm, norm_type)
    return embedding_op.function(weight, input, padding_idx)


def _renormalize_rows_(weight, input, max_norm, norm_type):
    """Scale, in place and outside autograd, each row of ``weight`` that ``input`` picks and
    whose norm exceeds ``max_norm`` down to that norm (PyTorch's embedding_renorm_, its 1e-7
    included); the version bump makes nodes that saved the old weight refuse backward."""
    rows = np.unique(np.asarray(input._data if isinstance(input, Tensor) else input))
    data = weight._data
    if rows.size == 0:
        return
    picked = np.abs(data[rows])  # norms in the weight's dtype, the scale in double: as PyTorch
    if norm_type == float("inf"):
        norms = picked.max(axis=1)
    else:
        norms = (picked ** norm_type).sum(axis=1) ** (1.0 / norm_type)
    over = norms > max_norm
    if over.any():
        scale = max_norm / (norms[over].astype(np.float64) + 1e-7)
        data[rows[over]] *= scale.astype(data.dtype)[:, None]
        weight._bump_version()


def one_hot(tensor, num_classes=-1):
    """int64 one-hot encoding along a new last dim; see torch.nn.functional.one_hot."""
    array = tensor._data
    if array.dtype != np.int64:
        raise RuntimeError("one_hot is only applicable to index tensor of type LongTensor.")
    if array.size and array.min() < 0:
        raise RuntimeError("Class values must be non-negative.")
    if num_classes == -1:
        if not array.size:
            raise RuntimeError("Can not infer total number of classes from empty tensor.")
        num_classes = int(array.max()) + 1
    elif array.size and array.max() >= num_classes:
        raise RuntimeError("Class values must be smaller than num_classes.")
    return wrap((array[..., None] == np.arange(num_classes)).astype(np.int64))


# --- normalization --------------------------------------------------------------------------
def _normalize_rule(grad, input, weight, dims, eps, scale_dims=None):
    """Gradients of y = xhat * w + b with xhat = (x - mean) * rstd over ``dims`` (tapegrad ops,
    so they differentiate again)."""
    mean = input.mean(dims, keepdim=True)
    centered = input - mean
    rstd = ((centered * centered).mean(dims, keepdim=True) + eps).rsqrt()
    normalized = centered * rstd
    grad_normalized = grad if weight is None else grad * weight
    grad_input = rstd * (grad_normalized - grad_normalized.mean(dims, keepdim=True)
                         - normalized * (grad_normalized * normalized).mean(dims, keepdim=True))
    return grad_input, normalized


def _layer_norm(xp, input, weight, bias, normalized_shape, eps=1e-5):
    shape = tuple(normalized_shape)
    if tuple(input.shape[input.ndim - len(shape):]) != shape:
        raise RuntimeError(f"Given normalized_shape={list(shape)}, expected input with shape "
                           f"[*, {', '.join(str(s) for s in shape)}], but got input of size"
                           f"{list(input.shape)}")
    dims = tuple(range(input.ndim - len(shape), input.ndim))
    mean = input.mean(dims, keepdims=True)
    centered = input - mean
    variance = (centered * centered).mean(dims, keepdims=True)
    result = centered / xp.sqrt(variance + eps)
    if weight is not None:
        result = result * weight
    if bias is not None:
        result = result + bias
    return result.astype(input.dtype, copy=False)


def _layer_norm_rule(grad, input, weight, bias, normalized_shape, eps):
    dims = tuple(range(input.ndim - len(normalized_shape), input.ndim))
    grad_input, normalized = _normalize_rule(grad, input, weight, dims, eps)
    batch = tuple(range(input.ndim - len(normalized_shape)))
    grad_weight = (grad * normalized).sum(batch) if weight is not None else None
    grad_bias = grad.sum(batch) if bias is not None else None
    return grad_input, grad_weight, grad_bias


layer_norm_op = defop(
    _layer_norm, name="native_layer_norm", node="NativeLayerNormBackward0", inputs=3,
    function=False, backward=_layer_norm_rule,
    samples=[Sample(((3, 4), (4,), (4,)), args=((4,),)),
             Sample(((2, 3, 4),), args=(None, None, (3, 4))),
             Sample(((2, 3, 4), (3, 4)), args=(None, (3, 4), 1e-3))])


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    """See torch.nn.functional.layer_norm."""
    if isinstance(normalized_shape, int):
        normalized_shape = (normalized_shape,)
    return layer_norm_op.function(input, weight, bias, tuple(normalized_shape), eps)


def _channel_view(array, ndim: int):
    return None if array is None else array.reshape((1, -1) + (1,) * (ndim - 2))


def _batch_norm(xp, input, weight, bias, running_mean, running_var, training, momentum, eps):
    dims = (0, *range(2, input.ndim))
    if training:
        count = input.size // input.shape[1]
        if count <= 1:
            raise ValueError(f"Expected more than 1 value per channel when training, got input "
                             f"size torch.Size({list(input.shape)})")
        mean = input.mean(dims)
        variance = input.var(dims)
        if running_mean is not None:
            running_mean *= 1 - momentum
            running_mean += momentum * mean.astype(running_mean.dtype)
        if running_var is not None:
            running_var *= 1 - momentum
            running_var += momentum * (variance * count / (count - 1)).astype(running_var.dtype)
    else:
        if running_mean is None or running_var is None:
            raise RuntimeError("running_mean and running_var must be defined in evaluation mode")
        mean, variance = running_mean, running_var
    result = (input - _channel_view(mean, input.ndim)) / xp.sqrt(
        _channel_view(variance, input.ndim) + eps)
    if weight is not None:
        result = result * _channel_view(weight, input.ndim)
    if bias is not None:
        result = result + _channel_view(bias, input.ndim)
    return result.astype(input.dtype, copy=False)


def _batch_norm_rule(grad, input, weight, bias, running_mean, running_var, training, momentum,
                     eps):
    ndim = input.ndim
    dims = (0, *range(2, ndim))
    shape = (1, -1) + (1,) * (ndim - 2)
    weight_view = None if weight is None else weight.reshape(shape)
    if training:
        grad_input, normalized = _normalize_rule(grad, input, weight_view, dims, eps)
    else:
        # Eval: the statistics are constants.
        mean = wrap(np.asarray(_array(running_mean)).reshape(shape).astype(grad._data.dtype))
        rstd = wrap((1.0 / np.sqrt(np.asarray(_array(running_var)) + eps)).reshape(shape).astype(
            grad._data.dtype))
        normalized = (input - mean) * rstd
        grad_input = grad * rstd if weight_view is None else grad * weight_view * rstd
    grad_weight = (grad * normalized).sum(dims) if weight is not None else None
    grad_bias = grad.sum(dims) if bias is not None else None
    return grad_input, grad_weight, grad_bias


batch_norm_op = defop(
    _batch_norm, name="native_batch_norm", node="NativeBatchNormBackward0", inputs=3,
    array_params=True, function=False, backward=_batch_norm_rule,
    samples=[Sample(((4, 3), (3,), (3,)), args=(None, None, True, 0.1, 1e-5)),
             Sample(((2, 3, 2, 2),), args=(None, None, None, None, True, 0.1, 1e-3)),
             Sample(((3, 2, 4), (2,), (2,)),
                    args=(np.array([0.1, -0.2]), np.array([0.5, 1.5]), False, 0.1, 1e-5))])


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False,
               momentum=0.1, eps=1e-5):
    """Batch normalization; in training the running statistics are updated in place; see
    torch.nn.functional.batch_norm."""
    if input.ndim < 2:
        raise ValueError(f"Expected 2D or higher input (got {input.ndim}D input)")
    for stat in (running_mean, running_var):
        if stat is not None and training:
            stat._bump_version()
    return batch_norm_op.function(input, weight, bias, running_mean, running_var, training,
                                  momentum, eps)


def _group_norm(xp, input, weight, bias, num_groups, eps=1e-5):
    n, channels = input.shape[:2]
    if channels % num_groups:
        raise RuntimeError(f"Expected number of channels in input to be divisible by "
                           f"num_groups, but got input of shape {list(input.shape)} and "
                           f"num_groups={num_groups}")
    grouped = input.reshape(n, num_groups, -1)
    mean = grouped.mean(-1, keepdims=True)
    variance = grouped.var(-1, keepdims=True)
    result = ((grouped - mean) / xp.sqrt(variance + eps)).reshape(input.shape)
    if weight is not None:
        result = result * _channel_view(weight, input.ndim)
    if bias is not None:
        result = result + _channel_view(bias, input.ndim)
    return result.astype(input.dtype, copy=False)


def _group_norm_rule(grad, input, weight, bias, num_groups, eps):
    shape = tuple(input.shape)
    n = shape[0]
    view = (1, -1) + (1,) * (len(shape) - 2)
    grad_normalized = grad if weight is None else grad * weight.reshape(view)
    grad_grouped, normalized = _normalize_rule(grad_normalized.reshape(n, num_groups, -1),
                                               input.reshape(n, num_groups, -1), None, (-1,),
                                               eps)
    grad_input = grad_grouped.reshape(*shape)
    normalized = normalized.reshape(*shape)
    dims = (0, *range(2, len(shape)))
    grad_weight = (grad * normalized).sum(dims) if weight is not None else None
    grad_bias = grad.sum(dims) if bias is not None else None
    return grad_input, grad_weight, grad_bias


group_norm_op = defop(
    _group_norm, name="native_group_norm", node="NativeGroupNormBackward0", inputs=3,
    function=False, backward=_group_norm_rule,
    samples=[Sample(((2, 4, 3), (4,), (4,)), args=(2,)),
             Sample(((2, 6, 2, 2),), args=(None, None, 3, 1e-3)),
             Sample(((1, 4, 5), (4,)), args=(None, 4))])


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5):
    """See torch.nn.functional.group_norm."""
    if input.ndim < 2:
        raise RuntimeError(f"Expected at least 2 dimensions for input tensor but received "
                           f"{input.ndim}")
    return group_norm_op.function(input, weight, bias, num_groups, eps)


def instance_norm(input, running_mean=None, running_var=None, weight=None, bias=None,
                  use_input_stats=True, momentum=0.1, eps=1e-5):
    """Per-sample, per-channel normalization (batch norm over a reshaped input); see
    torch.nn.functional.instance_norm."""
    n, channels = input.shape[0], input.shape[1]
    if use_input_stats and input.numel() // (n * channels) <= 1:
        raise ValueError(f"Expected more than 1 spatial element when training, got input size "
                         f"torch.Size({list(input.shape)})")
    reshaped = input.reshape(1, n * channels, *input.shape[2:])

    def repeat(value):
        return None if value is None else value.unsqueeze(0).expand(n, channels).reshape(-1)

    mean_copy = None if running_mean is None else wrap(np.tile(running_mean._data, n))
    var_copy = None if running_var is None else wrap(np.tile(running_var._data, n))
    result = batch_norm(reshaped, mean_copy, var_copy, repeat(weight), repeat(bias),
                        use_input_stats, momentum, eps)
    if use_input_stats:
        if running_mean is not None:
            running_mean._data[...] = mean_copy._data.reshape(n, channels).mean(0)
            running_mean._bump_version()
        if running_var is not None:
            running_var._data[...] = var_copy._data.reshape(n, channels).mean(0)
            running_var._bump_version()
    return result.view(*input.shape)


# --- Tensor-Scalar arithmetic ---------------------------------------------------------------
# PyTorch's C++ composites (losses, distances) call the Scalar overloads of add, sub, mul and
# div, which record their own nodes (AddBackward1...) with a single edge. Python's `x + 1.0`
# goes through the Tensor overloads instead (AddBackward0), which tapegrad's operators keep.
def _scalar_result(xp, input, other, result, true_division=False):
    """``result`` in the dtype PyTorch gives ``input <op> other`` for a Python number."""
    target = _dtype.result_type(_dtype.from_numpy_dtype(input.dtype), None,
                                _dtype.scalar_dtype(other))
    if true_division and target.numpy.kind not in "fc":
        target = _dtype.get_default_dtype()
    return xp.asarray(result).astype(target.numpy, copy=False)


def _add_scalar(xp, input, other, alpha=1):
    return _scalar_result(xp, input, other, input + other * alpha)


def _sub_scalar(xp, input, other, alpha=1):
    return _scalar_result(xp, input, other, input - other * alpha)


def _mul_scalar(xp, input, other):
    return _scalar_result(xp, input, other, input * other)


def _div_scalar(xp, input, other):
    with np.errstate(divide="ignore", invalid="ignore"):
        return _scalar_result(xp, input, other, xp.true_divide(input, other), True)


_SCALAR_SAMPLES = [Sample(((3, 4),), args=(1.5,)), Sample(((),), args=(-2,)),
                   Sample(((2, 3, 2),), args=(0.25,))]
add_scalar_op = defop(_add_scalar, name="add_scalar", node="AddBackward1", kind="elementwise",
                      function=False, grads={"input": lambda grad: grad},
                      samples=_SCALAR_SAMPLES + [Sample(((3,),), args=(2.0, -3))])
sub_scalar_op = defop(_sub_scalar, name="sub_scalar", node="SubBackward1", kind="elementwise",
                      function=False, grads={"input": lambda grad: grad},
                      samples=_SCALAR_SAMPLES + [Sample(((3,),), args=(2.0, 0.5))])
mul_scalar_op = defop(_mul_scalar, name="mul_scalar", node="MulBackward1", kind="elementwise",
                      function=False, grads={"input": lambda grad, other: grad * other},
                      samples=_SCALAR_SAMPLES)
div_scalar_op = defop(_div_scalar, name="div_scalar", node="DivBackward1", kind="elementwise",
                      function=False, grads={"input": lambda grad, other: grad / other},
                      samples=_SCALAR_SAMPLES)


# --- distances and similarity ---------------------------------------------------------------
def _clamp_min(tensor, value):
    return tensor.clamp_min(value) if hasattr(tensor, "clamp_min") else tensor.clamp(min=value)


def normalize(input, p=2.0, dim=1, eps=1e-12, out=None):
    """input divided by its p-norm along dim (at least eps); see
    torch.nn.functional.normalize."""
    from .reduction import vector_norm

    denominator = _clamp_min(vector_norm(input, p, dim, True), eps).expand_as(input)
    return input / denominator


def cosine_similarity(x1, x2, dim=1, eps=1e-8):
    """Cosine of the angle between x1 and x2 along dim; see
    torch.nn.functional.cosine_similarity."""
    from ..autograd.grad_mode import no_grad
    from .reduction import vector_norm
    from .shape import expand_op

    if tuple(x1.shape) != tuple(x2.shape):
        shape = tuple(np.broadcast_shapes(tuple(x1.shape), tuple(x2.shape)))
        x1, x2 = expand_op.function(x1, shape), expand_op.function(x2, shape)
    norms = []
    for x in (x1, x2):
        # As PyTorch: the norm is clamped to eps in place on a copy, outside autograd, so the
        # gradient flows through the norm as if no clamp were there.
        norm = vector_norm(x, 2, dim, True).clone()
        with no_grad():
            norm.clamp_min_(eps)
        norms.append(norm)
    return ((x1 / norms[0]) * (x2 / norms[1])).sum(dim)


def _norm(xp, input, p, dim, keepdim=False):
    if input.dtype.kind not in "fc":
        raise RuntimeError(f"norm(): input dtype should be either floating point or complex. "
                           f"Got {_dtype.from_numpy_dtype(input.dtype).name.capitalize()} "
                           "instead.")
    return _vector_norm(xp, input, 2 if p is None else p, dim, keepdim)


# The p-norm over dims that PyTorch's C++ composites call (at::norm: NormBackward1); the
# Python torch.norm goes to linalg.vector_norm instead.
norm_op = defop(_norm, name="norm", node="NormBackward1", function=False,
                grads={"input": lambda grad, input, result, p, dim, keepdim: _vector_norm_rule(
                    grad, input, result, 2 if p is None else p, dim, keepdim)},
                samples=[Sample(((3, 4),), args=(2.0, (1,))),
                         Sample(((3, 4),), args=(1.0, (0,), True)),
                         Sample(((2, 3, 2),), args=(3.0, (0, 2))),
                         Sample(((5,),), args=(float("inf"), (0,)))])


def pairwise_distance(x1, x2, p=2.0, eps=1e-6, keepdim=False):
    """p-norm of x1 - x2 + eps along the last dim; see torch.nn.functional.pairwise_distance."""
    last = max(x1.ndim, x2.ndim) - 1
    return norm_op.function(add_scalar_op.function(x1 - x2, eps), p, (last,), keepdim)


def cdist(xp, x1, x2, p=2.0, compute_mode=None):
    """Pairwise p-norm distances between the rows of x1 and x2; see torch.cdist."""
    if x1.ndim < 2 or x2.ndim < 2:
        raise RuntimeError(f"cdist only supports at least 2D tensors, X1 got: {x1.ndim}D")
    if x1.shape[-1] != x2.shape[-1]:
        raise RuntimeError(f"X1 and X2 must have the same number of columns. X1: "
                           f"{x1.shape[-1]} X2: {x2.shape[-1]}")
    if p < 0:
        raise RuntimeError("cdist only supports non-negative p values")
    difference = xp.abs(x1[..., :, None, :] - x2[..., None, :, :])
    if p == 0:
        result = (difference != 0).sum(-1).astype(x1.dtype)
    elif p == float("inf"):
        result = difference.max(-1)
    elif p == 1:
        result = difference.sum(-1)
    elif p == 2:
        result = xp.sqrt((difference * difference).sum(-1))
    else:
        result = (difference ** p).sum(-1) ** (1.0 / p)
    return result.astype(x1.dtype, copy=False)


def _cdist_rule(grad, x1, x2, result, p):
    difference = x1.unsqueeze(-2) - x2.unsqueeze(-3)
    distance = result.unsqueeze(-1)
    if p == 0:
        return x1 * 0, x2 * 0
    if p == 1:
        pairwise = difference.sign()
    elif p == 2:
        # Zero distance: the subgradient 0, as PyTorch.
        pairwise = difference / distance.masked_fill(distance == 0, float("inf"))
    elif p == float("inf"):
        largest = (difference.abs() == distance)
        pairwise = difference.sign() * largest
    else:
        scaled = distance.masked_fill(distance == 0, float("inf")).pow(p - 1)
        pairwise = difference.sign() * difference.abs().pow(p - 1) / scaled
    weighted = grad.unsqueeze(-1) * pairwise
    return weighted.sum(-2), -weighted.sum(-3)


cdist_op = defop(
    cdist, node="CdistBackward0", inputs=2, backward=_cdist_rule,
    samples=[Sample(((3, 4), (5, 4))), Sample(((2, 3, 2), (2, 4, 2)), args=(1.0,)),
             Sample(((3, 2), (2, 2)), args=(3.0,)),
             Sample(((3, 2), (4, 2)), args=(float("inf"),))])


# --- dropout and attention ------------------------------------------------------------------
def dropout(input, p=0.5, training=True, inplace=False):
    """Zero elements with probability p and scale the rest by 1/(1-p) (tapegrad's default
    generator draws the mask); see torch.nn.functional.dropout."""
    from .._creation import _rng

    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0.0:
        return input
    if p == 1.0:
        return input * wrap(np.zeros((), input._data.dtype))
    keep = _rng(None).random(input.shape) >= p
    scale = (keep / (1.0 - p)).astype(input._data.dtype)
    if inplace:
        return input.mul_(wrap(scale))
    return input * wrap(scale)


def _softmax_last(scores):
    """Softmax over the last dim from tapegrad ops (the shift is a constant, so it stays exact
    under differentiation)."""
    shift = wrap(np.max(scores._data, -1, keepdims=True))
    shift = wrap(np.where(np.isfinite(shift._data), shift._data, 0.0).astype(shift._data.dtype))
    exponent = (scores - shift).exp()
    return exponent / exponent.sum(-1, keepdim=True)


def _attention_bias(mask, is_causal, length, source_length, dtype):
    """The additive score bias: -inf where a bool mask is False, a float mask as it is, and
    -inf above the diagonal when causal (PyTorch combines both when given both)."""
    bias = None
    if mask is not None:
        bias = np.where(mask, 0.0, -np.inf) if mask.dtype == np.bool_ else mask
    if is_causal:
        causal = np.where(np.tril(np.ones((length, source_length), bool)), 0.0, -np.inf)
        bias = causal if bias is None else bias + causal
    return None if bias is None else bias.astype(dtype, copy=False)


def _attention_scale(query, scale):
    return 1.0 / math.sqrt(query.shape[-1]) if scale is None else scale


def _sdpa(xp, query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None,
          enable_gqa=False):
    factor = _attention_scale(query, scale)
    scores = xp.matmul(query, xp.swapaxes(key, -1, -2)) * factor
    bias = _attention_bias(attn_mask, is_causal, query.shape[-2], key.shape[-2], query.dtype)
    if bias is not None:
        scores = scores + bias
    scores = scores - scores.max(-1, keepdims=True)
    weights = xp.exp(scores)
    weights = weights / weights.sum(-1, keepdims=True)
    return xp.matmul(weights, value).astype(query.dtype, copy=False)


def _sdpa_rule(grad, query, key, value, attn_mask, is_causal, scale):
    factor = _attention_scale(query, scale)
    scores = matmul(query, key.mT) * factor
    bias = _attention_bias(_array(attn_mask), is_causal, query.shape[-2], key.shape[-2],
                           query._data.dtype)
    if bias is not None:
        scores = scores + wrap(bias)
    weights = _softmax_last(scores)
    grad_value = matmul(weights.mT, grad)
    grad_weights = matmul(grad, value.mT)
    grad_scores = weights * (grad_weights - (grad_weights * weights).sum(-1, keepdim=True))
    grad_query = matmul(grad_scores, key) * factor
    grad_key = matmul(grad_scores.mT, query) * factor
    return grad_query, grad_key, grad_value


sdpa_op = defop(
    _sdpa, name="scaled_dot_product_attention",
    node="ScaledDotProductFlashAttentionForCpuBackward0", inputs=3, array_params=True,
    function=False, backward=_sdpa_rule,
    samples=[Sample(((1, 2, 3, 4), (1, 2, 3, 4), (1, 2, 3, 4))),
             Sample(((1, 2, 3, 4), (1, 2, 5, 4), (1, 2, 5, 4)), kwargs={"scale": 0.3}),
             Sample(((1, 1, 3, 2), (1, 1, 3, 2), (1, 1, 3, 2)),
                    kwargs={"attn_mask": np.array([[True, False, True], [True, True, False],
                                                   [False, True, True]])}),
             Sample(((1, 2, 4, 3), (1, 2, 4, 3), (1, 2, 4, 3)), kwargs={"is_causal": True})])


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0,
                                 is_causal=False, scale=None, enable_gqa=False):
    """softmax(Q K^T * scale + mask) V; see torch.nn.functional.scaled_dot_product_attention."""
    if attn_mask is not None and not isinstance(attn_mask, Tensor):
        attn_mask = wrap(np.asarray(attn_mask))
    if attn_mask is not None and attn_mask.dtype != query.dtype and attn_mask.dtype not in (
            _dtype.bool, _dtype.float32):
        raise RuntimeError(f"Expected attn_mask dtype to be bool or float or to match query dtype,"
                           f" but got attn_mask.dtype: {attn_mask.dtype} and  query.dtype: "
                           f"{query.dtype} instead.")
    # PyTorch's fused CPU kernel (and its node) covers 4-D inputs with one head size and no
    # dropout; other calls run the math composite.
    fused = query.ndim == key.ndim == value.ndim == 4 and value.shape[-1] == query.shape[-1]
    if dropout_p > 0.0 or not fused:
        factor = _attention_scale(query, scale)
        scores = matmul(query, key.mT) * factor
        bias = _attention_bias(None if attn_mask is None else attn_mask._data, is_causal,
                               query.shape[-2], key.shape[-2], query._data.dtype)
        if bias is not None:
            scores = scores + wrap(bias)
        weights = _softmax_last(scores)
        return matmul(dropout(weights, dropout_p) if dropout_p > 0.0 else weights, value)
    return sdpa_op.function(query, key, value, attn_mask, dropout_p, is_causal, scale)

