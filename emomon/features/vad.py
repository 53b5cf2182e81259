"""Voice activity: which 32 ms frames of a signal are speech.

Three detectors, by name (``--vad``):

* ``silero`` (default) — Silero VAD (the ``silero-vad`` package's ONNX sequence model, MIT) run
  with onnxruntime, no torch. Its input is level-normalised first (each frame scaled by the peak
  of the last :data:`~emomon.defaults.VAD_LEVEL_SPAN_S` seconds, see :class:`SileroDetector`),
  so its decisions do not depend on the recording level: the same clip 20 dB quieter gets the
  same speech windows.
* ``energy`` — a frame is speech when its RMS level reaches ``silence_db`` (depends on the level,
  fires on any loud noise; kept as a fallback).
* ``off`` — every frame is speech.

A detector is stateful and streams: :meth:`FrameDetector.push` takes any number of samples and
returns the speech probabilities ``(frames,)`` of the frames they complete. :class:`VoiceActivity`
adds the speech/no-speech decision (hysteresis, as Silero's own timestamps use) and keeps the
decisions with their positions, so that a window ``[start, end)`` of the stream can ask for its
speech fraction. The stream's monitor, ``emomon file``'s segmenter and the training recipe all use
it, so all three agree on what speech is.
"""

from __future__ import annotations

import importlib.util
import logging
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import defaults
from ..errors import EmomonError

if TYPE_CHECKING:
    from .windows import Window

log = logging.getLogger(__name__)

FLOOR_DB = -120.0
FRAME_SECONDS = defaults.VAD_FRAME_S  # Silero's frame at 16 kHz; every detector uses the same grid
SILERO_RATE = 16000
SILERO_CONTEXT = 64
SILERO_MODEL = "silero_vad_16k_sequence.onnx"
DETECTOR_VERSION = "2"  # bump when what a detector decides changes (training caches key on it)
TARGET_PEAK = 0.5  # level normalisation: the recent peak is brought to -6 dBFS ...
NOISE_FLOOR_RMS = 10 ** (-60 / 20)  # ... unless the quietest recent frame would exceed -60 dBFS RMS


def rms_dbfs(samples: np.ndarray) -> float:
    """RMS level of float samples ``(n,)`` in dB relative to full scale (1.0); -120 for silence."""
    if samples.size == 0:
        return FLOOR_DB
    rms = float(np.sqrt(np.mean(np.square(samples, dtype=np.float64))))
    if not np.isfinite(rms):
        return FLOOR_DB
    if rms <= 1e-6:
        return FLOOR_DB
    return max(FLOOR_DB, 20.0 * float(np.log10(rms)))


@dataclass(frozen=True)
class VadOptions:
    """Voice activity settings (defaults from :mod:`emomon.defaults`).

    ``method``: ``silero``, ``energy`` or ``off``. ``threshold``: the Silero frame probability
    that starts speech (speech goes on until it drops below ``threshold - 0.15``).
    ``silence_db``: the energy detector's level. ``min_speech``: the fraction of a stream window
    that must be speech for the window to be classified. ``min_speech_duration``,
    ``min_silence``, ``speech_pad`` (seconds): how speech frames become a file's regions
    (shorter runs dropped, shorter pauses merged, regions widened).
    """

    method: str = defaults.VAD_METHOD
    threshold: float = defaults.VAD_THRESHOLD
    silence_db: float = defaults.SILENCE_DB
    min_speech: float = defaults.MIN_SPEECH
    min_speech_duration: float = defaults.MIN_SPEECH_DURATION_S
    min_silence: float = defaults.MIN_SILENCE_S
    speech_pad: float = defaults.SPEECH_PAD_S
    level_span: float = defaults.VAD_LEVEL_SPAN_S

    def __post_init__(self) -> None:
        if self.method not in defaults.VAD_METHODS:
            raise EmomonError("vad", f"unknown method {self.method!r} (known: {', '.join(defaults.VAD_METHODS)})")
        if not 0.0 < self.threshold < 1.0:
            raise EmomonError("vad_threshold", f"must be between 0 and 1 (got {self.threshold})")
        if not 0.0 <= self.min_speech <= 1.0:
            raise EmomonError("min_speech", f"must be between 0 and 1 (got {self.min_speech})")
        for name in ("min_speech_duration", "min_silence", "speech_pad"):
            if getattr(self, name) < 0:
                raise EmomonError(name, f"must not be negative (got {getattr(self, name)})")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def classifies(self, speech: float | np.ndarray) -> bool | np.ndarray:
        """Whether a window with this speech fraction (or an array of them) is classified: at least
        ``min_speech`` of it, and some, is speech. The stream, ``emomon file`` and the training
        recipe all ask this."""
        s = np.asarray(speech)
        out = (s >= self.min_speech) & (s > 0)
        return bool(out) if out.ndim == 0 else out

    def cache_key(self) -> dict[str, Any]:
        """What a cached decision depends on: these options and the detector's version."""
        return {**self.to_dict(), "detector": DETECTOR_VERSION}

    def describe(self) -> str:
        """One line for screens and logs, e.g. ``silero (p >= 0.5, >= 20% of a window)``."""
        if self.method == "silero":
            return f"silero (p ≥ {self.threshold:g}, ≥ {self.min_speech:.0%} of a window)"
        if self.method == "energy":
            return f"energy (≥ {self.silence_db:g} dBFS, ≥ {self.min_speech:.0%} of a window)"
        return "off (everything is speech)"


