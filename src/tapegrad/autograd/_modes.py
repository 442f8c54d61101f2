"""The switches that divert dispatch off its hot path: forward-mode AD, vmap, inference mode,
saved-tensor hooks. Dispatch reads one flag (``MODES.active``); everything else lives here."""

from __future__ import annotations

from typing import Any

from .grad_mode import STATE as GRAD_STATE


class _Modes:
    """Process-wide state of the interposing features (dispatch checks ``active`` only)."""

    def __init__(self) -> None:
        self.active = False  # dispatch calls handle() instead of computing directly
        self.forward = False  # a dual level is open (and not suspended)
        self.vmap = False  # a vmap level is open (and not suspended)
        self.record_check = False  # record() calls check_record (hooks or inference tensors)
        self.dual_levels = 0
        self.vmap_levels: list = []  # open vmap levels, outermost first: (level id, batch size)
        self.forward_off = 0
        self.vmap_off = 0
        self.saved_hooks: list = []  # (pack, unpack) stack of saved_tensors_hooks
        self.hooks_disabled: str | None = None
        self.inference_made = False  # an inference tensor exists somewhere (sticky)

    def refresh(self) -> None:
        self.forward = self.dual_levels > 0 and not self.forward_off
        self.vmap = bool(self.vmap_levels) and not self.vmap_off
        self.active = self.forward or self.vmap or GRAD_STATE.inference
        self.record_check = bool(self.saved_hooks) or self.inference_made


MODES = _Modes()


class suspend:
    """Turn forward-mode and/or vmap interposition off for a block (re-entrant)."""

    __slots__ = ("forward", "vmap")

    def __init__(self, forward: bool = False, vmap: bool = False) -> None:
        self.forward = forward
        self.vmap = vmap

    def __enter__(self) -> None:
        MODES.forward_off += self.forward
        MODES.vmap_off += self.vmap
        MODES.refresh()

    def __exit__(self, *exc: object) -> None:
        MODES.forward_off -= self.forward
        MODES.vmap_off -= self.vmap
        MODES.refresh()


def _has_tangent(values: Any) -> bool:
    for value in values:
        if getattr(value, "_tangent", None) is not None:
            return True
    return False


def _has_batched(values: Any) -> bool:
    for value in values:
        if getattr(value, "_levels", None):
            return True
    return False


def handle(op: Any, inputs: tuple, params: tuple) -> Any:
    """Dispatch with the active features: dual numbers first (at the logical level), then
    batching, then the plain computation (marking inference tensors)."""
    from .. import _dispatch

    if MODES.forward and (_has_tangent(inputs) or _has_tangent(params)):
        from .forward_ad import dispatch_dual

        return dispatch_dual(op, inputs, params)
    if MODES.vmap and (_has_batched(inputs) or _has_batched(params)):
        from ..func._batching import dispatch_batched

        return dispatch_batched(op, inputs, params)
    MODES.active = False
    try:
        result = _dispatch.dispatch(op, inputs, params)
    finally:
        MODES.active = True
    if GRAD_STATE.inference:
        for output in (result if isinstance(result, tuple) else (result,)):
            output.__dict__["_inference"] = True
        if not MODES.inference_made:
            MODES.inference_made = True
            MODES.refresh()
    return result


INFERENCE_SAVE_MESSAGE = (
    "Inference tensors cannot be saved for backward. Please do not use Tensors created in "
    "inference mode in computation tracked by autograd. To work around this, you can make a "
    "clone to get a normal tensor and use it in autograd, or use `torch.no_grad()` instead of "
    "`torch.inference_mode()`.")


def check_record(node: Any) -> None:
    """Called by record() when saved-tensor hooks are on or inference tensors exist."""
    saved = node._saved
    if MODES.inference_made and saved:
        for value in saved:
            if getattr(value, "_inference", False):
                raise RuntimeError(INFERENCE_SAVE_MESSAGE)
    if MODES.saved_hooks:
        from .graph import pack_saved

        pack_saved(node)


def after_inplace(target: Any, result: Any) -> None:
    """An in-place op on a dual tensor moves the result's tangent onto the target."""
    tangent = getattr(result, "_tangent", None)
    if tangent is None:
        return
    from .forward_ad import set_tangent

    set_tangent(target, tangent)
    base = target._base
    if base is not None:
        # Writing through a view changes the base: its tangent takes the view's in that region.
        from .._creation import zeros_like
        from ..ops.indexing import copy_slices_op, view_positions

        with suspend(forward=True):
            base_tangent = getattr(base, "_tangent", None)
            if base_tangent is None:
                base_tangent = zeros_like(base)
            positions = view_positions(target._data, base._data)
            set_tangent(base, copy_slices_op.function(base_tangent, tangent.to(base.dtype),
                                                      positions))


def before_inplace(target: Any) -> None:
    """Inference tensors may be written in place only inside inference mode, as PyTorch."""
    if getattr(target, "_inference", False) and not GRAD_STATE.inference:
        raise RuntimeError(
            "Inplace update to inference tensor outside InferenceMode is not allowed.You can "
            "make a clone to get a normal tensor before doing inplace update.See "
            "https://github.com/pytorch/rfcs/pull/17 for more details.")
