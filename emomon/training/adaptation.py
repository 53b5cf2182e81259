"""Speaker standardisation in training, and the online-adaptive evaluation.

Training (recipe option ``adapt``): each training speaker's feature rows are standardised with
that speaker's own statistics, taken from the pooled features of their voiced stream windows
(what a stream hears), shrunk towards the prior like the stream's (:mod:`emomon.models.adapt`).
The prior (the speakers' average statistics) is saved with the model.

Evaluation (``"mode": "online-adaptive"``, never mixed with strict figures): each test speaker's
clips are put in a seeded random order and streamed through the adaptation; clip ``i`` is
classified with the statistics of the clips *before* it only (labels never used). A point of the
curve, ``heard = k``, counts the clips at position ``k`` or later, each standardised with the
``k`` clips just before it; ``heard = all`` counts every clip, each with all the clips before it.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from ..models.adapt import FeatureStats, SpeakerState, shrunk_mean_std, speaker_prior

ONLINE_POINTS: tuple[int | None, ...] = (0, 5, 10, 20, None)
"""Clips heard before the classified clip; ``None`` = all the clips before it."""


def point_name(heard: int | None) -> str:
    return "all" if heard is None else str(heard)


@dataclass
class SpeakerNorm:
    """Per-speaker ``(mean, std)`` ``(F,)`` for training rows and the prior ``(mean, var)`` saved with the model."""

    per_speaker: dict[str, tuple[np.ndarray, np.ndarray]]
    prior_mean: np.ndarray
    prior_var: np.ndarray
    prior_weight: float

    def apply(self, x: np.ndarray, speakers: Sequence[str]) -> np.ndarray:
        """Rows ``x (n, F)`` of ``speakers (n,)``, each standardised with its speaker's statistics."""
        out = np.empty_like(x, dtype=np.float32)
        speakers = np.asarray(speakers)
        for s, (mean, std) in self.per_speaker.items():
            rows = speakers == s
            out[rows] = (x[rows] - mean) / std
        missing = set(np.unique(speakers)) - set(self.per_speaker)
        if missing:
            raise KeyError(f"no statistics for speakers {sorted(missing)[:3]}")
        return out

    def apply_prior(self, x: np.ndarray) -> np.ndarray:
        """Rows ``x (n, F)`` standardised with the prior alone: a speaker nothing has been heard of."""
        mean, std = shrunk_mean_std(self.prior_mean, self.prior_var, self.prior_weight, FeatureStats.empty(x.shape[1]))
        return ((x - mean) / std).astype(np.float32)


def _heard_by_speaker(clip_rows: Sequence[np.ndarray], fallback: np.ndarray, speakers: Sequence[str],
                      keep: Sequence[bool] | None = None) -> dict[str, FeatureStats]:
    """Per speaker, the statistics of their clips' rows (only the clips ``keep`` marks, when given)."""
    heard: dict[str, FeatureStats] = {}
    for i, (rows, whole, s) in enumerate(zip(clip_rows, fallback, speakers)):
        if keep is not None and not keep[i]:
            continue
        r = rows if len(rows) else whole[None, :]
        if s in heard:
            heard[s].add(r)
        else:
            heard[s] = FeatureStats.of(r)
    return heard


def fit_speaker_norm(clip_rows: Sequence[np.ndarray], fallback: np.ndarray, speakers: Sequence[str], prior_weight: float) -> SpeakerNorm:
    """Statistics of each speaker's rows: ``clip_rows[i] (voiced windows, F)`` of clip ``i``
    (a clip without voiced windows contributes ``fallback[i] (F,)``, its whole-clip features)."""
    heard = _heard_by_speaker(clip_rows, fallback, speakers)
    mean0, var0 = speaker_prior(heard)
    per = {s: shrunk_mean_std(mean0, var0, prior_weight, st) for s, st in heard.items()}
    return SpeakerNorm(per, mean0, var0, prior_weight)


