"""Stretches of speech in a stream of window records: a ``segment`` message when one ends."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ..records import WindowRecord, is_uncertain
from .protocol import SegmentMessage


class SegmentTracker:
    """Folds window records into stretches of speech.

    A run of consecutive speech windows (``label`` not ``None``) is one stretch; the first window
    without speech, or :meth:`close` (the stream's end, a flush), ends it and :meth:`push` /
    :meth:`close` return its :class:`SegmentMessage`: ``start`` is the end of the window before
    the stretch (``t - hop`` of its first window, at least 0), ``end`` its last window's ``t``,
    ``scores`` the mean of its windows' scores.
    """

    def __init__(self, labels: Sequence[str], hop: float, stream: str, min_confidence: float | None = None) -> None:
        self.labels = list(labels)
        self.hop = hop
        self.stream = stream
        self.min_confidence = min_confidence
        self._start: float | None = None
        self._end = 0.0
        self._sum = np.zeros(len(self.labels), dtype=np.float64)
        self._n = 0

    def push(self, rec: WindowRecord) -> SegmentMessage | None:
        """Fold in one record; the segment it ends, if any."""
        if rec.label is None or rec.scores is None:
            return self.close()
        if self._start is None:
            self._start = max(0.0, rec.t - self.hop)
        self._end = rec.t
        self._sum += np.array([rec.scores.get(lab, 0.0) for lab in self.labels], dtype=np.float64)
        self._n += 1
        return None

    def close(self) -> SegmentMessage | None:
        """End the open stretch (if any) and return its segment."""
        if self._start is None or self._n == 0:
            return None
        mean = self._sum / self._n
        scores = {lab: float(p) for lab, p in zip(self.labels, mean)}
        seg = SegmentMessage(stream=self.stream, start=self._start, end=self._end, label=self.labels[int(np.argmax(mean))],
                             scores=scores, windows=self._n, uncertain=is_uncertain(scores, self.min_confidence))
        self._start, self._n = None, 0
        self._sum[:] = 0.0
        return seg
