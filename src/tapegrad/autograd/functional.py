"""Higher-level autograd on functions: vjp, jvp, jacobian, hessian, hvp, vhp, with PyTorch's
argument checks and return structures (a tensor for a tensor, tuples for tuples)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["vjp", "jvp", "jacobian", "hessian", "hvp", "vhp"]


def _as_tuple(value: Any, name: str, function: str) -> tuple[bool, tuple]:
    """(was it a tuple, the tuple); non-tensors are refused with PyTorch's message."""
    from .._tensor import Tensor

    is_tuple = isinstance(value, (tuple, list))
    values = tuple(value) if is_tuple else (value,)
    for index, item in enumerate(values):
        if not isinstance(item, Tensor):
            if is_tuple:
                raise TypeError(f"The {name} given to {function} must be either a Tensor or a "
                                f"tuple of Tensors but the value at index {index} "
                                f"has type {type(item)}.")
            raise TypeError(f"The {name} given to {function} must be either a Tensor or a tuple "
                            f"of Tensors but the given {name} has type {type(item)}.")
    return is_tuple, values


def _prepare(inputs: tuple, create_graph: bool) -> tuple:
    """Inputs that require grad, cut from the caller's graph unless create_graph."""
    from .grad_mode import enable_grad

    with enable_grad():
        return tuple(x.view_as(x) if create_graph and x.requires_grad else
                     x.detach().requires_grad_(True) for x in inputs)


def _finish(values: Any, create_graph: bool) -> Any:
    from .._tensor import Tensor

    if isinstance(values, tuple):
        return tuple(_finish(v, create_graph) for v in values)
    if isinstance(values, Tensor) and not create_graph:
        return values.detach()
    return values


def _shape_back(is_tuple: bool, values: tuple) -> Any:
    return values if is_tuple else values[0]


def _check_v(v: tuple, against: tuple, what: str, function: str) -> None:
    if len(v) != len(against):
        raise RuntimeError(f"v is a tuple of invalid length: should be {len(against)} but got "
                           f"{len(v)}.")
    for index, (a, b) in enumerate(zip(v, against)):
        if tuple(a.shape) != tuple(b.shape):
            raise RuntimeError(f"Entry {index} in v has invalid size: should be "
                               f"{tuple(b.shape)} but got {tuple(a.shape)}.")


def _grads(outputs: tuple, inputs: tuple, grad_outputs: tuple, create_graph: bool,
           strict: bool, stage: str) -> tuple:
    """autograd.grad that tolerates outputs not requiring grad (zeros, or an error if strict)."""
    from .._creation import zeros_like
    from . import grad as autograd_grad

    used = [(o, g) for o, g in zip(outputs, grad_outputs) if o.requires_grad]
    if used:
        result = autograd_grad([o for o, _ in used], inputs, [g for _, g in used],
                               retain_graph=True, create_graph=create_graph, allow_unused=True)
    else:
        result = (None,) * len(inputs)
    final = []
    for index, value in enumerate(result):
        if value is None:
            if strict:
                if stage == "back":
                    raise RuntimeError(f"The output of the user-provided function is independent "
                                       f"of input {index}. This is not allowed in strict mode.")
                raise RuntimeError(f"The gradient with respect to input {index} is independent "
                                   "of the inputs of the user-provided function. This is not "
                                   "allowed in strict mode.")
            value = zeros_like(inputs[index])
        final.append(value)
    return tuple(final)


def _outputs(func: Callable, inputs: tuple, function: str) -> tuple[bool, tuple]:
    return _as_tuple(func(*inputs), "outputs of the user-provided function", function)


def vjp(func: Callable, inputs: Any, v: Any = None, create_graph: bool = False,
        strict: bool = False) -> tuple:
    """``(func(inputs), v^T J)``; see torch.autograd.functional.vjp."""
    from .grad_mode import enable_grad

    inputs_tuple, inputs = _as_tuple(inputs, "inputs", "vjp")
    inputs = _prepare(inputs, create_graph)
    with enable_grad():
        outputs_tuple, outputs = _outputs(func, inputs, "vjp")
        if v is None:
            if len(outputs) != 1 or outputs[0].numel() != 1:
                raise RuntimeError("The vector v can only be None if the user-provided function "
                                   "returns a single Tensor with a single element.")
            from .._creation import ones_like

            v = (ones_like(outputs[0]),)
        else:
            _, v = _as_tuple(v, "v", "vjp")
            _check_v(v, outputs, "v", "vjp")
        result = _grads(outputs, inputs, v, create_graph, strict, "back")
    return (_finish(_shape_back(outputs_tuple, outputs), create_graph),
            _finish(_shape_back(inputs_tuple, result), create_graph))


