"""Per-speaker feature normalisation (the labelled ``speaker-norm`` mode).

In ``--normalize speaker`` mode each speaker's features are standardised with statistics of
that speaker's own clips — train and test speakers alike, labels unused (it needs unlabelled
audio of the test speaker, which is why it is a separate, labelled mode: metrics.json
``"mode": "speaker-norm"``). The default mode ``strict`` uses no test-speaker statistics.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

MODES = ("strict", "speaker-norm")


@dataclass
class SpeakerStats:
    """Mean and std ``(dims,)`` of one speaker's feature rows."""

    mean: np.ndarray
    std: np.ndarray


def mode_from_option(normalize: str) -> str:
    """``--normalize strict|speaker`` → metrics.json mode ``strict|speaker-norm``."""
    if normalize in ("strict", "none"):
        return "strict"
    if normalize in ("speaker", "speaker-norm"):
        return "speaker-norm"
    raise ValueError(f"unknown normalisation {normalize!r} (strict or speaker)")


def _rows(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    return x.reshape(1, -1) if x.ndim == 1 else x.reshape(-1, x.shape[-1])


def speaker_stats(features: Sequence[np.ndarray], speakers: Sequence[str], eps: float = 1e-6) -> dict[str, SpeakerStats]:
    """Per-speaker statistics over all rows of their clips' features.

    ``features[i]`` is ``(dims,)`` (one row per clip) or ``(frames, dims)`` (every frame a row).
    """
    if len(features) != len(speakers):
        raise ValueError("features and speakers differ in length")
    groups: dict[str, list[np.ndarray]] = {}
    for f, s in zip(features, speakers):
        groups.setdefault(s, []).append(_rows(f))
    out = {}
    for s, rows in groups.items():
        allr = np.concatenate(rows, axis=0)
        out[s] = SpeakerStats(allr.mean(axis=0), np.maximum(allr.std(axis=0), eps))
    return out


def apply_speaker_norm(x: np.ndarray, stats: SpeakerStats) -> np.ndarray:
    """``(x - mean) / std`` over the last axis, float32."""
    return ((np.asarray(x, dtype=np.float64) - stats.mean) / stats.std).astype(np.float32)


def normalize_by_speaker(features: Sequence[np.ndarray], speakers: Sequence[str], stats: Mapping[str, SpeakerStats]) -> list[np.ndarray]:
    """Each clip's features normalised with its speaker's statistics."""
    missing = sorted({s for s in speakers if s not in stats})
    if missing:
        raise KeyError(f"no statistics for speakers {missing[:5]}")
    return [apply_speaker_norm(f, stats[s]) for f, s in zip(features, speakers)]
