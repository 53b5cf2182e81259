"""Voice perturbations for training breadth: speed (tempo and pitch together) and pitch alone.

Three corpora hold 38 speakers; a head trained on them learns their voices' pitch and tempo as
much as their emotions. Perturbed copies widen that range, in the manner of audiomentations (one
small class per transform, each a function of ``(samples, sample_rate)``):

* :class:`SpeedPerturb` — Kaldi's speed perturbation: the clip resampled so it plays ``factor``
  times as fast (0.9 and 1.1: tempo and pitch both move by 10 %);
* :class:`PitchShift` — pitch moved by ``semitones`` at the same tempo: speed perturbation by
  ``2 ** (semitones / 12)`` followed by a phase-vocoder time stretch back to the clip's length.

:func:`perturbed_copies` writes them as 16 kHz FLAC files, as :func:`~emomon.training.noise.noisy_copies`
does for noise, so the feature cache (keyed by content) hits on every run.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import numpy as np

from .. import defaults

if TYPE_CHECKING:
    from ..records import Utterance

PERTURB_KINDS = ("speed", "pitch")
N_FFT, HOP = 1024, 256


def resample_by(samples: np.ndarray, factor: float) -> np.ndarray:
    """``samples (n,)`` played ``factor`` times as fast: ``(round(n / factor),)`` (soxr)."""
    import soxr

    rate = defaults.SAMPLE_RATE
    return soxr.resample(np.asarray(samples, dtype=np.float32), rate * factor, rate).astype(np.float32)


def time_stretch(samples: np.ndarray, rate: float) -> np.ndarray:
    """``samples (n,)`` made ``rate`` times as fast at the same pitch (phase vocoder, Hann windows
    of :data:`N_FFT`, hop :data:`HOP`): about ``(n / rate,)`` samples."""
    x = np.asarray(samples, dtype=np.float64)
    if len(x) < N_FFT:
        return resample_by(x, rate)  # too short for a frame: a plain resample
    win = np.hanning(N_FFT)
    frames = np.lib.stride_tricks.sliding_window_view(np.pad(x, (N_FFT // 2, N_FFT // 2)), N_FFT)[::HOP] * win
    spec = np.fft.rfft(frames, axis=1)  # (frames, bins)
    steps = np.arange(0, len(spec) - 1, rate)
    omega = 2 * np.pi * HOP * np.arange(spec.shape[1]) / N_FFT
    phase = np.angle(spec[0])
    out = np.zeros((len(steps), spec.shape[1]), dtype=np.complex128)
    for i, t in enumerate(steps):
        k, frac = int(t), t - int(t)
        mag = (1 - frac) * np.abs(spec[k]) + frac * np.abs(spec[k + 1])
        out[i] = mag * np.exp(1j * phase)
        delta = np.angle(spec[k + 1]) - np.angle(spec[k]) - omega
        phase += omega + (delta - 2 * np.pi * np.round(delta / (2 * np.pi)))
    frames_out = np.fft.irfft(out, n=N_FFT, axis=1) * win
    y = np.zeros(HOP * (len(steps) - 1) + N_FFT)
    norm = np.zeros_like(y)
    for i, f in enumerate(frames_out):
        y[i * HOP : i * HOP + N_FFT] += f
        norm[i * HOP : i * HOP + N_FFT] += win**2
    y = y / np.maximum(norm, 1e-3)
    return y[N_FFT // 2 : N_FFT // 2 + int(round(len(x) / rate))].astype(np.float32)


@dataclass(frozen=True)
class SpeedPerturb:
    """Play ``factor`` times as fast (tempo and pitch together)."""

    factor: float

    def __call__(self, samples: np.ndarray, sample_rate: int = defaults.SAMPLE_RATE) -> np.ndarray:
        return resample_by(samples, self.factor)


@dataclass(frozen=True)
class PitchShift:
    """Move the pitch by ``semitones`` at the same tempo (and length, within a frame)."""

    semitones: float

    def __call__(self, samples: np.ndarray, sample_rate: int = defaults.SAMPLE_RATE) -> np.ndarray:
        factor = 2.0 ** (self.semitones / 12.0)
        return np.clip(time_stretch(resample_by(samples, factor), 1.0 / factor), -1.0, 1.0)


def transform(kind: str, value: float) -> SpeedPerturb | PitchShift:
    """The perturbation ``kind`` (``speed`` factor or ``pitch`` semitones); ``ValueError`` otherwise."""
    if kind == "speed":
        if not 0.5 <= value <= 2.0:
            raise ValueError(f"augment=speed:{value:g}: the factor must be between 0.5 and 2")
        return SpeedPerturb(value)
    if kind == "pitch":
        if not -12.0 <= value <= 12.0:
            raise ValueError(f"augment=pitch:{value:g}: semitones must be between -12 and 12")
        return PitchShift(value)
    raise ValueError(f"unknown perturbation {kind!r} (known: {', '.join(PERTURB_KINDS)})")


def perturbed_copies(utts: Sequence[Utterance], kind: str, value: float, dest: str | Path, sample_rate: int = defaults.SAMPLE_RATE) -> list[Utterance]:
    """Perturbed versions of ``utts`` as 16 kHz FLAC files under ``dest/<kind><value>/`` (reused
    when present); utterances with the same labels and speakers and the new paths."""
    import soundfile as sf

    from ..audio import decode_audio

    fn = transform(kind, value)
    folder = Path(dest) / f"{kind}{value:+g}"
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for u in utts:
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in u.id)
        path = folder / f"{safe}.flac"
        if not path.is_file():
            y = fn(decode_audio(u.path, sample_rate), sample_rate)
            tmp = path.with_suffix(".tmp.flac")
            sf.write(tmp, y, sample_rate, subtype="PCM_16")
            tmp.replace(path)
        out.append(dataclasses.replace(u, id=f"{u.id}+{kind}{value:+g}", path=str(path)))
    return out
