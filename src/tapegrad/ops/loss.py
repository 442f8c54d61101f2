"""Loss functions of torch.nn.functional: the primitives PyTorch records as one node (mse,
smooth L1, Huber, NLL, binary cross entropy) and the composites built over tapegrad ops."""

from __future__ import annotations

import warnings

import numpy as np

from .._backend import quiet
from .._tensor import Tensor, wrap
from . import _samples as samples
from ._registry import defop
from .activation import log_softmax
from .nn_ops import add_scalar_op, div_scalar_op, mul_scalar_op, sub_scalar_op

Sample = samples.Sample

__all__ = [
    "binary_cross_entropy", "binary_cross_entropy_with_logits", "cosine_embedding_loss",
    "cross_entropy", "gaussian_nll_loss", "hinge_embedding_loss", "huber_loss", "kl_div",
    "l1_loss", "margin_ranking_loss", "mse_loss", "nll_loss", "poisson_nll_loss",
    "smooth_l1_loss", "triplet_margin_loss",
]

_REDUCTIONS = ("none", "mean", "sum")


def _reduction(size_average, reduce, reduction: str) -> str:
    """The legacy size_average/reduce flags, folded into ``reduction`` as PyTorch does."""
    if size_average is not None or reduce is not None:
        size_average = True if size_average is None else size_average
        reduce = True if reduce is None else reduce
        reduction = ("mean" if size_average else "sum") if reduce else "none"
    if reduction not in _REDUCTIONS and reduction != "batchmean":
        raise ValueError(f"{reduction} is not a valid value for reduction")
    return reduction


def _reduce_array(xp, loss, reduction):
    if reduction == "mean":
        return xp.asarray(loss.mean(), loss.dtype)
    if reduction == "sum":
        return xp.asarray(loss.sum(), loss.dtype)
    return loss


def _expand_grad(grad, shape, reduction):
    """The gradient of the reduction: broadcast back to the element-wise loss's shape."""
    if reduction == "none":
        return grad
    grad = grad.expand(*shape)
    if reduction == "mean":
        count = int(np.prod(shape))
        return grad / count if count else grad
    return grad


def _reduce(loss, reduction):
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def _check_sizes(name: str, input, target) -> None:
    if tuple(target.shape) != tuple(input.shape):
        warnings.warn(f"Using a target size ({_size(target)}) that is different to the input size "
                      f"({_size(input)}). This will likely lead to incorrect results due to "
                      f"broadcasting. Please ensure they have the same size.", stacklevel=3)


def _size(tensor) -> str:
    return f"torch.Size({list(tensor.shape)})"


def _broadcast_shape(input, target):
    try:
        return np.broadcast_shapes(input.shape, target.shape)
    except ValueError:
        raise RuntimeError(f"The size of tensor a ({input.shape[-1]}) must match the size of "
                           f"tensor b ({target.shape[-1]}) at non-singleton dimension "
                           f"{len(input.shape) - 1}") from None


# --- regression losses ----------------------------------------------------------------------
def _mse_loss(xp, input, target, reduction="mean"):
    _broadcast_shape(input, target)
    difference = input - target
    return _reduce_array(xp, difference * difference, reduction)


def _mse_rule(grad, input, target, reduction):
    difference = input - target
    return _expand_grad(grad, difference.shape, reduction) * 2 * difference


mse_loss_op = defop(
    _mse_loss, name="mse_loss", node="MseLossBackward0", inputs=2, promote="promote",
    function=False,
    grads={"input": lambda grad, input, target, reduction: _mse_rule(grad, input, target,
                                                                     reduction),
           "target": lambda grad, input, target, reduction: -_mse_rule(grad, input, target,
                                                                       reduction)},
    samples=[Sample(((3, 4), (3, 4)), args=(r,)) for r in _REDUCTIONS])


def mse_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    """Mean squared error; see torch.nn.functional.mse_loss."""
    _check_sizes("mse_loss", input, target)
    reduction = _reduction(size_average, reduce, reduction)
    if weight is not None:
        return _reduce(weight * (input - target) ** 2, reduction)
    return mse_loss_op.function(input, target, reduction)


def _smooth_l1(xp, input, target, reduction="mean", beta=1.0):
    _broadcast_shape(input, target)
    difference = xp.abs(input - target)
    if beta == 0:
        loss = difference
    else:
        loss = xp.where(difference < beta, 0.5 * difference * difference / beta,
                        difference - 0.5 * beta)
    return _reduce_array(xp, loss.astype(input.dtype, copy=False), reduction)


