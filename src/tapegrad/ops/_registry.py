"""defop: declare an op once (forward, backward rule, node name, samples); the registry makes
its Node class, its public function, its Tensor methods and its in-place variant."""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

from .. import _dispatch
from .._backend import ignore_errors, restore_errors
from .._tensor import WRAPPED_FIELDS, Tensor
from ..autograd.graph import BACKWARD_ERRORS, FREED, Node
from ._code_cache import generate as _generate

# name -> callable, filled at import; tapegrad/__init__ and Tensor read them.
FUNCTIONS: dict[str, Callable] = {}
METHODS: dict[str, Callable] = {}
OPS: dict[str, OpDef] = {}

PROMOTIONS = {"none": _dispatch.NONE, "promote": _dispatch.PROMOTE, "float": _dispatch.FLOAT,
              "compare": _dispatch.COMPARE}

# Names a rule may ask for besides the op's own inputs and parameters.
_SPECIAL = ("grad", "grads", "result", "results", "ctx")


class OpNode(Node):
    """Base of the generated per-op node classes: calls the op's rules for the needed inputs."""

    __slots__ = ()
    _op: OpDef
    _own_rules = True  # see Node: the engine may hold NumPy's errors off around apply

    @property
    def needs_input_grad(self) -> tuple[bool, ...]:
        return tuple(edge[0] is not None for edge in self._edges)

    def apply(self, grad_outputs: list) -> list:
        op = self._op
        if op.num_outputs == 1:
            grad = grad_outputs[0] if grad_outputs else None
        else:
            grad = self._materialize(grad_outputs)
        if op.joint_rule is not None:
            return list(op.joint_rule(self, grad))
        callers = op.rule_callers
        edges = self._edges
        if len(edges) == 1:  # the common case, without the loop
            caller = callers[0]
            return [None if edges[0][0] is None or caller is None else caller(self, grad)]
        return [None if edge[0] is None or callers[index] is None else callers[index](self, grad)
                for index, edge in enumerate(edges)]

    def _materialize(self, grad_outputs: list) -> tuple:
        """Zeros for outputs that received no gradient (multi-output ops), or None where the
        op's rule takes None for them (``materialize_grads=False``)."""
        from .._creation import zeros_from_meta

        metas = self._output_meta or ()
        grads = list(grad_outputs) + [None] * (len(metas) - len(grad_outputs))
        if not self._op.materialize_grads:
            return tuple(grads)
        differentiable = self._op.differentiable_outputs
        return tuple(
            grad if grad is not None or (differentiable is not None and i not in differentiable)
            else zeros_from_meta(metas[i]) for i, grad in enumerate(grads))

    @property
    def _saved_tensors_for_display(self) -> tuple:
        return tuple(v for v in (self._saved or ()) if v is not None)


class OpDef:
    """Everything known about one primitive; see defop."""

    def __init__(self, name: str, forward: Callable, node_name: str | None, input_names: tuple,
                 param_names: tuple, promotion: int, num_outputs: int,
                 differentiable_outputs: tuple | None, samples: Any, kind: str | None,
                 jvp: Callable | None) -> None:
        self.name = name
        self.forward = forward
        self.node_name = node_name
        self.input_names = input_names
        self.param_names = param_names
        self.promotion = promotion
        self.num_outputs = num_outputs
        self.differentiable_outputs = differentiable_outputs
        self.samples = samples
        self.kind = kind
        self.jvp = jvp
        self.array_params = False
        self.ufunc: Any = None  # see defop
        self.array_grads: dict[str, Callable] = {}
        self.is_view = False
        self.wrap_outputs: Callable | None = None
        self.rules: list = []  # per input: (function, needed inputs, needs result) or None
        self.rule_callers: list = []
        self.array_rule_parts: list = []  # per input: (NumPy rule, its arguments) or None
        self.joint_rule: Callable | None = None
        self.joint_needs: tuple = ((), False)
        self.materialize_grads = True
        self.save_plans: dict[int, tuple] = {}
        self.node_class: type | None = None
        self.function: Callable | None = None

    def __repr__(self) -> str:
        return f"<op {self.name}>"

    def save_plan(self, mask: int) -> tuple:
        """Which inputs (and whether the result) to save when the inputs in ``mask`` need grad."""
        inputs: set[int] = set()
        result = False
        if self.joint_rule is not None:
            needed, result = self.joint_needs
            inputs.update(needed)
        else:
            for index, rule in enumerate(self.rules):
                if rule is not None and mask >> index & 1:
                    inputs.update(rule[1])
                    result = result or rule[2]
        plan = (tuple(sorted(inputs)), result)
        self.save_plans[mask] = plan
        return plan


