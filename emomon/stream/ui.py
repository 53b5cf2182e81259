"""The terminal UI: a pure ``render(state)`` of a :class:`MonitorState`, shown with rich ``Live``.

Per emotion: a bar for the current smoothed probability, the last window's raw probability
beside it, and a rolling history (sparkline) over the last ``history`` hops; above them the top
emotion (or "no speech", or "uncertain" under ``--min-confidence``); below them the input level
meter, the speech meter with the voice activity threshold marked on it, the capture-to-result
latency (or, for a file read as fast as possible, the model's compute time per window), how
much speech the stream has adapted to (or "adapting off"), the dropped-audio counter and the window count. Rendering depends on nothing but the state, so tests
render it into ``Console(record=True)``.
"""

from __future__ import annotations

import math
import statistics
from collections import deque
from dataclasses import dataclass, field
from typing import Sequence

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from .. import defaults
from ..features.vad import VadOptions
from ..labels import EMOTIONS
from ..output.colors import COLORS
from ..records import WindowRecord

SPARK = "▁▂▃▄▅▆▇█"
EIGHTHS = " ▏▎▍▌▋▊▉"
LEVEL_FLOOR_DB = -60.0


@dataclass
class MonitorState:
    """Everything the UI shows for one stream; :meth:`update` folds in one record.

    ``history[label]`` holds the last ``history_len`` smoothed values ``(hops,)``. ``realtime``
    false (a file read as fast as possible): the model's compute time is shown, not latency.
    ``adapt``: the stream adapts to its speaker (from ``profile`` when one is named);
    ``adapted_s`` the seconds of speech it has adapted to so far. ``reason`` is why the last
    window was not classified ("no speech", "non-finite samples", ...); ``skipped`` counts the
    windows not classified for another reason than want of speech. NaN/Inf in a record are
    shown as 0 (a record can never break the screen). ``caution`` is the last speech window's
    (``"unfamiliar voice"`` while the stream's answers collapse into one class): the headline then
    says so instead of the label.
    """

    labels: Sequence[str] = EMOTIONS
    title: str = "emomon"
    history_len: int = 40
    vad: VadOptions = field(default_factory=VadOptions)
    min_confidence: float | None = defaults.MIN_CONFIDENCE
    realtime: bool = True
    smoothed: dict[str, float] = field(default_factory=dict)
    scores: dict[str, float] = field(default_factory=dict)
    history: dict[str, deque] = field(default_factory=dict)
    top: str | None = None
    speaking: bool = False
    speech: float = 0.0
    level_db: float = -120.0
    t: float = 0.0
    windows: int = 0
    quiet_windows: int = 0
    latencies: deque = field(default_factory=lambda: deque(maxlen=200))
    computes: deque = field(default_factory=lambda: deque(maxlen=200))
    dropped_seconds: float = 0.0
    finished: bool = False
    adapt: bool = False
    profile: str | None = None
    adapted_s: float | None = None
    reason: str | None = None
    skipped: int = 0
    caution: str | None = None

    def __post_init__(self) -> None:
        for lab in self.labels:
            self.history.setdefault(lab, deque(maxlen=self.history_len))
            self.smoothed.setdefault(lab, 1.0 / len(self.labels))

    def update(self, rec: WindowRecord) -> None:
        self.smoothed = _finite_scores(rec.smoothed)
        self.scores = _finite_scores(rec.scores) if rec.scores is not None else {}
        for lab in self.labels:
            self.history[lab].append(self.smoothed.get(lab, 0.0))
        self.speaking = rec.is_speech
        self.reason = rec.reason
        if rec.is_speech:
            self.top = max(self.smoothed, key=self.smoothed.__getitem__)
            self.caution = rec.caution
        elif rec.reason in (None, defaults.NO_SPEECH):
            self.quiet_windows += 1
        else:
            self.skipped += 1
        self.speech = _finite(rec.speech, 0.0)
        self.level_db = _finite(rec.level_db, -120.0)
        self.t = _finite(rec.t, self.t)
        self.windows += 1
        if rec.latency_ms is not None:
            self.latencies.append(rec.latency_ms)
        if rec.compute_ms is not None:
            self.computes.append(rec.compute_ms)
        self.dropped_seconds = rec.dropped_s
        if rec.adapted_s is not None:
            self.adapted_s = rec.adapted_s

    @property
    def uncertain(self) -> bool:
        """The shown top emotion's smoothed probability is below ``min_confidence``."""
        if self.min_confidence is None or self.top is None:
            return False
        return self.smoothed.get(self.top, 0.0) < self.min_confidence

    @property
    def latency_last(self) -> float | None:
        return self.latencies[-1] if self.latencies else None

    @property
    def latency_median(self) -> float | None:
        return statistics.median(self.latencies) if self.latencies else None

    @property
    def compute_median(self) -> float | None:
        return statistics.median(self.computes) if self.computes else None


