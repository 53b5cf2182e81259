"""Pictures of emotion over time (PNG, SVG, PDF or JPEG; matplotlib Agg, imported lazily).

* :func:`plot_file` — a file's timeline (:class:`~emomon.records.FileResult`): each speech
  segment's scores as a stacked area over ``[start, end]``, white where there is no speech;
* :func:`plot_windows` — a live session (:class:`~emomon.records.WindowRecord` s): the smoothed
  distribution of each speech window over the hop it ends, one row of axes per stream;
* :func:`check_plot_format` — reject a path matplotlib cannot write, before any work starts.

Below each stacked area a thin strip marks the speech, coloured by each segment's (window's)
label, with the label written in it where the run is wide enough for the text. Uncertain
segments (``--min-confidence``) are drawn lighter and hatched. Everything is drawn from arrays
(one polygon collection per label), so hours of audio draw in about a second, and the file is
written through a temporary file in the same folder and ``os.replace``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..errors import EmomonError
from ..records import FileResult, WindowRecord
from .colors import EXTRA_COLORS, PALETTE, colors_for

__all__ = ["EXTRA_COLORS", "FORMATS", "PALETTE", "Spans", "bin_spans", "check_plot_format", "colors_for", "file_spans",
           "fitting_texts", "format_duration", "format_step", "format_time", "label_runs", "plot_file", "plot_windows",
           "window_spans"]

FORMATS = {".png": "png", ".svg": "svg", ".pdf": "pdf", ".jpg": "jpeg", ".jpeg": "jpeg"}
"""Suffixes the plots can be written as, and matplotlib's format name for each."""

DPI = 100
WIDTH_IN = 12.0
TOP_IN = 0.9  # title and legend
MAIN_IN = 2.6  # the stacked area of one row
STRIP_IN = 0.3  # the speech strip below it
ROW_TITLE_IN = 0.3  # "stream x" above each row when there are several
ROW_GAP_IN = 0.15
BOTTOM_IN = 0.6  # tick labels and axis label
LEFT_IN = 0.85
RIGHT_IN = 0.25
CHAR_PX = 5.6  # width of one character of the strip's 7.5 pt text at DPI, generous
LIGHTEN = 0.55  # uncertain: this much of the colour replaced by white
CONTIGUOUS_S = 1e-3  # spans closer than this are drawn as one run
BIN_PX = 3.0  # more spans than (plot width / BIN_PX): averaged into bins this wide
BIN_MIN_SPEECH = 0.2  # a bin with less speech than this fraction is drawn white


@dataclass(frozen=True)
class Spans:
    """Stretches of speech to draw: ``[start, end)`` seconds ``(n,)``, each one's distribution
    ``dist`` ``(n, labels)``, its label ``(n,)`` and whether it is uncertain ``(n,)``; sorted,
    non-overlapping, non-empty."""

    start: np.ndarray
    end: np.ndarray
    dist: np.ndarray
    label: np.ndarray
    uncertain: np.ndarray

    def __len__(self) -> int:
        return len(self.start)


def check_plot_format(path: Path) -> None:
    """Raise :class:`EmomonError` unless ``path``'s suffix is one the plots can be written as."""
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        kind = f"'{suffix}' is not a picture format" if suffix else "no file type suffix"
        raise EmomonError(str(path), f"{kind}; use .png, .svg, .pdf or .jpg")


def _make_spans(start: np.ndarray, end: np.ndarray, dist: np.ndarray, label: Sequence[str],
                uncertain: Sequence[bool]) -> Spans:
    """:class:`Spans` sorted by start, each start clipped to the previous end, empty ones dropped."""
    order = np.argsort(start, kind="stable")
    start, end = np.asarray(start, float)[order], np.asarray(end, float)[order]
    if len(start):
        start = np.maximum(start, np.concatenate([[-np.inf], np.maximum.accumulate(end)[:-1]]))
    keep = end > start
    dist = np.nan_to_num(np.asarray(dist, float)[order][keep])
    return Spans(start[keep], end[keep], np.clip(dist, 0.0, None),
                 np.asarray(label, dtype=object)[order][keep], np.asarray(uncertain, bool)[order][keep])


