"""Line plots: a function with its autograd derivatives, and training curves (plotly or SVG)."""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from xml.sax.saxutils import escape

import numpy as np

from .._tensor import Tensor

COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b")
_PLOTLY_MISSING = ("interactive plots need plotly: pip install 'tapegrad[viz]' (or pass "
                   "backend='svg' for tapegrad's own SVG plot)")


def _plotly() -> Any:
    try:
        import plotly.graph_objects as go
    except ImportError as error:
        raise ImportError(_PLOTLY_MISSING) from error
    return go


def _have(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


class Plot:
    """Named (x, y) series with a title; renders with plotly when present, else as SVG."""

    def __init__(self, series: list[tuple[str, np.ndarray, np.ndarray]], title: str,
                 xlabel: str, ylabel: str, logy: bool = False, backend: str = "auto") -> None:
        if backend not in ("auto", "plotly", "svg"):
            raise ValueError(f"backend must be 'auto', 'plotly' or 'svg', got {backend!r}")
        if backend == "plotly":
            _plotly()
        elif backend == "auto":
            backend = "plotly" if _have("plotly") else "svg"
        self.series = series
        self.title = title
        self.xlabel = xlabel
        self.ylabel = ylabel
        self.logy = logy
        self.backend = backend

    @property
    def figure(self) -> Any:
        """A plotly Figure of the same data (needs plotly)."""
        go = _plotly()
        figure = go.Figure()
        for index, (name, x, y) in enumerate(self.series):
            figure.add_trace(go.Scatter(x=x, y=y, mode="lines", name=name,
                                        line={"color": COLORS[index % len(COLORS)]}))
        figure.update_layout(title=self.title, xaxis_title=self.xlabel,
                             yaxis_title=self.ylabel, template="plotly_white")
        if self.logy:
            figure.update_yaxes(type="log")
        return figure

    def to_svg(self) -> str:
        """tapegrad's own SVG line plot (no extra package)."""
        return svg_line_plot(self.series, self.title, self.xlabel, self.ylabel, self.logy)

    def to_html(self) -> str:
        """A self-contained page (plotly.js inlined when the backend is plotly)."""
        if self.backend == "plotly":
            return self.figure.to_html(include_plotlyjs=True, full_html=True)
        return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                f'<link rel="icon" href="data:,"><title>{escape(self.title)}</title></head>'
                f'<body style="margin:0;background:#fff">{self.to_svg()}</body></html>\n')

    def save(self, path: str | os.PathLike) -> str:
        """Write ``.html``, ``.svg`` or ``.png`` (PNG needs kaleido or matplotlib)."""
        path = os.fspath(path)
        extension = os.path.splitext(path)[1].lower()
        if extension in (".html", ".htm", ".svg"):
            text = self.to_svg() if extension == ".svg" else self.to_html()
            with open(path, "w", encoding="utf-8") as file:
                file.write(text)
        elif extension == ".png":
            self._save_png(path)
        else:
            raise ValueError(f"cannot save a plot as {extension!r}: use .html, .svg or .png")
        return path

    def _save_png(self, path: str) -> None:
        if _have("plotly") and _have("kaleido"):
            self.figure.write_image(path)
            return
        if _have("matplotlib"):
            import matplotlib

            matplotlib.use("Agg")
            import matplotlib.pyplot as plt

            figure, axes = plt.subplots(figsize=(7.2, 4.2))
            for index, (name, x, y) in enumerate(self.series):
                axes.plot(x, y, label=name, color=COLORS[index % len(COLORS)])
            axes.set(title=self.title, xlabel=self.xlabel, ylabel=self.ylabel)
            if self.logy:
                axes.set_yscale("log")
            axes.grid(alpha=0.3)
            axes.legend()
            figure.savefig(path, dpi=100, bbox_inches="tight")
            plt.close(figure)
            return
        raise RuntimeError("saving a PNG needs kaleido (with plotly) or matplotlib: pip install "
                           "kaleido, or save as .html or .svg instead")

    def _repr_html_(self) -> str:
        if self.backend == "plotly":
            return self.figure.to_html(include_plotlyjs="require", full_html=False)
        return self.to_svg()

    def __repr__(self) -> str:
        names = ", ".join(name for name, _, _ in self.series)
        return f"<tapegrad.viz.Plot {self.title!r}: {names} ({self.backend})>"