def _smooth_l1_rule(grad, input, target, reduction, beta):
    from .pointwise import where

    difference = input - target
    # |d| < beta is the quadratic part; at |d| == beta PyTorch takes the linear part's sign.
    slope = difference.sign() if beta == 0 else where(difference.abs() < beta,
                                                      difference / beta, difference.sign())
    return _expand_grad(grad, difference.shape, reduction) * slope


smooth_l1_loss_op = defop(
    _smooth_l1, name="smooth_l1_loss", node="SmoothL1LossBackward0", inputs=2,
    promote="promote", function=False,
    grads={"input": _smooth_l1_rule,
           "target": lambda grad, input, target, reduction, beta: -_smooth_l1_rule(
               grad, input, target, reduction, beta)},
    samples=[Sample(((3, 4), (3, 4)), args=(r, b)) for r, b in
             (("none", 1.0), ("mean", 0.5), ("sum", 2.0))])


def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction="mean", beta=1.0):
    """Quadratic below beta, linear above; see torch.nn.functional.smooth_l1_loss."""
    _check_sizes("smooth_l1_loss", input, target)
    if beta < 0:
        raise RuntimeError("smooth_l1_loss does not support negative values for beta.")
    return smooth_l1_loss_op.function(input, target, _reduction(size_average, reduce, reduction),
                                      float(beta))


def _huber(xp, input, target, reduction="mean", delta=1.0):
    _broadcast_shape(input, target)
    difference = xp.abs(input - target)
    loss = xp.where(difference < delta, 0.5 * difference * difference,
                    delta * (difference - 0.5 * delta))
    return _reduce_array(xp, loss.astype(input.dtype, copy=False), reduction)


def _huber_rule(grad, input, target, reduction, delta):
    from .pointwise import where

    difference = input - target
    slope = where(difference.abs() <= delta, difference, difference.sign() * delta)
    return _expand_grad(grad, difference.shape, reduction) * slope


huber_loss_op = defop(
    _huber, name="huber_loss", node="HuberLossBackward0", inputs=2, promote="promote",
    function=False,
    grads={"input": _huber_rule,
           "target": lambda grad, input, target, reduction, delta: -_huber_rule(
               grad, input, target, reduction, delta)},
    samples=[Sample(((3, 4), (3, 4)), args=(r, d)) for r, d in
             (("none", 1.0), ("mean", 0.5), ("sum", 2.0))])


def huber_loss(input, target, reduction="mean", delta=1.0, weight=None):
    """Huber loss; see torch.nn.functional.huber_loss."""
    _check_sizes("huber_loss", input, target)
    if delta <= 0:
        raise RuntimeError("huber_loss does not support non-positive values for delta.")
    reduction = _reduction(None, None, reduction)
    if weight is not None:
        return _reduce(weight * huber_loss_op.function(input, target, "none", float(delta)),
                       reduction)
    return huber_loss_op.function(input, target, reduction, float(delta))


def l1_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    """Mean absolute error; see torch.nn.functional.l1_loss."""
    _check_sizes("l1_loss", input, target)
    loss = (input - target).abs()
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, _reduction(size_average, reduce, reduction))


# --- negative log likelihood ----------------------------------------------------------------
def _nll_parts(input, target, weight, ignore_index):
    """Per-element class weights (0 where ignored) and the class index per element."""
    classes = input.shape[1] if input.ndim > 1 else input.shape[0]
    valid = target != ignore_index
    every = bool(valid.all())
    safe = target if every else np.where(valid, target, 0)
    if safe.size and (every or valid.any()) and (safe.min() < 0 or safe.max() >= classes):
        bad = int(safe[(safe < 0) | (safe >= classes)][0])
        raise IndexError(f"Target {bad} is out of bounds.")
    if weight is None:
        element_weights = valid.astype(input.dtype)
    else:
        element_weights = weight.astype(input.dtype)[safe] * valid
    return element_weights, safe


def _picked(input, safe):
    """input's value at each element's class (class dim 1, or 0 for one sample)."""
    if input.ndim == 1:
        return input[safe]
    if input.ndim == 2:
        return input[np.arange(input.shape[0]), safe]
    return np.take_along_axis(input, np.expand_dims(safe, 1), 1).squeeze(1)


