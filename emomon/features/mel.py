"""Log-mel frames computed with torch alone (no torchaudio), on CPU or GPU.

A :class:`FrontEnd` is part of every model's JSON config; :func:`log_mel` applies it to a batch
of waveforms ``(batch, samples)`` and returns ``(batch, frames, mels)``. torch is imported by
:func:`log_mel` and :func:`mel_filterbank` only: the settings and the filter matrix
(:func:`filterbank_np`) serve the numpy front end (:mod:`.mel_numpy`) without it.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Literal, Mapping

import numpy as np

from .. import defaults
from ..errors import AudioError

if TYPE_CHECKING:
    import torch

LogKind = Literal["whisper", "db", "ln", "none"]


@dataclass(frozen=True)
class FrontEnd:
    """Mel front-end settings.

    ``log``: ``"whisper"`` (log10, clamp to max-8, scale (x+4)/4, the last STFT frame dropped,
    as Whisper does), ``"db"`` (10·log10), ``"ln"`` (natural log) or ``"none"``.
    """

    sample_rate: int = defaults.SAMPLE_RATE
    n_fft: int = 400
    hop_length: int = 160
    n_mels: int = 80
    f_min: float = 0.0
    f_max: float | None = None
    log: LogKind = "whisper"
    mel_scale: Literal["slaney", "htk"] = "slaney"
    norm: Literal["slaney"] | None = "slaney"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "FrontEnd":
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})

    def num_frames(self, num_samples: int) -> int:
        """Frames that :func:`log_mel` yields for ``num_samples`` samples."""
        frames = num_samples // self.hop_length + 1
        return frames - 1 if self.log == "whisper" else frames


def _hz_to_mel(f: np.ndarray, scale: str) -> np.ndarray:
    f = np.asarray(f, dtype=np.float64)
    if scale == "htk":
        return 2595.0 * np.log10(1.0 + f / 700.0)
    f_sp = 200.0 / 3.0
    mels = f / f_sp
    min_log_hz, min_log_mel, logstep = 1000.0, 1000.0 / f_sp, math.log(6.4) / 27.0
    return np.where(f >= min_log_hz, min_log_mel + np.log(np.maximum(f, 1e-10) / min_log_hz) / logstep, mels)


def _mel_to_hz(m: np.ndarray, scale: str) -> np.ndarray:
    m = np.asarray(m, dtype=np.float64)
    if scale == "htk":
        return 700.0 * (10.0 ** (m / 2595.0) - 1.0)
    f_sp = 200.0 / 3.0
    freqs = f_sp * m
    min_log_hz, min_log_mel, logstep = 1000.0, 1000.0 / f_sp, math.log(6.4) / 27.0
    return np.where(m >= min_log_mel, min_log_hz * np.exp(logstep * (m - min_log_mel)), freqs)


@lru_cache(maxsize=16)
def _filterbank_np(sample_rate: int, n_fft: int, n_mels: int, f_min: float, f_max: float, scale: str, norm: str | None) -> np.ndarray:
    fft_freqs = np.linspace(0.0, sample_rate / 2.0, 1 + n_fft // 2)
    mel_pts = np.linspace(_hz_to_mel(f_min, scale), _hz_to_mel(f_max, scale), n_mels + 2)
    hz_pts = _mel_to_hz(mel_pts, scale)
    fdiff = np.diff(hz_pts)
    ramps = hz_pts[:, None] - fft_freqs[None, :]
    lower = -ramps[:-2] / fdiff[:-1, None]
    upper = ramps[2:] / fdiff[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    if norm == "slaney":
        weights *= (2.0 / (hz_pts[2 : n_mels + 2] - hz_pts[:n_mels]))[:, None]
    return weights.astype(np.float32)


def filterbank_np(front: FrontEnd) -> np.ndarray:
    """Mel filter matrix ``(mels, n_fft // 2 + 1)`` float32 (librosa-compatible, slaney by default); cached, do not modify."""
    f_max = front.f_max if front.f_max is not None else front.sample_rate / 2.0
    return _filterbank_np(front.sample_rate, front.n_fft, front.n_mels, float(front.f_min), float(f_max), front.mel_scale, front.norm)


def mel_filterbank(front: FrontEnd) -> torch.Tensor:
    """Mel filter matrix ``(mels, n_fft // 2 + 1)`` (librosa-compatible, slaney by default)."""
    import torch

    return torch.from_numpy(filterbank_np(front))


def too_short(samples: int, front: FrontEnd) -> AudioError | None:
    """The "too short" :class:`~emomon.errors.AudioError` for an input of ``samples`` samples, or
    ``None`` when the centred STFT's reflect padding has enough (``n_fft // 2 + 1``)."""
    need = front.n_fft // 2 + 1
    if samples >= need:
        return None
    return AudioError("audio", f"too short ({samples} sample{'' if samples == 1 else 's'}, "
                               f"{samples / front.sample_rate:.4f} s; the model needs at least {need} "
                               f"samples, {need / front.sample_rate:.4f} s)")


def log_mel(waveforms: torch.Tensor | np.ndarray, front: FrontEnd) -> torch.Tensor:
    """Log-mel frames of ``waveforms`` ``(batch, samples)`` or ``(samples,)``.

    Returns ``(batch, frames, mels)`` (or ``(frames, mels)`` for a 1-D input) on the input's
    device, float32. Waveforms must already be at ``front.sample_rate``. Fewer than
    ``n_fft // 2 + 1`` samples (what the centred STFT's reflect padding needs) is an
    :class:`~emomon.errors.AudioError` ("too short"), not a torch error.
    """
    import torch

    x = torch.as_tensor(waveforms, dtype=torch.float32)
    squeeze = x.dim() == 1
    if squeeze:
        x = x.unsqueeze(0)
    short = too_short(x.shape[-1], front)
    if short is not None:
        raise short
    window = torch.hann_window(front.n_fft, device=x.device)
    spec = torch.stft(x, front.n_fft, front.hop_length, window=window, center=True, pad_mode="reflect", return_complex=True)
    power = spec.abs() ** 2  # (batch, freqs, frames)
    if front.log == "whisper":
        power = power[..., :-1]
    mel = torch.matmul(mel_filterbank(front).to(x.device), power)  # (batch, mels, frames)
    if front.log == "whisper":
        out = torch.clamp(mel, min=1e-10).log10()
        out = torch.maximum(out, out.amax(dim=(1, 2), keepdim=True) - 8.0)
        out = (out + 4.0) / 4.0
    elif front.log == "db":
        out = 10.0 * torch.clamp(mel, min=1e-10).log10()
    elif front.log == "ln":
        out = torch.log(mel + 1e-6)
    else:
        out = mel
    out = out.transpose(1, 2).contiguous()
    return out[0] if squeeze else out
