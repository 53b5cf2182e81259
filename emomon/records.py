"""Typed records: the contracts between emomon's layers.

* :class:`Utterance` — one labelled clip of a corpus (what the training package reads).
* :class:`Prediction` — a classifier's answer for a span of audio.
* :class:`WindowRecord` — one window of a stream (what ``listen`` and ``file --stream`` emit).
* :class:`Segment` and :class:`FileResult` — the timeline of a file (what ``file`` emits).
* :class:`SessionInfo` and :class:`SessionSummary` — the first and last record of a stream log
  (:class:`StreamSummary`: each stream's part of the last).

Every record has ``to_dict()`` giving its JSON form (scores rounded to 6 digits, times to 4);
sinks (screen, JSONL, CSV, plot) need nothing but records.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Mapping

SCORE_DIGITS = 6
TIME_DIGITS = 4


def round_scores(scores: Mapping[str, float] | None) -> dict[str, float | None] | None:
    """Scores rounded to :data:`SCORE_DIGITS` digits; a non-finite value becomes ``None`` (strict JSON)."""
    if scores is None:
        return None
    return {k: (round(float(v), SCORE_DIGITS) if math.isfinite(v) else None) for k, v in scores.items()}


def rounded(value: float | None, digits: int) -> float | None:
    """``value`` rounded to ``digits``; ``None`` for ``None`` and for NaN/Inf (strict JSON)."""
    if value is None or not math.isfinite(value):
        return None
    return round(float(value), digits)


def _strict(value: Any) -> Any:
    """``value`` with every NaN/±Inf float, at any depth of dicts/lists/tuples, replaced by ``None``."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {k: _strict(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_strict(v) for v in value]
    return value


def dumps(record: Mapping[str, Any], indent: int | None = None) -> str:
    """A record's ``to_dict()`` as one strict JSON line (or indented text): NaN/Infinity, which
    strict parsers reject, are written as null (records already make them so; this catches any other)."""
    return json.dumps(_strict(record), allow_nan=False, ensure_ascii=False, indent=indent)


def iso_time(moment: datetime) -> str:
    """ISO 8601 with the local timezone and milliseconds, e.g. ``2026-11-25T14:03:07.512+01:00``."""
    return moment.astimezone().isoformat(timespec="milliseconds")


def top_label(scores: Mapping[str, float]) -> str:
    """The label with the highest score."""
    return max(scores, key=lambda k: scores[k])


def is_uncertain(scores: Mapping[str, float] | None, min_confidence: float | None) -> bool:
    """True when ``min_confidence`` is set and the top score is below it."""
    if scores is None or min_confidence is None:
        return False
    return max(scores.values()) < min_confidence


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
        d.update(label=self.label, scores=round_scores(self.scores), start=round(self.start, TIME_DIGITS),
                 end=round(self.end, TIME_DIGITS))
        return d


@dataclass(frozen=True)
class WindowRecord:
    """One analysed window of a stream.

    ``t`` is the end of the window in seconds since the stream started, ``time`` the wall-clock
    moment its last sample was captured. ``speech`` is the fraction of the window's audio that
    the voice activity detector calls speech; below the minimum the window is not classified:
    ``label`` and ``scores`` are ``None`` and ``reason`` says why ("no speech"), and the smoothed
    distribution is left as it was; other reasons are "non-finite samples" (the window holds NaN or
    Inf samples), "too short" (less real audio than the shortest speech) and "non-finite scores"
    (the model answered NaN/Inf). ``scores`` are this window's probabilities, ``smoothed`` the
    exponential moving average over the stream's speech windows so far. ``uncertain`` marks a
    label whose top probability is below ``--min-confidence``.

    ``latency_ms`` is capture-to-result for real-time sources (microphone, paced file) and
    ``None`` for a file read as fast as possible, where waiting time is queueing, not latency;
    ``compute_ms`` is the model's compute time for this window (its batch's time / batch size;
    ``None`` when the window was not classified). ``dropped_s`` counts the audio the stream's
    ring buffer has dropped so far. ``adapted_s`` is the seconds of speech the stream's speaker
    adapter has heard so far, this window's included (a loaded profile's too); ``None`` when the
    stream does not adapt. ``caution`` is ``"unfamiliar voice"`` while the stream's recent answers
    collapse into one class with small margins (:mod:`emomon.stream.familiarity`; ``uncertain``
    is then true as well, and the label is the model's answer, not to be trusted); else ``None``.
    """

    t: float
    label: str | None
    scores: dict[str, float] | None
    smoothed: dict[str, float]
    speech: float
    level_db: float
    latency_ms: float | None = None
    compute_ms: float | None = None
    dropped_s: float = 0.0
    reason: str | None = None
    uncertain: bool = False
    stream: str = "0"
    time: datetime | None = None
    adapted_s: float | None = None
    caution: str | None = None

    @property
    def is_speech(self) -> bool:
        """Whether the window was classified (enough speech in it)."""
        return self.label is not None

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": "window",
            "t": rounded(self.t, TIME_DIGITS),
            "time": iso_time(self.time) if self.time is not None else None,
            "stream": self.stream,
            "label": self.label,
            "reason": self.reason,
            "uncertain": self.uncertain,
            "caution": self.caution,
            "scores": round_scores(self.scores),
            "smoothed": round_scores(self.smoothed),
            "speech": rounded(self.speech, 3),
            "level_db": rounded(self.level_db, 2),
            "latency_ms": rounded(self.latency_ms, 2),
            "compute_ms": rounded(self.compute_ms, 2),
            "dropped_s": rounded(self.dropped_s, 3),
            "adapted_s": rounded(self.adapted_s, 3),
        }