def _nll(xp, input, target, weight=None, reduction="mean", ignore_index=-100):
    if target.dtype.kind not in "iu":
        raise RuntimeError(f"expected scalar type Long but found "
                           f"{'Float' if target.dtype == np.float32 else 'Double'}")
    if input.ndim < 1 or input.ndim > 4 or input.ndim == 3:
        raise ValueError(f"Expected 2 or 4 dimensions (got {input.ndim})")
    if input.ndim > 1 and target.shape[0] != input.shape[0]:
        raise ValueError(f"Expected input batch_size ({input.shape[0]}) to match target "
                         f"batch_size ({target.shape[0]}).")
    if weight is not None and weight.dtype != input.dtype:
        names = {np.dtype(np.float32): "Float", np.dtype(np.float64): "Double"}
        raise RuntimeError(f"expected scalar type {names.get(input.dtype, input.dtype)} but found "
                           f"{names.get(weight.dtype, weight.dtype)}")
    if _every_class_in_range(input.shape, target, weight, ignore_index) \
            and reduction != "none":
        # The common case, in fewer passes: no weights, nothing ignored, one class per row.
        total = -_add(_picked(input, target), axis=None)
        return xp.asarray(total if reduction == "sum" else total / target.size, input.dtype)
    element_weights, safe = _nll_parts(input, target, weight, ignore_index)
    loss = -_picked(input, safe) * element_weights
    if reduction == "none":
        return loss.astype(input.dtype, copy=False)
    if reduction == "sum":
        return xp.asarray(loss.sum(), input.dtype)
    # The mean divides by the total weight of the counted elements (nan if none counts).
    with quiet():
        return xp.asarray(loss.sum() / element_weights.sum(), input.dtype)


def _every_class_in_range(input_shape, target, weight, ignore_index) -> bool:
    """Whether nll_loss's common case holds: 1-D or 2-D input, no class weights, every target
    a valid class and none equal to ignore_index (one reduction instead of _nll_parts')."""
    if weight is not None or len(input_shape) > 2 or not target.size:
        return False
    classes = input_shape[-1]
    if 0 <= ignore_index < classes:
        return False
    # One reduction, not a min and a max: read as unsigned, a negative class is larger than
    # any class count.
    if target.dtype.kind == "i":
        target = target.view(_UNSIGNED[target.dtype.itemsize])
    return bool(_maximum(target, axis=None) < classes)


_UNSIGNED = {size: np.dtype(f"u{size}") for size in (1, 2, 4, 8)}
# The ufuncs' reduce: the array methods add a Python layer each.
_maximum = np.maximum.reduce
_add = np.add.reduce


def _nll_coefficients(input_shape, target, weight, reduction, ignore_index, dtype):
    """Each element's class (0 where ignored), which elements count (None: all of them, the
    common case) and d loss / d input at each class for a unit incoming gradient: -w, over
    the total weight for the mean. Both rules are linear in grad."""
    if reduction != "none" and _every_class_in_range(input_shape, target, weight, ignore_index):
        one = dtype.type(1)
        return target, None, -(one if reduction == "sum" else one / dtype.type(target.size))
    valid = target != ignore_index
    classes = np.where(valid, target, 0)
    element_weights = valid.astype(dtype) if weight is None else \
        np.asarray(weight, dtype)[classes] * valid
    if reduction == "mean":
        element_weights = element_weights / element_weights.sum()
    return classes, valid, -element_weights


def _nll_grad_shape(grad, input_shape, reduction):
    """The incoming gradient shaped to broadcast against the picker."""
    if reduction == "none":
        return grad.reshape(grad.shape[:1] + (1,) + grad.shape[1:]) if len(input_shape) > 1 \
            else grad
    return grad.reshape((1,) * len(input_shape))


def _nll_rule(grad, input_shape, target, weight, reduction, ignore_index):
    from .pointwise import where

    target = np.asarray(target._data if isinstance(target, Tensor) else target)
    weight = weight._data if isinstance(weight, Tensor) else weight
    dtype = grad._data.dtype
    classes, valid, coefficients = _nll_coefficients(input_shape, target, weight, reduction,
                                                     ignore_index, dtype)
    picker = np.zeros(input_shape, dtype)
    _place(picker, classes, coefficients)
    # Zeros off each counted element's class even for an infinite grad, as the NumPy rule.
    counted = np.zeros(input_shape, bool)
    _place(counted, classes, True if valid is None else valid)
    return where(wrap(counted), _nll_grad_shape(grad, input_shape, reduction) * wrap(picker), 0.0)


def _nll_array_rule(grad, input_shape, target, weight, reduction, ignore_index):
    """PyTorch's rule, written directly: -w * grad (over the total weight, for the mean) at each
    element's class, zeros elsewhere and for ignored elements, even where grad is not finite
    (a picker multiplied by grad would turn those zeros into nan)."""
    target = np.asarray(target)
    dtype = grad.dtype
    classes, valid, coefficients = _nll_coefficients(input_shape, target, weight, reduction,
                                                     ignore_index, dtype)
    if valid is None:  # every element counts: PyTorch's -grad / count, to the last bit
        values = -grad if reduction == "sum" else -(grad / dtype.type(target.size))
    else:
        values = np.where(valid, coefficients * grad, 0).astype(dtype, copy=False)
    result = np.zeros(input_shape, dtype)
    _place(result, classes, values)
    return result


