"""The one hot path: promote -> forward -> wrap -> record a Node (only when needed)."""

from __future__ import annotations

import sys
import weakref
from typing import Any

import numpy as np

from . import _backend
from ._dtype import DEFAULTS, FROM_NUMPY, promote_types, result_type, scalar_dtype
from ._tensor import WRAPPED_FIELDS, Tensor, wrap
from .autograd import _modes, anomaly_mode
from .autograd._modes import MODES
from .autograd.grad_mode import STATE
from .autograd.graph import INPUT_METAS, SINGLE_INPUT_METAS, intern_meta, intern_single_meta
from .autograd.graph import next_sequence_nr as _next_sequence_nr

xp = _backend.numpy_namespace

# Promotion kinds an op declares (see ops/_registry.defop).
NONE = 0  # the forward decides the result dtype (inputs used as they are)
PROMOTE = 1  # all inputs are brought to the common dtype (add, mul, where, ...)
FLOAT = 2  # like PROMOTE, then integers and bool become the default float (div, exp, ...)
COMPARE = 3  # inputs promoted, the result is bool (eq, lt, ...)

_ndarray = np.ndarray
_getframe = sys._getframe
_creation_site = anomaly_mode.creation_site
_asarray = np.asarray
_set_error_state, _IGNORE_ALL = _backend.set_error_state, _backend.IGNORE_ALL
_restore_errors = _backend.restore_errors


def common_dtype(inputs: tuple) -> Any:
    """PyTorch's result type of tensors (with dims, 0-d) and Python numbers."""
    dimensioned = zero_dim = scalar = None
    for value in inputs:
        if isinstance(value, Tensor):
            dtype = FROM_NUMPY[value._data.dtype]
            if value._data.ndim:
                dimensioned = dtype if dimensioned is None else promote_types(dimensioned, dtype)
            else:
                zero_dim = dtype if zero_dim is None else promote_types(zero_dim, dtype)
        elif value is not None:
            dtype = scalar_dtype(value)
            scalar = dtype if scalar is None else promote_types(scalar, dtype)
    return result_type(dimensioned, zero_dim, scalar)


def _type_error(op: Any, index: int, value: Any) -> TypeError:
    name = op.input_names[index] if index < len(op.input_names) else "input"
    return TypeError(f"{op.name}(): argument '{name}' (position {index + 1}) must be Tensor, "
                     f"not {type(value).__name__}")


def broadcast_mismatch(*shapes: tuple) -> RuntimeError | None:
    """PyTorch's error for shapes that do not broadcast (folded left to right, the last clashing
    dim named, as its infer_size does), or None when they do."""
    result: tuple = ()
    for shape in shapes:
        shape = tuple(shape)
        ndim = max(len(result), len(shape))
        first = (1,) * (ndim - len(result)) + result
        second = (1,) * (ndim - len(shape)) + shape
        for dim in range(ndim - 1, -1, -1):
            if first[dim] != second[dim] and first[dim] != 1 and second[dim] != 1:
                return RuntimeError(
                    f"The size of tensor a ({first[dim]}) must match the size of tensor b "
                    f"({second[dim]}) at non-singleton dimension {dim}")
        result = tuple(b if a == 1 else a for a, b in zip(first, second))
    return None


def broadcast_failure(error: Exception, *inputs: Any) -> Exception:
    """NumPy's ValueError for shapes that do not broadcast, as PyTorch's RuntimeError; any
    other error is returned as it is (to be re-raised)."""
    shapes = [value._data.shape for value in inputs if isinstance(value, Tensor)]
    return broadcast_mismatch(*shapes) or error