_EMPTY = inspect.Parameter.empty
_KEYWORD_ONLY = inspect.Parameter.KEYWORD_ONLY
_POSITIONAL = inspect.Parameter.POSITIONAL_OR_KEYWORD
_VARIADIC = inspect.CO_VARARGS | inspect.CO_VARKEYWORDS


class _Parameter(NamedTuple):
    name: str
    kind: Any
    default: Any


_PARAMETERS: dict[Callable, list] = {}  # by function: defop reads each forward's several times


def _parameters(function: Callable) -> list[_Parameter]:
    """A function's parameters, read from its code object (inspect.signature is ~20x slower,
    and import time is spent here once per op). The list is shared: do not change it."""
    result = _PARAMETERS.get(function)
    if result is None:
        result = _PARAMETERS[function] = _read_parameters(function)
    return result


def _read_parameters(function: Callable) -> list[_Parameter]:
    code = getattr(function, "__code__", None)
    if code is None or code.co_flags & _VARIADIC:
        return [_Parameter(p.name, p.kind, p.default)
                for p in inspect.signature(function).parameters.values()]
    positional, keyword_only = code.co_argcount, code.co_kwonlyargcount
    names = code.co_varnames[:positional + keyword_only]
    defaults = function.__defaults__ or ()
    keyword_defaults = function.__kwdefaults__ or {}
    first_default = positional - len(defaults)
    result = []
    for index, name in enumerate(names):
        if index < positional:
            default = defaults[index - first_default] if index >= first_default else _EMPTY
            result.append(_Parameter(name, _POSITIONAL, default))
        else:
            result.append(_Parameter(name, _KEYWORD_ONLY, keyword_defaults.get(name, _EMPTY)))
    return result


def _rule_arguments(op: OpDef, rule: Callable) -> tuple[list, list, bool]:
    """The expressions (reading a node's saved values) that a rule's parameters ask for."""
    arguments = []
    needed_inputs = []
    needs_result = False
    for parameter in _parameters(rule):
        name = parameter.name
        if name in ("grad", "grads"):
            arguments.append("grad")
        elif name == "ctx":
            arguments.append("node")
        elif name == "result":
            arguments.append("node.unpack_result(0)")
            needs_result = True
        elif name == "results":
            arguments.append(f"tuple(node.unpack_result(i) for i in range({op.num_outputs}))")
            needs_result = True
        elif name in op.input_names:
            index = op.input_names.index(name)
            arguments.append(f"node.unpack_input({index})")
            needed_inputs.append(index)
        elif name.endswith("_shape") and name[:-6] in op.input_names:
            arguments.append(f"node._input_meta[{op.input_names.index(name[:-6])}][0]")
        elif name in op.param_names:
            arguments.append(f"node._params[{op.param_names.index(name)}]")
        elif name[:6] == "result" and name[6:].isdigit() and int(name[6:]) < op.num_outputs:
            # One output of a multi-output op (result1: the second), read alone: an in-place
            # write on another output then leaves the rule usable.
            arguments.append(f"node.unpack_result({int(name[6:])})")
            needs_result = True
        else:
            raise TypeError(f"rule for {op.name} asks for unknown value {name!r}")
    return arguments, needed_inputs, needs_result


def _compile_rule(op: OpDef, rule: Callable) -> tuple[Callable, tuple, bool]:
    """Turn a rule with named parameters into ``call(node, grad)`` reading saved values."""
    arguments, needed_inputs, needs_result = _rule_arguments(op, rule)
    source = f"def generated(node, grad):\n    return rule({', '.join(arguments)})\n"
    return _generate(f"{op.name}_rule", source, {"rule": rule}), tuple(needed_inputs), \
        needs_result