def _place(result, classes, values):
    """Write ``values`` (one per element, or one for all) at each element's class of
    ``result`` (class dim 1, or 0 for one sample)."""
    if result.ndim == 1:
        result[classes] = values
    elif result.ndim == 2:
        result[np.arange(result.shape[0]), classes] = values
    else:
        np.put_along_axis(result, np.expand_dims(classes, 1),
                          np.expand_dims(np.broadcast_to(values, classes.shape), 1), 1)


def _nll_op(name: str, node: str, sample_list: list):
    return defop(_nll, name=name, node=node, array_params=True, function=False,
                 grads={"input": _nll_rule}, array_grads={"input": _nll_array_rule},
                 samples=sample_list)


nll_loss_op = _nll_op("nll_loss", "NllLossBackward0", [
    Sample(((4, 3),), args=(np.array([0, 2, 1, 2]), None, r)) for r in _REDUCTIONS] + [
    Sample(((4, 3),), args=(np.array([0, 2, 1, 2]), np.array([0.2, 1.0, 0.5]), "mean", 1)),
    Sample(((3,),), args=(np.array(1), None, "sum"))])
nll_loss2d_op = _nll_op("nll_loss2d", "NllLoss2DBackward0", [
    Sample(((2, 3, 2, 2),), args=(np.array([[[0, 1], [2, 1]], [[1, 1], [0, 2]]]), None, r))
    for r in ("mean", "sum")] + [
    Sample(((2, 3, 2, 2),), args=(np.array([[[0, 1], [2, 1]], [[1, 1], [0, 2]]]),
                                  np.array([0.2, 1.0, 0.5]), "mean", 2))])


def nll_loss(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
             reduction="mean"):
    """Negative log likelihood of the target classes; see torch.nn.functional.nll_loss."""
    reduction = _reduction(size_average, reduce, reduction)
    if input.ndim < 1:
        raise ValueError(f"Expected 1 or more dimensions (got {input.ndim})")
    if input.ndim > 1 and target.shape[0] != input.shape[0]:
        raise ValueError(f"Expected input batch_size ({input.shape[0]}) to match target "
                         f"batch_size ({target.shape[0]}).")
    if weight is not None and weight.numel() != (input.shape[1] if input.ndim > 1 else
                                                 input.shape[0]):
        raise RuntimeError(f"weight tensor should be defined either for all {input.shape[1]} "
                           f"classes or no classes but got weight tensor of shape: "
                           f"{list(weight.shape)}")
    if input.ndim <= 2:
        return nll_loss_op.function(input, target, weight, reduction, ignore_index)
    if input.ndim == 4:
        return nll_loss2d_op.function(input, target, weight, reduction, ignore_index)
    # Other ranks: PyTorch folds the trailing dims into a 4-D problem and views the result back.
    n, c = input.shape[:2]
    spatial = tuple(input.shape[2:])
    if tuple(target.shape) != (n, *spatial):
        raise ValueError(f"Expected target size {[n, *spatial]}, got {list(target.shape)}")
    flat_input = input.reshape(n, c, 1, -1)
    flat_target = target.reshape(n, 1, -1)
    result = nll_loss2d_op.function(flat_input, flat_target, weight, reduction, ignore_index)
    return result.view(n, *spatial) if reduction == "none" else result


def _log_softmax(input, dim):
    return log_softmax(input, dim)


