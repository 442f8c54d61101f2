"""Tensor: a NumPy array plus what autograd needs (requires_grad, grad, grad_fn, version)."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from . import _dtype
from . import autograd as _autograd
from ._dtype import DEFAULTS, FROM_NUMPY
from .autograd.graph import AccumulateGrad, RemovableHandle, add_hook

_new = object.__new__


class Size(tuple):
    """The shape of a tensor; a tuple that prints as ``torch.Size([2, 3])``."""

    def __repr__(self) -> str:
        return f"torch.Size({list(self)})"

    __str__ = __repr__

    def numel(self) -> int:
        result = 1
        for size in self:
            result *= size
        return result


class device:
    """A device name; only 'cpu' is backed by arrays here (CuPy would back 'cuda')."""

    __slots__ = ("type", "index")

    def __init__(self, type: str | device = "cpu", index: int | None = None) -> None:  # noqa: A002
        if isinstance(type, device):
            type, index = type.type, type.index
        name, _, number = str(type).partition(":")
        self.type = name
        self.index = int(number) if number else index

    def __repr__(self) -> str:
        return f"device(type='{self.type}')" if self.index is None else (
            f"device(type='{self.type}', index={self.index})")

    def __str__(self) -> str:
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, str):
            other = device(other)
        return isinstance(other, device) and (self.type, self.index) == (other.type, other.index)

    def __hash__(self) -> int:
        return hash((self.type, self.index))


CPU = device("cpu")


def check_device(value: Any) -> None:
    """Reject devices this build cannot run on, with PyTorch's kind of error."""
    if value is None:
        return
    name = value.type if isinstance(value, device) else str(value).partition(":")[0]
    if name != "cpu":
        raise RuntimeError(
            f"Device '{value}' is not available: tapegrad runs on NumPy arrays on the CPU"
        )


NON_LEAF_GRAD_WARNING = (
    "The .grad attribute of a Tensor that is not a leaf Tensor is being accessed. Its .grad "
    "attribute won't be populated during autograd.backward(). If you indeed want the .grad field "
    "to be populated for a non-leaf Tensor, use .retain_grad() on the non-leaf Tensor. If you "
    "access the non-leaf Tensor by mistake, make sure you access the leaf Tensor instead."
)


