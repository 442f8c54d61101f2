"""Graph nodes: Node (one recorded op), AccumulateGrad (a leaf's sink), saved values, hooks."""

from __future__ import annotations

import itertools
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .grad_mode import STATE

if TYPE_CHECKING:
    from .._tensor import Tensor

# Sequence numbers order the ready queue: newer nodes run first, as in PyTorch.
_sequence = itertools.count()
next_sequence_nr = _sequence.__next__


# Input metadata (shape, dtype) as the fast paths record it: one shared tuple per shape and
# dtype (and one tuple of it for one-input nodes), not fresh ones per node. A node's tuples
# stay tracked by the garbage collector until its next pass, which costs more for each.
INPUT_METAS: dict[tuple, tuple] = {}
SINGLE_INPUT_METAS: dict[tuple, tuple] = {}
_INTERNED_LIMIT = 4096  # distinct (shape, dtype) pairs kept before starting afresh


def intern_meta(key: tuple) -> tuple:
    """The shared (shape, dtype) tuple equal to ``key``, made from it when first seen."""
    if len(INPUT_METAS) >= _INTERNED_LIMIT:
        INPUT_METAS.clear()
    INPUT_METAS[key] = key
    return key


def intern_single_meta(key: tuple) -> tuple:
    """The shared input metadata of a one-input node: a 1-tuple of intern_meta(key)."""
    if len(SINGLE_INPUT_METAS) >= _INTERNED_LIMIT:
        SINGLE_INPUT_METAS.clear()
    metas = SINGLE_INPUT_METAS[key] = (INPUT_METAS.get(key) or intern_meta(key),)
    return metas


class _Freed:
    """Marker put in place of saved values once backward has released them."""

    __slots__ = ()


FREED = _Freed()


class _BackwardErrors:
    """``ignored``: whether a running backward holds NumPy's floating-point errors off for
    tapegrad's own rules (engine.execute), so that a node's NumPy rules need not."""

    __slots__ = ("ignored",)

    def __init__(self) -> None:
        self.ignored = False


BACKWARD_ERRORS = _BackwardErrors()

FREED_MESSAGE = (
    "Trying to backward through the graph a second time (or directly access saved tensors after "
    "they have already been freed). Saved intermediate values of the graph are freed when you "
    "call .backward() or autograd.grad(). Specify retain_graph=True if you need to backward "
    "through the graph a second time or if you need to access saved tensors after calling "
    "backward."
)


_CPP_ONLY_NODES = frozenset({"AccumulateGrad", "CopySlices", "CopyBackwards", "GraphRoot",
                             "Error", "DelayedError"})


class RemovableHandle:
    """Returned by every register_*hook; ``remove()`` unregisters the hook."""

    _ids = itertools.count()

    def __init__(self, hooks: dict) -> None:
        self.id = next(RemovableHandle._ids)
        self._hooks = hooks

    def remove(self) -> None:
        self._hooks.pop(self.id, None)

    def __enter__(self) -> RemovableHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()


def add_hook(hooks: dict, fn: Callable) -> RemovableHandle:
    handle = RemovableHandle(hooks)
    hooks[handle.id] = fn
    return handle


