"""The streaming pipeline: sources → rings → windows → inference worker → window records.

A :class:`Monitor` runs one or more sources through one model. Its :meth:`Monitor.records`
generator drives everything from the caller's thread: it pulls new audio from each source's
ring, cuts windows, hands them to the :class:`~emomon.stream.worker.InferenceWorker` (another
thread) and turns each result into a :class:`~emomon.records.WindowRecord` (silence gate, EMA).
"""

from __future__ import annotations

import logging
import queue
import threading
from dataclasses import dataclass
from typing import Iterator, Sequence

import numpy as np

from ..errors import EmomonError
from ..models.base import EmotionModel
from ..records import WindowRecord
from .smoothing import Ema
from .sources import Source, StreamResampler
from .vad import EnergyGate, rms_dbfs
from .windows import Window, Windower
from .worker import InferenceWorker, Scored, WorkerFailure

log = logging.getLogger(__name__)


@dataclass
class MonitorConfig:
    """Stream settings. ``window``/``hop`` in seconds (``None``: the model's ``config.window`` /
    ``config.hop``); ``smoothing`` the EMA weight of the past in ``[0, 1)``; ``silence_db`` the
    energy gate in dBFS; ``duration`` stops each stream after that many seconds of audio."""

    window: float | None = None
    hop: float | None = None
    smoothing: float = 0.6
    silence_db: float = -45.0
    max_batch: int = 16
    duration: float | None = None

    def resolved(self, model: EmotionModel) -> "MonitorConfig":
        window = float(self.window if self.window is not None else model.config.window)
        hop = float(self.hop if self.hop is not None else model.config.hop)
        if not window > 0:
            raise EmomonError("--window", f"must be positive (got {window})")
        if not hop > 0:
            raise EmomonError("--hop", f"must be positive (got {hop})")
        if hop > window:
            raise EmomonError("--hop", f"must not exceed the window ({hop} > {window})")
        if not 0.0 <= self.smoothing < 1.0:
            raise EmomonError("--smoothing", f"must be in [0, 1) (got {self.smoothing})")
        if self.duration is not None and not self.duration > 0:
            raise EmomonError("--duration", f"must be positive (got {self.duration})")
        return MonitorConfig(window, hop, self.smoothing, self.silence_db, self.max_batch, self.duration)


@dataclass
class _Lane:
    """Per-stream state inside the monitor."""

    source: Source
    windower: Windower
    ema: Ema
    resampler: StreamResampler | None = None
    limit: int | None = None  # samples (model rate) after which the stream stops
    done: bool = False
    windows: int = 0


@dataclass
class MonitorStats:
    """Counters for one stream: windows emitted and audio dropped (seconds)."""

    windows: int = 0
    dropped_seconds: float = 0.0
    batches: int = 0


