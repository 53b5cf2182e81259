"""A confidence floor for voices the model does not know: answers that collapse into one class.

On a voice unlike its training actors a classifier tends to give one label for everything (a
held-out corpus: 70 % of clips called *disgust*), with small margins between its first and
second choice. Repeating that label is the worst thing a monitor can do, so each stream keeps a
:class:`CollapseWatch` over its recent speech windows: when, over the last ``span_s`` seconds,
one class holds more than ``share`` of at least ``min_windows`` answers and their mean margin
(top probability minus the second, ``(windows,)``) is below ``margin``, the stream's answers are
marked ``caution="unfamiliar voice"`` (and uncertain) until that stops being true.

A person who really stays angry for a minute answers *angry* with wide margins and is not
flagged; that is what the margin is for (its default is measured in
``benchmarks/collapse_watch.py``). Numpy only.
"""

from __future__ import annotations

from collections import deque
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from .. import defaults
from ..errors import EmomonError

UNFAMILIAR = "unfamiliar voice"  # the caution a collapsed stream's records carry


@dataclass(frozen=True)
class CollapseOptions:
    """When a stream's answers count as collapsed (module docstring); defaults from :mod:`emomon.defaults`.

    ``span_s``: seconds of stream time looked back over; ``share``: the largest class's share of
    the speech windows in it above which they collapse; ``margin``: ... when their mean margin
    (top minus second probability) is also below this; ``min_windows``: fewer speech windows in
    the span are never called collapsed.
    """

    span_s: float = defaults.COLLAPSE_SPAN_S
    share: float = defaults.COLLAPSE_SHARE
    margin: float = defaults.COLLAPSE_MARGIN
    min_windows: int = defaults.COLLAPSE_MIN_WINDOWS

    def check(self) -> "CollapseOptions":
        """Itself, checked (bad values raise EmomonError naming the option)."""
        if not self.span_s > 0:
            raise EmomonError("collapse.span_s", f"must be positive seconds (got {self.span_s})")
        if not 0.0 < self.share <= 1.0:
            raise EmomonError("collapse.share", f"must be in (0, 1] (got {self.share})")
        if not 0.0 <= self.margin <= 1.0:
            raise EmomonError("collapse.margin", f"must be in [0, 1] (got {self.margin})")
        if self.min_windows < 1:
            raise EmomonError("collapse.min_windows", f"must be at least 1 (got {self.min_windows})")
        return self

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def collapse_options(check: bool = defaults.COLLAPSE_CHECK) -> CollapseOptions | None:
    """The default :class:`CollapseOptions` when ``check`` (``None``: streams are not checked)."""
    return CollapseOptions() if check else None


def margin(probs: np.ndarray) -> float:
    """Top probability minus the second of ``probs (labels,)`` (1.0 for a single label)."""
    p = np.sort(np.asarray(probs, dtype=np.float64).reshape(-1))
    return float(p[-1] - p[-2]) if len(p) > 1 else 1.0


class CollapseWatch:
    """One stream's recent answers ``(t, class, margin)`` and whether they have collapsed."""

    def __init__(self, options: CollapseOptions | None = None) -> None:
        self.options = (options or CollapseOptions()).check()
        self._recent: deque[tuple[float, int, float]] = deque()
        self.collapsed = False

    def observe(self, t: float, probs: np.ndarray) -> bool:
        """Fold in the answer ``probs (labels,)`` of the speech window ending at ``t`` seconds;
        returns whether the stream's answers are collapsed as of it (also :attr:`collapsed`)."""
        probs = np.asarray(probs, dtype=np.float64).reshape(-1)
        self._recent.append((float(t), int(np.argmax(probs)), margin(probs)))
        while self._recent and self._recent[0][0] <= t - self.options.span_s:
            self._recent.popleft()
        self.collapsed = self._judge()
        return self.collapsed

    def _judge(self) -> bool:
        o = self.options
        if len(self._recent) < o.min_windows:
            return False
        classes = np.fromiter((c for _, c, _ in self._recent), dtype=np.int64)
        top = int(np.bincount(classes).argmax())
        mine = classes == top
        if mine.mean() <= o.share:
            return False
        margins = np.fromiter((m for _, _, m in self._recent), dtype=np.float64)[mine]
        return bool(margins.mean() < o.margin)