def _distribution(scores: dict[str, float] | None, labels: Sequence[str]) -> list[float]:
    """``scores`` as a row in ``labels`` order (a missing label is 0)."""
    scores = scores or {}
    return [float(scores.get(lab) or 0.0) for lab in labels]


def file_spans(result: FileResult, labels: Sequence[str]) -> Spans:
    """The segments of ``result`` as :class:`Spans`."""
    segs = result.segments
    return _make_spans(np.array([s.start for s in segs], float), np.array([s.end for s in segs], float),
                       np.array([_distribution(s.scores, labels) for s in segs], float).reshape(len(segs), len(labels)),
                       [s.label for s in segs], [s.uncertain for s in segs])


def window_spans(records: Sequence[WindowRecord], labels: Sequence[str]) -> Spans:
    """The speech windows of one stream as :class:`Spans`: each window covers the hop it ends,
    ``[max(t - hop, previous t), t]`` (``hop`` the median step of ``t``), so a gap in the stream
    (dropped audio) stays blank."""
    recs = sorted(records, key=lambda r: r.t)
    t = np.array([r.t for r in recs], float)
    steps = np.diff(t)
    steps = steps[steps > 0]
    hop = float(np.median(steps)) if len(steps) else max(float(t.max(initial=0.0)), 1.0)
    prev = np.concatenate([[min(0.0, float(t[0]))], t[:-1]]) if len(t) else t
    speech = np.array([r.label is not None for r in recs], bool)
    said = [r for r in recs if r.label is not None]
    dist = np.array([_distribution(r.smoothed, labels) for r in said], float).reshape(len(said), len(labels))
    return _make_spans(np.maximum(t - hop, prev)[speech], t[speech], dist,
                       [r.label for r in said], [r.uncertain for r in said])