class Monitor:
    """Run ``sources`` through ``model``; iterate :meth:`records` for :class:`WindowRecord` s.

    Stops when every source is over (files end, ``duration`` reached) or when :meth:`stop` is
    called (from any thread). Raises the first source or model error in the caller's thread.
    """

    def __init__(self, model: EmotionModel, sources: Source | Sequence[Source], config: MonitorConfig | None = None) -> None:
        self.model = model
        self.sources = [sources] if isinstance(sources, Source) else list(sources)
        if not self.sources:
            raise EmomonError("monitor", "no audio source")
        self.config = (config or MonitorConfig()).resolved(model)
        self.gate = EnergyGate(self.config.silence_db)
        self.worker = InferenceWorker(model, self.config.max_batch)
        self.max_pending = 2 * self.config.max_batch
        self._stop = threading.Event()
        self._lanes: dict[str, _Lane] = {}
        self.labels = model.labels

    # -- control ------------------------------------------------------------------------------
    def stop(self) -> None:
        """Ask :meth:`records` to finish (thread-safe)."""
        self._stop.set()

    def stats(self, stream: str | None = None) -> MonitorStats:
        lanes = [self._lanes[stream]] if stream is not None else list(self._lanes.values())
        return MonitorStats(
            windows=sum(l.windows for l in lanes),
            dropped_seconds=sum(l.source.dropped_seconds for l in lanes),
            batches=self.worker.batches,
        )

    @property
    def streams(self) -> list[str]:
        return [s.name for s in self.sources]

    # -- the loop -----------------------------------------------------------------------------
    def records(self) -> Iterator[WindowRecord]:
        """Start the sources and the worker, yield records until the streams end, then clean up."""
        cfg = self.config
        rate = self.model.sample_rate
        self.worker.start()
        try:
            for src in self.sources:
                src.start()
                lane = _Lane(
                    source=src,
                    windower=Windower(cfg.window, cfg.hop, rate, stream=src.name, realtime=src.realtime),  # type: ignore[arg-type]
                    ema=Ema(len(self.labels), cfg.smoothing),
                    resampler=StreamResampler(src.sample_rate, rate) if src.sample_rate != rate else None,
                    limit=int(round(cfg.duration * rate)) if cfg.duration else None,
                )
                self._lanes[src.name] = lane
            while not self._stop.is_set():
                for lane in self._lanes.values():
                    if not lane.done and self.worker.pending < self.max_pending:
                        self._pump(lane)
                idle = True
                while True:
                    try:
                        item = self.worker.results.get(timeout=0.005 if idle else 0)
                    except queue.Empty:
                        break
                    idle = False
                    yield self._record(item)
                if idle and all(l.done for l in self._lanes.values()) and self.worker.pending == 0 and self.worker.results.empty():
                    break
        finally:
            for src in self.sources:
                try:
                    src.stop()
                except Exception:  # noqa: BLE001
                    log.debug("stopping %s failed", src.name, exc_info=True)
            self.worker.stop(timeout=2.0)

    def _pump(self, lane: _Lane) -> None:
        src = lane.source
        if src.error is not None:
            err = src.error
            raise err if isinstance(err, EmomonError) else EmomonError(src.name, str(err))
        # at most one batch worth of hops per round, so a fast file cannot flood the worker
        chunk = src.ring.read(max_samples=max(1, int(src.sample_rate * (self.config.hop or 0.5) * self.config.max_batch)))
        last = src.ring.exhausted  # closed by the writer and everything read
        w = lane.windower
        if chunk.gap:
            w.skip(int(round(chunk.gap * self.model.sample_rate / src.sample_rate)))
        samples = chunk.samples
        if lane.resampler is not None:
            samples = lane.resampler(samples, last=last)
        if lane.limit is not None:
            room = lane.limit - w.position
            if len(samples) >= room:
                samples = samples[: max(room, 0)]
                last = True
        windows: list[Window] = w.push(samples, chunk.capture_time) if len(samples) else []
        if last:
            tail = w.flush(chunk.capture_time)
            if tail is not None:
                windows.append(tail)
            lane.done = True
            src.stop()
        for win in windows:
            self.worker.submit(win)

    def _record(self, item: Scored | WorkerFailure) -> WindowRecord:
        if isinstance(item, WorkerFailure):
            raise item.error
        win = item.window
        lane = self._lanes[win.stream]
        lane.windows += 1
        level = rms_dbfs(win.real_samples)
        silent = self.gate.is_silent(level)
        probs = np.asarray(item.probs, dtype=np.float64)
        smoothed = lane.ema.value if silent else lane.ema.update(probs)
        return WindowRecord(
            t=win.t_end,
            label=None if silent else self.labels[int(np.argmax(probs))],
            scores={lab: float(p) for lab, p in zip(self.labels, probs)},
            smoothed={lab: float(p) for lab, p in zip(self.labels, smoothed)},
            silent=silent,
            latency_ms=item.latency_ms,
            level_db=level,
            stream=win.stream,
        )