def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100,
                  reduce=None, reduction="mean", label_smoothing=0.0):
    """log_softmax then nll_loss (class indices), or the soft-label cross entropy (class
    probabilities); see torch.nn.functional.cross_entropy."""
    reduction = _reduction(size_average, reduce, reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise RuntimeError(f"label_smoothing must be between 0.0 and 1.0. Got: {label_smoothing}")
    class_dim = 1 if input.ndim > 1 else 0
    classes = input.shape[class_dim]
    log_probabilities = _log_softmax(input, class_dim)
    weight_shape = [1] * input.ndim
    weight_shape[class_dim] = classes
    if target.is_floating_point():
        if tuple(target.shape) != tuple(input.shape):
            raise RuntimeError(f"Expected target size {list(input.shape)}, got "
                               f"{list(target.shape)}")
        if label_smoothing > 0:
            target = target * (1 - label_smoothing) + label_smoothing / classes
        products = log_probabilities * target
        if weight is not None:
            products = products * weight.reshape(*weight_shape)
        if reduction == "none":
            return -products.sum(class_dim)
        if reduction == "sum":
            return -products.sum()
        return div_scalar_op.function(-products.sum(), input.numel() // classes)
    nll = nll_loss(log_probabilities, target, weight, None, ignore_index, None, reduction)
    if label_smoothing <= 0:
        return nll
    # The uniform part: -sum_c w_c log p_c / C per element, ignored elements left out.
    scaled = log_probabilities if weight is None else \
        log_probabilities * weight.reshape(*weight_shape)
    valid = (target != ignore_index)
    smooth = (-scaled.sum(class_dim)).masked_fill(~valid, 0.0)
    if reduction == "mean":
        if weight is None:
            smooth = smooth.sum() / valid.sum()
        else:
            from .pointwise import where

            picked = weight[where(valid, target, 0)] * valid
            smooth = smooth.sum() / picked.sum()
    else:
        smooth = _reduce(smooth, reduction)
    return (mul_scalar_op.function(nll, 1 - label_smoothing)
            + mul_scalar_op.function(smooth, label_smoothing / classes))


# --- binary cross entropy -------------------------------------------------------------------
def _bce(xp, input, target, weight=None, reduction="mean"):
    if input.shape != target.shape:
        raise ValueError(f"Using a target size (torch.Size({list(target.shape)})) that is "
                         f"different to the input size (torch.Size({list(input.shape)})) is "
                         f"deprecated. Please ensure they have the same size.")
    if input.size and (np.nanmin(input) < 0 or np.nanmax(input) > 1):
        raise RuntimeError("all elements of input should be between 0 and 1")
    with quiet():
        # PyTorch clamps each log at -100 so that 0 and 1 give finite losses.
        log_input = np.maximum(np.log(input), -100.0)
        log_complement = np.maximum(np.log1p(-input), -100.0)
    loss = -(target * log_input + (1 - target) * log_complement)
    if weight is not None:
        loss = loss * weight
    return _reduce_array(xp, loss.astype(input.dtype, copy=False), reduction)


def _bce_weight(weight, like):
    if weight is None:
        return None
    return wrap(np.asarray(weight._data if isinstance(weight, Tensor) else weight,
                           like._data.dtype))


def _bce_input_rule(grad, input, target, weight, reduction):
    # d/dx = (x - t) / (x (1 - x)), with the denominator kept at least 1e-12 as PyTorch.
    denominator = (input * (1 - input)).clamp(min=1e-12)
    result = _expand_grad(grad, input.shape, reduction) * (input - target) / denominator
    scale = _bce_weight(weight, input)
    return result if scale is None else result * scale


def _bce_target_rule(grad, input, weight, reduction):
    log_complement = (1 - input).log().clamp(min=-100.0)
    result = _expand_grad(grad, input.shape, reduction) * (log_complement
                                                           - input.log().clamp(min=-100.0))
    scale = _bce_weight(weight, input)
    return result if scale is None else result * scale


binary_cross_entropy_op = defop(
    _bce, name="binary_cross_entropy", node="BinaryCrossEntropyBackward0", inputs=2,
    array_params=True, function=False,
    grads={"input": _bce_input_rule, "target": _bce_target_rule},
    samples=[Sample(((3, 4), (3, 4)), args=(None, r), domain=(0.1, 0.9)) for r in _REDUCTIONS]
    + [Sample(((3, 4), (3, 4)), args=(np.array([0.5, 1.0, 2.0, 0.3]), "mean"),
              domain=(0.1, 0.9))])


def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None,
                         reduction="mean"):
    """See torch.nn.functional.binary_cross_entropy."""
    reduction = _reduction(size_average, reduce, reduction)
    if tuple(target.shape) != tuple(input.shape):
        raise ValueError(f"Using a target size ({_size(target)}) that is different to the input "
                         f"size ({_size(input)}) is deprecated. Please ensure they have the same "
                         f"size.")
    if weight is not None and tuple(weight.shape) != tuple(input.shape):
        weight = weight.expand(*input.shape)
    return binary_cross_entropy_op.function(input, target, weight, reduction)


def _softplus_negative(input):
    """log(1 + exp(-x)) computed without overflow: log1p(exp(-|x|)) + max(-x, 0)."""
    return ((-input.abs()).exp() + 1).log() + (-input).relu()


def _bce_logits(xp, input, target, weight=None, pos_weight=None, reduction="mean"):
    if input.shape != target.shape:
        raise ValueError(f"Target size (torch.Size({list(target.shape)})) must be the same as "
                         f"input size (torch.Size({list(input.shape)}))")
    softplus = np.log1p(np.exp(-np.abs(input))) + np.maximum(-input, 0)
    if pos_weight is None:
        loss = (1 - target) * input + softplus
    else:
        log_weight = 1 + (pos_weight - 1) * target
        loss = (1 - target) * input + log_weight * softplus
    if weight is not None:
        loss = loss * weight
    return _reduce_array(xp, loss.astype(input.dtype, copy=False), reduction)


def _bce_logits_rules(grad, input, target, weight, pos_weight, reduction):
    grad = _expand_grad(grad, np.broadcast_shapes(tuple(input.shape), tuple(target.shape)),
                        reduction)
    scale = _bce_weight(weight, input)
    positive = _bce_weight(pos_weight, input)
    # loss = (1 - t) x + (1 + (p - 1) t) softplus(-x)
    if positive is None:
        grad_input = input.sigmoid() - target
        grad_target = -input
    else:
        log_weight = (positive - 1) * target + 1
        grad_input = (1 - target) - log_weight * (1 - input.sigmoid())
        grad_target = -input + (positive - 1) * _softplus_negative(input)
    grad_input, grad_target = grad * grad_input, grad * grad_target
    if scale is not None:
        grad_input, grad_target = grad_input * scale, grad_target * scale
    return grad_input, grad_target


binary_cross_entropy_with_logits_op = defop(
    _bce_logits, name="binary_cross_entropy_with_logits",
    node="BinaryCrossEntropyWithLogitsBackward0", inputs=2, array_params=True, function=False,
    backward=_bce_logits_rules,
    samples=[Sample(((3, 4), (3, 4)), args=(None, None, r), domain=(-2.0, 2.0))
             for r in _REDUCTIONS]
    + [Sample(((3, 4), (3, 4)), args=(np.array([0.5, 1.0, 2.0, 0.3]),
                                      np.array([2.0, 0.5, 1.0, 3.0]), "sum"))])


def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None,
                                     reduce=None, reduction="mean", pos_weight=None):
    """Sigmoid and binary cross entropy in one stable step; see
    torch.nn.functional.binary_cross_entropy_with_logits."""
    reduction = _reduction(size_average, reduce, reduction)
    if tuple(target.shape) != tuple(input.shape):
        raise ValueError(f"Target size ({_size(target)}) must be the same as input size "
                         f"({_size(input)})")
    return binary_cross_entropy_with_logits_op.function(input, target, weight, pos_weight,
                                                        reduction)