def _array_rule_parts(op: OpDef, array_rule: Callable, rule_needs: tuple) -> tuple:
    """(array_rule, its argument expressions), checked: a NumPy rule (for a plain backward,
    run by the op's direct apply) reads no more than its tapegrad rule, which is what
    create_graph runs since that formula must itself be differentiable."""
    arguments, inputs, result = _rule_arguments(op, array_rule)
    needed, needs_result = rule_needs
    if not set(inputs) <= set(needed) or (result and not needs_result) \
            or "node" in arguments or op.num_outputs != 1:
        raise TypeError(f"array rule for {op.name} must read only what its rule reads")
    return array_rule, arguments


def _first_apply(self: OpNode, grad_outputs: list) -> list:
    """A node class's apply until its first backward: writes the op's direct apply (kept
    out of import time, as most ops are never differentiated in a given program)."""
    node_class = type(self)
    node_class.apply = _direct_apply(node_class._op)
    return node_class.apply(self, grad_outputs)


def _direct_apply(op: OpDef) -> Callable:
    """OpNode.apply for a one-output op with a rule per input, written out for this op: the
    engine calls it once per node, so the rule callers are its globals, without the loop.
    Where every rule has a NumPy form, a plain backward reads the saved arrays and runs
    those forms here, under one NumPy error state, without the callers."""
    values = []
    namespace: dict[str, Any] = {"_FREED": FREED, **_dispatch.FAST_PATH_GLOBALS,
                                 "_ignore_errors": ignore_errors,
                                 "_restore_errors": restore_errors,
                                 "_backward_errors": BACKWARD_ERRORS}
    for index, caller in enumerate(op.rule_callers):
        if caller is None:
            values.append("None")
        else:
            namespace[f"_caller{index}"] = caller
            values.append(f"None if _edges[{index}][0] is None else _caller{index}(self, _grad)")
    lines = ["def generated(self, grad_outputs):",
             "    _grad = grad_outputs[0] if grad_outputs else None", "    _edges = self._edges"]
    arrays = op.array_rule_parts
    if any(arrays):  # then every rule has its NumPy form (defop checks)
        lines += ["    if _grad_state.enabled or _modes.active or type(_grad) is not _Tensor:",
                  f"        return [{', '.join(values)}]", "    _g = _grad._data",
                  "    _saved = self._saved",
                  # Errors off, unless the engine already holds them off for this backward.
                  "    _token = None if _backward_errors.ignored else _ignore_errors()",
                  "    try:"]
        for index, parts in enumerate(arrays):
            if parts is None:
                lines.append(f"        _out{index} = None")
                continue
            rule, arguments = parts
            namespace[f"_array{index}"] = rule
            # A one-input op's node exists only because its input needs grad: no check.
            lines += [f"        if _edges[{index}][0] is None:", f"            _out{index} = None",
                      "        else:"] if len(arrays) > 1 else ["        if True:"]
            names = []
            for argument in arguments:
                name = f"_v{len(names)}"
                if argument == "grad":
                    names.append("_g")
                    continue
                if argument.startswith("node.unpack_input("):
                    slot = argument[len("node.unpack_input("):-1]
                    # A plain tensor at the version saved is read as it is; anything else
                    # (freed, modified, packed by hooks, a subclass) goes through unpack_input.
                    read = [f"{name} = _saved[{slot}] if _saved is not _FREED else None",
                            f"if (type({name}) is _Tensor or type({name}) in _fast) and "
                            f"({name}._version_counter or "
                            f"(0,))[0] == self._saved_versions[{slot}]:",
                            f"    {name} = {name}._data",
                            "else:",
                            f"    {name} = self.unpack_input({slot})",
                            f"    {name} = {name}._data if isinstance({name}, _Tensor) else "
                            f"{name}"]
                elif argument == "node.unpack_result(0)":
                    read = [f"{name} = self._saved_result",
                            f"if type({name}) is tuple and type({name}[0]) is _ndarray:",
                            f"    {name} = {name}[0]", "else:",
                            f"    {name} = self.unpack_result(0)._data"]
                else:  # parameters and input shapes, read as the caller reads them
                    read = [f"{name} = {argument.replace('node.', 'self.')}"]
                lines += ["            " + line for line in read]
                names.append(name)
            lines.append(f"            _out{index} = _array{index}({', '.join(names)})")
        lines += ["    finally:", "        if _token is not None:",
                  "            _restore_errors(_token)"]
        for index in range(len(arrays)):
            # A rule that passes the incoming gradient through returns its tensor, not a
            # second wrapper of one array: the engine tells passed-on gradients by identity.
            # Others are wrapped here, as tapegrad._tensor.wrap does (without its call).
            out = f"_out{index}"
            lines += [f"    if {out} is _g:", f"        {out} = _grad",
                      f"    elif {out} is not None:", f"        if type({out}) is not _ndarray:",
                      f"            {out} = _asarray({out})", "        _wrapped = _new(_Tensor)",
                      f"        _wrapped._data = {out}", *(f"        _wrapped.{name} = {value!r}"
                      for name, value in WRAPPED_FIELDS), f"        {out} = _wrapped"]
        lines.append(f"    return [{', '.join(f'_out{i}' for i in range(len(arrays)))}]")
    else:
        lines.append(f"    return [{', '.join(values)}]")
    return _generate(f"{op.node_name}.apply", "\n".join(lines) + "\n", namespace)