def _finite(value: float | None, fallback: float) -> float:
    """``value`` as a float, ``fallback`` for ``None``/NaN/Inf."""
    if value is None:
        return fallback
    value = float(value)
    return value if math.isfinite(value) else fallback


def _finite_scores(scores: dict[str, float]) -> dict[str, float]:
    """Scores with NaN/Inf shown as 0."""
    return {lab: _finite(p, 0.0) for lab, p in scores.items()}


def bar(fraction: float, width: int) -> str:
    """A horizontal bar of ``width`` cells filled to ``fraction`` (eighth-cell resolution; NaN: empty)."""
    fraction = min(1.0, max(0.0, _finite(fraction, 0.0)))
    eighths = int(round(fraction * width * 8))
    full, rest = divmod(eighths, 8)
    s = "█" * full + (EIGHTHS[rest] if rest and full < width else "")
    return s.ljust(width)


def sparkline(values: Sequence[float], width: int) -> str:
    """Values in ``[0, 1]`` as block characters, right-aligned in ``width`` cells (NaN: the lowest)."""
    vals = [_finite(v, 0.0) for v in list(values)[-width:]]
    chars = "".join(SPARK[min(len(SPARK) - 1, max(0, int(v * (len(SPARK) - 1) + 0.5)))] for v in vals)
    return chars.rjust(width)


def _meter(fraction: float, width: int, mark: float | None, style: str) -> Text:
    """A bar filled to ``fraction`` with a ``│`` at ``mark`` (both in ``[0, 1]``)."""
    cells = list(bar(fraction, width))
    if mark is not None:
        cells[min(width - 1, max(0, int(round(mark * width))))] = "│"
    return Text("".join(cells), style=style)


def _level_fraction(level_db: float) -> float:
    return (max(LEVEL_FLOOR_DB, min(0.0, level_db)) - LEVEL_FLOOR_DB) / -LEVEL_FLOOR_DB


def _level_row(state: MonitorState) -> Text:
    """The input level in dBFS; with the energy VAD its threshold is marked on it."""
    level = state.level_db
    style = "green" if level < -12 else ("yellow" if level < -3 else "red")
    mark = None
    if state.vad.method == "energy":
        mark = _level_fraction(state.vad.silence_db)
        if level < state.vad.silence_db:
            style = "dim"
    note = f"  (speech ≥ {state.vad.silence_db:g} dBFS)" if mark is not None else ""
    return Text.assemble(_meter(_level_fraction(level), 20, mark, style), f" {max(level, -120.0):6.1f} dBFS{note}")


def _speech_row(state: MonitorState) -> Text:
    """The last window's speech fraction, the threshold for classifying it marked on it."""
    style = "green" if state.speaking else "dim"
    return Text.assemble(_meter(state.speech, 20, state.vad.min_speech, style),
                         f" {state.speech * 100:3.0f}%  ", (f"VAD {state.vad.describe()}", "dim"))


def _headline(state: MonitorState) -> Text:
    if state.windows == 0:
        return Text("waiting for audio…", style="dim")
    if not state.speaking:
        why = state.reason or defaults.NO_SPEECH
        style = "bold dim" if why == defaults.NO_SPEECH else "bold red"
        last = (f"uncertain: {state.caution}", "yellow") if state.caution else (state.top or "-", COLORS.get(state.top or "", "white"))
        return Text.assemble((why, style), ("   last: ", "dim"), last)
    top = state.top or "-"
    if state.caution:
        return Text.assemble((f"UNCERTAIN: {state.caution}", "bold yellow"),
                             (f"   (the model keeps answering {top} with small margins)", "dim"))
    head = Text.assemble(("top emotion: ", "bold"), (top.upper(), f"bold {COLORS.get(top, 'white')}"),
                         (f"  {state.smoothed.get(top, 0.0) * 100:5.1f}%", "bold"))
    if state.uncertain:
        head.append(f"  uncertain (< {state.min_confidence:.0%})", style="bold yellow")
    return head


