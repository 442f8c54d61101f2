"""repr/str of tensors, character for character as PyTorch prints them."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from . import _dtype


class PrintOptions:
    """The options set_printoptions changes (a plain class: dataclasses costs 2 ms to import)."""

    __slots__ = ("precision", "threshold", "edgeitems", "linewidth", "sci_mode")

    def __init__(self) -> None:
        self.precision: int = 4
        self.threshold: float = 1000
        self.edgeitems: int = 3
        self.linewidth: int = 80
        self.sci_mode: bool | None = None


OPTIONS = PrintOptions()
_PROFILES = {
    "default": dict(precision=4, threshold=1000, edgeitems=3, linewidth=80),
    "short": dict(precision=2, threshold=1000, edgeitems=2, linewidth=80),
    "full": dict(precision=4, threshold=math.inf, edgeitems=3, linewidth=80),
}


def set_printoptions(precision: int | None = None, threshold: float | None = None,
                     edgeitems: int | None = None, linewidth: int | None = None,
                     profile: str | None = None, sci_mode: bool | None = None) -> None:
    """See torch.set_printoptions."""
    if profile is not None:
        for key, value in _PROFILES[profile].items():
            setattr(OPTIONS, key, value)
    for key, value in (("precision", precision), ("threshold", threshold),
                       ("edgeitems", edgeitems), ("linewidth", linewidth)):
        if value is not None:
            setattr(OPTIONS, key, value)
    OPTIONS.sci_mode = sci_mode


def get_printoptions() -> dict[str, Any]:
    return {name: getattr(OPTIONS, name) for name in PrintOptions.__slots__}


class _Formatter:
    """Chooses integer, fixed or scientific notation and a common width, from the values."""

    def __init__(self, values: np.ndarray) -> None:
        self.floating = values.dtype.kind == "f"
        self.int_mode = True
        self.sci_mode = False
        self.width = 1
        flat = values.reshape(-1)
        if not self.floating:
            for value in flat.tolist():
                self.width = max(self.width, len(str(value)))
            return
        finite = flat[np.isfinite(flat) & (flat != 0)]
        if finite.size == 0:
            return
        magnitudes = np.abs(finite.astype(np.float64))
        smallest, largest = float(magnitudes.min()), float(magnitudes.max())
        python_values = finite.tolist()
        self.int_mode = bool(np.all(finite == np.ceil(finite)))
        precision = OPTIONS.precision
        if OPTIONS.sci_mode is None:
            self.sci_mode = largest / smallest > 1000.0 or largest > 1.0e8 or smallest < 1.0e-4
        else:
            self.sci_mode = OPTIONS.sci_mode
        for value in python_values:
            if self.sci_mode:
                text = f"{value:.{precision}e}"
            elif self.int_mode:
                text = f"{value:.0f}."  # the trailing dot marks a float tensor
            else:
                text = f"{value:.{precision}f}"
            self.width = max(self.width, len(text))

    def format(self, value: Any) -> str:
        precision = OPTIONS.precision
        if self.floating:
            if self.sci_mode:
                text = f"{value:{self.width}.{precision}e}"
            elif self.int_mode:
                text = f"{value:.0f}"
                if not (math.isinf(value) or math.isnan(value)):
                    text += "."
            else:
                text = f"{value:.{precision}f}"
        else:
            text = str(value)
        return " " * (self.width - len(text)) + text


def _summarized(values: np.ndarray) -> np.ndarray:
    """Only the edge items of each dim (what a summarized print shows), for the formatter."""
    edge = OPTIONS.edgeitems
    if values.ndim == 0:
        return values
    if values.ndim == 1:
        if values.shape[0] > 2 * edge:
            return np.concatenate((values[:edge], values[-edge:]))
        return values
    if values.shape[0] > 2 * edge:
        rows = [values[i] for i in range(edge)] + [values[i] for i in
                                                   range(len(values) - edge, len(values))]
    else:
        rows = list(values)
    return np.stack([_summarized(row) for row in rows])


def _vector(values: np.ndarray, indent: int, summarize: bool, formatter: _Formatter) -> str:
    element_length = formatter.width + 2
    per_line = max(1, int(math.floor((OPTIONS.linewidth - indent) / element_length)))
    edge = OPTIONS.edgeitems
    if summarize and values.shape[0] > 2 * edge:
        items = ([formatter.format(v) for v in values[:edge].tolist()] + [" ..."]
                 + [formatter.format(v) for v in values[-edge:].tolist()])
    else:
        items = [formatter.format(v) for v in values.tolist()]
    lines = [", ".join(items[i:i + per_line]) for i in range(0, len(items), per_line)]
    return "[" + ("," + "\n" + " " * (indent + 1)).join(lines) + "]"


def _nested(values: np.ndarray, indent: int, summarize: bool, formatter: _Formatter) -> str:
    ndim = values.ndim
    if ndim == 0:
        return formatter.format(values.item())
    if ndim == 1:
        return _vector(values, indent, summarize, formatter)
    edge = OPTIONS.edgeitems
    if summarize and values.shape[0] > 2 * edge:
        parts = ([_nested(values[i], indent + 1, summarize, formatter) for i in range(edge)]
                 + ["..."]
                 + [_nested(values[i], indent + 1, summarize, formatter)
                    for i in range(len(values) - edge, len(values))])
    else:
        parts = [_nested(values[i], indent + 1, summarize, formatter)
                 for i in range(values.shape[0])]
    return "[" + ("," + "\n" * (ndim - 1) + " " * (indent + 1)).join(parts) + "]"


def _complex_body(values: np.ndarray, indent: int, summarize: bool) -> str:
    # Real and imaginary parts get a formatter each, as PyTorch does.
    sample = _summarized(values) if summarize else values
    real_formatter = _Formatter(sample.real)
    imag_formatter = _Formatter(sample.imag)

    def render(array: np.ndarray, indent: int) -> str:
        if array.ndim == 0:
            real = real_formatter.format(float(array.real))
            imag = (imag_formatter.format(float(array.imag)) + "j").lstrip()
            return real + imag if imag[0] in "+-" else real + "+" + imag
        if array.ndim == 1:
            per_item = real_formatter.width + imag_formatter.width + 3
            per_line = max(1, int(math.floor((OPTIONS.linewidth - indent) / per_item)))
            items = [render(v, indent) for v in array]
            lines = [", ".join(items[i:i + per_line]) for i in range(0, len(items), per_line)]
            return "[" + ("," + "\n" + " " * (indent + 1)).join(lines) + "]"
        parts = [render(array[i], indent + 1) for i in range(array.shape[0])]
        return "[" + ("," + "\n" * (array.ndim - 1) + " " * (indent + 1)).join(parts) + "]"

    return render(values, indent)


def tensor_body(values: np.ndarray, indent: int) -> str:
    """The bracketed numbers of a tensor, as PyTorch's _tensor_str."""
    if values.size == 0:
        return "[]"
    summarize = values.size > OPTIONS.threshold
    if values.dtype == np.float16:
        values = values.astype(np.float32)
    if values.dtype.kind == "c":
        return _complex_body(values, indent, summarize)
    formatter = _Formatter(_summarized(values) if summarize else values)
    return _nested(values, indent, summarize, formatter)