# --------------------------------------------------------------------------------------------
# frame detectors
# --------------------------------------------------------------------------------------------
class FrameDetector:
    """Base: a stateful detector on :data:`FRAME_SECONDS` frames of a signal at ``sample_rate``."""

    def __init__(self, sample_rate: int) -> None:
        self.sample_rate = int(sample_rate)
        self.frame = int(round(FRAME_SECONDS * self.sample_rate))
        self._rest = np.zeros(0, dtype=np.float32)  # samples of the frame not yet complete

    def push(self, samples: np.ndarray) -> np.ndarray:
        """Append ``samples (n,)``; the speech probabilities ``(frames,)`` of the frames completed."""
        x = np.concatenate([self._rest, np.asarray(samples, dtype=np.float32).reshape(-1)])
        n = len(x) // self.frame
        self._rest = x[n * self.frame :]
        if n == 0:
            return np.zeros(0, dtype=np.float32)
        return self._frames(x[: n * self.frame].reshape(n, self.frame))

    def flush(self) -> np.ndarray:
        """End of the signal: the last partial frame (zero-padded), if any."""
        if len(self._rest) == 0:
            return np.zeros(0, dtype=np.float32)
        frame = np.zeros((1, self.frame), dtype=np.float32)
        frame[0, : len(self._rest)] = self._rest
        self._rest = np.zeros(0, dtype=np.float32)
        return self._frames(frame)

    def reset(self) -> None:
        """Forget the signal so far (after a dropout)."""
        self._rest = np.zeros(0, dtype=np.float32)

    def _frames(self, frames: np.ndarray) -> np.ndarray:  # pragma: no cover - interface
        """``(n, frame)`` samples → ``(n,)`` speech probabilities."""
        raise NotImplementedError


class EnergyDetector(FrameDetector):
    """Speech when the frame's RMS level is at least ``silence_db`` dBFS (probability 0 or 1)."""

    def __init__(self, sample_rate: int, silence_db: float = defaults.SILENCE_DB) -> None:
        super().__init__(sample_rate)
        self.silence_db = float(silence_db)

    def _frames(self, frames: np.ndarray) -> np.ndarray:
        return np.array([rms_dbfs(f) >= self.silence_db for f in frames], dtype=np.float32)


class AlwaysSpeech(FrameDetector):
    """``--vad off``: every frame is speech."""

    def _frames(self, frames: np.ndarray) -> np.ndarray:
        return np.ones(len(frames), dtype=np.float32)


def silero_model_path() -> Path:
    """The ONNX file inside the installed ``silero-vad`` package, found without importing it:
    its ``__init__`` imports torch and sets ``torch.set_num_threads(1)`` for the whole process,
    which would halve the emotion model's speed."""
    spec = importlib.util.find_spec("silero_vad")
    if spec is None or not spec.submodule_search_locations:
        raise EmomonError("vad=silero", "needs the silero-vad package (pip install silero-vad), or use --vad energy")
    path = Path(list(spec.submodule_search_locations)[0]) / "data" / SILERO_MODEL
    if not path.is_file():
        raise EmomonError("vad=silero", f"the silero-vad package has no {SILERO_MODEL} (install silero-vad>=6.2)")
    return path


@lru_cache(maxsize=1)
def _silero_session() -> Any:
    """The ONNX session of Silero VAD's 16 kHz sequence model (shared: onnxruntime's run is thread-safe)."""
    path = silero_model_path()
    try:
        import onnxruntime as ort
    except ModuleNotFoundError:
        raise EmomonError("vad=silero", "needs the onnxruntime package (pip install onnxruntime), or use --vad energy") from None
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    return ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])