class Node:
    """One recorded operation: its backward rule, its saved values and the edges to its inputs.

    Subclasses are made per op at import (named as PyTorch names them, e.g. ``MulBackward0``);
    the engine only uses ``apply``, ``_edges``, ``_input_meta``, hooks and ``_sequence_nr``.
    """

    # Slots for what every node sets when it is made; the rarely used parts (hooks, several
    # outputs' metadata) are class defaults that an instance overrides in its __dict__.
    __slots__ = ("_edges", "_input_meta", "_sequence_nr", "_saved", "_saved_versions",
                 "_saved_result", "_params", "_trace", "__dict__", "__weakref__")

    _hooks: dict | None = None
    _prehooks: dict | None = None
    _hooked = False  # set once any of the four hook dicts is: the engine checks only this
    # Whether apply runs only tapegrad's rules (no user code): the engine may then run it with
    # NumPy's floating-point errors already off (see BACKWARD_ERRORS).
    _own_rules = False
    _tensor_prehooks: dict | None = None
    _retain_grad_hooks: dict | None = None
    _output_meta: tuple | None = None

    def __init__(self) -> None:
        self._edges: tuple = ()
        self._input_meta: tuple = ()
        self._sequence_nr = next_sequence_nr()
        self._saved: Any = ()
        self._saved_versions: tuple = ()
        self._saved_result: Any = None
        self._params: tuple = ()
        self._trace: Any = None

    @property
    def metadata(self) -> dict:
        """A dict for users' own annotations, as torch.autograd.graph.Node.metadata."""
        return self.__dict__.setdefault("_metadata", {})

    # --- the torch.autograd.graph.Node interface -------------------------------------------
    def name(self) -> str:
        """The node's PyTorch name, e.g. ``MulBackward0`` (nodes PyTorch writes in C++ only,
        such as AccumulateGrad and CopySlices, carry their C++ namespace there)."""
        name = type(self).__name__
        return f"torch::autograd::{name}" if name in _CPP_ONLY_NODES else name

    @property
    def next_functions(self) -> tuple:
        """((node or None, output_nr), ...) for each input, as PyTorch exposes them."""
        return self._edges

    def register_hook(self, fn: Callable) -> RemovableHandle:
        """``fn(grad_inputs, grad_outputs)`` runs after the node; it may return new grad_inputs."""
        if self._hooks is None:
            self._hooks = {}
            self._hooked = True
        return add_hook(self._hooks, fn)

    def register_prehook(self, fn: Callable) -> RemovableHandle:
        """``fn(grad_outputs)`` runs before the node; it may return new grad_outputs."""
        if self._prehooks is None:
            self._prehooks = {}
            self._hooked = True
        return add_hook(self._prehooks, fn)

    def run_tensor_prehooks(self, grads: list) -> None:
        """Hooks registered with Tensor.register_hook on this node's outputs, then
        retain_grad: run by the engine before the node, on its incoming ``grads``."""
        hooks_by_output = self._tensor_prehooks
        if hooks_by_output:
            for output_nr, hooks in hooks_by_output.items():
                if output_nr < len(grads) and grads[output_nr] is not None:
                    for hook in list(hooks.values()):
                        replaced = hook(grads[output_nr])
                        if replaced is not None:
                            grads[output_nr] = replaced
        retained = self._retain_grad_hooks
        if retained:
            for output_nr, tensor in retained.items():
                if output_nr < len(grads) and grads[output_nr] is not None:
                    grad = grads[output_nr]
                    if tensor._grad is None:
                        tensor._grad = grad.detach().clone() if not grad.requires_grad else grad
                    else:
                        tensor._grad = tensor._grad + grad

    def __call__(self, *grads: Tensor) -> Any:
        result = self.apply(list(grads))
        return result[0] if len(result) == 1 else tuple(result)

    def apply(self, grad_outputs: list) -> list:  # pragma: no cover - overridden
        raise NotImplementedError

    def release(self) -> None:
        """Free saved values after backward (unless retain_graph)."""
        if self._saved or self._saved_result is not None:
            self._saved = FREED
            self._saved_result = FREED

    def __repr__(self) -> str:
        return f"<{type(self).__name__} object at {hex(id(self))}>"

    # --- saved values --------------------------------------------------------------------
    def unpack_input(self, index: int) -> Tensor:
        saved = self._saved
        if saved is FREED:
            raise RuntimeError(FREED_MESSAGE)
        value = saved[index]
        if type(value) is Packed:
            return value.unpack()
        expected = self._saved_versions[index]
        if expected is not None and value._version != expected:
            raise RuntimeError(modified_message(value, value._version, expected))
        return value

    def unpack_result(self, index: int = 0) -> Tensor:
        saved = self._saved_result
        if saved is FREED:
            raise RuntimeError(FREED_MESSAGE)
        value = saved[index]
        if type(value) is Packed:
            value = value.unpack()._data
        return _result_view(self, index, value)


