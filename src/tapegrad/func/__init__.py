"""torch.func for tapegrad: grad, grad_and_value, vjp, jvp, jacrev, jacfwd, hessian,
functional_call and vmap, built on the one autograd engine (no second graph machinery).

grad and vjp run the reverse engine with create_graph while an outer transform or grad mode
needs it, so transforms nest (``grad(grad(f))``, ``jacrev(jacrev(f))``); jvp and jacfwd use
forward-mode dual tensors; jacrev and jacfwd compute one row (column) per output (input)
element; vmap batches for real (see tapegrad.func._batching).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from .._tensor import Tensor
from ..autograd._modes import MODES, suspend
from . import _batching

__all__ = ["grad", "grad_and_value", "vjp", "jvp", "jacrev", "jacfwd", "hessian",
           "functional_call", "vmap", "linearize", "stack_module_state"]


# --- small pytree helpers (tuples, lists, dicts of tensors) ----------------------------------
def _flatten(tree: Any) -> tuple[list, Callable]:
    if isinstance(tree, (tuple, list)):
        parts = [_flatten(item) for item in tree]
        leaves = [leaf for part in parts for leaf in part[0]]
        kind = type(tree)

        def rebuild(values: list) -> Any:
            items, position = [], 0
            for (part_leaves, part_rebuild) in parts:
                items.append(part_rebuild(values[position:position + len(part_leaves)]))
                position += len(part_leaves)
            return kind(*items) if hasattr(kind, "_fields") else kind(items)

        return leaves, rebuild
    if isinstance(tree, dict):
        keys = list(tree)
        parts = [_flatten(tree[key]) for key in keys]
        leaves = [leaf for part in parts for leaf in part[0]]

        def rebuild_dict(values: list) -> Any:
            result, position = {}, 0
            for key, (part_leaves, part_rebuild) in zip(keys, parts):
                result[key] = part_rebuild(values[position:position + len(part_leaves)])
                position += len(part_leaves)
            return type(tree)(result) if type(tree) is not dict else result

        return leaves, rebuild_dict
    return [tree], lambda values: values[0]


# --- reverse mode ------------------------------------------------------------------------------
_nesting = [0]  # how many grad/vjp transforms are running (inner ones keep the graph)


def _differentiable(value: Any) -> Any:
    """A fresh graph input standing for ``value`` (batched at every open vmap level)."""
    from ..autograd.forward_ad import set_tangent

    if not isinstance(value, Tensor):
        raise TypeError(f"expected a Tensor to differentiate, got {type(value).__name__}")
    levels = tuple(level for level, _ in MODES.vmap_levels) if MODES.vmap_levels else ()
    own = _batching.levels_of(value)
    tangent = getattr(value, "_tangent", None)
    with suspend(forward=True, vmap=True):
        physical = _batching._physical(value)
        if not physical.requires_grad:
            base = physical.detach().requires_grad_(True)
        else:
            base = physical.view_as(physical)
        if levels and own != levels:
            base = _batching._align(base, levels, True)
    if levels:
        _batching._batched(base, levels)
    if tangent is not None and MODES.dual_levels:
        set_tangent(base, tangent)
    return base


def _backward(outputs: list, inputs: list, seeds: list | None, create_graph: bool) -> list:
    """Gradients of ``outputs`` (physical, batched or not) with respect to ``inputs``."""
    from .._creation import ones_like, zeros_like
    from ..autograd import grad as autograd_grad

    # Forward mode over reverse: the engine must run the rules as tapegrad ops (create_graph)
    # so that tangents flow through the gradient computation.
    create_graph = create_graph or MODES.forward
    with suspend(vmap=True):
        physical_outputs = [_batching._physical(o) for o in outputs]
        if seeds is None:
            seeds = [ones_like(o) for o in physical_outputs]
        else:
            seeds = [_batching._align(s, _batching.levels_of(o), True) if
                     _batching.levels_of(o) or _batching.levels_of(s) else s
                     for s, o in zip(seeds, outputs)]
        physical_inputs = [_batching._physical(x) for x in inputs]
        pairs = [(o, s) for o, s in zip(physical_outputs, seeds) if o.requires_grad]
        if pairs:
            grads = autograd_grad([o for o, _ in pairs], physical_inputs, [s for _, s in pairs],
                                  retain_graph=True, create_graph=create_graph,
                                  allow_unused=True)
        else:
            grads = (None,) * len(inputs)
        result = []
        for value, x in zip(grads, physical_inputs):
            if value is None:
                value = zeros_like(x)
            elif not create_graph:
                value = value.detach()
            result.append(value)
    return [_batching._batched(g, _batching.levels_of(x)) if _batching.levels_of(x) else g
            for g, x in zip(result, inputs)]


def vmapped_autograd_grad(outputs: tuple, inputs: tuple, grad_outputs: tuple,
                          retain_graph: bool | None, create_graph: bool,
                          allow_unused: bool | None, materialize_grads: bool) -> tuple:
    """autograd.grad called inside vmap (interposed by autograd.grad while vmap is on).

    Outputs batched like their cotangents run as one physical backward; unbatched outputs
    with batched cotangents (a batch of vjps of one graph) run one backward per example."""
    from .._creation import zeros_like
    from ..autograd import grad as autograd_grad

    levels = tuple(level for level, _ in MODES.vmap_levels)
    cotangent_levels = set()
    for g in grad_outputs:
        cotangent_levels.update(_batching.levels_of(g))
    extra = [lv for lv in levels if lv in cotangent_levels and not any(
        lv in _batching.levels_of(o) for o in outputs)]
    if any(_batching.levels_of(x) for x in inputs) and extra:
        raise RuntimeError("vmap: autograd.grad with batched grad_outputs for outputs that are "
                           "not batched is supported only for unbatched inputs")
    with suspend(vmap=True):
        physical_outputs = [_batching._physical(o) for o in outputs]
        physical_inputs = [_batching._physical(x) for x in inputs]
        if not extra:
            seeds = [None if g is None else _batching._align(g, _batching.levels_of(o), True)
                     if _batching.levels_of(o) else _batching._physical(g)
                     for g, o in zip(grad_outputs, outputs)]
            grads = autograd_grad(physical_outputs, physical_inputs, seeds or None,
                                  retain_graph=retain_graph, create_graph=create_graph,
                                  allow_unused=allow_unused,
                                  materialize_grads=materialize_grads)
            return tuple(_batching._batched(g, _batching.levels_of(x)) if g is not None and
                         _batching.levels_of(x) else g for g, x in zip(grads, inputs))
        ordered = tuple(lv for lv in levels if lv in cotangent_levels)
        sizes = dict(MODES.vmap_levels)
        batch = tuple(sizes[lv] for lv in ordered)
        total = 1
        for size in batch:
            total *= size
        flat = [None if g is None else _batching._align(g, ordered, True).reshape(
            (total,) + tuple(g.shape)) for g in grad_outputs]
        rows = []
        for example in range(total):
            rows.append(autograd_grad(physical_outputs, physical_inputs,
                                      [None if g is None else g[example] for g in flat],
                                      retain_graph=True, create_graph=create_graph,
                                      allow_unused=True))
        from ..autograd.functional import _stack

        result = []
        for k, x in enumerate(physical_inputs):
            column = [row[k] if row[k] is not None else zeros_like(x) for row in rows]
            if all(row[k] is None for row in rows) and not (allow_unused or materialize_grads):
                raise RuntimeError("One of the differentiated Tensors appears to not have been "
                                   "used in the graph. Set allow_unused=True if this is the "
                                   "desired behavior.")
            if all(row[k] is None for row in rows) and not materialize_grads:
                result.append(None)
                continue
            stacked = _stack(column).reshape(batch + tuple(x.shape))
            result.append(_batching._batched(stacked, ordered))
    return tuple(result)


def _argnums_tuple(argnums: int | tuple, count: int, name: str) -> tuple[int, ...]:
    values = argnums if isinstance(argnums, tuple) else (argnums,)
    for value in values:
        if not isinstance(value, int):
            raise RuntimeError(f"{name}: argnums must be int or Tuple[int, ...], got: "
                               f"{type(value)}")
        if not -count <= value < count:
            raise RuntimeError(f"Got argnums={value}, but only {count} positional inputs")
    return tuple(v % count for v in values)


def grad_and_value(func: Callable, argnums: int | tuple[int, ...] = 0,
                   has_aux: bool = False) -> Callable:
    """``(gradient, value)`` of a scalar function; see torch.func.grad_and_value."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from ..autograd.grad_mode import STATE, enable_grad

        if not args:
            raise RuntimeError("grad_and_value(f)(*args): f must take at least one positional "
                               "arg")
        numbers = _argnums_tuple(argnums, len(args), "grad_and_value")
        create_graph = STATE.enabled and (_nesting[0] > 0 or any(
            leaf.requires_grad for n in numbers for leaf in _flatten(args[n])[0]
            if isinstance(leaf, Tensor)))
        values = list(args)
        trees = []
        for n in numbers:
            leaves, rebuild = _flatten(args[n])
            fresh = [_differentiable(leaf) for leaf in leaves]
            trees.append((fresh, rebuild))
            values[n] = rebuild(fresh)
        _nesting[0] += 1
        try:
            with enable_grad():
                output = func(*values, **kwargs)
                aux = None
                if has_aux:
                    if not (isinstance(output, tuple) and len(output) == 2):
                        raise RuntimeError("grad_and_value(f)(*args): output of function f "
                                           "should be a tuple: (output, aux) if has_aux is True")
                    output, aux = output
                if not isinstance(output, Tensor):
                    raise RuntimeError("grad_and_value(f)(*args): Expected f(*args) to return a "
                                       f"Tensor, got {type(output)}")
                if output.dim() != 0:
                    raise RuntimeError("grad_and_value(f)(*args): Expected f(*args) to return a "
                                       f"scalar Tensor, got tensor with {output.dim()} dims. "
                                       "Maybe you wanted to use the vjp or jacrev APIs instead?")
                flat_inputs = [leaf for fresh, _ in trees for leaf in fresh]
                grads = _backward([output], flat_inputs, None, create_graph)
        finally:
            _nesting[0] -= 1
        results = []
        position = 0
        for fresh, rebuild in trees:
            results.append(rebuild(grads[position:position + len(fresh)]))
            position += len(fresh)
        gradient = results[0] if isinstance(argnums, int) else tuple(results)
        value = output if create_graph else _detach(output)
        if has_aux:
            return gradient, (value, aux)
        return gradient, value

    return wrapper