def dispatch(op: Any, inputs: tuple, params: tuple) -> Any:
    """Run ``op`` on ``inputs`` (tensors, or numbers where the op promotes) and ``params``."""
    if MODES.active:  # forward-mode AD, vmap or inference mode (autograd/_modes.py)
        return _modes.handle(op, inputs, params)
    promotion = op.promotion
    requires_grad = False
    if promotion:
        target = None
        first = inputs[0]
        # Fast path: every input a tensor of one dtype (or a number that keeps that dtype).
        if type(first) is Tensor or isinstance(first, Tensor):
            first_dtype = first._data.dtype
            target = first_dtype
            for value in inputs:
                if isinstance(value, Tensor):
                    if value._data.dtype != first_dtype:
                        target = None
                        break
                elif value is not None and not (
                        type(value) is float and first_dtype.kind in "fc"
                        or type(value) is int and first_dtype.kind in "iufc"):
                    target = None
                    break
        if target is None:
            target = common_dtype(inputs).numpy
        if promotion == FLOAT and target.kind not in "fc":
            target = DEFAULTS.value.numpy
        arrays = []
        for value in inputs:
            if isinstance(value, Tensor):
                array = value._data
                if array.dtype != target:
                    array = array.astype(target)
                if value._requires_grad:
                    requires_grad = True
                arrays.append(array)
            elif value is None or type(value) in (int, float, bool, complex):
                arrays.append(value)
            elif isinstance(value, np.generic):
                arrays.append(value.item())
            else:
                raise _type_error(op, len(arrays), value)
    else:
        target = None
        arrays = []
        for value in inputs:
            if isinstance(value, Tensor):
                if value._requires_grad:
                    requires_grad = True
                arrays.append(value._data)
            elif value is None:
                arrays.append(None)
            else:
                raise _type_error(op, len(arrays), value)

    if op.array_params:
        forward_params = tuple(p._data if isinstance(p, Tensor) else p for p in params)
    else:
        forward_params = params
    # PyTorch never warns about floating-point results (inf * 0, overflow, casts of nan):
    # NumPy's warnings are off for the forward and its cast to the result dtype.
    token = _set_error_state(_IGNORE_ALL)
    try:
        output = op.forward(xp, *arrays, *forward_params)
        if op.num_outputs == 1:
            if type(output) is not _ndarray:
                output = _asarray(output)
            if target is not None and promotion != COMPARE and output.dtype != target:
                output = output.astype(target)
    except ValueError as error:
        raise broadcast_failure(error, *inputs) from None
    finally:
        _restore_errors(token)

    if op.num_outputs == 1:
        result = wrap(output)
        if op.is_view:
            mark_view(result, inputs[0])
        if requires_grad and STATE.enabled and op.node_class is not None:
            record(op, inputs, params, (result,))
        return result
    results = tuple(wrap(o if type(o) is _ndarray else _asarray(o)) for o in output)
    if requires_grad and STATE.enabled and op.node_class is not None:
        record(op, inputs, params, results)
    return op.wrap_outputs(results) if op.wrap_outputs is not None else results


# --- fast paths for one- and two-input ops --------------------------------------------------
# The registry writes the common case of each such op (plain tensors of one dtype, or a tensor
# and a Python number of a compatible kind), node recording included, into the op's generated
# function (inline_fast_path, at the end of this module) and leaves everything else to
# ``dispatch`` and ``record``, the reference.
FAST_TYPES = {Tensor}  # the exact types that take the fast path; nn.Parameter adds itself
_new = object.__new__


_NO_EDGE = (None, 0)


def finish_record(node: Any, depth: int) -> None:
    """The end of recording a node (the fast paths' rare end): saved-tensor hooks or
    inference-tensor checks, and where the user made the node, named by errors in backward
    (anomaly mode's whole stack; else one cheap frame, see creation_site). ``depth``: frames
    between the caller and the op's user."""
    if MODES.record_check:
        _modes.check_record(node)
    if anomaly_mode.STATE.enabled:
        node._trace = anomaly_mode.creation_trace()
    else:
        try:
            node._trace = _creation_site(_getframe(depth + 1))
        except ValueError:  # a shallower stack: dispatch called directly from a module
            node._trace = _creation_site(_getframe(1))


class _ModifiedResults(tuple):
    """Saved outputs of a node, some of whose memory was since written in place (``modified``
    maps each such output's index to (array, version counter, expected version)): reading one
    of those raises PyTorch's "modified by an inplace operation" error at backward; the other
    outputs stay readable (a rule that reads only an untouched output, such as max pooling's
    indices, still works after an in-place op on the values)."""

    def __getitem__(self, index: Any) -> Any:
        written = self.modified.get(index)
        if written is None:
            return tuple.__getitem__(self, index)
        from .autograd.graph import modified_message

        tensor, counter, expected = written
        holder = wrap(tensor)
        differentiable = self.node._op.differentiable_outputs
        if differentiable is None or index in differentiable:  # else PyTorch names no node
            holder.grad_fn = self.node
            holder._output_nr = index
        raise RuntimeError(modified_message(holder, counter[0], expected))