def modified_message(tensor: Tensor, version: int, expected: int) -> str:
    kind = {"float32": "FloatTensor", "float64": "DoubleTensor", "float16": "HalfTensor",
            "int64": "LongTensor", "int32": "IntTensor", "bool": "BoolTensor"}.get(
        tensor.dtype.name, "Tensor")
    shape = list(tensor.shape)
    origin = ""
    if tensor.grad_fn is not None:
        origin = f", which is output {tensor._output_nr} of {tensor.grad_fn.name()},"
    return (
        "one of the variables needed for gradient computation has been modified by an inplace "
        f"operation: [torch.{kind} {shape}]{origin} is at version {version}; expected version "
        f"{expected} instead. Hint: enable anomaly detection to find the operation that failed "
        "to compute its gradient, with torch.autograd.set_detect_anomaly(True)."
    )


class AccumulateGrad(Node):
    """The sink of a leaf tensor: adds the incoming gradient into ``variable.grad``."""

    __slots__ = ("variable",)

    def __init__(self, variable: Tensor) -> None:
        super().__init__()
        self.variable = variable
        self._sequence_nr = float("inf")  # runs as soon as ready, as in PyTorch

    def apply(self, grad_outputs: list) -> list:
        accumulate_into(self.variable, grad_outputs[0])
        return []

    @property
    def _own_rules(self) -> bool:  # type: ignore[override]
        """No hooks on the leaf: they would be user code."""
        return not (self.variable._hooks or self.variable._post_accumulate_hooks)


def accumulate_into(variable: Tensor, grad: Tensor | None, owned: bool = False) -> None:
    """Add ``grad`` into ``variable.grad``. .grad never aliases another tensor: a gradient is
    copied unless the engine says it ``owned`` it (made during this backward, reaching only
    this leaf) and its array owns its writable memory; then it is kept as is, as PyTorch does."""
    if grad is None:
        return
    hooks = variable._hooks
    if hooks:
        owned = False  # a hook may keep a reference to the gradient it was given
        for hook in list(hooks.values()):
            replaced = hook(grad)
            if replaced is not None:
                grad = replaced
    current = variable._grad
    if STATE.enabled and grad.requires_grad:
        # create_graph: keep the graph of the gradient (out of place).
        variable._grad = grad if current is None else current + grad
    elif current is None:
        if owned and grad.grad_fn is None and _keepable(grad):
            if grad._base is not None:  # a view of a tensor nothing else holds: keep its array
                from .._tensor import wrap

                grad = wrap(grad._data)
            variable._grad = grad
        else:
            variable._grad = grad.detach().clone()
    elif current.requires_grad:
        variable._grad = current + grad.detach()
    else:
        # Plain backward: accumulate in place, as PyTorch does.
        current._data += grad._data.astype(current._data.dtype, copy=False)
        current._bump_version()
    post = variable._post_accumulate_hooks
    if post:
        for hook in list(post.values()):
            hook(variable)


def _keepable(grad: Tensor) -> bool:
    """Whether a gradient's array may become a leaf's .grad: see _unshared_memory. A view
    tensor's base tensor is one more holder of the base array, allowed when nothing else
    holds that tensor (``grad._base``, the local name and getrefcount's argument)."""
    holder = grad._base
    if holder is None or holder._data is not grad._data.base or _getrefcount(holder) > 3:
        return _unshared_memory(grad._data)
    return _unshared_memory(grad._data, holders=1)


def _unshared_memory(array: Any, holders: int = 0) -> bool:
    """Whether ``array`` is writable, C-contiguous and the only user of its memory: it owns it,
    or it covers the whole of a base array that nothing else refers to (a transposed-back
    product, say). Three references to such a base: ``array.base``, the local name ``base``
    and getrefcount's argument; any other view or holder makes four."""
    if not (array.flags.writeable and array.flags.c_contiguous):
        return False
    base = array.base
    return base is None or (type(base) is type(array) and base.base is None
                            and base.size == array.size and _getrefcount(base) <= 3 + holders)


_getrefcount = sys.getrefcount