def _detach(value: Any) -> Any:
    if isinstance(value, Tensor):
        return value.detach()
    return value


def grad(func: Callable, argnums: int | tuple[int, ...] = 0, has_aux: bool = False) -> Callable:
    """The gradient of a scalar function with respect to the ``argnums`` inputs; see
    torch.func.grad."""
    inner = grad_and_value(func, argnums, has_aux)

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        gradient, value = inner(*args, **kwargs)
        if has_aux:
            return gradient, value[1]
        return gradient

    return wrapper


def vjp(func: Callable, *primals: Any, has_aux: bool = False) -> tuple:
    """``(func(*primals), vjp_fn)``; ``vjp_fn(cotangents)`` gives one gradient per primal;
    see torch.func.vjp."""
    from ..autograd.grad_mode import STATE, enable_grad

    create_graph = STATE.enabled and (_nesting[0] > 0 or any(
        leaf.requires_grad for p in primals for leaf in _flatten(p)[0]
        if isinstance(leaf, Tensor)))
    trees = []
    values = []
    for primal in primals:
        leaves, rebuild = _flatten(primal)
        fresh = [_differentiable(leaf) for leaf in leaves]
        trees.append((fresh, rebuild))
        values.append(rebuild(fresh))
    _nesting[0] += 1
    try:
        with enable_grad():
            output = func(*values)
    finally:
        _nesting[0] -= 1
    aux = None
    if has_aux:
        if not (isinstance(output, tuple) and len(output) == 2):
            raise RuntimeError("vjp(f, *primals): output of function f should be a tuple: "
                               "(output, aux) if has_aux is True")
        output, aux = output
    flat_outputs, _ = _flatten(output)
    for leaf in flat_outputs:
        if not isinstance(leaf, Tensor):
            raise RuntimeError("vjp(f, *primals): Expected f(*primals) to return only tensors, "
                               f"got unsupported type {type(leaf)}")
    flat_inputs = [leaf for fresh, _ in trees for leaf in fresh]

    def vjp_fn(*cotangents: Any) -> tuple:
        tree = cotangents[0] if len(cotangents) == 1 else cotangents
        flat_cotangents, _ = _flatten(tree)
        if len(flat_cotangents) != len(flat_outputs):
            raise RuntimeError("Expected pytree structure of cotangents to be the same as pytree "
                               "structure of outputs to the function.")
        for c, o in zip(flat_cotangents, flat_outputs):
            if tuple(c.shape) != tuple(o.shape):
                raise RuntimeError(f"Mismatch in shape: grad_output[0] has a shape of "
                                   f"{c.shape} and output[0] has a shape of {o.shape}.")
        _nesting[0] += 1
        try:
            with enable_grad():
                grads = _backward(flat_outputs, flat_inputs, flat_cotangents,
                                  create_graph or _nesting[0] > 1)
        finally:
            _nesting[0] -= 1
        results = []
        position = 0
        for fresh, rebuild in trees:
            results.append(rebuild(grads[position:position + len(fresh)]))
            position += len(fresh)
        return tuple(results)

    result_output = output if create_graph else _map(_detach, output)
    if has_aux:
        return result_output, vjp_fn, aux
    return result_output, vjp_fn