# --- composites -----------------------------------------------------------------------------
def kl_div(input, target, size_average=None, reduce=None, reduction="mean", log_target=False):
    """KL divergence with ``input`` as log-probabilities; see torch.nn.functional.kl_div."""
    from .pointwise import where

    reduction = _reduction(size_average, reduce, reduction)
    if log_target:
        loss = target.exp() * (target - input)
    else:
        # target * log(target), with 0 log 0 = 0 (xlogy).
        entropy = where(target > 0, target * where(target > 0, target, 1.0).log(), 0.0) \
            if not hasattr(target, "xlogy") else target.xlogy(target)
        loss = entropy - target * input
    if reduction == "batchmean":
        total = loss.sum()
        return total / input.shape[0] if input.ndim else total
    return _reduce(loss, reduction)


def _scalar_tensor(value, like):
    """A Python number as a 0-d tensor of ``like``'s dtype: PyTorch's C++ losses write
    ``1 - x`` that way, and record SubBackward0 (not RsubBackward1)."""
    return wrap(np.asarray(value, like._data.dtype))


def margin_ranking_loss(input1, input2, target, margin=0.0, size_average=None, reduce=None,
                        reduction="mean"):
    """max(0, -target (input1 - input2) + margin); see
    torch.nn.functional.margin_ranking_loss."""
    reduction = _reduction(size_average, reduce, reduction)
    if input1.ndim != input2.ndim or input1.ndim != target.ndim:
        raise RuntimeError(f"margin_ranking_loss : All input tensors should have same dimension "
                           f"but got sizes: input1: {_size(input1)}, input2: {_size(input2)}, "
                           f"target: {_size(target)} ")
    return _reduce(add_scalar_op.function(-target * (input1 - input2), margin).clamp_min(0),
                   reduction)


def hinge_embedding_loss(input, target, margin=1.0, size_average=None, reduce=None,
                         reduction="mean"):
    """input where target is 1, max(0, margin - input) where it is -1; see
    torch.nn.functional.hinge_embedding_loss."""
    from .pointwise import where

    reduction = _reduction(size_average, reduce, reduction)
    margin_part = where(target == -1, (_scalar_tensor(margin, input) - input).clamp_min(0), 0.0)
    positive_part = where(target == 1, input, 0.0)
    return _reduce(margin_part + positive_part, reduction)


