"""Forward-mode AD: dual tensors (primal + tangent) and each op's JVP rule, derived from its
declaration in ops/ (see jvp_rule_kind).

JVP rules by the op's ``kind``:

- ``"elementwise"``: the sum over inputs of the per-input rule, with the tangent in place of
  the gradient (``grad * f'(x)`` becomes ``tangent * f'(x)``);
- ``"linear"``: the op itself applied to the tangents (same params);
- ``"bilinear"``: ``op(t_a, b) + op(a, t_b)``;
- an explicit ``jvp=`` in defop: ``f(tangents, <names>)`` where ``tangents`` holds one tangent
  per input (``None`` when absent) and the other names are those a backward rule may use;
- otherwise the double-backward trick: ``J t = d/du <vjp(u), t>``, with ``vjp`` built from the
  reverse rules. ``double_backward_ops()`` lists the ops that use it. Its tangent is not
  differentiable with respect to the primal (the primal is detached for the trick).

Only one dual level exists at a time, as in PyTorch.
"""

from __future__ import annotations

import weakref
from collections import namedtuple
from collections.abc import Iterator
from typing import Any

from ._modes import MODES, suspend

__all__ = ["dual_level", "enter_dual_level", "exit_dual_level", "make_dual", "unpack_dual",
           "UnpackedDualTensor"]

UnpackedDualTensor = namedtuple("UnpackedDualTensor", ["primal", "tangent"])
UnpackedDualTensor.__doc__ = "The primal and tangent of a dual tensor; see unpack_dual."

_duals: list = []  # weak references to the tensors given a tangent at the open level


def enter_dual_level() -> int:
    """Open the (single) dual level; see torch.autograd.forward_ad.enter_dual_level."""
    if MODES.dual_levels:
        raise RuntimeError("Nested forward mode AD is not supported at the moment")
    MODES.dual_levels = 1
    MODES.refresh()
    return 0


def exit_dual_level(*, level: int | None = None) -> None:
    """Close the dual level: every tangent made at it is dropped."""
    if not MODES.dual_levels:
        raise RuntimeError("Trying to exit a forward AD level that was not the last one that was "
                           "created. This is not supported.")
    for reference in _duals:
        tensor = reference()
        if tensor is not None:
            tensor.__dict__.pop("_tangent", None)
    _duals.clear()
    MODES.dual_levels = 0
    MODES.refresh()


class dual_level:
    """Context manager for forward-mode AD; see torch.autograd.forward_ad.dual_level."""

    def __enter__(self) -> int:
        return enter_dual_level()

    def __exit__(self, *exc: object) -> None:
        exit_dual_level()


def set_tangent(tensor: Any, tangent: Any) -> None:
    tensor.__dict__["_tangent"] = tangent
    _duals.append(weakref.ref(tensor))


def make_dual(tensor: Any, tangent: Any, *, level: int | None = None) -> Any:
    """A view of ``tensor`` carrying ``tangent`` as its forward gradient; see
    torch.autograd.forward_ad.make_dual."""
    from ..ops.shape import view_op

    if not MODES.dual_levels:
        raise RuntimeError("Trying to create a dual Tensor for forward AD but no level exists, "
                           "make sure to enter_dual_level() first.")
    if tensor._data.dtype.kind not in "fc":
        raise ValueError(f"Expected primal to be floating point or complex, but got: "
                         f"{tensor.dtype}")
    if tangent._data.dtype.kind not in "fc":
        raise ValueError(f"Expected tangent to be floating point or complex, but got: "
                         f"{tangent.dtype}")
    if tuple(tensor.shape) != tuple(tangent.shape):
        raise RuntimeError(
            "Trying to set a forward gradient that has a different size than that of the "
            f"original Tensor, this is not supported. Tensor is of size {list(tensor.shape)} "
            f"while the given forward gradient is of size {list(tangent.shape)}.")
    with suspend(forward=True):
        result = view_op.function(tensor, tuple(tensor.shape))
    set_tangent(result, tangent)
    return result


def unpack_dual(tensor: Any, *, level: int | None = None) -> UnpackedDualTensor:
    """``(primal, tangent)`` of a dual tensor (tangent None when it has none); see
    torch.autograd.forward_ad.unpack_dual."""
    from ..ops.shape import view_op

    tangent = getattr(tensor, "_tangent", None) if MODES.dual_levels else None
    if tangent is None:
        return UnpackedDualTensor(tensor, None)
    with suspend(forward=True):
        primal = view_op.function(tensor, tuple(tensor.shape))
    return UnpackedDualTensor(primal, tangent)


# --- JVP rules ------------------------------------------------------------------------------
class _Primal:
    """Stands in for a Node so the op's compiled reverse rules read the primal values."""

    __slots__ = ("_inputs", "_outputs", "_input_meta", "_params")

    def __init__(self, inputs: tuple, outputs: tuple, params: tuple) -> None:
        self._inputs = inputs
        self._outputs = outputs
        self._params = params
        self._input_meta = tuple((v._data.shape, v._data.dtype) if hasattr(v, "_data") else None
                                 for v in inputs)

    def unpack_input(self, index: int) -> Any:
        return self._inputs[index]

    def unpack_result(self, index: int = 0) -> Any:
        return self._outputs[index]

    @property
    def needs_input_grad(self) -> tuple:
        return tuple(hasattr(v, "_data") for v in self._inputs)


def jvp_rule_kind(op: Any) -> str | None:
    """How the op's forward-mode rule is made: 'explicit', 'elementwise', 'linear', 'bilinear',
    'double_backward', or None for ops that are not differentiable."""
    if op.jvp is not None:
        return "explicit"
    if op.node_class is None:
        return None
    if op.kind == "elementwise" and op.joint_rule is None and op.num_outputs == 1:
        return "elementwise"
    if op.kind in ("linear", "bilinear"):
        return op.kind
    return "double_backward"