def _map(function: Callable, tree: Any) -> Any:
    leaves, rebuild = _flatten(tree)
    return rebuild([function(leaf) for leaf in leaves])


# --- forward mode ------------------------------------------------------------------------------
def jvp(func: Callable, primals: Any, tangents: Any, *, strict: bool = False,
        has_aux: bool = False) -> tuple:
    """``(func(*primals), J @ tangents)`` by forward-mode AD; see torch.func.jvp."""
    from ..autograd import forward_ad

    if not isinstance(primals, tuple):
        raise RuntimeError("jvp(f, primals, tangents): Expected primals to be a tuple. E.g. it "
                           "should be valid to call f(*primals).")
    if not isinstance(tangents, tuple) or len(tangents) != len(primals):
        raise RuntimeError("jvp(f, primals, tangents): Expected primals and tangents to have the "
                           "same python structure. For example, if primals is a tuple of 3 "
                           "tensors, tangents also must be.")
    nested = MODES.dual_levels > 0
    if not nested:
        forward_ad.enter_dual_level()
    try:
        duals = []
        for primal, tangent in zip(primals, tangents):
            p_leaves, rebuild = _flatten(primal)
            t_leaves, _ = _flatten(tangent)
            if len(p_leaves) != len(t_leaves):
                raise RuntimeError("jvp(f, primals, tangents): Expected primals and tangents to "
                                   "have the same python structure.")
            made = []
            for p, t in zip(p_leaves, t_leaves):
                if tuple(p.shape) != tuple(t.shape):
                    raise RuntimeError("jvp(f, primals, tangents): Expected primals and tangents "
                                       "to have the same shape.")
                made.append(_make_dual(p, t))
            duals.append(rebuild(made))
        output = func(*duals)
        aux = None
        if has_aux:
            output, aux = output
        leaves, rebuild = _flatten(output)
        primal_out = []
        tangent_out = []
        from .._creation import zeros_like

        for leaf in leaves:
            if not isinstance(leaf, Tensor):
                raise RuntimeError("jvp(f, primals, tangents): Expected f(*primals) to return "
                                   f"only tensors, got unsupported type {type(leaf)}")
            tangent = getattr(leaf, "_tangent", None)
            with suspend(forward=True):
                primal_value = leaf.view_as(leaf) if MODES.dual_levels else leaf
            primal_out.append(primal_value)
            tangent_out.append(zeros_like(leaf) if tangent is None else tangent)
    finally:
        if not nested:
            forward_ad.exit_dual_level()
    keep_graph = nested or _nesting[0] > 0 or any(
        leaf.requires_grad for p in primals for leaf in _flatten(p)[0] if isinstance(leaf, Tensor))
    if not keep_graph:
        primal_out = [_detach(v) for v in primal_out]
        tangent_out = [_detach(v) for v in tangent_out]
    result = (rebuild(primal_out), rebuild(tangent_out))
    if has_aux:
        return result + (aux,)
    return result


