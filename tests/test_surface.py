"""The op surface the project promises (issue 3's list), checked name by name.

Every listed name must exist in tapegrad wherever PyTorch has it (function, Tensor method and
in-place ``_`` variant), and must be exercised against PyTorch: either it is a primitive with
samples in the op table (tests/test_ops.py runs those), or it is a composite with at least one
call below, which is compared with PyTorch for values, dtypes, shapes, gradients and grad_fn
names, and checked against finite differences (gradcheck and gradgradcheck, fast mode).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch

import tapegrad

from .helpers import as_numpy, assert_close, rng_for
from .op_db import OP_DB

F = "nn.functional."

SURFACE: dict[str, str] = {
    "pointwise unary": """neg abs sign sgn exp exp2 expm1 log log2 log10 log1p sqrt rsqrt square
        reciprocal sin cos tan asin acos atan sinh cosh tanh asinh acosh atanh erf erfc erfinv
        sigmoid logit floor ceil round trunc frac nan_to_num clamp clip lgamma digamma""",
    "pointwise binary": """add sub mul div true_divide floor_divide remainder fmod pow atan2
        maximum minimum fmax fmin hypot lerp addcmul addcdiv where xlogy copysign eq ne lt le gt
        ge isclose allclose equal isnan isinf isfinite logical_and logical_or logical_xor
        logical_not bitwise_and bitwise_or bitwise_xor bitwise_not""",
    "activations": " ".join(F + name for name in """relu relu6 leaky_relu elu selu celu gelu silu
        mish softplus softsign hardtanh hardsigmoid hardswish logsigmoid tanhshrink threshold glu
        softmax log_softmax softmin""".split()),
    "reductions": """sum nansum mean nanmean prod max min amax amin aminmax argmax argmin var std
        var_mean std_mean norm linalg.vector_norm linalg.matrix_norm logsumexp cumsum cumprod
        cummax cummin all any count_nonzero median mode sort argsort topk kthvalue unique""",
    "shape and movement": """reshape view view_as flatten unflatten squeeze unsqueeze transpose
        swapaxes permute movedim T mT t expand expand_as broadcast_to broadcast_tensors repeat
        repeat_interleave tile flip fliplr flipud roll rot90 cat concat stack hstack vstack dstack
        split chunk tensor_split unbind narrow select diag diagonal diag_embed tril triu trace
        clone contiguous meshgrid nn.functional.pad""",
    "indexing": """__getitem__ __setitem__ gather scatter scatter_add scatter_reduce index_select
        index_add index_copy index_fill masked_fill masked_select masked_scatter take
        take_along_dim nonzero argwhere""",
    "linear algebra": """matmul mm bmm mv dot vdot outer inner addmm addmv baddbmm einsum tensordot
        kron cross linalg.inv det linalg.det slogdet linalg.slogdet linalg.solve linalg.cholesky
        linalg.qr linalg.eigh linalg.svd linalg.pinv linalg.lstsq linalg.matrix_power
        linalg.matrix_exp""",
    "neural-net functionals": " ".join(F + name for name in """linear bilinear conv1d conv2d
        conv_transpose2d max_pool1d max_pool2d avg_pool1d avg_pool2d adaptive_avg_pool2d
        adaptive_max_pool2d interpolate dropout embedding one_hot layer_norm batch_norm group_norm
        instance_norm normalize cosine_similarity pairwise_distance scaled_dot_product_attention
        mse_loss l1_loss smooth_l1_loss huber_loss cross_entropy nll_loss binary_cross_entropy
        binary_cross_entropy_with_logits kl_div margin_ranking_loss hinge_embedding_loss
        cosine_embedding_loss triplet_margin_loss poisson_nll_loss gaussian_nll_loss""".split())
    + " cdist",
}
NAMES = [name for text in SURFACE.values() for name in text.split()]


# --- composite calls --------------------------------------------------------------------------
# A spec is a shape (uniform floats in [-2, 2] that require grad), or a function of a generator
# returning an array (float arrays require grad unless wrapped in _constant).
def _integers(high: int, *shape: int) -> Callable[[np.random.Generator], np.ndarray]:
    return lambda rng: rng.integers(0, high, shape).astype(np.int64)


def _positive(*shape: int) -> Callable[[np.random.Generator], np.ndarray]:
    return lambda rng: rng.uniform(0.2, 2.0, shape)


def _probabilities(*shape: int) -> Callable[[np.random.Generator], np.ndarray]:
    return lambda rng: rng.uniform(0.05, 0.95, shape)


def _distribution(*shape: int) -> Callable[[np.random.Generator], np.ndarray]:
    def make(rng):
        values = rng.uniform(0.1, 1.0, shape)
        return values / values.sum(-1, keepdims=True)
    return make


def _spd(size: int) -> Callable[[np.random.Generator], np.ndarray]:
    def make(rng):
        a = rng.uniform(-1, 1, (size, size))
        return a @ a.T + size * np.eye(size)
    return make


def _constant(make: Callable[[np.random.Generator], np.ndarray]) -> Callable:
    """An input that does not require grad (PyTorch refuses a gradient for it)."""
    def constant(rng):
        return make(rng).view(_Constant)
    return constant


class _Constant(np.ndarray):
    """Marks an array that becomes a tensor without requires_grad."""


def _signs(*shape: int) -> Callable[[np.random.Generator], np.ndarray]:
    return lambda rng: np.where(rng.random(shape) > 0.5, 1.0, -1.0)


def _setitem(lib, x, value):
    y = x * 1
    y[0, 1:3] = value
    y[lib.tensor([2, 0]), 0] = 5.0
    return y


def _reconstructed(svd):
    """U diag(S) Vh: the part of an SVD that does not depend on the singular vectors' signs."""
    return (svd.U * svd.S.unsqueeze(-2)) @ svd.Vh


