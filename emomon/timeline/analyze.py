"""``emomon file``: the speech segments of a file of any length, each classified, and a summary.

Two passes over the file, each decoding it block by block (peak memory does not grow with its
length, time grows linearly):

1. voice activity on every 32 ms frame (:class:`~emomon.features.vad.VoiceActivity`), then the
   speech regions (pauses shorter than ``min_silence`` merged, runs shorter than
   ``min_speech_duration`` dropped) and the segments: regions longer than the model's window
   split into equal parts (:mod:`emomon.features.segments`);
2. each segment classified on one model window of audio centred on it (the whole file when it
   is shorter than a window, so a short clip gets exactly its whole-clip answer), in batches.

The file's ``label``/``scores`` are the time-weighted mean of its segments' scores; a file
without speech gets ``label: None`` and the reason "no speech" ("too short" when it is shorter
than the shortest speech run, ``vad.min_speech_duration``). A file with NaN/Inf samples is an
:class:`~emomon.errors.AudioError` (the decoder's), one that is not audio too. :func:`file_rows` is the two
passes (:mod:`.passes`) with any function of the segments' windows (:mod:`.session` keeps their
features). The options, the passes and the result makers are importable from here too.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, Iterator

import numpy as np

from .. import defaults
from ..audio import AudioSource, decode_blocks, probe_duration
from ..features.segments import Span, context_slices
from ..models.open import open_model
from ..records import FileResult
from .passes import (VAD_SHARE, FileOptions, Progress, Rows, classify_pass, cut_windows, error_result, file_result,
                     source_name, vad_pass)

if TYPE_CHECKING:
    from ..models.interface import Classifier  # an EmotionModel (torch) or an OnnxModel

__all__ = ["VAD_SHARE", "FileOptions", "Progress", "Rows", "analyze_file", "analyze_files", "analyze_or_error", "cut_windows",
           "error_result", "file_result", "file_rows", "source_name"]

log = logging.getLogger(__name__)


def analyze_file(
    source: AudioSource,
    model: "str | Path | Classifier" = "default",
    *,
    options: FileOptions | None = None,
    compute: str = "auto",
    source_rate: int | None = None,
    progress: Progress | None = None,
) -> FileResult:
    """The timeline of one file (path, bytes, or array with ``source_rate``): see the module doc.

    Raises :class:`~emomon.errors.EmomonError` when the file cannot be read.
    """
    m = open_model(model, compute)
    opts = options or FileOptions()
    duration, spans, probs = file_rows(source, m, m.predict_proba, opts, source_rate, progress)
    reason = defaults.TOO_SHORT if duration < opts.vad.min_speech_duration else defaults.NO_SPEECH
    return file_result(source_name(source), duration, spans, probs, m.labels, opts.min_confidence, reason)


def file_rows(source: AudioSource, model: "Classifier", rows_of: Rows, options: FileOptions,
              source_rate: int | None = None, progress: Progress | None = None) -> tuple[float, list[Span], np.ndarray]:
    """The two passes over one file: ``(duration, spans, rows (spans, width))``, ``rows_of``
    applied to each segment's window of audio (``model.predict_proba``: its probabilities).

    Raises :class:`~emomon.errors.EmomonError` when the file cannot be read.
    """
    window = float(options.window or model.config.window)
    opts = replace(options, window=window)
    rate = model.sample_rate
    total, spans, kept = vad_pass(source, rate, opts, source_rate, progress, probe_duration(source, source_rate))
    if not spans:
        if progress is not None:
            progress(1.0)
        return total / rate, [], np.zeros((0, 0))
    blocks = kept if kept is not None else decode_blocks(source, rate, source_rate, opts.block)
    rows = classify_pass(blocks, source_name(source), rows_of, context_slices(spans, window, total, rate), opts, progress, total)
    return total / rate, spans, rows


def analyze_or_error(source: AudioSource, model: "Classifier", options: FileOptions | None = None,
                     progress: Progress | None = None) -> FileResult:
    """:func:`analyze_file`, a failure becoming a result with ``error`` (one line, no traceback)."""
    try:
        return analyze_file(source, model, options=options, progress=progress)
    except Exception as exc:  # noqa: BLE001 - one bad file must not stop the others
        log.debug("analysing %s failed", source_name(source), exc_info=True)
        return error_result(source_name(source), exc)


def analyze_files(
    sources: Iterable[AudioSource],
    model: "str | Path | Classifier" = "default",
    *,
    options: FileOptions | None = None,
    compute: str = "auto",
    progress: Callable[[int, float], None] | None = None,
) -> Iterator[FileResult]:
    """:func:`analyze_file` for each source, in order; a file that fails gives a result with
    ``error`` set instead of stopping the others. ``progress(i, fraction)`` reports file ``i``'s
    work. The windows of several files share the model's batches (:mod:`.batched`)."""
    from .batched import analyze_batched

    yield from analyze_batched(sources, open_model(model, compute), options, progress)
