"""Linear algebra: dot, mm, mv, bmm, matmul (every rank combination), outer."""

from __future__ import annotations

from .._dtype import FROM_NUMPY
from . import _samples as samples
from ._registry import defop, public

B = "bilinear"

_LEGACY = {"float32": "Float", "float64": "Double", "int64": "Long", "int32": "Int",
           "float16": "Half", "bool": "Bool"}


def _dtype_name(array) -> str:
    name = FROM_NUMPY[array.dtype].name
    return _LEGACY.get(name, name)


def _same_dtype(input, other, message: str) -> None:
    if input.dtype != other.dtype:
        raise RuntimeError(message.format(_dtype_name(input), _dtype_name(other)))


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
      samples=[samples.Sample(((5,), (5,)))])


def mm(xp, input, mat2):
    """Matrix product of two 2-D tensors; see torch.mm."""
    if input.ndim != 2:
        raise RuntimeError("self must be a matrix")
    if mat2.ndim != 2:
        raise RuntimeError("mat2 must be a matrix")
    if input.shape[1] != mat2.shape[0]:
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({input.shape[0]}x"
                           f"{input.shape[1]} and {mat2.shape[0]}x{mat2.shape[1]})")
    _same_dtype(input, mat2, "expected m1 and m2 to have the same dtype, but got: {} != {}")
    return xp.matmul(input, mat2)


defop(mm, node="MmBackward0", inputs=2, kind=B, methods=("mm",),
      grads={"input": lambda grad, mat2: grad.mm(mat2.t()),
             "mat2": lambda grad, input: input.t().mm(grad)},
      samples=[samples.Sample(((3, 4), (4, 2))), samples.Sample(((1, 3), (3, 1)))])


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
      samples=[samples.Sample(((3, 4), (4,)))])


def bmm(xp, input, mat2):
    """Batched matrix product of 3-D tensors; see torch.bmm."""
    if input.ndim != 3 or mat2.ndim != 3:
        raise RuntimeError("batch1 must be a 3D tensor" if input.ndim != 3 else
                           "batch2 must be a 3D tensor")
    if input.shape[0] != mat2.shape[0] or input.shape[2] != mat2.shape[1]:
        raise RuntimeError(f"Expected size for first two dimensions of batch2 tensor to be: "
                           f"[{input.shape[0]}, {input.shape[2]}] but got: [{mat2.shape[0]}, "
                           f"{mat2.shape[1]}].")
    _same_dtype(input, mat2, "expected scalar type {} but found {}")
    return xp.matmul(input, mat2)


defop(bmm, node="BmmBackward0", inputs=2, kind=B, methods=("bmm",),
      grads={"input": lambda grad, mat2: grad.bmm(mat2.transpose(1, 2)),
             "mat2": lambda grad, input: input.transpose(1, 2).bmm(grad)},
      samples=[samples.Sample(((2, 3, 4), (2, 4, 5)))])


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
    samples=[samples.Sample(((2, 3, 4), (4, 5))), samples.Sample(((2, 1, 3, 4), (3, 4, 2)))])


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
        return input.unsqueeze(0).mm(other).squeeze(0)
    if input_ndim == 2 and other_ndim == 2:
        return input.mm(other)
    if input_ndim == 1:
        return matmul_batched.function(input.unsqueeze(0), other).squeeze(-2)
    if other_ndim == 1:
        return matmul_batched.function(input, other.unsqueeze(-1)).squeeze(-1)
    return matmul_batched.function(input, other)


@public(methods=("__rmatmul__",), function=False)
def rmatmul(input, other):
    return matmul(other, input)


@public(methods=("outer", "ger"))
def outer(input, vec2):
    """Outer product of two vectors; see torch.outer."""
    return input.unsqueeze(1) * vec2