def _invalidate_saved_results(target: Tensor) -> None:
    """Saved outputs sharing memory with ``target`` can no longer be used by their nodes."""
    root = target._base if target._base is not None else target
    counter = target.version_counter()
    nodes = {target.grad_fn, root.grad_fn}
    for tensor in (target, root):
        saver = tensor.__dict__.get("_saved_by")
        if saver is not None:
            nodes.add(saver())
    for node in nodes:
        saved = getattr(node, "_saved_result", None)
        if not saved or not isinstance(saved, tuple):
            continue
        modified = saved.modified if type(saved) is _ModifiedResults else {}
        written = [index for index, array in enumerate(saved)
                   if index not in modified and isinstance(array, np.ndarray)
                   and np.shares_memory(array, target._data)]
        if not written:
            continue
        if type(saved) is not _ModifiedResults:
            saved = _ModifiedResults(saved)
            saved.modified = modified
            saved.node = node
            node._saved_result = saved
        for index in written:
            modified[index] = (target._data, counter, counter[0])


class ViewRegistry(list):
    """Weak references to the views made of a tensor (see mark_view). Dead references are
    dropped each time the list reaches its limit, which then doubles: no callback per view
    as a WeakSet has, and no growth past twice the live views."""

    __slots__ = ("limit",)

    def __init__(self) -> None:
        super().__init__()
        self.limit = 64

    def prune(self) -> None:
        self[:] = [reference for reference in self if reference() is not None]
        self.limit = max(64, 2 * len(self))

    def live(self) -> list:
        return [view for view in (reference() for reference in self) if view is not None]


_reference = weakref.ref


def mark_view(view: Tensor, base: Tensor) -> None:
    """Make ``view`` a view of ``base``'s root: shared version counter, and (in grad mode) known
    to the root, so that an in-place write elsewhere can refresh its history."""
    root = base._base if base._base is not None else base
    view._base = root
    view._version_counter = base.version_counter()
    if STATE.enabled:
        views = root.__dict__.get("_views")
        if views is None:
            views = root.__dict__["_views"] = ViewRegistry()
        views.append(_reference(view))
        if len(views) >= views.limit:
            views.prune()


def record(op: Any, inputs: tuple, params: tuple, results: tuple) -> None:
    """Make the op's Node: edges to the inputs' nodes, saved values, outputs' grad_fn."""
    node = _new(op.node_class)
    node._sequence_nr = _next_sequence_nr()
    node._saved = ()
    node._saved_versions = ()
    node._saved_result = None
    edges = []
    metas = []
    mask = 0
    bit = 1
    for value in inputs:
        if isinstance(value, Tensor) and value._requires_grad:
            function = value.grad_fn
            if function is None:
                function = value._accumulator or value.grad_accumulator()
                edges.append((function, 0))
            else:
                edges.append((function, value._output_nr))
            metas.append((value._data.shape, value._data.dtype))
            mask |= bit
        else:
            edges.append((None, 0))
            metas.append(None)
        bit <<= 1
    node._edges = tuple(edges)
    node._input_meta = tuple(metas)
    node._params = params
    plan = op.save_plans.get(mask)
    if plan is None:
        plan = op.save_plan(mask)
    saved_inputs, save_result = plan
    if saved_inputs:
        saved = [None] * len(inputs)
        versions: list = [None] * len(inputs)
        for index in saved_inputs:
            value = inputs[index]
            saved[index] = value  # numbers are saved as they are; tensors with their version
            if isinstance(value, Tensor):
                versions[index] = value.version_counter()[0]
        node._saved = tuple(saved)
        node._saved_versions = tuple(versions)
    differentiable = op.differentiable_outputs
    if save_result:
        node._saved_result = tuple(result._data for result in results)
    if len(results) > 1:
        node._output_meta = tuple((r._data.shape, r._data.dtype) for r in results)
    for index, result in enumerate(results):
        if differentiable is None or index in differentiable:
            result.grad_fn = node
            result._output_nr = index
            result._requires_grad = True
        elif save_result:
            # No grad_fn names the node that saved this output (indices, say): remember it, so
            # that an in-place write to the output is caught at backward, as PyTorch does.
            result.__dict__["_saved_by"] = weakref.ref(node)
    # Frames: record <- dispatch <- generated function <- its caller (usually the user's line).
    finish_record(node, 3)


