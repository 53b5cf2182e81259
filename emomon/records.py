"""Typed records: the contracts between emomon's layers.

* :class:`Utterance` — one labelled clip of a corpus (what the training package reads).
* :class:`Prediction` — a classifier's answer for a span of audio.
* :class:`WindowRecord` — one window of a stream (what ``listen`` and ``file --stream`` emit).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Mapping


@dataclass(frozen=True)
class Utterance:
    """One clip of a corpus.

    ``emotion`` is a canonical label (see :mod:`emomon.labels`); ``speaker`` is unique within
    the corpus (e.g. ``"ravdess:07"``) so that protocols can split by speaker.
    """

    id: str
    path: str
    emotion: str
    speaker: str
    corpus: str
    gender: str | None = None
    intensity: str | None = None
    statement: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["extra"] = dict(self.extra)
        return d


@dataclass(frozen=True)
class Prediction:
    """A classifier's answer for ``[start, end)`` seconds of a source.

    ``scores`` maps every label of the model to its probability (they sum to 1).
    """

    label: str
    scores: dict[str, float]
    start: float = 0.0
    end: float = 0.0
    path: str | None = None

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {}
        if self.path is not None:
            d["path"] = self.path
        d.update(label=self.label, scores=dict(self.scores), start=self.start, end=self.end)
        return d


@dataclass(frozen=True)
class WindowRecord:
    """One analysed window of a stream.

    ``t`` is the end of the window in seconds since the stream started; ``label`` is ``None``
    for a silent window. ``scores`` are the raw probabilities of this window, ``smoothed`` the
    exponential moving average over the stream so far. ``latency_ms`` is capture-to-result.
    """

    t: float
    label: str | None
    scores: dict[str, float]
    smoothed: dict[str, float]
    silent: bool
    latency_ms: float
    level_db: float
    stream: str = "0"

    def to_dict(self) -> dict[str, Any]:
        return {
            "t": round(self.t, 4),
            "label": self.label,
            "scores": {k: round(v, 6) for k, v in self.scores.items()},
            "smoothed": {k: round(v, 6) for k, v in self.smoothed.items()},
            "silent": self.silent,
            "latency_ms": round(self.latency_ms, 2),
            "level_db": round(self.level_db, 2),
            "stream": self.stream,
        }