def bin_spans(spans: Spans, x0: float, width: float, bins: int) -> Spans:
    """``spans`` averaged into ``bins`` bins ``width`` seconds wide from ``x0`` (for long recordings, where a
    segment is narrower than a few pixels): a bin's distribution is the time-weighted mean of
    the speech in it, its label the one with the most seconds, uncertain when most of its speech
    is; a bin less than :data:`BIN_MIN_SPEECH` speech is left out (white)."""
    if not len(spans):
        return spans
    first = np.clip(((spans.start - x0) // width).astype(int), 0, bins - 1)
    last = np.clip(np.ceil((spans.end - x0) / width).astype(int) - 1, first, bins - 1)
    pieces = last - first + 1
    owner = np.repeat(np.arange(len(spans)), pieces)
    b = np.repeat(first, pieces) + np.arange(len(owner)) - np.repeat(np.cumsum(pieces) - pieces, pieces)
    dur = np.minimum(spans.end[owner], x0 + (b + 1) * width) - np.maximum(spans.start[owner], x0 + b * width)
    dur = np.clip(dur, 0.0, None)
    speech = np.bincount(b, dur, bins)
    dist = np.stack([np.bincount(b, dur * spans.dist[owner, j], bins) for j in range(spans.dist.shape[1])], axis=1)
    names, code = np.unique(spans.label.astype(str), return_inverse=True)
    seconds = np.bincount(b * len(names) + code[owner], dur, bins * len(names)).reshape(bins, len(names))
    unsure = np.bincount(b, dur * spans.uncertain[owner], bins)
    keep = np.flatnonzero(speech >= BIN_MIN_SPEECH * width)
    return Spans(x0 + keep * width, x0 + (keep + 1) * width, dist[keep] / speech[keep, None],
                 names[seconds[keep].argmax(axis=1)].astype(object), unsure[keep] > 0.5 * speech[keep])


def _lighten(color: str, amount: float = LIGHTEN) -> tuple[float, float, float]:
    """``color`` mixed with ``amount`` of white."""
    from matplotlib.colors import to_rgb

    return tuple(c + (1.0 - c) * amount for c in to_rgb(color))  # type: ignore[return-value]


def _contiguous(spans: Spans) -> np.ndarray:
    """``(n - 1,)``: whether span ``i + 1`` starts where span ``i`` ends."""
    return spans.start[1:] - spans.end[:-1] <= CONTIGUOUS_S


def _draw_area(ax: Any, spans: Spans, labels: Sequence[str], colors: dict[str, str]) -> None:
    """The stacked distributions of ``spans`` as steps: per label one ``fill_between`` for the
    certain spans and one (lighter, hatched) for the uncertain ones. Each span gives the points
    ``start, end, end``; the third joins it to the next span when they touch, so a run of
    touching spans is one polygon (no seams) and a gap is left white."""
    n = len(spans)
    x = np.repeat(spans.end, 3)
    x[0::3] = spans.start
    top = np.cumsum(spans.dist, axis=1)
    bottom = top - spans.dist
    joined = np.append(_contiguous(spans), False)
    for uncertain in (False, True):
        sel = spans.uncertain == uncertain
        if not sel.any():
            continue
        where = np.repeat(sel, 3)
        where[2::3] = sel & joined & np.append(sel[1:], False)
        for j, lab in enumerate(labels):
            style: dict[str, Any] = {"facecolor": colors[lab], "linewidth": 0}
            if uncertain:
                style.update(facecolor=_lighten(colors[lab]), hatch="////", hatchcolor=colors[lab])
            ax.fill_between(x, np.repeat(bottom[:, j], 3), np.repeat(top[:, j], 3), where=where,
                            interpolate=False, **style)
    if n:
        ax.set_ylim(0.0, max(1.0, float(top[:, -1].max()) if top.size else 1.0))


@dataclass(frozen=True)
class Runs:
    """Maximal runs of touching spans with the same label and certainty: ``start``, ``end``,
    ``label``, ``uncertain``, each ``(runs,)``."""

    start: np.ndarray
    end: np.ndarray
    label: np.ndarray
    uncertain: np.ndarray


def label_runs(spans: Spans) -> Runs:
    """The :class:`Runs` of ``spans`` (what the speech strip draws and labels)."""
    if not len(spans):
        empty = np.zeros(0)
        return Runs(empty, empty, np.zeros(0, dtype=object), np.zeros(0, bool))
    same = _contiguous(spans) & (spans.label[1:] == spans.label[:-1]) & (spans.uncertain[1:] == spans.uncertain[:-1])
    first = np.flatnonzero(np.concatenate([[True], ~same]))
    last = np.append(first[1:] - 1, len(spans) - 1)
    return Runs(spans.start[first], spans.end[last], spans.label[first], spans.uncertain[first])


def fitting_texts(runs: Runs, x0: float, x1: float, width_px: float) -> list[tuple[int, str]]:
    """``(run index, text)`` for each run wide enough, at ``width_px`` pixels for ``[x0, x1]``
    seconds, to hold its label (``"label?"`` when uncertain). The texts fit side by side, so
    there are never more than ``width_px / CHAR_PX / 2`` of them, however many runs there are."""
    if not len(runs.start) or x1 <= x0:
        return []
    texts = [f"{lab}?" if unc else str(lab) for lab, unc in zip(runs.label, runs.uncertain)]
    need_px = np.array([len(s) for s in texts]) * CHAR_PX + 8.0
    have_px = (np.minimum(runs.end, x1) - np.maximum(runs.start, x0)) / (x1 - x0) * width_px
    return [(int(i), texts[i]) for i in np.flatnonzero(have_px >= need_px)]


def _text_color(face: Any) -> str:
    """Black or white, whichever reads better on ``face``."""
    from matplotlib.colors import to_rgb

    r, g, b = to_rgb(face)
    return "black" if 0.299 * r + 0.587 * g + 0.114 * b > 0.55 else "white"


def _draw_strip(ax: Any, spans: Spans, colors: dict[str, str], x0: float, x1: float) -> None:
    """The speech strip: each run a bar in its label's colour (lighter, hatched when uncertain),
    with the label written in the runs wide enough for it."""
    runs = label_runs(spans)
    faces = [_lighten(colors[lab]) if unc else colors[lab] for lab, unc in zip(runs.label, runs.uncertain)]
    for lab in dict.fromkeys(runs.label):
        for uncertain in (False, True):
            sel = (runs.label == lab) & (runs.uncertain == uncertain)
            if not sel.any():
                continue
            bars = list(zip(runs.start[sel], runs.end[sel] - runs.start[sel]))
            hatch = {"hatch": "////", "edgecolor": colors[lab]} if uncertain else {}
            ax.broken_barh(bars, (0, 1), facecolors=faces[int(np.argmax(sel))], linewidth=0, **hatch)
    width_px = ax.get_position().width * ax.figure.get_figwidth() * DPI
    for i, text in fitting_texts(runs, x0, x1, width_px):
        centre = (max(runs.start[i], x0) + min(runs.end[i], x1)) / 2
        ax.text(centre, 0.5, text, ha="center", va="center", fontsize=7.5, color=_text_color(faces[i]), clip_on=True)
    ax.set_ylim(0, 1)
    ax.set_yticks([])
    ax.set_ylabel("speech", rotation=0, ha="right", va="center", fontsize=8, color="#555555")


TICK_STEPS = (0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1200, 1800, 3600, 7200, 10800, 21600, 43200)


def format_time(seconds: float, longest: float, step: float = 1.0) -> str:
    """A time axis label: seconds (``"12.5"``) when ``longest`` is under 2 minutes, else ``m:ss``,
    or ``h:mm:ss`` from an hour on; seconds keep a decimal when ``step`` is under 1."""
    if longest < 120:
        return f"{seconds:g}"
    sign, seconds = ("-" if seconds < 0 else ""), abs(seconds)
    digits = 1 if step < 1 else 0
    seconds = round(seconds, digits)
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    sec = f"{s:04.1f}" if digits else f"{int(s):02d}"
    return f"{sign}{int(h)}:{int(m):02d}:{sec}" if longest >= 3600 else f"{sign}{int(m + 60 * h)}:{sec}"


def format_step(seconds: float) -> str:
    """A bin width: ``"0.5 s"``, ``"20 s"``, ``"5 min"``."""
    return f"{seconds:g} s" if seconds < 120 else f"{seconds / 60:g} min"


def format_duration(seconds: float) -> str:
    """A duration in the title: ``"12.3 s"`` under 2 minutes, else ``m:ss`` or ``h:mm:ss``."""
    return f"{seconds:.1f} s" if seconds < 120 else format_time(seconds, seconds)


def _time_axis(ax: Any, x0: float, x1: float) -> None:
    """Ticks at a round step (at most about a dozen), labelled by :func:`format_time`."""
    from matplotlib.ticker import FuncFormatter, MultipleLocator

    span = max(x1 - x0, 1e-9)
    step = next((s for s in TICK_STEPS if span / s <= 12), TICK_STEPS[-1] * np.ceil(span / TICK_STEPS[-1] / 12))
    longest = max(abs(x0), abs(x1))
    ax.xaxis.set_major_locator(MultipleLocator(step))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: format_time(v, longest, step)))
    unit = "s" if longest < 120 else ("h:mm:ss" if longest >= 3600 else "m:ss")
    ax.set_xlabel(f"time ({unit})", fontsize=9)
    ax.tick_params(axis="x", labelsize=8)