class Tensor:
    """A multi-dimensional array that records the operations done on it; see torch.Tensor."""

    # Hot attributes live in slots; rare ones (hooks, retain_grad) are class defaults that an
    # instance overrides in its __dict__ only when used.
    __slots__ = ("_data", "_requires_grad", "grad_fn", "_output_nr", "_grad", "_version_counter",
                 "_base", "__dict__", "__weakref__")

    _hooks: dict | None = None
    _post_accumulate_hooks: dict | None = None
    _accumulator: AccumulateGrad | None = None
    _retains_grad = False
    _is_param = False
    _inference = False  # made inside inference_mode (set in the instance dict)
    __array_priority__ = 1000  # numpy defers to our reflected operators

    def __init__(self, *args: Any, dtype: Any = None, device: Any = None) -> None:
        # torch.Tensor(data) or torch.Tensor(*sizes): legacy constructor, default float dtype.
        check_device(device)
        target = _dtype.as_dtype(dtype) if dtype is not None else DEFAULTS.value
        if len(args) == 1 and not isinstance(args[0], (int, np.integer)):
            source = args[0]
            array = np.array(source._data if isinstance(source, Tensor) else source,
                             dtype=target.numpy)
        else:
            array = np.zeros(tuple(int(a) for a in args), dtype=target.numpy)
        init_tensor(self, array)

    # --- basic properties -------------------------------------------------------------------
    @property
    def dtype(self) -> _dtype.dtype:
        return FROM_NUMPY[self._data.dtype]

    @property
    def shape(self) -> Size:
        return Size(self._data.shape)

    @property
    def device(self) -> device:
        return CPU

    @property
    def is_cuda(self) -> bool:
        return False

    @property
    def ndim(self) -> int:
        return self._data.ndim

    @property
    def is_leaf(self) -> bool:
        return self.grad_fn is None

    @property
    def output_nr(self) -> int:
        return self._output_nr

    @property
    def requires_grad(self) -> bool:
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value: bool) -> None:
        if self.grad_fn is not None:
            message = "you can only change requires_grad flags of leaf variables."
            if not value:
                message += (" If you want to use a computed variable in a subgraph that doesn't "
                            "require differentiation use var_no_grad = var.detach().")
            raise RuntimeError(message)
        if value and self._data.dtype.kind not in "fc":
            raise RuntimeError("only Tensors of floating point dtype can require gradients")
        if value and self._inference:
            from .autograd.grad_mode import STATE

            if not STATE.inference:
                raise RuntimeError("Setting requires_grad=True on inference tensor outside "
                                   "InferenceMode is not allowed.")
        self._requires_grad = bool(value)

    @property
    def grad(self) -> Tensor | None:
        if self.grad_fn is not None and not self._retains_grad and self._grad is None:
            warnings.warn(NON_LEAF_GRAD_WARNING, UserWarning, stacklevel=2)
        return self._grad

    @grad.setter
    def grad(self, value: Tensor | None) -> None:
        if value is not None:
            if not isinstance(value, Tensor):
                raise TypeError(f"assigned grad expected to be a Tensor or None but got grad of "
                                f"type {type(value).__name__}")
            if value.dtype is not self.dtype:
                raise RuntimeError("assigned grad has data of a different type")
            if value._data.shape != self._data.shape:
                raise RuntimeError("assigned grad has data of a different size")
        self._grad = value

    @grad.deleter
    def grad(self) -> None:
        self._grad = None

    @property
    def data(self) -> Tensor:
        """The same storage, detached from the graph, with its own version counter."""
        result = wrap(self._data)
        result._requires_grad = False
        return result

    @data.setter
    def data(self, value: Tensor) -> None:
        if not isinstance(value, Tensor):
            raise TypeError(f"data must be a Tensor, not {type(value).__name__}")
        self._data = value._data

    @property
    def _version(self) -> int:
        counter = self._version_counter
        return 0 if counter is None else counter[0]

    @property
    def retains_grad(self) -> bool:
        return self._retains_grad

    @property
    def is_sparse(self) -> bool:
        return False

    @property
    def layout(self) -> str:
        return "torch.strided"

    @property
    def itemsize(self) -> int:
        return self._data.itemsize

    @property
    def nbytes(self) -> int:
        return self._data.nbytes

    # --- sizes and conversion --------------------------------------------------------------
    def size(self, dim: int | None = None) -> Size | int:
        """See torch.Tensor.size."""
        if dim is None:
            return Size(self._data.shape)
        return self._data.shape[normalize_dim(dim, self._data.ndim)]

    def dim(self) -> int:
        return self._data.ndim

    ndimension = dim

    def numel(self) -> int:
        return int(self._data.size)

    nelement = numel

    def element_size(self) -> int:
        return self._data.itemsize

    def stride(self, dim: int | None = None) -> tuple[int, ...] | int:
        strides = tuple(s // self._data.itemsize for s in self._data.strides)
        return strides if dim is None else strides[normalize_dim(dim, self._data.ndim)]

    def is_contiguous(self, memory_format: Any = None) -> bool:
        return bool(self._data.flags.c_contiguous)

    def is_floating_point(self) -> bool:
        return self._data.dtype.kind == "f"

    def is_complex(self) -> bool:
        return self._data.dtype.kind == "c"

    def data_ptr(self) -> int:
        return int(self._data.__array_interface__["data"][0])

    def untyped_storage(self) -> Any:
        base = self._data
        while isinstance(base.base, np.ndarray):
            base = base.base
        return base

    def item(self) -> Any:
        """The value of a one-element tensor as a Python number."""
        if self._data.size != 1:
            raise RuntimeError(
                f"a Tensor with {self._data.size} elements cannot be converted to Scalar")
        return self._data.item() if self._data.ndim == 0 else self._data.reshape(()).item()

    def tolist(self) -> Any:
        return self._data.tolist()

    def numpy(self, *, force: bool = False) -> np.ndarray:
        """The underlying array (shared memory), as torch.Tensor.numpy."""
        if self._requires_grad and not force:
            raise RuntimeError("Can't call numpy() on Tensor that requires grad. Use "
                               "tensor.detach().numpy() instead.")
        return self._data

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        return self._data if dtype is None else self._data.astype(dtype)

    def __len__(self) -> int:
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    def __iter__(self) -> Iterator[Tensor]:
        if self._data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return iter(self.unbind(0))

    def _to_python_scalar(self, kind: Callable) -> Any:
        if self._data.size != 1:
            raise RuntimeError(
                f"a Tensor with {self._data.size} elements cannot be converted to Scalar")
        return kind(self._data.reshape(()).item())

    def __bool__(self) -> bool:
        if self._data.size != 1:
            raise RuntimeError("Boolean value of Tensor with more than one value is ambiguous")
        return bool(self._data.reshape(()).item())

    def __float__(self) -> float:
        return self._to_python_scalar(float)

    def __int__(self) -> int:
        return self._to_python_scalar(int)

    def __complex__(self) -> complex:
        return self._to_python_scalar(complex)

    def __index__(self) -> int:
        if self._data.dtype.kind not in "iub" or self._data.size != 1:
            raise TypeError("only integer tensors of a single element can be converted to an "
                            "index")
        return int(self._data.reshape(()).item())

    def __hash__(self) -> int:
        return id(self)

    def __repr__(self, *, tensor_contents: str | None = None) -> str:
        from ._printing import tensor_repr

        return tensor_repr(self)

    def __format__(self, spec: str) -> str:
        if self._data.ndim == 0:
            return self._data.item().__format__(spec)
        return object.__format__(self, spec)

    def __reduce_ex__(self, protocol: int) -> Any:
        return (_rebuild, (self._data.copy(), self._requires_grad))

    def __deepcopy__(self, memo: dict) -> Tensor:
        if self.grad_fn is not None:
            raise RuntimeError("Only Tensors created explicitly by the user (graph leaves) "
                               "support the deepcopy protocol at the moment.")
        result = type(self).__new__(type(self))
        init_tensor(result, self._data.copy())
        result._requires_grad = self._requires_grad
        if self._grad is not None:
            result._grad = self._grad.__deepcopy__(memo)
        memo[id(self)] = result
        return result

    # --- autograd ----------------------------------------------------------------------------
    def backward(self, gradient: Tensor | None = None, retain_graph: bool | None = None,
                 create_graph: bool = False, inputs: Any = None) -> None:
        """Accumulate d(self)/d(leaf) into each leaf's .grad; see torch.Tensor.backward."""
        _autograd.backward(self, gradient, retain_graph, create_graph, inputs=inputs)

    def detach(self) -> Tensor:
        """A tensor sharing storage and version counter, cut from the graph."""
        result = wrap(self._data)
        result._version_counter = self.version_counter()
        return result

    def detach_(self) -> Tensor:
        if self._base is not None and self._base.requires_grad:
            raise RuntimeError("Can't detach views in-place. Use detach() instead.")
        self.grad_fn = None
        self._requires_grad = False
        self._output_nr = 0
        return self

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Set requires_grad in place (leaves only); see torch.Tensor.requires_grad_."""
        self.requires_grad = requires_grad
        return self

    def is_inference(self) -> bool:
        """Was this tensor made inside inference_mode; see torch.Tensor.is_inference."""
        return self._inference

    def retain_grad(self) -> None:
        """Keep .grad for this non-leaf tensor after backward."""
        if not self._requires_grad:
            raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
        if self.grad_fn is None or self._retains_grad:
            return
        self._retains_grad = True
        node = self.grad_fn
        if node._retain_grad_hooks is None:
            node._retain_grad_hooks = {}
            node._hooked = True
        node._retain_grad_hooks[self._output_nr] = self

    def register_hook(self, hook: Callable) -> RemovableHandle:
        """``hook(grad)`` runs when this tensor's gradient is computed; it may return a new one."""
        if not self._requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        node = self.grad_fn
        if node is None:
            if self._hooks is None:
                self._hooks = {}
            return add_hook(self._hooks, hook)
        if node._tensor_prehooks is None:
            node._tensor_prehooks = {}
            node._hooked = True
        hooks = node._tensor_prehooks.setdefault(self._output_nr, {})
        return add_hook(hooks, hook)

    def register_post_accumulate_grad_hook(self, hook: Callable) -> RemovableHandle:
        """``hook(tensor)`` runs after the gradient is accumulated into this leaf's .grad."""
        if not self._requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        if self.grad_fn is not None:
            raise RuntimeError("post accumulate grad hooks cannot be registered on non-leaf "
                               "tensors")
        if self._post_accumulate_hooks is None:
            self._post_accumulate_hooks = {}
        return add_hook(self._post_accumulate_hooks, hook)

    # --- internals -----------------------------------------------------------------------------
    def version_counter(self) -> list:
        """The counter shared by this tensor and its views (made on first need)."""
        counter = self._version_counter
        if counter is None:
            counter = self._version_counter = [0]
        return counter

    def _bump_version(self) -> None:
        counter = self._version_counter
        if counter is not None:
            counter[0] += 1
        else:
            self._version_counter = [1]

    def grad_accumulator(self) -> AccumulateGrad:
        """The AccumulateGrad node of this leaf (one per tensor, so edges compare equal)."""
        node = self._accumulator
        if node is None:
            node = self._accumulator = AccumulateGrad(self)
        return node

    def type(self, dtype: Any = None) -> Any:
        if dtype is None:
            return "torch." + _LEGACY_NAMES.get(self.dtype.name, "Tensor")
        if isinstance(dtype, str):
            name = dtype.rsplit(".", 1)[-1]
            for key, value in _LEGACY_NAMES.items():
                if value == name:
                    return self.to(getattr(_dtype, key))
            raise ValueError(f"invalid type: '{dtype}'")
        return self.to(dtype)

    def cpu(self) -> Tensor:
        return self

    def cuda(self, *args: Any, **kwargs: Any) -> Tensor:
        raise RuntimeError("Torch not compiled with CUDA enabled")


_LEGACY_NAMES = {"float32": "FloatTensor", "float64": "DoubleTensor", "float16": "HalfTensor",
                 "int64": "LongTensor", "int32": "IntTensor", "int16": "ShortTensor",
                 "int8": "CharTensor", "uint8": "ByteTensor", "bool": "BoolTensor"}


def init_tensor(tensor: Tensor, array: np.ndarray) -> None:
    tensor._data = array
    tensor._requires_grad = False
    tensor.grad_fn = None
    tensor._output_nr = 0
    tensor._grad = None
    tensor._version_counter = None
    tensor._base = None


# The slots wrap sets besides _data, with their values: generated code that makes tensors
# inline (the engine's NumPy-rule applies) writes these out. A test keeps the two in step.
WRAPPED_FIELDS = (("_requires_grad", False), ("grad_fn", None), ("_output_nr", 0),
                  ("_grad", None), ("_version_counter", None), ("_base", None))


def wrap(array: np.ndarray) -> Tensor:
    """Make a leaf tensor around an array without copying (the hot path's constructor)."""
    tensor = _new(Tensor)
    tensor._data = array
    tensor._requires_grad = False
    tensor.grad_fn = None
    tensor._output_nr = 0
    tensor._grad = None
    tensor._version_counter = None
    tensor._base = None
    return tensor


def _rebuild(array: np.ndarray, requires_grad: bool) -> Tensor:
    tensor = wrap(array)
    tensor._requires_grad = requires_grad
    return tensor


def result_view(node: Any, index: int, array: np.ndarray) -> Tensor:
    """A saved output, re-attached to the node that made it (so double backward sees it)."""
    tensor = wrap(array)
    tensor.grad_fn = node
    tensor._output_nr = index
    tensor._requires_grad = True
    return tensor


def normalize_dim(dim: int, ndim: int) -> int:
    """Wrap a negative dim; IndexError with PyTorch's message when out of range."""
    low, high = (-1, 0) if ndim == 0 else (-ndim, ndim - 1)
    if not low <= dim <= high:
        raise IndexError(f"Dimension out of range (expected to be in range of [{low}, {high}], "
                         f"but got {dim})")
    return dim + ndim if dim < 0 else dim if ndim else 0


def _register_with_graph() -> None:
    """Hand the autograd package (imported before this module) what it needs from here."""
    from . import autograd
    from .autograd import engine, graph

    graph._result_view = result_view
    autograd._Tensor, autograd._wrap = Tensor, wrap
    engine._wrap = wrap


_register_with_graph()