def _make_dual(primal: Tensor, tangent: Tensor) -> Tensor:
    from ..autograd.forward_ad import set_tangent
    from ..ops.shape import view_op

    with suspend(forward=True):
        result = view_op.function(primal, tuple(primal.shape))
    set_tangent(result, tangent)
    return result


# --- Jacobians -------------------------------------------------------------------------------
def _basis(like: Tensor) -> list[Tensor]:
    from .._creation import zeros

    result = []
    for position in range(like.numel()):
        seed = zeros(tuple(like.shape), dtype=like.dtype)
        seed._data.reshape(-1)[position] = 1
        result.append(seed)
    return result


def _stack_reshape(rows: list, shape: tuple) -> Tensor:
    from ..autograd.functional import _stack
    from .._creation import zeros

    if not rows:
        return zeros(shape)
    return _stack(rows).reshape(shape)


def jacrev(func: Callable, argnums: int | tuple[int, ...] = 0, *, has_aux: bool = False,
           chunk_size: int | None = None, _preallocate_and_copy: bool = False) -> Callable:
    """The Jacobian by reverse mode, one vjp per output element; see torch.func.jacrev."""

    @functools.wraps(func)
    def wrapper(*args: Any) -> Any:
        numbers = _argnums_tuple(argnums, len(args), "jacrev")

        def partial(*chosen: Any) -> Any:
            values = list(args)
            for n, value in zip(numbers, chosen):
                values[n] = value
            return func(*values)

        output, vjp_fn, *rest = vjp(partial, *(args[n] for n in numbers), has_aux=has_aux)
        out_leaves, out_rebuild = _flatten(output)
        per_output = []
        for index, leaf in enumerate(out_leaves):
            rows_per_input: list[list] = []
            for seed in _basis(leaf):
                cotangents = [seed if k == index else _zeros_like(other)
                              for k, other in enumerate(out_leaves)]
                grads = vjp_fn(out_rebuild(cotangents))
                flat_grads = [g for tree in grads for g in _flatten(tree)[0]]
                rows_per_input.append(flat_grads)
            blocks = []
            in_leaves = [leaf for n in numbers for leaf in _flatten(args[n])[0]]
            for k, x in enumerate(in_leaves):
                rows = [row[k] for row in rows_per_input]
                blocks.append(_stack_reshape(rows, tuple(leaf.shape) + tuple(x.shape)))
            rebuilt = []
            position = 0
            for n in numbers:
                leaves, rebuild = _flatten(args[n])
                rebuilt.append(rebuild(blocks[position:position + len(leaves)]))
                position += len(leaves)
            per_output.append(rebuilt[0] if isinstance(argnums, int) else tuple(rebuilt))
        jacobian = out_rebuild(per_output)
        if has_aux:
            return jacobian, rest[0]
        return jacobian

    return wrapper


