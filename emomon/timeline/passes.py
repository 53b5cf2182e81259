"""The building blocks of a file's timeline: its options, its two passes, its result.

1. :func:`vad_pass` — voice activity on every 32 ms frame of the file decoded block by block
   (:class:`~emomon.features.vad.VoiceActivity`), then its speech segments
   (:mod:`emomon.features.segments`); a short file's decoded blocks are kept for pass 2;
2. :func:`classify_pass` — each segment's window of audio cut from the blocks again
   (:func:`cut_windows`) and scored in batches by any function of the windows.

:func:`file_result` makes a file's :class:`~emomon.records.FileResult` from its segments and
their probabilities; :func:`error_result` one for a file that failed. One file at a time
(:mod:`.analyze`), many files in shared batches (:mod:`.batched`) and an adapted session
(:mod:`.session`) are all made of these.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator, Sequence

import numpy as np

from .. import defaults
from ..audio import AudioSource, decode_blocks
from ..errors import AudioError, EmomonError
from ..features.segments import Span, segments_of
from ..features.vad import VadOptions, VoiceActivity
from ..features.windows import check_window
from ..records import FileResult, Segment, is_uncertain, top_label

log = logging.getLogger(__name__)

Progress = Callable[[float], None]  # fraction of this file's work done, in [0, 1]
Rows = Callable[[np.ndarray], np.ndarray]  # windows (batch, samples) -> one row each (batch, width)
VAD_SHARE = 0.15  # of a file's work: the first pass (decode + VAD) is the cheap one


@dataclass(frozen=True)
class FileOptions:
    """How files are analysed (defaults from :mod:`emomon.defaults`).

    ``vad``: voice activity settings; ``window``: the longest segment and the audio each is
    classified on, in seconds (``None``: the model's window); ``min_confidence``: answers whose
    top probability is below it are marked uncertain; ``batch``: segments per forward pass;
    ``block``: seconds decoded at a time.
    """

    vad: VadOptions = field(default_factory=VadOptions)
    window: float | None = None
    min_confidence: float | None = defaults.MIN_CONFIDENCE
    batch: int = defaults.MAX_BATCH
    block: float = defaults.DECODE_BLOCK_S

    def __post_init__(self) -> None:
        check_window(self.window)
        if self.min_confidence is not None and not 0.0 <= self.min_confidence <= 1.0:
            raise EmomonError("min_confidence", f"must be between 0 and 1 (got {self.min_confidence})")


def source_name(source: AudioSource) -> str:
    """How a source is named in results: its path, or ``<array>`` / ``<bytes>``."""
    if isinstance(source, np.ndarray):
        return "<array>"
    if isinstance(source, (bytes, bytearray, memoryview)):
        return "<bytes>"
    return str(source)


def vad_pass(source: AudioSource, rate: int, options: FileOptions, source_rate: int | None,
             progress: Progress | None, expected: float | None) -> tuple[int, list[Span], list[np.ndarray] | None]:
    """Pass 1: ``(samples, segments, blocks)`` of the file; ``blocks`` are its decoded blocks when
    it is at most ``defaults.KEEP_DECODED_S`` long (pass 2 cuts from them instead of decoding
    the file again), else ``None``."""
    va = VoiceActivity(options.vad, rate)
    n = 0
    kept: list[np.ndarray] | None = []
    keep_limit = defaults.KEEP_DECODED_S * rate
    for block in decode_blocks(source, rate, source_rate, options.block):
        va.push(block)
        n += len(block)
        kept = kept + [block] if kept is not None and n <= keep_limit else None
        if progress is not None and expected:
            progress(VAD_SHARE * min(1.0, n / (expected * rate)))
    va.finish()
    if n == 0:
        raise AudioError(source_name(source), "no samples")
    return n, segments_of(va.flags(), n / rate, options.vad, options.window or 0.0), kept


def cut_windows(blocks: Iterable[np.ndarray], slices: Sequence[tuple[int, int]], name: str,
                on_block: Callable[[int], None] | None = None) -> Iterator[tuple[int, np.ndarray]]:
    """``(i, samples)`` of each of ``slices`` (sample ranges, in order of their ends) cut from
    consecutive ``blocks``, holding no more audio than the slices still need; ``on_block(end)``
    after each block (``end``: samples read so far)."""
    buf = np.zeros(0, dtype=np.float32)
    buf_start = 0  # absolute sample index of buf[0]
    nxt = 0  # next slice to cut
    for block in blocks:
        buf = np.concatenate([buf, block])
        end = buf_start + len(buf)
        while nxt < len(slices) and slices[nxt][1] <= end:
            a, b = slices[nxt]
            yield nxt, buf[a - buf_start : b - buf_start].copy()
            nxt += 1
        keep_from = min(slices[nxt][0], end) if nxt < len(slices) else end
        buf, buf_start = buf[keep_from - buf_start :], keep_from
        if on_block is not None:
            on_block(end)
    if nxt < len(slices):  # the second decode came out shorter than the first
        raise AudioError(name, "the audio changed while it was read")


def classify_pass(blocks: Iterable[np.ndarray], name: str, rows_of: Rows, slices: Sequence[tuple[int, int]], options: FileOptions,
                  progress: Progress | None, total: int) -> np.ndarray:
    """Pass 2: ``rows_of`` each segment's audio, ``(segments, width)``, cut from ``blocks`` (the
    file decoded again block by block, or pass 1's blocks): probabilities ``(segments, labels)``
    for ``model.predict_proba``."""
    probs: np.ndarray | None = None
    batch: list[tuple[int, np.ndarray]] = []

    def run_batch() -> None:
        nonlocal probs
        if batch:
            p = np.asarray(rows_of(np.stack([x for _, x in batch])))
            if probs is None:
                probs = np.zeros((len(slices), p.shape[1]), dtype=p.dtype)
            for (i, _), row in zip(batch, p):
                probs[i] = row
            batch.clear()

    def on_block(end: int) -> None:
        if progress is not None:
            progress(VAD_SHARE + (1 - VAD_SHARE) * min(1.0, end / total))

    for i, x in cut_windows(blocks, slices, name, on_block):
        batch.append((i, x))
        if len(batch) >= options.batch:
            run_batch()
    run_batch()
    assert probs is not None  # there was at least one slice
    return probs


def _summary(segments: Sequence[Segment], labels: Sequence[str]) -> dict[str, float]:
    """Time-weighted mean of the segments' scores."""
    weights = np.array([s.duration for s in segments], dtype=np.float64)
    mat = np.array([[s.scores[lab] for lab in labels] for s in segments], dtype=np.float64)
    mean = weights @ mat / weights.sum()
    return {lab: float(p) for lab, p in zip(labels, mean)}


def file_result(path: str, duration: float, spans: Sequence[Span], probs: np.ndarray, labels: Sequence[str],
                min_confidence: float | None, reason: str = defaults.NO_SPEECH) -> FileResult:
    """A file's :class:`FileResult` from its speech ``spans`` and their probabilities
    ``(spans, labels)`` (no spans: no label, ``reason`` says why)."""
    if not spans:
        return FileResult(path, duration, 0.0, None, None, [], reason=reason)
    segments = []
    for span, row in zip(spans, probs):
        scores = {lab: float(p) for lab, p in zip(labels, row)}
        segments.append(Segment(span.start, span.end, top_label(scores), scores, is_uncertain(scores, min_confidence)))
    scores = _summary(segments, labels)
    return FileResult(
        path=path, duration=duration, speech=float(sum(s.duration for s in segments)),
        label=top_label(scores), scores=scores, segments=segments,
        uncertain=is_uncertain(scores, min_confidence),
    )


def error_result(path: str, exc: BaseException | str) -> FileResult:
    """A file that failed, as a result with ``error`` (one line, no traceback); ``exc`` is the
    exception, or already the reason (an input that names no file to analyse)."""
    if isinstance(exc, str):
        why = exc
    elif isinstance(exc, EmomonError):
        why = exc.why if exc.what == path else f"{exc.what}: {exc.why}"
    else:
        why = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return FileResult(path=path, duration=None, speech=0.0, label=None, scores=None, error=why)