# Code-cache keys of public functions by their shape (see _public_function): ops of one
# shape share one source and one compiled code object. A key names the generators' files'
# modification times, so that editing them invalidates the cached code (as for .pyc files).
_SOURCES: dict[tuple, str] = {}
try:
    _GENERATORS_STAMP: str | None = repr(tuple(os.stat(path).st_mtime_ns
                                               for path in (__file__, _dispatch.__file__)))
except OSError:  # imported from a zip, say: key by source text, which needs no stamp
    _GENERATORS_STAMP = None


def _public_function(op: OpDef, forward: Callable, inputs: int, sequence: bool,
                     inplace: bool = False) -> Callable:
    """Generate ``def name(<forward's signature without xp>)`` that calls dispatch.

    The source is written with placeholder parameter names (``_a0``, ``_a1``...), so that ops
    of one shape (inputs, parameter kinds, promotion, what their nodes save) share it; the
    op's own names are put into the code object's variable names afterwards.
    """
    parameters = _parameters(forward)[1:]
    positional_defaults = []
    keyword_defaults: dict[str, Any] = {}
    kinds = []
    for parameter in parameters:
        kinds.append(parameter.kind is _KEYWORD_ONLY)
        if parameter.kind is _KEYWORD_ONLY:
            if parameter.default is not _EMPTY:
                keyword_defaults[parameter.name] = parameter.default
        elif parameter.default is not _EMPTY:
            positional_defaults.append(parameter.default)
    fast = not inplace and not sequence and op.num_outputs == 1 and inputs in (1, 2, 3) \
        and not op.array_params
    plans = tuple(op.save_plan(mask) for mask in range(1, 1 << inputs)) \
        if fast and op.node_class is not None else ()
    ufunc = fast and op.ufunc is not None
    shape = (tuple(kinds), inputs, sequence, inplace, fast, op.promotion, op.is_view,
             op.node_class is not None, plans, ufunc)
    key = _SOURCES.get(shape)
    if key is None:
        key = _SOURCES[shape] = (
            f"public function {_GENERATORS_STAMP} {shape!r}" if _GENERATORS_STAMP is not None
            else _public_source(op, kinds, inputs, sequence, inplace, fast))
    name = op.name + ("_" if inplace else "")
    namespace: dict[str, Any] = {"_dispatch": _dispatch.dispatch, "_op": op,
                                 "_dispatch_inplace": _dispatch.dispatch_inplace,
                                 "_node_class": op.node_class,
                                 "_last_caller": [None, 0, None, None, 0, None],  # site_of's cache
                                 **_dispatch.FAST_PATH_GLOBALS}
    if ufunc:  # the params' defaults, by identity: the ufunc computes only with them
        namespace["_ufunc"] = op.ufunc
        for index, parameter in enumerate(parameters[inputs:]):
            namespace[f"_default{index}"] = parameter.default
    function = _generate(name, lambda: _public_source(op, kinds, inputs, sequence, inplace, fast),
                         namespace, tuple(parameter.name for parameter in parameters), key)
    # Defaults live on the function object, not in the (shared) code.
    function.__defaults__ = tuple(positional_defaults) or None
    function.__kwdefaults__ = keyword_defaults or None
    function.__doc__ = forward.__doc__
    function.__module__ = "tapegrad"
    return function