def dispatch_inplace(op: Any, target: Tensor, inputs: tuple, params: tuple) -> Tensor:
    """Run ``op`` out of place, write the result into ``target`` and move its history there."""
    check_inplace(target)
    if MODES.record_check:
        _modes.before_inplace(target)
    result = dispatch(op, inputs, params)
    if isinstance(result, tuple):
        result = result[0]
    write_inplace(target, result)
    return target


def check_inplace(target: Tensor) -> None:
    """PyTorch refuses in-place writes to leaves that require grad (and their views)."""
    if not STATE.enabled:
        return
    if target._requires_grad and target.grad_fn is None:
        raise RuntimeError("a leaf Variable that requires grad is being used in an in-place "
                           "operation.")
    name = target.__dict__.get("_multi_output_view")
    if name is not None and target._requires_grad:
        raise RuntimeError(
            f"Output {target._output_nr} of {name} is a view and is being modified inplace. This "
            "view is the output of a function that returns multiple views. Such functions do not "
            "allow the output views to be modified inplace. You should replace the inplace "
            "operation by an out-of-place one.")
    base = target._base
    if base is not None and base._requires_grad and base.grad_fn is None:
        raise RuntimeError("a view of a leaf Variable that requires grad is being used in an "
                           "in-place operation.")


def write_inplace(target: Tensor, result: Tensor) -> None:
    """Copy ``result`` into ``target``'s storage and give ``target`` the result's history."""
    array = target._data
    source = result._data
    if source.dtype != array.dtype and not np.can_cast(source.dtype, array.dtype, "same_kind"):
        raise RuntimeError(f"result type {FROM_NUMPY[source.dtype].name.capitalize()} can't be "
                           f"cast to the desired output type "
                           f"{FROM_NUMPY[array.dtype].name.capitalize()}")
    if source.shape != array.shape:
        if np.broadcast_shapes(source.shape, array.shape) != array.shape:
            raise RuntimeError(f"output with shape {list(array.shape)} doesn't match the "
                               f"broadcast shape {list(source.shape)}")
    node = result.grad_fn
    if node is not None:
        saved = node._saved
        if saved and any(value is target for value in saved):
            # The rule needs the old value of the tensor we are about to overwrite.
            original = wrap(array.copy())
            original.grad_fn = target.grad_fn
            original._output_nr = target._output_nr
            original._requires_grad = target._requires_grad
            original._accumulator = target._accumulator
            original._version_counter = [0]
            node._saved_versions = [0 if value is target else version
                                    for value, version in zip(saved, node._saved_versions)]
            node._saved = [original if value is target else value for value in saved]
    _invalidate_saved_results(target)
    if MODES.active:  # forward-mode AD: the target (and its base) take the result's tangent
        _modes.after_inplace(target, result)
    with _backend.quiet():  # a narrowing cast warns in NumPy, not in PyTorch
        array[...] = source
    target._bump_version()
    if target._base is not None and node is not None:
        from .ops.indexing import rebase_view_history

        rebase_view_history(target, result)
        return
    if node is not None:
        target.grad_fn = node
        target._output_nr = result._output_nr
        target._requires_grad = True
        if target.__dict__.get("_views"):
            from .ops.indexing import refresh_views

            refresh_views(target, None)


FAST_PATH_GLOBALS = {
    "_metas": INPUT_METAS, "_intern_meta": intern_meta, "_single_metas": SINGLE_INPUT_METAS,
    "_intern_single_meta": intern_single_meta,
    "_modes": MODES, "_grad_state": STATE, "_fast": FAST_TYPES,
    "_xp": xp, "_ndarray": _ndarray, "_asarray": _asarray,
    "_new": object.__new__, "_Tensor": Tensor, "_mark_view": mark_view,
    "_NO_EDGE": _NO_EDGE, "_next_sequence_nr": _next_sequence_nr,
    "_anomaly": anomaly_mode.STATE, "_finish_record": finish_record,
    "_getframe": _getframe, "_site_of": anomaly_mode.site_of,
    "_creation_site": _creation_site,
    "_broadcast_failure": broadcast_failure,
    "_set_error_state": _backend.set_error_state, "_IGNORE_ALL": _backend.IGNORE_ALL,
    "_restore_errors": _backend.restore_errors,
    # Dtypes by membership (a set lookup, not a read of .kind and a string search); a dtype
    # outside them (non-native byte order, say) takes dispatch, which handles every dtype.
    "_inexact": frozenset(map(np.dtype, "efdFD")),
    "_numeric": frozenset(map(np.dtype, "bBhHiIlLqQefdFD")),
}


