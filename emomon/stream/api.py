"""The streaming API in one call each: ``stream_file`` and ``stream_microphone``.

Both return an iterator of :class:`~emomon.records.WindowRecord` (one per hop). Files are
decoded and devices resolved when the function is called, so errors surface at once::

    from emomon.stream import stream_file
    for rec in stream_file("clip.wav", model="default", fast=True):
        print(rec.t, rec.label, rec.smoothed)
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

from ..audio import AudioSource
from ..models.base import EmotionModel
from ..models.registry import load_model
from ..records import WindowRecord
from .monitor import Monitor, MonitorConfig
from .sources import FileSource, MicrophoneSource



def open_model(model: str | Path | EmotionModel = "default", compute: str = "auto") -> EmotionModel:
    """A loaded model: an :class:`EmotionModel` as is, else a shipped name or directory loaded on
    ``compute`` (``auto``: CUDA when available, else CPU)."""
    if isinstance(model, EmotionModel):
        return model
    return load_model(model, device=compute)


def file_monitor(
    source: AudioSource | list[AudioSource],
    model: str | Path | EmotionModel = "default",
    *,
    fast: bool = True,
    config: MonitorConfig | None = None,
    compute: str = "auto",
    source_rate: int | None = None,
) -> Monitor:
    """A :class:`Monitor` over one or more files (each its own stream, named by its path)."""
    m = open_model(model, compute)
    items = source if isinstance(source, list) else [source]
    sources = [FileSource(s, m.sample_rate, realtime=not fast, source_rate=source_rate) for s in items]
    return Monitor(m, sources, config)


def stream_file(
    source: AudioSource,
    model: str | Path | EmotionModel = "default",
    *,
    fast: bool = True,
    window: float | None = None,
    hop: float | None = None,
    smoothing: float = 0.6,
    silence_db: float = -45.0,
    duration: float | None = None,
    compute: str = "auto",
    source_rate: int | None = None,
) -> Iterator[WindowRecord]:
    """Stream a file (path, bytes, or array with ``source_rate``) through the live pipeline.

    ``fast=True`` runs as fast as the model goes; ``fast=False`` paces it in real time.
    """
    cfg = MonitorConfig(window=window, hop=hop, smoothing=smoothing, silence_db=silence_db, duration=duration)
    return file_monitor(source, model, fast=fast, config=cfg, compute=compute, source_rate=source_rate).records()


def microphone_monitor(
    device: str | int | None = None,
    model: str | Path | EmotionModel = "default",
    *,
    config: MonitorConfig | None = None,
    compute: str = "auto",
) -> Monitor:
    """A :class:`Monitor` over one input device (``None``: the default input)."""
    m = open_model(model, compute)
    return Monitor(m, MicrophoneSource(device, m.sample_rate), config)


def stream_microphone(
    device: str | int | None = None,
    model: str | Path | EmotionModel = "default",
    *,
    window: float | None = None,
    hop: float | None = None,
    smoothing: float = 0.6,
    silence_db: float = -45.0,
    duration: float | None = None,
    compute: str = "auto",
) -> Iterator[WindowRecord]:
    """Stream the microphone; runs until ``duration`` seconds or until the iterator is closed."""
    cfg = MonitorConfig(window=window, hop=hop, smoothing=smoothing, silence_db=silence_db, duration=duration)
    return microphone_monitor(device, model, config=cfg, compute=compute).records()
