"""Log-mel frames in numpy: :func:`~emomon.features.mel.log_mel` without torch.

The onnxruntime backend (:mod:`emomon.models.onnx_model`) computes its front end here, so that
``emomon listen``/``file --backend onnx`` never import torch. The steps are torch's: a centred
STFT (reflect padding of ``n_fft // 2``, a periodic Hann window), power, the same mel filter
matrix (:func:`~emomon.features.mel.filterbank_np`) and the same log. It matches ``log_mel``
within about 1e-4 on Whisper's log scale (float32 FFTs in a different order; measured by
``tests/test_onnx_backend.py``).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from .mel import FrontEnd, filterbank_np, too_short

FRAME_BLOCK = 3000  # STFT frames transformed at a time: bounds the framed copy of a long input


@lru_cache(maxsize=8)
def hann_periodic(n: int) -> np.ndarray:
    """``torch.hann_window(n)``: the periodic Hann window ``(n,)`` float32."""
    return (0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(n) / n)).astype(np.float32)


def power_spectrogram(x: np.ndarray, front: FrontEnd) -> np.ndarray:
    """``|STFT|^2`` of waveforms ``(batch, samples)`` float32 → ``(batch, frames, n_fft // 2 + 1)``
    float32, ``frames = samples // hop + 1`` (centred, reflect-padded, as ``torch.stft``)."""
    n_fft, hop = front.n_fft, front.hop_length
    padded = np.pad(x, ((0, 0), (n_fft // 2, n_fft // 2)), mode="reflect")
    frames = np.lib.stride_tricks.sliding_window_view(padded, n_fft, axis=-1)[:, ::hop]  # (batch, frames, n_fft), a view
    window = hann_periodic(n_fft)
    out = np.empty((x.shape[0], frames.shape[1], n_fft // 2 + 1), dtype=np.float32)
    for i in range(0, frames.shape[1], FRAME_BLOCK):
        spec = np.fft.rfft(frames[:, i : i + FRAME_BLOCK] * window, axis=-1)
        out[:, i : i + FRAME_BLOCK] = spec.real ** 2 + spec.imag ** 2
    return out


def log_mel_np(waveforms: np.ndarray, front: FrontEnd) -> np.ndarray:
    """Log-mel frames of ``waveforms`` ``(batch, samples)`` or ``(samples,)`` at ``front.sample_rate``.

    Returns ``(batch, frames, mels)`` (``(frames, mels)`` for a 1-D input) float32, as
    :func:`~emomon.features.mel.log_mel`; an input shorter than ``n_fft // 2 + 1`` samples is
    its :class:`~emomon.errors.AudioError` ("too short").
    """
    x = np.asarray(waveforms, dtype=np.float32)
    squeeze = x.ndim == 1
    if squeeze:
        x = x[None, :]
    short = too_short(x.shape[-1], front)
    if short is not None:
        raise short
    power = power_spectrogram(x, front)
    if front.log == "whisper":
        power = power[:, :-1]
    mel = power @ filterbank_np(front).T  # (batch, frames, mels)
    if front.log == "whisper":
        out = np.log10(np.maximum(mel, 1e-10))
        out = np.maximum(out, out.max(axis=(1, 2), keepdims=True) - 8.0)
        out = (out + 4.0) / 4.0
    elif front.log == "db":
        out = 10.0 * np.log10(np.maximum(mel, 1e-10))
    elif front.log == "ln":
        out = np.log(mel + 1e-6)
    else:
        out = mel
    out = np.ascontiguousarray(out, dtype=np.float32)
    return out[0] if squeeze else out