CALLS: dict[str, list[tuple[Callable[..., Any], tuple]]] = {
    "sgn": [(lambda lib, x: lib.sgn(x), ((3, 4),))],
    "square": [(lambda lib, x: x.square(), ((3, 4),))],
    "clip": [(lambda lib, x: lib.clip(x, -0.5, 0.7), ((3, 4),)),
             (lambda lib, x, low: x.clip(min=low), ((3, 4), (4,)))],
    "true_divide": [(lambda lib, x, y: lib.true_divide(x, y), ((3, 4), _positive(4)))],
    "where": [(lambda lib, x, y: lib.where(x > 0, x, y), ((3, 4), (4,))),
              (lambda lib, x: lib.where(x > 0, x, 0.5), ((3, 4),))],
    "allclose": [(lambda lib, x: lib.tensor(lib.allclose(x, x + 1e-9)), ((3,),))],
    "equal": [(lambda lib, x: lib.tensor(lib.equal(x, x.clone())), ((3,),))],
    F + "relu": [(lambda lib, x: lib.nn.functional.relu(x), ((3, 4),))],
    F + "relu6": [(lambda lib, x: lib.nn.functional.relu6(x * 4), ((3, 4),))],
    F + "elu": [(lambda lib, x: lib.nn.functional.elu(x, 0.7), ((3, 4),))],
    F + "selu": [(lambda lib, x: lib.nn.functional.selu(x), ((3, 4),))],
    F + "celu": [(lambda lib, x: lib.nn.functional.celu(x, 1.3), ((3, 4),))],
    F + "gelu": [(lambda lib, x: lib.nn.functional.gelu(x), ((3, 4),)),
                 (lambda lib, x: lib.nn.functional.gelu(x, approximate="tanh"), ((3, 4),))],
    F + "softsign": [(lambda lib, x: lib.nn.functional.softsign(x), ((3, 4),))],
    F + "tanhshrink": [(lambda lib, x: lib.nn.functional.tanhshrink(x), ((3, 4),))],
    F + "softmin": [(lambda lib, x: lib.nn.functional.softmin(x, dim=1), ((3, 4),))],
    "nanmean": [(lambda lib, x: lib.nanmean(x, 1), ((3, 4),))],
    "var": [(lambda lib, x: x.var(1), ((3, 4),)),
            (lambda lib, x: lib.var(x, (0, 1), correction=0, keepdim=True), ((3, 4),))],
    "std": [(lambda lib, x: x.std(), ((3, 4),)),
            (lambda lib, x: lib.std(x, 0, unbiased=False), ((3, 4),))],
    "var_mean": [(lambda lib, x: lib.var_mean(x, 1), ((3, 4),))],
    "std_mean": [(lambda lib, x: lib.std_mean(x, 0, correction=2), ((5, 4),))],
    "norm": [(lambda lib, x: x.norm(), ((3, 4),)), (lambda lib, x: lib.norm(x, 1, 1), ((3, 4),))],
    "linalg.matrix_norm": [(lambda lib, x: lib.linalg.matrix_norm(x), ((2, 3, 4),)),
                           (lambda lib, x: lib.linalg.matrix_norm(x, 1), ((3, 4),))],
    "argsort": [(lambda lib, x: x.argsort(1), ((3, 4),))],
    # unique has no derivative in PyTorch (its backward raises), so it gets a constant.
    "unique": [(lambda lib, x: lib.unique(x.detach().round()), ((3, 4),)),
               (lambda lib, x: lib.unique(x.detach().round(), return_counts=True), ((3, 4),))],
    "reshape": [(lambda lib, x: x.reshape(2, -1), ((3, 4),)),
                (lambda lib, x: lib.reshape(x.t(), (12,)), ((3, 4),))],
    "view_as": [(lambda lib, x, y: x.view_as(y), ((3, 4), (4, 3)))],
    "flatten": [(lambda lib, x: x.flatten(), ((2, 3, 4),)),
                (lambda lib, x: lib.flatten(x, 1), ((2, 3, 4),))],
    "unflatten": [(lambda lib, x: x.unflatten(1, (2, 2)), ((3, 4),))],
    "swapaxes": [(lambda lib, x: lib.swapaxes(x, 0, 2), ((2, 3, 4),))],
    "movedim": [(lambda lib, x: lib.movedim(x, 0, -1), ((2, 3, 4),))],
    "T": [(lambda lib, x: x.T, ((3, 4),))],
    "mT": [(lambda lib, x: x.mT, ((2, 3, 4),))],
    "expand_as": [(lambda lib, x, y: x.expand_as(y), ((1, 4), (3, 4)))],
    "broadcast_to": [(lambda lib, x: lib.broadcast_to(x, (2, 3, 4)), ((3, 1),))],
    "broadcast_tensors": [(lambda lib, x, y: lib.broadcast_tensors(x, y), ((3, 1), (4,)))],
    "repeat_interleave": [(lambda lib, x: x.repeat_interleave(2, dim=1), ((3, 4),)),
                          (lambda lib, x: lib.repeat_interleave(x, lib.tensor([1, 0, 2]), 0),
                           ((3, 4),))],
    "tile": [(lambda lib, x: lib.tile(x, (2, 1)), ((3, 4),))],
    "fliplr": [(lambda lib, x: lib.fliplr(x), ((3, 4),))],
    "flipud": [(lambda lib, x: x.flipud(), ((3, 4),))],
    "cat": [(lambda lib, x, y: lib.cat([x, y], 1), ((3, 4), (3, 2)))],
    "concat": [(lambda lib, x, y: lib.concat((x, y)), ((3, 4), (1, 4)))],
    "stack": [(lambda lib, x, y: lib.stack([x, y], 1), ((3, 4), (3, 4)))],
    "hstack": [(lambda lib, x, y: lib.hstack([x, y]), ((3, 4), (3, 2)))],
    "vstack": [(lambda lib, x, y: lib.vstack([x, y]), ((4,), (2, 4)))],
    "dstack": [(lambda lib, x, y: lib.dstack([x, y]), ((3, 4), (3, 4)))],
    "split": [(lambda lib, x: x.split(2, 1), ((3, 5),)),
              (lambda lib, x: lib.split(x, [1, 2], 0), ((3, 5),))],
    "chunk": [(lambda lib, x: x.chunk(3, 1), ((3, 5),))],
    "tensor_split": [(lambda lib, x: lib.tensor_split(x, 3, 1), ((3, 5),)),
                     (lambda lib, x: x.tensor_split([1, 4], 1), ((3, 5),))],
    "narrow": [(lambda lib, x: x.narrow(1, 1, 2), ((3, 4),))],
    "diag": [(lambda lib, x: lib.diag(x), ((3, 4),)), (lambda lib, x: x.diag(1), ((3,),))],
    "contiguous": [(lambda lib, x: x.t().contiguous(), ((3, 4),))],
    "meshgrid": [(lambda lib, x, y: lib.meshgrid(x, y, indexing="ij"), ((3,), (4,))),
                 (lambda lib, x, y: lib.meshgrid(x, y, indexing="xy"), ((3,), (4,)))],
    F + "pad": [(lambda lib, x: lib.nn.functional.pad(x, (1, 2)), ((2, 3, 4),)),
                (lambda lib, x: lib.nn.functional.pad(x, (1, 1), mode="reflect"), ((2, 3, 4),)),
                (lambda lib, x: lib.nn.functional.pad(x, (1, 2, 2, 1), mode="replicate"),
                 ((1, 2, 3, 4),)),
                (lambda lib, x: lib.nn.functional.pad(x, (2, 1), mode="circular"), ((2, 3, 4),))],
    "__getitem__": [(lambda lib, x: x[1:, ::2], ((3, 4),)),
                    (lambda lib, x: x[lib.tensor([0, 2, 0])], ((3, 4),)),
                    (lambda lib, x: x[x > 0], ((3, 4),)),
                    (lambda lib, x: x[None, ..., -1], ((3, 4),))],
    "__setitem__": [(_setitem, ((3, 4), (2,)))],
    "scatter": [(lambda lib, x, y, i: x.scatter(1, i, y), ((3, 4), (3, 2), _integers(4, 3, 2)))],
    "scatter_add": [(lambda lib, x, y, i: lib.scatter_add(x, 1, i, y),
                     ((3, 4), (3, 2), _integers(4, 3, 2)))],
    "scatter_reduce": [(lambda lib, x, y, i: x.scatter_reduce(1, i, y, "amax"),
                        ((3, 4), (3, 2), _integers(4, 3, 2)))],
    "index_add": [(lambda lib, x, y: x.index_add(0, lib.tensor([2, 0, 2]), y, alpha=2.0),
                   ((3, 4), (3, 4)))],
    "index_copy": [(lambda lib, x, y: x.index_copy(1, lib.tensor([3, 0]), y), ((3, 4), (3, 2)))],
    "masked_scatter": [(lambda lib, x, y: x.masked_scatter(x > 0, y), ((3, 4), (3, 4)))],
    "take_along_dim": [(lambda lib, x, i: lib.take_along_dim(x, i, 1),
                        ((3, 4), _integers(4, 3, 2)))],
    "argwhere": [(lambda lib, x: lib.argwhere(x > 0), ((3, 4),))],
    "outer": [(lambda lib, x, y: lib.outer(x, y), ((3,), (4,)))],
    "inner": [(lambda lib, x, y: lib.inner(x, y), ((2, 4), (3, 4)))],
    "einsum": [(lambda lib, x, y: lib.einsum("ij,jk->ik", x, y), ((2, 3), (3, 4))),
               (lambda lib, x: lib.einsum("ii->i", x), ((3, 3),)),
               (lambda lib, x, y: lib.einsum("bij,bjk->bik", x, y), ((2, 2, 3), (2, 3, 2)))],
    "tensordot": [(lambda lib, x, y: lib.tensordot(x, y, dims=1), ((2, 3), (3, 4)))],
    "kron": [(lambda lib, x, y: lib.kron(x, y), ((2, 3), (2, 2)))],
    "cross": [(lambda lib, x, y: lib.linalg.cross(x, y), ((4, 3), (4, 3))),
              (lambda lib, x, y: lib.cross(x, y, dim=1), ((4, 3), (4, 3)))],
    "linalg.inv": [(lambda lib, a: lib.linalg.inv(a), (_spd(3),))],
    "det": [(lambda lib, a: lib.det(a), (_spd(3),))],
    "slogdet": [(lambda lib, a: lib.slogdet(a), (_spd(3),))],
    "linalg.slogdet": [(lambda lib, a: lib.linalg.slogdet(a), (_spd(3),))],
    "linalg.solve": [(lambda lib, a, b: lib.linalg.solve(a, b), (_spd(3), (3, 2)))],
    # Symmetric-input functions read one triangle; symmetrising first keeps finite
    # differences meaningful.
    "linalg.cholesky": [(lambda lib, a: lib.linalg.cholesky((a + a.mT) / 2), (_spd(3),))],
    "linalg.eigh": [(lambda lib, a: lib.linalg.eigh((a + a.mT) / 2)[0], (_spd(3),)),
                    (lambda lib, a: lib.linalg.eigh((a + a.mT) / 2).eigenvectors.abs(),
                     (_spd(3),))],
    "linalg.svd": [(lambda lib, a: lib.linalg.svd(a, full_matrices=False).S, ((3, 4),)),
                   (lambda lib, a: _reconstructed(lib.linalg.svd(a, full_matrices=False)),
                    ((4, 3),))],
    "linalg.matrix_power": [(lambda lib, a: lib.linalg.matrix_power(a, 3), ((3, 3),)),
                            (lambda lib, a: lib.linalg.matrix_power(a, -2), (_spd(3),))],
    F + "linear": [(lambda lib, x, w, b: lib.nn.functional.linear(x, w, b),
                    ((5, 3), (4, 3), (4,)))],
    F + "bilinear": [(lambda lib, x, y, w: lib.nn.functional.bilinear(x, y, w),
                      ((5, 3), (5, 2), (4, 3, 2)))],
    F + "conv1d": [(lambda lib, x, w: lib.nn.functional.conv1d(x, w, padding=1, stride=2),
                    ((2, 3, 7), (4, 3, 3)))],
    F + "conv2d": [(lambda lib, x, w, b: lib.nn.functional.conv2d(x, w, b, dilation=2, padding=1),
                    ((2, 2, 6, 6), (4, 2, 3, 3), (4,))),
                   (lambda lib, x, w: lib.nn.functional.conv2d(x, w, groups=2),
                    ((1, 4, 5, 5), (4, 2, 3, 3)))],
    F + "conv_transpose2d": [(lambda lib, x, w: lib.nn.functional.conv_transpose2d(
        x, w, stride=2, padding=1), ((1, 2, 4, 4), (2, 3, 3, 3)))],
    F + "max_pool1d": [(lambda lib, x: lib.nn.functional.max_pool1d(x, 2), ((2, 3, 8),))],
    F + "max_pool2d": [(lambda lib, x: lib.nn.functional.max_pool2d(x, 2, return_indices=True),
                        ((1, 2, 4, 6),))],
    F + "avg_pool1d": [(lambda lib, x: lib.nn.functional.avg_pool1d(x, 3, 2), ((2, 3, 8),))],
    F + "adaptive_max_pool2d": [(lambda lib, x: lib.nn.functional.adaptive_max_pool2d(x, 2),
                                 ((1, 2, 5, 4),))],
    F + "interpolate": [(lambda lib, x: lib.nn.functional.interpolate(x, scale_factor=2),
                         ((1, 2, 3, 3),)),
                        (lambda lib, x: lib.nn.functional.interpolate(
                            x, size=(5, 4), mode="bilinear", align_corners=False),
                         ((1, 2, 3, 3),))],
    F + "dropout": [(lambda lib, x: lib.nn.functional.dropout(x, 0.5, training=False), ((3, 4),)),
                    (lambda lib, x: lib.nn.functional.dropout(x, 0.0), ((3, 4),))],
    F + "embedding": [(lambda lib, i, w: lib.nn.functional.embedding(i, w),
                       (_integers(5, 2, 3), (5, 4)))],
    F + "one_hot": [(lambda lib, i: lib.nn.functional.one_hot(i, 5), (_integers(5, 2, 3),))],
    F + "layer_norm": [(lambda lib, x, w, b: lib.nn.functional.layer_norm(x, (4,), w, b),
                        ((3, 4), (4,), (4,)))],
    F + "batch_norm": [(lambda lib, x, w, b: lib.nn.functional.batch_norm(
        x, None, None, w, b, training=True), ((5, 3), (3,), (3,)))],
    F + "group_norm": [(lambda lib, x: lib.nn.functional.group_norm(x, 2), ((2, 4, 3),))],
    F + "instance_norm": [(lambda lib, x: lib.nn.functional.instance_norm(x), ((2, 3, 5),))],
    F + "normalize": [(lambda lib, x: lib.nn.functional.normalize(x, dim=1), ((3, 4),))],
    F + "cosine_similarity": [(lambda lib, x, y: lib.nn.functional.cosine_similarity(x, y),
                               ((3, 4), (3, 4)))],
    F + "pairwise_distance": [(lambda lib, x, y: lib.nn.functional.pairwise_distance(x, y),
                               ((3, 4), (3, 4)))],
    F + "mse_loss": [(lambda lib, x, y: lib.nn.functional.mse_loss(x, y), ((3, 4), (3, 4)))],
    F + "l1_loss": [(lambda lib, x, y: lib.nn.functional.l1_loss(x, y, reduction="sum"),
                     ((3, 4), (3, 4)))],
    F + "smooth_l1_loss": [(lambda lib, x, y: lib.nn.functional.smooth_l1_loss(x, y, beta=0.5),
                            ((3, 4), (3, 4)))],
    F + "huber_loss": [(lambda lib, x, y: lib.nn.functional.huber_loss(x, y, delta=0.7),
                        ((3, 4), (3, 4)))],
    F + "cross_entropy": [(lambda lib, x, t: lib.nn.functional.cross_entropy(x, t),
                           ((4, 3), _integers(3, 4))),
                          (lambda lib, x, t: lib.nn.functional.cross_entropy(
                              x, t, label_smoothing=0.1), ((4, 3), _distribution(4, 3)))],
    F + "nll_loss": [(lambda lib, x, t: lib.nn.functional.nll_loss(x, t, ignore_index=1),
                      ((4, 3), _integers(3, 4)))],
    F + "binary_cross_entropy": [(lambda lib, p, t: lib.nn.functional.binary_cross_entropy(p, t),
                                  (_probabilities(3, 4), _probabilities(3, 4)))],
    F + "binary_cross_entropy_with_logits": [
        (lambda lib, x, t, w: lib.nn.functional.binary_cross_entropy_with_logits(
            x, t, pos_weight=w), ((3, 4), _probabilities(3, 4), _constant(_positive(4))))],
    F + "kl_div": [(lambda lib, x, t: lib.nn.functional.kl_div(x, t, reduction="batchmean"),
                    ((3, 4), _distribution(3, 4)))],
    F + "margin_ranking_loss": [(lambda lib, x, y, t: lib.nn.functional.margin_ranking_loss(
        x, y, t, margin=0.2), ((5,), (5,), _signs(5)))],
    F + "hinge_embedding_loss": [(lambda lib, x, t: lib.nn.functional.hinge_embedding_loss(x, t),
                                  ((3, 4), _signs(3, 4)))],
    F + "cosine_embedding_loss": [(lambda lib, x, y, t: lib.nn.functional.cosine_embedding_loss(
        x, y, t), ((3, 4), (3, 4), _signs(3)))],
    F + "triplet_margin_loss": [(lambda lib, a, p, n: lib.nn.functional.triplet_margin_loss(
        a, p, n), ((3, 4), (3, 4), (3, 4)))],
    F + "poisson_nll_loss": [(lambda lib, x, t: lib.nn.functional.poisson_nll_loss(x, t),
                              ((3, 4), _positive(3, 4)))],
    F + "gaussian_nll_loss": [(lambda lib, x, t, v: lib.nn.functional.gaussian_nll_loss(x, t, v),
                               ((3, 4), (3, 4), _positive(3, 4)))],
}
CASES = [(name, index) for name, calls in sorted(CALLS.items()) for index in range(len(calls))]


