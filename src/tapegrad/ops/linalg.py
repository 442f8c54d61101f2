"""Linear algebra: products (dot, mm, matmul in every rank combination, addmm...), einsum and
tensordot, and the decompositions and solvers behind torch.linalg with their matrix-calculus
backward rules (written in tapegrad ops, so they differentiate twice)."""

from __future__ import annotations

import math
from collections import namedtuple

import numpy as np

from .._dtype import FROM_NUMPY
from .._tensor import Tensor, normalize_dim, wrap
from . import _samples as samples
from ._registry import defop, public

B = "bilinear"
Sample = samples.Sample

_LEGACY = {"float32": "Float", "float64": "Double", "int64": "Long", "int32": "Int",
           "float16": "Half", "bool": "Bool", "int16": "Short", "int8": "Char",
           "uint8": "Byte"}


class LinAlgError(RuntimeError):
    """A linear-algebra routine failed on its input (singular, not positive-definite...)."""


def _dtype_name(array) -> str:
    name = FROM_NUMPY[array.dtype].name
    return _LEGACY.get(name, name)


def _same_dtype(input, other, message: str) -> None:
    if input.dtype != other.dtype:
        raise RuntimeError(message.format(_dtype_name(input), _dtype_name(other)))


def _return_type(name: str, fields: tuple[str, ...]) -> type:
    """A named tuple like torch.return_types.<name>."""
    result = namedtuple(name, fields)  # type: ignore[misc]
    result.__module__ = "tapegrad.return_types"
    return result


# --- products -------------------------------------------------------------------------------
def dot(xp, input, other):
    """Inner product of two 1-D tensors; see torch.dot."""
    if input.ndim != 1 or other.ndim != 1:
        raise RuntimeError(f"1D tensors expected, but got {input.ndim}D and {other.ndim}D tensors")
    if input.shape[0] != other.shape[0]:
        size, other_size = input.shape[0], other.shape[0]
        raise RuntimeError(f"inconsistent tensor size, expected tensor [{size}] and src "
                           f"[{other_size}] to have the same number of elements, but got {size} "
                           f"and {other_size} elements respectively")
    _same_dtype(input, other, "dot : expected both vectors to have same dtype, but found {} and {}")
    return xp.dot(input, other)


defop(dot, node="DotBackward0", inputs=2, kind=B, methods=("dot",),
      grads={"input": lambda grad, other: grad * other,
             "other": lambda grad, input: grad * input},
      samples=[Sample(((5,), (5,))),
             Sample(((5,), (4,)), error=True)])


def vdot(xp, input, other):
    """Dot product conjugating ``input``; see torch.vdot."""
    if input.ndim != 1 or other.ndim != 1:
        raise RuntimeError(f"1D tensors expected, but got {input.ndim}D and {other.ndim}D tensors")
    if input.shape[0] != other.shape[0]:
        size, other_size = input.shape[0], other.shape[0]
        raise RuntimeError(f"inconsistent tensor size, expected tensor [{size}] and src "
                           f"[{other_size}] to have the same number of elements, but got {size} "
                           f"and {other_size} elements respectively")
    _same_dtype(input, other, "vdot : expected both vectors to have same dtype, but found {} and "
                "{}")
    return xp.vdot(input, other)


defop(vdot, node="VdotBackward0", inputs=2, kind=B, methods=("vdot",),
      grads={"input": lambda grad, other: grad * other,
             "other": lambda grad, input: grad * input},
      samples=[Sample(((4,), (4,)))])


def _check_mm(input, mat2) -> None:
    if input.ndim != 2:
        raise RuntimeError("self must be a matrix")
    if mat2.ndim != 2:
        raise RuntimeError("mat2 must be a matrix")
    if input.shape[1] != mat2.shape[0]:
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({input.shape[0]}x"
                           f"{input.shape[1]} and {mat2.shape[0]}x{mat2.shape[1]})")
    _same_dtype(input, mat2, "expected m1 and m2 to have the same dtype, but got: {} != {}")


def mm(xp, input, mat2):
    """Matrix product of two 2-D tensors; see torch.mm."""
    _check_mm(input, mat2)
    return xp.matmul(input, mat2)


def _transposed_layout(array) -> bool:
    """Whether ``array`` is a transposed contiguous matrix (F.linear's ``weight.t()``)."""
    return array.flags.f_contiguous and not array.flags.c_contiguous


def _mat2_gradient(grad, input, mat2):
    """input^T @ grad, computed in mat2's memory layout: for a transposed weight (F.linear's
    ``weight.t()``) the gradient then reaches the weight contiguous, and the leaf keeps it
    without a copy (as PyTorch does)."""
    if _transposed_layout(mat2._data):
        return grad.t().mm(input).t()
    return input.t().mm(grad)


def _mat2_array_gradient(grad, input, mat2):
    """_mat2_gradient on arrays (a plain backward)."""
    if _transposed_layout(mat2):
        return (grad.T @ input).T
    return input.T @ grad


defop(mm, node="MmBackward0", inputs=2, kind=B, methods=("mm",),
      grads={"input": lambda grad, mat2: grad.mm(mat2.t()),
             "mat2": _mat2_gradient},
      array_grads={"input": lambda grad, mat2: grad @ mat2.T, "mat2": _mat2_array_gradient},
      samples=[Sample(((3, 4), (4, 2))), Sample(((1, 3), (3, 1))),
             Sample(((3, 4), (3, 4)), error=True)])


def mv(xp, input, vec):
    """Matrix-vector product; see torch.mv."""
    if input.ndim != 2 or vec.ndim != 1:
        raise RuntimeError(f"vector + matrix @ vector expected, got 1, {input.ndim}, {vec.ndim}")
    if input.shape[1] != vec.shape[0]:
        raise RuntimeError(f"size mismatch, got input ({input.shape[0]}), mat ({input.shape[0]}x"
                           f"{input.shape[1]}), vec ({vec.shape[0]})")
    _same_dtype(input, vec, "expected m1 and m2 to have the same dtype, but got: {} != {}")
    return xp.matmul(input, vec)


defop(mv, node="MvBackward0", inputs=2, kind=B, methods=("mv",),
      grads={"input": lambda grad, vec: grad.unsqueeze(1) * vec,
             "vec": lambda grad, input: input.t().mv(grad)},
      array_grads={"input": lambda grad, vec: grad[:, None] * vec,
                   "vec": lambda grad, input: input.T @ grad},
      samples=[Sample(((3, 4), (4,))),
             Sample(((3, 4), (5,)), error=True)])


def _check_bmm(input, mat2) -> None:
    if input.ndim != 3 or mat2.ndim != 3:
        raise RuntimeError("batch1 must be a 3D tensor" if input.ndim != 3 else
                           "batch2 must be a 3D tensor")
    if input.shape[0] != mat2.shape[0] or input.shape[2] != mat2.shape[1]:
        raise RuntimeError(f"Expected size for first two dimensions of batch2 tensor to be: "
                           f"[{input.shape[0]}, {input.shape[2]}] but got: [{mat2.shape[0]}, "
                           f"{mat2.shape[1]}].")
    _same_dtype(input, mat2, "expected scalar type {} but found {}")


def bmm(xp, input, mat2):
    """Batched matrix product of 3-D tensors; see torch.bmm."""
    _check_bmm(input, mat2)
    return xp.matmul(input, mat2)


defop(bmm, node="BmmBackward0", inputs=2, kind=B, methods=("bmm",),
      grads={"input": lambda grad, mat2: grad.bmm(mat2.transpose(1, 2)),
             "mat2": lambda grad, input: input.transpose(1, 2).bmm(grad)},
      samples=[Sample(((2, 3, 4), (2, 4, 5))),
             Sample(((2, 3, 4), (3, 4, 5)), error=True)])


def _plus_scaled_input(product, input, beta):
    """product + beta * input for the add*mm family. beta == 0 ignores input entirely (nan and
    inf in it do not propagate), as PyTorch. The product is a fresh array: the sum is added
    into it rather than allocated (shapes that do not broadcast to it raise, as for the sum)."""
    if beta == 0:
        return product
    addend = input if beta == 1 else input * beta
    if addend.ndim <= product.ndim and addend.dtype == product.dtype:
        product += addend
        return product
    return product + addend


