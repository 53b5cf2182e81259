"""Online speaker adaptation: running feature statistics shrunk towards the training prior.

A model trained with speaker standardisation saw every training speaker's features as
``(x - mean_s) / std_s`` with that speaker's own statistics. At run time the speaker is unknown,
so :class:`SpeakerAdapter` estimates them from what the session has heard so far (the pooled
features of its voiced windows, labels never used) and shrinks them towards the *prior*: the
training speakers' average statistics, worth ``prior_weight`` windows. With nothing heard the
estimate is the prior itself, which is what a non-adapting session uses.

With ``n`` rows heard (sum ``S``, sum of squares ``Q``) and a prior ``(m0, v0)`` worth ``N0``::

    mean = (N0 * m0 + S) / (N0 + n)
    var  = (N0 * (v0 + m0**2) + Q) / (N0 + n) - mean**2
    weight = n / (N0 + n)      # the share of the speaker's own rows in them (0 while nothing is heard)

A :class:`SpeakerState` carries the three to the model, which may also use ``weight`` to mix in
its unadapted head while little has been heard (:class:`~emomon.models.layer_head.LayerHeadModel`).

:class:`FeatureStats` (the sums) is what a profile stores between sessions (JSON-able).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

EPS = 1e-6


@dataclass
class FeatureStats:
    """Sums of feature rows ``(dims,)``: ``count`` rows, their ``sum`` and ``sumsq`` (float64)."""

    count: float
    sum: np.ndarray
    sumsq: np.ndarray
    seconds: float = 0.0  # seconds of speech the rows came from (what the UI shows)

    @classmethod
    def empty(cls, dims: int) -> "FeatureStats":
        return cls(0.0, np.zeros(dims), np.zeros(dims))

    @classmethod
    def of(cls, rows: np.ndarray, seconds: float = 0.0) -> "FeatureStats":
        """Statistics of ``rows (n, dims)``."""
        r = np.asarray(rows, dtype=np.float64).reshape(-1, np.shape(rows)[-1])
        return cls(float(len(r)), r.sum(axis=0), np.square(r).sum(axis=0), seconds)

    @property
    def dims(self) -> int:
        return int(self.sum.shape[0])

    def add(self, rows: np.ndarray, seconds: float = 0.0) -> None:
        """Add ``rows (n, dims)`` (or one row ``(dims,)``) in place."""
        other = FeatureStats.of(rows, seconds)
        self.count += other.count
        self.sum += other.sum
        self.sumsq += other.sumsq
        self.seconds += seconds

    def __add__(self, other: "FeatureStats") -> "FeatureStats":
        return FeatureStats(self.count + other.count, self.sum + other.sum, self.sumsq + other.sumsq, self.seconds + other.seconds)

    def mean_var(self) -> tuple[np.ndarray, np.ndarray]:
        """``(mean, variance)`` of the rows (population); :class:`ValueError` when empty."""
        if self.count <= 0:
            raise ValueError("no rows")
        mean = self.sum / self.count
        return mean, np.maximum(self.sumsq / self.count - np.square(mean), 0.0)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (a profile file); floats as lists."""
        return {"count": self.count, "seconds": round(self.seconds, 3), "sum": self.sum.tolist(), "sumsq": self.sumsq.tolist()}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], dims: int | None = None) -> "FeatureStats":
        """Inverse of :meth:`to_dict`; :class:`ValueError` on a malformed or mismatched record."""
        try:
            count, seconds = float(d["count"]), float(d.get("seconds", 0.0))
            s = np.asarray(d["sum"], dtype=np.float64)
            q = np.asarray(d["sumsq"], dtype=np.float64)
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"malformed statistics ({exc})") from None
        if s.ndim != 1 or s.shape != q.shape or (dims is not None and s.shape[0] != dims):
            raise ValueError(f"statistics of {s.shape} dims, expected {dims}")
        if not (math.isfinite(count) and count >= 0 and np.isfinite(s).all() and np.isfinite(q).all()):
            raise ValueError("statistics hold non-finite or negative values")
        return cls(count, s, q, seconds)


@dataclass(frozen=True)
class SpeakerState:
    """What a window is standardised with: ``mean``/``std`` ``(dims,)`` and ``weight`` in ``[0, 1]``,
    the share of the speaker's own statistics in them (0: the prior alone, 1: the speaker alone)."""

    mean: np.ndarray
    std: np.ndarray
    weight: float

    @classmethod
    def of(cls, speaker: "SpeakerState | tuple[np.ndarray, np.ndarray]") -> "SpeakerState":
        """A state as is, or ``(mean, std)`` given outright: the speaker's own statistics (weight 1)."""
        return speaker if isinstance(speaker, SpeakerState) else cls(np.asarray(speaker[0]), np.asarray(speaker[1]), 1.0)