def inline_fast_path(op: Any, input_names: list, param_names: list, inputs_text: str,
                      params_text: str) -> str:
    """The body of a function of an op of one to three inputs: dispatch's common case
    written out for this op (its promotion, view and node known now), deferring the rest to
    dispatch. Locals start with an underscore so that no parameter name of an op can shadow
    them; input ``k`` > 0 has the array ``_array<k>`` (or its number) and type ``_kind<k>``.

    This is the hot path of every arithmetic operator, so per-call work that can be decided
    here is decided here.
    """
    promotion = op.promotion
    first = input_names[0]
    fallback = f"return _dispatch(_op, {inputs_text}, {params_text})"
    params = "".join(f", {name}" for name in param_names)
    # `is _Tensor` first: a plain tensor skips the set lookup of the types in FAST_TYPES.
    lines = [f"if _modes.active or type({first}) is not _Tensor and type({first}) not in _fast:",
             f"    {fallback}",
             f"_data = {first}._data", "_dtype = _data.dtype", f"_grad = {first}._requires_grad"]
    for index, name in enumerate(input_names[1:], 1):
        kind, array = f"_kind{index}", f"_array{index}"
        lines += [f"{kind} = type({name})", f"if {kind} is _Tensor or {kind} in _fast:",
                  f"    {array} = {name}._data"]
        if promotion:
            # Arrays of one dtype nearly always share the dtype object: `is` first.
            lines += [f"    if {array}.dtype is not _dtype and {array}.dtype != _dtype:",
                      f"        {fallback}"]
        lines += [f"    _grad = _grad or {name}._requires_grad"]
        if promotion:
            # A Python number keeps the tensor's dtype when it is of the same kind or lower.
            lines += [f"elif {kind} is float and _dtype in _inexact or {kind} is int and "
                      "_dtype in _numeric:", f"    {array} = {name}"]
        lines += ["else:", f"    {fallback}"]
    arrays = ", ".join(["_data"] + [f"_array{index}" for index in range(1, len(input_names))])
    if promotion == FLOAT:
        lines += ["if _dtype not in _inexact:", f"    {fallback}"]
    tensors = ", ".join(input_names)
    call = f"_op.forward(_xp, {arrays}{params})"
    # NumPy's floating-point warnings off, as in dispatch; views and comparisons compute
    # nothing that could warn.
    quiet = not op.is_view and promotion != COMPARE
    if op.ufunc is not None:  # the ufunc is the whole forward while the params are defaults
        defaults = " and ".join(f"{name} is _default{index}"
                                for index, name in enumerate(param_names))
        call = f"_ufunc({arrays}) if {defaults} else {call}" if defaults else f"_ufunc({arrays})"
    cast = ["if _out.dtype is not _dtype and _out.dtype != _dtype:",
            "    _out = _out.astype(_dtype)"] if promotion and promotion != COMPARE else []
    lines += ["_token = _set_error_state(_IGNORE_ALL)"] * quiet + [
        "try:", f"    _out = {call}", "    if type(_out) is not _ndarray:",
        "        _out = _asarray(_out)", *("    " + line for line in cast),
        "except ValueError as _error:",
        f"    raise _broadcast_failure(_error, {tensors}) from None"]
    lines += ["finally:", "    _restore_errors(_token)"] * quiet
    lines += ["_result = _new(_Tensor)", "_result._data = _out"]  # wrap, inline (see below)
    lines += [f"_result.{name} = {value!r}" for name, value in WRAPPED_FIELDS
              if name not in ("_requires_grad", "grad_fn")]
    if op.is_view:
        lines += [f"_mark_view(_result, {first})"]
    untracked = ["_result._requires_grad = False", "_result.grad_fn = None"]
    if op.node_class is not None:  # recording sets both, so they are set once either way
        lines += ["if _grad and _grad_state.enabled:"]
        lines += ["    " + line for line in inline_record(op, input_names, params_text)]
        lines += ["else:"] + ["    " + line for line in untracked]
    else:
        lines += untracked
    lines += ["return _result"]
    return "\n    ".join(lines)