def _zeros_like(value: Tensor) -> Tensor:
    from .._creation import zeros_like

    return zeros_like(value)


def jacfwd(func: Callable, argnums: int | tuple[int, ...] = 0, has_aux: bool = False, *,
           randomness: str = "error") -> Callable:
    """The Jacobian by forward mode, one jvp per input element; see torch.func.jacfwd."""

    @functools.wraps(func)
    def wrapper(*args: Any) -> Any:
        numbers = _argnums_tuple(argnums, len(args), "jacfwd")
        in_leaves = [leaf for n in numbers for leaf in _flatten(args[n])[0]]
        # Positions of the arguments made only of tensors: they become dual inputs.
        tensor_positions = [m for m, arg in enumerate(args)
                            if all(isinstance(x, Tensor) for x in _flatten(arg)[0])]

        def call(*tensor_args: Any) -> Any:
            values = list(args)
            for m, value in zip(tensor_positions, tensor_args):
                values[m] = value
            return func(*values)

        columns: list[list] = []  # per input leaf, per element: the output tangents
        output_leaves: list = []
        out_rebuild: Callable | None = None
        aux = None
        for leaf in in_leaves:
            element_columns = []
            for seed in _basis(leaf):
                tangents = []
                for m in tensor_positions:
                    leaves, rebuild = _flatten(args[m])
                    tangents.append(rebuild([seed if x is leaf else _zeros_like(x)
                                             for x in leaves]))
                result = jvp(call, tuple(args[m] for m in tensor_positions), tuple(tangents),
                             has_aux=has_aux)
                if has_aux:
                    aux = result[2]
                output_leaves, out_rebuild = _flatten(result[0])
                element_columns.append(_flatten(result[1])[0])
            columns.append(element_columns)
        if out_rebuild is None:
            output_leaves, out_rebuild = _flatten(func(*args))
        per_output = []
        for index, out_leaf in enumerate(output_leaves):
            blocks = []
            for leaf, leaf_columns in zip(in_leaves, columns):
                shape = tuple(out_leaf.shape) + tuple(leaf.shape)
                cols = [column[index] for column in leaf_columns]
                if cols:
                    stacked = _stack_reshape(cols, (leaf.numel(), out_leaf.numel()))
                    blocks.append(stacked.t().reshape(shape))
                else:
                    from .._creation import zeros

                    blocks.append(zeros(shape))
            rebuilt = []
            position = 0
            for n in numbers:
                count = len(_flatten(args[n])[0])
                rebuilt.append(_flatten(args[n])[1](blocks[position:position + count]))
                position += count
            per_output.append(rebuilt[0] if isinstance(argnums, int) else tuple(rebuilt))
        jacobian = out_rebuild(per_output)
        if has_aux:
            return jacobian, aux
        return jacobian

    return wrapper