# --- saved-tensor hooks ---------------------------------------------------------------------
class Packed:
    """A saved tensor as a pack hook returned it, with the unpack hook to call at backward."""

    __slots__ = ("value", "unpack_hook")

    def __init__(self, value: Any, unpack_hook: Callable) -> None:
        self.value = value
        self.unpack_hook = unpack_hook

    def unpack(self) -> Tensor:
        from .._tensor import Tensor

        result = self.unpack_hook(self.value)
        if not isinstance(result, Tensor):
            raise TypeError("Output of saved tensor unpack_hook expected to be a Tensor but got "
                            f"result of type {type(result).__name__}")
        return result


def pack_tensor(tensor: Tensor) -> Any:
    """Apply the innermost pack hook (if any) to a tensor being saved for backward."""
    from ._modes import MODES

    if MODES.hooks_disabled is not None:
        raise RuntimeError(MODES.hooks_disabled)
    pack, unpack = MODES.saved_hooks[-1]
    return Packed(pack(tensor), unpack)


def pack_saved(node: Node) -> None:
    """Replace the tensors a node just saved by what the pack hook makes of them."""
    from .._tensor import Tensor, result_view

    saved = node._saved
    if saved:
        node._saved = [pack_tensor(value) if isinstance(value, Tensor) else value
                       for value in saved]
    if node._saved_result is not None and node._saved_result is not FREED:
        node._saved_result = tuple(pack_tensor(result_view(node, index, array))
                                   for index, array in enumerate(node._saved_result))


class saved_tensors_hooks:
    """Context manager: ``pack_hook(tensor)`` runs when an op saves a tensor for backward,
    ``unpack_hook(packed)`` when backward needs it back; see torch.autograd.graph
    .saved_tensors_hooks."""

    def __init__(self, pack_hook: Callable[[Tensor], Any],
                 unpack_hook: Callable[[Any], Tensor]) -> None:
        self.pack_hook = pack_hook
        self.unpack_hook = unpack_hook

    def __enter__(self) -> saved_tensors_hooks:
        from ._modes import MODES

        if MODES.hooks_disabled is not None:
            raise RuntimeError(MODES.hooks_disabled)
        MODES.saved_hooks.append((self.pack_hook, self.unpack_hook))
        MODES.refresh()
        return self

    def __exit__(self, *exc: object) -> None:
        from ._modes import MODES

        MODES.saved_hooks.pop()
        MODES.refresh()


class save_on_cpu(saved_tensors_hooks):
    """Saved tensors are packed as CPU copies and moved back at backward; tapegrad tensors are
    already on the CPU, so this keeps a copy (PyTorch's semantics, no memory saving here)."""

    def __init__(self, pin_memory: bool = False, device_type: str = "cuda") -> None:
        def pack(tensor: Tensor) -> tuple:
            return (tensor.device, tensor.cpu())

        def unpack(packed: tuple) -> Tensor:
            device, tensor = packed
            return tensor.to(device) if hasattr(tensor, "to") else tensor

        super().__init__(pack, unpack)


class disable_saved_tensors_hooks:
    """Context manager: using saved_tensors_hooks inside raises ``error_message``."""

    def __init__(self, error_message: str) -> None:
        self.error_message = error_message
        self.previous: str | None = None

    def __enter__(self) -> None:
        from ._modes import MODES

        self.previous = MODES.hooks_disabled
        MODES.hooks_disabled = self.error_message

    def __exit__(self, *exc: object) -> None:
        from ._modes import MODES

        MODES.hooks_disabled = self.previous


def get_gradient_edge(tensor: Tensor) -> tuple:
    """The (node, output_nr) a gradient for ``tensor`` flows into; see
    torch.autograd.graph.get_gradient_edge."""
    if tensor.grad_fn is None:
        return (tensor.grad_accumulator(), 0)
    return (tensor.grad_fn, tensor._output_nr)


# Set by _tensor.py once Tensor exists (it imports this module, so no import here).
_result_view: Callable[[Node, int, Any], Tensor] = None  # type: ignore[assignment]