def inline_record(op: Any, input_names: list, params_text: str) -> list[str]:
    """The lines that record the node of an op of one to three inputs (dispatch.record's
    work, for this op): the edges and metadata of the inputs that need grad, and what the
    op's rules read, decided here for each combination of inputs needing grad."""
    first = input_names[0]
    lines = ["_node = _new(_node_class)"]

    def edge(name: str, index: int, array: str, dtype: str, table: str = "_metas",
             intern: str = "_intern_meta") -> list[str]:
        return [f"_function = {name}.grad_fn",
                f"_edge{index} = ({name}._accumulator or {name}.grad_accumulator(), 0) "
                f"if _function is None else (_function, {name}._output_nr)",
                f"_key = ({array}.shape, {dtype})",
                f"_meta{index} = {table}.get(_key) or {intern}(_key)"]

    def save(mask: int) -> list[str]:
        inputs, result = op.save_plan(mask)
        if not inputs:
            block = ["_node._saved = ()", "_node._saved_versions = ()"]
        else:
            block = []
            for index in inputs:  # a saved tensor is saved with its version (no counter: 0)
                name = input_names[index]
                body = [f"_counter = {name}._version_counter",
                        f"_version{index} = 0 if _counter is None else _counter[0]"]
                if index:  # a later input may be a number, saved as it is
                    block += [f"_version{index} = None",
                              f"if _kind{index} is _Tensor or _kind{index} in _fast:"]
                    block += ["    " + line for line in body]
                else:
                    block += body
            saved = [name if index in inputs else "None" for index, name in
                     enumerate(input_names)]
            versions = [f"_version{index}" if index in inputs else "None"
                        for index in range(len(input_names))]
            # Versions are nearly always 0: then a constant tuple, not one more for the
            # garbage collector to track.
            zeros = ["0" if index in inputs else "None" for index in range(len(input_names))]
            unchanged = " and ".join(f"_version{index} == 0" for index in inputs)
            block += [f"_node._saved = ({', '.join(saved)},)",
                      f"_node._saved_versions = ({', '.join(zeros)},) if {unchanged} else "
                      f"({', '.join(versions)},)"]
        block.append(f"_node._saved_result = {'(_out,)' if result else 'None'}")
        return block

    if len(input_names) == 1:  # its metadata is a shared 1-tuple
        lines += edge(first, 0, "_data", "_dtype", "_single_metas", "_intern_single_meta")
        lines += ["_node._edges = (_edge0,)", "_node._input_meta = _meta0"] + save(1)
    else:
        for index, name in enumerate(input_names):
            tensor = f"(_kind{index} is _Tensor or _kind{index} in _fast) and " if index else ""
            needs_grad = f"{tensor}{name}._requires_grad"
            array, dtype = ("_data", "_dtype") if index == 0 else \
                (f"_array{index}", f"_array{index}.dtype")
            lines += [f"if {needs_grad}:"] + ["    " + line for line in
                                              edge(name, index, array, dtype)]
            lines += [f"    _mask {'|=' if index else '='} {1 << index}", "else:",
                      f"    _edge{index} = _NO_EDGE", f"    _meta{index} = None"]
            lines += [] if index else ["    _mask = 0"]
        numbers = range(len(input_names))
        lines += [f"_node._edges = ({', '.join(f'_edge{index}' for index in numbers)})",
                  f"_node._input_meta = ({', '.join(f'_meta{index}' for index in numbers)})"]
        last = (1 << len(input_names)) - 1
        for mask in range(1, last + 1):
            test = "else:" if mask == last else f"{'el' * (mask > 1)}if _mask == {mask}:"
            lines += [test] + ["    " + line for line in save(mask)]
    lines += ["_node._sequence_nr = _next_sequence_nr()", f"_node._params = {params_text}",
              "_result.grad_fn = _node", "_result._requires_grad = True",
              # Saved-tensor hooks, inference tensors or anomaly mode: the general tail.
              "if _modes.record_check or _anomaly.enabled:",
              "    _finish_record(_node, 1)",
              "else:  # where the node was made, named by errors in backward (creation_site)",
              "    try:",
              "        _frame = _getframe(1)",
              "    except ValueError:",
              "        _frame = _getframe(0)",
              # This op's last caller from user code: one comparison, no lookup.
              "    if _frame.f_code is _last_caller[0]:",
              "        _node._trace = _last_caller[1] + _frame.f_lasti",
              "    else:",
              "        _node._trace = _site_of(_frame, _last_caller)"]
    return lines