def hessian(func: Callable, argnums: int | tuple[int, ...] = 0) -> Callable:
    """``jacfwd(jacrev(func))``, as torch.func.hessian."""
    return jacfwd(jacrev(func, argnums), argnums)


def linearize(func: Callable, *primals: Any) -> tuple:
    """``(func(*primals), jvp_fn)``; see torch.func.linearize (jvp_fn re-runs forward mode)."""
    output = func(*primals)

    def jvp_fn(*tangents: Any) -> Any:
        return jvp(func, primals, tangents)[1]

    return output, jvp_fn


# --- functional_call -------------------------------------------------------------------------
def _resolve(module: Any, name: str) -> tuple[Any, str]:
    owner = module
    *path, last = name.split(".")
    for part in path:
        owner = getattr(owner, part)
    return owner, last


def _swap(owner: Any, name: str, value: Any) -> Any:
    """Put ``value`` in place of ``owner.<name>`` (parameter, buffer or attribute); return the
    old one."""
    for registry_name in ("_parameters", "_buffers"):
        registry = getattr(owner, "__dict__", {}).get(registry_name)
        if isinstance(registry, dict) and name in registry:
            old = registry[name]
            registry[name] = value
            return (registry_name, old)
    old = getattr(owner, name, None)
    object.__setattr__(owner, name, value) if not hasattr(type(owner), "__setattr__") else \
        _plain_setattr(owner, name, value)
    return ("attribute", old)