def _timing_row(state: MonitorState) -> tuple[Text, Text]:
    if state.realtime:
        last, med = state.latency_last, state.latency_median
        text = f"{last:.0f} ms (median {med:.0f} ms)" if last is not None and med is not None else "-"
        return Text("latency", style="bold"), Text(text)
    med = state.compute_median
    text = f"{med:.0f} ms per window (model time, median; read as fast as it goes)" if med is not None else "-"
    return Text("compute", style="bold"), Text(text)


def _adapt_row(state: MonitorState) -> Text:
    """Seconds of speech the stream has adapted to (with its profile), or "off"."""
    if not state.adapt:
        return Text("adapting off", style="dim")
    heard = f"adapted: {state.adapted_s or 0.0:.0f} s of speech" if state.adapted_s else "adapting: no speech heard yet"
    return Text(heard + (f"  (profile {state.profile})" if state.profile else ""))


def _skipped(state: MonitorState) -> str:
    """``, 3 skipped`` when windows were not classified for another reason than want of speech."""
    return f", {state.skipped} skipped" if state.skipped else ""


def render_stream(state: MonitorState, width: int | None = None) -> RenderableType:
    """One stream's panel, fitted to ``width`` terminal columns (``None``: full size, 120)."""
    avail = (width or 120) - 4 - 10 - 6 - 5 - 4  # panel borders, name, percent, raw, column gaps
    bar_width = max(8, min(30, int(avail * 0.45)))
    hist_width = max(0, min(state.history_len, avail - bar_width))

    table = Table.grid(padding=(0, 1))
    table.add_column("emotion", width=10, no_wrap=True)
    table.add_column("bar", width=bar_width, no_wrap=True)
    table.add_column("pct", width=6, justify="right", no_wrap=True)
    table.add_column("raw", width=5, justify="right", no_wrap=True)
    if hist_width:
        table.add_column("history", width=hist_width, no_wrap=True)
    header = [Text(""), Text("smoothed", style="dim"), Text(""), Text("raw", style="dim")]
    table.add_row(*header, *([Text("history", style="dim")] if hist_width else []))
    for lab in state.labels:
        p = float(state.smoothed.get(lab, 0.0))
        color = COLORS.get(lab, "white")
        name_style = f"bold {color}" if lab == state.top and state.speaking else color
        raw = state.scores.get(lab)
        raw_text = Text("" if raw is None else f"{raw * 100:3.0f}%", style="dim")
        cells = [Text(lab, style=name_style), Text(bar(p, bar_width), style=color), Text(f"{p * 100:5.1f}%"), raw_text]
        if hist_width:
            cells.append(Text(sparkline(state.history[lab], hist_width), style=color))
        table.add_row(*cells)

    footer = Table.grid(padding=(0, 1))
    footer.add_column(no_wrap=True)
    footer.add_column(no_wrap=False)
    footer.add_row(Text("level", style="bold"), _level_row(state))
    footer.add_row(Text("speech", style="bold"), _speech_row(state))
    footer.add_row(*_timing_row(state))
    footer.add_row(Text("speaker", style="bold"), _adapt_row(state))
    dropped_style = "bold red" if state.dropped_seconds > 0 else ""
    footer.add_row(Text("dropped", style="bold"), Text(f"{state.dropped_seconds:.2f} s audio", style=dropped_style))
    footer.add_row(
        Text("windows", style="bold"),
        Text(f"{state.windows} ({state.quiet_windows} without speech{_skipped(state)})   t = {state.t:.1f} s"
             + ("   [done]" if state.finished else "")),
    )
    return Panel(Group(_headline(state), Text(""), table, Text(""), footer), title=state.title, title_align="left")


def render(states: MonitorState | Sequence[MonitorState], width: int | None = None) -> RenderableType:
    """The whole screen for one or more streams: a pure function of the states (and ``width``)."""
    if isinstance(states, MonitorState):
        states = [states]
    panels = [render_stream(s, width) for s in states]
    if all(s.finished for s in states):
        return Group(*panels)
    return Group(*panels, Text("Ctrl-C to stop", style="dim"))