def _public_source(op: OpDef, kinds: list, inputs: int, sequence: bool, inplace: bool,
                   fast: bool) -> str:
    """The source of a public function, with parameters named ``_a0``, ``_a1``..."""
    names = [f"_a{index}" for index in range(len(kinds))]
    pieces = []
    for name, keyword_only in zip(names, kinds):
        if keyword_only and "*" not in pieces:
            pieces.append("*")
        pieces.append(name)
    input_names, param_names = names[:inputs], names[inputs:]
    if sequence:
        inputs_text = f"tuple({input_names[0]})"
    else:
        inputs_text = "(" + "".join(f"{n}, " for n in input_names) + ")"
    params_text = "(" + "".join(f"{n}, " for n in param_names) + ")"
    if inplace:
        body = f"return _dispatch_inplace(_op, {input_names[0]}, {inputs_text}, {params_text})"
    elif fast:
        body = _dispatch.inline_fast_path(op, input_names, param_names, inputs_text, params_text)
    else:
        body = f"return _dispatch(_op, {inputs_text}, {params_text})"
    return f"def generated({', '.join(pieces)}):\n    {body}\n"


def _positional_forward(forward: Callable, inputs: int, sequence: bool) -> Callable:
    """Adapt a forward with keyword-only parameters (or a sequence input) to positional calls."""
    parameters = _parameters(forward)[1:]
    keyword_only = [p.name for p in parameters if p.kind is _KEYWORD_ONLY]
    if not keyword_only and not sequence:
        return forward
    names = [p.name for p in parameters]
    if sequence:
        params = names[inputs:]
        source = (f"def generated(xp, *values):\n    return forward(xp, values[:len(values) - "
                  f"{len(params)}], *values[len(values) - {len(params)}:])\n")
        if keyword_only:
            call = ", ".join(f"{n}={n}" if n in keyword_only else n for n in params)
            source = (f"def generated(xp, *values):\n    {', '.join(params) + ','} = values[len("
                      f"values) - {len(params)}:]\n    return forward(xp, values[:len(values) - "
                      f"{len(params)}], {call})\n")
    else:
        call = ", ".join(f"{n}={n}" if n in keyword_only else n for n in names)
        source = f"def generated(xp, {', '.join(names)}):\n    return forward(xp, {call})\n"
    return _generate(f"{forward.__name__}_adapter", source, {"forward": forward})


