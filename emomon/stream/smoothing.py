"""Exponential moving average over window distributions (shown apart from the raw scores)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Ema:
    """EMA of probability vectors ``(labels,)``.

    ``factor`` is the weight of the past, in ``[0, 1)``: ``smoothed = factor * smoothed +
    (1 - factor) * new``; 0 means no smoothing. The first update takes the new vector as is;
    before any update :attr:`value` is uniform.
    """

    num_labels: int
    factor: float = 0.6
    _value: np.ndarray | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if not 0.0 <= self.factor < 1.0:
            raise ValueError("smoothing factor must be in [0, 1)")

    def update(self, probs: np.ndarray) -> np.ndarray:
        """Fold ``probs (labels,)`` in and return the smoothed vector ``(labels,)``."""
        probs = np.asarray(probs, dtype=np.float64)
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