def double_backward_ops() -> list[str]:
    """The ops whose JVP comes from the double-backward trick (no forward rule derivable)."""
    from ..ops import OPS

    return sorted(name for name, op in OPS.items() if jvp_rule_kind(op) == "double_backward")


def dispatch_dual(op: Any, inputs: tuple, params: tuple) -> Any:
    """Run ``op`` on its primals, then its JVP rule on the tangents (interposed by dispatch)."""
    from .. import _dispatch

    with suspend(forward=True):
        result = _dispatch.dispatch(op, inputs, params)
        outputs = tuple(result) if isinstance(result, tuple) else (result,)
        tangents = tuple(getattr(v, "_tangent", None) for v in inputs)
        out_tangents = output_tangents(op, inputs, params, outputs, tangents)
    for index, (output, tangent) in enumerate(zip(outputs, out_tangents)):
        if tangent is None or output._data.dtype.kind not in "fc":
            continue
        if op.differentiable_outputs is not None and index not in op.differentiable_outputs:
            continue
        if tangent._data.dtype != output._data.dtype:
            tangent = tangent.to(output.dtype)
        if tuple(tangent.shape) != tuple(output.shape):
            tangent = tangent.expand(tuple(output.shape))
        set_tangent(output, tangent)
    return result


def output_tangents(op: Any, inputs: tuple, params: tuple, outputs: tuple,
                    tangents: tuple) -> tuple:
    """One tangent per output (None where zero or undefined), from the op's declaration."""
    from .. import _dispatch

    kind = jvp_rule_kind(op)
    if kind is None:
        return (None,) * len(outputs)
    if kind == "explicit":
        value = _call_explicit(op, inputs, params, outputs, tangents)
        return tuple(value) if isinstance(value, (tuple, list)) else (value,)
    if kind == "elementwise":
        primal = _Primal(inputs, outputs, params)
        total = None
        for index, tangent in enumerate(tangents):
            caller = op.rule_callers[index]
            if tangent is None or caller is None:
                continue
            term = caller(primal, tangent)
            total = term if total is None else total + term
        return (total,)
    if kind == "linear":
        from .._creation import zeros_like

        present = [t is not None for t in tangents]
        if not any(present):
            return (None,) * len(outputs)
        values = tuple(t if t is not None else zeros_like(v) if hasattr(v, "_data") else v
                       for v, t in zip(inputs, tangents))
        result = _dispatch.dispatch(op, values, params)
        return tuple(result) if isinstance(result, tuple) else (result,)
    if kind == "bilinear":
        total = None
        for index, tangent in enumerate(tangents):
            if tangent is None:
                continue
            values = inputs[:index] + (tangent,) + inputs[index + 1:]
            term = _dispatch.dispatch(op, values, params)
            total = term if total is None else total + term
        return (total,)
    return _double_backward(op, inputs, params, outputs, tangents)


def _call_explicit(op: Any, inputs: tuple, params: tuple, outputs: tuple,
                   tangents: tuple) -> Any:
    import inspect

    arguments = []
    for name in inspect.signature(op.jvp).parameters:
        if name == "tangents":
            arguments.append(tangents)
        elif name == "result":
            arguments.append(outputs[0])
        elif name == "results":
            arguments.append(outputs)
        elif name in op.input_names:
            arguments.append(inputs[op.input_names.index(name)])
        elif name.endswith("_tangent") and name[:-8] in op.input_names:
            arguments.append(tangents[op.input_names.index(name[:-8])])
        elif name.endswith("_shape") and name[:-6] in op.input_names:
            arguments.append(tuple(inputs[op.input_names.index(name[:-6])].shape))
        elif name in op.param_names:
            arguments.append(params[op.param_names.index(name)])
        else:
            raise TypeError(f"jvp rule for {op.name} asks for unknown value {name!r}")
    return op.jvp(*arguments)


def _double_backward(op: Any, inputs: tuple, params: tuple, outputs: tuple,
                     tangents: tuple) -> tuple:
    """J t as the gradient, with respect to a dummy cotangent u, of <J^T u, t>."""
    from .. import _dispatch
    from .._creation import zeros_like
    from . import grad as autograd_grad
    from .grad_mode import enable_grad

    with enable_grad():
        primals = []
        sources = []
        for value, tangent in zip(inputs, tangents):
            if hasattr(value, "_data"):
                value = value.detach()
                if tangent is not None:
                    value.requires_grad_(True)
                    sources.append((value, tangent))
            primals.append(value)
        if not sources:
            return (None,) * len(outputs)
        result = _dispatch.dispatch(op, tuple(primals), params)
        results = tuple(result) if isinstance(result, tuple) else (result,)
        positions = [i for i, r in enumerate(results) if r.requires_grad]
        dummies = [zeros_like(results[i]).requires_grad_(True) for i in positions]
        grads = autograd_grad([results[i] for i in positions], [v for v, _ in sources], dummies,
                              create_graph=True, allow_unused=True)
        pairs = [(g, t) for g, (_, t) in zip(grads, sources) if g is not None and g.requires_grad]
        if not pairs:
            return (None,) * len(outputs)
        jvps = autograd_grad([g for g, _ in pairs], dummies, [t for _, t in pairs],
                             allow_unused=True)
    out: list = [None] * len(outputs)
    for position, value in zip(positions, jvps):
        out[position] = value
    return tuple(out)


def iter_duals() -> Iterator[Any]:
    for reference in _duals:
        tensor = reference()
        if tensor is not None:
            yield tensor
