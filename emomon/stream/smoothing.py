"""Exponential moving average over window distributions (shown apart from the raw scores)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

log = logging.getLogger(__name__)


@dataclass
class Ema:
    """EMA of probability vectors ``(labels,)``.

    ``factor`` is the weight of the past, in ``[0, 1)``: ``smoothed = factor * smoothed +
    (1 - factor) * new``; 0 means no smoothing. The first update takes the new vector as is;
    before any update :attr:`value` is uniform. A vector holding NaN/Inf (or of the wrong shape)
    is ignored, so the average can never be poisoned: :attr:`ignored` counts them.
    """

    num_labels: int
    factor: float = 0.6
    _value: np.ndarray | None = field(default=None, repr=False)
    ignored: int = 0

    def __post_init__(self) -> None:
        if not 0.0 <= self.factor < 1.0:
            raise ValueError("smoothing factor must be in [0, 1)")

    def update(self, probs: np.ndarray) -> np.ndarray:
        """Fold ``probs (labels,)`` in and return the smoothed vector ``(labels,)``; a vector with
        NaN/Inf or not of shape ``(labels,)`` is left out (the value stays as it was)."""
        probs = np.asarray(probs, dtype=np.float64)
        if probs.shape != (self.num_labels,) or not np.isfinite(probs).all():
            self.ignored += 1
            log.warning("smoothing: ignored a probability vector of shape %s with non-finite values or the wrong shape",
                        probs.shape)
            return self.value
        if self._value is None:
            self._value = probs.copy()
        else:
            self._value = self.factor * self._value + (1.0 - self.factor) * probs
        return self.value

    @property
    def value(self) -> np.ndarray:
        if self._value is None:
            return np.full(self.num_labels, 1.0 / self.num_labels)
        return self._value.copy()

    @property
    def started(self) -> bool:
        return self._value is not None