@dataclass
class SpeakerAdapter:
    """Running statistics of one session shrunk towards a prior; standardises feature rows.

    ``prior_mean``/``prior_var`` ``(dims,)``: the training speakers' average statistics;
    ``prior_weight``: how many rows the prior is worth; ``heard``: what this session (and a
    loaded profile) has added.
    """

    prior_mean: np.ndarray
    prior_var: np.ndarray
    prior_weight: float
    heard: FeatureStats = field(default=None)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        self.prior_mean = np.asarray(self.prior_mean, dtype=np.float64)
        self.prior_var = np.asarray(self.prior_var, dtype=np.float64)
        if self.heard is None:
            self.heard = FeatureStats.empty(len(self.prior_mean))

    @property
    def dims(self) -> int:
        return int(self.prior_mean.shape[0])

    def mean_std(self, heard: FeatureStats | None = None) -> tuple[np.ndarray, np.ndarray]:
        """``(mean, std)`` ``(dims,)`` from the prior and ``heard`` (default: this session's)."""
        return shrunk_mean_std(self.prior_mean, self.prior_var, self.prior_weight, self.heard if heard is None else heard)

    def state(self, heard: FeatureStats | None = None) -> SpeakerState:
        """The :class:`SpeakerState` of the prior and ``heard`` (default: this session's)."""
        return shrunk_state(self.prior_mean, self.prior_var, self.prior_weight, self.heard if heard is None else heard)

    def standardise(self, rows: np.ndarray) -> np.ndarray:
        """``rows (n, dims)`` standardised with the current statistics, float32."""
        mean, std = self.mean_std()
        return ((np.asarray(rows, dtype=np.float64) - mean) / std).astype(np.float32)

    def update(self, rows: np.ndarray, seconds: float = 0.0) -> None:
        """Add voiced rows ``(n, dims)`` heard by the session (only finite rows count)."""
        r = np.asarray(rows, dtype=np.float64).reshape(-1, self.dims)
        r = r[np.isfinite(r).all(axis=1)]
        if len(r):
            self.heard.add(r, seconds)

    def reset(self) -> None:
        self.heard = FeatureStats.empty(self.dims)


class PriorAdaptive:
    """Speaker adaptation as both layer-head backends have it (a mixin of
    :class:`~emomon.models.layer_head.LayerHeadModel` and :class:`~emomon.models.numpy_head.NumpyHead`):
    ``prior_weight`` (``None``: not trained with speaker standardisation) and the training
    prior, :meth:`training_prior`."""

    prior_weight: float | None

    def training_prior(self) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover - each backend's own
        """The training speakers' average statistics ``(mean, var)`` ``(F,)`` (adaptive models)."""
        raise NotImplementedError

    @property
    def adaptive(self) -> bool:
        return self.prior_weight is not None

    def new_adapter(self) -> SpeakerAdapter | None:
        """A fresh speaker adapter with the training prior (``None``: not adaptive)."""
        if self.prior_weight is None:
            return None
        mean, var = self.training_prior()
        return SpeakerAdapter(mean, var, self.prior_weight)

    def speaker_state(self, speaker: SpeakerState | tuple[np.ndarray, np.ndarray] | None) -> SpeakerState:
        """``speaker`` as a :class:`SpeakerState` (``(mean, std)``: the speaker's own statistics;
        ``None``: the training prior, a speaker nothing has been heard of). Adaptive models only."""
        return SpeakerState.of(speaker) if speaker is not None else self.new_adapter().state()  # type: ignore[union-attr]


def shrunk_mean_std(prior_mean: np.ndarray, prior_var: np.ndarray, prior_weight: float, heard: FeatureStats) -> tuple[np.ndarray, np.ndarray]:
    """``(mean, std)`` of ``heard`` pooled with a prior worth ``prior_weight`` rows (module docstring);
    the prior itself while nothing has been heard (whatever its weight)."""
    n0, n = float(prior_weight), float(heard.count)
    if n <= 0:
        n0 = 1.0
    mean = (n0 * prior_mean + heard.sum) / (n0 + n)
    second = (n0 * (prior_var + np.square(prior_mean)) + heard.sumsq) / (n0 + n)
    return mean, np.sqrt(np.maximum(second - np.square(mean), 0.0) + EPS)


def heard_weight(prior_weight: float, count: float) -> float:
    """``n / (N0 + n)``: the share of ``count`` heard rows against a prior worth ``prior_weight`` (0 when nothing is heard)."""
    n = float(count)
    return 0.0 if n <= 0 else n / (max(float(prior_weight), 0.0) + n)


def shrunk_state(prior_mean: np.ndarray, prior_var: np.ndarray, prior_weight: float, heard: FeatureStats) -> SpeakerState:
    """:func:`shrunk_mean_std` with its :func:`heard_weight`."""
    mean, std = shrunk_mean_std(prior_mean, prior_var, prior_weight, heard)
    return SpeakerState(mean, std, heard_weight(prior_weight, heard.count))


def speaker_prior(per_speaker: Mapping[str, FeatureStats]) -> tuple[np.ndarray, np.ndarray]:
    """The prior ``(mean, var)``: the average over speakers of each speaker's mean and variance
    (every speaker weighs the same, however much they said)."""
    if not per_speaker:
        raise ValueError("no speakers")
    mv = [s.mean_var() for s in per_speaker.values()]
    return np.mean([m for m, _ in mv], axis=0), np.mean([v for _, v in mv], axis=0)