class SileroDetector(FrameDetector):
    """Silero VAD on level-normalised 16 kHz frames (512 samples + 64 of context), LSTM state carried.

    Level normalisation, per frame: the gain that brings the peak of the last ``level_span``
    seconds (this frame included) to :data:`TARGET_PEAK`, but never so much that the quietest
    frame of that span would rise above :data:`NOISE_FLOOR_RMS` (a room's hiss blown up to full
    scale unsettles the detector's state before speech starts). Both bounds scale with the input,
    so the detector sees the same signal whatever the recording level (frames of digital silence
    stay silent). Inputs at another rate are resampled to 16 kHz for the detector; frames stay on
    the same 32 ms grid.
    """

    def __init__(self, sample_rate: int, level_span: float = defaults.VAD_LEVEL_SPAN_S) -> None:
        super().__init__(sample_rate)
        self.session = _silero_session()
        self.span = max(1, int(round(level_span / FRAME_SECONDS)))
        self._resample = None
        if self.sample_rate != SILERO_RATE:
            import soxr

            self._resample = soxr.ResampleStream(self.sample_rate, SILERO_RATE, 1, dtype="float32")
            self._pending16 = np.zeros(0, dtype=np.float32)
        self.reset()

    def reset(self) -> None:
        super().reset()
        self._h = np.zeros((1, 1, 128), dtype=np.float32)
        self._c = np.zeros((1, 1, 128), dtype=np.float32)
        self._context = np.zeros(SILERO_CONTEXT, dtype=np.float32)
        self._peaks = np.zeros(self.span - 1, dtype=np.float32)  # the last span - 1 frame peaks
        self._rms = np.full(self.span - 1, np.inf, dtype=np.float32)  # ... and RMS levels

    def _gains(self, frames: np.ndarray) -> np.ndarray:
        """Normalising gain ``(frames,)`` for ``(frames, 512)`` samples (see the class doc)."""
        peaks = np.abs(frames).max(axis=1)
        rms = np.sqrt(np.mean(np.square(frames, dtype=np.float64), axis=1)).astype(np.float32)
        rms = np.where(rms > 0, rms, np.inf)  # digital silence says nothing about the noise floor
        peak_hist = np.concatenate([self._peaks, peaks])
        rms_hist = np.concatenate([self._rms, rms])
        env = np.lib.stride_tricks.sliding_window_view(peak_hist, self.span).max(axis=1)
        floor = np.lib.stride_tricks.sliding_window_view(rms_hist, self.span).min(axis=1)
        self._peaks = peak_hist[len(peak_hist) - (self.span - 1):]
        self._rms = rms_hist[len(rms_hist) - (self.span - 1):]
        return np.minimum(TARGET_PEAK / np.maximum(env, 1e-9), NOISE_FLOOR_RMS / floor)

    def _frames(self, frames: np.ndarray) -> np.ndarray:
        if self._resample is not None:
            frames = self._to16k(frames)
        gained = np.nan_to_num(frames * self._gains(frames)[:, None], nan=0.0, posinf=0.0, neginf=0.0)
        context = np.empty((len(gained), SILERO_CONTEXT), dtype=np.float32)
        context[0] = self._context
        context[1:] = gained[:-1, -SILERO_CONTEXT:]
        self._context = gained[-1, -SILERO_CONTEXT:].copy()
        probs, self._h, self._c = self.session.run(
            ["speech_probs", "hn", "cn"],
            {"input": np.concatenate([context, gained], axis=1).astype(np.float32), "h": self._h, "c": self._c},
        )
        return np.asarray(probs, dtype=np.float32).reshape(-1)

    def _to16k(self, frames: np.ndarray) -> np.ndarray:
        """Frames at the input rate → as many 512-sample 16 kHz frames (resampler latency absorbed)."""
        y = self._resample.resample_chunk(frames.reshape(-1).astype(np.float32))
        y = np.concatenate([self._pending16, np.asarray(y, dtype=np.float32).reshape(-1)])
        need = len(frames) * 512
        if len(y) < need:  # the resampler's start-up delay: pad at the front once
            y = np.concatenate([np.zeros(need - len(y), np.float32), y])
        self._pending16 = y[need:]
        return y[:need].reshape(len(frames), 512)


def make_detector(options: VadOptions, sample_rate: int) -> FrameDetector:
    """The frame detector that ``options.method`` names."""
    if options.method == "silero":
        return SileroDetector(sample_rate, options.level_span)
    if options.method == "energy":
        return EnergyDetector(sample_rate, options.silence_db)
    return AlwaysSpeech(sample_rate)