def defop(
    forward: Callable,
    *,
    name: str | None = None,
    node: str | None = None,
    inputs: int = 1,
    promote: str = "none",
    grads: dict[str, Callable] | None = None,
    backward: Callable | None = None,
    outputs: int = 1,
    differentiable_outputs: Iterable[int] | None = None,
    methods: Iterable[str] = (),
    function: bool | str = True,
    inplace: str | None = None,
    sequence: bool = False,
    array_params: bool = False,
    view: bool = False,
    samples: Any = None,
    kind: str | None = None,
    jvp: Callable | None = None,
    array_grads: dict[str, Callable] | None = None,
    ufunc: Any = None,
    materialize_grads: bool = True,
) -> OpDef:
    """Declare a primitive.

    ``forward(xp, <inputs...>, <params...>)`` computes on arrays; its signature (without xp) is
    the public signature. The first ``inputs`` parameters are tensors that may need gradients;
    ``grads`` maps each of them to a rule ``f(grad, <names it needs>) -> Tensor`` written in
    tapegrad ops (or ``backward`` gives one rule returning a tuple). ``node`` is PyTorch's node
    name; without it the op is not differentiable and records nothing. ``view`` marks ops whose
    result shares memory (and version counter) with their first input, as PyTorch's views.
    ``array_grads`` may give, for hot ops, the same rules on NumPy arrays (one per input that
    has a rule, each reading no more than its rule reads) for a plain backward, where no graph
    of the gradient is kept: the node's generated apply then runs them directly.
    ``ufunc`` may name the NumPy ufunc that, applied to the input arrays, is exactly what
    ``forward`` computes while every param has its default (every forward runs with NumPy's
    floating-point warnings off): the fast path then calls it without the forward's
    Python frames. A test checks the two agree on the op's samples.
    ``materialize_grads=False`` hands a multi-output op's ``backward`` None, not zeros, for
    outputs no gradient reached (as ``ctx.set_materialize_grads(False)``), so that it can skip
    their work.
    """
    op_name = name or forward.__name__.rstrip("_")
    parameters = _parameters(forward)[1:]
    input_names = tuple(p.name for p in parameters[:inputs])
    param_names = tuple(p.name for p in parameters[inputs:])
    # In rules these names mean the op's own outputs and the node; an input or param with
    # one of them could never be read there. (An input named `grad` can still be a key of
    # `grads`; its rules then read the incoming gradient by that name, never the input.)
    clashes = {"result", "results", "ctx", "grads"} & set(input_names + param_names)
    if clashes and node is not None:
        raise TypeError(f"{op_name}: parameters named {sorted(clashes)} would be shadowed in "
                        "backward rules")
    op = OpDef(op_name, _positional_forward(forward, inputs, sequence), node, input_names,
               param_names, PROMOTIONS[promote], outputs,
               tuple(differentiable_outputs) if differentiable_outputs is not None else None,
               samples, kind, jvp)
    op.array_params = array_params
    if ufunc is not None and any(p.default is _EMPTY for p in parameters[inputs:]):
        raise TypeError(f"{op_name}: a ufunc stands for the forward only when every param "
                        "has a default")
    op.ufunc = ufunc
    op.materialize_grads = materialize_grads
    op.is_view = view
    op.array_grads = dict(array_grads or {})
    if node is not None:
        if backward is not None:
            caller, needed, needs_result = _compile_rule(op, backward)
            op.joint_rule = caller
            op.joint_needs = (needed, needs_result)
        else:
            grads = grads or {}
            unknown = (set(grads) | set(array_grads or ())) - set(input_names)
            if unknown:
                raise TypeError(f"{op_name}: grads given for unknown inputs {sorted(unknown)}")
            if array_grads and set(array_grads) != set(grads):
                raise TypeError(f"{op_name}: array_grads must cover the same inputs as grads")
            for input_name in input_names:
                rule = grads.get(input_name)
                if rule is None:
                    op.rules.append(None)
                    op.rule_callers.append(None)
                    op.array_rule_parts.append(None)
                    continue
                caller, needed, needs_result = _compile_rule(op, rule)
                op.rules.append((rule, needed, needs_result))
                op.rule_callers.append(caller)
                array_rule = (array_grads or {}).get(input_name)
                op.array_rule_parts.append(None if array_rule is None else _array_rule_parts(
                    op, array_rule, (needed, needs_result)))
        attributes = {"__slots__": (), "_op": op, "__module__": "tapegrad.autograd.graph"}
        if op.joint_rule is None and outputs == 1:
            attributes["apply"] = _first_apply
        op.node_class = type(node, (OpNode,), attributes)
    public = _public_function(op, forward, inputs, sequence)
    op.function = public
    OPS[op_name] = op
    if function:
        FUNCTIONS[op_name if function is True else function] = public
    for method in methods:
        METHODS[method] = public
    if inplace:
        METHODS[inplace] = _public_function(op, forward, inputs, sequence, inplace=True)
    return op


def public(*, methods: Iterable[str] = (), function: bool | str = True) -> Callable:
    """Register a composite (a plain function over primitives) as function and/or methods."""

    def register(composite: Callable) -> Callable:
        if function:
            FUNCTIONS[composite.__name__ if function is True else function] = composite
        for method in methods:
            METHODS[method] = composite
        return composite

    return register


def install_methods() -> None:
    for name, method in METHODS.items():
        setattr(Tensor, name, method)
