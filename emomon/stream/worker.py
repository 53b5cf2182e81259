"""The inference thread: batches ready windows of any number of streams through one model."""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ..errors import ModelError
from ..features.windows import Window

if TYPE_CHECKING:
    from ..models.adapt import SpeakerAdapter
    from ..models.interface import Classifier  # an EmotionModel (torch) or an OnnxModel

log = logging.getLogger(__name__)

_STOP = object()


@dataclass(frozen=True, eq=False)
class Job:
    """A window for the worker, with its speech fraction; ``classify`` false: pass it through
    unscored (a window without enough speech costs no model time).

    ``adapter``: the stream's speaker adapter (``None``: no adaptation); a classified window is
    standardised with what it has heard before and then added to it, as ``seconds`` of speech
    (the new audio the window brings). ``reason``: why a window is not classified, when it is
    not for want of speech (``"non-finite samples"``, ``"too short"``)."""

    window: Window
    speech: float
    classify: bool = True
    adapter: "SpeakerAdapter | None" = None
    seconds: float = 0.0
    reason: str | None = None


@dataclass(frozen=True)
class Scored:
    """A job and the model's probabilities ``(labels,)`` for it (``None`` when not classified).

    ``latency_ms`` runs from the capture of the window's last sample to the result;
    ``compute_ms`` is the model's time for this window (its forward pass / the windows in it);
    ``batch_size`` is how many windows shared the forward pass.
    """

    job: Job
    probs: np.ndarray | None
    latency_ms: float
    compute_ms: float | None
    batch_size: int

    @property
    def window(self) -> Window:
        return self.job.window


@dataclass(frozen=True)
class WorkerFailure:
    """Put on the output queue when the model raised; the worker stops after it."""

    error: ModelError


class InferenceWorker:
    """A daemon thread: ``submit`` windows, read :class:`Scored` results from :attr:`results`.

    Each round it takes every job waiting (up to ``max_batch``; with ``max_wait`` it also waits
    that many seconds after the first for others to join: dynamic batching across streams, fewer
    and fuller forward passes for a little latency), groups the windows to classify
    by length, and runs ``model.predict_proba`` on ``(batch, samples)`` (inference mode, on the
    model's device). Windows with a speaker adapter go through ``model.predict_proba_adapted``
    instead, in submission order, so each is classified with what its stream's adapter heard
    before it (windows of other streams in the batch never count). Results keep submission order.
    """

    def __init__(self, model: Classifier, max_batch: int = 16, max_wait: float = 0.0) -> None:
        self.model = model
        self.max_batch = max(1, int(max_batch))
        self.max_wait = max(0.0, float(max_wait))
        self.inbox: queue.Queue = queue.Queue()
        self.results: queue.Queue = queue.Queue()
        self._thread: threading.Thread | None = None
        self._pending = 0
        self._lock = threading.Lock()
        self.batches = 0
        self.windows = 0

    def start(self) -> "InferenceWorker":
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="emomon-inference", daemon=True)
            self._thread.start()
        return self

    def submit(self, job: Job) -> None:
        with self._lock:
            self._pending += 1
        self.inbox.put(job)

    @property
    def pending(self) -> int:
        """Windows submitted whose result has not been put on :attr:`results` yet."""
        return self._pending

    def stop(self, timeout: float | None = 5.0) -> None:
        """Ask the thread to finish and wait for it. Windows still queued are dropped (a stream
        that ended normally has none; one stopped early will not read them): only the batch
        being scored is finished, so a stop is prompt. Waiting for that batch matters: a process
        that ends while a thread is inside the model's native code aborts."""
        if self._thread is not None:
            self._drop_queued()
            self.inbox.put(_STOP)
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.warning("the inference worker is still scoring a batch after %.0f s; not waiting for it", timeout or 0)
            self._thread = None

    def _drop_queued(self) -> None:
        """Take every job still waiting off the inbox, unscored."""
        while True:
            try:
                self.inbox.get_nowait()
            except queue.Empty:
                return
            with self._lock:
                self._pending -= 1

    def _take_batch(self) -> tuple[list[Job], bool]:
        """The next batch: the first job, every job waiting behind it, and those that arrive
        within ``max_wait`` seconds of the first (up to ``max_batch``); whether a stop came."""
        first = self.inbox.get()
        if first is _STOP:
            return [], True
        batch = [first]
        stop = False
        deadline = time.monotonic() + self.max_wait
        while len(batch) < self.max_batch:
            try:
                left = deadline - time.monotonic()
                item = self.inbox.get(timeout=left) if left > 0 else self.inbox.get_nowait()
            except queue.Empty:
                break
            if item is _STOP:
                stop = True
                break
            batch.append(item)
        return batch, stop

    def _run(self) -> None:
        while True:
            batch, stop = self._take_batch()
            if batch:
                try:
                    self._score(batch)
                except Exception as exc:  # noqa: BLE001 - reported to the consumer, not swallowed
                    log.debug("inference failed", exc_info=True)
                    why = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                    self.results.put(WorkerFailure(ModelError("inference", why)))
                    return
            if stop:
                return

    def _score(self, batch: list[Job]) -> None:
        groups = _groups(batch)
        probs: list[np.ndarray | None] = [None] * len(batch)
        classified = sum(len(idxs) for idxs in groups)
        t0 = time.perf_counter()
        for idxs in groups:
            x = np.stack([batch[i].window.samples for i in idxs])  # (batch, samples)
            adapters = [batch[i].adapter for i in idxs]
            if any(a is not None for a in adapters):
                p = self.model.predict_proba_adapted(x, adapters, [batch[i].seconds for i in idxs])
            else:
                p = self.model.predict_proba(x)  # (batch, labels)
            for j, i in enumerate(idxs):
                probs[i] = p[j]
        compute_ms = (time.perf_counter() - t0) * 1000.0 / classified if classified else None
        now = time.monotonic()
        if classified:
            self.batches += 1
        for job, p in zip(batch, probs):
            self.windows += 1
            self.results.put(Scored(job, p, (now - job.window.capture_time) * 1000.0,
                                    compute_ms if p is not None else None, classified))
            with self._lock:
                self._pending -= 1


def _groups(batch: list[Job]) -> list[list[int]]:
    """Indices of the jobs to classify, in groups of equal window length: one group per length
    when no job adapts; with adapters, runs of consecutive jobs, so that every adapter sees its
    windows in submission order."""
    todo = [i for i, job in enumerate(batch) if job.classify]
    if not any(batch[i].adapter is not None for i in todo):
        by_len: dict[int, list[int]] = {}
        for i in todo:
            by_len.setdefault(len(batch[i].window.samples), []).append(i)
        return list(by_len.values())
    runs: list[list[int]] = []
    for i in todo:
        if runs and len(batch[runs[-1][-1]].window.samples) == len(batch[i].window.samples):
            runs[-1].append(i)
        else:
            runs.append([i])
    return runs