# --------------------------------------------------------------------------------------------
# decisions with positions
# --------------------------------------------------------------------------------------------
class Hysteresis:
    """Speech starts at ``p >= threshold`` and goes on until ``p < threshold - offset`` (Silero's rule)."""

    def __init__(self, threshold: float, offset: float = defaults.VAD_NEG_OFFSET) -> None:
        self.on_at = float(threshold)
        self.off_below = max(0.01, float(threshold) - offset)
        self.active = False

    def __call__(self, probs: np.ndarray) -> np.ndarray:
        out = np.zeros(len(probs), dtype=bool)
        active = self.active
        for i, p in enumerate(probs):
            active = p >= self.on_at or (active and p >= self.off_below)
            out[i] = active
        self.active = active
        return out


class VoiceActivity:
    """Speech decisions of one signal's frames, kept with their positions.

    ``push`` samples as they come; ``speech_fraction(start, end)`` (sample positions, end
    exclusive) is the share of the frames lying wholly inside ``[start, end)`` that are speech.
    A live stream bounds the history it holds with :meth:`forget_before`.
    """

    def __init__(self, options: VadOptions, sample_rate: int) -> None:
        self.options = options
        self.sample_rate = int(sample_rate)
        self.detector = make_detector(options, sample_rate)
        self.hysteresis = Hysteresis(options.threshold)
        self.frame_len = FRAME_SECONDS * self.sample_rate  # samples per frame (may be fractional)
        self._flags = np.zeros(0, dtype=bool)
        self._first = 0  # absolute index of _flags[0]
        self._frames = 0  # absolute index of the next frame to decide

    @property
    def frames(self) -> int:
        """Frames decided so far."""
        return self._frames

    def push(self, samples: np.ndarray) -> np.ndarray:
        """Append ``samples (n,)``; returns the decisions ``(frames,)`` of the frames completed."""
        return self._add(self.detector.push(samples))

    def finish(self) -> np.ndarray:
        """End of the signal: decide the last partial frame."""
        return self._add(self.detector.flush())

    def skip(self, n: int) -> None:
        """``n`` samples were lost (a dropout): they count as silence, so positions stay aligned."""
        block = int(60 * self.sample_rate)
        for start in range(0, max(0, int(n)), block):
            self.push(np.zeros(min(block, n - start), dtype=np.float32))

    def speech_fraction(self, start: int, end: int) -> float:
        """Share of speech among the frames wholly inside samples ``[start, end)``; 0 when none is."""
        first = int(np.ceil(start / self.frame_len - 1e-9))
        last = int(np.floor(end / self.frame_len + 1e-9))  # exclusive
        lo, hi = max(first, self._first), min(last, self._frames)
        if hi <= lo:
            return 0.0
        return float(self._flags[lo - self._first : hi - self._first].mean())

    def window_fraction(self, window: "Window") -> float:
        """The speech fraction of a stream window: over its real samples (front padding excluded);
        1 with ``--vad off``."""
        if self.options.method == "off":
            return 1.0
        end = int(round(window.t_end * window.sample_rate))
        return self.speech_fraction(end - window.valid, end)

    def flags(self) -> np.ndarray:
        """Every decision kept ``(frames,)`` (all of them unless :meth:`forget_before` was called)."""
        return self._flags.copy()

    def _add(self, probs: np.ndarray) -> np.ndarray:
        flags = self.hysteresis(probs)
        self._add_flags(flags)
        return flags

    def _add_flags(self, flags: np.ndarray) -> None:
        self._flags = np.concatenate([self._flags, flags])
        self._frames += len(flags)

    def forget_before(self, sample: int) -> None:
        """Drop the decisions of frames that end before ``sample`` (no later window needs them)."""
        drop = min(len(self._flags), max(0, int(np.floor(sample / self.frame_len)) - self._first))
        if drop:
            self._flags = self._flags[drop:]
            self._first += drop


def window_speech(samples: np.ndarray, sample_rate: int, window: float, hop: float, options: VadOptions) -> np.ndarray:
    """The speech fraction ``(windows,)`` of each stream window of a clip (see
    :func:`~emomon.features.windows.clip_windows`), as the live stream computes it."""
    from .windows import clip_windows

    va = VoiceActivity(options, sample_rate)
    va.push(samples)
    va.finish()
    return np.array([va.window_fraction(w) for w in clip_windows(samples, sample_rate, window, hop)], dtype=np.float32)