def addmm(xp, input, mat1, mat2, *, beta=1, alpha=1):
    """beta * input + alpha * (mat1 @ mat2); see torch.addmm."""
    _check_mm(mat1, mat2)
    _same_dtype(input, mat1, "self and mat2 must have the same dtype, but got {} and {}")
    product = xp.matmul(mat1, mat2)
    if alpha != 1:
        product = product * alpha
    return _plus_scaled_input(product, input, beta)


def _scaled(grad, factor):
    """grad times factor, skipped for 1 (tensors in rules, arrays in NumPy rules alike)."""
    return grad if factor == 1 else grad * factor


addmm_op = defop(
    addmm, node="AddmmBackward0", inputs=3, methods=("addmm",), inplace="addmm_",
    grads={"input": lambda grad, beta: _scaled(grad, beta),
           "mat1": lambda grad, mat2, alpha: _scaled(grad.mm(mat2.t()), alpha),
           "mat2": lambda grad, mat1, mat2, alpha: _scaled(_mat2_gradient(grad, mat1, mat2),
                                                           alpha)},
    array_grads={"input": lambda grad, beta: _scaled(grad, beta),
                 "mat1": lambda grad, mat2, alpha: _scaled(grad @ mat2.T, alpha),
                 "mat2": lambda grad, mat1, mat2, alpha: _scaled(
                     _mat2_array_gradient(grad, mat1, mat2), alpha)},
    samples=[Sample(((3, 4), (3, 2), (2, 4))),
             Sample(((4,), (3, 2), (2, 4)), kwargs={"beta": 0.5, "alpha": 2.0})])


def addmv(xp, input, mat, vec, *, beta=1, alpha=1):
    """beta * input + alpha * (mat @ vec); see torch.addmv."""
    if mat.ndim != 2 or vec.ndim != 1:
        raise RuntimeError(f"vector + matrix @ vector expected, got {input.ndim}, {mat.ndim}, "
                           f"{vec.ndim}")
    if mat.shape[1] != vec.shape[0]:
        raise RuntimeError(f"size mismatch, got input ({mat.shape[0]}), mat ({mat.shape[0]}x"
                           f"{mat.shape[1]}), vec ({vec.shape[0]})")
    product = xp.matmul(mat, vec)
    if alpha != 1:
        product = product * alpha
    return _plus_scaled_input(product, input, beta)


defop(addmv, node="AddmvBackward0", inputs=3, methods=("addmv",), inplace="addmv_",
      grads={"input": lambda grad, beta: _scaled(grad, beta),
             "mat": lambda grad, vec, alpha: _scaled(grad.unsqueeze(1) * vec, alpha),
             "vec": lambda grad, mat, alpha: _scaled(mat.t().mv(grad), alpha)},
      samples=[Sample(((3,), (3, 2), (2,))),
               Sample(((1,), (3, 2), (2,)), kwargs={"beta": 2.0, "alpha": -0.5})])


def baddbmm(xp, input, batch1, batch2, *, beta=1, alpha=1):
    """beta * input + alpha * (batch1 @ batch2) per batch; see torch.baddbmm."""
    _check_bmm(batch1, batch2)
    product = xp.matmul(batch1, batch2)
    if alpha != 1:
        product = product * alpha
    return _plus_scaled_input(product, input, beta)


defop(baddbmm, node="BaddbmmBackward0", inputs=3, methods=("baddbmm",),
      inplace="baddbmm_",
      grads={"input": lambda grad, beta: _scaled(grad, beta),
             "batch1": lambda grad, batch2, alpha: _scaled(grad.bmm(batch2.transpose(1, 2)),
                                                           alpha),
             "batch2": lambda grad, batch1, alpha: _scaled(batch1.transpose(1, 2).bmm(grad),
                                                           alpha)},
      samples=[Sample(((2, 3, 4), (2, 3, 2), (2, 2, 4))),
               Sample(((3, 1), (2, 3, 2), (2, 2, 4)), kwargs={"beta": 0.5, "alpha": 1.5})])


def _matmul_batched(xp, input, other):
    if input.shape[-1] != other.shape[-2]:
        raise RuntimeError(f"Expected size for first two dimensions of batch2 tensor to be: "
                           f"[{input.shape[-1]}, {other.shape[-2]}] but got mismatched sizes")
    _same_dtype(input, other, "expected m1 and m2 to have the same dtype, but got: {} != {}")
    return xp.matmul(input, other)


# Batched (broadcast) matmul; PyTorch's last recorded step there is an _unsafe_view.
matmul_batched = defop(
    _matmul_batched, name="matmul_batched", node="UnsafeViewBackward0", inputs=2, kind=B,
    function=False,
    grads={"input": lambda grad, other: matmul(grad, other.mT),
           "other": lambda grad, input: matmul(input.mT, grad)},
    samples=[Sample(((2, 3, 4), (4, 5))), Sample(((2, 1, 3, 4), (3, 4, 2))),
             Sample(((2, 3, 4), (5, 6)), error=True)])


def _squeeze_first(xp, input):
    return input[0]


# vector @ matrix: PyTorch squeezes the (1, n) product in place (squeeze_(0)).
matmul_squeeze = defop(
    _squeeze_first, name="matmul_squeeze", node="SqueezeBackward4", kind="linear",
    function=False, grads={"input": lambda grad: grad.unsqueeze(0)},
    samples=[Sample(((4,), (4, 3)))])


def _unsafe_view(xp, input, shape):
    return input.reshape(shape)


# batch @ vector: PyTorch folds the batch into one mv and records an _unsafe_view back.
matmul_unsafe_view = defop(
    _unsafe_view, name="matmul_unsafe_view", node="UnsafeViewBackward0", kind="linear",
    function=False, grads={"input": lambda grad, input_shape: grad.reshape(input_shape)},
    samples=[Sample(((2, 3, 4), (4,))), Sample(((3,), (2, 3, 4)))])


def _batch_times_vector(batch, vector):
    flat = batch.reshape(-1, batch.shape[-1]).mv(vector)
    return matmul_unsafe_view.function(flat, tuple(batch.shape[:-1]))


@public(methods=("matmul", "__matmul__"))
def matmul(input, other):
    """Matrix product in every rank combination, broadcasting batch dims; see torch.matmul."""
    input_ndim, other_ndim = input.ndim, other.ndim
    if input_ndim == 0 or other_ndim == 0:
        raise RuntimeError(f"both arguments to matmul need to be at least 1D, but they are "
                           f"{input_ndim}D and {other_ndim}D")
    if input_ndim == 1 and other_ndim == 1:
        return input.dot(other)
    if input_ndim == 2 and other_ndim == 1:
        return input.mv(other)
    if input_ndim == 1 and other_ndim == 2:
        return matmul_squeeze.function(input.unsqueeze(0).mm(other))
    if input_ndim == 2 and other_ndim == 2:
        return input.mm(other)
    inner_size = other.shape[-2] if other_ndim >= 2 else other.shape[0]
    if other_ndim >= 2 and input.shape[-1] != inner_size:
        # The message of the product PyTorch reduces the call to: mm when it folds the batch
        # of input into rows, else bmm over the broadcast batch.
        if other_ndim == 2:
            raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied "
                               f"({math.prod(input.shape[:-1])}x{input.shape[-1]} and "
                               f"{other.shape[0]}x{other.shape[1]})")
        batch = math.prod(np.broadcast_shapes(tuple(input.shape[:-2]), tuple(other.shape[:-2])))
        raise RuntimeError(f"Expected size for first two dimensions of batch2 tensor to be: "
                           f"[{batch}, {input.shape[-1]}] but got: [{batch}, {inner_size}].")
    if input_ndim == 1:
        return _batch_times_vector(other.mT, input)
    if other_ndim == 1:
        return _batch_times_vector(input, other)
    if input_ndim == 2:
        # PyTorch computes (other^T @ input^T)^T and makes it contiguous (a clone).
        return matmul_batched.function(other.mT, input.mT).mT.contiguous()
    return matmul_batched.function(input, other)


@public(methods=("__rmatmul__",), function=False)
def rmatmul(input, other):
    return matmul(other, input)


