"""The terminal UI: a pure ``render(state)`` of a :class:`MonitorState`, shown with rich ``Live``.

Per emotion: a bar for the current smoothed probability, the last window's raw probability
beside it, and a rolling history (sparkline) over
the last ``history`` hops; above them the top emotion; below them the input level meter, the
capture-to-result latency (last / median), the dropped-audio counter and the window count.
Rendering depends on nothing but the state, so tests render it into ``Console(record=True)``.
"""

from __future__ import annotations

import statistics
from collections import deque
from dataclasses import dataclass, field
from typing import Sequence

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from ..labels import EMOTIONS
from ..records import WindowRecord

SPARK = "▁▂▃▄▅▆▇█"
EIGHTHS = " ▏▎▍▌▋▊▉"
COLORS = {
    "neutral": "white",
    "calm": "cyan",
    "happy": "yellow",
    "sad": "blue",
    "angry": "red",
    "fearful": "magenta",
    "disgust": "green",
    "surprised": "bright_yellow",
}
LEVEL_FLOOR_DB = -60.0


@dataclass
class MonitorState:
    """Everything the UI shows for one stream; :meth:`update` folds in one record.

    ``history[label]`` holds the last ``history_len`` smoothed values ``(hops,)``.
    """

    labels: Sequence[str] = EMOTIONS
    title: str = "emomon"
    history_len: int = 40
    smoothed: dict[str, float] = field(default_factory=dict)
    scores: dict[str, float] = field(default_factory=dict)
    history: dict[str, deque] = field(default_factory=dict)
    top: str | None = None
    silent: bool = True
    level_db: float = -120.0
    t: float = 0.0
    windows: int = 0
    silent_windows: int = 0
    latencies: deque = field(default_factory=lambda: deque(maxlen=200))
    dropped_seconds: float = 0.0
    silence_db: float = -45.0
    finished: bool = False

    def __post_init__(self) -> None:
        for lab in self.labels:
            self.history.setdefault(lab, deque(maxlen=self.history_len))
            self.smoothed.setdefault(lab, 1.0 / len(self.labels))

    def update(self, rec: WindowRecord, dropped_seconds: float | None = None) -> None:
        self.smoothed = dict(rec.smoothed)
        self.scores = dict(rec.scores)
        for lab in self.labels:
            self.history[lab].append(float(rec.smoothed.get(lab, 0.0)))
        self.silent = rec.silent
        if not rec.silent:
            self.top = max(rec.smoothed, key=rec.smoothed.get)  # type: ignore[arg-type]
        else:
            self.silent_windows += 1
        self.level_db = rec.level_db
        self.t = rec.t
        self.windows += 1
        self.latencies.append(rec.latency_ms)
        if dropped_seconds is not None:
            self.dropped_seconds = dropped_seconds

    @property
    def latency_last(self) -> float | None:
        return self.latencies[-1] if self.latencies else None

    @property
    def latency_median(self) -> float | None:
        return statistics.median(self.latencies) if self.latencies else None


def bar(fraction: float, width: int) -> str:
    """A horizontal bar of ``width`` cells filled to ``fraction`` (eighth-cell resolution)."""
    fraction = min(1.0, max(0.0, fraction))
    eighths = int(round(fraction * width * 8))
    full, rest = divmod(eighths, 8)
    s = "█" * full + (EIGHTHS[rest] if rest and full < width else "")
    return s.ljust(width)


def sparkline(values: Sequence[float], width: int) -> str:
    """Values in ``[0, 1]`` as block characters, right-aligned in ``width`` cells."""
    vals = list(values)[-width:]
    chars = "".join(SPARK[min(len(SPARK) - 1, max(0, int(v * (len(SPARK) - 1) + 0.5)))] for v in vals)
    return chars.rjust(width)


def _level_meter(level_db: float, width: int, threshold_db: float) -> Text:
    frac = (max(LEVEL_FLOOR_DB, min(0.0, level_db)) - LEVEL_FLOOR_DB) / -LEVEL_FLOOR_DB
    style = "green" if level_db < -12 else ("yellow" if level_db < -3 else "red")
    if level_db < threshold_db:
        style = "dim"
    return Text(bar(frac, width), style=style)


def render_stream(state: MonitorState, width: int | None = None) -> RenderableType:
    """One stream's panel, fitted to ``width`` terminal columns (``None``: full size, 120)."""
    avail = (width or 120) - 4 - 10 - 6 - 5 - 4  # panel borders, name, percent, raw, column gaps
    bar_width = max(8, min(30, int(avail * 0.45)))
    hist_width = max(0, min(state.history_len, avail - bar_width))
    if state.windows == 0:
        headline = Text("waiting for audio…", style="dim")
    elif state.silent:
        headline = Text.assemble(("silence", "bold dim"), ("   last: ", "dim"), (state.top or "-", COLORS.get(state.top or "", "white")))
    else:
        top = state.top or "-"
        headline = Text.assemble(("top emotion: ", "bold"), (top.upper(), f"bold {COLORS.get(top, 'white')}"), (f"  {state.smoothed.get(top, 0.0) * 100:5.1f}%", "bold"))

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
        name_style = f"bold {color}" if lab == state.top and not state.silent else color
        raw = state.scores.get(lab)
        raw_text = Text("" if raw is None else f"{raw * 100:3.0f}%", style="dim")
        cells = [Text(lab, style=name_style), Text(bar(p, bar_width), style=color), Text(f"{p * 100:5.1f}%"), raw_text]
        if hist_width:
            cells.append(Text(sparkline(state.history[lab], hist_width), style=color))
        table.add_row(*cells)

    last = state.latency_last
    med = state.latency_median
    lat = f"{last:.0f} ms (median {med:.0f} ms)" if last is not None and med is not None else "-"
    footer = Table.grid(padding=(0, 1))
    footer.add_column(no_wrap=True)
    footer.add_column(no_wrap=True)
    footer.add_row(Text("level", style="bold"), Text.assemble(_level_meter(state.level_db, 20, state.silence_db), f" {max(state.level_db, -120.0):6.1f} dBFS"))
    footer.add_row(Text("latency", style="bold"), Text(lat))
    dropped_style = "bold red" if state.dropped_seconds > 0 else ""
    footer.add_row(Text("dropped", style="bold"), Text(f"{state.dropped_seconds:.2f} s audio", style=dropped_style))
    footer.add_row(
        Text("windows", style="bold"),
        Text(f"{state.windows} ({state.silent_windows} silent)   t = {state.t:.1f} s" + ("   [done]" if state.finished else "")),
    )
    return Panel(Group(headline, Text(""), table, Text(""), footer), title=state.title, title_align="left")


def render(states: MonitorState | Sequence[MonitorState], width: int | None = None) -> RenderableType:
    """The whole screen for one or more streams: a pure function of the states (and ``width``)."""
    if isinstance(states, MonitorState):
        states = [states]
    panels = [render_stream(s, width) for s in states]
    if all(s.finished for s in states):
        return Group(*panels)
    return Group(*panels, Text("Ctrl-C to stop", style="dim"))
