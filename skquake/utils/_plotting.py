"""Readable matplotlib figures: text wrapped to the room it has, axis limits that never zoom to
noise, tick labels that never overlap, and legends outside the data.

matplotlib is optional (``skquake[plot]``): these functions take its objects and never import it.
"""
from __future__ import annotations

import math
import re

import numpy as np

__all__ = ["add_figure_legend", "chars_that_fit", "fit_tick_labels", "padded_limits", "wrap_text"]

# Average glyph width of DejaVu Sans (matplotlib's default) is ~0.55 em for lower case, digits and
# hyphens; 0.62 leaves room for wider letters so that an estimate never overflows.
_CHAR_WIDTH_EM = 0.62


def chars_that_fit(width_in: float, fontsize: float) -> int:
    """How many characters of ``fontsize`` points fit in ``width_in`` inches (a safe estimate).

    Examples
    --------
    >>> chars_that_fit(11, 12)
    106
    """
    return max(8, int(width_in * 72 / (_CHAR_WIDTH_EM * fontsize)))


def wrap_text(text: str, width: int) -> str:
    """Wrap ``text`` to lines of at most ``width`` characters.

    Breaks after spaces, hyphens, underscores and slashes, so that model and column names
    (``convnextv2-atto-rank``, ``PSA03_AS1``) wrap at their own separators; a part longer than
    ``width`` is cut. Existing line breaks are kept.

    Examples
    --------
    >>> print(wrap_text("convnextv2-atto-with-a-very-long-suffix", 16))
    convnextv2-atto-
    with-a-very-
    long-suffix
    """
    width = max(1, int(width))
    out = []
    for paragraph in str(text).split("\n"):
        lines, line = [], ""
        for token in re.split(r"(?<=[ \-_/])", paragraph):
            while len(token) > width:  # a part that cannot fit on any line: cut it
                if line:
                    lines.append(line.rstrip())
                    line = ""
                lines.append(token[:width])
                token = token[width:]
            if len((line + token).rstrip()) > width:
                lines.append(line.rstrip())
                line = token.lstrip()
            else:
                line += token
        lines.append(line.rstrip())
        out.append("\n".join(lines))
    return "\n".join(out)


def padded_limits(values, *, log: bool = False, min_span: float | None = None, rel_span: float = 0.1,
                  margin: float = 0.06) -> tuple[float, float] | None:
    """Axis limits around the finite ``values`` that never zoom to noise.

    A single value, equal values or values that differ by rounding noise are shown on an axis
    at least ``min_span`` wide (and, on a linear axis, at least ``rel_span`` times the largest
    magnitude), centred on them; every axis gets a ``margin`` (fraction of its span) on both
    sides so that markers and error bars are not cut by the frame.

    Parameters
    ----------
    values : array-like
        Data (and error-bar ends) the axis must show; NaN, infinite and, on a log axis,
        non-positive values are ignored.
    log : bool, default=False
        Limits of a log axis: spans are in decades.
    min_span : float, optional
        Smallest span: 0.01 data units on a linear axis, 1 decade on a log axis by default.
    rel_span : float, default=0.1
        Linear axis: smallest span as a fraction of the largest ``|value|``.
    margin : float, default=0.06

    Returns
    -------
    tuple of float or None
        ``(low, high)``, or ``None`` when no value is usable.

    Examples
    --------
    >>> [round(v, 2) for v in padded_limits([2.5, 2.5 + 1e-9])]
    [2.36, 2.64]
    >>> [round(v, 2) for v in padded_limits([175.51, 175.53], log=True)]
    [48.34, 637.27]
    """
    v = np.asarray(values, dtype=float).ravel()
    v = v[np.isfinite(v)]
    if log:
        v = np.log10(v[v > 0])
    if v.size == 0:
        return None
    lo, hi = float(v.min()), float(v.max())
    if log:
        need = 1.0 if min_span is None else min_span
    else:
        need = max(0.01 if min_span is None else min_span, rel_span * max(abs(lo), abs(hi)))
    if hi - lo < need:
        centre = (lo + hi) / 2
        lo, hi = centre - need / 2, centre + need / 2
    pad = margin * (hi - lo)
    lo, hi = lo - pad, hi + pad
    return (10.0 ** lo, 10.0 ** hi) if log else (lo, hi)


def _plain(value) -> str:
    """A log-axis tick as a plain number (``20``, ``0.5``), powers of ten beyond that range."""
    if value <= 0 or not math.isfinite(value):
        return ""
    if 1e-4 <= value < 1e5:
        return f"{value:g}"
    exp = math.floor(math.log10(value) + 1e-9)
    mant = value / 10.0 ** exp
    return f"$10^{{{exp}}}$" if abs(mant - 1) < 1e-6 else f"${mant:g}\\times10^{{{exp}}}$"


