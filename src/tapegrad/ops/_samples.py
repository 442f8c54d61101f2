"""Sample families: data describing the inputs each op is tested on (shapes, domains, params)."""

from __future__ import annotations

from typing import Any, NamedTuple


class Sample(NamedTuple):
    """One test call: tensor input shapes, extra arguments, and the value domain to draw from.

    A shape of ``None`` means a Python number instead of a tensor for that input.
    """

    shapes: tuple
    args: tuple = ()
    kwargs: dict = {}
    domain: tuple[float, float] = (-2.0, 2.0)
    integer: bool = False  # draw integer-valued tensors (for int dtype checks)
    error: bool = False  # bad input: must raise, with PyTorch's exception type

    def __repr__(self) -> str:
        extra = f", args={self.args}" if self.args else ""
        extra += f", kwargs={self.kwargs}" if self.kwargs else ""
        extra += ", error" if self.error else ""
        return f"Sample({self.shapes}{extra})"


SHAPES_UNARY = ((), (5,), (3, 4), (2, 3, 2))


def unary(domain: tuple[float, float] = (-2.0, 2.0), **kwargs: Any) -> list[Sample]:
    """Element-wise unary op: 0-d, vector, matrix and 3-d inputs."""
    return [Sample((shape,), kwargs=kwargs, domain=domain) for shape in SHAPES_UNARY]


BROADCAST_PAIRS = (
    ((3, 4), (3, 4)),
    ((3, 4), (4,)),
    ((3, 1), (1, 4)),
    ((), (3,)),
    ((2, 3, 4), (3, 1)),
    ((5,), ()),
)


def binary(domain: tuple[float, float] = (-2.0, 2.0), scalar: Any = 1.5,
           other_domain: tuple[float, float] | None = None,
           tensor_only: bool = False) -> list[Sample]:
    """Element-wise binary op: broadcasting pairs, plus a Python-number ``other`` (or, for
    ``tensor_only`` ops, a number refused with PyTorch's TypeError)."""
    samples = [Sample(pair, domain=domain) for pair in BROADCAST_PAIRS]
    if scalar is not None:
        samples.append(Sample(((3, 4), None), args=(), kwargs={"_scalar": scalar}, domain=domain))
    # Shapes that do not broadcast.
    samples.append(Sample(((3, 4), (5,)), domain=domain, error=True))
    samples.append(Sample(((2, 3, 4), (2, 1, 5)), domain=domain, error=True))
    if tensor_only:
        samples.append(Sample(((3, 4), None), kwargs={"_scalar": 1.5}, domain=domain,
                              error=True))
    return samples


def integer_error(*shapes: tuple, args: tuple = (), kwargs: dict | None = None) -> Sample:
    """Integer tensors given to an op that has no integer kernel (PyTorch raises)."""
    return Sample(shapes, args=args, kwargs=kwargs or {}, domain=(-3.0, 3.0), integer=True,
                  error=True)


def reduction(dims: bool = True) -> list[Sample]:
    """Full reduction, and with dim (negative, tuple) and keepdim where the op takes them."""
    samples = [Sample(((3, 4),)), Sample(((5,),)), Sample(((),))]
    if dims:
        samples += [
            Sample(((3, 4),), args=(0,)),
            Sample(((3, 4),), args=(-1,), kwargs={"keepdim": True}),
            Sample(((2, 3, 4),), args=((0, 2),)),
            Sample(((2, 3, 4),), args=(1,), kwargs={"keepdim": True}),
            Sample(((3, 4),), args=(2,), error=True),  # dim out of range
        ]
    return samples