def plot_function(f: Callable[[Tensor], Tensor], x_range: tuple[float, float] = (-3.0, 3.0),
                  num: int = 200, title: str | None = None, backend: str = "auto") -> Plot:
    """Plot ``f`` with its first and second derivatives, both computed by autograd.

    ``f`` acts element-wise on a 1-d float64 tensor; ``df/dx`` comes from
    ``autograd.grad(..., create_graph=True)`` and ``d2f/dx2`` from differentiating that again.
    """
    from .. import float64, linspace, zeros_like
    from ..autograd import grad

    low, high = (float(v) for v in x_range)
    if not low < high:
        raise ValueError(f"x_range must be (low, high) with low < high, got {x_range}")
    x = linspace(low, high, num, dtype=float64, requires_grad=True)
    y = f(x)
    if not isinstance(y, Tensor) or tuple(y.shape) != tuple(x.shape):
        raise ValueError("plot_function: f must map a 1-d tensor to a tensor of the same shape "
                         "(act element-wise)")
    if y.requires_grad:
        (first,) = grad(y.sum(), x, create_graph=True, allow_unused=True, materialize_grads=True)
    else:
        first = zeros_like(x)
    if first.requires_grad:
        (second,) = grad(first.sum(), x, allow_unused=True, materialize_grads=True)
    else:
        second = zeros_like(x)
    xs = x.detach().numpy()
    name = title or getattr(f, "__name__", "f")
    series = [("f(x)", xs, y.detach().numpy()), ("f'(x)", xs, first.detach().numpy()),
              ("f''(x)", xs, second.detach().numpy())]
    return Plot(series, f"{name} and its derivatives (autograd)" if not title else title, "x",
                "value", backend=backend)


def plot_losses(history: Sequence | Mapping[str, Sequence], title: str = "training loss",
                logy: bool = False, backend: str = "auto") -> Plot:
    """Training curves: a sequence of losses, or ``{"train": [...], "valid": [...]}``."""
    curves = history.items() if isinstance(history, Mapping) else [("loss", history)]
    series = []
    for name, values in curves:
        y = np.array([float(v.item() if isinstance(v, Tensor) else v) for v in values])
        series.append((str(name), np.arange(len(y)), y))
    if not series or all(len(y) == 0 for _, _, y in series):
        raise ValueError("plot_losses: the history is empty")
    return Plot(series, title, "step", "loss", logy=logy, backend=backend)


