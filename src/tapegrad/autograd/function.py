"""User-defined differentiable operations: autograd.Function with its ctx (the graph node),
save_for_backward, mark_dirty, mark_non_differentiable, set_materialize_grads and jvp."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from .graph import FREED, FREED_MESSAGE, Node, modified_message

__all__ = ["Function", "FunctionCtx", "once_differentiable", "BackwardCFunction",
           "InplaceFunction", "NestedIOFunction"]


class FunctionCtx:
    """What ``forward``/``setup_context`` may call on ``ctx``; see torch.autograd.function
    .FunctionCtx. At run time ``ctx`` is the graph node itself (``BackwardCFunction``)."""

    def save_for_backward(self, *tensors: Any) -> None:
        """Keep tensors (or None) for backward; read them back with ``saved_tensors``."""
        from .._tensor import Tensor

        for value in tensors:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError("save_for_backward can only save variables, but argument "
                                f"{tensors.index(value)} is of type {type(value).__name__}")
        self._to_save = tensors

    def save_for_forward(self, *tensors: Any) -> None:
        self._saved_for_forward = tensors

    def mark_dirty(self, *args: Any) -> None:
        """Declare the inputs that forward modified in place."""
        self._dirty = tuple(args)

    def mark_non_differentiable(self, *args: Any) -> None:
        """Declare outputs that get no gradient (e.g. indices)."""
        self._non_differentiable = tuple(args)

    def set_materialize_grads(self, value: bool) -> None:
        """With False, backward receives None (not zeros) for outputs that got no gradient."""
        self.materialize_grads = bool(value)


class BackwardCFunction(FunctionCtx, Node):
    """The node (and ctx) of one Function call; its class is named ``<Function>Backward``."""

    _forward_cls: type

    def __init__(self) -> None:
        Node.__init__(self)
        self.materialize_grads = True
        self._to_save: tuple = ()
        self._dirty: tuple = ()
        self._non_differentiable: tuple = ()
        self._needs_input_grad: tuple = ()
        self._arg_is_tensor: tuple = ()

    @property
    def needs_input_grad(self) -> tuple:
        """One flag per forward argument: does it need a gradient."""
        return self._needs_input_grad

    @property
    def saved_tensors(self) -> tuple:
        """The tensors given to save_for_backward, checked for in-place changes since."""
        saved = self._saved
        if saved is FREED:
            raise RuntimeError(FREED_MESSAGE)
        result = []
        for index, value in enumerate(saved or ()):
            if value is None:
                result.append(None)
                continue
            from .graph import Packed

            if type(value) is Packed:
                result.append(value.unpack())
                continue
            expected = self._saved_versions[index]
            if value._version_counter is not None and value._version_counter[0] != expected:
                raise RuntimeError(modified_message(value, value._version_counter[0], expected))
            result.append(value)
        return tuple(result)

    saved_variables = saved_tensors

    @property
    def _saved_tensors_for_display(self) -> tuple:
        return tuple(v for v in (self._saved or ()) if v is not None and v is not FREED)

    def apply(self, grad_outputs: list) -> list:
        cls = self._forward_cls
        metas = self._output_meta or ()
        grads = list(grad_outputs) + [None] * (len(metas) - len(grad_outputs))
        if self.materialize_grads:
            from .._creation import zeros_from_meta

            grads = [zeros_from_meta(metas[i]) if g is None and metas[i] is not None else g
                     for i, g in enumerate(grads)]
        result = cls.backward(self, *grads)
        if not isinstance(result, tuple):
            result = (result,)
        expected = len(self._arg_is_tensor)
        if len(result) != expected:
            if len(result) > expected and all(r is None for r in result[expected:]):
                result = result[:expected]
            else:
                raise RuntimeError(f"function {self.name()} returned an incorrect number of "
                                   f"gradients (expected {expected}, got {len(result)})")
        from .._tensor import Tensor

        grads_out = []
        for index, (value, is_tensor) in enumerate(zip(result, self._arg_is_tensor)):
            if not is_tensor:
                if value is not None:
                    raise RuntimeError(f"function {self.name()} returned a gradient different "
                                       f"than None at position {index + 1}, but the "
                                       "corresponding forward input was not a Variable")
                continue
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"function {self.name()} returned a gradient of type "
                                f"{type(value).__name__} at position {index + 1}; expected a "
                                "Tensor or None")
            grads_out.append(value)
        return grads_out


class _FunctionMeta(type):
    """Gives each Function subclass its node class, ``<Name>Backward``, as PyTorch does."""

    def __init__(cls, name: str, bases: tuple, namespace: dict) -> None:
        cls._backward_cls = type(f"{name}Backward", (BackwardCFunction,),
                                 {"_forward_cls": cls, "__module__": cls.__module__})
        super().__init__(name, bases, namespace)


class Function(metaclass=_FunctionMeta):
    """Base class of user-defined differentiable operations; see torch.autograd.Function.

    Subclasses define ``forward(ctx, *args)`` (or ``forward(*args)`` plus
    ``setup_context(ctx, inputs, output)``) and ``backward(ctx, *grad_outputs)``; call them
    with ``MyFunction.apply(*args)``. ``jvp(ctx, *tangents)`` gives forward-mode AD.
    """

    generate_vmap_rule = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise RuntimeError("Legacy autograd function with non-static forward method is "
                           "deprecated. Please use new-style autograd function with static "
                           "forward method. (Example: https://pytorch.org/docs/stable/autograd"
                           ".html#torch.autograd.Function)")

    @staticmethod
    def forward(ctx: Any, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("You must implement the forward function for custom "
                                  "autograd.Function.")

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple, output: Any) -> Any:
        raise NotImplementedError("setup_context is not implemented.")

    @staticmethod
    def backward(ctx: Any, *grad_outputs: Any) -> Any:
        raise NotImplementedError("You must implement either the backward or vjp method for "
                                  "your custom autograd.Function to use it with backward mode "
                                  "AD.")

    vjp = backward

    @staticmethod
    def jvp(ctx: Any, *grad_inputs: Any) -> Any:
        raise NotImplementedError("You must implement the jvp function for custom "
                                  "autograd.Function to use it with forward mode AD.")

    @classmethod
    def apply(cls, *args: Any, **kwargs: Any) -> Any:
        """Run forward and, when an input needs a gradient, record the node."""
        return _apply(cls, args, kwargs)

    @staticmethod
    def vmap(info: Any, in_dims: Any, *args: Any) -> Any:
        raise NotImplementedError("To use autograd.Function with vmap, you must either "
                                  "override the vmap staticmethod or set generate_vmap_rule="
                                  "True.")


class InplaceFunction(Function):
    """A Function with an ``inplace`` flag (kept for compatibility)."""

    def __init__(self, inplace: bool = False) -> None:
        self.inplace = inplace


NestedIOFunction = Function


def _overrides(cls: type, name: str) -> bool:
    for klass in cls.__mro__:
        if klass is Function:
            return False
        if name in klass.__dict__:
            return True
    return False


def _apply(cls: type, args: tuple, kwargs: dict) -> Any:
    from .._tensor import Tensor, wrap
    from ._modes import MODES, suspend
    from .grad_mode import STATE, no_grad

    ctx = cls._backward_cls()
    is_tensor = tuple(isinstance(a, Tensor) for a in args)
    needs = tuple(t and a._requires_grad for t, a in zip(is_tensor, args))
    ctx._needs_input_grad = needs
    ctx._arg_is_tensor = is_tensor
    recording = STATE.enabled and any(needs)
    setup_style = _overrides(cls, "setup_context")

    with no_grad(), suspend(forward=True):
        if setup_style:
            output = cls.forward(*args, **kwargs)
            cls.setup_context(ctx, args, output)
        else:
            output = cls.forward(ctx, *args, **kwargs)
    is_tuple = isinstance(output, tuple)
    outputs = list(output) if is_tuple else [output]

    dirty_ids = {id(t) for t in ctx._dirty}
    non_differentiable_ids = {id(t) for t in ctx._non_differentiable}
    input_ids = {id(a) for a, t in zip(args, is_tensor) if t}
    for value in ctx._dirty:
        if value._requires_grad and value.grad_fn is None and recording:
            raise RuntimeError("a leaf Variable that requires grad has been used in an in-place "
                               "operation.")

    # Outputs that are inputs returned as they are become views (unless marked dirty).
    for index, value in enumerate(outputs):
        if isinstance(value, Tensor) and id(value) in input_ids and id(value) not in dirty_ids:
            alias = wrap(value._data)
            alias._base = value._base if value._base is not None else value
            alias._version_counter = value.version_counter()
            if not recording:
                alias._requires_grad = value._requires_grad
                alias.grad_fn = value.grad_fn
                alias._output_nr = value._output_nr
            if id(value) in non_differentiable_ids:
                non_differentiable_ids.add(id(alias))
            outputs[index] = alias

    if recording:
        edges = []
        metas = []
        for value, tensor in zip(args, is_tensor):
            if not tensor:
                continue
            if value._requires_grad:
                if id(value) in dirty_ids and value.grad_fn is not None:
                    edges.append((value.grad_fn, value._output_nr))
                elif value.grad_fn is not None:
                    edges.append((value.grad_fn, value._output_nr))
                else:
                    edges.append((value.grad_accumulator(), 0))
                metas.append((value._data.shape, value._data.dtype))
            else:
                edges.append((None, 0))
                metas.append(None)
        ctx._edges = tuple(edges)
        ctx._input_meta = tuple(metas)
        ctx._output_meta = tuple(
            (v._data.shape, v._data.dtype) if isinstance(v, Tensor) else None for v in outputs)
        for index, value in enumerate(outputs):
            if not isinstance(value, Tensor):
                continue
            if id(value) in non_differentiable_ids or value._data.dtype.kind not in "fc":
                value._requires_grad = False
                value.grad_fn = None
                continue
            value.grad_fn = ctx
            value._output_nr = index
            value._requires_grad = True
    else:
        for value in outputs:
            if isinstance(value, Tensor) and id(value) in non_differentiable_ids:
                value._requires_grad = False

    _save(ctx)
    if MODES.forward:
        _forward_tangents(cls, ctx, args, outputs)
    if MODES.record_check and recording:
        from ._modes import check_record

        check_record(ctx)
    from . import anomaly_mode

    if recording:
        if anomaly_mode.STATE.enabled:
            ctx._trace = anomaly_mode.creation_trace()
        else:
            import sys

            ctx._trace = anomaly_mode.creation_site(sys._getframe(1))
    return tuple(outputs) if is_tuple else outputs[0]


def _save(ctx: Any) -> None:
    """Keep what save_for_backward named, with the versions to check at backward."""
    tensors = ctx._to_save
    if not tensors:
        ctx._saved = ()
        return
    ctx._saved = list(tensors)
    ctx._saved_versions = [None if t is None else t.version_counter()[0] for t in tensors]
    ctx._to_save = ()


def _forward_tangents(cls: type, ctx: Any, args: tuple, outputs: list) -> None:
    """Forward-mode AD through a Function: its ``jvp(ctx, *tangents)``."""
    from .._creation import zeros_like
    from .._tensor import Tensor
    from ._modes import suspend
    from .forward_ad import set_tangent

    tangents = [getattr(a, "_tangent", None) if isinstance(a, Tensor) else None for a in args]
    if all(t is None for t in tangents):
        return
    if not _overrides(cls, "jvp"):
        raise NotImplementedError("You must implement the jvp function for custom "
                                  "autograd.Function to use it with forward mode AD.")
    tangents = [zeros_like(a) if t is None and isinstance(a, Tensor) else t
                for a, t in zip(args, tangents)]
    with suspend(forward=True):
        result = cls.jvp(ctx, *tangents)
    result = result if isinstance(result, tuple) else (result,)
    for output, tangent in zip(outputs, result):
        if isinstance(output, Tensor) and tangent is not None:
            set_tangent(output, tangent)


class DelayedError(Node):
    """Made by once_differentiable under create_graph: fails if differentiated again."""

    __slots__ = ()

    def apply(self, grad_outputs: list) -> list:
        raise RuntimeError("trying to differentiate twice a function that was marked with "
                           "@once_differentiable")


def once_differentiable(fn: Callable) -> Callable:
    """Decorate a backward that is not itself differentiable (it runs without recording);
    differentiating its result again raises; see torch.autograd.function.once_differentiable."""

    @functools.wraps(fn)
    def wrapper(ctx: Any, *args: Any) -> Any:
        from .._tensor import Tensor
        from .grad_mode import STATE, no_grad

        with no_grad():
            result = fn(ctx, *args)
        if not STATE.enabled:
            return result
        sources = [a for a in args if isinstance(a, Tensor) and a._requires_grad]
        if not sources:
            return result
        node = DelayedError()
        node._edges = tuple((a.grad_fn, a._output_nr) if a.grad_fn is not None else
                            (a.grad_accumulator(), 0) for a in sources)
        node._input_meta = tuple((a._data.shape, a._data.dtype) for a in sources)
        outputs = result if isinstance(result, tuple) else (result,)
        wrapped = []
        for value in outputs:
            if isinstance(value, Tensor) and value._data.dtype.kind in "fc":
                value = value.detach()
                value.grad_fn = node
                value._requires_grad = True
            wrapped.append(value)
        return tuple(wrapped) if isinstance(result, tuple) else wrapped[0]

    return wrapper