def jvp(func: Callable, inputs: Any, v: Any = None, create_graph: bool = False,
        strict: bool = False) -> tuple:
    """``(func(inputs), J v)`` by the double-vjp trick (reverse mode only, as PyTorch); see
    torch.autograd.functional.jvp."""
    from .._creation import zeros_like
    from .grad_mode import enable_grad

    inputs_tuple, inputs = _as_tuple(inputs, "inputs", "jvp")
    inputs = _prepare(inputs, create_graph)
    if v is None:
        if len(inputs) != 1 or inputs[0].numel() != 1:
            raise RuntimeError("The vector v can only be None if the input to the user-provided "
                               "function is a single Tensor with a single element.")
        from .._creation import ones_like

        v = (ones_like(inputs[0]),)
    else:
        _, v = _as_tuple(v, "v", "jvp")
        _check_v(v, inputs, "v", "jvp")
    with enable_grad():
        outputs_tuple, outputs = _outputs(func, inputs, "jvp")
        dummies = tuple(zeros_like(o).requires_grad_(True) for o in outputs)
        transposed = _grads(outputs, inputs, dummies, True, strict, "back")
        result = _grads(transposed, dummies, v, create_graph, strict, "double_back")
    return (_finish(_shape_back(outputs_tuple, outputs), create_graph),
            _finish(_shape_back(outputs_tuple, result), create_graph))


def _jacobian_blocks(func: Callable, inputs: tuple, create_graph: bool, strict: bool,
                     strategy: str) -> tuple[bool, tuple, list]:
    """blocks[i][j] = d outputs[i] / d inputs[j], shaped output.shape + input.shape."""
    from .._creation import zeros, zeros_like
    from .grad_mode import enable_grad

    with enable_grad():
        outputs_tuple, outputs = _outputs(func, inputs, "jacobian")
        blocks: list = [[None] * len(inputs) for _ in outputs]
        if strategy == "forward-mode":
            _forward_blocks(func, inputs, outputs, blocks, create_graph, strict)
            return outputs_tuple, outputs, blocks
        for i, output in enumerate(outputs):
            rows: list = [[] for _ in inputs]
            for position in range(output.numel()):
                seed = zeros(output.shape, dtype=output.dtype)
                seed._data.reshape(-1)[position] = 1
                if output.requires_grad:
                    grads = _grads((output,), inputs, (seed,), create_graph, False, "back")
                else:
                    grads = tuple(zeros_like(x) for x in inputs)
                for j, value in enumerate(grads):
                    rows[j].append(value)
            for j, x in enumerate(inputs):
                if strict and output.numel() and not _depends(output, x):
                    raise RuntimeError(f"Output {i} of the user-provided function is independent "
                                       f"of input {j}. This is not allowed in strict mode.")
                if rows[j]:
                    block = _stack(rows[j]).reshape(tuple(output.shape) + tuple(x.shape))
                else:
                    block = zeros(tuple(output.shape) + tuple(x.shape), dtype=x.dtype)
                blocks[i][j] = block
    return outputs_tuple, outputs, blocks


def _depends(output: Any, target: Any) -> bool:
    from . import grad as autograd_grad

    if not output.requires_grad:
        return False
    (value,) = autograd_grad(output.sum(), target, retain_graph=True, allow_unused=True)
    return value is not None


def _stack(tensors: list) -> Any:
    """Stack along a new first dim with differentiable ops (unsqueeze + sum of placements)."""
    from ..ops import FUNCTIONS

    stack = FUNCTIONS.get("stack")
    if stack is not None:
        return stack(tensors)
    from ..ops.indexing import select_backward_op

    shape = (len(tensors),) + tuple(tensors[0].shape)
    total = None
    for index, value in enumerate(tensors):
        placed = select_backward_op.function(value, shape, 0, index)
        total = placed if total is None else total + placed
    return total


def _forward_blocks(func: Callable, inputs: tuple, outputs: tuple, blocks: list,
                    create_graph: bool, strict: bool) -> None:
    """Jacobian columns from forward mode: one dual evaluation per input element."""
    from .._creation import zeros, zeros_like
    from . import forward_ad

    for j, x in enumerate(inputs):
        columns: list = [[] for _ in outputs]
        for position in range(x.numel()):
            tangent = zeros(x.shape, dtype=x.dtype)
            tangent._data.reshape(-1)[position] = 1
            with forward_ad.dual_level():
                values = tuple(forward_ad.make_dual(v, tangent) if k == j else v
                               for k, v in enumerate(inputs))
                _, results = _outputs(func, values, "jacobian")
                for i, result in enumerate(results):
                    t = forward_ad.unpack_dual(result).tangent
                    if t is None:
                        if strict:
                            raise RuntimeError(f"Output {i} of the user-provided function is "
                                               f"independent of input {j}. This is not allowed "
                                               "in strict mode.")
                        t = zeros_like(outputs[i])
                    columns[i].append(t)
        for i, output in enumerate(outputs):
            if columns[i]:
                stacked = _stack(columns[i])  # (input numel, *output.shape)
                stacked = stacked.reshape((x.numel(), output.numel())).t()
                blocks[i][j] = stacked.reshape(tuple(output.shape) + tuple(x.shape))
            else:
                blocks[i][j] = zeros(tuple(output.shape) + tuple(x.shape), dtype=x.dtype)