def _plain_setattr(owner: Any, name: str, value: Any) -> None:
    try:
        setattr(owner, name, value)
    except TypeError:
        object.__setattr__(owner, name, value)


def _restore(owner: Any, name: str, saved: tuple) -> None:
    kind, old = saved
    if kind == "attribute":
        _plain_setattr(owner, name, old)
    else:
        owner.__dict__[kind][name] = old


def functional_call(module: Any, parameter_and_buffer_dicts: Any, args: Any = None,
                    kwargs: dict | None = None, *, tie_weights: bool = True,
                    strict: bool = False) -> Any:
    """Call ``module`` with its parameters and buffers replaced by the given tensors; see
    torch.func.functional_call. Works with any object having named_parameters/named_buffers."""
    if isinstance(parameter_and_buffer_dicts, (tuple, list)):
        merged: dict = {}
        for mapping in parameter_and_buffer_dicts:
            overlap = set(merged) & set(mapping)
            if overlap:
                raise ValueError(f"{sorted(overlap)} appeared in multiple dictionaries; behavior "
                                 "of functional call is ambiguous")
            merged.update(mapping)
    else:
        merged = dict(parameter_and_buffer_dicts)
    if strict:
        known = set()
        for method in ("named_parameters", "named_buffers"):
            if hasattr(module, method):
                known.update(name for name, _ in getattr(module, method)())
        missing = sorted(known - set(merged))
        unexpected = sorted(set(merged) - known)
        if missing or unexpected:
            raise RuntimeError(f"Error(s) in reparametrizing for {type(module).__name__}:\n\t"
                               f"Unexpected key(s): {unexpected}.\n\tMissing key(s): {missing}.")
    if args is None:
        args = ()
    elif not isinstance(args, tuple):
        args = (args,)
    swapped = []
    try:
        for name, value in merged.items():
            owner, last = _resolve(module, name)
            swapped.append((owner, last, _swap(owner, last, value)))
        return module(*args, **(kwargs or {}))
    finally:
        for owner, last, saved in reversed(swapped):
            _restore(owner, last, saved)


def stack_module_state(models: list) -> tuple[dict, dict]:
    """Stack the parameters and buffers of same-shaped modules; see
    torch.func.stack_module_state."""
    from ..autograd.functional import _stack

    params = {name: _stack([dict(m.named_parameters())[name].detach() for m in models])
              .requires_grad_() for name, _ in models[0].named_parameters()}
    buffers = {name: _stack([dict(m.named_buffers())[name] for m in models])
               for name, _ in models[0].named_buffers()} if hasattr(models[0],
                                                                    "named_buffers") else {}
    return params, buffers