# --- resolution -------------------------------------------------------------------------------
def _find(root: Any, path: str) -> Any:
    for part in path.split("."):
        root = getattr(root, part, None)
        if root is None:
            return None
    return root


def _primitive_calls() -> set[str]:
    """Names the op table's PyTorch references call ("add", "Tensor.expand" -> "expand")."""
    return {entry.call.removeprefix("Tensor.") for entry in OP_DB.values()
            if isinstance(entry.call, str)}


def test_surface_inventory():
    """Each name exists wherever PyTorch has it and is exercised against PyTorch."""
    primitives = _primitive_calls()
    problems = []
    for name in NAMES:
        leaf = name.rsplit(".", 1)[-1]
        if _find(torch, name) is not None and _find(tapegrad, name) is None:
            problems.append(f"tapegrad.{name} is missing")
        if "." not in name:
            for method in (leaf, leaf + "_"):
                if hasattr(torch.Tensor, method) and not hasattr(tapegrad.Tensor, method):
                    problems.append(f"Tensor.{method} is missing")
        if name not in primitives and name not in CALLS:
            problems.append(f"{name} has neither op-table samples nor a composite call here")
    assert not problems, "\n".join(problems)
    assert len(set(NAMES)) == len(NAMES), "a name is listed twice"
    print(f"\nop surface: {len(NAMES)} names, {len(CALLS)} composites with {len(CASES)} calls")