def _figure(rows: int, row_titles: bool) -> tuple[Any, list[tuple[Any, Any]]]:
    """A white figure of fixed layout (in inches, so the text fitting knows the widths): per row
    a main axes and the speech strip under it, all sharing x."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    row_in = (ROW_TITLE_IN if row_titles else 0.0) + MAIN_IN + STRIP_IN
    height = round(TOP_IN + rows * row_in + (rows - 1) * ROW_GAP_IN + BOTTOM_IN, 2)
    fig = Figure(figsize=(WIDTH_IN, height), dpi=DPI, facecolor="white")
    FigureCanvasAgg(fig)
    x, w = LEFT_IN / WIDTH_IN, (WIDTH_IN - LEFT_IN - RIGHT_IN) / WIDTH_IN
    top = height - TOP_IN
    axes: list[tuple[Any, Any]] = []
    for _ in range(rows):
        top -= ROW_TITLE_IN if row_titles else 0.0
        share = axes[0][0] if axes else None
        main = fig.add_axes((x, (top - MAIN_IN) / height, w, MAIN_IN / height), sharex=share)
        strip = fig.add_axes((x, (top - MAIN_IN - STRIP_IN) / height, w, STRIP_IN / height), sharex=main)
        axes.append((main, strip))
        top -= MAIN_IN + STRIP_IN + ROW_GAP_IN
    return fig, axes


def _draw_row(main: Any, strip: Any, spans: Spans, labels: Sequence[str], colors: dict[str, str],
              x0: float, x1: float, ylabel: str, empty: str = "no speech") -> None:
    """One row: the stacked area (or the ``empty`` message) over ``[x0, x1]`` and the speech strip;
    more spans than the width holds are averaged into bins first (:func:`bin_spans`)."""
    from matplotlib.ticker import PercentFormatter

    for ax in (main, strip):
        ax.set_facecolor("white")
        for spine in ax.spines.values():
            spine.set_color("#b0b0b0")
    main.set_xlim(x0, x1)
    main.set_ylim(0.0, 1.0)
    most = int(main.get_position().width * main.figure.get_figwidth() * DPI / BIN_PX)
    if len(spans) > most:
        width = next((w for w in TICK_STEPS if (x1 - x0) / w <= most), TICK_STEPS[-1])
        spans = bin_spans(spans, x0, width, int(np.ceil((x1 - x0) / width)))
        ylabel = f"{ylabel}\n({format_step(width)} bins)"
    if len(spans):
        _draw_area(main, spans, labels, colors)
    else:
        main.text(0.5, 0.5, empty, transform=main.transAxes, ha="center", va="center", fontsize=14, color="#888888")
    main.set_yticks([0.0, 0.5, 1.0])
    main.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    main.tick_params(axis="y", labelsize=8)
    main.tick_params(axis="x", labelbottom=False, length=0)
    main.set_ylabel(ylabel, fontsize=9)
    _draw_strip(strip, spans, colors, x0, x1)


def _header(fig: Any, title: str, summary: str, labels: Sequence[str], colors: dict[str, str]) -> None:
    """Title (left, bold), summary (right) and the legend of the colours under them."""
    from matplotlib.patches import Patch

    height = fig.get_figheight()
    y = 1 - 0.12 / height
    if len(title) > 70:
        title = title[:33] + "…" + title[-33:]
    fig.text(LEFT_IN / WIDTH_IN, y, title, ha="left", va="top", fontsize=12, weight="bold")
    fig.text(1 - RIGHT_IN / WIDTH_IN, y, summary, ha="right", va="top", fontsize=10, color="#333333")
    handles = [Patch(facecolor=colors[lab], label=lab) for lab in labels]
    handles.append(Patch(facecolor=_lighten("#777777"), edgecolor="#777777", hatch="////", linewidth=0, label="uncertain"))
    handles.append(Patch(facecolor="white", edgecolor="#b0b0b0", label="no speech"))
    centre = (LEFT_IN + (WIDTH_IN - LEFT_IN - RIGHT_IN) / 2) / WIDTH_IN
    ncol = len(handles) if len(handles) <= 12 else (len(handles) + 1) // 2
    fig.legend(handles=handles, loc="upper center", bbox_to_anchor=(centre, 1 - 0.45 / height), ncol=ncol,
               frameon=False, fontsize=8.5, handlelength=1.5, handleheight=1.0, columnspacing=1.3, borderaxespad=0)


def _save(fig: Any, path: Path) -> Path:
    """Write ``fig`` to ``path`` atomically: a temporary file in the same folder, then ``os.replace``."""
    from ..atomic import atomic_path

    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp, open(tmp, "wb") as f:
            fig.savefig(f, format=FORMATS[path.suffix.lower()], dpi=DPI, facecolor="white")
    except OSError as exc:
        raise EmomonError(str(path), f"cannot write: {exc.strerror or exc}") from None
    return path


def _file_summary(result: FileResult, length: float) -> str:
    """``"angry · 20.0 s of speech in 30.0 s"`` (``"no speech in 30.0 s"``)."""
    total = format_duration(result.duration if result.duration is not None else length)
    if result.label is None:
        return f"{result.reason or 'no speech'} in {total}"
    label = f"{result.label} (uncertain)" if result.uncertain else result.label
    return f"{label} · {format_duration(result.speech)} of speech in {total}"


def plot_file(result: FileResult, path: Path, labels: Sequence[str], title: str | None = None) -> Path:
    """Draw ``result``'s timeline to ``path`` (format from the suffix) and return ``path``: the
    segments' score distributions stacked over time (white where there is no speech), the speech
    strip under them, the summary label and speech seconds in the title, ``labels`` in the legend.
    ``title`` defaults to the file's name."""
    check_plot_format(path)
    if result.error is not None:
        raise EmomonError(result.path, f"nothing to plot: {result.error}")
    labels = list(labels)
    spans = file_spans(result, labels)
    colors = colors_for(labels, list(spans.label))
    x1 = max(result.duration or 0.0, float(spans.end.max(initial=0.0))) or 1.0
    fig, [(main, strip)] = _figure(1, row_titles=False)
    _draw_row(main, strip, spans, labels, colors, 0.0, x1, "probability")
    _time_axis(strip, 0.0, x1)
    _header(fig, title or Path(result.path).name, _file_summary(result, x1), labels, colors)
    return _save(fig, path)