def cosine_embedding_loss(input1, input2, target, margin=0.0, size_average=None, reduce=None,
                          reduction="mean"):
    """1 - cos for target 1, max(0, cos - margin) for target -1; see
    torch.nn.functional.cosine_embedding_loss."""
    from .pointwise import where

    reduction = _reduction(size_average, reduce, reduction)
    eps = 1e-12
    dim = target.ndim
    products = (input1 * input2).sum(dim)
    squares1 = add_scalar_op.function((input1 * input1).sum(dim), eps)
    squares2 = add_scalar_op.function((input2 * input2).sum(dim), eps)
    cosine = products / (squares1 * squares2).sqrt()
    positive = where(target == 1, _scalar_tensor(1, cosine) - cosine, 0.0)
    negative = where(target == -1, sub_scalar_op.function(cosine, margin).clamp_min(0), 0.0)
    return _reduce(positive + negative, reduction)


def triplet_margin_loss(anchor, positive, negative, margin=1.0, p=2, eps=1e-6, swap=False,
                        size_average=None, reduce=None, reduction="mean"):
    """max(d(a, p) - d(a, n) + margin, 0); see torch.nn.functional.triplet_margin_loss."""
    from .nn_ops import pairwise_distance

    reduction = _reduction(size_average, reduce, reduction)
    if not (anchor.ndim == positive.ndim == negative.ndim):
        raise RuntimeError(f"The anchor, positive, and negative tensors are expected to have the "
                           f"same number of dimensions, but got: anchor {anchor.ndim}D, positive "
                           f"{positive.ndim}D, and negative {negative.ndim}D inputs")
    distance_positive = pairwise_distance(anchor, positive, p, eps)
    distance_negative = pairwise_distance(anchor, negative, p, eps)
    if swap:
        import tapegrad

        distance_negative = tapegrad.minimum(distance_negative,
                                             pairwise_distance(positive, negative, p, eps))
    difference = add_scalar_op.function(distance_positive, margin) - distance_negative
    return _reduce(difference.clamp_min(0), reduction)


def poisson_nll_loss(input, target, log_input=True, full=False, size_average=None, eps=1e-8,
                     reduce=None, reduction="mean"):
    """Negative log likelihood of a Poisson target; see torch.nn.functional.poisson_nll_loss."""
    from .pointwise import where

    reduction = _reduction(size_average, reduce, reduction)
    if log_input:
        loss = input.exp() - target * input
    else:
        loss = input - target * add_scalar_op.function(input, eps).log()
    if full:
        # Stirling's term, only where target > 1.
        stirling = target * target.log() - target + 0.5 * (2 * np.pi * target).log()
        loss = loss + where(target > 1, stirling, 0.0)
    return _reduce(loss, reduction)


def gaussian_nll_loss(input, target, var, full=False, eps=1e-6, reduction="mean"):
    """Negative log likelihood of a Gaussian with predicted variance; see
    torch.nn.functional.gaussian_nll_loss."""
    reduction = _reduction(None, None, reduction)
    if tuple(var.shape) != tuple(input.shape):
        if tuple(input.shape[:-1]) == tuple(var.shape):
            var = var.unsqueeze(-1)
        elif not (tuple(input.shape[:-1]) == tuple(var.shape[:-1]) and var.shape[-1] == 1):
            raise ValueError("var is of incorrect size")
    if (var._data < 0).any():
        raise ValueError("var has negative entry/entries")
    from ..autograd.grad_mode import no_grad

    var = var.clone()
    # Keep the variance at least eps without passing gradient through the clamp, as PyTorch.
    with no_grad():
        var.copy_(var.clamp(min=eps))
    loss = 0.5 * (var.log() + (input - target) ** 2 / var)
    if full:
        loss = loss + 0.5 * float(np.log(2 * np.pi))
    return _reduce(loss, reduction)


# --- margin losses over classes -------------------------------------------------------------
def _refuse_target_grad(name: str, argument: str, value) -> None:
    from ..autograd.grad_mode import STATE

    if isinstance(value, Tensor) and value.requires_grad and STATE.enabled:
        raise RuntimeError(f"The function '{name}' is not differentiable with respect to argument "
                           f"'{argument}'. This input cannot have requires_grad True.")


def _soft_margin(xp, input, target, reduction="mean"):
    margin = -target * input
    # log(1 + exp(m)) without overflow
    loss = xp.maximum(margin, 0) + xp.log1p(xp.exp(-xp.abs(margin)))
    return _reduce_array(xp, loss.astype(input.dtype, copy=False), reduction)


def _soft_margin_rule(grad, input, target, reduction):
    scaled = -target * input
    return _expand_grad(grad, tuple(input.shape), reduction) * -target * scaled.sigmoid()