def test_every_composite_call_is_on_the_surface():
    assert not set(CALLS) - set(NAMES)


# --- comparison -------------------------------------------------------------------------------
def _arrays(name: str, index: int, specs: tuple) -> list[np.ndarray]:
    rng = rng_for("surface", name, index)
    return [spec(rng) if callable(spec) else rng.uniform(-2.0, 2.0, spec) for spec in specs]


def _inputs(lib: Any, arrays: list[np.ndarray]) -> list:
    tensors = []
    for array in arrays:
        tensor = lib.tensor(np.asarray(array))
        if array.dtype.kind == "f" and not isinstance(array, _Constant):
            tensor.requires_grad_(True)
        tensors.append(tensor)
    return tensors


def _tensors(output: Any) -> list:
    outputs = list(output) if isinstance(output, (tuple, list)) else [output]
    return [o for o in outputs if isinstance(o, (torch.Tensor, tapegrad.Tensor))]


@pytest.mark.parametrize("name,index", CASES)
def test_composite_matches_torch(name, index):
    call, specs = CALLS[name][index]
    arrays = _arrays(name, index, specs)
    runs = {}
    for lib in (tapegrad, torch):
        inputs = _inputs(lib, arrays)
        outputs = _tensors(call(lib, *inputs))
        sources = [t for t in inputs if t.requires_grad]
        differentiable = [o for o in outputs if o.requires_grad]
        grads: tuple = ()
        if differentiable and sources:
            rng = np.random.default_rng(index)
            cotangents = [lib.tensor(rng.standard_normal(tuple(o.shape))) for o in differentiable]
            grads = lib.autograd.grad(differentiable, sources, cotangents, allow_unused=True)
        runs[lib] = (outputs, grads)
    (ours, our_grads), (theirs, their_grads) = runs[tapegrad], runs[torch]
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        assert_close(a, b, what=f"{name}[{index}] forward")
        expected = None if b.grad_fn is None else b.grad_fn.name()
        actual = None if a.grad_fn is None else a.grad_fn.name()
        assert actual == expected, f"{name}[{index}]: grad_fn {actual} != {expected}"
    assert len(our_grads) == len(their_grads)
    for position, (a, b) in enumerate(zip(our_grads, their_grads)):
        if b is None:
            assert a is None or not as_numpy(a).any(), f"{name}[{index}] grad {position}"
        else:
            assert_close(a, b, 1e-7, 1e-6, f"{name}[{index}] grad {position}")


CHECKS = {"gradcheck": (tapegrad.autograd.gradcheck, 1e-5, 1e-4),
          "gradgradcheck": (tapegrad.autograd.gradgradcheck, 1e-4, 1e-3)}


@pytest.mark.parametrize("check", sorted(CHECKS))
@pytest.mark.parametrize("name,index", CASES)
def test_composite_passes_finite_difference_checks(name, index, check):
    call, specs = CALLS[name][index]
    inputs = _inputs(tapegrad, _arrays(name, index, specs))
    if not any(t.requires_grad for t in inputs):
        pytest.skip("no floating-point input")
    if not any(o.requires_grad for o in _tensors(call(tapegrad, *inputs))):
        pytest.skip("not differentiable: integer or boolean result")

    def function(*values):
        outputs = [o for o in _tensors(call(tapegrad, *values)) if o.requires_grad]
        return tuple(outputs) if len(outputs) > 1 else outputs[0]

    checker, atol, rtol = CHECKS[check]
    assert checker(function, tuple(inputs), eps=1e-6, atol=atol, rtol=rtol, fast_mode=True)
