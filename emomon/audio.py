"""The one audio decoding function of emomon.

:func:`decode_audio` turns a path, encoded bytes or a sample array into mono float32 at the
rate the caller asks for. soundfile reads wav/flac/ogg/mp3; PyAV (FFmpeg) reads the rest
(m4a, webm, mp4, ...). Resampling uses soxr.
"""

from __future__ import annotations

import io
import logging
import os
from pathlib import Path
from typing import Union

import numpy as np

from .errors import AudioError

log = logging.getLogger(__name__)

AudioSource = Union[str, os.PathLike, bytes, bytearray, memoryview, np.ndarray]

SOUNDFILE_SUFFIXES = {".wav", ".flac", ".ogg", ".oga", ".mp3", ".aiff", ".aif", ".au"}


def to_mono(samples: np.ndarray) -> np.ndarray:
    """Average channels: ``(samples,)`` or ``(samples, channels)`` → ``(samples,)`` float32."""
    samples = np.asarray(samples)
    if samples.ndim == 2:
        samples = samples.mean(axis=1)
    elif samples.ndim != 1:
        raise AudioError("audio", f"expected 1-D or (samples, channels) array, got shape {samples.shape}")
    if np.issubdtype(samples.dtype, np.integer):
        scale = float(np.iinfo(samples.dtype).max) + 1.0
        samples = samples.astype(np.float32) / scale
    return np.ascontiguousarray(samples, dtype=np.float32)


def resample(samples: np.ndarray, source_rate: int, target_rate: int) -> np.ndarray:
    """Resample mono float32 ``(samples,)`` from ``source_rate`` to ``target_rate`` (soxr, HQ)."""
    if source_rate == target_rate:
        return samples
    import soxr

    return np.ascontiguousarray(soxr.resample(samples, source_rate, target_rate, quality="HQ"), dtype=np.float32)


def _read_soundfile(source: str | io.BytesIO) -> tuple[np.ndarray, int]:
    import soundfile as sf

    data, rate = sf.read(source, dtype="float32", always_2d=True)
    return data, int(rate)


def _read_av(source: str | io.BytesIO) -> tuple[np.ndarray, int]:
    import av

    chunks: list[np.ndarray] = []
    rate = 0
    with av.open(source) as container:
        if not container.streams.audio:
            raise AudioError(str(getattr(source, "name", source)), "no audio stream")
        stream = container.streams.audio[0]
        # Resample to packed float32 keeping the native rate and layout; mono mix happens later.
        resampler = av.AudioResampler(format="flt", layout="mono")
        for frame in container.decode(stream):
            rate = frame.sample_rate
            for out in resampler.resample(frame):
                chunks.append(out.to_ndarray().reshape(-1))
        for out in resampler.resample(None):
            chunks.append(out.to_ndarray().reshape(-1))
    if not chunks:
        return np.zeros((0, 1), dtype=np.float32), rate or 16000
    return np.concatenate(chunks)[:, None], rate


def decode_audio(source: AudioSource, sample_rate: int = 16000, source_rate: int | None = None) -> np.ndarray:
    """Decode ``source`` to mono float32 ``(samples,)`` at ``sample_rate``.

    ``source`` is a file path, encoded bytes (any format soundfile or FFmpeg reads), or a sample
    array ``(samples,)``/``(samples, channels)``; an array needs ``source_rate`` (its rate).
    Raises :class:`~emomon.errors.AudioError` with a one-line reason when it cannot.
    """
    if isinstance(source, np.ndarray):
        if source_rate is None:
            raise AudioError("audio array", "source_rate is required for a sample array")
        return resample(to_mono(source), int(source_rate), sample_rate)

    if isinstance(source, (bytes, bytearray, memoryview)):
        name = "audio bytes"
        data = bytes(source)
        if not data:
            raise AudioError(name, "empty")
        attempts = [lambda: _read_soundfile(io.BytesIO(data)), lambda: _read_av(io.BytesIO(data))]
    else:
        path = Path(source)
        name = str(path)
        if not path.exists():
            raise AudioError(name, "no such file")
        if path.is_dir():
            raise AudioError(name, "is a directory")
        if path.stat().st_size == 0:
            raise AudioError(name, "empty file")
        sf_first = path.suffix.lower() in SOUNDFILE_SUFFIXES
        readers = [_read_soundfile, _read_av] if sf_first else [_read_av, _read_soundfile]
        attempts = [lambda r=r: r(str(path)) for r in readers]

    last: Exception | None = None
    for attempt in attempts:
        try:
            data2d, rate = attempt()
            break
        except AudioError:
            raise
        except Exception as exc:  # noqa: BLE001 - each backend has its own exception types
            log.debug("decoder failed on %s: %s", name, exc)
            last = exc
    else:
        reason = str(last).splitlines()[0] if last else "unknown format"
        raise AudioError(name, f"cannot decode audio ({reason})")
    return resample(to_mono(data2d), rate, sample_rate)


def audio_duration(samples: np.ndarray, sample_rate: int) -> float:
    """Duration in seconds of ``(samples,)`` at ``sample_rate``."""
    return float(len(samples)) / float(sample_rate)