# --- vmap ------------------------------------------------------------------------------------
def vmap(func: Callable, in_dims: Any = 0, out_dims: Any = 0, randomness: str = "error", *,
         chunk_size: int | None = None) -> Callable:
    """Map ``func`` over a dim of its inputs, running each op once on the batch; see
    torch.func.vmap. Nested vmaps and grad inside vmap work.

    Element-wise ops batch through broadcasting; ops with dims or sizes get them shifted past
    the batch dims; matrix products become one broadcast matmul. Ops that cannot batch run once
    per example (listed below, computed from the op table at import)."""
    if randomness not in ("error", "different", "same"):
        raise RuntimeError(f"Only allowed values for randomness are 'error', 'different', or "
                           f"'same'. Got {randomness}")

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if isinstance(in_dims, int) or in_dims is None:
            dims = (in_dims,) * len(args)
        else:
            dims = tuple(in_dims)
            if len(dims) != len(args):
                raise ValueError(f"vmap(f, in_dims={in_dims}, ...)(<inputs>): in_dims is not "
                                 f"compatible with the structure of `inputs`. in_dims has "
                                 f"structure {len(dims)} but inputs has {len(args)}.")
        pairs = []  # (leaf, dim) for every tensor
        for arg, dim in zip(args, dims):
            leaves, _ = _flatten(arg)
            leaf_dims = _flatten(dim)[0] if isinstance(dim, (tuple, list, dict)) else \
                [dim] * len(leaves)
            for leaf, leaf_dim in zip(leaves, leaf_dims):
                if leaf_dim is not None:
                    if not isinstance(leaf, Tensor):
                        raise ValueError(f"vmap(f, in_dims={in_dims}, ...)(<inputs>): Got "
                                         f"in_dim={leaf_dim} for an input but the input is of "
                                         f"type {type(leaf)}. We cannot vmap over non-Tensor "
                                         "arguments, please use None as the respective in_dim")
                    pairs.append((leaf, leaf_dim))
        if not pairs:
            raise ValueError(f"vmap(f, in_dims={in_dims}, ...)(<inputs>): at least one input "
                             "must be a Tensor mapped over a dim (in_dim not None)")
        sizes = []
        for leaf, leaf_dim in pairs:
            from .._tensor import normalize_dim

            if leaf.dim() == 0:
                raise ValueError(f"vmap(f, in_dims={in_dims}, ...)(<inputs>): Got in_dim="
                                 f"{leaf_dim} for an input but the input is a 0-d tensor")
            sizes.append(leaf.shape[normalize_dim(leaf_dim, leaf.dim())])
        if len(set(sizes)) != 1:
            raise ValueError(f"vmap: Expected all tensors to have the same size in the mapped "
                             f"dimension, got sizes {sizes} for the mapped dimension")
        size = sizes[0]
        level = _batching.new_level(size)
        try:
            new_args = []
            for arg, dim in zip(args, dims):
                leaves, rebuild = _flatten(arg)
                leaf_dims = _flatten(dim)[0] if isinstance(dim, (tuple, list, dict)) else \
                    [dim] * len(leaves)
                new_args.append(rebuild([
                    _batching.enter(leaf, d, level) if d is not None else leaf
                    for leaf, d in zip(leaves, leaf_dims)]))
            output = func(*new_args, **kwargs)
            leaves, rebuild = _flatten(output)
            if isinstance(out_dims, (tuple, list)):
                leaf_out_dims = _flatten(out_dims)[0]
                if len(leaf_out_dims) != len(leaves):
                    raise ValueError(f"vmap(f, ..., out_dims={out_dims})(<inputs>): out_dims is "
                                     "not compatible with the structure of `outputs`.")
            else:
                leaf_out_dims = [out_dims] * len(leaves)
            results = []
            for leaf, out_dim in zip(leaves, leaf_out_dims):
                if not isinstance(leaf, Tensor):
                    raise ValueError(f"vmap({getattr(func, '__name__', func)}, ...): `"
                                     f"{getattr(func, '__name__', func)}` must only return "
                                     f"Tensors, got type {type(leaf)}. Did you mean to set "
                                     "out_dims= to None for output?")
                results.append(_batching.leave(leaf, out_dim, level, size))
            return rebuild(results)
        finally:
            _batching.close_level(level)

    return wrapper


def _fallback_doc() -> str:
    try:
        names = _batching.fallback_ops()
    except Exception:  # pragma: no cover - the op table is still loading
        return ""
    return "\n    Ops batched by the per-example fallback: " + ", ".join(names) + "."


vmap.__doc__ = (vmap.__doc__ or "") + _fallback_doc()