def partial_speaker_norm(norm: SpeakerNorm, clip_rows: Sequence[np.ndarray], fallback: np.ndarray, speakers: Sequence[str],
                         clips: int, seed: int = 0) -> SpeakerNorm:
    """``norm``'s prior, each speaker standardised with ``clips`` of their clips only (a seeded draw,
    :func:`stream_order`'s first ones): a session part-way through, as the online evaluation sees it."""
    keep = stream_order(speakers, seed) < clips
    heard = _heard_by_speaker(clip_rows, fallback, speakers, keep)
    per = {s: shrunk_mean_std(norm.prior_mean, norm.prior_var, norm.prior_weight, st) for s, st in heard.items()}
    return SpeakerNorm(per, norm.prior_mean, norm.prior_var, norm.prior_weight)


def stream_order(speakers: Sequence[str], seed: int) -> np.ndarray:
    """``(n,)`` position of each clip within its speaker's seeded random order."""
    speakers = list(speakers)
    pos = np.zeros(len(speakers), dtype=np.int64)
    for s in sorted(set(speakers)):
        idx = np.array([i for i, t in enumerate(speakers) if t == s])
        rng = np.random.default_rng([seed, zlib.crc32(s.encode())])
        pos[idx[rng.permutation(len(idx))]] = np.arange(len(idx))
    return pos


@dataclass
class OnlinePoint:
    """One point of the curve: ``probs (n, labels)`` of every clip and which clips it counts."""

    heard: int | None
    probs: np.ndarray
    counted: np.ndarray  # (n,) bool


def online_points(
    x: np.ndarray,
    clip_stats: Sequence[FeatureStats],
    speakers: Sequence[str],
    state: Callable[[FeatureStats], SpeakerState],
    classify: Callable[[np.ndarray, SpeakerState], np.ndarray],
    seed: int = 0,
    points: Sequence[int | None] = ONLINE_POINTS,
) -> list[OnlinePoint]:
    """The online-adaptive curve (module docstring) for clips with whole-clip features ``x (n, F)``.

    ``clip_stats[i]``: what the stream hears of clip ``i`` (its voiced windows' features);
    ``state(heard)``: the model's :class:`SpeakerState` after ``heard`` (its prior shrunk towards
    it, e.g. :meth:`SpeakerAdapter.state`); ``classify(rows (1, F), state) -> (1, labels)``.
    """
    pos = stream_order(speakers, seed)
    speakers = np.asarray(speakers)
    order_of: dict[str, list[int]] = {}
    for i in np.argsort(pos, kind="stable"):
        order_of.setdefault(str(speakers[i]), []).append(int(i))
    out = []
    for k in points:
        probs, counted = None, np.zeros(len(x), dtype=bool)
        for clips in order_of.values():
            for p, i in enumerate(clips):
                if k is not None and p < k:
                    continue
                history = clips[: p] if k is None else clips[p - k : p]
                heard = sum((clip_stats[j] for j in history), FeatureStats.empty(x.shape[1]))
                row = classify(x[i : i + 1], state(heard))
                if probs is None:
                    probs = np.full((len(x), row.shape[1]), np.nan)
                probs[i], counted[i] = row[0], True
        out.append(OnlinePoint(k, probs if probs is not None else np.zeros((len(x), 0)), counted))
    return out


def balanced_answers(probs: np.ndarray, sessions: Sequence[str], seed: int, train_prior: np.ndarray,
                     history: int, weight: float) -> np.ndarray:
    """``probs (n, labels)`` as a live session's answer balance would give them (its own labelled mode).

    Each session's clips (``sessions (n,)``: a speaker, or a speaker and emotion) are taken in
    :func:`stream_order`; clip ``i`` is re-weighted by :class:`~emomon.models.priors.AnswerBalance`
    over the posteriors of the ``history`` clips before it (shrunk by ``weight`` pseudo-clips).
    ``probs`` are what the session answered before the balance (e.g. an online-adaptive point)."""
    from ..models.priors import AnswerBalance

    pos = stream_order(sessions, seed)
    sessions = np.asarray(sessions)
    out = np.empty_like(np.asarray(probs, dtype=np.float64))
    for s in np.unique(sessions):
        idx = np.flatnonzero(sessions == s)
        balance = AnswerBalance(train_prior, history, weight)
        for i in idx[np.argsort(pos[idx], kind="stable")]:
            out[i] = balance.answer(probs[i])
    return out