@public(methods=("outer", "ger"))
def outer(input, vec2):
    """Outer product of two vectors; see torch.outer."""
    for name, vector in (("self", input), ("vec2", vec2)):
        if vector.ndim != 1:
            raise RuntimeError(f"outer: Expected 1-D argument {name}, but got {vector.ndim}-D")
    return input.reshape(input.shape[0], 1) * vec2


@public()
def ger(input, vec2):
    """Alias of outer; see torch.ger."""
    return outer(input, vec2)


@public()
def tensordot(a, b, dims=2, out=None):
    """Contract ``dims`` dims of ``a`` with ``b``; see torch.tensordot."""
    if isinstance(dims, Tensor):
        dims = dims.tolist()
    if isinstance(dims, int):
        if dims < 0:
            raise RuntimeError(f"tensordot expects dims >= 0, but got dims={dims}")
        dims_a = list(range(a.ndim - dims, a.ndim))
        dims_b = list(range(dims))
    else:
        dims_a, dims_b = dims
        dims_a = [dims_a] if isinstance(dims_a, int) else list(dims_a)
        dims_b = [dims_b] if isinstance(dims_b, int) else list(dims_b)
    if len(dims_a) != len(dims_b):
        raise RuntimeError("both dimension lists should have same length")
    dims_a = [normalize_dim(d, a.ndim) for d in dims_a]
    dims_b = [normalize_dim(d, b.ndim) for d in dims_b]
    size = 1
    for da, db in zip(dims_a, dims_b):
        # A contracted dim of size 1 on one side broadcasts: the other side is summed over it
        # first, as PyTorch does.
        if b.shape[db] == 1:
            a = a.sum(da, keepdim=True)
        elif a.shape[da] == 1:
            b = b.sum(db, keepdim=True)
        elif a.shape[da] != b.shape[db]:
            raise RuntimeError(f"contracted dimensions need to match, but first has size "
                               f"{a.shape[da]} in dim {da} and second has size {b.shape[db]} in "
                               f"dim {db}")
        else:
            size *= a.shape[da]
    free_a = [d for d in range(a.ndim) if d not in dims_a]
    free_b = [d for d in range(b.ndim) if d not in dims_b]
    size_a = math.prod(a.shape[d] for d in free_a)
    size_b = math.prod(b.shape[d] for d in free_b)
    shape = [a.shape[d] for d in free_a] + [b.shape[d] for d in free_b]
    left = a.permute(*free_a, *dims_a)
    right = b.permute(*dims_b, *free_b)
    if size_a == 1 and size_b == 1:
        # Nothing left free: a dot product of the flattened operands, or (when flattening
        # would copy) a product and a sum, the way PyTorch records it.
        if left.is_contiguous() and right.is_contiguous():
            product = left.flatten().dot(right.flatten())
        else:
            product = (left.squeeze() * right.squeeze()).sum()
    else:
        product = left.reshape(size_a, size).mm(right.reshape(size, size_b))
    return product.reshape(shape)


@public(methods=("inner",))
def inner(input, other):
    """Sum of products over the last dims; see torch.inner."""
    if input.ndim == 0 or other.ndim == 0:
        return input * other
    if input.shape[-1] != other.shape[-1]:
        raise RuntimeError(f"inner() the last dimension must match on both input tensors but "
                           f"got shapes {list(input.shape)} and {list(other.shape)}")
    return tensordot(input, other, ([-1], [-1]))


@public(methods=("kron",))
def kron(input, other) -> Tensor:
    """Kronecker product; see torch.kron."""
    from .shape import unsafe_view_op

    ndim = max(input.ndim, other.ndim)
    input_shape = (1,) * (ndim - input.ndim) + tuple(input.shape)
    other_shape = (1,) * (ndim - other.ndim) + tuple(other.shape)
    # Interleave the dims: input's dim i next to other's dim i; the product merges each pair.
    # PyTorch reinterprets the shapes with _unsafe_view (UnsafeViewBackward0) throughout.
    spread_input, spread_other = [], []
    for size_input, size_other in zip(input_shape, other_shape):
        spread_input += [size_input, 1]
        spread_other += [1, size_other]
    product = (unsafe_view_op.function(input, tuple(spread_input))
               * unsafe_view_op.function(other, tuple(spread_other)))
    return unsafe_view_op.function(product, tuple(x * y for x, y in zip(input_shape,
                                                                       other_shape)))


# --- einsum ---------------------------------------------------------------------------------
# einsum follows PyTorch's plan step by step, so that the graph (and its node names) match:
# each operand is brought to one common dim order (output dims first, then the contracted
# ones) by diagonal/unsqueeze/permute; operands are then folded left to right, each pair as a
# batched matmul (or a product when nothing is contracted); contracted dims left in the end
# are viewed away (several operands) or summed (one operand).
_ELLIPSIS = -1


def _einsum_label(char: str) -> int:
    """Labels sort as PyTorch orders them: 'A'-'Z' before 'a'-'z'."""
    return ord(char) - ord("A") if char <= "Z" else ord(char) - ord("a") + 26


def _einsum_char(label: int) -> str:
    return chr(ord("A") + label) if label < 26 else chr(ord("a") + label - 26)


def _einsum_terms(equation: str, num_operands: int) -> tuple[list[list[int]], int]:
    """The label lists of the operands (``_ELLIPSIS`` marks '...'), and where '->' starts."""
    arrow = equation.find("->")
    end = len(equation) if arrow == -1 else arrow
    terms: list[list[int]] = [[]]
    dots = 0
    for position in range(end + 1):
        char = equation[position] if position < end else ","
        operand = len(terms) - 1
        if char == ".":
            if _ELLIPSIS in terms[-1]:
                raise RuntimeError(f"einsum(): found '.' for operand {operand} for which an "
                                   "ellipsis was already found")
            dots += 1
            if dots == 3:
                terms[-1].append(_ELLIPSIS)
                dots = 0
            continue
        if dots:
            raise RuntimeError(f"einsum(): found '.' for operand {operand} that is not part of "
                               "any ellipsis")
        if char == ",":
            if position < end:
                terms.append([])
        elif char.isascii() and char.isalpha():
            terms[-1].append(_einsum_label(char))
        elif char != " ":
            raise RuntimeError(f"einsum(): invalid subscript given at index {position} in the "
                               "equation string, subscripts must be in [a-zA-Z]")
    if len(terms) < num_operands:
        raise RuntimeError("einsum(): more operands were provided than specified in the equation")
    if len(terms) > num_operands:
        raise RuntimeError("einsum(): fewer operands were provided than specified in the "
                           "equation")
    return terms, arrow


def _einsum_output(equation: str, arrow: int, counts: list[int],
                   ellipsis_ndim: int) -> tuple[list[int], int, int, int]:
    """Each label's position in the common dim order (-1 where unused), where the ellipsis
    dims start there, the output's number of dims (they come first) and the total."""
    position_of = [-1] * 52
    ellipsis_start = -1
    next_position = 0
    if arrow == -1:
        # Implicit output: the ellipsis dims, then the labels used once, in label order.
        ellipsis_start, next_position = 0, ellipsis_ndim
        for label, count in enumerate(counts):
            if count == 1:
                position_of[label] = next_position
                next_position += 1
    else:
        dots = 0
        for position in range(arrow + 2, len(equation) + 1):
            char = equation[position] if position < len(equation) else " "
            if char == ".":
                if ellipsis_start != -1:
                    raise RuntimeError("einsum(): found '.' for output but an ellipsis (...) "
                                       "was already found")
                dots += 1
                if dots == 3:
                    ellipsis_start, dots = next_position, 0
                    next_position += ellipsis_ndim
                continue
            if dots:
                raise RuntimeError("einsum(): found '.' for output that is not part of any "
                                   "ellipsis (...)")
            if char == " ":
                continue
            if not (char.isascii() and char.isalpha()):
                raise RuntimeError(f"einsum(): invalid subscript given at index {position} in "
                                   "the equation string, subscripts must be in [a-zA-Z]")
            label = _einsum_label(char)
            if counts[label] == 0:
                raise RuntimeError(f"einsum(): output subscript {char} does not appear in the "
                                   "equation for any input operand")
            if position_of[label] != -1:
                raise RuntimeError(f"einsum(): output subscript {char} appears more than once "
                                   "in the output")
            position_of[label] = next_position
            next_position += 1
    output_ndim = next_position
    if ellipsis_start == -1:  # ellipsis dims not in the output are contracted first
        ellipsis_start = next_position
        next_position += ellipsis_ndim
    for label, count in enumerate(counts):
        if count and position_of[label] == -1:
            position_of[label] = next_position
            next_position += 1
    return position_of, ellipsis_start, output_ndim, next_position