soft_margin_loss_op = defop(
    _soft_margin, name="soft_margin_loss", node="SoftMarginLossBackward0", promote="float",
    array_params=True, function=False,
    grads={"input": _soft_margin_rule},
    samples=[Sample(((3, 4),), args=("signs", r)) for r in _REDUCTIONS])


def soft_margin_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    """log(1 + exp(-target * input)), targets in {-1, 1}; see
    torch.nn.functional.soft_margin_loss."""
    _refuse_target_grad("soft_margin_loss", "target", target)
    reduction = _reduction(size_average, reduce, reduction)
    return soft_margin_loss_op.function(input, target, reduction)


def _multi_margin_terms(xp, input, target, p, margin, weight):
    """Per-sample hinge terms max(0, margin - x[y] + x[j]) ** p over j != y (weighted)."""
    matrix = input if input.ndim == 2 else input[None]
    labels = target.reshape(-1).astype(np.int64)
    classes = matrix.shape[1]
    if labels.size and (labels.min() < 0 or labels.max() >= classes):
        raise IndexError("Target is out of bounds")
    rows = np.arange(matrix.shape[0])
    hinge = xp.maximum(margin - matrix[rows, labels][:, None] + matrix, 0) ** p
    if weight is not None:
        hinge = hinge * weight[labels][:, None]
    hinge[rows, labels] = 0
    return hinge.sum(axis=1) / classes


def _multi_margin(xp, input, target, p=1, margin=1.0, weight=None, reduction="mean"):
    if p not in (1, 2):
        raise ValueError("only p == 1 and p == 2 supported")
    loss = _multi_margin_terms(xp, input, target, p, margin, weight).astype(input.dtype)
    if input.ndim == 1 and reduction == "none":
        loss = loss.reshape(())
    return _reduce_array(xp, loss, reduction)


def _multi_margin_rule(grad, input, target, p, margin, weight, reduction):
    matrix = input if input.dim() == 2 else input.unsqueeze(0)
    labels = (target if isinstance(target, Tensor) else wrap(np.asarray(target))).reshape(-1, 1)
    classes = matrix.shape[1]
    difference = margin - matrix.gather(1, labels) + matrix
    active = difference > 0
    other = wrap(np.ones(tuple(matrix.shape), dtype=bool))
    other._data[np.arange(matrix.shape[0]), labels._data[:, 0]] = False
    coefficient = (difference * 2 if p == 2 else active.to(matrix.dtype)) * active * other
    if weight is not None:
        weights = weight if isinstance(weight, Tensor) else wrap(np.asarray(weight))
        coefficient = coefficient * weights[labels._data[:, 0]].unsqueeze(1)
    coefficient = coefficient / classes
    per_sample = grad.reshape(-1) if reduction == "none" else _expand_grad(
        grad, (matrix.shape[0],), reduction)
    coefficient = coefficient * per_sample.unsqueeze(1)
    # d/dx[y] collects minus the sum of every other class's coefficient.
    towards_label = -coefficient.sum(1, keepdim=True)
    result = coefficient.scatter_add(1, labels, towards_label)
    return result if input.dim() == 2 else result.squeeze(0)


multi_margin_loss_op = defop(
    _multi_margin, name="multi_margin_loss", node="MultiMarginLossBackward0", array_params=True,
    function=False, grads={"input": _multi_margin_rule},
    samples=[Sample(((3, 4),), args=(np.array([1, 0, 3]), p, 1.0, None, r))
             for p in (1, 2) for r in _REDUCTIONS]
    + [Sample(((4,),), args=(np.array([2]), 1, 0.5, None, "mean"))])


def multi_margin_loss(input, target, p=1, margin=1.0, weight=None, size_average=None,
                      reduce=None, reduction="mean"):
    """Multi-class hinge loss; see torch.nn.functional.multi_margin_loss."""
    _refuse_target_grad("multi_margin_loss", "weight", weight)
    reduction = _reduction(size_average, reduce, reduction)
    return multi_margin_loss_op.function(input, target, p, margin, weight, reduction)


def multilabel_soft_margin_loss(input, target, weight=None, size_average=None, reduce=None,
                                reduction="mean"):
    """Per-class binary logistic loss averaged over classes; see
    torch.nn.functional.multilabel_soft_margin_loss."""
    from .activation import logsigmoid

    reduction = _reduction(size_average, reduce, reduction)
    loss = -(target * logsigmoid(input) + (1 - target) * logsigmoid(-input))
    if weight is not None:
        loss = loss * weight
    loss = loss.sum(dim=-1) / input.shape[-1]
    return _reduce(loss, reduction)


__all__ += ["soft_margin_loss", "multi_margin_loss", "multilabel_soft_margin_loss"]
