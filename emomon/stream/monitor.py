"""The streaming pipeline: sources → rings → windows + voice activity → inference worker → records.

A :class:`Monitor` runs one or more sources through one model. Its :meth:`Monitor.records`
generator drives everything from the caller's thread: it pulls new audio from each source's
ring, feeds the stream's voice activity detector, cuts windows, hands them to the
:class:`~emomon.stream.worker.InferenceWorker` (another thread) and turns each result into a
:class:`~emomon.records.WindowRecord` (speech fraction, EMA over speech windows, uncertainty).

When the model adapts to its speaker, every stream has its own
:class:`~emomon.models.adapt.SpeakerAdapter`, handed to the worker with each window to classify
(and the seconds of new speech the window brings): a window is classified with what its stream
heard before it, then learnt. Windows without speech teach nothing.

A window holding NaN/Inf samples (a broken float file or device) is marked ``reason:
"non-finite samples"`` and skipped: not classified, not smoothed, not learnt (the voice
activity detector hears those samples as silence). A window with less real audio than
``vad.min_speech_duration`` (a clip of a few samples) is marked ``"too short"``, and a window
the model answers with NaN/Inf ``"non-finite scores"``; neither counts as speech.

Overload: a live (real-time) stream whose unread audio grows past ``max_lag`` seconds (the
model or the machine is too slow) drops its oldest unread audio, keeping at most one window of
the newest, so results stay current instead of running seconds behind (the worker holds at most
one batch of a live stream's windows, so a backlog waits in the ring, where it is bounded; a
result is then at most about ``max_lag`` plus two batches' compute old); a ring that fills up
drops its oldest audio too. Either way the lost audio is counted (``dropped_s``, the UI's
"dropped" figure, :attr:`MonitorStats.gaps`) and the stream's windowing restarts after the gap
(:meth:`~emomon.features.windows.Windower.skip`): no window holds audio from both sides of it.

Serving (``persistent=True``, what ``emomon serve`` runs): the monitor starts with no streams and
keeps running until :meth:`Monitor.stop`; :meth:`Monitor.add_source` adds a stream from any
thread (with its own window/hop/voice activity/adaptation settings and speaker profile, when
given), :meth:`Monitor.end_source` ends one, and ``on_stream_end(name)`` is called from the
records thread once a stream's last record has been yielded (its :meth:`stats` still readable),
after which the stream is forgotten. Every stream shares the one inference worker.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Callable, Iterator, Sequence

import numpy as np

from .. import defaults
from ..errors import EmomonError
from ..features.vad import VadOptions, VoiceActivity, rms_dbfs
from ..features.windows import Window, Windower
from ..records import WindowRecord, is_uncertain
from .familiarity import UNFAMILIAR, CollapseOptions, CollapseWatch, collapse_options
from .smoothing import Ema
from .sources import Source, StreamResampler
from .worker import InferenceWorker, Job, Scored, WorkerFailure

if TYPE_CHECKING:
    from ..models.adapt import FeatureStats, SpeakerAdapter
    from ..models.interface import Classifier  # an EmotionModel (torch) or an OnnxModel
    from ..profiles import Profile

log = logging.getLogger(__name__)


@dataclass
class MonitorConfig:
    """Stream settings (defaults from :mod:`emomon.defaults`).

    ``window``/``hop`` in seconds (``None``: the model's ``config.window``/``config.hop``);
    ``smoothing`` the EMA weight of the past in ``[0, 1)``; ``vad`` the voice activity settings
    (a window with less than ``vad.min_speech`` of speech is not classified);
    ``min_confidence`` marks labels whose top probability is below it as uncertain;
    ``duration`` stops each stream after that many seconds of audio; ``adapt``: each stream
    adapts to its speaker (:mod:`emomon.models.adapt`) when the model can (:meth:`resolved`
    turns it off for a model that cannot); ``max_lag`` (seconds, ``None``: never) how far a
    real-time stream's reader may fall behind before it drops the oldest unread audio;
    ``max_batch``/``max_wait``: the inference worker's dynamic batching (at most that many
    windows per forward pass; it waits up to ``max_wait`` seconds for windows of other streams
    to join the first; files read faster than real time never wait). ``collapse``: when a
    stream's answers collapse into one class (:mod:`emomon.stream.familiarity`) its records say
    ``caution="unfamiliar voice"``; ``None``: never checked.
    """

    window: float | None = None
    hop: float | None = None
    smoothing: float = defaults.SMOOTHING
    vad: VadOptions = field(default_factory=VadOptions)
    min_confidence: float | None = defaults.MIN_CONFIDENCE
    max_batch: int = defaults.MAX_BATCH
    max_wait: float = defaults.MAX_WAIT_S
    duration: float | None = None
    adapt: bool = defaults.ADAPT
    max_lag: float | None = defaults.MAX_LAG_S
    collapse: CollapseOptions | None = field(default_factory=collapse_options)

    def resolved(self, model: Classifier) -> "MonitorConfig":
        """A copy with the model's window/hop filled in, checked: a bad value, or a ``window``
        shorter than the model's input takes (:func:`~emomon.models.open.check_window_fits`),
        raises :class:`EmomonError` naming its option."""
        from ..models.open import check_window_fits

        window = float(self.window if self.window is not None else model.config.window)
        hop = float(self.hop if self.hop is not None else model.config.hop)
        if not window > 0:
            raise EmomonError("window", f"must be positive (got {window})")
        check_window_fits(model, self.window)
        if not hop > 0:
            raise EmomonError("hop", f"must be positive (got {hop})")
        if hop > window:
            raise EmomonError("hop", f"must not exceed the window ({hop} > {window})")
        if not 0.0 <= self.smoothing < 1.0:
            raise EmomonError("smoothing", f"must be in [0, 1) (got {self.smoothing})")
        if self.duration is not None and not self.duration > 0:
            raise EmomonError("duration", f"must be positive (got {self.duration})")
        if self.max_lag is not None and not self.max_lag > 0:
            raise EmomonError("max_lag", f"must be positive seconds (got {self.max_lag})")
        if self.min_confidence is not None and not 0.0 <= self.min_confidence <= 1.0:
            raise EmomonError("min_confidence", f"must be between 0 and 1 (got {self.min_confidence})")
        if self.collapse is not None:
            self.collapse.check()
        return replace(self, window=window, hop=hop, adapt=bool(self.adapt and model.adaptive))

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["vad"] = self.vad.to_dict()
        d["collapse"] = None if self.collapse is None else self.collapse.to_dict()
        return d


@dataclass
class _Lane:
    """Per-stream state inside the monitor."""

    source: Source
    windower: Windower
    vad: VoiceActivity
    ema: Ema
    resampler: StreamResampler | None = None
    limit: int | None = None  # samples (model rate) after which the stream stops
    done: bool = False
    windows: int = 0
    speech_windows: int = 0
    adapter: "SpeakerAdapter | None" = None  # this stream's speaker statistics (None: not adapting)
    last_classified: int | None = None  # end (samples) of the last window sent to be classified
    adapted_s: float = 0.0  # seconds of speech the adapter has heard, as of the last record
    nonfinite_windows: int = 0  # windows skipped for NaN/Inf samples
    vad_skipped: int = 0  # lost samples the voice activity detector has been told of
    watch: CollapseWatch | None = None  # whether its answers collapse into one class (None: not checked)
    config: MonitorConfig | None = None  # this stream's own settings (None: the monitor's)
    submitted: int = 0  # windows handed to the worker (a finished stream has a record for each)
    pumping: bool = False  # audio taken from the ring and not yet cut into windows


@dataclass
class MonitorStats:
    """Counters for one stream or all: windows emitted, those with speech, audio dropped (seconds)
    and the gaps it left (each restarts the stream's windowing)."""

    windows: int = 0
    speech_windows: int = 0
    dropped_seconds: float = 0.0
    gaps: int = 0
    batches: int = 0
    nonfinite_windows: int = 0


class Monitor:
    """Run ``sources`` through ``model``; iterate :meth:`records` for :class:`WindowRecord` s.

    Stops when every source is over (files end, ``duration`` reached) or when :meth:`stop` is
    called (from any thread). Raises the first source or model error in the caller's thread;
    with ``on_source_error`` a source's error (a file that breaks part-way) is handed to it
    instead, that stream ends with the windows it had, and the others go on.

    With ``config.adapt`` (and an adaptive model) every stream has its own
    :class:`~emomon.models.adapt.SpeakerAdapter`; ``profile`` (a loaded
    :class:`~emomon.profiles.Profile`) is where each of them starts. :meth:`heard` is what they
    heard in all, profile included: what a profile keeps.
    """

    def __init__(self, model: Classifier, sources: Source | Sequence[Source], config: MonitorConfig | None = None,
                 profile: "Profile | None" = None, on_source_error: "Callable[[EmomonError], None] | None" = None,
                 *, persistent: bool = False) -> None:
        self.model = model
        self.on_source_error = on_source_error
        self.persistent = persistent  # run with any number of streams (none too) until stop()
        self.on_stream_end: "Callable[[str], None] | None" = None  # persistent: a stream's last record is out
        self._incoming: list[tuple[Source, _Lane]] = []  # added by add_source, started by the records thread
        self._admit_lock = threading.Lock()
        self.sources = [sources] if isinstance(sources, Source) else list(sources)
        if not self.sources and not persistent:
            raise EmomonError("monitor", "no audio source")
        names = [s.name for s in self.sources]
        if len(set(names)) != len(names):
            raise EmomonError("monitor", f"two streams share a name ({', '.join(sorted({n for n in names if names.count(n) > 1}))})")
        self.config = (config or MonitorConfig()).resolved(model)
        if profile is not None and not self.config.adapt:
            why = "adaptation is off (--no-adapt)" if model.adaptive else "this model cannot adapt to the speaker"
            raise EmomonError(f"profile {profile.name}", why)
        self.profile = profile
        self._start = profile.stats if profile is not None else None  # where every adapter starts (saving replaces .stats)
        self.worker = InferenceWorker(model, self.config.max_batch, self.config.max_wait if self.realtime else 0.0)
        # windows in the worker's hands: for live streams one batch, so a backlog waits in the
        # rings, where max_lag bounds it; a file read fast keeps the next batch ready as well
        self.max_pending = self.config.max_batch if self.realtime else 2 * self.config.max_batch
        self._stop = threading.Event()
        self._lanes: dict[str, _Lane] = {}
        self.labels = model.labels
        self.started_at: datetime | None = None
        self._t0 = 0.0

    # -- control ------------------------------------------------------------------------------
    def stop(self) -> None:
        """Ask :meth:`records` to finish (thread-safe)."""
        self._stop.set()

    def add_source(self, src: Source, config: MonitorConfig | None = None, profile: "Profile | None" = None) -> None:
        """Add a stream to a running (or not yet started) persistent monitor, from any thread.

        ``config``: the stream's own window/hop/smoothing/voice activity/adaptation (``None``:
        the monitor's; ``max_batch``/``max_wait`` stay the monitor's); ``profile``: where its
        speaker adapter starts. Bad settings, a profile without adaptation or a name in use
        raise :class:`EmomonError` here, before the stream starts."""
        if not self.persistent:
            raise EmomonError("monitor", "streams can be added only to a persistent monitor")
        cfg = config.resolved(self.model) if config is not None else None
        if profile is not None and not (cfg or self.config).adapt:
            raise EmomonError(f"profile {profile.name}", "adaptation is off for this stream (or the model cannot adapt)")
        lane = self._lane(src, cfg, profile)
        with self._admit_lock:
            if src.name in self._lanes or any(s.name == src.name for s, _ in self._incoming):
                raise EmomonError("monitor", f"a stream named {src.name} is running")
            self._incoming.append((src, lane))

    def end_source(self, name: str) -> None:
        """End stream ``name`` (thread-safe): what its ring holds is still read, its last window
        flushed; unknown names are ignored."""
        with self._admit_lock:
            for src, _ in self._incoming:
                if src.name == name:
                    src.stop()
        lane = self._lanes.get(name)
        if lane is not None:
            lane.source.stop()

    def outstanding(self, name: str) -> int:
        """Samples of stream ``name`` not yet turned into records: unread audio in its ring plus
        the windows in the worker's hands (0 for an unknown stream)."""
        with self._admit_lock:
            lane = self._lanes.get(name)
            if lane is None:  # added, not started yet
                return sum(src.ring.available + 1 for src, _ in self._incoming if src.name == name)
        return lane.source.ring.available + max(0, lane.submitted - lane.windows) + int(lane.pumping)

    def _admit(self) -> None:
        """Start the streams :meth:`add_source` queued (the records thread)."""
        if not self._incoming:
            return
        with self._admit_lock:
            incoming, self._incoming = self._incoming, []
            for src, lane in incoming:
                src.start()
                self.sources.append(src)
                self._lanes[src.name] = lane

    def _retire(self) -> None:
        """Persistent: forget each stream that is over and whose every window has its record,
        after telling ``on_stream_end`` (the records thread)."""
        for name, lane in list(self._lanes.items()):
            if lane.done and lane.windows >= lane.submitted:
                if self.on_stream_end is not None:
                    self.on_stream_end(name)
                del self._lanes[name]
                self.sources = [s for s in self.sources if s.name != name]

    def _conf(self, lane: _Lane) -> MonitorConfig:
        """The settings of ``lane``'s stream."""
        return lane.config if lane.config is not None else self.config

    def stats(self, stream: str | None = None) -> MonitorStats:
        """The counters of ``stream`` (zeros for one not started), or of all streams (``None``)."""
        lanes = ([self._lanes[stream]] if stream in self._lanes else []) if stream is not None else list(self._lanes.values())
        return MonitorStats(
            windows=sum(l.windows for l in lanes),
            speech_windows=sum(l.speech_windows for l in lanes),
            dropped_seconds=sum(l.source.dropped_seconds for l in lanes),
            gaps=sum(l.windower.gaps for l in lanes),
            batches=self.worker.batches,
            nonfinite_windows=sum(l.nonfinite_windows for l in lanes),
        )

    @property
    def streams(self) -> list[str]:
        return [s.name for s in self.sources]

    @property
    def adapters(self) -> dict[str, "SpeakerAdapter"]:
        """Each adapting stream's speaker adapter (empty when not adapting or not started)."""
        return {name: lane.adapter for name, lane in self._lanes.items() if lane.adapter is not None}

    def heard(self) -> "FeatureStats | None":
        """The profile's statistics plus what every stream's adapter added this session (``None``
        when not adapting); read it once :meth:`records` is over."""
        if not self.config.adapt:
            return None
        from ..models.adapt import FeatureStats
        from ..profiles import added_since

        start = self._start
        total = start if start is not None else FeatureStats.empty(self.model.new_adapter().dims)  # type: ignore[union-attr]
        for adapter in self.adapters.values():
            total = total + (added_since(adapter.heard, start) if start is not None else adapter.heard)
        return total

    @property
    def realtime(self) -> bool:
        """Whether every source delivers audio at its own pace (latency is then capture-to-result)."""
        return all(s.realtime for s in self.sources)

    # -- the loop -----------------------------------------------------------------------------
    def records(self) -> Iterator[WindowRecord]:
        """Start the sources and the worker, yield records until the streams end, then clean up."""
        self.started_at = datetime.now(timezone.utc)
        self._t0 = time.monotonic()
        self.worker.start()
        try:
            for src in self.sources:
                src.start()
                self._lanes[src.name] = self._lane(src)
            while not self._stop.is_set():
                if self.persistent:
                    self._admit()
                for lane in list(self._lanes.values()):
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
                if self.persistent:
                    self._retire()
                elif idle and all(l.done for l in self._lanes.values()) and self.worker.pending == 0 and self.worker.results.empty():
                    break
        finally:
            for src in self.sources:
                try:
                    src.stop()
                except Exception:  # noqa: BLE001
                    log.debug("stopping %s failed", src.name, exc_info=True)
            self.worker.stop(timeout=defaults.WORKER_STOP_TIMEOUT_S)
            for name, lane in self._lanes.items():
                if lane.nonfinite_windows:
                    log.warning("%s: %d window%s held non-finite samples (NaN/Inf) and %s not classified", name,
                                lane.nonfinite_windows, "" if lane.nonfinite_windows == 1 else "s",
                                "was" if lane.nonfinite_windows == 1 else "were")

    def _adapter(self, cfg: MonitorConfig | None = None, profile: "Profile | None" = None) -> "SpeakerAdapter | None":
        """A new stream's speaker adapter, starting from the profile (``None``: not adapting);
        ``cfg``/``profile``: the stream's own (``None``: the monitor's)."""
        if not (cfg or self.config).adapt:
            return None
        adapter = self.model.new_adapter()
        profile = profile if profile is not None else self.profile
        start = profile.stats if profile is not None and profile is not self.profile else self._start
        if adapter is not None and start is not None and profile is not None:
            if start.dims != adapter.dims:
                raise EmomonError(f"profile {profile.name}", f"holds {start.dims} features, the model {adapter.dims}")
            adapter.heard = start + adapter.heard  # a copy: every stream starts from the profile
        return adapter

    def _lane(self, src: Source, own: MonitorConfig | None = None, profile: "Profile | None" = None) -> _Lane:
        cfg = own if own is not None else self.config
        rate = self.model.sample_rate
        assert cfg.window is not None and cfg.hop is not None
        adapter = self._adapter(own, profile)
        return _Lane(
            config=own,
            adapter=adapter,
            adapted_s=adapter.heard.seconds if adapter is not None else 0.0,
            source=src,
            windower=Windower(cfg.window, cfg.hop, rate, stream=src.name, realtime=src.realtime),
            vad=VoiceActivity(cfg.vad, rate),
            ema=Ema(len(self.labels), cfg.smoothing),
            watch=CollapseWatch(cfg.collapse) if cfg.collapse is not None else None,
            resampler=StreamResampler(src.sample_rate, rate) if src.sample_rate != rate else None,
            limit=int(round(cfg.duration * rate)) if cfg.duration else None,
        )

    def _pump(self, lane: _Lane) -> None:
        lane.pumping = True
        try:
            self._pump_lane(lane)
        finally:
            lane.pumping = False

    def _pump_lane(self, lane: _Lane) -> None:
        src = lane.source
        if src.error is not None:
            err = src.error if isinstance(src.error, EmomonError) else EmomonError(src.name, str(src.error))
            if self.on_source_error is None:
                raise err
            self.on_source_error(err)
            lane.done = True
            src.stop()
            return
        self._keep_current(lane)
        # at most one batch worth of hops per round, so a fast file cannot flood the worker
        chunk = src.ring.read(max_samples=max(1, int(src.sample_rate * (self._conf(lane).hop or 0.5) * self.config.max_batch)))
        last = src.ring.exhausted  # closed by the writer and everything read
        w = lane.windower
        if chunk.gap:
            self._gap(lane, chunk.gap)
        samples = chunk.samples
        if lane.resampler is not None:
            samples = lane.resampler(samples, last=last)
        if lane.limit is not None:
            room = lane.limit - w.position
            if len(samples) >= room:
                samples = samples[: max(room, 0)]
                last = True
        windows: list[Window] = []
        if len(samples):
            lane.vad.push(_finite(samples))  # NaN/Inf are silence to the detector, whose state they would poison
            windows = w.push(samples, chunk.capture_time)
        if last:
            tail = w.flush(chunk.capture_time)
            if tail is not None:
                windows.append(tail)
            lane.done = True
            src.stop()
        for win in windows:
            self.worker.submit(self._job(lane, win))
        lane.vad.forget_before(w.position - w.window)  # the next window starts after this

    def _keep_current(self, lane: _Lane) -> None:
        """A real-time stream more than ``max_lag`` behind drops its oldest unread audio, keeping
        at most one window (or ``max_lag``) of the newest (counted by the ring as dropped)."""
        src, max_lag = lane.source, self.config.max_lag
        if not src.realtime or max_lag is None or src.ring.ready <= max_lag * src.sample_rate:
            return
        keep = int(min(max_lag, self._conf(lane).window or max_lag) * src.sample_rate)
        lost = src.ring.discard(keep)
        level = logging.WARNING if lane.windower.gaps == 0 else logging.DEBUG  # the first time
        log.log(level, "%s: %.2f s behind, dropped the oldest %.2f s of audio to stay current", src.name,
                (lost + keep) / src.sample_rate, lost / src.sample_rate)

    def _gap(self, lane: _Lane, gap: int) -> None:
        """``gap`` samples (source rate) were lost before the chunk: the audio before them gets
        its last window (submitted now), the windowing restarts after them, and the voice
        activity detector hears them as silence (positions stay aligned)."""
        w = lane.windower
        wins: list[Window] = []
        if lane.resampler is not None:  # what it still holds is audio before the gap; a new one after
            rest = lane.resampler(np.zeros(0, dtype=np.float32), last=True)
            lane.resampler = StreamResampler(lane.source.sample_rate, self.model.sample_rate)
            if len(rest):
                lane.vad.push(_finite(rest))
                wins = w.push(rest, w.last_capture_time)
        tail = w.skip(int(round(gap * self.model.sample_rate / lane.source.sample_rate)))
        for win in wins + ([tail] if tail is not None else []):
            self.worker.submit(self._job(lane, win))
        lane.vad.skip(w.skipped - lane.vad_skipped)
        lane.vad_skipped = w.skipped

    def _job(self, lane: _Lane, win: Window) -> Job:
        """The worker's job for a window: classified when it has enough speech, finite samples
        ``(window,)`` and at least ``vad.min_speech_duration`` of real audio; else passed through
        with its ``reason`` (``None``: no speech)."""
        lane.submitted += 1
        vad = self._conf(lane).vad
        speech = lane.vad.window_fraction(win)
        bad = int(np.count_nonzero(~np.isfinite(win.real_samples)))
        if bad:
            lane.nonfinite_windows += 1
            level = logging.WARNING if lane.nonfinite_windows == 1 else logging.DEBUG
            log.log(level, "%s: the window ending at %.2f s holds %d non-finite samples (NaN/Inf): not classified",
                    win.stream, win.t_end, bad)
            return Job(win, speech, False, lane.adapter, reason=defaults.NONFINITE)
        if win.valid < max(1, round(vad.min_speech_duration * win.sample_rate)):
            return Job(win, speech, False, lane.adapter, reason=defaults.TOO_SHORT)
        classify = bool(vad.classifies(speech))
        return Job(win, speech, classify, lane.adapter, self._new_speech(lane, win) if classify else 0.0)

    @staticmethod
    def _new_speech(lane: _Lane, win: Window) -> float:
        """Seconds of audio a window to classify brings that the stream's last classified window
        did not have (its real length for the first, then the hop); marks it as the last."""
        end = int(round(win.t_end * win.sample_rate))
        new = win.valid if lane.last_classified is None else min(win.valid, end - lane.last_classified)
        lane.last_classified = end
        return max(new, 0) / win.sample_rate

    def _record(self, item: Scored | WorkerFailure) -> WindowRecord:
        if isinstance(item, WorkerFailure):
            raise item.error
        win = item.window
        lane = self._lanes[win.stream]
        lane.windows += 1
        probs, reason = item.probs, item.job.reason
        if probs is not None and not np.isfinite(probs).all():
            log.warning("%s: the model answered non-finite scores for the window ending at %.2f s", win.stream, win.t_end)
            probs, reason = None, defaults.BAD_SCORES
        scores = None if probs is None else {lab: float(p) for lab, p in zip(self.labels, probs)}
        if probs is not None:
            lane.speech_windows += 1
            lane.adapted_s += item.job.seconds if lane.adapter is not None else 0.0
            smoothed = lane.ema.update(np.asarray(probs, dtype=np.float64))
            label: str | None = self.labels[int(np.argmax(probs))]
            if lane.watch is not None:
                lane.watch.observe(win.t_end, probs)
        else:
            smoothed, label = lane.ema.value, None
        assert self.started_at is not None
        real = win.real_samples
        caution = UNFAMILIAR if label is not None and lane.watch is not None and lane.watch.collapsed else None
        return WindowRecord(
            t=win.t_end,
            label=label,
            scores=scores,
            smoothed={lab: float(p) for lab, p in zip(self.labels, smoothed)},
            speech=item.job.speech,
            level_db=rms_dbfs(real[np.isfinite(real)]),
            latency_ms=item.latency_ms if lane.source.realtime else None,
            compute_ms=item.compute_ms,
            dropped_s=lane.source.dropped_seconds,
            reason=None if label is not None else (reason or defaults.NO_SPEECH),
            uncertain=is_uncertain(scores, self.config.min_confidence) or caution is not None,
            stream=win.stream,
            time=self.started_at + timedelta(seconds=win.capture_time - self._t0),
            adapted_s=lane.adapted_s if lane.adapter is not None else None,
            caution=caution,
        )


def _finite(samples: np.ndarray) -> np.ndarray:
    """``samples (n,)`` with NaN/Inf set to 0 (a copy only when there are any)."""
    if np.isfinite(samples).all():
        return samples
    return np.where(np.isfinite(samples), samples, np.float32(0.0)).astype(np.float32)
