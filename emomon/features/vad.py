"""Silence gate: an energy threshold on the window's RMS level in dBFS.

Silent windows are still scored, but get ``silent=True`` and ``label=None`` and leave the
smoothed distribution unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FLOOR_DB = -120.0


def rms_dbfs(samples: np.ndarray) -> float:
    """RMS level of float samples ``(n,)`` in dB relative to full scale (1.0); -120 for silence."""
    if samples.size == 0:
        return FLOOR_DB
    rms = float(np.sqrt(np.mean(np.square(samples, dtype=np.float64))))
    if rms <= 1e-6:
        return FLOOR_DB
    return max(FLOOR_DB, 20.0 * float(np.log10(rms)))


@dataclass
class EnergyGate:
    """``threshold_db``: windows whose level is below it are silent (default -45 dBFS)."""

    threshold_db: float = -45.0

    def is_silent(self, level_db: float) -> bool:
        return level_db < self.threshold_db