def _log_tick_sets(lo: float, hi: float) -> list[list[float]]:
    """Candidate major ticks of a log axis, densest first: 1-2-5, 1-3, decades, every n-th decade."""
    decades = 10.0 ** np.arange(math.floor(math.log10(lo)), math.ceil(math.log10(hi)) + 1)
    sets = [[d * m for d in decades for m in mant] for mant in ((1, 2, 5), (1, 3), (1,))]
    sets += [list(decades[::step]) for step in range(2, len(decades))]
    sets = [sorted(t for t in s if lo <= t <= hi) for s in sets]
    return [s for s in sets if s]


def _labels_collide(axis, pad: float) -> bool:
    """Whether two drawn major tick labels of ``axis`` overlap (after a layout pass)."""
    fig = axis.axes.figure
    fig.draw_without_rendering()
    renderer = fig.canvas.get_renderer()
    lo, hi = sorted(axis.get_view_interval())
    locs = list(axis.get_majorticklocs())
    ticks = axis.get_major_ticks(len(locs))
    boxes = [tick.label1.get_window_extent(renderer) for loc, tick in zip(locs, ticks)
             if lo <= loc <= hi and tick.label1.get_visible() and tick.label1.get_text()]
    boxes = [b.padded(pad / 2) for b in boxes]
    return any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1:])


def fit_tick_labels(ax, pad: float = 2.0) -> None:
    """Make the tick labels of ``ax`` readable: never overlapping, plain numbers on log axes.

    A log axis gets plain-number labels at 1-2-5 per decade, or 1-3, or decades, or every n-th
    decade: the densest set whose labels do not overlap (matplotlib's defaults write
    ``1.75512x10^2`` on an axis that spans less than a decade, and labels run into each other). A
    linear axis keeps matplotlib's ticks unless their labels overlap; then every 2nd, 3rd, ... tick
    is kept. An axis of names (fixed labels) is left as it is. Call it last, once titles, labels
    and legends are in place (it runs the layout).

    Parameters
    ----------
    ax : matplotlib Axes
        On a figure with an Agg-like canvas (``fig.canvas.get_renderer``); otherwise left as is.
    pad : float, default=2.0
        Smallest gap between two labels, in pixels.
    """
    if not hasattr(ax.figure.canvas, "get_renderer"):
        return
    for axis in (ax.xaxis, ax.yaxis):
        if type(axis.get_major_formatter()).__name__ == "FixedFormatter":
            continue  # names (set_yticks(pos, names)): dropping some would hide them; size the axes instead
        if axis.get_scale() == "log":
            if min(axis.get_view_interval()) <= 0:
                continue
            axis.set_major_formatter(lambda value, _pos: _plain(value))
            axis.set_minor_formatter(lambda value, _pos: "")
            candidates = _log_tick_sets(*sorted(axis.get_view_interval()))
        else:
            if not _labels_collide(axis, pad):
                continue
            lo, hi = sorted(axis.get_view_interval())
            locs = [t for t in axis.get_majorticklocs() if lo <= t <= hi]
            candidates = [locs[::step] for step in range(2, len(locs) + 1)]
        for ticks in candidates:
            axis.set_ticks(ticks)
            if not _labels_collide(axis, pad):
                break


def add_figure_legend(fig, handles, labels, fontsize: float = 9):
    """A legend below the axes of ``fig`` (never over the data), with as many columns as fit.

    The figure grows by the legend's height, so the axes keep their size. ``fig`` must use the
    constrained layout (``layout="constrained"``), which places the legend outside the axes.

    Parameters
    ----------
    fig : matplotlib Figure
    handles, labels : sequences
        As for :meth:`matplotlib.figure.Figure.legend`; a label longer than the figure is wide
        is wrapped.
    fontsize : float, default=9

    Returns
    -------
    matplotlib Legend or None
        ``None`` when there is nothing to show.
    """
    if not handles:
        return None
    width_in, height_in = fig.get_size_inches()
    labels = [wrap_text(label, chars_that_fit(width_in - 1.0, fontsize)) for label in labels]
    longest = max(len(line) for label in labels for line in label.split("\n"))
    # A column: handle (2 em) + gap (0.8 em) + text + spacing between columns (2 em).
    column_in = (4.8 + _CHAR_WIDTH_EM * longest) * fontsize / 72
    ncols = max(1, min(len(labels), int((width_in - 0.3) / column_in)))
    nrows = math.ceil(len(labels) / ncols)
    lines = sum(max(label.count("\n") + 1 for label in labels[r * ncols:(r + 1) * ncols]) for r in range(nrows))
    fig.set_size_inches(width_in, height_in + (lines * 1.4 * fontsize + 12) / 72)
    return fig.legend(handles, labels, loc="outside lower center", ncols=ncols, fontsize=fontsize, frameon=False)