def jacobian(func: Callable, inputs: Any, create_graph: bool = False, strict: bool = False,
             vectorize: bool = False, strategy: str = "reverse-mode") -> Any:
    """The Jacobian of ``func`` at ``inputs``; see torch.autograd.functional.jacobian.
    ``vectorize`` is accepted; rows (or columns in forward mode) are computed one by one."""
    if strategy not in ("forward-mode", "reverse-mode"):
        raise RuntimeError('Expected strategy to be either "forward-mode" or "reverse-mode". '
                           f'Hint: If your strategy is {strategy}, your code may be using the '
                           'deprecated API.')
    if strategy == "forward-mode":
        if strict:
            raise RuntimeError("torch.autograd.functional.jacobian: `strict=True` and "
                               "`strategy=\"forward-mode\"` are not supported together (yet). "
                               "Please either set `strict=False` or `strategy=\"reverse-mode\"`.")
        if not vectorize:
            raise NotImplementedError("Computing Jacobian using forward-AD or forward-over-"
                                      "reverse Hessian is only implemented for "
                                      "`vectorize=True`.")
    inputs_tuple, inputs = _as_tuple(inputs, "inputs", "jacobian")
    inputs = _prepare(inputs, create_graph)
    outputs_tuple, _, blocks = _jacobian_blocks(func, inputs, create_graph, strict, strategy)
    rows = tuple(_shape_back(inputs_tuple, tuple(_finish(b, create_graph) for b in row))
                 for row in blocks)
    return _shape_back(outputs_tuple, rows)


def hessian(func: Callable, inputs: Any, create_graph: bool = False, strict: bool = False,
            vectorize: bool = False, outer_jacobian_strategy: str = "reverse-mode") -> Any:
    """The Hessian of a scalar ``func``; see torch.autograd.functional.hessian."""
    inputs_tuple, inputs = _as_tuple(inputs, "inputs", "hessian")

    def gradient(*values: Any) -> tuple:
        from .grad_mode import enable_grad

        with enable_grad():
            _, outputs = _outputs(func, values, "hessian")
            _check_scalar(outputs, "hessian")
            return _grads(outputs, values, (_ones_like(outputs[0]),), True, strict, "back")

    result = jacobian(gradient, inputs, create_graph=create_graph, strict=strict,
                      vectorize=vectorize, strategy=outer_jacobian_strategy)
    if not inputs_tuple:
        return result[0][0]
    return result


def _ones_like(value: Any) -> Any:
    from .._creation import ones_like

    return ones_like(value)


def _check_scalar(outputs: tuple, function: str) -> None:
    if len(outputs) != 1:
        raise RuntimeError(f"The function given to {function} should return a single Tensor")
    if outputs[0].numel() != 1:
        raise RuntimeError(f"The Tensor returned by the function given to {function} should "
                           "contain a single element")


def vhp(func: Callable, inputs: Any, v: Any = None, create_graph: bool = False,
        strict: bool = False) -> tuple:
    """``(func(inputs), v^T H)``; see torch.autograd.functional.vhp."""
    from .grad_mode import enable_grad

    inputs_tuple, inputs = _as_tuple(inputs, "inputs", "vhp")
    inputs = _prepare(inputs, create_graph)
    v = _hessian_v(v, inputs, "vhp")
    with enable_grad():
        _, outputs = _outputs(func, inputs, "vhp")
        _check_scalar(outputs, "vhp")
        first = _grads(outputs, inputs, (_ones_like(outputs[0]),), True, strict, "back")
        result = _grads(first, inputs, v, create_graph, strict, "double_back")
    return _finish(outputs[0], create_graph), _finish(_shape_back(inputs_tuple, result),
                                                      create_graph)


def hvp(func: Callable, inputs: Any, v: Any = None, create_graph: bool = False,
        strict: bool = False) -> tuple:
    """``(func(inputs), H v)``; see torch.autograd.functional.hvp (equal to vhp here, as the
    Hessian of a twice-differentiable function is symmetric; computed by double backward)."""
    from .._creation import zeros_like
    from .grad_mode import enable_grad

    inputs_tuple, inputs = _as_tuple(inputs, "inputs", "hvp")
    inputs = _prepare(inputs, create_graph)
    v = _hessian_v(v, inputs, "hvp")
    with enable_grad():
        _, outputs = _outputs(func, inputs, "hvp")
        _check_scalar(outputs, "hvp")
        first = _grads(outputs, inputs, (_ones_like(outputs[0]),), True, strict, "back")
        dummies = tuple(zeros_like(x).requires_grad_(True) for x in inputs)
        transposed = _grads(first, inputs, dummies, True, strict, "double_back")
        result = _grads(transposed, dummies, v, create_graph, strict, "double_back")
    return _finish(outputs[0], create_graph), _finish(_shape_back(inputs_tuple, result),
                                                      create_graph)


def _hessian_v(v: Any, inputs: tuple, function: str) -> tuple:
    if v is None:
        if len(inputs) != 1 or inputs[0].numel() != 1:
            raise RuntimeError("The vector v can only be None if the input to the user-provided "
                               "function is a single Tensor with a single element.")
        return (_ones_like(inputs[0]),)
    _, v = _as_tuple(v, "v", function)
    _check_v(v, inputs, "v", function)
    return v