@dataclass(frozen=True)
class Segment:
    """A stretch of speech in a file, ``[start, end)`` seconds, and the model's answer for it."""

    start: float
    end: float
    label: str
    scores: dict[str, float]
    uncertain: bool = False

    @property
    def duration(self) -> float:
        return self.end - self.start

    def to_dict(self) -> dict[str, Any]:
        return {
            "start": round(self.start, TIME_DIGITS),
            "end": round(self.end, TIME_DIGITS),
            "label": self.label,
            "uncertain": self.uncertain,
            "scores": round_scores(self.scores),
        }


@dataclass(frozen=True)
class FileResult:
    """The timeline of one file: its speech segments and a summary of them.

    ``speech`` is the seconds of speech (the segments' total); ``label``/``scores`` summarise the
    speech (time-weighted mean of the segments' scores), ``None`` with a ``reason`` when there
    is none. A file that could not be read has ``error`` set and nothing else.
    """

    path: str
    duration: float | None
    speech: float
    label: str | None
    scores: dict[str, float] | None
    segments: list[Segment] = field(default_factory=list)
    reason: str | None = None
    uncertain: bool = False
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        if self.error is not None:
            return {"path": self.path, "error": self.error}
        return {
            "path": self.path,
            "duration": rounded(self.duration, TIME_DIGITS),
            "speech": rounded(self.speech, TIME_DIGITS),
            "label": self.label,
            "reason": self.reason,
            "uncertain": self.uncertain,
            "scores": round_scores(self.scores),
            "segments": [s.to_dict() for s in self.segments],
        }


@dataclass(frozen=True)
class SessionInfo:
    """The first record of a stream log: which model, which settings, when, which streams."""

    start: datetime
    model: str
    settings: dict[str, Any]
    streams: list[str]
    version: str

    def to_dict(self) -> dict[str, Any]:
        return {"type": "session", "time": iso_time(self.start), "emomon": self.version, "model": self.model,
                "streams": list(self.streams), "settings": dict(self.settings)}


@dataclass(frozen=True)
class StreamSummary:
    """One stream's part of a :class:`SessionSummary`: its name (a file's path, a device's
    name, ``mic``), windows emitted and those with speech, audio dropped (seconds) in how many
    gaps, windows skipped for NaN/Inf samples, and a live device's PortAudio status flags
    (``None`` for a file)."""

    stream: str
    windows: int
    speech_windows: int
    dropped_s: float
    gaps: int = 0
    nonfinite_windows: int = 0
    input_overflows: int | None = None
    input_underflows: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"stream": self.stream, "windows": self.windows, "speech_windows": self.speech_windows,
                "dropped_s": round(self.dropped_s, 3), "gaps": self.gaps, "nonfinite_windows": self.nonfinite_windows,
                "input_overflows": self.input_overflows, "input_underflows": self.input_underflows}


@dataclass(frozen=True)
class SessionSummary:
    """The last record of a stream log: how it went.

    ``completed``: the streams ran to their end (not stopped by Ctrl-C, SIGTERM or an error);
    ``stopped_by``: ``"interrupt"`` (Ctrl-C), ``"terminate"`` (SIGTERM) or ``"error"``, ``None``
    when completed; ``error``: the one-line error that ended it (a device that stalled);
    ``input_overflows``/``input_underflows``: PortAudio's status flags counted on live devices
    (``None`` without one); ``gaps``: how often audio was dropped (each restarts a stream's
    windowing); ``nonfinite_windows``: windows holding NaN/Inf samples, marked and not classified;
    ``streams``: the same figures per stream (:class:`StreamSummary`), in the session's order.
    """

    end: datetime
    windows: int
    speech_windows: int
    dropped_s: float
    latency_median_ms: float | None
    compute_median_ms: float | None
    completed: bool
    stopped_by: str | None = None
    error: str | None = None
    input_overflows: int | None = None
    input_underflows: int | None = None
    gaps: int = 0
    nonfinite_windows: int = 0
    streams: tuple[StreamSummary, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        rnd = lambda v: None if v is None else round(v, 2)  # noqa: E731
        return {"type": "summary", "time": iso_time(self.end), "windows": self.windows,
                "speech_windows": self.speech_windows, "dropped_s": round(self.dropped_s, 3),
                "latency_median_ms": rnd(self.latency_median_ms), "compute_median_ms": rnd(self.compute_median_ms),
                "completed": self.completed, "stopped_by": self.stopped_by, "error": self.error,
                "input_overflows": self.input_overflows, "input_underflows": self.input_underflows,
                "gaps": self.gaps, "nonfinite_windows": self.nonfinite_windows,
                "streams": [s.to_dict() for s in self.streams]}