def _add_suffixes(text: str, suffixes: list[str], indent: int) -> str:
    pieces = [text]
    last_line_length = len(text) - text.rfind("\n") + 1
    for suffix in suffixes:
        if last_line_length + len(suffix) + 2 > OPTIONS.linewidth:
            pieces.append(",\n" + " " * indent + suffix)
            last_line_length = indent + len(suffix)
        else:
            pieces.append(", " + suffix)
            last_line_length += len(suffix) + 2
    pieces.append(")")
    return "".join(pieces)


def tensor_repr(tensor: Any) -> str:
    """``tensor([...], dtype=..., requires_grad=True)`` exactly as torch prints it."""
    from .nn.parameter import Parameter

    is_parameter = isinstance(tensor, Parameter)
    plain = type(tensor).__name__ in ("Tensor", "Parameter") or is_parameter
    prefix = "tensor(" if plain else f"{type(tensor).__name__}("
    indent = len(prefix)
    values = tensor._data
    dtype = _dtype.FROM_NUMPY[values.dtype]
    default = _dtype.DEFAULTS.value
    default_complex = _dtype.complex128 if default is _dtype.float64 else _dtype.complex64
    has_default_dtype = dtype in (default, default_complex, _dtype.int64, _dtype.bool)
    suffixes = []
    if values.size == 0:
        if values.ndim != 1:
            suffixes.append("size=" + str(tuple(values.shape)))
        if dtype is not default:
            suffixes.append("dtype=" + repr(dtype))
        body = "[]"
    else:
        if not has_default_dtype:
            suffixes.append("dtype=" + repr(dtype))
        body = tensor_body(values, indent)
    if tensor.grad_fn is not None:
        suffixes.append(f"grad_fn=<{type(tensor.grad_fn).__name__}>")
    elif tensor._requires_grad:
        suffixes.append("requires_grad=True")
    tangent = getattr(tensor, "_tangent", None)
    if tangent is not None:
        suffixes.append(f"tangent={tangent!r}")
    text = _add_suffixes(prefix + body, suffixes, indent)
    if is_parameter:
        text = f"Parameter containing:\n{text}"
    return text