def _by_stream(records: Sequence[WindowRecord]) -> dict[str, list[WindowRecord]]:
    """``records`` grouped by stream, streams in order of first appearance."""
    streams: dict[str, list[WindowRecord]] = {}
    for rec in records:
        streams.setdefault(rec.stream, []).append(rec)
    return streams


def _windows_summary(records: Sequence[WindowRecord], streams: int, length: float) -> str:
    """``"7,200 windows · 2,950 with speech (41%) · 1:00:00"``, and the number of streams if several."""
    if not records:
        return "no windows"
    speech = sum(r.label is not None for r in records)
    noun = "window" if len(records) == 1 else "windows"
    text = f"{len(records):,} {noun} · {speech:,} with speech ({100 * speech / len(records):.0f}%) · {format_duration(length)}"
    return text + (f" · {streams} streams" if streams > 1 else "")


def plot_windows(records: Sequence[WindowRecord], path: Path, labels: Sequence[str], title: str = "emomon") -> Path:
    """Draw a session's windows to ``path`` (format from the suffix) and return ``path``: per
    stream a row with the smoothed distribution of the speech windows stacked over time (white
    for windows without speech) and the speech strip of the windows' labels; rows share x."""
    check_plot_format(path)
    labels = list(labels)
    streams = _by_stream(records) or {"": []}
    t = [r.t for r in records]
    x0, x1 = min([0.0, *t]), max([0.0, *t])
    x1 = x1 if x1 > x0 else x0 + 1.0
    fig, rows = _figure(len(streams), row_titles=len(streams) > 1)
    all_spans = {name: window_spans(recs, labels) for name, recs in streams.items()}
    colors = colors_for(labels, [lab for s in all_spans.values() for lab in s.label])
    for (name, spans), (main, strip) in zip(all_spans.items(), rows):
        _draw_row(main, strip, spans, labels, colors, x0, x1, "smoothed", "no speech" if records else "no windows")
        if len(streams) > 1:
            main.set_title(f"stream {name}", loc="left", fontsize=9, pad=4)
        if len(rows) > 1 and strip is not rows[-1][1]:
            strip.tick_params(axis="x", labelbottom=False)
    _time_axis(rows[-1][1], x0, x1)
    _header(fig, title, _windows_summary(records, len(streams) if records else 0, x1 - x0), labels, colors)
    return _save(fig, path)
