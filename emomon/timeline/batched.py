"""Many files through one model in shared batches: what ``emomon file`` does with many files.

Each file gets exactly :func:`~.analyze.analyze_file`'s answer (the same passes, :mod:`.passes`), but the work is arranged for
throughput:

* a background thread prepares the next files (decoding, voice activity, cutting each
  segment's window: :func:`prepare`) while the model scores the windows of earlier ones;
* windows of *several* files are scored together, grouped by length (a RAVDESS clip gives one
  3 s window: sixteen clips make one forward pass instead of sixteen);
* a file at most ``defaults.KEEP_DECODED_S`` long is decoded once; a longer one is decoded again
  when its turn comes and its windows are scored on their own (they fill batches themselves).

Results come out in input order; a file that fails gives a result with ``error`` set. At most
``2 * batch`` files wait for their windows at any time, so memory stays bounded however many
files there are.
"""

from __future__ import annotations

import logging
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Callable, Iterable, Iterator

import numpy as np

from .. import defaults
from ..audio import AudioSource, decode_blocks
from ..features.segments import Span, context_slices
from ..records import FileResult
from .passes import VAD_SHARE, FileOptions, Rows, classify_pass, cut_windows, error_result, file_result, source_name, vad_pass

if TYPE_CHECKING:
    from ..models.interface import Classifier  # an EmotionModel (torch) or an OnnxModel

log = logging.getLogger(__name__)


@dataclass(eq=False)
class Prepared:
    """One file after its first pass: its speech ``spans`` and one window of audio each.

    ``windows`` is ``None`` for a file too long to hold (analysed on its own when its turn
    comes); ``rows`` fills in as its windows are scored; ``error``: why it failed.
    """

    index: int
    source: AudioSource
    name: str
    samples: int = 0
    spans: list[Span] = field(default_factory=list)
    windows: list[np.ndarray | None] | None = field(default_factory=list)
    rows: list[np.ndarray | None] = field(default_factory=list)
    error: Exception | None = None

    @property
    def scored(self) -> bool:
        """Every window has its row (or there is nothing to score)."""
        return self.error is not None or self.windows is None or all(r is not None for r in self.rows)


def prepare(index: int, source: AudioSource, rate: int, options: FileOptions) -> Prepared:
    """Pass 1 of ``source`` at ``rate`` (``options.window`` set) and its segments' windows."""
    name = source_name(source)
    try:
        total, spans, kept = vad_pass(source, rate, options, None, None, None)
        job = Prepared(index, source, name, total, spans)
        if spans and kept is None:
            job.windows = None
        elif spans:
            job.windows = [x for _, x in cut_windows(kept, _slices(job, rate, options), name)]
            job.rows = [None] * len(job.windows)
        return job
    except Exception as exc:  # noqa: BLE001 - one bad file must not stop the others
        log.debug("preparing %s failed", name, exc_info=True)
        return Prepared(index, source, name, error=exc)


class WindowBatcher:
    """Windows of several files, scored by ``rows_of`` in batches of equal-length windows."""

    def __init__(self, rows_of: Rows, batch: int) -> None:
        self.rows_of = rows_of
        self.batch = max(1, int(batch))
        self.groups: dict[int, list[tuple[Prepared, int]]] = {}

    def add(self, job: Prepared) -> None:
        for k, w in enumerate(job.windows or []):
            if w is not None:
                self.groups.setdefault(len(w), []).append((job, k))

    def run_full(self) -> None:
        """Score every full batch waiting."""
        for length in list(self.groups):
            while len(self.groups.get(length, ())) >= self.batch:
                self._run(length)

    def finish(self, job: Prepared) -> None:
        """Score the (possibly partial) batches holding ``job``'s windows."""
        for length in {len(w) for w in job.windows or [] if w is not None}:
            while any(j is job for j, _ in self.groups.get(length, ())):
                self._run(length)

    def _run(self, length: int) -> None:
        items = self.groups[length][: self.batch]
        self.groups[length] = self.groups[length][self.batch :]
        if not self.groups[length]:
            del self.groups[length]
        rows = np.asarray(self.rows_of(np.stack([job.windows[k] for job, k in items])))  # type: ignore[index]
        for (job, k), row in zip(items, rows):
            job.rows[k] = row
            job.windows[k] = None  # type: ignore[index]  # its audio is no longer needed


def _slices(job: Prepared, rate: int, options: FileOptions) -> list[tuple[int, int]]:
    """The sample range each of the file's segments is classified on."""
    return context_slices(job.spans, float(options.window or 0.0), job.samples, rate)


def _result(job: Prepared, model: "Classifier", options: FileOptions) -> FileResult:
    """The file's result once its windows are scored (a long file's are scored now, on their own,
    from a second decoding: its first pass is not repeated)."""
    if job.error is None and job.windows is None:
        try:
            rate = model.sample_rate
            blocks = decode_blocks(job.source, rate, None, options.block)
            job.rows = list(classify_pass(blocks, job.name, model.predict_proba, _slices(job, rate, options), options, None, job.samples))
        except Exception as exc:  # noqa: BLE001 - one bad file must not stop the others
            job.error = exc
    if job.error is not None:
        return error_result(job.name, job.error)
    seconds = job.samples / model.sample_rate
    reason = defaults.TOO_SHORT if seconds < options.vad.min_speech_duration else defaults.NO_SPEECH
    probs = np.stack(job.rows) if job.rows else np.zeros((0, 0))  # type: ignore[arg-type]
    return file_result(job.name, seconds, job.spans, probs, model.labels, options.min_confidence, reason)


def analyze_batched(sources: Iterable[AudioSource], model: "Classifier", options: FileOptions | None = None,
                    progress: Callable[[int, float], None] | None = None, workers: int = 1) -> Iterator[FileResult]:
    """One :class:`FileResult` per source, in order (see the module doc); ``progress(i, f)``
    reports file ``i``'s work, ``workers`` threads prepare files ahead (0: none, in line)."""
    opts = replace(options or FileOptions(), window=float((options or FileOptions()).window or model.config.window))
    rate = model.sample_rate
    batcher = WindowBatcher(model.predict_proba, opts.batch)
    todo = iter(enumerate(sources))
    ahead: deque[Future[Prepared] | Prepared] = deque()
    waiting: deque[Prepared] = deque()
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="emomon-prepare") if workers > 0 else None
    report = progress or (lambda i, f: None)
    try:
        while True:
            while len(ahead) < max(1, opts.batch) and (item := next(todo, None)) is not None:
                i, src = item
                ahead.append(pool.submit(prepare, i, src, rate, opts) if pool else prepare(i, src, rate, opts))
            if not ahead and not waiting:
                return
            if ahead:
                nxt = ahead.popleft()
                job = nxt.result() if isinstance(nxt, Future) else nxt
                report(job.index, VAD_SHARE)
                batcher.add(job)
                waiting.append(job)
                batcher.run_full()
            while waiting and (waiting[0].scored or len(waiting) > 2 * opts.batch or not ahead):
                head = waiting.popleft()
                batcher.finish(head)
                yield _result(head, model, opts)
                report(head.index, 1.0)
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