# --- tapegrad's own SVG line plot --------------------------------------------------------
def nice_ticks(low: float, high: float, count: int = 6) -> list[float]:
    """Round tick values (1, 2, 5 times a power of ten) covering [low, high]."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return [0.0]
    if high <= low:
        high = low + 1.0
    raw = (high - low) / max(count - 1, 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    first = math.floor(low / step) * step
    ticks = []
    value = first
    while value <= high + step * 1e-9:
        ticks.append(round(value, 12))
        value += step
    if ticks[-1] < high:
        ticks.append(round(value, 12))
    return ticks


def _tick_text(value: float) -> str:
    return f"{value:.4g}"


def svg_line_plot(series: list[tuple[str, np.ndarray, np.ndarray]], title: str, xlabel: str,
                  ylabel: str, logy: bool = False, width: int = 760, height: int = 440) -> str:
    left, right, top, bottom = 70.0, 150.0, 40.0, 50.0
    transform = (lambda v: np.log10(np.where(v > 0, v, np.nan))) if logy else (lambda v: v)
    xs = np.concatenate([np.asarray(x, float) for _, x, _ in series])
    ys = np.concatenate([transform(np.asarray(y, float)) for _, _, y in series])
    xs, ys = xs[np.isfinite(xs)], ys[np.isfinite(ys)]
    x_ticks = nice_ticks(float(xs.min()), float(xs.max())) if xs.size else [0.0, 1.0]
    y_ticks = nice_ticks(float(ys.min()), float(ys.max())) if ys.size else [0.0, 1.0]
    x0, x1, y0, y1 = x_ticks[0], x_ticks[-1], y_ticks[0], y_ticks[-1]
    x1 = x1 if x1 > x0 else x0 + 1
    y1 = y1 if y1 > y0 else y0 + 1
    plot_w, plot_h = width - left - right, height - top - bottom

    def px(value: float) -> float:
        return left + (value - x0) / (x1 - x0) * plot_w

    def py(value: float) -> float:
        return top + plot_h - (value - y0) / (y1 - y0) * plot_h

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="tapegrad-plot" width="{width}" '
           f'height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif" '
           'font-size="12">', f"<title>{escape(title)}</title>",
           f'<rect width="{width}" height="{height}" fill="#fff"/>',
           f'<text x="{left + plot_w / 2:.1f}" y="24" text-anchor="middle" font-size="15">'
           f"{escape(title)}</text>"]
    for tick in x_ticks:
        out.append(f'<line x1="{px(tick):.1f}" y1="{top}" x2="{px(tick):.1f}" '
                   f'y2="{top + plot_h}" stroke="#e5e5e5"/>')
        out.append(f'<text x="{px(tick):.1f}" y="{top + plot_h + 16}" text-anchor="middle">'
                   f"{_tick_text(tick)}</text>")
    for tick in y_ticks:
        label = _tick_text(10 ** tick) if logy else _tick_text(tick)
        out.append(f'<line x1="{left}" y1="{py(tick):.1f}" x2="{left + plot_w}" '
                   f'y2="{py(tick):.1f}" stroke="#e5e5e5"/>')
        out.append(f'<text x="{left - 6}" y="{py(tick) + 4:.1f}" text-anchor="end">'
                   f"{label}</text>")
    if y0 < 0 < y1 and not logy:
        out.append(f'<line x1="{left}" y1="{py(0):.1f}" x2="{left + plot_w}" y2="{py(0):.1f}" '
                   'stroke="#999"/>')
    out.append(f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="none" '
               'stroke="#444"/>')
    out.append(f'<text x="{left + plot_w / 2:.1f}" y="{height - 12}" text-anchor="middle">'
               f"{escape(xlabel)}</text>")
    out.append(f'<text transform="translate(18 {top + plot_h / 2:.1f}) rotate(-90)" '
               f'text-anchor="middle">{escape(ylabel)}</text>')
    for index, (name, x, y) in enumerate(series):
        color = COLORS[index % len(COLORS)]
        x = np.asarray(x, float)
        y = transform(np.asarray(y, float))
        segment: list[str] = []
        segments = []
        for xv, yv in zip(x, y):
            if math.isfinite(xv) and math.isfinite(yv):
                segment.append(f"{px(xv):.1f},{py(yv):.1f}")
            elif segment:
                segments.append(segment)
                segment = []
        if segment:
            segments.append(segment)
        for points in segments:
            out.append(f'<polyline class="series" data-name="{escape(name)}" fill="none" '
                       f'stroke="{color}" stroke-width="2" points="{" ".join(points)}"/>')
        legend_y = top + 14 + 20 * index
        out.append(f'<line x1="{left + plot_w + 14}" y1="{legend_y - 4}" '
                   f'x2="{left + plot_w + 38}" y2="{legend_y - 4}" stroke="{color}" '
                   'stroke-width="2"/>')
        out.append(f'<text x="{left + plot_w + 44}" y="{legend_y}">{escape(name)}</text>')
    out.append("</svg>")
    return "\n".join(out)