def _einsum_align(index: int, operand, term: list[int], position_of: list[int],
                  ellipsis_start: int, ellipsis_ndim: int, total: int, label_sizes: list[int],
                  ellipsis_sizes: list[int], counts: list[int]):
    """One operand in the common dim order: diagonals for repeated labels, size-1 dims for
    missing ones, then one permute. Records label sizes and how many operands have each dim
    with a size other than 1 (``counts``)."""
    permutation = [-1] * total
    dim = 0
    for label in term:
        if label == _ELLIPSIS:
            covered = operand.ndim - (len(term) - 1)
            for j in range(ellipsis_ndim - covered, ellipsis_ndim):
                size = operand.shape[dim]
                if size != 1:
                    if ellipsis_sizes[j] not in (1, size):
                        raise RuntimeError(
                            f"einsum(): dimension {j} covered by ellipsis in operand {index} "
                            f"has size {size} which does not broadcast with previously seen "
                            f"ellipsis with size {ellipsis_sizes[j]} for the respective "
                            "dimension")
                    ellipsis_sizes[j] = size
                    counts[ellipsis_start + j] += 1
                permutation[ellipsis_start + j] = dim
                dim += 1
        elif permutation[position_of[label]] == -1:
            size = operand.shape[dim]
            if size != 1:
                if label_sizes[label] not in (1, size):
                    raise RuntimeError(
                        f"einsum(): subscript {_einsum_char(label)} has size {size} for operand "
                        f"{index} which does not broadcast with previously seen size "
                        f"{label_sizes[label]}")
                label_sizes[label] = size
                counts[position_of[label]] += 1
            permutation[position_of[label]] = dim
            dim += 1
        else:
            first = permutation[position_of[label]]
            if operand.shape[dim] != operand.shape[first]:
                raise RuntimeError(
                    f"einsum(): subscript {_einsum_char(label)} is repeated for operand {index} "
                    f"but the sizes don't match, {operand.shape[dim]} != "
                    f"{operand.shape[first]}")
            operand = operand.diagonal(0, first, dim).movedim(-1, first)
    for position, source in enumerate(permutation):
        if source == -1:
            operand = operand.unsqueeze(dim)
            permutation[position] = dim
            dim += 1
    return operand.permute(*permutation)


@public()
def einsum(*args) -> Tensor:
    """Einstein summation over the operands; see torch.einsum. Takes ``(equation,
    *operands)``, ``(equation, [operands])`` or the sublist form ``(op, [dims], ..., [out])``."""
    if not args:
        raise ValueError("einsum(): must specify the equation string and at least one operand, "
                         "or at least one operand and its subscripts list")
    if isinstance(args[0], str):
        equation, operands = args[0], args[1:]
        if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
            operands = tuple(operands[0])
    else:
        equation, operands = _einsum_sublists(args)
    if not operands:
        raise ValueError("einsum(): must specify the equation string and at least one operand, "
                         "or at least one operand and its subscripts list")
    terms, arrow = _einsum_terms(equation, len(operands))
    counts = [0] * 52
    ellipsis_ndim = 0
    for index, (term, operand) in enumerate(zip(terms, operands)):
        named = len(term) - (_ELLIPSIS in term)
        if _ELLIPSIS in term:
            if named > operand.ndim:
                raise RuntimeError(f"einsum(): the number of subscripts in the equation ({named})"
                                   f" is more than the number of dimensions ({operand.ndim}) for "
                                   f"operand {index}")
            ellipsis_ndim = max(ellipsis_ndim, operand.ndim - named)
        elif named != operand.ndim:
            raise RuntimeError(f"einsum(): the number of subscripts in the equation ({named}) "
                               f"does not match the number of dimensions ({operand.ndim}) for "
                               f"operand {index} and no ellipsis was given")
        for label in term:
            if label != _ELLIPSIS:
                counts[label] += 1
    position_of, ellipsis_start, output_ndim, total = _einsum_output(equation, arrow, counts,
                                                                     ellipsis_ndim)
    label_sizes = [1] * 52
    ellipsis_sizes = [1] * ellipsis_ndim
    dim_counts = [0] * total
    aligned = [_einsum_align(index, operand, term, position_of, ellipsis_start, ellipsis_ndim,
                             total, label_sizes, ellipsis_sizes, dim_counts)
               for index, (operand, term) in enumerate(zip(operands, terms))]
    while len(aligned) > 1:
        left, right = aligned[0], aligned[1]
        del aligned[:2]
        # A contracted dim is summed in the product once no later operand has it; one that
        # only this operand has is summed right away.
        sum_dims, left_sums, right_sums = [], [], []
        for dim in range(output_ndim, total):
            if left.shape[dim] != 1 and right.shape[dim] != 1:
                dim_counts[dim] -= 1
                if dim_counts[dim] == 1:
                    sum_dims.append(dim)
                    dim_counts[dim] = 0
            elif dim_counts[dim] == 1:
                if left.shape[dim] != 1:
                    left_sums.append(dim)
                    dim_counts[dim] = 0
                elif right.shape[dim] != 1:
                    right_sums.append(dim)
                    dim_counts[dim] = 0
        if left_sums:
            left = left.sum(left_sums, keepdim=True)
        if right_sums:
            right = right.sum(right_sums, keepdim=True)
        aligned.insert(0, _einsum_pair(left, right, sum_dims))
    result = aligned[0]
    if total > output_ndim:
        if len(operands) > 1:  # the contracted dims are size 1 by now
            return result.view(*result.shape[:output_ndim])
        return result.sum(list(range(output_ndim, total)))
    return result


def _einsum_sublists(args) -> tuple[str, tuple]:
    """(op, dims, op, dims, ..., [output dims]) as an equation string and the operands."""

    def letters(sublist) -> str:
        text = ""
        for item in sublist:
            if item is Ellipsis:
                text += "..."
            elif isinstance(item, int) and 0 <= item < 52:
                text += _einsum_char(item)
            else:
                raise ValueError("einsum(): subscript in subscript list is not within the valid "
                                 "range [0, 52)")
        return text

    operands = args[0::2][:len(args) // 2]
    terms = [letters(sublist) for sublist in args[1::2][:len(args) // 2]]
    equation = ",".join(terms)
    if len(args) % 2:
        equation += "->" + letters(args[-1])
    return equation, tuple(operands)


def _einsum_pair(left, right, sum_dims: list[int]):
    """Product of two aligned operands summed over ``sum_dims`` (kept as size 1): a bmm over
    (dims both have, dims only left has, summed) x (both, summed, only right)."""
    if not sum_dims:
        return left * right
    both, left_only, right_only = [], [], []
    for dim in range(left.ndim):
        if dim in sum_dims:
            continue
        if left.shape[dim] != 1 and right.shape[dim] != 1:
            both.append(dim)
        elif left.shape[dim] != 1:
            left_only.append(dim)
        else:
            right_only.append(dim)
    shape = ([left.shape[d] for d in both + left_only] + [1] * len(sum_dims)
             + [right.shape[d] for d in right_only])
    both_size = math.prod(left.shape[d] for d in both)
    left_size = math.prod(left.shape[d] for d in left_only)
    right_size = math.prod(right.shape[d] for d in right_only)
    sum_size = math.prod(left.shape[d] for d in sum_dims)
    order = both + left_only + sum_dims + right_only
    left = left.permute(*order).reshape(both_size, left_size, sum_size)
    right = right.permute(*both, *sum_dims, *right_only, *left_only).reshape(
        both_size, sum_size, right_size)
    result = left.bmm(right).view(*shape)
    return result.permute(*[order.index(dim) for dim in range(len(order))])


# --- cross product --------------------------------------------------------------------------
def _cross(xp, input, other, dim=-1):
    if input.ndim != other.ndim:
        raise RuntimeError("linalg.cross: inputs must have the same number of dimensions.")
    shape = np.broadcast_shapes(input.shape, other.shape)
    axis = normalize_dim(dim, len(shape))
    if input.shape[axis] != 3 or other.shape[axis] != 3:
        raise RuntimeError(f"linalg.cross: inputs dimension {dim} must have length 3. Got "
                           f"{input.shape[axis]} and {other.shape[axis]}")
    return xp.cross(xp.broadcast_to(input, shape), xp.broadcast_to(other, shape), axis=axis)


cross_op = defop(
    _cross, name="cross", node="LinalgCrossBackward0", inputs=2, promote="promote", kind=B,
    function=False,
    grads={"input": lambda grad, other, dim: cross_op.function(other, grad, dim),
           "other": lambda grad, input, dim: cross_op.function(grad, input, dim)},
    samples=[Sample(((4, 3), (4, 3))), Sample(((3, 2), (3, 1)), kwargs={"dim": 0})])


def linalg_cross(input, other, *, dim=-1):
    """See torch.linalg.cross."""
    return cross_op.function(input, other, dim)


@public(methods=("cross",))
def cross(input, other, dim=None):
    """Cross product along ``dim`` (the first dim of size 3 when None); see torch.cross."""
    if dim is None:
        shape = np.broadcast_shapes(tuple(input.shape), tuple(other.shape))
        dim = next((i for i, size in enumerate(shape) if size == 3), None)
        if dim is None:
            raise RuntimeError("no dimension of size 3 in input")
    return cross_op.function(input, other, dim)


# --- helpers for the decompositions ---------------------------------------------------------
def _check_float(name: str, array) -> None:
    if array.dtype.kind not in "fc":
        raise RuntimeError(f"{name}: Expected a floating point or complex tensor as input. Got "
                           f"{_dtype_name(array)}")


def _check_square(name: str, array, argument: str = "A") -> None:
    if array.ndim < 2:
        raise RuntimeError(f"{name}: The input tensor {argument} must have at least 2 dimensions.")
    if array.shape[-1] != array.shape[-2]:
        raise RuntimeError(f"{name}: {argument} must be batches of square matrices, but they are "
                           f"{array.shape[-2]} by {array.shape[-1]} matrices")
    _check_float(name, array)


def _check_matrix(name: str, array) -> None:
    if array.ndim < 2:
        raise RuntimeError(f"{name}: The input tensor A must have at least 2 dimensions.")
    _check_float(name, array)


def _is_zero(grad) -> bool:
    """An output that received no gradient (materialized as constant zeros)."""
    return grad is None or (not grad.requires_grad and not grad._data.any())


def _eye_like(matrix):
    from .._creation import eye

    return eye(matrix.shape[-1], dtype=matrix.dtype)


def _diag_embed(vector):
    """Batched diagonal matrices from vectors (differentiable: a product with the identity)."""
    from .._creation import eye

    return vector.unsqueeze(-1) * eye(vector.shape[-1], dtype=vector.dtype)


def _diagonal(matrix):
    """Batched main diagonals (differentiable: a masked sum)."""
    return (matrix * _eye_like(matrix)).sum(-1)


# --- inverse, determinant, solve ------------------------------------------------------------
def _inv(xp, A):
    _check_square("linalg.inv", A)
    try:
        return xp.linalg.inv(A)
    except np.linalg.LinAlgError:
        raise LinAlgError("linalg.inv: The diagonal element is zero, the inversion could not be "
                          "completed because the input matrix is singular.") from None


inv_op = defop(
    _inv, name="inv", node="LinalgInvExBackward0", function=False,
    grads={"A": lambda grad, result: -matmul(matmul(result.mT, grad), result.mT)},
    samples=[Sample(((3, 3),)), Sample(((2, 2, 2),))])


def inv(A):
    """Inverse of square matrices; see torch.linalg.inv."""
    return inv_op.function(A)


@public(methods=("inverse",))
def inverse(input):
    """See torch.inverse."""
    return inv_op.function(input)


def _det(xp, A):
    _check_square("linalg.det", A)
    return xp.asarray(xp.linalg.det(A), dtype=A.dtype)


def _det_rule(grad, A, result):
    # d det(A) = det(A) tr(A^-1 dA); for singular A this needs the adjugate, which PyTorch
    # takes from an SVD. Here A^-1 det(A) is formed by a solve when A is invertible.
    scale = (grad * result).unsqueeze(-1).unsqueeze(-1)
    return scale * inv_op.function(A).mT


det_op = defop(_det, name="det", node="LinalgDetBackward0", function=False,
               grads={"A": _det_rule}, samples=[Sample(((3, 3),)), Sample(((2, 2, 2),)),
                                                Sample(((2, 3),), error=True)])


@public(methods=("det",))
def det(input):
    """Determinant; see torch.det."""
    return det_op.function(input)


def _slogdet(xp, A):
    _check_square("linalg.slogdet", A)
    sign, logabsdet = xp.linalg.slogdet(A)
    return xp.asarray(sign, dtype=A.dtype), xp.asarray(logabsdet, dtype=A.dtype)


SlogdetResult = _return_type("linalg_slogdet", ("sign", "logabsdet"))

slogdet_op = defop(
    _slogdet, name="slogdet", node="LinalgSlogdetBackward0", outputs=2, function=False,
    # The sign is locally constant for real input: only logabsdet carries a gradient.
    backward=lambda grad, A: (grad[1].unsqueeze(-1).unsqueeze(-1) * inv_op.function(A).mT,),
    samples=[Sample(((3, 3),)), Sample(((2, 2, 2),))])
slogdet_op.wrap_outputs = lambda results: SlogdetResult(*results)


@public(methods=("slogdet",))
def slogdet(input):
    """Sign and log absolute value of the determinant; see torch.slogdet."""
    return slogdet_op.function(input)


@public(methods=("logdet",))
def logdet(input):
    """Log determinant (nan for negative determinants); see torch.logdet."""
    sign, logabsdet = slogdet_op.function(input)
    from .pointwise import where

    return where(sign < 0, float("nan"), logabsdet)


def _is_vector_rhs(A, B) -> bool:
    return B.ndim == 1 or (B.ndim == A.ndim - 1 and B.shape == A.shape[:-1])


def _solve(xp, A, B, *, left=True):
    _check_square("linalg.solve", A)
    _check_float("linalg.solve", B)
    _same_dtype(A, B, "linalg.solve: Expected A and B to have the same dtype, but found A of "
                "type {} and B of type {} instead")
    vector = _is_vector_rhs(A, B)
    if not left:
        if vector:
            raise RuntimeError("linalg.solve: Vector broadcasting of the left hand side is not "
                               "supported for left=False. In this case linalg.solve is "
                               "equivalent to B / A.squeeze(-1)")
        A, B = xp.swapaxes(A, -1, -2), xp.swapaxes(B, -1, -2)
    rhs = B[..., None] if vector else B
    if A.shape[-1] != rhs.shape[-2]:
        raise RuntimeError(f"linalg.solve: Incompatible shapes of A and B for the equation "
                           f"{'AX = B' if left else 'XA = B'} ({A.shape[-2]}x{A.shape[-1]} and "
                           f"{rhs.shape[-2]}x{rhs.shape[-1]})")
    batch = np.broadcast_shapes(A.shape[:-2], rhs.shape[:-2])
    try:
        result = xp.linalg.solve(xp.broadcast_to(A, batch + A.shape[-2:]),
                                 xp.broadcast_to(rhs, batch + rhs.shape[-2:]))
    except np.linalg.LinAlgError:
        raise LinAlgError("torch.linalg.solve: The solver failed because the input matrix is "
                          "singular.") from None
    if vector:
        return result[..., 0]
    return result if left else xp.swapaxes(result, -1, -2)


def _solve_rule(grad, A, B, result, left):
    if left:
        # X = A^-1 B: gB = A^-T gX, gA = -gB X^T.
        grad_B = solve(A.mT, grad)
        if _is_vector_rhs(A, B):
            return -grad_B.unsqueeze(-1) * result.unsqueeze(-2), grad_B
        return -matmul(grad_B, result.mT), grad_B
    # X = B A^-1: gB = gX A^-T, gA = -X^T gB.
    grad_B = solve(A.mT, grad, left=False)
    return -matmul(result.mT, grad_B), grad_B


solve_op = defop(
    _solve, name="solve", node="LinalgSolveExBackward0", inputs=2, function=False,
    backward=_solve_rule,
    samples=[Sample(((3, 3), (3, 2))), Sample(((3, 3), (3,))),
             Sample(((2, 3, 3), (3, 2))), Sample(((3, 3), (2, 3)), kwargs={"left": False})])


def solve(A, B, *, left=True):
    """Solve A X = B (or X A = B with left=False); see torch.linalg.solve."""
    return solve_op.function(A, B, left=left)


# --- Cholesky -------------------------------------------------------------------------------
def _cholesky(xp, A, upper=False):
    _check_square("linalg.cholesky", A)
    try:
        lower = xp.linalg.cholesky(A)
    except np.linalg.LinAlgError:
        raise LinAlgError("linalg.cholesky: The factorization could not be completed because the "
                          "input is not positive-definite.") from None
    return xp.swapaxes(lower, -1, -2).copy() if upper else lower


def _cholesky_rule(grad, result, upper):
    # A = L L^T: with P = Phi(L^T gL) (lower part, half diagonal),
    # gA = sym(L^-T P L^-1).
    lower = result.mT if upper else result
    grad_lower = grad.mT if upper else grad
    size = lower.shape[-1]
    mask = np.tril(np.ones((size, size)), -1) + 0.5 * np.eye(size)
    phi = matmul(lower.mT, grad_lower) * wrap(mask.astype(lower._data.dtype))
    inner = solve(lower, solve(lower.mT, phi), left=False)  # L^-T P L^-1
    return 0.5 * (inner + inner.mT)


linalg_cholesky_op = defop(
    _cholesky, name="linalg_cholesky", node="LinalgCholeskyExBackward0", function=False,
    grads={"A": _cholesky_rule},
    samples=[Sample(((3, 3),)), Sample(((2, 3, 3),), kwargs={"upper": True})])


def _cholesky_legacy(xp, input, upper=False):
    return _cholesky(xp, input, upper)


cholesky_op = defop(
    _cholesky_legacy, name="cholesky", node="CholeskyBackward0", function=False,
    grads={"input": lambda grad, result, upper: _cholesky_rule(grad, result, upper)},
    samples=[Sample(((3, 3),)), Sample(((3, 3),), args=(True,))])


def cholesky_linalg(A, *, upper=False):
    """See torch.linalg.cholesky."""
    return linalg_cholesky_op.function(A, upper)


@public(methods=("cholesky",))
def cholesky(input, upper=False):
    """See torch.cholesky (deprecated in PyTorch in favour of torch.linalg.cholesky)."""
    return cholesky_op.function(input, upper)


# --- QR -------------------------------------------------------------------------------------
QRResult = _return_type("linalg_qr", ("Q", "R"))


def _qr(xp, A, mode="reduced"):
    if mode not in ("reduced", "complete", "r"):
        raise RuntimeError(f"qr received unrecognized mode '{mode}' but expected one of "
                           f"'reduced' (default), 'r', or 'complete'")
    _check_matrix("linalg.qr", A)
    q, r = xp.linalg.qr(A, mode="complete" if mode == "complete" else "reduced")
    if mode == "r":
        q = xp.zeros((0,), A.dtype)
    return q.astype(A.dtype, copy=False), r.astype(A.dtype, copy=False)


def _copy_lower_to_upper(matrix):
    size = matrix.shape[-1]
    lower = wrap(np.tril(np.ones((size, size)), -1).astype(matrix._data.dtype))
    strict = matrix * lower
    return strict + strict.mT + matrix * _eye_like(matrix)


def _qr_tall_rule(grad_Q, grad_R, Q, R):
    # A = QR with Q m x n, R n x n (m >= n): M = R gR^T - gQ^T Q,
    # gA = (gQ + Q copyltu(M)) R^-T.
    M = matmul(R, grad_R.mT) - matmul(grad_Q.mT, Q)
    return solve(R.mT, grad_Q + matmul(Q, _copy_lower_to_upper(M)), left=False)


def _qr_rule(grads, A, results, mode):
    if mode == "r":
        raise RuntimeError("The derivative of linalg.qr depends on Q, which is not computed when "
                           "mode='r'. Please use linalg.qr(A, mode='reduced') if you are going to "
                           "differentiate through linalg.qr.")
    grad_Q, grad_R = grads
    Q, R = results
    m, n = A.shape[-2], A.shape[-1]
    if mode == "complete" and m > n:
        raise NotImplementedError("The QR decomposition is not differentiable when mode='complete'"
                                  " and nrows > ncols.")
    if m >= n:
        return (_qr_tall_rule(grad_Q, grad_R, Q, R),)
    # Wide A = [X | Y]: Q R_X = X, R_Y = Q^T Y.
    Y = A[..., :, m:]
    grad_RX, grad_RY = grad_R[..., :, :m], grad_R[..., :, m:]
    grad_X = _qr_tall_rule(grad_Q + matmul(Y, grad_RY.mT), grad_RX, Q, R[..., :, :m])
    return (_concat_last(grad_X, matmul(Q, grad_RY)),)


def _concat_last(first, second):
    """[first | second] along the last dim, differentiably (products with selection matrices)."""
    a, b = first.shape[-1], second.shape[-1]
    dtype = first._data.dtype
    place_first = np.zeros((a, a + b), dtype)
    place_first[:, :a] = np.eye(a)
    place_second = np.zeros((b, a + b), dtype)
    place_second[:, a:] = np.eye(b)
    return matmul(first, wrap(place_first)) + matmul(second, wrap(place_second))


qr_op = defop(_qr, name="qr", node="LinalgQrBackward0", outputs=2, function=False,
              backward=_qr_rule,
              samples=[Sample(((4, 3),)), Sample(((3, 3),)), Sample(((2, 4),)),
                       Sample(((2, 3, 2),))])
qr_op.wrap_outputs = lambda results: QRResult(*results)


def qr(A, mode="reduced"):
    """QR decomposition; see torch.linalg.qr."""
    return qr_op.function(A, mode)


# --- symmetric eigendecomposition -----------------------------------------------------------
EighResult = _return_type("linalg_eigh", ("eigenvalues", "eigenvectors"))


def _eigh(xp, A, UPLO="L"):
    if UPLO not in ("L", "U"):
        raise RuntimeError(f"Expected UPLO argument to be 'L' or 'U', but got {UPLO}")
    _check_square("linalg.eigh", A)
    values, vectors = xp.linalg.eigh(A, UPLO=UPLO)
    return values.astype(A.dtype, copy=False), vectors.astype(A.dtype, copy=False)


def _eigh_rule(grads, results):
    # A = V diag(L) V^T: gA = V (diag(gL) + (V^T gV) / E) V^T with E_ij = L_j - L_i
    # (off the diagonal; the diagonal of V^T gV does not contribute).
    grad_values, grad_vectors = grads
    values, vectors = results
    inner = _diag_embed(grad_values)
    if not _is_zero(grad_vectors):
        gaps = values.unsqueeze(-2) - values.unsqueeze(-1)
        off = 1 - _eye_like(gaps)
        safe = gaps + _eye_like(gaps)
        inner = inner + matmul(vectors.mT, grad_vectors) * off / safe
    return (matmul(matmul(vectors, inner), vectors.mT),)


eigh_op = defop(_eigh, name="eigh", node="LinalgEighBackward0", outputs=2, function=False,
                backward=_eigh_rule,
                samples=[Sample(((3, 3),)), Sample(((2, 3, 3),), args=("U",))])
eigh_op.wrap_outputs = lambda results: EighResult(*results)


def eigh(A, UPLO="L"):
    """Eigenvalues (ascending) and eigenvectors of symmetric matrices; see torch.linalg.eigh."""
    return eigh_op.function(A, UPLO)


def eigvalsh(A, UPLO="L"):
    """See torch.linalg.eigvalsh."""
    return eigh_op.function(A, UPLO)[0]


# --- singular value decomposition -----------------------------------------------------------
SVDResult = _return_type("linalg_svd", ("U", "S", "Vh"))


def _svd(xp, A, full_matrices=True):
    _check_matrix("linalg.svd", A)
    u, s, vh = xp.linalg.svd(A, full_matrices=full_matrices)
    return u.astype(A.dtype, copy=False), s.astype(A.dtype, copy=False), vh.astype(
        A.dtype, copy=False)


def _svd_rule(grads, A, results, full_matrices):
    grad_U, grad_S, grad_Vh = grads
    U, S, Vh = results
    m, n = A.shape[-2], A.shape[-1]
    k = min(m, n)
    if full_matrices and m != n and (grad_U is not None or grad_Vh is not None):
        raise NotImplementedError("torch.linalg.svd: Computing the derivative of U or Vh with "
                                  "full_matrices=True is not implemented for non-square "
                                  "matrices. Use full_matrices=False.")
    if full_matrices:
        U, Vh = U[..., :, :k], Vh[..., :k, :]
        grad_U = None if grad_U is None else grad_U[..., :, :k]
        grad_Vh = None if grad_Vh is None else grad_Vh[..., :k, :]
    if _is_zero(grad_U) and _is_zero(grad_Vh):
        return (matmul(U * grad_S.unsqueeze(-2), Vh),)
    V = Vh.mT
    grad_V = grad_Vh.mT
    # E_ij = S_j^2 - S_i^2 off the diagonal (1 on it, never used there).
    squares = S * S
    eye_k = _identity(k, S)
    gaps = squares.unsqueeze(-2) - squares.unsqueeze(-1) + eye_k
    UtgU = matmul(U.mT, grad_U)
    VtgV = matmul(V.mT, grad_V)
    skew_U = (UtgU - UtgU.mT) * (1 - eye_k) / gaps
    skew_V = (VtgV - VtgV.mT) * (1 - eye_k) / gaps
    inner = skew_U * S.unsqueeze(-2) + S.unsqueeze(-1) * skew_V + _diag_embed(grad_S)
    result = matmul(matmul(U, inner), Vh)
    if m > k:
        # The part of gU outside the span of U.
        outside = grad_U - matmul(U, UtgU)
        result = result + matmul(outside / S.unsqueeze(-2), Vh)
    if n > k:
        outside = grad_V - matmul(V, VtgV)
        result = result + matmul(U / S.unsqueeze(-2), outside.mT)
    return (result,)


svd_op = defop(_svd, name="svd", node="LinalgSvdBackward0", outputs=3, function=False,
               backward=_svd_rule,
               samples=[Sample(((4, 3),), kwargs={"full_matrices": False}),
                        Sample(((3, 4),), kwargs={"full_matrices": False}),
                        Sample(((3, 3),)), Sample(((2, 3, 2),), kwargs={"full_matrices": False})])
svd_op.wrap_outputs = lambda results: SVDResult(*results)


def svd(A, full_matrices=True):
    """Singular value decomposition A = U diag(S) Vh; see torch.linalg.svd."""
    return svd_op.function(A, full_matrices=full_matrices)


def svdvals(A):
    """Singular values, descending; see torch.linalg.svdvals."""
    return svd_op.function(A, full_matrices=False)[1]


TorchSVDResult = _return_type("svd", ("U", "S", "V"))


@public(methods=("svd",), function="svd")
def svd_legacy(input, some=True, compute_uv=True):
    """U, S, V with V (not V^H); see torch.svd."""
    U, S, Vh = svd_op.function(input, full_matrices=not some)
    if not compute_uv:
        from .._creation import zeros_like

        return TorchSVDResult(zeros_like(U), S, zeros_like(Vh.mT))
    return TorchSVDResult(U, S, Vh.mT)


# --- pseudo-inverse and least squares -------------------------------------------------------
def _pinv(xp, A, *, atol=None, rtol=None, hermitian=False):
    _check_matrix("linalg.pinv", A)
    m, n = A.shape[-2], A.shape[-1]
    if A.size == 0:
        return xp.zeros(A.shape[:-2] + (n, m), A.dtype)
    u, s, vh = xp.linalg.svd(A, full_matrices=False)
    largest = s[..., :1] if s.shape[-1] else s
    if rtol is None:
        rtol = 0.0 if atol is not None and atol > 0 else np.finfo(A.dtype).eps * max(m, n)
    cutoff = xp.maximum(atol or 0.0, rtol * largest)
    keep = s > cutoff
    inverse = xp.where(keep, 1.0 / xp.where(keep, s, 1.0), 0.0)
    result = xp.matmul(xp.swapaxes(vh, -1, -2) * inverse[..., None, :], xp.swapaxes(u, -1, -2))
    return result.astype(A.dtype, copy=False)


def _pinv_rule(grad, A, result):
    # dP = -P dA P + P P^T dA^T (I - A P) + (I - P A) dA^T P^T P (Golub and Pereyra), whose
    # transpose applied to grad is below.
    P = result
    left = _identity(A.shape[-2], A) - matmul(A, P)  # I - A P  (m x m)
    right = _identity(A.shape[-1], A) - matmul(P, A)  # I - P A  (n x n)
    return (-matmul(matmul(P.mT, grad), P.mT)
            + matmul(matmul(left, grad.mT), matmul(P, P.mT))
            + matmul(matmul(P.mT, P), matmul(grad.mT, right)))


def _identity(size: int, like):
    from .._creation import eye

    return eye(size, dtype=like.dtype)


pinv_op = defop(_pinv, name="pinv", node="LinalgPinvBackward0", function=False,
                grads={"A": _pinv_rule},
                samples=[Sample(((4, 3),)), Sample(((3, 4),)), Sample(((2, 3, 3),))])


def pinv(A, *, atol=None, rtol=None, hermitian=False):
    """Moore-Penrose pseudo-inverse; see torch.linalg.pinv."""
    return pinv_op.function(A, atol=atol, rtol=rtol, hermitian=hermitian)


@public(methods=("pinverse",))
def pinverse(input, rcond=1e-15):
    """See torch.pinverse."""
    return pinv_op.function(input, rtol=rcond)


LstsqResult = _return_type("linalg_lstsq", ("solution", "residuals", "rank", "singular_values"))


def _lstsq(xp, A, B, rcond=None, *, driver=None):
    _check_matrix("linalg.lstsq", A)
    if driver not in (None, "gels", "gelsy", "gelsd", "gelss"):
        raise RuntimeError("torch.linalg.lstsq: parameter `driver` should be one of (gels, gelsy, "
                           "gelsd, gelss)")
    vector = B.ndim == A.ndim - 1
    rhs = B[..., None] if vector else B
    if A.shape[-2] != rhs.shape[-2]:
        raise RuntimeError("torch.linalg.lstsq: input.size(-2) should match other.size(-2)")
    m, n = A.shape[-2], A.shape[-1]
    u, s, vh = xp.linalg.svd(A, full_matrices=False)
    if rcond is None:
        rcond = np.finfo(A.dtype).eps * max(m, n)
    keep = s > rcond * s[..., :1]
    inverse = xp.where(keep, 1.0 / xp.where(keep, s, 1.0), 0.0)
    pseudo = xp.matmul(xp.swapaxes(vh, -1, -2) * inverse[..., None, :], xp.swapaxes(u, -1, -2))
    solution = xp.matmul(pseudo, rhs).astype(A.dtype, copy=False)
    rank = xp.asarray(keep.sum(-1), dtype=np.int64)
    driver = driver or "gelsy"
    full_rank = bool(xp.all(rank == min(m, n)))
    if m > n and driver != "gelsy" and full_rank:
        residuals = ((xp.matmul(A, solution) - rhs) ** 2).sum(-2).astype(A.dtype, copy=False)
    else:
        residuals = xp.zeros((0,), A.dtype)
    values = s.astype(A.dtype) if driver in ("gelsd", "gelss") else xp.zeros((0,), A.dtype)
    if driver == "gels":
        rank = xp.zeros((0,), np.int64)
    if vector:
        solution = solution[..., 0]
    return solution, residuals, rank, values


def _lstsq_rule(grads, A, B):
    # solution = pinv(A) B; the gradient follows pinv's rule.
    grad = grads[0]
    P = pinv_op.function(A)
    vector = B.ndim == A.ndim - 1
    if vector:
        grad, B = grad.unsqueeze(-1), B.unsqueeze(-1)
    grad_B = matmul(P.mT, grad)
    grad_P = matmul(grad, B.mT)
    grad_A = _pinv_rule(grad_P, A, P)
    return grad_A, grad_B.squeeze(-1) if vector else grad_B


lstsq_op = defop(_lstsq, name="lstsq", node="LinalgLstsqBackward0", inputs=2, outputs=4,
                 differentiable_outputs=(0, 1), function=False, backward=_lstsq_rule,
                 samples=[Sample(((4, 3), (4, 2))), Sample(((3, 3), (3, 1)))])
lstsq_op.wrap_outputs = lambda results: LstsqResult(*results)


def lstsq(A, B, rcond=None, *, driver=None):
    """Least-squares solution of A X = B; see torch.linalg.lstsq."""
    return lstsq_op.function(A, B, rcond, driver=driver)


# --- matrix functions -----------------------------------------------------------------------
@public(methods=("matrix_power",))
def matrix_power(input, n):
    """input multiplied by itself ``n`` times (inverse first for n < 0); see
    torch.linalg.matrix_power."""
    array = input._data
    if array.ndim < 2:
        raise RuntimeError("linalg.matrix_power: The input tensor A must have at least 2 "
                           "dimensions.")
    if array.shape[-1] != array.shape[-2]:
        raise RuntimeError(f"linalg.matrix_power: A must be batches of square matrices, but they "
                           f"are {array.shape[-2]} by {array.shape[-1]} matrices")
    if not isinstance(n, int):
        raise TypeError(f"matrix_power(): argument 'n' must be int, not {type(n).__name__}")
    if n == 0:
        from .._creation import eye

        identity = eye(array.shape[-1], dtype=input.dtype).expand(*input.shape).clone()
        if not input.requires_grad:
            return identity
        # As PyTorch: the identity copied into a tensor shaped like input (CopyBackwards).
        return input.clone().copy_(identity)
    if n < 0:
        input = inv(input)
        if n == -1:
            return input
        n = -n
    if n == 1:
        return input.clone()
    if n == 3:  # PyTorch's special case: (A A) A
        return matmul(matmul(input, input), input)
    # Binary powering: the same products (and rounding) as repeated squaring.
    result = None
    base = input
    while n:
        if n & 1:
            result = base if result is None else matmul(result, base)
        n >>= 1
        if n:
            base = matmul(base, base)
    return result


_PADE13 = (64764752532480000.0, 32382376266240000.0, 7771770303897600.0, 1187353796428800.0,
           129060195264000.0, 10559470521600.0, 670442572800.0, 33522128640.0, 1323241920.0,
           40840800.0, 960960.0, 16380.0, 182.0, 1.0)


def _matrix_exp(xp, A):
    _check_square("linalg.matrix_exp", A)
    if A.size == 0:
        return A.copy()
    work = A.astype(np.float64)
    norm = float(xp.max(xp.sum(xp.abs(work), axis=-2)))
    # Scaling and squaring with a degree-13 Pade approximant (Higham 2005).
    squarings = max(0, int(math.ceil(math.log2(norm / 5.371920351148152)))) if norm else 0
    work = work / 2.0 ** squarings
    b = _PADE13
    identity = xp.broadcast_to(xp.eye(A.shape[-1]), work.shape)
    A2 = work @ work
    A4 = A2 @ A2
    A6 = A4 @ A2
    U = work @ (A6 @ (b[13] * A6 + b[11] * A4 + b[9] * A2)
                + b[7] * A6 + b[5] * A4 + b[3] * A2 + b[1] * identity)
    V = A6 @ (b[12] * A6 + b[10] * A4 + b[8] * A2) + b[6] * A6 + b[4] * A4 + b[2] * A2 \
        + b[0] * identity
    result = xp.linalg.solve(V - U, V + U)
    for _ in range(squarings):
        result = result @ result
    return result.astype(A.dtype)


def _matrix_exp_rule(grad, A):
    # The Frechet derivative's adjoint: the top-right block of exp([[A^T, g], [0, A^T]]).
    size = A.shape[-1]
    dtype = A._data.dtype
    top = np.zeros((2 * size, size), dtype)
    top[:size] = np.eye(size)
    bottom = np.zeros((2 * size, size), dtype)
    bottom[size:] = np.eye(size)
    top, bottom = wrap(top), wrap(bottom)
    block = (matmul(matmul(top, A.mT), top.mT) + matmul(matmul(bottom, A.mT), bottom.mT)
             + matmul(matmul(top, grad), bottom.mT))
    return matmul(matmul(top.mT, matrix_exp_op.function(block)), bottom)


matrix_exp_op = defop(_matrix_exp, name="matrix_exp", node="LinalgMatrixExpBackward0",
                      methods=("matrix_exp",), grads={"A": _matrix_exp_rule},
                      samples=[Sample(((3, 3),)), Sample(((2, 2, 2),), domain=(-1.0, 1.0))])


def matrix_exp(A):
    """Matrix exponential; see torch.linalg.matrix_exp."""
    return matrix_exp_op.function(A)


# --- norms ----------------------------------------------------------------------------------
def _tapegrad_function(name: str):
    import tapegrad

    return getattr(tapegrad, name)


def matrix_norm(A, ord="fro", dim=(-2, -1), keepdim=False, *, dtype=None):
    """Matrix norms: 'fro', 'nuc', 1, -1, 2, -2, inf, -inf; see torch.linalg.matrix_norm."""
    from .reduction import vector_norm

    if A.ndim < 2:
        raise RuntimeError("linalg.matrix_norm: The input tensor A must have at least 2 "
                           "dimensions.")
    _check_float("linalg.matrix_norm", A._data)
    if dtype is not None:
        A = A.to(dtype)
    dim = (dim,) if isinstance(dim, int) else tuple(dim)
    if len(dim) != 2:
        raise RuntimeError(f"linalg.matrix_norm: dim must be a 2-tuple. Got "
                           f"{' '.join(str(d) for d in dim)}")
    dims = tuple(normalize_dim(d, A.ndim) for d in dim)
    if dims[0] == dims[1]:
        raise RuntimeError(f"linalg.matrix_norm: dims must be different. Got {dims}")
    if ord == "fro":
        return vector_norm(A, 2, dim, keepdim)
    inf = float("inf")
    if ord in ("nuc", 2, -2):
        # Singular values of the matrices moved to the last two dims, reduced over the last
        # dim; with keepdim the reduced dims come back and the permutation is undone.
        rest = [d for d in range(A.ndim) if d not in dims]
        order = rest + list(dims)
        values = svdvals(A.permute(*order))
        if ord == "nuc":
            result = values.sum(-1, keepdim=keepdim)
        else:
            result = _tapegrad_function("amax" if ord == 2 else "amin")(values, -1, keepdim)
        if keepdim:
            result = result.unsqueeze(-1).permute(*[order.index(d) for d in range(A.ndim)])
        return result
    if ord in (1, -1, inf, -inf):
        # 1: largest column sum (abs values summed over dim 0 of each matrix); inf: largest
        # row sum. The sums are 1-norms of vectors, as PyTorch computes them.
        summed, reduced = dims if ord in (1, -1) else dims[::-1]
        if not keepdim and summed < reduced:
            reduced -= 1
        sums = vector_norm(A, 1.0, (summed,), keepdim)
        return _tapegrad_function("amax" if ord > 0 else "amin")(sums, (reduced,), keepdim)
    raise RuntimeError(f"linalg.matrix_norm: Order {ord} not supported.")


def norm(A, ord=None, dim=None, keepdim=False, *, dtype=None):
    """Vector or matrix norm by ``ord`` and ``dim``; see torch.linalg.norm."""
    from .reduction import vector_norm

    if isinstance(dim, int):
        dim = (dim,)
    if ord is None:
        return vector_norm(A, 2, dim, keepdim, dtype=dtype)
    if dim is None:
        if A.ndim == 1:
            return vector_norm(A, ord, None, keepdim, dtype=dtype)
        if A.ndim == 2:
            return matrix_norm(A, ord, (-2, -1), keepdim, dtype=dtype)
        raise RuntimeError(f"linalg.norm: If dim is not specified but ord is, the input must be "
                           f"1D or 2D. Got {A.ndim}D.")
    if len(dim) == 1:
        if isinstance(ord, str):
            raise RuntimeError(f"linalg.vector_norm: Expected a scalar ord but got '{ord}'")
        return vector_norm(A, ord, dim, keepdim, dtype=dtype)
    return matrix_norm(A, ord, dim, keepdim, dtype=dtype)


def vecdot(x, y, *, dim=-1):
    """Dot product of vectors along ``dim``; see torch.linalg.vecdot."""
    return (x * y).sum(dim)
